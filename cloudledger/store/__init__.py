"""The warehouse: an Ibis connection (embedded DuckDB file by default, or a Spark session),
the ``focus`` table, the ingest log, and the atomic scoped replace (``store.load``).

Opening checks the target before anything is written: a file that is not a DuckDB
database (a CSV, a Parquet, a random binary), a DuckDB database that is not a cloudledger
store, a store another process holds, or one the user cannot write are each a clear
``InputError`` (exit 2). A store opened for writing commits through a checkpoint, so a
killed process leaves it as before or after a change (see ``store.load``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus
from cloudledger.engine import duckdb_arrow, engine_errors_only, ident, literal
from cloudledger.errors import InputError
from cloudledger.store import load as _load
from cloudledger.store.files import digest_of
from cloudledger.store.frame import Frame, LoadReport, Replaced
from cloudledger.store.reconcile import reconcile_store
from cloudledger.store.schema import ERRORS_SCHEMA, LOG_SCHEMA, SCRATCH_PREFIXES, TOTALS_SCHEMA

__all__ = ["DEFAULT_STORE", "Frame", "LoadReport", "Replaced", "Store", "digest_of"]

DEFAULT_STORE = Path("cloudledger.duckdb")
DEFAULT_MEMORY_LIMIT = "1GB"
STORE_TABLES = ("focus", "ingest_log", "ingest_errors", "source_totals")
#: Bytes 8-11 of every DuckDB database file.
DUCKDB_MAGIC = b"DUCK"


class _Rollback(Exception):
    """Raised inside ``Store.transaction`` to roll back without an error."""


class Transaction:
    def rollback(self) -> None:
        raise _Rollback


class Store:
    """A cloudledger warehouse on DuckDB (``path``; ``:memory:`` for none) or Spark."""

    def __init__(self, path: str | Path | None = None, *, spark: Any = None,
                 read_only: bool = False):
        self.spark = spark
        self.read_only = read_only
        self.created = False
        if spark is not None:
            self.con = ibis.pyspark.connect(spark)
            self.path: str | None = None
        else:
            target = str(path or os.environ.get("CLOUDLEDGER_STORE") or DEFAULT_STORE)
            self.path = target
            if target != ":memory:":
                self.created = check_target(Path(target), read_only)
            self.con = connect(target, read_only)
            self.con.raw_sql("SET TimeZone='UTC'")
            self.con.raw_sql("SET preserve_insertion_order=false")
            # A bounded buffer pool keeps a 50M-row month streaming (DuckDB spills to disk).
            limit = os.environ.get("CLOUDLEDGER_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
            self.con.raw_sql(f"SET memory_limit={literal(limit)}")
            if not read_only:
                # commit through a checkpoint, not a WAL record: a large WAL record cut
                # short by kill -9 has been seen to replay half a transaction
                self.con.raw_sql("SET checkpoint_threshold='0MB'")
        from cloudledger.engine import engine_for

        self.engine = engine_for(self)
        tables = set(self.tables())
        if read_only:
            if "focus" not in tables:
                raise InputError("not a cloudledger store (it has no focus table)",
                                 where=self.path or "spark",
                                 hint="pass --store with the file `cloudledger ingest` wrote")
        else:
            if tables and not tables & set(STORE_TABLES) and self.path is not None:
                self.close()
                raise InputError(
                    "a DuckDB database, but not a cloudledger store (tables: "
                    f"{', '.join(sorted(tables)[:8])})", where=self.path,
                    hint="pass --store with a new path or a store cloudledger wrote")
            self._drop_scratch(tables)
            self._ensure_tables(tables)
            self._upgrade(tables)

    # ---------------------------------------------------------------- basics
    @property
    def is_spark(self) -> bool:
        return self.spark is not None

    def tables(self) -> list[str]:
        """The store's tables (not the engine's scratch views: Ibis memtables, file views)."""
        return [t for t in self.con.list_tables()
                if not t.startswith(("ibis_pyarrow_memtable_", "ibis_pandas_memtable_"))]

    def table(self, name: str) -> ir.Table:
        try:
            return self.con.table(name)
        except Exception:
            if name in self.tables():
                raise
        raise InputError(f"the store has no table {name!r}",
                         hint=f"tables here: {', '.join(sorted(self.tables()))}")

    @property
    def focus(self) -> ir.Table:
        return self.table("focus")

    def execute(self, expr: ir.Expr) -> pa.Table:
        if not self.is_spark:
            return duckdb_arrow(self.con, expr)  # type: ignore[no-any-return]
        # Spark: the engine's error, not PySpark's notice (no global filter on DuckDB)
        with engine_errors_only():
            return self.con.to_pyarrow(expr)  # type: ignore[arg-type]

    def raw(self, sql: str) -> None:
        self.con.raw_sql(sql)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One DuckDB transaction: committed at the end, rolled back on any exception or
        on ``tx.rollback()``. On Spark (no transactions) the body runs as it is."""
        tx = Transaction()
        with suppress(_Rollback), self.engine.transaction():
            yield tx

    def _ensure_tables(self, existing: set[str]) -> None:
        schemas = {"focus": ibis.schema(focus.canonical_schema()), "ingest_log": LOG_SCHEMA,
                   "ingest_errors": ERRORS_SCHEMA, "source_totals": TOTALS_SCHEMA}
        missing = [n for n in STORE_TABLES if n not in existing]
        if not missing:
            return
        with self.transaction():
            for name in missing:
                self.con.create_table(name, schema=schemas[name])

    def _upgrade(self, existing: set[str]) -> None:
        """Bring a store an older cloudledger wrote to today's bookkeeping columns:
        ``ingest_log.sha256`` became ``digests`` (which also holds ``blake3:`` digests).
        Built aside and swapped in, so a kill leaves the old table or the new one."""
        if "ingest_log" not in existing or "sha256" not in self.table("ingest_log").columns:
            return
        cols = ", ".join("sha256 AS digests" if c == "digests" else ident(c)
                         for c in LOG_SCHEMA.names)
        self.engine.create("ingest_log__upgrade", f"SELECT {cols} FROM ingest_log")
        self.engine.swap("ingest_log__upgrade", "ingest_log")

    def _drop_scratch(self, tables: set[str]) -> None:
        """Drop the half-built tables a killed ingest, allocate or metrics load left."""
        for name in sorted(tables):
            if name.startswith(SCRATCH_PREFIXES):
                self.con.drop_table(name, force=True)

    def close(self) -> None:
        if not self.is_spark:
            self.con.disconnect()

    def discard(self) -> None:
        """Close, and delete the store file if this Store created it (a failed first load
        leaves no empty store behind)."""
        self.close()
        if self.created and self.path:
            for p in (Path(self.path), Path(self.path + ".wal")):
                p.unlink(missing_ok=True)

    # ---------------------------------------------------------------- queries
    def sql(self, query: str, *, time_limit: float | None = 30.0,
            row_limit: int | None = None) -> pa.Table:
        """Run one read-only query as typed (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, ...)
        and return Arrow: at most ``row_limit`` rows, stopped after ``time_limit`` seconds.
        A store opened ``read_only`` is locked first (no files, URLs, extensions or
        settings); see ``cloudledger.store.query``."""
        from cloudledger.store.query import run

        return run(self, query, time_limit=time_limit, row_limit=row_limit)

    def next_ingest_id(self) -> int:
        log = self.table("ingest_log").ingest_id.max()
        rows = self.focus[focus.INGEST_COLUMN].max()
        values = [self.execute(e).as_py() for e in (log, rows)]  # type: ignore[arg-type]
        return max(int(v or 0) for v in values) + 1

    def ingest_log(self) -> pa.Table:
        return self.execute(self.table("ingest_log").order_by("ingest_id"))

    def loaded_files(self) -> dict[str, int]:
        """File digest -> ingest id, for every file of a load whose rows are still in the store."""
        log = self.table("ingest_log")
        live = self.focus.select(i=self.focus[focus.INGEST_COLUMN]).distinct()
        rows = self.execute(log.semi_join(live, log.ingest_id == live.i).select(
            "ingest_id", "digests")).to_pylist()
        import json

        out: dict[str, int] = {}
        for r in rows:
            for digest in json.loads(r["digests"] or "[]"):
                out[digest] = r["ingest_id"]
        return out

    # ---------------------------------------------------------------- loading
    def align(self, rows: ir.Table, ingest_id: int, source: str) -> ir.Table:
        """Rows in the stored column order: missing columns NULL, new x_ columns added."""
        current = self.focus.schema()
        for name, dtype in rows.schema().items():
            if name not in current:
                self._add_column(name, dtype)
        current = self.focus.schema()
        cols = []
        for name, dtype in current.items():
            if name == focus.SOURCE_COLUMN:
                cols.append(ibis.literal(source).cast(dtype).name(name))
            elif name == focus.INGEST_COLUMN:
                cols.append(ibis.literal(ingest_id).cast(dtype).name(name))
            elif name in rows.columns:
                col = rows[name]
                cols.append((col if col.type() == dtype else col.cast(dtype)).name(name))
            else:
                cols.append(ibis.null(dtype).name(name))
        return rows.select(cols)

    def _add_column(self, name: str, dtype: Any) -> None:
        if not focus.is_custom(name):
            raise InputError(f"column {name!r} is neither FOCUS nor x_-prefixed")
        type_text = self.con.compiler.type_mapper.to_string(ibis.dtype(dtype))
        if self.is_spark:
            self.raw(f"ALTER TABLE focus ADD COLUMNS ({ident(name, 'spark')} {type_text})")
        else:
            self.raw(f"ALTER TABLE focus ADD COLUMN {ident(name)} {type_text}")

    def load(self, frame: Frame, *, dry_run: bool = False,
             allow_bad_rows: bool = False, incremental: bool = False) -> LoadReport:
        """Load one frame atomically; see ``load_all``."""
        return self.load_all([frame], dry_run=dry_run, allow_bad_rows=allow_bad_rows,
                             incremental=incremental)[0]

    def load_all(self, frames: list[Frame], *, dry_run: bool = False,
                 allow_bad_rows: bool = False, incremental: bool = False) -> list[LoadReport]:
        """Load frames all or nothing, each replacing the scopes it carries (see
        ``cloudledger.store.load``)."""
        return _load.load_all(self, frames, dry_run=dry_run, allow_bad_rows=allow_bad_rows,
                              incremental=incremental)

    def reconcile(self) -> pa.Table:
        """Source totals recorded at load vs the store now, per provider/account/period."""
        return reconcile_store(self)


