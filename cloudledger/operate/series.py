"""Daily cost series from the store: one grouped query, then a dense ``(series, days)`` grid.

The anomaly detector (``cloudledger anomalies``) and the forecasts read cost through here::

    from cloudledger.operate.series import daily_series, resolve_dimensions

    table, dims = resolve_dimensions(store, settings, ["team"])       # -> "allocated", [team]
    s = daily_series(store, dims, table=table, as_of=date(2026, 6, 1))
    s.dates           # datetime64[D] (n,): every day from the first to the last day with cost
    s.values          # float64 (S, n): cost per series and day; NaN before a series' first day
    s.keys[i]         # {"team": "payments"} (the series' dimension values; {} for the total)
    s.currencies[i]   # "USD": one series per dimension values x billing currency
    s.first[i]        # index of the series' first day with a row
    s.actual(i, [t, ...])   # exact Decimal sum of the series on those day indices
    s.label(i)        # "team=payments" ("total" for the total), currency not included

Definition (what the one query computes, in the engine): rows of ``table`` with
``ChargePeriodStart < as_of`` (and ``>= since``) grouped by the UTC day of
``ChargePeriodStart``, ``BillingCurrency`` and the dimension columns (cast to text; NULL is
its own value), summing ``metric`` (exact decimals). Only these aggregated rows reach Python
(no loop over billing rows); duplicated rows of a day are summed by the query.

On the grid, a day without rows inside a series' life (from its first day to the grid's last
day) is 0: no cost that day (a series that stops is a drop to 0, not missing data). Days
before its first day are NaN (the series did not exist yet). Charges that cover a month
(taxes, purchases, fees) count on the day their charge period starts.

Dimensions: FOCUS columns (and ``x_`` columns) are read from ``focus``; owner dimensions
(``settings.owners.dimensions``) from ``allocated``, which also carries every FOCUS column, so
a set mixing both reads ``allocated``. :func:`resolve_dimensions` checks the names (close
matches) and that ``allocated`` exists when it is needed.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from cloudledger import focus
from cloudledger.config import Settings
from cloudledger.engine import ident, literal
from cloudledger.errors import InputError

__all__ = ["DailySeries", "daily_series", "resolve_dimensions", "scope_sql"]

#: the store's money scale (decimal(38, 12)): spread shares are rounded to it
EXACT = Decimal("1e-12")
DAY, LAST, CURRENCY, COST = "__day", "__last", "__currency", "__cost"


#: SQL (DuckDB dialect; Spark transpiles it) of a row's day, its charge period's last day,
#: the days it covers, and whether it covers more than one day
DAY_SQL = f"CAST({ident('ChargePeriodStart')} AS DATE)"
LAST_SQL = f"CAST({ident('ChargePeriodEnd')} - INTERVAL 1 SECOND AS DATE)"
NDAYS_SQL = f"(DATE_DIFF('day', {DAY_SQL}, {LAST_SQL}) + 1)"
MULTI_SQL = (f"({ident('ChargePeriodEnd')} > {ident('ChargePeriodStart')} + INTERVAL 1 DAY)")


def day_literal(d: date) -> str:
    return f"DATE {literal(d.isoformat())}"


def ts_literal(d: date) -> str:
    return f"TIMESTAMP {literal(d.isoformat() + ' 00:00:00')}"


def scope_sql(scope: dict[str, str | None]) -> list[str]:
    """Row conditions for ``{dimension: value}`` (None: the value is NULL)."""
    out = []
    for name, value in scope.items():
        col = f"CAST({ident(name)} AS VARCHAR)"
        out.append(f"{col} IS NULL" if value is None else f"{col} = {literal(value)}")
    return out


def _close(name: str, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    if not found:
        lower = {c.lower(): c for c in choices}
        if name.lower() in lower:
            found = [lower[name.lower()]]
    return found[0] if found else None


def resolve_dimensions(store: Any, settings: Settings, dims: Sequence[str],
                       where: str = "--by") -> tuple[str, list[str]]:
    """The table a dimension set is read from (``focus`` or ``allocated``) and the checked
    names. A name that is neither a column of ``focus`` nor an owner dimension is an
    ``InputError`` with a close match; an owner dimension without an ``allocated`` table is
    an ``InputError`` saying to run ``cloudledger allocate``."""
    owners = list(settings.owners.dimensions)
    focus_cols = [c for c in store.table("focus").columns
                  if c not in focus.COST_METRICS and c != focus.INGEST_COLUMN]
    names = [d.strip() for d in dims if d.strip()]
    if len(set(names)) != len(names):
        raise InputError(f"a dimension is named twice in {','.join(names)}", where=where)
    table = "focus"
    for name in names:
        if name in owners:
            table = "allocated"
        elif name not in focus_cols:
            close = _close(name, owners + focus_cols)
            raise InputError(
                f"unknown dimension {name!r} (neither a FOCUS column nor an owner dimension)",
                where=where,
                hint=(f"did you mean {close!r}? " if close else "") + "owner dimensions: "
                + (", ".join(owners) or "none configured") + "; FOCUS columns such as "
                "ServiceName, SubAccountId, RegionId, ResourceId, ChargeCategory")
    if table == "allocated":
        if "allocated" not in store.tables():
            raise InputError(f"owner dimension(s) {', '.join(n for n in names if n in owners)}"
                             " need the allocated table, and the store has none", where=where,
                             hint="run `cloudledger allocate` first")
        cols = store.table("allocated").columns
        missing = [n for n in names if n not in cols]
        if missing:
            raise InputError(f"the allocated table has no column {missing[0]!r}", where=where,
                             hint="re-run `cloudledger allocate` with this config")
    return table, names


@dataclass
class DailySeries:
    """Daily cost series on one shared grid (see the module docstring)."""

    dims: list[str]
    table: str
    metric: str
    dates: NDArray[np.datetime64]
    values: NDArray[np.float64]
    keys: list[dict[str, str | None]]
    currencies: list[str]
    first: NDArray[np.int64]
    #: the aggregated one-day rows (day, currency, dims, cost); per (series, day) the row
    row_of: NDArray[np.int64] = field(repr=False)
    daily: pa.Table = field(repr=False)
    #: per series, the multi-day charges spread over the grid: (first index, last index
    #: (both may lie outside the grid), exact cost)
    spread: dict[int, list[tuple[int, int, Decimal]]] = field(default_factory=dict,
                                                                repr=False)

    def __len__(self) -> int:
        return len(self.keys)

    def day(self, t: int) -> date:
        return self.dates[t].astype("datetime64[D]").item()  # type: ignore[no-any-return]

    def index(self, d: date) -> int:
        return (d - self.day(0)).days

    def actual(self, s: int, points: Sequence[int] | NDArray[np.int64]) -> Decimal:
        """The exact cost of series ``s`` on the day indices ``points``: the one-day rows'
        sums plus each multi-day charge's share of the days it covers."""
        total = Decimal(0)
        cost = self.daily.column(COST)
        pts = [int(t) for t in points]
        for t in pts:
            r = int(self.row_of[s, t])
            if r >= 0:
                total += cost[r].as_py() or Decimal(0)
        for t0, t1, amount in self.spread.get(s, []):
            overlap = sum(1 for t in pts if t0 <= t <= t1)
            if overlap:
                total += (amount * overlap / (t1 - t0 + 1)).quantize(EXACT)
        return total

    def label(self, s: int) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.keys[s].items()) or "total"


