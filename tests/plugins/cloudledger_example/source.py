"""TinyCloud's bill: ``account,month,service,amount`` (one row per charge), read into FOCUS
through cloudledger's public helpers, registered under the ``cloudledger.sources`` group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis

from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import money, source_total, text, timestamp
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.store import Frame

COLUMNS = ("account", "month", "service", "amount")


def looks_like_tinycloud(sniff: Sniff) -> bool:
    return tuple(sniff.columns) == COLUMNS


@register("tinycloud", "TinyCloud bills (example plugin)", detect=looks_like_tinycloud)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    raw = fs.read_csv(store, paths, list(COLUMNS))
    start = timestamp(raw.month + "-01")
    rows = raw.select(
        BillingAccountId=text(raw.account), BillingPeriodStart=start,
        BillingPeriodEnd=start + ibis.interval(months=1), ChargePeriodStart=start,
        ChargePeriodEnd=start + ibis.interval(months=1), BillingCurrency=ibis.literal("USD"),
        BilledCost=money(raw.amount), EffectiveCost=money(raw.amount),
        ListCost=money(raw.amount), ContractedCost=money(raw.amount),
        ProviderName=ibis.literal("TinyCloud"), ServiceName=text(raw.service),
        ChargeCategory=ibis.literal("Usage"))
    totals = raw.group_by(BillingAccountId=text(raw.account), BillingPeriodStart=start,
                          BillingCurrency=ibis.literal("USD")).aggregate(
        BilledCost=source_total(raw.amount).sum())
    return Frame("tinycloud", paths, rows, totals)
