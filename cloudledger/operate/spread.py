"""Cost spread over charge periods, per day: the daily sums forecasts and budgets read, and
the known changes of commitments that end.

Daily series (one grouped query, :func:`spread_sql`): every row of ``focus`` (FOCUS
dimensions) or ``allocated`` (owner dimensions of ``settings.owners.dimensions``) charged
before the as-of date, its cost spread evenly over its charge period (a monthly fee, tax or
credit of a month adds 1/30 of itself to each day of a 30-day month, never all on the 1st;
hourly rows stay on their day), grouped by day, billing currency and the ``--by``
dimensions. Only the aggregated days reach Python. Parts of a charge period on or after the
as-of are left out, so ``--as-of`` sees exactly what the store held for the days before it.
The default as-of is the day after the last day with a Usage row.

Known changes (``steps``): a commitment (CommitmentDiscountId) whose end the data carries
(:mod:`cloudledger.analyze.commitment_terms`) and whose first uncovered day falls after the
last day of data and within the horizon raises each series' daily cost from that day by what
its rows cost per day over the last 14 days, had no commitment applied: the on-demand
equivalent of the covered usage (ContractedCost, else ListCost; ListCost for the ListCost
metric) minus the commitment's own cost in the metric (covered usage, unused amortization,
purchase fees). Nothing is guessed from a commitment's charges stopping.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from cloudledger.analyze.commitment_terms import commitment_ends, end_day
from cloudledger.engine import ident, literal
from cloudledger.errors import InputError

__all__ = ["CURRENCY", "DAY", "STEP_WINDOW", "commitment_steps", "daily_costs", "data_end",
           "engine_check", "on_demand_delta", "spread_sql"]

STEP_WINDOW = 14
DAY, CURRENCY = "__day", "__currency"


def _ts(d: date) -> str:
    return f"CAST({literal(d.isoformat())} AS TIMESTAMP)"


def spread_sql(table: str, keys: dict[str, str], values: dict[str, str], *, as_of: date,
               since: date | None = None, where: Sequence[str] = ()) -> str:
    """One grouped query: per day (``__day``, a date) and ``keys``, the sum of each value
    expression over the rows of ``table``, every row spread evenly over its charge period
    (by time; a row whose period lies within one day stays whole on that day). Only days
    before ``as_of`` (and from ``since``) count. Values come out as DOUBLE."""
    cps, cpe = ident("ChargePeriodStart"), ident("ChargePeriodEnd")
    conds = [f"{cps} < {_ts(as_of)}", *where]
    if since is not None:
        conds.append(f"greatest({cpe}, {cps}) >= {_ts(since)}")
    key_sel = [f"{expr} AS {ident(k)}" for k, expr in keys.items()]
    val_sel = [f"CAST({expr} AS DOUBLE) AS {ident(v)}" for v, expr in values.items()]
    knames = [ident(k) for k in keys]
    vnames = [ident(v) for v in values]
    one_day = "__e <= date_trunc('day', __s) + INTERVAL 1 DAY"
    share = ("(epoch(least(__d + INTERVAL 1 DAY, __e)) - epoch(greatest(__d, __s))) / "
             "(epoch(__e) - epoch(__s))")
    low = f" AND __d >= {_ts(since)}" if since is not None else ""
    low1 = f" AND __s >= {_ts(since)}" if since is not None else ""
    cols = ", ".join([*knames, ""])
    return f"""WITH __r AS (
  SELECT {', '.join([*key_sel, *val_sel])}, {cps} AS __s, greatest({cpe}, {cps}) AS __e
  FROM {ident(table)} WHERE {' AND '.join(conds)}),
__d AS (
  SELECT {cols}CAST(__s AS DATE) AS {DAY}, {', '.join(vnames)} FROM __r
  WHERE {one_day}{low1}
  UNION ALL
  SELECT {cols}CAST(__d AS DATE) AS {DAY}, {', '.join(f'{v} * {share} AS {v}' for v in vnames)}
  FROM (SELECT *, unnest(range(date_trunc('day', __s), __e, INTERVAL 1 DAY)) AS __d
        FROM __r WHERE NOT ({one_day}))
  WHERE __d < {_ts(as_of)}{low})