def daily_series(store: Any, dims: Sequence[str] = (), *, table: str = "focus",
                 metric: str = "EffectiveCost", as_of: date | None = None,
                 since: date | None = None,
                 scope: dict[str, str | None] | None = None) -> DailySeries:
    """Cost per day of ``table`` for the total (``dims`` empty) or per value combination of
    ``dims``, per currency, from data before ``as_of`` (and from ``since``); ``scope``
    restricts the rows to dimension values (``{"team": "payments"}``; None matches NULL).
    Call :func:`resolve_dimensions` first to check the names. Empty when no row matches.

    Two grouped queries: one-day rows by day, and rows whose charge period covers more than
    a day (monthly fees, taxes, purchases) by their first and last day; those are spread
    evenly over the days they cover (as amortization does), so a month-start fee is not a
    spike on the 1st."""
    if metric not in focus.COST_METRICS:
        raise InputError(f"unknown cost metric {metric!r}", where="--metric",
                         hint="one of " + ", ".join(focus.COST_METRICS))
    where = scope_sql(scope or {})
    if as_of is not None:
        where.append(f"{ident('ChargePeriodStart')} < {ts_literal(as_of)}")
    if since is not None:
        where.append(f"{ident('ChargePeriodStart')} >= {ts_literal(since)}")
    keys = [f"{ident('BillingCurrency')} AS {ident(CURRENCY)}",
            *[f"CAST({ident(d)} AS VARCHAR) AS {ident(d)}" for d in dims]]
    groups = ", ".join(str(i) for i in range(1, len(keys) + 2))
    cost = f"SUM({ident(metric)}) AS {ident(COST)}"
    src = ident(table)
    multi = f"COALESCE({MULTI_SQL}, FALSE)"
    cond = " AND ".join(where) if where else "TRUE"
    daily = store.engine.query(
        f"SELECT {DAY_SQL} AS {ident(DAY)}, {', '.join(keys)}, {cost} FROM {src} "
        f"WHERE {cond} AND NOT {multi} GROUP BY {groups}")
    spread = store.engine.query(
        f"SELECT {DAY_SQL} AS {ident(DAY)}, {LAST_SQL} AS {ident(LAST)}, {', '.join(keys)}, "
        f"{cost} FROM {src} WHERE {cond} AND {multi} GROUP BY {groups}, {len(keys) + 2}")
    return _grid(daily, spread, list(dims), table, metric)


