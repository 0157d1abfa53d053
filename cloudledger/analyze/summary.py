"""Spend summaries over the ``focus`` table: by dimension, by month, tag coverage, movers.

Every function builds an Ibis expression on ``store.focus`` (DuckDB or Spark) and only the
small aggregated result is materialized. The metric is a parameter (BilledCost,
EffectiveCost, ListCost or ContractedCost). Amounts are per ``currency`` (every result row
carries it); totals and shares never add different currencies together.

    by_dimension(store, "service", metric="EffectiveCost", top=10)
    tag_coverage(store)            # share of EffectiveCost on rows with a team-like tag
    top_movers(store, n=10)        # services with the largest month-over-month change
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger.analyze.options import check_metric, check_top
from cloudledger.analyze.periods import compare, coverage, month_start, previous_month
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


def check_dimension(by: str) -> str:
    if by not in DIMENSIONS:
        near = difflib.get_close_matches(by, list(DIMENSIONS), n=1, cutoff=0.5)
        raise InputError(f"unknown dimension {by!r}", where="--by",
                         hint=(f"did you mean {near[0]}? " if near else "") +
                         "dimensions: " + ", ".join(DIMENSIONS))
    return by


def percent(part: Any, whole: Any) -> float:
    """``part`` as a percentage of ``whole`` (12.5 means 12.5 %), rounded to 2 decimals;
    0.0 when ``whole`` is zero or either is NULL. Every ``*_pct`` column uses it."""
    if not whole or part is None:
        return 0.0
    return float(round(Decimal(part) * 100 / Decimal(whole), 2))


def _focus(store: Any) -> ir.Table:
    return store.focus


def _currency(t: ir.Table) -> ir.Value:
    return t.BillingCurrency.fill_null("(none)").name("currency")


def by_dimension(store: Any, by: str = "provider", *, metric: str = "EffectiveCost",
                 top: int | None = None) -> pa.Table:
    """Total ``metric`` per currency and value of ``by`` with its share of the currency's
    total in percent (``share_pct``; amounts in different currencies are never added),
    largest first (``month`` and ``day`` in date order). With ``top``, each currency's
    rest is summed as "(other)".
    ``month`` rows also carry ``days`` (days the data covers) and ``partial`` (fewer than
    the billing period's: see :mod:`cloudledger.analyze.periods`)."""
    check_metric(metric)
    check_dimension(by)
    check_top(top)
    t = _focus(store)
    keys = [_currency(t)] + ([] if by == "currency" else [DIMENSIONS[by](t).name(by)])
    grouped = t.group_by(keys).aggregate(**{metric: t[metric].sum(), "rows": t.count()})
    dated = by in ("month", "day")
    ordered = grouped.order_by([by, "currency"] if dated else
                               ["currency", ibis.desc(metric), *keys[1:]])
    data = store.execute(ordered)
    every = data.to_pylist()
    totals: dict[str, Any] = {}
    for r in every:
        totals[r["currency"]] = totals.get(r["currency"], 0) + (r[metric] or 0)
    rows: list[dict[str, Any]] = every if dated else []
    for currency in ([] if dated else totals):
        part = [r for r in every if r["currency"] == currency]
        if top is not None and len(part) > top:
            rest = part[top:]
            part = part[:top] + [{by: "(other)", "currency": currency,
                                  metric: sum(r[metric] or 0 for r in rest),
                                  "rows": sum(r["rows"] for r in rest)}]
        rows += part
    for r in rows:
        r["share_pct"] = percent(r[metric], totals[r["currency"]])
    fields = [(by, data.schema.field(by).type)] if by != "currency" else []
    fields += [("currency", pa.string()), (metric, data.schema.field(metric).type),
               ("rows", pa.int64()), ("share_pct", pa.float64())]
    if by == "month":
        cov = coverage(store, t)
        for r in rows:
            c = cov.get((month_start(r["month"]), r["currency"]))
            r["days"] = c.days if c else None
            r["partial"] = c.partial if c else False
        fields += [("days", pa.decimal128(12, 4)), ("partial", pa.bool_())]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def by_two(store: Any, first: str, second: str, *, metric: str = "EffectiveCost") -> pa.Table:
    """``metric`` per (first, second, currency), e.g. per month and provider, for charts."""
    check_metric(metric)
    t = _focus(store)
    expr = t.group_by(DIMENSIONS[check_dimension(first)](t).name(first),
                      DIMENSIONS[check_dimension(second)](t).name(second),
                      _currency(t)).aggregate(
        **{metric: t[metric].sum()}).order_by([first, second, "currency"])
    return store.execute(expr)


def has_team_tag(t: ir.Table, keys: tuple[str, ...] = TEAM_TAG_KEYS) -> ir.BooleanValue:
    """True where the row's Tags JSON object has a key meaning team (any case or blanks)."""
    pattern = '"\\s*(' + "|".join(keys) + ')\\s*"\\s*:'
    return t.Tags.lower().re_search(pattern).fill_null(False)


def tag_coverage(store: Any, *, metric: str = "EffectiveCost",
                 keys: tuple[str, ...] = TEAM_TAG_KEYS, by: str | None = None) -> pa.Table:
    """Share of ``metric`` on rows carrying a team-like tag, per currency (and per ``by``):
    ``tagged``, ``total``, ``untagged`` and ``coverage_pct`` (percent)."""
    check_metric(metric)
    t = _focus(store)
    tagged = ibis.cases((has_team_tag(t, keys), t[metric]), else_=0)
    groups = ([DIMENSIONS[check_dimension(by)](t).name(by)] if by and by != "currency"
              else []) + [_currency(t)]
    agg = t.group_by(groups).aggregate(tagged=tagged.sum(), total=t[metric].sum())
    order = [g.get_name() for g in groups]
    data = store.execute(agg.order_by(order)).to_pylist()
    for r in data:
        r["untagged"] = r["total"] - r["tagged"]
        r["coverage_pct"] = percent(r["tagged"], r["total"])
    return pa.Table.from_pylist(data)


def top_movers(store: Any, *, metric: str = "EffectiveCost", by: str = "service",
               n: int = 10, month: Any = None) -> pa.Table:
    """Per currency, the ``n`` values of ``by`` with the largest absolute change from the
    previous calendar month to ``month`` (default: the latest billing month in the store).

    When either month's data covers only part of it (see :mod:`cloudledger.analyze.periods`), the
    change compares run rates: ``change = current - previous * covered(current) /
    covered(previous)`` and ``basis`` says ``run rate``; else ``basis`` is ``total``."""
    check_metric(metric)
    check_top(n, "--top")
    t = _focus(store)
    check_dimension(by)
    m = t.BillingPeriodStart.date()
    if month is None:
        latest = store.execute(m.max())
        month = latest.as_py() if hasattr(latest, "as_py") else latest
    if month is None:
        return pa.table({by: [], "currency": [], "previous": [], "current": [], "change": [],
                         "change_pct": [], "month": [], "basis": []})
    current = month_start(month).date()
    previous = previous_month(current).date()
    both = t.filter((m == current) | (m == previous))
    bm = both.BillingPeriodStart.date()
    agg = both.group_by(DIMENSIONS[by](both).name(by), _currency(both)).aggregate(
        previous=ibis.cases((bm == previous, both[metric]), else_=0).sum(),
        current=ibis.cases((bm == current, both[metric]), else_=0).sum())
    data = store.execute(agg).to_pylist()
    cov = coverage(store, both)
    out: list[dict[str, Any]] = []
    for currency in sorted({r["currency"] for r in data}):
        now = cov.get((month_start(current), currency))
        then = cov.get((month_start(previous), currency))
        rows = []
        for r in (r for r in data if r["currency"] == currency):
            before, basis = compare(r["previous"] or Decimal(0), now, then)
            r["change"] = (r["current"] or 0) - before
            r["change_pct"] = percent(r["change"], before) if before else None
            r["month"] = current
            r["basis"] = basis
            rows.append(r)
        rows.sort(key=lambda r: (-abs(r["change"]), str(r[by])))
        out += rows[:n]
    cols = [by, "currency", "previous", "current", "change", "change_pct", "month", "basis"]
    return pa.Table.from_pylist([{c: r[c] for c in cols} for r in out])


@dataclass
class Overview:
    metric: str
    #: currency -> total ``metric``, largest first (different currencies are never added)
    totals: dict[str, Any]
    rows: int
    first_day: Any
    last_day: Any
    providers: int
    services: int
    accounts: int

    @property
    def currencies(self) -> list[str]:
        return list(self.totals)

    def total_text(self, fmt: str = "{:,.2f}") -> str:
        """``1,234.00 USD + 56.00 CAD`` (largest first)."""
        return " + ".join(f"{fmt.format(v)} {c}" for c, v in self.totals.items()) or "0"


def overview(store: Any, *, metric: str = "EffectiveCost") -> Overview:
    check_metric(metric)
    t = _focus(store)
    r = store.execute(t.aggregate(
        rows=t.count(), first_day=t.ChargePeriodStart.min().date(),
        last_day=t.ChargePeriodEnd.max().date(),
        providers=DIMENSIONS["provider"](t).nunique(), services=t.ServiceName.nunique(),
        accounts=DIMENSIONS["account"](t).nunique())).to_pylist()[0]
    per = store.execute(t.group_by(_currency(t)).aggregate(total=t[metric].sum()))
    totals = sorted(((x["currency"], x["total"] or 0) for x in per.to_pylist()),
                    key=lambda x: (-abs(x[1]), x[0]))
    return Overview(metric=metric, totals=dict(totals), **r)


def daily(store: Any, *, metric: str = "EffectiveCost", by: str | None = None,
          where: Callable[[ir.Table], ir.BooleanValue] | None = None) -> pa.Table:
    """``metric`` per day and currency (and per ``by``), for charts and anomaly checks."""
    check_metric(metric)
    t = _focus(store)
    if where is not None:
        t = t.filter(where(t))
    keys = [DIMENSIONS["day"](t).name("day")]
    if by and by != "currency":
        keys.append(DIMENSIONS[check_dimension(by)](t).name(by))
    keys.append(_currency(t))
    return store.execute(t.group_by(keys).aggregate(**{metric: t[metric].sum()}).order_by(
        [k.get_name() for k in keys]))


@dataclass
class ReportData:
    """Everything the spend report draws (``render.html.spend_report``), as plain rows."""
    metric: str
    top: int
    overview: Overview
    months: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    per_month: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    services: list[dict[str, Any]]
    movers: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    coverage_by_provider: list[dict[str, Any]]


def report_data(store: Any, *, metric: str = "EffectiveCost", top: int = 15) -> ReportData:
    """The spend report's queries, run on the store's engine."""
    return ReportData(
        metric=metric, top=top, overview=overview(store, metric=metric),
        months=by_dimension(store, "month", metric=metric).to_pylist(),
        providers=by_dimension(store, "provider", metric=metric).to_pylist(),
        per_month=by_two(store, "month", "provider", metric=metric).to_pylist(),
        daily=daily(store, metric=metric, by="provider",
                    where=lambda t: t.ChargeCategory == "Usage").to_pylist(),
        services=by_dimension(store, "service", metric=metric, top=top).to_pylist(),
        movers=top_movers(store, metric=metric, n=10).to_pylist(),
        coverage=tag_coverage(store, metric=metric).to_pylist(),
        coverage_by_provider=tag_coverage(store, metric=metric, by="provider").to_pylist())
