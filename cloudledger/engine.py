"""The seam between cloudledger and its engines: DuckDB (embedded) and Spark.

Every statement cloudledger builds is DuckDB SQL; on Spark it is transpiled with sqlglot.
Names and values reach SQL text only through ``ident`` and ``literal`` (sqlglot quotes
them for the target dialect: a tag key or file path with ``'``, ``"``, ``\\``, ``;`` or a
newline stays one identifier or one string).

    eng = engine_for(store)          # DuckDBEngine(con) or SparkEngine(session)
    eng.fetch("SELECT ...")          # small results as dicts
    eng.query("SELECT ...")          # pyarrow.Table
    eng.execute("CREATE ...")
    with eng.transaction(): ...      # DuckDB: one transaction; Spark: runs as is
    eng.create("t", "SELECT ...")   # CREATE OR REPLACE TABLE t AS ...
    eng.swap("t__next", "t")         # the built table takes the target's place
    eng.replace_rows("t", "day = DATE '2026-01-01'", "incoming")   # delete + insert, atomic
    eng.view_parquet("v", paths)     # a temp view over files (DuckDB adds x_cl_file)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Protocol

import pyarrow as pa
import sqlglot
import sqlglot.expressions as sge
from ibis.formats.pyarrow import PyArrowData


def ident(name: str, dialect: str = "duckdb") -> str:
    """A quoted identifier in ``dialect``."""
    return sge.to_identifier(name, quoted=True).sql(dialect)


def literal(value: Any, dialect: str = "duckdb") -> str:
    """A SQL literal (text, numbers, decimals, booleans, NULL) in ``dialect``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return sge.Literal.string(str(value)).sql(dialect)


def literal_list(values: Any, dialect: str = "duckdb") -> str:
    """``[v1, v2, ...]``: a DuckDB list literal (file lists, null spellings)."""
    return "[" + ", ".join(literal(v, dialect) for v in values) + "]"


def hadoop_paths(paths: list[str]) -> list[str]:
    """Paths as Spark's readers take them: Hadoop globs them, so its glob characters (and
    its escape, the backslash) in a file name are escaped."""
    return [re.sub(r"([\\*?\[\]{}])", r"\\\1", p) for p in paths]


class Engine(Protocol):
    dialect: str

    def execute(self, sql: str) -> None: ...
    def query(self, sql: str) -> pa.Table: ...
    def fetch(self, sql: str) -> list[dict[str, Any]]: ...
    def create(self, name: str, sql: str) -> None: ...
    def register(self, name: str, table: pa.Table) -> None: ...
    def unregister(self, name: str) -> None: ...
    def drop(self, name: str) -> None: ...
    def swap(self, built: str, target: str) -> None: ...
    def transaction(self) -> Any: ...
    def replace_rows(self, target: str, where: str, source: str) -> None: ...
    def view_parquet(self, name: str, paths: list[str]) -> None: ...
    def view_ndjson(self, name: str, paths: list[str]) -> None: ...


