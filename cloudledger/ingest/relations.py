"""The files of a load as an engine relation: DuckDB's CSV and Parquet readers (text
columns, the null spellings, the reader's rejects) or Spark's, and the temp views the
checks and the one-pass load read them through."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import NULL_TOKENS

_ids = itertools.count()


@dataclass
class Source:
    """Files read together: CSV files sharing ``columns``, or Parquet files."""

    kind: str  # "csv" | "parquet"
    files: list[Path]
    columns: list[str]



def scratch_name(prefix: str) -> str:
    """A fresh name for a temp view or table of this process."""
    return f"cl_{prefix}_{next(_ids)}"


def barrier(store: Any, expr: ir.Table) -> ir.Table:
    """``expr`` as a temp view: the next expression reads its columns instead of Ibis
    inlining (and the engine recomputing) every parse at each use."""
    name = scratch_name("focus")
    if store.is_spark:
        return store.con.create_view(name, expr, overwrite=True)  # type: ignore[no-any-return]
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS {ibis.to_sql(expr, dialect='duckdb')}")
    return store.con.table(name)


def _csv_calls(src: Source, extra: str, types: dict[str, str] | None = None
               ) -> list[tuple[str, str]]:
    return [(fs.csv_call(group, src.columns, nulls=NULL_TOKENS, compression=kind,
                         types=types, extra=extra.format(n=next(_ids))), kind)
            for kind, group in fs.by_compression(src.files).items()]


def raw_relation(store: Any, src: Source, *, mode: str,
                 types: dict[str, str] | None = None) -> tuple[ir.Table, list[str]]:
    """The files as an engine relation (CSV text columns, except those ``types`` names;
    Parquet as typed) and, in mode "check", the names of the reject tables the CSV reader
    fills. Modes: "check" (rejects stored), "rows" (rejects skipped), "exact"."""
    name = scratch_name("raw")
    rejects: list[str] = []
    if store.is_spark:
        return spark_relation(store, src, mode=mode), rejects
    if src.kind == "parquet":
        store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
                  f"file_row_number + 1 AS cl_record FROM read_parquet({fs._sql_list(src.files)}, "
                  f"union_by_name=true, filename='x_cl_file', file_row_number=true)")
        return store.con.table(name), rejects
    extra = {"check": "store_rejects=true, rejects_table='cl_rejects_{n}', "
                      "rejects_scan='cl_scans_{n}'",
             "rows": "ignore_errors=true", "exact": ""}[mode]
    calls = _csv_calls(src, extra, types)
    if mode == "check":
        rejects = [c.split("rejects_table='")[1].split("'")[0] for c, _ in calls]
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS " + " UNION ALL BY NAME ".join(
        f"SELECT * FROM {c}" for c, _ in calls))
    return store.con.table(name), rejects


def spark_relation(store: Any, src: Source, *, mode: str, numbered: bool = False
                   ) -> ir.Table:
    """``raw_relation`` on Spark: CSV columns all text (the null spellings are turned into
    NULL by ``parsed(nulls=True)``; compression as the first bytes say, ``spark_files.spark_path``),
    Parquet as typed, each file with ``x_cl_file``.
    Malformed CSV records (wrong field count, broken quotes) fail the read in mode "check"
    (FAILFAST; ``bad_rows.spark_rejects`` then finds them) and are skipped in mode "rows"
    (DROPMALFORMED). ``numbered``: ``cl_record``, the record number within its file (a
    multi-line CSV file is one partition, read in order)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from cloudledger.ingest.spark_files import spark_csv, spark_parquet

    frames = []
    for path in src.files:
        if src.kind == "parquet":
            df = spark_parquet(store.spark, path)
        else:
            df = spark_csv(store.spark, [path], src.columns,
                           mode="DROPMALFORMED" if mode == "rows" else "FAILFAST")
        df = df.withColumn("x_cl_file", F.lit(str(path)))
        if numbered:
            df = df.withColumn("cl_record", F.monotonically_increasing_id())
            df = df.withColumn("cl_record", F.row_number().over(
                Window.orderBy("cl_record")).cast("long"))
        frames.append(df)
    out = frames[0]
    for df in frames[1:]:
        out = out.unionByName(df, allowMissingColumns=True)
    name = scratch_name("raw")
    out.createOrReplaceTempView(name)
    return store.con.table(name)
