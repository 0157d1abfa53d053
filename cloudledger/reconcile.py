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


def reconcile_frame(store: Any, loaded: ir.Table, source_totals: ir.Table) -> list[
        Reconciliation]:
    """Compare loaded totals with the source's own, per account, period, currency, metric."""
    mine = store.execute(totals_by_key(loaded)).to_pylist()
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
        """Source totals recorded at load vs the store now, per provider/account/period."""
        t = store.focus
        live = t.group_by(ingest_id=t[focus.INGEST_COLUMN], BillingAccountId=t.BillingAccountId,
                          BillingPeriodStart=t.BillingPeriodStart,
                          BillingCurrency=t.BillingCurrency).aggregate(
            provider=t.ProviderName.arbitrary(), source=t[focus.SOURCE_COLUMN].arbitrary(),
            BilledCost=t.BilledCost.sum(), EffectiveCost=t.EffectiveCost.sum())
        st = store.table("source_totals")
        keys = ["ingest_id", "BillingAccountId", "BillingPeriodStart", "BillingCurrency"]
        j = st.semi_join(live.select("ingest_id").distinct(), "ingest_id").left_join(
            live, keys)
        store_total = ibis.cases((j.metric == "BilledCost", j.BilledCost),
                                 else_=j.EffectiveCost).cast("decimal(38, 18)")
        store_total = store_total.fill_null(0)
        expr = j.select(
            "ingest_id", j.source, j.provider, "BillingAccountId", "BillingPeriodStart",
            "BillingCurrency", "metric", "source_total", store_total=store_total,
            difference=store_total - j.source_total,
        ).order_by(["BillingPeriodStart", "BillingAccountId", "metric"])
        return store.execute(expr)