SELECT {cols}{DAY}, {', '.join(f'sum({v}) AS {v}' for v in vnames)}
FROM __d GROUP BY {cols}{DAY}"""


def engine_check(store: Any) -> None:
    if getattr(store, "is_spark", False):
        raise InputError("forecasts and budgets run on the DuckDB store only for now",
                         hint="open the DuckDB store file with --store")


def data_end(store: Any, table: str = "focus") -> date | None:
    """The default as-of: the day after the last day with a Usage row (any row if none)."""
    cps = ident("ChargePeriodStart")
    rows = store.engine.fetch(
        f"SELECT max(CAST({cps} AS DATE)) FILTER (WHERE {ident('ChargeCategory')} = 'Usage') "
        f"AS u, max(CAST({cps} AS DATE)) AS a FROM {ident(table)}")
    last = (rows[0]["u"] or rows[0]["a"]) if rows else None
    if isinstance(last, datetime):
        last = last.date()
    return last + timedelta(days=1) if isinstance(last, date) else None


def daily_costs(store: Any, table: str, dims: Sequence[str], metric: str, as_of: date,
                where: Sequence[str] = ()) -> pd.DataFrame:
    """Columns currency, <dims>, ds (Timestamp), y (float): cost per day (see
    :func:`spread_sql`), one row per day that has rows."""
    keys = {CURRENCY: ident("BillingCurrency"),
            **{d: f"CAST({ident(d)} AS VARCHAR)" for d in dims}}
    sql = spread_sql(table, keys, {"y": ident(metric)}, as_of=as_of, where=where)
    df = store.engine.query(sql).to_pandas()
    df = df.rename(columns={CURRENCY: "currency", DAY: "ds"})
    df["ds"] = pd.to_datetime(df["ds"])
    df["y"] = df["y"].astype(float)
    return df[["currency", *dims, "ds", "y"]]


def on_demand_delta(metric: str) -> str:
    """Per row of a commitment: what it would cost without the commitment minus what it
    costs (see the module docstring)."""
    on_demand = (ident("ListCost") if metric == "ListCost"
                 else f"coalesce({ident('ContractedCost')}, {ident('ListCost')})")
    covered = (f"{ident('ChargeCategory')} = 'Usage' AND "
               f"coalesce({ident('CommitmentDiscountStatus')}, 'Used') <> 'Unused'")
    return f"(CASE WHEN {covered} THEN coalesce({on_demand}, 0) ELSE 0 END - " \
           f"coalesce({ident(metric)}, 0))"


def commitment_steps(store: Any, table: str, keys: dict[str, str], values: dict[str, str],
                     *, as_of: date, until: date) -> pd.DataFrame:
    """Known changes: commitment_id, end, ds, <keys>, <values> (cost per day from ``ds``)
    for commitments whose first uncovered day is in [as_of, until]. ``values`` are SQL
    expressions per row of a commitment (:func:`on_demand_delta`, or it under a CASE that
    picks a scope); each comes out as the mean per day over the last ``STEP_WINDOW`` days."""
    cid = ident("CommitmentDiscountId")
    ends = {i: e for i, e in commitment_ends(store).items()
            if as_of <= end_day(e) <= until}
    cols = ["commitment_id", "end", "ds", *keys, *values]
    if not ends:
        return pd.DataFrame(columns=cols)
    since = as_of - timedelta(days=STEP_WINDOW)
    ids = ", ".join(literal(i) for i in ends)
    keyed = {**keys, "commitment_id": f"{cid}"}
    df = store.engine.query(spread_sql(table, keyed, values, as_of=as_of, since=since,
                                       where=[f"{cid} IN ({ids})"])).to_pandas()
    if df.empty:
        return pd.DataFrame(columns=cols)
    days = df.groupby("commitment_id")[DAY].nunique()
    out = df.groupby(["commitment_id", *keys], as_index=False, dropna=False)[
        list(values)].sum(min_count=1)
    for v in values:
        out[v] = out[v] / out["commitment_id"].map(days)
    out["end"] = out["commitment_id"].map(ends)
    out["ds"] = pd.to_datetime(out["end"].map(end_day))
    return out[cols]
