"""Root cause of a cost anomaly: which dimension values explain the change.

For an anomaly of a series (its scope: dimension values and currency) on the anomalous days
``A``, with the detector's expected cost ``E`` over those days:

* baseline days ``B``: for every day of ``A``, the same weekday of the 4 weeks before
  (days the detector flagged in the same series are left out; with none, the 7 days before
  the episode);
* per dimension (account ``SubAccountId``, service ``ServiceName``, region ``RegionId``,
  resource ``ResourceId``, ``SkuId``, ``x_UsageType`` where the table has it,
  ``ChargeCategory``, and the owner dimensions of the ``allocated`` table), one grouped query
  over the scope and the two windows gives per value ``actual_v`` (cost on ``A``) and
  ``base_v`` (cost on ``B``);
* the expected cost of a value is the detector's expected cost distributed by the value's
  baseline share: ``expected_v = E x base_v / base`` (``base``: the scope's cost on ``B``).
  When that is not meaningful (``base`` is 0, of the other sign than ``E``, or the ratio is
  more than 5x off the plain weekly mean), ``expected_v`` is the plain mean:
  ``base_v x |A| / |B|``;
* ``impact_v = actual_v - expected_v``; with the share rule the impacts of one dimension's
  values add up to the anomaly's impact; ``share_pct = 100 x impact_v / impact``.

Ranking across dimensions: by impact in the anomaly's direction (values that moved the other
way are not causes); a value within 10 points (of the anomaly's impact) of the largest
remaining contribution goes first when its dimension comes earlier in :data:`DIMENSIONS`
(service, account, resource, SKU, usage type, region, then owner dimensions, then charge
category). A value that was >= 90% of the scope's baseline (``ChargeCategory = Usage``, the
only region) is the scope rather than a cause: such values come after all others. The top
``top`` (default 5) are returned.

Everything is summed in the engine; per anomaly one query (the per-dimension aggregates,
each already cut to its best ``2 x top`` values, in one UNION ALL) reaches Python. Charges
covering several days count with the share of their days inside each window, as in the
series (``cloudledger.operate.series``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cloudledger.engine import ident, literal
from cloudledger.operate.series import (
    DAY_SQL,
    LAST_SQL,
    MULTI_SQL,
    NDAYS_SQL,
    day_literal,
    scope_sql,
    ts_literal,
)

__all__ = ["DIMENSIONS", "Contributor", "baseline_days", "contributors", "dimensions_for"]

#: root-cause dimensions from FOCUS, in their tie-break order (owner dimensions follow
#: ``x_UsageType`` and ``RegionId``; ``ChargeCategory`` is last)
DIMENSIONS = ("ServiceName", "SubAccountId", "ResourceId", "SkuId", "x_UsageType", "RegionId")
LAST = ("ChargeCategory",)
TIE_POINTS = 0.10   # values within 10% of the impact of the leader count as a tie
BROAD_SHARE = 0.90  # a value holding >= 90% of the scope's baseline is the scope itself
WEEKS = 4
Q = Decimal("0.000001")


@dataclass(frozen=True)
class Contributor:
    dimension: str
    value: str | None
    expected: Decimal
    actual: Decimal
    impact: Decimal
    share_pct: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "value": self.value, "expected": self.expected,
                "actual": self.actual, "impact": self.impact, "share_pct": self.share_pct}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Contributor:
        return cls(d["dimension"], d["value"], Decimal(str(d["expected"])),
                   Decimal(str(d["actual"])), Decimal(str(d["impact"])), d.get("share_pct"))


def dimensions_for(columns: Sequence[str], owners: Sequence[str],
                   scope: Sequence[str]) -> list[str]:
    """The root-cause dimensions a table with ``columns`` offers, in tie-break order, minus
    the ones the anomaly's scope fixes."""
    order = [*DIMENSIONS, *owners, *LAST]
    return [d for d in order if d in columns and d not in scope]


def baseline_days(days: Sequence[date], first_day: date, flagged: set[date]) -> list[date]:
    """Same weekday of the ``WEEKS`` weeks before each anomalous day (not flagged, not before
    the series' first day); with none, the 7 days before the first anomalous day."""
    out: set[date] = set()
    for d in days:
        for k in range(1, WEEKS + 1):
            b = d - timedelta(days=7 * k)
            if b >= first_day and b not in flagged and b not in days:
                out.add(b)
    if not out:
        start = min(days)
        out = {start - timedelta(days=k) for k in range(1, 8)
               if start - timedelta(days=k) >= first_day}
    return sorted(out)


def _on(days: Sequence[date]) -> tuple[str, str]:
    """SQL: a one-day row falls on one of ``days``; the number of ``days`` a multi-day row
    covers."""
    if not days:
        return "FALSE", "0"
    one = " OR ".join(f"{DAY_SQL} = {day_literal(d)}" for d in days)
    covered = " + ".join(f"CASE WHEN {DAY_SQL} <= {day_literal(d)} AND {LAST_SQL} >= "
                         f"{day_literal(d)} THEN 1 ELSE 0 END" for d in days)
    return f"({one})", f"({covered})"


