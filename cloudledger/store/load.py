"""Loading frames into ``focus``: all or nothing, each frame replacing the scopes it carries.

The replace scope of a load is what the load carries, never more: every
(provider, billing account, billing period) present in its rows. Rows of earlier loads in
that scope are deleted in the same transaction, whatever format they came from (a CUR and
then the same account's FOCUS export count once, with a warning), and an account's
not-final rows are replaced by its final ones. With ``incremental`` the scope narrows to the
charge days the load carries within each (provider, account, period), for daily exports that
deliver only some days of a month.

Source totals follow the rows they describe: when a load replaces part of an earlier load,
that load's recorded source totals are reduced by exactly what was removed (and dropped
once none of its rows remain), so ``cloudledger reconcile`` keeps comparing like with like.

On DuckDB the delete, the insert, ``ingest_log`` and ``source_totals`` commit as one
transaction, and the store commits through a checkpoint (``checkpoint_threshold=0``) rather
than a large WAL record: a process killed at any point leaves the store as it was before
or as it is after, never in between (see tests/store/test_crash.py). On Spark the next
``focus`` table is built aside and swapped in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus
from cloudledger.engine import ident as q
from cloudledger.errors import InputError, RunError
from cloudledger.store.files import digest_of, prefetch
from cloudledger.store.frame import Frame, LoadReport, Recheck, Replaced, VerifiedFrame
from cloudledger.store.reconcile import Reconciliation, reconcile_frame
from cloudledger.store.schema import ERRORS_SCHEMA, LOG_SCHEMA, TOTALS_SCHEMA

if TYPE_CHECKING:
    from cloudledger.store import Store


def _no_op(point: str) -> None:
    return None


#: Test seam: called with the name of each step of a load ("frame 1 inserted", ...,
#: "before commit"); the crash test kills the process there.
step: Callable[[str], None] = _no_op


def before_commit() -> None:
    """Test seam kept for callers that patch the moment just before COMMIT."""


PROVIDER = 'coalesce("ProviderName", \'\')'
ACCOUNT = 'coalesce("BillingAccountId", \'\')'
DAY = 'date_trunc(\'day\', "ChargePeriodStart")'


def scope_exprs(incremental: bool) -> list[str]:
    """SQL of the replace scope's key: provider, account, period (and charge day)."""
    return [PROVIDER, ACCOUNT, q("BillingPeriodStart")] + ([DAY] if incremental else [])


def load_all(store: Store, frames: list[Frame], *, dry_run: bool = False,
             allow_bad_rows: bool = False, incremental: bool = False) -> list[LoadReport]:
    """Load frames in one transaction, each replacing the scopes it carries, reconciled.

    Any error (bad value, reconciliation mismatch, interruption) rolls everything back.
    A frame with a ``fallback`` that the engine rejects (or a ``VerifiedFrame`` whose
    checks ask for it) is read again that way and the load tried again.
    """
    if store.is_spark:
        for frame in frames:
            check_quarantine(store, frame, allow_bad_rows)
        from cloudledger.store.spark_load import load_all_spark

        return load_all_spark(store, frames, dry_run=dry_run, allow_bad_rows=allow_bad_rows,
                              incremental=incremental)
    import duckdb

    while True:
        for frame in frames:
            check_quarantine(store, frame, allow_bad_rows)
        try:
            return _load_all(store, frames, dry_run, allow_bad_rows, incremental)
        except (Recheck, duckdb.Error) as e:
            if isinstance(e, duckdb.InterruptException) or not any(f.fallback for f in frames):
                raise
        frames = [_fall_back(f) for f in frames]


def _fall_back(frame: Frame) -> Frame:
    if frame.fallback is None:
        return frame
    again = frame.fallback()
    # warnings the caller added (skipped files) stay first
    again.warnings[:0] = [w for w in frame.warnings if w not in again.warnings]
    return again


def _load_all(store: Store, frames: list[Frame], dry_run: bool, allow_bad_rows: bool,
              incremental: bool) -> list[LoadReport]:
    first_id = store.next_ingest_id()
    with store.transaction() as tx:
        # schema changes (new x_ columns) first: DuckDB cannot ALTER a table it has
        # already inserted into within the same transaction
        for i, frame in enumerate(frames):
            store.align(frame.rows.limit(0), first_id + i, frame.source)
        reports = []
        for i, frame in enumerate(frames):
            reports.append(_load_frame(store, frame, first_id + i, i + 1, dry_run,
                                       allow_bad_rows, incremental))
        step("before commit")
        before_commit()
        if dry_run:
            tx.rollback()
    return reports


def check_quarantine(store: Store, frame: Frame, allow_bad_rows: bool) -> None:
    if frame.quarantined is None or allow_bad_rows:
        return
    bad = store.execute(frame.quarantined.limit(1)).to_pylist()
    if bad:
        first = bad[0]
        raise InputError(
            str(first["reason"]), where=f"{first['file']}, line {first['line']}",
            hint="fix the file, or pass --allow-bad-rows to load the good rows and "
                 "keep the bad ones in table ingest_errors")


