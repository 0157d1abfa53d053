"""Budgets (``budgets:`` in cloudledger.yaml): spend to date, burn rate and the forecast at the
end of the current period against each budget, the thresholds crossed, and the alerts.

    from cloudledger.operate.budgets import evaluate_budgets, to_alerts

    statuses = evaluate_budgets(store, settings, as_of=date(2026, 11, 15))
    statuses[0].status            # "ok" | "warning" | "over" | "n/a"
    statuses[0].row()             # what `cloudledger budgets --format json` prints
    alerts = to_alerts(statuses)  # one Alert per crossed threshold, key
                                  # budget:<name>:<period>:<percent>:<actual|forecast>

The period is the budget's month, quarter or year that contains the as-of date (the first day
without data; default: the day after the last day with a Usage row). Cost is the budget's
metric over the rows its scope matches, spread over each row's charge period like the
forecasts (:mod:`cloudledger.operate.forecast`), from one grouped query per table (scopes
naming an owner dimension read ``allocated``, the others ``focus``).

- ``actual_to_date``: the period's cost before the as-of; ``used_pct`` = actual / amount.
- ``burn_per_day`` = actual / elapsed days; ``allowance_per_day`` = amount / days in the
  period; ``burn_pct`` = burn / allowance (100: on track to spend exactly the amount).
- ``forecast``: actual + the forecast of the rest of the period (with the commitments that
  end in it), and its 80% interval. A year's interval is the sum of its months' intervals
  (conservative) unless the forecast's 12 months are exactly the rest of that year.
- Thresholds ``{percent, on: actual|forecast}`` are crossed when the actual (or the forecast)
  reaches percent % of the amount.
- ``status``: ``over`` when the actual exceeds the amount; ``warning`` when a threshold is
  crossed or the forecast exceeds the amount; else ``ok``; ``n/a`` when nothing can be
  compared (the scope matches no cost, or only cost in another currency).

A budget in a currency other than the billing currency of its cost is never converted: only
cost in the budget's currency counts, and a note says what was left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from cloudledger.config import Budget, Settings
from cloudledger.engine import ident
from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert, Severity
from cloudledger.operate.budget_forecast import forecast_period_end, scope_sql
from cloudledger.operate.forecast import money
from cloudledger.operate.spread import (
    CURRENCY,
    DAY,
    data_end,
    engine_check,
    spread_sql,
)

__all__ = ["BudgetStatus", "evaluate_budgets", "period_of", "to_alerts"]

@dataclass
class BudgetStatus:
    name: str
    period: str                  # 2026-11, 2026-Q4, 2026
    kind: str                    # month | quarter | year
    start: date
    end: date                    # last day of the period
    amount: Decimal
    currency: str
    metric: str
    scope: dict[str, list[str]]
    as_of: date
    days_elapsed: int
    days_in_period: int
    actual_to_date: Decimal | None = None
    forecast: Decimal | None = None
    forecast_lo80: Decimal | None = None
    forecast_hi80: Decimal | None = None
    crossed: list[tuple[float, str]] = field(default_factory=list)
    status: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def used_pct(self) -> float | None:
        return _pct(self.actual_to_date, self.amount)

    @property
    def forecast_pct(self) -> float | None:
        return _pct(self.forecast, self.amount)

    @property
    def burn_per_day(self) -> Decimal | None:
        if self.actual_to_date is None or self.days_elapsed <= 0:
            return None
        return money(float(self.actual_to_date) / self.days_elapsed)

    @property
    def allowance_per_day(self) -> Decimal:
        return money(float(self.amount) / self.days_in_period) or Decimal("0.00")

    @property
    def burn_pct(self) -> float | None:
        burn = self.burn_per_day
        if burn is None or self.amount == 0:
            return None
        return round(float(burn) * self.days_in_period / float(self.amount) * 100, 2)

    def crossed_on(self, on: str) -> list[float]:
        return [p for p, o in self.crossed if o == on]

    def row(self) -> dict[str, Any]:
        """The budget as one output row (money as Decimal, percentages in percent)."""
        return {
            "budget": self.name, "period": self.period, "start": self.start, "end": self.end,
            "scope": scope_text(self.scope), "metric": self.metric,
            "currency": self.currency, "amount": self.amount,
            "actual_to_date": self.actual_to_date, "used_pct": self.used_pct,
            "days_elapsed": self.days_elapsed, "days_in_period": self.days_in_period,
            "burn_per_day": self.burn_per_day, "allowance_per_day": self.allowance_per_day,
            "burn_pct": self.burn_pct, "forecast": self.forecast,
            "forecast_lo80": self.forecast_lo80, "forecast_hi80": self.forecast_hi80,
            "forecast_pct": self.forecast_pct,
            "crossed_actual": [_num(p) for p in self.crossed_on("actual")],
            "crossed_forecast": [_num(p) for p in self.crossed_on("forecast")],
            "status": self.status, "notes": list(self.notes)}


def _num(p: float) -> float | int:
    return int(p) if float(p).is_integer() else p


def _pct(value: Decimal | None, amount: Decimal) -> float | None:
    if value is None or amount == 0:
        return None
    return round(float(value / amount * 100), 2)


def scope_text(scope: dict[str, list[str]]) -> str:
    return ", ".join(f"{k}={'|'.join(v)}" for k, v in scope.items()) or "all"


def period_of(kind: str, day: date) -> tuple[str, date, date]:
    """(label, first day, last day) of the month, quarter or year that contains ``day``."""
    if kind == "month":
        start = day.replace(day=1)
        label = f"{day.year}-{day.month:02d}"
        nxt = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    elif kind == "quarter":
        q = (day.month - 1) // 3
        start = date(day.year, 3 * q + 1, 1)
        label = f"{day.year}-Q{q + 1}"
        nxt = date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    elif kind == "year":
        start, label, nxt = date(day.year, 1, 1), str(day.year), date(day.year + 1, 1, 1)
    else:
        raise InputError(f"unknown budget period {kind!r}", hint="month, quarter or year")
    return label, start, nxt - timedelta(days=1)


def _scope(settings: Settings, i: int, budget: Budget, store: Any
           ) -> tuple[str, dict[str, list[str]]]:
    """The table a budget reads and its checked scope; an unknown dimension is an
    InputError naming the config line and a close match."""
    from cloudledger.operate.series import resolve_dimensions

    table = "focus"
    scope: dict[str, list[str]] = {}
    for dim, value in budget.scope.items():
        where = settings.where("budgets", i, "scope", dim)
        t, _ = resolve_dimensions(store, settings, [dim], where=where)
        if t == "allocated":
            table = "allocated"
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            raise InputError(f"budget {budget.name!r}: scope {dim} lists no value",
                             where=where, hint=f"e.g. {dim}: [a, b]")
        scope[dim] = [str(v) for v in values]
    return table, scope


def evaluate_budgets(store: Any, settings: Settings, *, as_of: date | None = None,
                     names: Sequence[str] | None = None) -> list[BudgetStatus]:
    """Every budget of ``settings`` (or those in ``names``) in its current period; see the
    module docstring."""
    budgets = list(enumerate(settings.budgets))
    seen: set[str] = set()
    for i, b in budgets:
        if b.name in seen:
            raise InputError(f"two budgets are named {b.name!r}",
                             where=settings.where("budgets", i, "name"),
                             hint="budget names key their alerts: make them unique")
        seen.add(b.name)
    if names:
        known = {b.name for _, b in budgets}
        for n in names:
            if n not in known:
                from cloudledger.analyze.options import suggest

                raise InputError(f"no budget named {n!r}", where="--budget",
                                 hint=suggest(n, sorted(known)) or
                                 "budgets: " + (", ".join(sorted(known)) or "none configured"))
        budgets = [(i, b) for i, b in budgets if b.name in names]
    if not budgets:
        return []
    engine_check(store)
    scopes = {i: _scope(settings, i, b, store) for i, b in budgets}
    as_of = as_of or data_end(store, "focus")
    if as_of is None:
        raise InputError("the focus table holds no cost rows",
                         hint="run `cloudledger ingest FILE` (or `cloudledger demo`) first")
    last_day = as_of - timedelta(days=1)
    statuses: dict[int, BudgetStatus] = {}
    for i, b in budgets:
        label, start, end = period_of(b.period, as_of)
        statuses[i] = BudgetStatus(
            name=b.name, period=label, kind=b.period, start=start, end=end, amount=b.amount,
            currency=b.currency, metric=b.metric, scope=scopes[i][1], as_of=as_of,
            days_elapsed=(as_of - start).days, days_in_period=(end - start).days + 1)
    history = _history(store, budgets, scopes, as_of)
    series: dict[int, pd.DataFrame] = {}
    for i, _b in budgets:
        s = _budget_series(statuses[i], history.get(scopes[i][0]), f"b{i}")
        if s is not None:
            series[i] = s
    forecast_period_end(store, budgets, scopes, statuses, series, as_of, last_day)
    for i, _ in budgets:
        _judge(statuses[i], settings.budgets[i])
    return [statuses[i] for i, _ in budgets]


def _history(store: Any, budgets: list[tuple[int, Budget]],
             scopes: dict[int, tuple[str, dict[str, list[str]]]], as_of: date
             ) -> dict[str, pd.DataFrame]:
    """Per table, one grouped query: day, currency, one cost column per budget (NULL on
    days its scope has no row)."""
    out: dict[str, pd.DataFrame] = {}
    for table in sorted({t for t, _ in scopes.values()}):
        values = {f"b{i}": f"CASE WHEN {scope_sql(scopes[i][1])} THEN "
                           f"coalesce({ident(b.metric)}, 0) END"
                  for i, b in budgets if scopes[i][0] == table}
        df = store.engine.query(spread_sql(table, {CURRENCY: ident("BillingCurrency")},
                                           values, as_of=as_of)).to_pandas()
        df[DAY] = pd.to_datetime(df[DAY])
        out[table] = df
    return out


def _budget_series(st: BudgetStatus, df: pd.DataFrame | None, col: str
                   ) -> pd.DataFrame | None:
    """The budget's daily cost in its currency (unique_id, ds, y), or None with a note."""
    if df is None or df.empty or df[col].isna().all():
        st.notes.append(f"scope matches no cost before {st.as_of} ({scope_text(st.scope)})")
        st.status = "n/a"
        return None
    rows = df[df[col].notna()]
    other = rows[rows[CURRENCY] != st.currency]
    if not other.empty:
        in_period = other[(other[DAY] >= pd.Timestamp(st.start))]
        sums = in_period.groupby(CURRENCY)[col].sum()
        left = "; ".join(f"{money(v):,} {c}" for c, v in sums.items())
        st.notes.append(f"cost in {', '.join(sorted(other[CURRENCY].unique()))} is not in "
                        f"this {st.currency} budget (never converted)"
                        + (f"; this period: {left}" if left else ""))
    mine = rows[rows[CURRENCY] == st.currency]
    if mine.empty:
        st.status = "n/a"
        st.notes.append(f"no cost in {st.currency}: the budget's currency differs from the "
                        "billing currency; nothing compared")
        return None
    s = mine.groupby(DAY, as_index=False)[col].sum().rename(columns={DAY: "ds", col: "y"})
    actual = float(s.loc[s["ds"] >= pd.Timestamp(st.start), "y"].sum())
    st.actual_to_date = money(actual)
    return s.assign(unique_id=st.name)[["unique_id", "ds", "y"]]


