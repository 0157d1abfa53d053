"""The warehouse: an Ibis connection (embedded DuckDB file by default, or a Spark session),
the ``focus`` table, the ingest log, and the atomic per-period replace.

A load replaces every (source, billing account, billing period) it carries: rows from an
earlier load of the same key are deleted in the same transaction, so a restated month never
double counts and a failure at any point leaves the previous data exactly as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
import sqlglot.expressions as sge

from cloudledger import focus
from cloudledger.errors import InputError, RunError
from cloudledger.reconcile import (
    Reconciliation,
    reconcile_frame,
    reconcile_store,
)

DEFAULT_STORE = Path("cloudledger.duckdb")
DEFAULT_MEMORY_LIMIT = "1GB"
KEY = (focus.SOURCE_COLUMN, "BillingAccountId", "BillingPeriodStart")

LOG_SCHEMA = ibis.schema({
    "ingest_id": "int64", "loaded_at": "timestamp", "source": "string", "files": "string",
    "sha256": "string", "rows": "int64", "rows_quarantined": "int64", "rows_replaced": "int64",
    "totals": "string", "focus_version": "string", "outcome": "string",
})
TOTALS_SCHEMA = ibis.schema({
    "ingest_id": "int64", "BillingAccountId": "string", "BillingPeriodStart": "timestamp",
    "BillingCurrency": "string", "metric": "string", "source_total": "decimal(38, 18)",
})
ERRORS_SCHEMA = ibis.schema({
    "ingest_id": "int64", "file": "string", "line": "int64", "reason": "string",
    "raw": "string",
})

def _no_op() -> None:
    return None


#: Test seam: called inside the load transaction just before commit.
before_commit: Callable[[], None] = _no_op


@dataclass
class Frame:
    """What a source hands to the store: FOCUS rows plus the source's own totals."""

    source: str
    files: list[Path]
    rows: ir.Table
    #: BillingAccountId, BillingPeriodStart, BillingCurrency, BilledCost, EffectiveCost as
    #: the native file states them (computed by a path independent of ``rows``).
    totals: ir.Table
    version: str = focus.CANONICAL_VERSION
    warnings: list[str] = field(default_factory=list)
    #: Rows the source set aside (file, line, reason, raw); loaded only with allow_bad_rows.
    quarantined: ir.Table | None = None
    rows_in: int | None = None
    #: A slower, lenient re-read to try when the engine rejects a value of this frame
    #: (e.g. the typed fast path of a CSV meets an amount that needs 38 digits).
    fallback: Callable[[], Frame] | None = None


@dataclass
class LoadReport:
    ingest_id: int
    source: str
    files: list[str]
    rows: int
    rows_replaced: int
    rows_quarantined: int
    version: str
    dry_run: bool
    reconciliation: list[Reconciliation]
    replaced_totals: dict[str, Decimal]
    warnings: list[str]

    def totals_by_currency(self, metric: str = "BilledCost") -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for r in self.reconciliation:
            if r.metric == metric:
                out[r.currency] = out.get(r.currency, Decimal(0)) + r.store_total
        return out