def _load_frame(store: Store, frame: Frame, ingest_id: int, n: int, dry_run: bool,
                allow_bad_rows: bool, incremental: bool) -> LoadReport:
    aligned = store.align(frame.rows, ingest_id, frame.source)
    store.con.insert("focus", aligned)
    step(f"frame {n} inserted")
    prefetch(frame.files)  # their digests (for ingest_log), hashed while the rows are checked
    t = store.focus
    new = t.filter(t[focus.INGEST_COLUMN] == ingest_id)
    loaded: ir.Table | None = None  # the inserted rows' totals, when the checks summed them
    scope: pa.Table | None = None
    if isinstance(frame, VerifiedFrame) and frame.verify is not None:
        verified = frame.verify(store, new)  # or Recheck: read the checked way
        rows, frame.totals, loaded = verified.rows, verified.totals, verified.loaded
        scope = None if incremental else verified.scope
    else:
        rows = int(store.execute(new.count()).as_py())
    if rows == 0 and frame.quarantined is None:
        raise InputError("the file has a header but no data rows", where=files_of(frame),
                         hint="export a period that has charges; nothing was loaded")
    step(f"frame {n} checked")
    quarantined = 0
    if frame.quarantined is not None and allow_bad_rows:
        qt = frame.quarantined.mutate(ingest_id=ibis.literal(ingest_id, "int64"))
        qt = qt.select(*ERRORS_SCHEMA.names).cast(ERRORS_SCHEMA)
        quarantined = int(store.execute(qt.count()).as_py())
        store.con.insert("ingest_errors", qt)
    if frame.rows_in is not None and frame.rows_in != rows + quarantined:
        raise RunError(f"rows in ({frame.rows_in}) != rows loaded ({rows}) + rows "
                       f"quarantined ({quarantined})", where=files_of(frame))
    recon = check_reconciliation(store, frame, new, loaded)
    replaced, warnings = supersede(store, frame, ingest_id, incremental, scope)
    step(f"frame {n} replaced")
    record_source_totals(store, ingest_id, recon)
    write_log(store, frame, ingest_id, rows, quarantined, replaced, recon)
    step(f"frame {n} logged")
    return LoadReport(
        ingest_id=ingest_id, source=frame.source, files=[str(p) for p in frame.files],
        rows=rows, rows_replaced=sum(r.rows for r in replaced), rows_quarantined=quarantined,
        version=frame.version, dry_run=dry_run, reconciliation=recon, replaced=replaced,
        warnings=frame.warnings + warnings)


def check_reconciliation(store: Store, frame: Frame, new: ir.Table,
                         loaded: ir.Table | None = None) -> list[Reconciliation]:
    recon = reconcile_frame(store, new, frame.totals, loaded)
    bad = [r for r in recon if not r.ok]
    if bad:
        r = bad[0]
        raise RunError(
            f"{r.metric} of billing account {r.billing_account}, period "
            f"{r.billing_period}, {r.currency}: source {r.source_total} != loaded "
            f"{r.store_total} (difference {r.difference})", where=files_of(frame),
            hint="the load was rolled back; report this file as a bug with "
                 "`cloudledger ingest --dry-run`'s output")
    return recon


def supersede(store: Store, frame: Frame, ingest_id: int, incremental: bool,
              scope: pa.Table | None = None) -> tuple[list[Replaced], list[str]]:
    """Delete earlier rows in the scope of load ``ingest_id`` (``scope``: its keys where the
    load's checks already listed them); source totals follow them."""
    keys = scope_exprs(incremental)
    names = ["p", "a", "s", "d"][:len(keys)]
    if scope is not None:
        store.engine.register("cl_scope_rows", scope)
        store.raw("CREATE OR REPLACE TEMP TABLE cl_scope AS SELECT * FROM cl_scope_rows")
        store.engine.unregister("cl_scope_rows")
    else:
        store.raw("CREATE OR REPLACE TEMP TABLE cl_scope AS SELECT DISTINCT "
                  + ", ".join(f"{k} AS {n}" for k, n in zip(keys, names, strict=True))
                  + f" FROM focus WHERE {q(focus.INGEST_COLUMN)} = {int(ingest_id)}")
    where = (f"{q(focus.INGEST_COLUMN)} <> {int(ingest_id)} AND ({', '.join(keys)}) IN "
             f"(SELECT {', '.join(names)} FROM cl_scope)")
    store.raw(
        "CREATE OR REPLACE TEMP TABLE cl_gone AS SELECT "
        f"{PROVIDER} AS p, {q('BillingAccountId')} AS a, {q('BillingPeriodStart')} AS s, "
        f"{q('BillingCurrency')} AS c, {q(focus.INGEST_COLUMN)} AS i, "
        f"{q(focus.SOURCE_COLUMN)} AS f, count(*) AS n, sum({q('BilledCost')}) AS billed, "
        f"sum({q('EffectiveCost')}) AS effective FROM focus WHERE {where} GROUP BY ALL")
    gone = store.con.raw_sql("SELECT * FROM cl_gone ORDER BY s, p, a, c, i").fetch_arrow_table()
    if gone.num_rows == 0:
        return [], []
    follow_source_totals(store, where)
    return summarize_replaced(gone.to_pylist(), frame, incremental)