def _judge(st: BudgetStatus, budget: Budget) -> None:
    if st.status == "n/a" or st.actual_to_date is None:
        st.status = "n/a"
        return
    for t in sorted(budget.thresholds, key=lambda t: (t.on, t.percent)):
        value = st.actual_to_date if t.on == "actual" else st.forecast
        if value is not None and value >= st.amount * Decimal(repr(t.percent)) / 100:
            st.crossed.append((t.percent, t.on))
    if st.actual_to_date > st.amount:
        st.status = "over"
    elif st.crossed or (st.forecast is not None and st.forecast > st.amount):
        st.status = "warning"
    else:
        st.status = "ok"


def to_alerts(statuses: Sequence[BudgetStatus]) -> list[Alert]:
    """One :class:`Alert` per crossed threshold (key
    ``budget:<name>:<period>:<percent>:<actual|forecast>``: each is sent once per period)."""
    out: list[Alert] = []
    for st in statuses:
        for percent, on in st.crossed:
            pct = st.used_pct if on == "actual" else st.forecast_pct
            value = st.actual_to_date if on == "actual" else st.forecast
            what = "spent" if on == "actual" else "forecast to spend"
            severity: Severity = ("critical" if st.status == "over" or percent >= 100
                                  else "warning")
            fields: dict[str, Any] = {
                "Budget": st.name, "Period": st.period, "Scope": scope_text(st.scope),
                "Amount": st.amount, "Actual to date": st.actual_to_date,
                "Forecast at period end": st.forecast,
                "Forecast 80% interval": (f"{st.forecast_lo80:,.2f} .. {st.forecast_hi80:,.2f}"
                                          if st.forecast_lo80 is not None
                                          and st.forecast_hi80 is not None else None),
                "Burn rate per day": st.burn_per_day,
                "Allowance per day": st.allowance_per_day,
                "Currency": st.currency, "Threshold": f"{_num(percent)}% on {on}"}
            out.append(Alert(
                key=f"budget:{st.name}:{st.period}:{_num(percent)}:{on}", kind="budget",
                severity=severity,
                title=f"{st.name} {what} {pct if pct is not None else '?'}% of its "
                      f"{st.period} budget",
                summary=f"{st.metric} {what} {value:,.2f} {st.currency} of "
                        f"{st.amount:,.2f} {st.currency} (threshold {_num(percent)}% on "
                        f"{on}).", fields=fields))
    return out