def sha256_of(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Store:
    """A cloudledger warehouse on DuckDB (``path``; ``:memory:`` for none) or Spark."""

    def __init__(self, path: str | Path | None = None, *, spark: Any = None,
                 read_only: bool = False):
        self.spark = spark
        if spark is not None:
            self.con = ibis.pyspark.connect(spark)
            self.path = None
        else:
            target = str(path or os.environ.get("CLOUDLEDGER_STORE") or DEFAULT_STORE)
            if target != ":memory:" and not read_only:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            if read_only and target != ":memory:" and not Path(target).exists():
                raise InputError(f"no store at {target}", hint="run `cloudledger ingest FILE` "
                                 "or `cloudledger demo` first, or pass --store PATH")
            self.con = ibis.duckdb.connect(target, read_only=read_only)
            self.path = target
            self.con.raw_sql("SET TimeZone='UTC'")
            self.con.raw_sql("SET preserve_insertion_order=false")
            # A bounded buffer pool keeps a 50M-row month streaming (DuckDB spills to disk).
            limit = os.environ.get("CLOUDLEDGER_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
            self.con.raw_sql(f"SET memory_limit='{limit}'")
        if not read_only:
            self._ensure_tables()

    # ---------------------------------------------------------------- basics
    @property
    def is_spark(self) -> bool:
        return self.spark is not None

    def tables(self) -> list[str]:
        return list(self.con.list_tables())

    def table(self, name: str) -> ir.Table:
        if name not in self.tables():
            raise InputError(f"the store has no table {name!r}",
                             hint=f"tables here: {', '.join(sorted(self.tables()))}")
        return self.con.table(name)

    @property
    def focus(self) -> ir.Table:
        return self.table("focus")

    def execute(self, expr: ir.Expr) -> pa.Table:
        return self.con.to_pyarrow(expr)  # type: ignore[arg-type]

    def raw(self, sql: str) -> None:
        self.con.raw_sql(sql)

    def _ensure_tables(self) -> None:
        existing = set(self.tables())
        if "focus" not in existing:
            self.con.create_table("focus", schema=ibis.schema(focus.canonical_schema()))
        if "ingest_log" not in existing:
            self.con.create_table("ingest_log", schema=LOG_SCHEMA)
        if "ingest_errors" not in existing:
            self.con.create_table("ingest_errors", schema=ERRORS_SCHEMA)
        if "source_totals" not in existing:
            self.con.create_table("source_totals", schema=TOTALS_SCHEMA)

    def close(self) -> None:
        if not self.is_spark:
            self.con.disconnect()

    # ---------------------------------------------------------------- queries
    def sql(self, query: str) -> pa.Table:
        """Run a read-only query (SELECT / WITH / DESCRIBE / SHOW) and return Arrow."""
        dialect = "spark" if self.is_spark else "duckdb"
        try:
            statements = sqlglot.parse(query, read=dialect)
        except sqlglot.errors.ParseError as e:
            raise InputError(f"cannot parse the query: {e}", where="sql") from e
        if len(statements) != 1 or not isinstance(
                statements[0], (sge.Query, sge.Describe, sge.Show)):
            raise InputError("only one read-only query (SELECT, WITH, DESCRIBE, SHOW) is "
                             "allowed", where="sql", hint="the store is changed only by "
                             "`cloudledger ingest` and `cloudledger allocate`")
        try:
            return self.con.sql(query, dialect=dialect).to_pyarrow()
        except Exception as e:  # the engine's own message is the useful part
            raise InputError(str(e).splitlines()[0], where="sql",
                             hint=f"tables: {', '.join(sorted(self.tables()))}") from e

    def next_ingest_id(self) -> int:
        value = self.con.to_pyarrow(self.table("ingest_log").ingest_id.max()).as_py()
        return int(value or 0) + 1

    def ingest_log(self) -> pa.Table:
        return self.execute(self.table("ingest_log").order_by("ingest_id"))

    # ---------------------------------------------------------------- loading
    def _align(self, rows: ir.Table, ingest_id: int, source: str) -> ir.Table:
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
            self.raw(f"ALTER TABLE focus ADD COLUMNS (`{name}` {type_text})")
        else:
            self.raw(f'ALTER TABLE focus ADD COLUMN "{name}" {type_text}')

    def _check_quarantine(self, frame: Frame, allow_bad_rows: bool) -> None:
        if frame.quarantined is None or allow_bad_rows:
            return
        bad = self.execute(frame.quarantined.limit(1)).to_pylist()
        if bad:
            first = bad[0]
            raise InputError(
                str(first["reason"]), where=f"{first['file']}, line {first['line']}",
                hint="fix the file, or pass --allow-bad-rows to load the good rows and "
                     "keep the bad ones in table ingest_errors")

    def load(self, frame: Frame, *, dry_run: bool = False,
             allow_bad_rows: bool = False) -> LoadReport:
        """Load one frame atomically; see ``load_all``."""
        return self.load_all([frame], dry_run=dry_run, allow_bad_rows=allow_bad_rows)[0]

    def load_all(self, frames: list[Frame], *, dry_run: bool = False,
                 allow_bad_rows: bool = False) -> list[LoadReport]:
        """Load frames in one transaction, replacing the periods they carry, reconciled.

        Any error (bad value, reconciliation mismatch, interruption) rolls everything back.
        """
        for frame in frames:
            self._check_quarantine(frame, allow_bad_rows)
        if self.is_spark:
            return [self._load_spark(f, dry_run=dry_run) for f in frames]
        first_id = self.next_ingest_id()
        for i, frame in enumerate(frames):  # schema changes (new x_ columns) first
            self._align(frame.rows.limit(0), first_id + i, frame.source)
        self.raw("BEGIN TRANSACTION")
        try:
            reports = [self._load_rows(f, first_id + i, dry_run, allow_bad_rows)
                       for i, f in enumerate(frames)]
            if dry_run:
                self.raw("ROLLBACK")
                return reports
            before_commit()
            self.raw("COMMIT")
            return reports
        except BaseException:
            self.raw("ROLLBACK")
            raise

    def _load_rows(self, frame: Frame, ingest_id: int, dry_run: bool,
                   allow_bad_rows: bool) -> LoadReport:
        aligned = self._align(frame.rows, ingest_id, frame.source)
        self.con.insert("focus", aligned)
        t = self.focus
        new = t.filter(t[focus.INGEST_COLUMN] == ingest_id)
        superseded = superseded_sql(ingest_id)
        replaced = self.con.sql(
            f'SELECT "BillingCurrency", count(*) AS n, sum("BilledCost") AS billed FROM focus '
            f'WHERE {superseded} GROUP BY 1').to_pyarrow().to_pylist()
        rows_replaced = sum(r["n"] for r in replaced)
        if rows_replaced:
            self.raw(f"DELETE FROM focus WHERE {superseded}")
        rows = int(self.execute(new.count()).as_py())
        if rows == 0 and frame.quarantined is None:
            raise InputError("the file has a header but no data rows", where=_files(frame),
                             hint="export a period that has charges; nothing was loaded")
        quarantined = 0
        if frame.quarantined is not None and allow_bad_rows:
            q = frame.quarantined.mutate(ingest_id=ibis.literal(ingest_id, "int64"))
            q = q.select(*ERRORS_SCHEMA.names).cast(ERRORS_SCHEMA)
            quarantined = int(self.execute(q.count()).as_py())
            self.con.insert("ingest_errors", q)
        if frame.rows_in is not None and frame.rows_in != rows + quarantined:
            raise RunError(f"rows in ({frame.rows_in}) != rows loaded ({rows}) + rows "
                           f"quarantined ({quarantined})", where=_files(frame))
        recon = reconcile_frame(self, new, frame.totals)
        bad = [r for r in recon if not r.ok]
        if bad:
            r = bad[0]
            raise RunError(
                f"{r.metric} of billing account {r.billing_account}, period "
                f"{r.billing_period}, {r.currency}: source {r.source_total} != loaded "
                f"{r.store_total} (difference {r.difference})", where=_files(frame),
                hint="the load was rolled back; report this file as a bug with "
                     "`cloudledger ingest --dry-run`'s output")
        self._record_source_totals(ingest_id, recon)
        self._log(frame, ingest_id, rows, quarantined, rows_replaced, recon)
        return LoadReport(
            ingest_id=ingest_id, source=frame.source, files=[str(p) for p in frame.files],
            rows=rows, rows_replaced=rows_replaced, rows_quarantined=quarantined,
            version=frame.version, dry_run=dry_run, reconciliation=recon,
            replaced_totals={r["BillingCurrency"]: r["billed"] for r in replaced},
            warnings=frame.warnings)

    def _log(self, frame: Frame, ingest_id: int, rows: int, quarantined: int,
             rows_replaced: int, recon: list[Reconciliation]) -> None:
        """One ingest_log row: files, sha256, rows, BilledCost per currency, outcome."""
        totals: dict[str, Decimal] = {}
        for rec in recon:
            if rec.metric == "BilledCost":
                totals[rec.currency] = totals.get(rec.currency, Decimal(0)) + rec.store_total
        log = ibis.memtable(pa.table({
            "ingest_id": [ingest_id], "loaded_at": [datetime.now(UTC).replace(tzinfo=None)],
            "source": [frame.source], "files": [json.dumps([str(p) for p in frame.files])],
            "sha256": [json.dumps([sha256_of(p) for p in frame.files if p.is_file()])],
            "rows": [rows], "rows_quarantined": [quarantined], "rows_replaced": [rows_replaced],
            "totals": [json.dumps({k: str(v) for k, v in totals.items()})],
            "focus_version": [frame.version],
            "outcome": ["restated" if rows_replaced else "loaded"]}))
        self.con.insert("ingest_log", log.cast(LOG_SCHEMA))

    def _record_source_totals(self, ingest_id: int, recon: list[Reconciliation]) -> None:
        if not recon:
            return
        rows = pa.table({
            "ingest_id": [ingest_id] * len(recon),
            "BillingAccountId": [r.billing_account for r in recon],
            "BillingPeriodStart": [datetime.fromisoformat(r.billing_period) for r in recon],
            "BillingCurrency": [r.currency for r in recon],
            "metric": [r.metric for r in recon],
            "source_total": pa.array([r.source_total for r in recon], pa.decimal128(38, 18)),
        })
        self.con.insert("source_totals", ibis.memtable(rows).cast(TOTALS_SCHEMA))

    def reconcile(self) -> pa.Table:
        """Source totals recorded at load vs the store now, per provider/account/period."""
        return reconcile_store(self)

    def _load_spark(self, frame: Frame, *, dry_run: bool) -> LoadReport:
        """Spark has no multi-statement transactions: build the next table, then swap."""
        ingest_id = self.next_ingest_id()
        self._align(frame.rows.limit(0), ingest_id, frame.source)
        new = self._align(frame.rows, ingest_id, frame.source)
        self.con.create_table("focus__incoming", new, overwrite=True)
        new = self.con.table("focus__incoming").cast(self.focus.schema())
        keys = new.select(*KEY).distinct()
        old = self.focus.semi_join(keys, list(KEY))
        rows_replaced = int(self.execute(old.count()).as_py())
        rows = int(self.execute(new.count()).as_py())
        recon = reconcile_frame(self, new, frame.totals)
        bad = [r for r in recon if not r.ok]
        if bad or dry_run:
            self.con.drop_table("focus__incoming")
            if bad:
                raise RunError(f"reconciliation failed: {bad[0]}", where=_files(frame))
        else:
            kept = self.focus.anti_join(keys, list(KEY))
            self.con.create_table("focus__next", kept.union(new), overwrite=True)
            before_commit()
            self.con.drop_table("focus")
            self.raw("ALTER TABLE focus__next RENAME TO focus")
            self.con.drop_table("focus__incoming")
            self._record_source_totals(ingest_id, recon)
            self._log(frame, ingest_id, rows, 0, rows_replaced, recon)
        return LoadReport(
            ingest_id=ingest_id, source=frame.source, files=[str(p) for p in frame.files],
            rows=rows, rows_replaced=rows_replaced, rows_quarantined=0, version=frame.version,
            dry_run=dry_run, reconciliation=recon, replaced_totals={},
            warnings=frame.warnings)


def superseded_sql(ingest_id: int) -> str:
    """Rows that load ``ingest_id`` replaces: the same (source, billing account, period),
    and, once a period is invoiced (rows carry an InvoiceId), every not-final row (no
    InvoiceId) of the same source, period and currency, whatever account it names."""
    def cols(names: tuple[str, ...]) -> str:
        return ", ".join(f'"{n}"' for n in names)

    new = f'FROM focus WHERE "{focus.INGEST_COLUMN}" = {ingest_id}'
    scope = (focus.SOURCE_COLUMN, "BillingPeriodStart", "BillingCurrency")
    return (f'"{focus.INGEST_COLUMN}" <> {ingest_id} AND (({cols(KEY)}) IN (SELECT '
            f'{cols(KEY)} {new}) OR ("InvoiceId" IS NULL AND ({cols(scope)}) IN (SELECT '
            f'{cols(scope)} {new} AND "InvoiceId" IS NOT NULL)))')


def _files(frame: Frame) -> str:
    return ", ".join(str(p) for p in frame.files[:3]) + (" ..." if len(frame.files) > 3 else "")