def _codes(tables: list[pa.Table], names: list[str]) -> tuple[list[NDArray[np.int64]],
                                                             list[tuple[Any, ...]]]:
    """Per table, the series number of each row, and the (currency, dims...) of each
    series: distinct combinations, vectorised (no loop over rows)."""
    sizes = [t.num_rows for t in tables]
    codes = np.zeros(sum(sizes), dtype=np.int64)
    parts: list[list[Any]] = []
    for name in names:
        col = pa.chunked_array([c for t in tables for c in t.column(name).chunks],
                               type=pa.string()).combine_chunks()
        enc = pc.dictionary_encode(col)
        card = len(enc.dictionary) + 1
        idx = enc.indices.fill_null(card - 1).to_numpy(zero_copy_only=False)
        codes = codes * card + idx.astype(np.int64)
        parts.append([*enc.dictionary.to_pylist(), None])
    uniq, inverse = np.unique(codes, return_inverse=True)
    combos: list[tuple[Any, ...]] = []
    cards = [len(p) for p in parts]
    for code in uniq.tolist():   # one per series, not per billing row
        digits = []
        for card in reversed(cards):
            code, d = divmod(code, card)
            digits.append(d)
        combos.append(tuple(parts[i][d] for i, d in enumerate(reversed(digits))))
    bounds = np.cumsum([0, *sizes])
    return [inverse[bounds[i]:bounds[i + 1]] for i in range(len(tables))], combos


def _days(col: pa.ChunkedArray) -> NDArray[np.datetime64]:
    return col.to_numpy().astype("datetime64[D]")


def _grid(daily: pa.Table, spread: pa.Table, dims: list[str], table: str,
          metric: str) -> DailySeries:
    if daily.num_rows + spread.num_rows == 0:
        return DailySeries(dims, table, metric, np.array([], dtype="datetime64[D]"),
                           np.zeros((0, 0)), [], [], np.zeros(0, dtype=np.int64),
                           np.zeros((0, 0), dtype=np.int64), daily)
    d_day, m_day, m_last = _days(daily.column(DAY)), _days(spread.column(DAY)), \
        _days(spread.column(LAST))
    start = min(d_day.min() if len(d_day) else m_day.min(),
                m_day.min() if len(m_day) else d_day.min())
    end = d_day.max() if len(d_day) else m_day.max()
    if len(m_day):
        end = max(end, m_day.max())
    n = int((end - start).astype(np.int64)) + 1
    (d_s, m_s), combos = _codes([daily, spread], [CURRENCY, *dims])
    n_series = len(combos)
    keys = [{name: c[i + 1] for i, name in enumerate(dims)} for c in combos]
    currencies = [c[0] for c in combos]
    d_t = (d_day - start).astype(np.int64)
    m_t0 = (m_day - start).astype(np.int64)
    m_t1 = np.maximum((m_last - start).astype(np.int64), m_t0)
    first = np.full(n_series, n, dtype=np.int64)
    np.minimum.at(first, d_s, d_t)
    np.minimum.at(first, m_s, np.clip(m_t0, 0, n - 1))
    values = np.where(np.arange(n)[None, :] >= first[:, None], 0.0, np.nan)
    d_cost = pc.cast(daily.column(COST), pa.float64()).to_numpy(zero_copy_only=False)
    values[d_s, d_t] = np.nan_to_num(d_cost.astype(np.float64))
    row_of = np.full((n_series, n), -1, dtype=np.int64)
    row_of[d_s, d_t] = np.arange(daily.num_rows)
    per: dict[int, list[tuple[int, int, Decimal]]] = {}
    m_cost = spread.column(COST).to_pylist()
    for s, t0, t1, amount in zip(m_s.tolist(), m_t0.tolist(), m_t1.tolist(), m_cost,
                                 strict=True):   # aggregated charges, not billing rows
        amount = amount or Decimal(0)
        per.setdefault(s, []).append((t0, t1, amount))
        lo, hi = max(t0, 0), min(t1, n - 1)
        if lo <= hi:
            values[s, lo:hi + 1] += float(amount) / (t1 - t0 + 1)
    dates = start + np.arange(n).astype("timedelta64[D]")
    return DailySeries(dims, table, metric, dates, values, keys, currencies, first, row_of,
                       daily, per)
