"""Reconciliation: a load's totals against the source's own, per account, period, currency.

Each source states its totals by a path independent of its FOCUS rows (e.g. the sum of
``lineItem/UnblendedCost``); a load commits only when every BilledCost and EffectiveCost
total agrees to ``RECONCILE_TOLERANCE``. The source totals are kept (table
``source_totals``) so ``cloudledger reconcile`` can re-check the store at any time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus

RECONCILE_TOLERANCE = Decimal("0.000001")


@dataclass
class Reconciliation:
    billing_account: str
    billing_period: str
    currency: str
    metric: str
    source_total: Decimal
    store_total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.store_total - self.source_total

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= RECONCILE_TOLERANCE



def totals_by_key(rows: ir.Table) -> ir.Table:
    """BilledCost and EffectiveCost per billing account, period and currency."""
    return rows.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency").aggregate(
        BilledCost=rows.BilledCost.sum(), EffectiveCost=rows.EffectiveCost.sum())


def reconcile_frame(store: Any, loaded: ir.Table, source_totals: ir.Table,
                    loaded_totals: ir.Table | None = None) -> list[Reconciliation]:
    """Compare loaded totals with the source's own, per account, period, currency, metric.
    ``loaded_totals``: the loaded rows' sums where the load has already made them (any
    grouping finer than account, period and currency)."""
    mine = store.execute(totals_by_key(loaded_totals if loaded_totals is not None
                                       else loaded)).to_pylist()
    metrics = {m: source_totals[m].sum() for m in ("BilledCost", "EffectiveCost")
               if m in source_totals.columns}
    theirs = store.execute(source_totals.group_by(
        "BillingAccountId", "BillingPeriodStart", "BillingCurrency").aggregate(**metrics)
    ).to_pylist()

    def key(r: dict[str, Any]) -> tuple[str, str, str]:
        period = r["BillingPeriodStart"]
        return (str(r["BillingAccountId"]),
                period.strftime("%Y-%m-%d") if period is not None else "None",
                str(r["BillingCurrency"]))

    ours = {key(r): r for r in mine}
    src = {key(r): r for r in theirs}
    out = []
    for k in sorted(set(ours) | set(src)):
        for metric in ("BilledCost", "EffectiveCost"):
            a = src.get(k, {}).get(metric)
            b = ours.get(k, {}).get(metric)
            if a is None and k in src and metric == "EffectiveCost":
                continue  # the source states no EffectiveCost of its own
            out.append(Reconciliation(k[0], k[1], k[2], metric, Decimal(a or 0),
                                      Decimal(b or 0)))
    return out


def reconcile_store(store: Any) -> pa.Table:
    """Source totals recorded at load vs the store now, per ingest, account, period and
    currency; plus the rows that nothing vouches for: rows of a load with no ``ingest_log``
    entry (a load cut short) and rows with no recorded source total. ``status`` is ``ok``
    or says what is wrong; ``cloudledger reconcile`` exits 1 on any row that is not ok."""
    t = store.focus
    keys = ["ingest_id", "BillingAccountId", "BillingPeriodStart", "BillingCurrency"]
    live = t.group_by(ingest_id=t[focus.INGEST_COLUMN], BillingAccountId=t.BillingAccountId,
                      BillingPeriodStart=t.BillingPeriodStart,
                      BillingCurrency=t.BillingCurrency).aggregate(
        provider=t.ProviderName.arbitrary(), source=t[focus.SOURCE_COLUMN].arbitrary(),
        BilledCost=t.BilledCost.sum(), EffectiveCost=t.EffectiveCost.sum())
    st = store.table("source_totals")
    log = store.table("ingest_log").select(logged=store.table("ingest_log").ingest_id)
    money = "decimal(38, 18)"

    j = st.left_join(live, keys)
    store_total = ibis.cases((j.metric == "BilledCost", j.BilledCost),
                             else_=j.EffectiveCost).cast(money).fill_null(0)
    recorded = j.select(
        "ingest_id", j.source, j.provider, "BillingAccountId", "BillingPeriodStart",
        "BillingCurrency", "metric", source_total=j.source_total.cast(money),
        store_total=store_total,
        difference=store_total - j.source_total,
        status=ibis.cases(((store_total - j.source_total).abs() <= RECONCILE_TOLERANCE, "ok"),
                          (j.BilledCost.isnull(), "no rows left for this source total"),
                          else_="difference"))
    # rows no source total vouches for: no ingest_log entry, or no BilledCost total
    billed = st.filter(st.metric == "BilledCost")
    unvouched = live.anti_join(billed, keys)
    unvouched = unvouched.left_join(log, unvouched.ingest_id == log.logged)
    orphans = unvouched.select(
        "ingest_id", "source", "provider", "BillingAccountId", "BillingPeriodStart",
        "BillingCurrency", metric=ibis.literal("BilledCost"),
        source_total=ibis.null(money),
        store_total=unvouched.BilledCost.cast(money),
        difference=unvouched.BilledCost.cast(money),
        status=ibis.cases((unvouched.logged.isnull(),
                           "rows of a load with no ingest_log entry (a load cut short?)"),
                          else_="rows with no recorded source total"))
    expr = recorded.union(orphans).order_by(
        ["BillingPeriodStart", "BillingAccountId", "metric", "ingest_id"])
    return store.execute(expr)