def follow_source_totals(store: Store, where: str) -> None:
    """Reduce earlier loads' source totals by the rows about to be deleted; delete them."""
    ing = q(focus.INGEST_COLUMN)
    per_metric = " UNION ALL ".join(
        f"SELECT {ing} AS i, {q('BillingAccountId')} AS a, {q('BillingPeriodStart')} AS s, "
        f"{q('BillingCurrency')} AS c, '{m}' AS m, sum({q(m)}) AS amount FROM focus "
        f"WHERE {where} GROUP BY ALL" for m in ("BilledCost", "EffectiveCost"))
    store.raw(
        f"UPDATE source_totals SET source_total = source_total - g.amount FROM ({per_metric}) "
        "AS g WHERE source_totals.ingest_id = g.i AND source_totals.metric = g.m AND "
        "source_totals.BillingPeriodStart = g.s AND "
        "source_totals.BillingAccountId IS NOT DISTINCT FROM g.a AND "
        "source_totals.BillingCurrency IS NOT DISTINCT FROM g.c")
    store.raw(f"DELETE FROM focus WHERE {where}")
    # an earlier load's totals for a key none of whose rows remain go with the rows
    store.raw(
        "DELETE FROM source_totals WHERE ingest_id IN (SELECT i FROM cl_gone) AND NOT EXISTS "
        f"(SELECT 1 FROM focus WHERE {ing} = source_totals.ingest_id AND "
        f"{q('BillingPeriodStart')} = source_totals.BillingPeriodStart AND "
        f"{q('BillingAccountId')} IS NOT DISTINCT FROM source_totals.BillingAccountId AND "
        f"{q('BillingCurrency')} IS NOT DISTINCT FROM source_totals.BillingCurrency)")


def summarize_replaced(gone: list[dict[str, Any]], frame: Frame,
                       incremental: bool) -> tuple[list[Replaced], list[str]]:
    """Replaced rows per (provider, account, period, currency), and cross-format warnings."""
    out: dict[tuple[str, str, str, str], Replaced] = {}
    warnings = []
    for g in gone:
        period = g["s"].strftime("%Y-%m-%d") if g["s"] is not None else "None"
        key = (g["p"], str(g["a"]), period, str(g["c"]))
        r = out.setdefault(key, Replaced(key[0], key[1], key[2], key[3], 0, Decimal(0),
                                         Decimal(0), [], []))
        r.rows += g["n"]
        r.billed_cost += g["billed"] or Decimal(0)
        r.effective_cost += g["effective"] or Decimal(0)
        if g["f"] not in r.sources:
            r.sources.append(g["f"])
        if g["i"] not in r.ingests:
            r.ingests.append(g["i"])
        if g["f"] != frame.source:
            warnings.append(
                f"{g['p'] or 'provider ?'} account {g['a']}, period {period}: replaced "
                f"{g['n']:,} rows loaded earlier as {g['f']} (ingest {g['i']}) with this "
                f"{frame.source} load; an account and period loaded from two formats "
                "counts once" + (" (the charge days this load carries)" if incremental
                                 else ""))
    return list(out.values()), warnings


def record_source_totals(store: Store, ingest_id: int, recon: list[Reconciliation]) -> None:
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
    store.con.insert("source_totals", ibis.memtable(rows).cast(TOTALS_SCHEMA))


def write_log(store: Store, frame: Frame, ingest_id: int, rows: int, quarantined: int,
              replaced: list[Replaced], recon: list[Reconciliation]) -> None:
    """One ingest_log row: files, their digests, rows, BilledCost per currency, outcome."""
    totals: dict[str, Decimal] = {}
    for rec in recon:
        if rec.metric == "BilledCost":
            totals[rec.currency] = totals.get(rec.currency, Decimal(0)) + rec.store_total
    n_replaced = sum(r.rows for r in replaced)
    log = ibis.memtable(pa.table({
        "ingest_id": [ingest_id], "loaded_at": [datetime.now(UTC).replace(tzinfo=None)],
        "source": [frame.source], "files": [json.dumps([str(p) for p in frame.files])],
        "digests": [json.dumps([digest_of(p) for p in frame.files if p.is_file()])],
        "rows": [rows], "rows_quarantined": [quarantined], "rows_replaced": [n_replaced],
        "totals": [json.dumps({k: str(v) for k, v in totals.items()})],
        "focus_version": [frame.version],
        "outcome": ["restated" if n_replaced else "loaded"]}))
    store.con.insert("ingest_log", log.cast(LOG_SCHEMA))


def files_of(frame: Frame) -> str:
    return ", ".join(str(p) for p in frame.files[:3]) + (" ..." if len(frame.files) > 3 else "")
