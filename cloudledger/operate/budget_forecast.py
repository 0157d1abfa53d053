"""The period-end forecast of budgets (see ``operate.budgets``): one model call per
period kind over every budget of that kind with cost, with the commitments that end in
the period, and each budget's forecast and 80% interval from the model's output."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from cloudledger.config import Budget
from cloudledger.engine import ident, literal
from cloudledger.operate.forecast import money
from cloudledger.operate.forecast_model import forecast, horizon_end
from cloudledger.operate.spread import CURRENCY, commitment_steps, on_demand_delta

if TYPE_CHECKING:
    from cloudledger.operate.budgets import BudgetStatus

HORIZON = {"month": "month-end", "quarter": "quarter-end", "year": "12m"}


def scope_sql(scope: dict[str, list[str]]) -> str:
    """SQL: the row lies in ``scope`` (each dimension one of its values)."""
    parts = [f"CAST({ident(d)} AS VARCHAR) IN ({', '.join(literal(v) for v in vs)})"
             for d, vs in scope.items()]
    return " AND ".join(parts) or "TRUE"


def forecast_period_end(store: Any, budgets: list[tuple[int, Budget]],
              scopes: dict[int, tuple[str, dict[str, list[str]]]],
              statuses: dict[int, BudgetStatus], series: dict[int, pd.DataFrame],
              as_of: date, last_day: date) -> None:
    """One model call per period kind over every budget of that kind with cost."""
    for kind, horizon in HORIZON.items():
        ids = [i for i, b in budgets if b.period == kind and i in series]
        if not ids:
            continue
        until = horizon_end(last_day, horizon)
        steps = _steps(store, budgets, scopes, statuses, ids, as_of, until)
        data = pd.concat([series[i] for i in ids], ignore_index=True)
        data["unique_id"] = data["unique_id"].astype(str)
        fc = forecast(data, horizon, last_day=last_day, steps=steps)
        for i in ids:
            _apply(statuses[i], fc, series[i], as_of)


def _steps(store: Any, budgets: list[tuple[int, Budget]],
           scopes: dict[int, tuple[str, dict[str, list[str]]]],
           statuses: dict[int, BudgetStatus], ids: list[int], as_of: date, until: date
           ) -> pd.DataFrame | None:
    by_index = dict(budgets)
    frames = []
    for table in sorted({scopes[i][0] for i in ids}):
        mine = [i for i in ids if scopes[i][0] == table]
        values = {f"b{i}": f"CASE WHEN {scope_sql(scopes[i][1])} THEN "
                           f"{on_demand_delta(by_index[i].metric)} END"
                  for i in mine}
        raw = commitment_steps(store, table, {CURRENCY: ident("BillingCurrency")}, values,
                               as_of=as_of, until=until)
        for i in mine:
            st = statuses[i]
            r = raw[(raw[CURRENCY] == st.currency) & raw[f"b{i}"].notna()] if not raw.empty \
                else raw
            if r.empty:
                continue
            g = r.groupby("ds", as_index=False)[f"b{i}"].sum()
            for rec in g.to_dict("records"):
                st.notes.append(f"commitments ending {rec['ds'].date()}: "
                                f"{money(rec[f'b{i}']):+,} {st.currency} a day from then")
            frames.append(pd.DataFrame({"unique_id": st.name, "ds": g["ds"],
                                        "delta": g[f"b{i}"].astype(float)}))
    return pd.concat(frames, ignore_index=True) if frames else None


def _apply(st: BudgetStatus, fc: Any, hist: pd.DataFrame, as_of: date) -> None:
    """The period-end forecast of one budget from the model's output."""
    uid = st.name
    daily = fc.daily[(fc.daily["unique_id"] == uid)
                     & (fc.daily["ds"] <= pd.Timestamp(st.end))]
    actual = float(hist.loc[hist["ds"] >= pd.Timestamp(st.start), "y"].sum())
    total = actual + float(daily["forecast"].sum())
    p = fc.periods[fc.periods["unique_id"] == uid]
    month0 = pd.Timestamp(as_of).to_period("M")
    if st.kind == "month":
        row = p[(p["kind"] == "month") & (p["period"] == str(month0))]
    elif st.kind == "quarter":
        row = p[p["kind"] == "quarter"]
    else:
        row = p[p["kind"] == "12m"]
        if row.empty or pd.Timestamp(row.iloc[0]["end"]) != pd.Timestamp(st.end):
            row = p[(p["kind"] == "month") & (p["period"].str[:4] == str(st.end.year))]
            if not row.empty:
                st.notes.append("the year's 80% interval is the sum of its months' "
                                "intervals (conservative)")
    if row.empty:
        lo, hi = total, total
    else:
        lo = total + float((row["lo80"] - row["total"]).sum())
        hi = total + float((row["hi80"] - row["total"]).sum())
    st.forecast = money(total)
    st.forecast_lo80 = money(min(lo, total))
    st.forecast_hi80 = money(max(hi, total))
    notes = fc.series.set_index("unique_id")["notes"]
    if uid in notes.index:
        st.notes.extend(str(n) for n in notes[uid])
