"""Unit economics: cost per unit of a business metric, its trend, and cost-to-usage elasticity.

    uc = unit_costs(store, settings, metric="requests", per=1000, by="product", grain="month")
    uc.rows      # period, product, currency, cost, usage, unit_cost (= cost / (usage / per))
    uc.summary   # product, currency, periods, cost, usage, unit_cost, first/last unit cost,
                 # change_pct, trend_pct (log-linear, per period), elasticity, r2

Cost comes from the ``allocated`` table by charge date (``ChargePeriodStart``), summed in
the engine per period (day or month), currency and owner; usage from the ``metrics`` table
summed per period and owner (so a daily metric like requests adds up over a month; store a
metric like monthly active users once per month). ``--by product`` matches the metrics'
``product`` column to the ``product`` dimension; any other owner dimension (e.g. ``team``)
is matched to the metrics' ``owner`` column. Without ``--by``, usage is the metric's
company-wide rows (no owner, no product) if it has any, else the sum of all its rows.

Elasticity is the slope of ln(cost) on ln(usage) over the periods (least squares on the
small aggregated series): 1 means cost grows in step with usage, below 1 economies of
scale, above 1 cost outgrowing usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from cloudledger.analyze.options import allocated_table, check_dimensions, check_metric, suggest
from cloudledger.config import Settings
from cloudledger.errors import InputError
from cloudledger.ingest.metrics import TABLE
from cloudledger.store import Store

GRAINS = {"day": "D", "month": "M"}


@dataclass
class UnitCosts:
    metric: str
    per: float
    by: str | None
    grain: str
    cost_metric: str
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)

    @property
    def unit_label(self) -> str:
        per = self.per
        text = (f"{per / 1e6:g}M" if per >= 1e6 and per % 1e6 == 0 else
                f"{per / 1e3:g}k" if per >= 1e3 and per % 1e3 == 0 else f"{per:g}")
        return f"{text} {self.metric}"

    @property
    def key(self) -> str:
        return self.by or "scope"


def fit(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    """Least-squares slope of y on x and its r² (None without 3 points or spread in x)."""
    if len(x) < 3:
        return None, None
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if float(np.ptp(xs)) == 0.0:
        return None, None
    slope, intercept = np.polyfit(xs, ys, 1)
    residual = ys - (slope * xs + intercept)
    total = float(((ys - ys.mean()) ** 2).sum())
    r2 = 1.0 - float((residual ** 2).sum()) / total if total > 0 else 1.0
    return float(slope), r2


def elasticity(cost: list[float], usage: list[float]) -> tuple[float | None, float | None]:
    """d ln cost / d ln usage: the log-log regression slope (and r²) over positive points."""
    points = [(u, c) for c, u in zip(cost, usage, strict=True) if c > 0 and u > 0]
    return fit([float(np.log(u)) for u, _ in points], [float(np.log(c)) for _, c in points])


def _pick_metric(store: Store, settings: Settings, metric: str | None) -> str:
    if TABLE not in store.tables():
        raise InputError("the store has no business metrics",
                         hint="load some with `cloudledger metrics load FILE`")
    t = store.table(TABLE)
    names = sorted(store.execute(t.metric.name("m").as_table().distinct()).column("m")
                   .to_pylist())
    if metric is None:
        configured = [m.name for m in settings.metrics if m.name in names]
        if len(names) == 1:
            return names[0]
        if configured:
            return configured[0]
        raise InputError("which metric?", where="--metric",
                         hint=f"stored metrics: {', '.join(names) or 'none'}")
    if metric not in names:
        raise InputError(f"no metric {metric!r} in the store", where="--metric",
                         hint=suggest(metric, names)
                         or f"stored metrics: {', '.join(names) or 'none'}")
    return metric


def _usage(store: Store, metric: str, by: str | None, unit: str) -> ir.Table:
    m = store.table(TABLE)
    m = m.filter(m.metric == metric)
    if by is None:
        overall = m.owner.isnull() & m.product.isnull()
        if int(store.execute(m.filter(overall).count()).as_py()):
            m = m.filter(overall)
        keys: dict[str, ir.Value] = {"scope": ibis.literal("total")}
    else:
        column = "product" if by == "product" else "owner"
        m = m.filter(m[column].notnull())
        if not int(store.execute(m.count()).as_py()):
            raise InputError(f"metric {metric!r} has no rows with a {column}",
                             where="--by", hint=f"load a metrics file with a {column} "
                             "column, or leave out --by for the total")
        keys = {by: m[column]}
    return m.group_by(period=m.date.truncate(unit), **keys).aggregate(usage=m.value.sum())


def unit_costs(store: Store, settings: Settings, *, metric: str | None = None,
               per: float = 1.0, by: str | None = None, grain: str = "month",
               cost_metric: str = "EffectiveCost") -> UnitCosts:
    """Cost per ``per`` units of ``metric`` by period (and owner), with trend and elasticity."""
    if grain not in GRAINS:
        raise InputError(f"unknown grain {grain!r}", where="--grain", hint="day or month")
    if not per > 0:
        raise InputError(f"--per must be positive, not {per}", where="--per")
    check_metric(cost_metric)
    t = allocated_table(store)
    if by is not None:
        check_dimensions(t, settings, [by])
    name = _pick_metric(store, settings, metric)
    unit = GRAINS[grain]
    key = by or "scope"
    keys = {key: t[by]} if by else {"scope": ibis.literal("total")}
    cost = t.group_by(period=t.ChargePeriodStart.truncate(unit).cast("date"),
                      currency=t.BillingCurrency, **keys).aggregate(cost=t[cost_metric].sum())
    usage = _usage(store, name, by, unit)
    joined = cost.left_join(usage, ["period", key]).select(
        "period", key, "currency", "cost", "usage")
    raw = store.execute(joined).to_pylist()

    per_d = Decimal(repr(per))
    rows: list[dict[str, Any]] = []
    for r in sorted(raw, key=lambda r: (str(r[key]), r["currency"], r["period"])):
        u = r["usage"]
        unit_cost = _ratio(r["cost"] * per_d, u) if u and r["cost"] is not None else None
        rows.append({"period": r["period"].strftime("%Y-%m-%d" if grain == "day" else "%Y-%m"),
                     **({by: r[key]} if by else {}), "currency": r["currency"],
                     "cost": r["cost"], "usage": u, "unit_cost": unit_cost})
    summary, warnings = _summarize(rows, by, per_d, name)
    return UnitCosts(metric=name, per=per, by=by, grain=grain, cost_metric=cost_metric,
                     rows=rows, summary=summary, warnings=warnings)


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places) + 0.0   # no "-0.0"


def _ratio(cost: Decimal, usage: float) -> float:
    """cost / usage as a float with 12 significant digits (a price, not a conserved sum)."""
    return float(f"{float(cost / Decimal(repr(usage))):.12g}")


def _ordinal(period: str) -> float:
    """Months since year 0 for YYYY-MM, days for YYYY-MM-DD (the trend's time axis)."""
    if len(period) == 7:
        return int(period[:4]) * 12 + int(period[5:7]) - 1
    return date.fromisoformat(period).toordinal()


def _summarize(rows: list[dict[str, Any]], by: str | None, per: Decimal, metric: str
               ) -> tuple[list[dict[str, Any]], list[str]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((str(r[by]) if by else "total", r["currency"]), []).append(r)
    summary: list[dict[str, Any]] = []
    unmatched: list[str] = []
    for (owner, currency), series in sorted(groups.items()):
        matched = [r for r in series if r["unit_cost"] is not None]
        if not matched:
            total = sum((r["cost"] or Decimal(0) for r in series), Decimal(0))
            unmatched.append(f"{owner} ({total:,.2f} {currency})")
            continue
        cost = sum((r["cost"] for r in matched), Decimal(0))
        usage = sum(float(r["usage"]) for r in matched)
        first, last = matched[0]["unit_cost"], matched[-1]["unit_cost"]
        slope = (fit([_ordinal(r["period"]) for r in matched],
                     [float(np.log(r["unit_cost"])) for r in matched])[0]
                 if all(r["unit_cost"] > 0 for r in matched) else None)
        e, r2 = elasticity([float(r["cost"]) for r in matched],
                           [float(r["usage"]) for r in matched])
        summary.append({
            **({by: owner} if by else {"scope": "total"}), "currency": currency,
            "periods": len(matched), "cost": cost, "usage": usage,
            "unit_cost": _ratio(cost * per, usage) if usage else None,
            "first": first, "last": last,
            "change_pct": _round((last / first - 1) * 100, 2) if first else None,
            "trend_pct": _round((float(np.exp(slope)) - 1) * 100, 2) if slope is not None
            else None,
            "elasticity": _round(e, 4),
            "r2": _round(r2, 4),
        })
        gaps = len(series) - len(matched)
        if gaps:
            unmatched.append(f"{owner}: {gaps} period(s) with cost but no {metric}")
    warnings = ([f"cost without {metric} (left out of unit costs): " + "; ".join(unmatched)]
                if unmatched else [])
    return summary, warnings