# ------------------------------------------------------------------------ opening
_PID = re.compile(r"\(PID (\d+)\)")


def check_target(path: Path, read_only: bool) -> bool:
    """Refuse a path that cannot be a store before DuckDB touches it; True if it is new."""
    if path.is_dir():
        raise InputError("is a directory, not a store file", where=str(path),
                         hint="pass --store with a file path, e.g. cloudledger.duckdb")
    if not path.exists():
        if read_only:
            raise InputError(f"no store at {path}", hint="run `cloudledger ingest FILE` or "
                             "`cloudledger demo` first, or pass --store PATH")
        path.parent.mkdir(parents=True, exist_ok=True)
        return True
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        raise InputError(f"cannot read the store: {e.strerror}", where=str(path),
                         hint="check the file's permissions") from e
    if head and head[8:12] != DUCKDB_MAGIC:
        raise InputError(f"not a cloudledger store: the file looks like {_looks_like(head)}",
                         where=str(path),
                         hint=f"--store names the DuckDB file cloudledger keeps its data in; "
                              f"to load this file run `cloudledger ingest {path}`")
    return False


def _looks_like(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head[:2] == b"\x1f\x8b":
        return "a gzip file"
    if head.startswith(b"PK"):
        return "a zip file"
    if head.startswith(b"SQLite format"):
        return "an SQLite database"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "a JSON file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file"
    return "a text (CSV?) file"


def connect(target: str, read_only: bool) -> Any:
    """An Ibis DuckDB connection; lock, permission and corruption errors made clear."""
    import duckdb

    try:
        return ibis.duckdb.connect(target, read_only=read_only)
    except duckdb.Error as e:
        message = str(e)
        pid = _PID.search(message)
        if "lock" in message.lower():
            raise InputError(
                "the store is busy: another cloudledger process"
                + (f" (PID {pid.group(1)})" if pid else "") + " holds it", where=target,
                hint="wait for that command to finish (or stop it), then run this one "
                     "again") from None
        if "permission denied" in message.lower() or "read-only" in message.lower():
            raise InputError("cannot open the store for writing: permission denied",
                             where=target, hint="use a store path you can write, or fix "
                             "the file's permissions") from None
        raise InputError(f"cannot open the store: {message.splitlines()[0]}", where=target,
                         hint="the file is not a DuckDB database cloudledger can open; "
                              "pass --store with another path") from None
