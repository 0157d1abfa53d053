"""Spend summaries over the ``focus`` table: by dimension, by month, tag coverage, movers.

Every function builds an Ibis expression on ``store.focus`` (DuckDB or Spark) and only the
small aggregated result is materialized. The metric is a parameter (BilledCost,
EffectiveCost, ListCost or ContractedCost).

    by_dimension(store, "service", metric="EffectiveCost", top=10)
    tag_coverage(store)            # share of EffectiveCost on rows with a team-like tag
    top_movers(store, n=10)        # services with the largest month-over-month change
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus
from cloudledger.errors import InputError

#: Dimension name -> expression on a FOCUS table.
DIMENSIONS: dict[str, Callable[[ir.Table], ir.Value]] = {
    "provider": lambda t: ibis.coalesce(t.ServiceProviderName, t.ProviderName),
    "service": lambda t: t.ServiceName,
    "category": lambda t: t.ServiceCategory,
    "month": lambda t: t.BillingPeriodStart.date(),
    "day": lambda t: t.ChargePeriodStart.date(),
    "account": lambda t: ibis.coalesce(t.SubAccountName, t.SubAccountId, t.BillingAccountName,
                                       t.BillingAccountId),
    "billing_account": lambda t: ibis.coalesce(t.BillingAccountName, t.BillingAccountId),
    "region": lambda t: t.RegionId,
    "charge_category": lambda t: t.ChargeCategory,
    "pricing_category": lambda t: t.PricingCategory,
    "publisher": lambda t: t.PublisherName,
    "currency": lambda t: t.BillingCurrency,
}
#: Tag keys (compared case-insensitively) that name an owning team.
TEAM_TAG_KEYS = ("team", "owner")


def check_metric(metric: str) -> str:
    if metric not in focus.COST_METRICS:
        near = difflib.get_close_matches(metric, focus.COST_METRICS, n=1, cutoff=0.5)
        raise InputError(f"unknown metric {metric!r}", where="--metric",
                         hint=(f"did you mean {near[0]}? " if near else "") +
                         "metrics: " + ", ".join(focus.COST_METRICS))
    return metric


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        near = difflib.get_close_matches(by, list(DIMENSIONS), n=1, cutoff=0.5)
        raise InputError(f"unknown dimension {by!r}", where="--by",
                         hint=(f"did you mean {near[0]}? " if near else "") +
                         "dimensions: " + ", ".join(DIMENSIONS))
    return by


def _focus(store: Any) -> ir.Table:
    return store.focus


def by_dimension(store: Any, by: str = "provider", *, metric: str = "EffectiveCost",
                 top: int | None = None) -> pa.Table:
    """Total ``metric`` per value of ``by`` with its share of the whole, largest first
    (``month`` and ``day`` in date order). With ``top``, the rest is summed as "(other)"."""
    check_metric(metric)
    check_dimension(by)
    t = _focus(store)
    grouped = t.group_by(DIMENSIONS[by](t).name(by)).aggregate(
        **{metric: t[metric].sum(), "rows": t.count()})
    ordered = grouped.order_by(by if by in ("month", "day") else ibis.desc(metric))
    data = store.execute(ordered)
    total = sum((v for v in data.column(metric).to_pylist() if v is not None), 0)
    rows = data.to_pylist()
    if top is not None and len(rows) > top and by not in ("month", "day"):
        rest = rows[top:]
        rows = rows[:top] + [{by: "(other)", metric: sum(r[metric] for r in rest),
                              "rows": sum(r["rows"] for r in rest)}]
    for r in rows:
        r["share"] = float(r[metric] / total) if total else 0.0
    return pa.Table.from_pylist(rows, schema=pa.schema([
        (by, data.schema.field(by).type), (metric, data.schema.field(metric).type),
        ("rows", pa.int64()), ("share", pa.float64())]))


def by_two(store: Any, first: str, second: str, *, metric: str = "EffectiveCost") -> pa.Table:
    """``metric`` per (first, second), e.g. per month and provider, for stacked charts."""
    check_metric(metric)
    t = _focus(store)
    expr = t.group_by(DIMENSIONS[check_dimension(first)](t).name(first),
                      DIMENSIONS[check_dimension(second)](t).name(second)).aggregate(
        **{metric: t[metric].sum()}).order_by([first, second])
    return store.execute(expr)


def has_team_tag(t: ir.Table, keys: tuple[str, ...] = TEAM_TAG_KEYS) -> ir.BooleanValue:
    """True where the row's Tags JSON object has a key meaning team (any case or blanks)."""
    pattern = '"\\s*(' + "|".join(keys) + ')\\s*"\\s*:'
    return t.Tags.lower().re_search(pattern).fill_null(False)


