"""The load on Spark: the same scope, reconciliation and source-total rules as on DuckDB
(``cloudledger.store.load``), as build-then-swap since Spark tables have no transactions.

Every frame is staged and checked (rows in = loaded + quarantined, reconciliation) before
anything is swapped, so a multi-file ingest is all or nothing; the next ``focus`` and
``source_totals`` are then built aside and swapped in, and the log appended last.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.errors import InputError, RunError
from cloudledger.store import load as duck
from cloudledger.store.frame import Frame, LoadReport, Replaced
from cloudledger.store.schema import ERRORS_SCHEMA, TOTALS_SCHEMA

if TYPE_CHECKING:
    from cloudledger.store import Store


def scope_key(t: ir.Table, incremental: bool) -> dict[str, ir.Value]:
    key = {"cl_p": t.ProviderName.fill_null(""), "cl_a": t.BillingAccountId.fill_null(""),
           "cl_s": t.BillingPeriodStart}
    if incremental:
        key["cl_d"] = t.ChargePeriodStart.truncate("D")
    return key


def load_all_spark(store: Store, frames: list[Frame], *, dry_run: bool,
                   allow_bad_rows: bool, incremental: bool) -> list[LoadReport]:
    first_id = store.next_ingest_id()
    staged: list[tuple[Frame, int, str, int, int, list[Any]]] = []
    try:
        for i, frame in enumerate(frames):
            ingest_id = first_id + i
            store.align(frame.rows.limit(0), ingest_id, frame.source)  # new x_ columns
            name = f"focus__incoming_{i}"
            store.con.create_table(name, store.align(frame.rows, ingest_id, frame.source),
                                   overwrite=True)
            new = store.con.table(name)
            rows = int(store.execute(new.count()).as_py())
            if rows == 0 and frame.quarantined is None:
                raise InputError("the file has a header but no data rows",
                                 where=duck.files_of(frame),
                                 hint="export a period that has charges; nothing was loaded")
            quarantined = 0
            if frame.quarantined is not None and allow_bad_rows:
                quarantined = int(store.execute(frame.quarantined.count()).as_py())
            if frame.rows_in is not None and frame.rows_in != rows + quarantined:
                raise RunError(f"rows in ({frame.rows_in}) != rows loaded ({rows}) + rows "
                               f"quarantined ({quarantined})", where=duck.files_of(frame))
            recon = duck.check_reconciliation(store, frame, new)
            staged.append((frame, ingest_id, name, rows, quarantined, recon))
        reports = _swap(store, staged, dry_run=dry_run, allow_bad_rows=allow_bad_rows,
                        incremental=incremental)
    finally:
        for i in range(len(frames)):
            store.con.drop_table(f"focus__incoming_{i}", force=True)
    return reports


def _swap(store: Store, staged: list[tuple[Frame, int, str, int, int, list[Any]]], *,
          dry_run: bool, allow_bad_rows: bool, incremental: bool) -> list[LoadReport]:
    columns = store.focus.columns
    current = store.focus
    gone_parts: list[ir.Table] = []
    replaced_of: list[tuple[list[Replaced], list[str]]] = []
    for frame, _ingest_id, name, *_ in staged:
        new = store.con.table(name).select(*columns)
        scope = new.select(**scope_key(new, incremental)).distinct()
        keyed = current.mutate(**scope_key(current, incremental))
        on = list(scope.columns)
        gone = keyed.semi_join(scope, on).select(*columns)
        groups = store.execute(gone.group_by(
            p=gone.ProviderName.fill_null(""), a=gone.BillingAccountId,
            s=gone.BillingPeriodStart, c=gone.BillingCurrency, i=gone[focus.INGEST_COLUMN],
            f=gone[focus.SOURCE_COLUMN]).aggregate(
            n=gone.count(), billed=gone.BilledCost.sum(),
            effective=gone.EffectiveCost.sum())).to_pylist()
        replaced_of.append(duck.summarize_replaced(groups, frame, incremental))
        gone_parts.append(gone)
        current = keyed.anti_join(scope, on).select(*columns).union(new)
    reports = []
    for (frame, ingest_id, _name, rows, quarantined, recon), (replaced, warnings) in zip(
            staged, replaced_of, strict=True):
        reports.append(LoadReport(
            ingest_id=ingest_id, source=frame.source, files=[str(p) for p in frame.files],
            rows=rows, rows_replaced=sum(r.rows for r in replaced),
            rows_quarantined=quarantined, version=frame.version, dry_run=dry_run,
            reconciliation=recon, replaced=replaced, warnings=frame.warnings + warnings))
    if dry_run:
        return reports
    gone_all = ibis.union(*gone_parts, distinct=False)
    store.con.create_table("focus__next", current, overwrite=True)
    totals_next = _followed_totals(store, gone_all)
    store.con.create_table("source_totals__next", totals_next, overwrite=True)
    duck.step("before commit")
    duck.before_commit()
    store.engine.swap("focus__next", "focus")
    store.engine.swap("source_totals__next", "source_totals")
    for frame, ingest_id, _name, rows, quarantined, recon in staged:
        replaced = next(r for r in reports if r.ingest_id == ingest_id).replaced
        if frame.quarantined is not None and allow_bad_rows:
            qt = frame.quarantined.mutate(ingest_id=ibis.literal(ingest_id, "int64"))
            store.con.insert("ingest_errors", qt.select(*ERRORS_SCHEMA.names).cast(
                ERRORS_SCHEMA))
        duck.record_source_totals(store, ingest_id, recon)
        duck.write_log(store, frame, ingest_id, rows, quarantined, replaced, recon)
    return reports


def _followed_totals(store: Store, gone: ir.Table) -> ir.Table:
    """source_totals less what the replaced rows carried; keys with no rows left dropped."""
    st = store.table("source_totals")
    keys = {"i": gone[focus.INGEST_COLUMN], "a": gone.BillingAccountId.fill_null(""),
            "s": gone.BillingPeriodStart, "c": gone.BillingCurrency.fill_null("")}
    removed = gone.group_by(**keys).aggregate(
        BilledCost=gone.BilledCost.sum(), EffectiveCost=gone.EffectiveCost.sum())
    sk = st.mutate(k_a=st.BillingAccountId.fill_null(""), k_c=st.BillingCurrency.fill_null(""))
    j = sk.left_join(removed, [sk.ingest_id == removed.i, sk.k_a == removed.a,
                               sk.BillingPeriodStart == removed.s, sk.k_c == removed.c])
    minus = ibis.cases((j.metric == "BilledCost", j.BilledCost),
                       else_=j.EffectiveCost).fill_null(Decimal(0)).cast("decimal(38, 18)")
    adjusted = j.select(*[c for c in TOTALS_SCHEMA.names if c != "source_total"],
                        "k_a", "k_c", source_total=(j.source_total - minus).cast(
                            "decimal(38, 18)"))
    f = store.con.table("focus__next")
    live = f.select(i=f[focus.INGEST_COLUMN], a=f.BillingAccountId.fill_null(""),
                    s=f.BillingPeriodStart, c=f.BillingCurrency.fill_null("")).distinct()
    touched = removed.select(t=removed.i).distinct()
    untouched = adjusted.anti_join(touched, adjusted.ingest_id == touched.t)
    hit = adjusted.semi_join(touched, adjusted.ingest_id == touched.t)
    still_live = hit.semi_join(live, [hit.ingest_id == live.i, hit.k_a == live.a,
                                      hit.BillingPeriodStart == live.s, hit.k_c == live.c])
    kept = untouched.union(still_live)
    return kept.select(*TOTALS_SCHEMA.names).cast(TOTALS_SCHEMA)