def contributors(store: Any, sources: Sequence[tuple[str, Sequence[str]]], *,
                 scope: dict[str, str | None], currency: str, metric: str,
                 days: Sequence[date], base: Sequence[date], expected: Decimal,
                 base_total: Decimal, impact: Decimal, top: int = 5) -> list[Contributor]:
    """The top ``top`` contributors (see the module docstring). ``sources``: (table,
    dimensions) pairs, e.g. ``[("focus", [...FOCUS dims]), ("allocated", [owners])]``;
    ``base_total`` is the scope's cost on the baseline days ``base``."""
    if not days or top < 1:
        return []
    direction = 1 if impact >= 0 else -1
    plain = Decimal(len(days)) / Decimal(max(len(base), 1))
    k = plain
    if base and base_total != 0:
        ratio = expected / base_total
        if ratio > 0 and plain / 5 <= ratio <= plain * 5:
            k = ratio
    lo, hi = min([*days, *base]), max(days)
    on_a, cover_a = _on(days)
    on_b, cover_b = _on(base)
    cost, multi = ident(metric), f"COALESCE({MULTI_SQL}, FALSE)"
    ctes: list[str] = []
    selects: list[str] = []
    for table, dims in sources:
        if not dims:
            continue
        where = " AND ".join([
            f"{ident('BillingCurrency')} = {literal(currency)}",
            f"{ident('ChargePeriodStart')} < {ts_literal(hi + timedelta(days=1))}",
            f"COALESCE({ident('ChargePeriodEnd')}, {ident('ChargePeriodStart')}) > "
            f"{ts_literal(lo)}", *scope_sql(scope)])
        cols = ", ".join(f"CAST({ident(d)} AS VARCHAR) AS {ident('v_' + d)}" for d in dims)
        name = f"rc_{len(ctes)}"
        ctes.append(
            f"{ident(name)} AS (SELECT {cols}, "
            f"CASE WHEN NOT {multi} AND {on_a} THEN {cost} END AS a1, "
            f"CASE WHEN NOT {multi} AND {on_b} THEN {cost} END AS b1, "
            f"CASE WHEN {multi} THEN CAST({cost} AS DOUBLE) * {cover_a} / {NDAYS_SQL} END "
            f"AS a2, CASE WHEN {multi} THEN CAST({cost} AS DOUBLE) * {cover_b} / {NDAYS_SQL}"
            f" END AS b2 FROM {ident(table)} WHERE {where})")
        for dim in dims:
            col = ident("v_" + dim)
            score = (f"{direction} * ((COALESCE(CAST(SUM(a1) AS DOUBLE), 0) + "
                     f"COALESCE(SUM(a2), 0)) - {float(k)!r} * (COALESCE(CAST(SUM(b1) AS "
                     f"DOUBLE), 0) + COALESCE(SUM(b2), 0)))")
            selects.append(
                f"SELECT * FROM (SELECT {literal(dim)} AS dimension, {col} AS value, "
                f"SUM(a1) AS sum_a1, SUM(a2) AS sum_a2, SUM(b1) AS sum_b1, SUM(b2) AS sum_b2 FROM "
                f"{ident(name)} GROUP BY {col} ORDER BY {score} DESC LIMIT {2 * top}) AS "
                f"{ident(name + '_' + dim)}")
    if not selects:
        return []
    result = store.engine.fetch(f"WITH {', '.join(ctes)} " + " UNION ALL ".join(selects))
    rank = {d: i for i, d in enumerate(
        [*DIMENSIONS, *[d for _, ds in sources for d in ds if d not in DIMENSIONS + LAST],
         *LAST])}
    found: list[tuple[Contributor, float, bool, int]] = []
    for r in result:
        actual = _money(r["sum_a1"]) + _money(r["sum_a2"])
        base_v = _money(r["sum_b1"]) + _money(r["sum_b2"])
        exp_v = (k * base_v).quantize(Q)
        imp = actual - exp_v
        share = round(float(imp / impact * 100), 2) if impact != 0 else None
        broad = base_total > 0 and base_v >= base_total * Decimal(BROAD_SHARE)
        found.append((Contributor(r["dimension"], r["value"], exp_v, actual, imp, share),
                      float(imp) * direction, broad, rank.get(r["dimension"], len(rank))))
    return _rank(found, float(abs(impact)), top)


def _money(v: Any) -> Decimal:
    if v is None:
        return Decimal(0)
    if isinstance(v, Decimal):
        return v
    return Decimal(repr(float(v))).quantize(Q)


def _rank(found: list[tuple[Contributor, float, bool, int]], total: float,
          top: int) -> list[Contributor]:
    """Specific values first, broad ones (the scope itself) after them; within each, the
    largest contribution first, a more specific dimension first within ``TIE_POINTS``."""
    out: list[Contributor] = []
    tol = TIE_POINTS * total
    for broad in (False, True):
        pool = sorted((f for f in found if f[2] == broad), key=lambda f: -f[1])
        while pool and len(out) < top:
            lead = pool[0][1]
            if lead <= 0:
                break
            best = min((f for f in pool if f[1] >= lead - tol), key=lambda f: (f[3], -f[1]))
            out.append(best[0])
            pool.remove(best)
    return out