def tag_coverage(store: Any, *, metric: str = "EffectiveCost",
                 keys: tuple[str, ...] = TEAM_TAG_KEYS, by: str | None = None) -> pa.Table:
    """Share of ``metric`` on rows carrying a team-like tag (overall, or per ``by``)."""
    check_metric(metric)
    t = _focus(store)
    tagged = ibis.cases((has_team_tag(t, keys), t[metric]), else_=0)
    groups = [DIMENSIONS[check_dimension(by)](t).name(by)] if by else []
    agg = t.group_by(groups).aggregate(tagged=tagged.sum(), total=t[metric].sum()) if groups \
        else t.aggregate(tagged=tagged.sum(), total=t[metric].sum())
    data = store.execute(agg.order_by(by) if by else agg).to_pylist()
    for r in data:
        r["untagged"] = r["total"] - r["tagged"]
        r["coverage"] = float(r["tagged"] / r["total"]) if r["total"] else 0.0
    return pa.Table.from_pylist(data)


def top_movers(store: Any, *, metric: str = "EffectiveCost", by: str = "service",
               n: int = 10, month: Any = None) -> pa.Table:
    """Values of ``by`` with the largest absolute change from the previous month to
    ``month`` (default: the latest billing month in the store)."""
    check_metric(metric)
    t = _focus(store)
    key = DIMENSIONS[check_dimension(by)](t).name(by)
    m = t.BillingPeriodStart.date()
    months = store.execute(m.name("m").as_table().distinct().order_by(ibis.desc("m")).limit(
        2)).column("m").to_pylist() if month is None else None
    if month is None:
        if not months:
            return pa.table({by: [], "previous": [], "current": [], "change": [],
                             "change_pct": []})
        current, previous = months[0], (months[1] if len(months) > 1 else None)
    else:
        current = month
        previous = store.execute(m.name("m").as_table().filter(ibis._.m < month).m.max()
                                 ).as_py()
    cur = ibis.cases((m == current, t[metric]), else_=0)
    prev = ibis.cases((m == previous, t[metric]), else_=0) if previous else ibis.literal(0)
    agg = t.filter(m.isin([x for x in (current, previous) if x is not None])).group_by(
        key).aggregate(previous=prev.sum(), current=cur.sum())
    agg = agg.mutate(change=agg.current - agg.previous)
    expr = agg.order_by(ibis.desc(agg.change.abs())).limit(n)
    rows = store.execute(expr).to_pylist()
    for r in rows:
        r["change_pct"] = float(r["change"] / r["previous"] * 100) if r["previous"] else None
        r["month"] = current
    return pa.Table.from_pylist(rows)


@dataclass
class Overview:
    metric: str
    total: Any
    rows: int
    first_day: Any
    last_day: Any
    currencies: list[str]
    providers: int
    services: int
    accounts: int


def overview(store: Any, *, metric: str = "EffectiveCost") -> Overview:
    check_metric(metric)
    t = _focus(store)
    r = store.execute(t.aggregate(
        total=t[metric].sum(), rows=t.count(), first_day=t.ChargePeriodStart.min().date(),
        last_day=t.ChargePeriodEnd.max().date(),
        providers=DIMENSIONS["provider"](t).nunique(), services=t.ServiceName.nunique(),
        accounts=DIMENSIONS["account"](t).nunique())).to_pylist()[0]
    currencies = store.execute(t.select("BillingCurrency").distinct().order_by(
        "BillingCurrency")).column("BillingCurrency").to_pylist()
    return Overview(metric=metric, currencies=[c for c in currencies if c], **r)


def daily(store: Any, *, metric: str = "EffectiveCost", by: str | None = None,
          where: Callable[[ir.Table], ir.BooleanValue] | None = None) -> pa.Table:
    """``metric`` per day (and per ``by``), for charts and anomaly checks."""
    check_metric(metric)
    t = _focus(store)
    if where is not None:
        t = t.filter(where(t))
    keys = [DIMENSIONS["day"](t).name("day")]
    if by:
        keys.append(DIMENSIONS[check_dimension(by)](t).name(by))
    return store.execute(t.group_by(keys).aggregate(**{metric: t[metric].sum()}).order_by(
        [k.get_name() for k in keys]))