class DuckDBEngine:
    """DuckDB through its own connection (the one Ibis wraps)."""

    dialect = "duckdb"

    def __init__(self, con: Any):
        self.con = con  # duckdb.DuckDBPyConnection

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> pa.Table:
        return self.con.execute(sql).fetch_arrow_table()

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        cur = self.con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def create(self, name: str, sql: str) -> None:
        self.execute(f"CREATE OR REPLACE TABLE {ident(name)} AS {sql}")

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def drop(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {ident(name)}")

    def swap(self, built: str, target: str) -> None:
        """In one transaction: drop ``target``, rename ``built`` to it."""
        with self.transaction():
            self.drop(target)
            self.execute(f"ALTER TABLE {ident(built)} RENAME TO {ident(target)}")

    def replace_rows(self, target: str, where: str, source: str) -> None:
        """In one transaction: delete ``target``'s rows where ``where`` holds, insert every
        row of the relation ``source`` (same columns, matched by name)."""
        with self.transaction():
            self.execute(f"DELETE FROM {ident(target)} WHERE {where}")
            self.execute(f"INSERT INTO {ident(target)} BY NAME SELECT * FROM {ident(source)}")

    def view_parquet(self, name: str, paths: list[str]) -> None:
        self.execute(f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS SELECT * FROM read_parquet("
                     f"{literal_list(paths)}, union_by_name=true, filename='x_cl_file')")

    def view_ndjson(self, name: str, paths: list[str]) -> None:
        self.execute(f"CREATE OR REPLACE TEMP VIEW {ident(name)} AS SELECT * FROM read_json("
                     f"{literal_list(paths)}, format='newline_delimited', union_by_name=true, "
                     "filename='x_cl_file')")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")


class SparkEngine:
    """Spark SQL; statements written for DuckDB are transpiled with sqlglot."""

    dialect = "spark"

    def __init__(self, spark: Any):
        self.spark = spark

    def text(self, sql: str) -> str:
        return sqlglot.transpile(sql, read="duckdb", write="spark")[0]

    def execute(self, sql: str) -> None:
        self.spark.sql(self.text(sql))

    def query(self, sql: str) -> pa.Table:
        with engine_errors_only():
            return self.spark.sql(self.text(sql)).toArrow()

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        return [r.asDict() for r in self.spark.sql(self.text(sql)).collect()]

    def create(self, name: str, sql: str) -> None:
        self.spark.sql(self.text(sql)).write.mode("overwrite").saveAsTable(name)

    def register(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def drop(self, name: str) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS {ident(name, 'spark')}")

    def swap(self, built: str, target: str) -> None:
        """Spark tables have no transactions: drop the target, rename the built table."""
        self.drop(target)
        self.spark.sql(f"ALTER TABLE {ident(built, 'spark')} RENAME TO "
                       f"{ident(target, 'spark')}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def replace_rows(self, target: str, where: str, source: str) -> None:
        """Build the next table (kept rows + ``source``), then swap it in: the target is
        never missing rows halfway."""
        t, built = ident(target, "spark"), f"{target}__next"
        cols = ", ".join(ident(f.name, "spark") for f in self.spark.table(t).schema.fields)
        self.spark.sql(
            f"SELECT {cols} FROM {t} WHERE NOT ({self.text(where)}) UNION ALL "
            f"SELECT {cols} FROM {ident(source, 'spark')}"
        ).write.mode("overwrite").saveAsTable(built)
        self.swap(built, target)

    def view_parquet(self, name: str, paths: list[str]) -> None:
        self.spark.read.parquet(*hadoop_paths(paths)).createOrReplaceTempView(name)

    def view_ndjson(self, name: str, paths: list[str]) -> None:
        self.spark.read.json(hadoop_paths(paths)).createOrReplaceTempView(name)


@contextmanager
def engine_errors_only() -> Iterator[None]:
    """A failed Spark query surfaces as its engine error alone: PySpark announces a failed
    Arrow collection with a UserWarning before it re-raises the error, and that notice (an
    exception itself under ``-W error``) would take the error's place."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization",
                                category=UserWarning)
        yield


def engine_for(store: Any) -> DuckDBEngine | SparkEngine:
    """The engine adapter of a Store (DuckDB connection or Spark session)."""
    if store.spark is not None:
        return SparkEngine(store.spark)
    return DuckDBEngine(store.con.con)


class _DuckDBResult(PyArrowData):
    """Ibis's typing of a DuckDB result, as its DuckDB backend's (NULL-typed columns)."""

    @classmethod
    def convert_scalar(cls, scalar: pa.Scalar, dtype: Any) -> pa.Scalar:
        return pa.scalar(None) if dtype.is_null() else super().convert_scalar(scalar, dtype)

    @classmethod
    def convert_column(cls, column: Any, dtype: Any) -> Any:
        return pa.nulls(len(column)) if dtype.is_null() else super().convert_column(column, dtype)


def duckdb_arrow(backend: Any, expr: Any) -> Any:
    """What Ibis's ``backend.to_pyarrow(expr)`` returns on DuckDB (a table, column or
    scalar, typed as the expression says), without the converter module Ibis imports for
    it: that module imports pandas, half a second on every command that runs a query."""
    table = backend._to_duckdb_relation(expr).to_arrow_table()
    return expr.__pyarrow_result__(table, data_mapper=_DuckDBResult)
