"""Cost forecasts from the store: daily series built in the engine, the model of
``forecast_model``, known changes from commitments that end, money to the cent.

    from cloudledger.operate.forecast import forecast_costs, run_forecast, backtest_costs

    rows = forecast_costs(store, settings, by=["team"], as_of=date(2026, 11, 15),
                          horizon="month-end")
    # [{"series": "total", "team": None, "currency": "USD", "month": "2026-11",
    #   "actual_to_date": Decimal("520651.87"), "forecast": Decimal(...),
    #   "month_total": Decimal(...), "lo80": ..., "hi80": ..., "lo95": ..., "hi95": ...,
    #   "model": "MSTL", "known_changes": Decimal("0.00"), "notes": []}, ...]
    run = run_forecast(...)       # the same rows plus history, daily forecast, steps, notes
    bt = backtest_costs(store, settings, by=None, as_of=None)   # bt.summary, bt.months

Daily series and known changes (commitments that end within the horizon): see
:mod:`cloudledger.operate.spread`.

Series: one per currency (the total) and, with ``by``, one per dimension values and
currency. The total is forecast on its own (it is not the sum of the parts' forecasts).

Money: the model works in float; every amount out of here is a ``Decimal`` rounded to the
cent (half even), never a float in JSON or CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd

from cloudledger.analyze.options import check_metric
from cloudledger.config import Settings
from cloudledger.engine import ident
from cloudledger.errors import InputError
from cloudledger.operate.forecast_model import HORIZONS, Forecast, backtest, forecast, horizon_end
from cloudledger.operate.spread import (
    CURRENCY,
    commitment_steps,
    daily_costs,
    data_end,
    engine_check,
    on_demand_delta,
    spread_sql,
)

__all__ = ["BacktestRun", "ForecastRun", "backtest_costs", "daily_costs", "data_end",
           "forecast_costs", "money", "run_forecast", "spread_sql"]

CENT = Decimal("0.01")
MONEY_FIELDS = ("actual_to_date", "forecast", "total", "lo80", "hi80", "lo95", "hi95")


def money(value: Any) -> Decimal | None:
    """A float amount of the model as a Decimal to the cent (None for NaN)."""
    if value is None:
        return None
    x = float(value)
    if not np.isfinite(x):
        return None
    return Decimal(repr(x)).quantize(CENT, rounding=ROUND_HALF_EVEN) + Decimal("0.00")


def _dims_table(store: Any, settings: Settings, by: Sequence[str]) -> tuple[str, list[str]]:
    from cloudledger.operate.series import resolve_dimensions

    return resolve_dimensions(store, settings, list(by), where="--by")  # type: ignore[no-any-return]


@dataclass
class ForecastRun:
    as_of: date
    last_day: date
    horizon: str
    by: list[str]
    metric: str
    table: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: unique_id -> {"series": label, "currency": ..., dims...}
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: pd.DataFrame | None = None       # unique_id, ds, y
    result: Forecast | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _label(keys: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in keys.items()) or "total"


def build_series(df: pd.DataFrame, dims: list[str]) -> tuple[pd.DataFrame,
                                                             dict[str, dict[str, Any]]]:
    """The model's input (unique_id, ds, y): a total per currency, and with ``dims`` one
    series per dimension values and currency; plus each unique_id's description."""
    meta: dict[str, dict[str, Any]] = {}
    parts = []
    multi = df["currency"].nunique() > 1
    tot = df.groupby(["currency", "ds"], as_index=False)["y"].sum()
    for cur, g in tot.groupby("currency"):
        uid = f"total {cur}" if multi else "total"
        meta[uid] = {"series": "total", **{d: None for d in dims}, "currency": cur}
        parts.append(g.assign(unique_id=uid)[["unique_id", "ds", "y"]])
    if dims:
        keyed = df.assign(**{d: df[d].astype(object).where(df[d].notna(), None)
                             for d in dims})
        for key, g in keyed.groupby([*dims, "currency"], dropna=False, sort=True):
            values = dict(zip([*dims, "currency"], key, strict=True))
            values = {k: (None if isinstance(v, float) and np.isnan(v) else v)
                      for k, v in values.items()}
            label = _label({d: values[d] for d in dims})
            uid = f"{label} {values['currency']}" if multi else label
            meta[uid] = {"series": label, **{d: values[d] for d in dims},
                         "currency": values["currency"]}
            parts.append(g.groupby("ds", as_index=False)["y"].sum().assign(unique_id=uid)[
                ["unique_id", "ds", "y"]])
    if not parts:
        return pd.DataFrame(columns=["unique_id", "ds", "y"]), meta
    return pd.concat(parts, ignore_index=True), meta


def _resolve(store: Any, settings: Settings, by: Sequence[str] | None, as_of: date | None,
             horizon: str, metric: str) -> tuple[str, list[str], date]:
    engine_check(store)
    check_metric(metric)
    if horizon not in HORIZONS:
        raise InputError(f"unknown horizon {horizon!r}", where="--horizon",
                         hint="one of " + ", ".join(HORIZONS))
    table, dims = _dims_table(store, settings, by or [])
    end = as_of or data_end(store, table)
    if end is None:
        raise InputError(f"the {table} table holds no cost rows",
                         hint="run `cloudledger ingest FILE` (or `cloudledger demo`) first")
    return table, dims, end


def run_forecast(store: Any, settings: Settings, *, by: Sequence[str] | None = None,
                 as_of: date | None = None, horizon: str = "month-end",
                 metric: str = "EffectiveCost") -> ForecastRun:
    """Forecast the total (per currency) and each ``by`` series through ``horizon`` from the
    data before ``as_of`` (see the module docstring)."""
    table, dims, as_of = _resolve(store, settings, by, as_of, horizon, metric)
    last_day = as_of - timedelta(days=1)
    run = ForecastRun(as_of=as_of, last_day=last_day, horizon=horizon, by=dims,
                      metric=metric, table=table)
    df = daily_costs(store, table, dims, metric, as_of)
    series, meta = build_series(df, dims)
    run.series = meta
    run.history = series
    if series.empty:
        run.notes.append(f"no cost before {as_of}: nothing to forecast")
        return run
    until = horizon_end(last_day, horizon)
    steps = _steps(store, table, dims, metric, as_of, until, meta)
    run.steps = steps
    step_frame = (pd.DataFrame([{"unique_id": s["unique_id"], "ds": s["from"],
                                 "delta": s["per_day"]} for s in steps])
                  if steps else None)
    fc = forecast(series, horizon, last_day=last_day, steps=step_frame)
    run.result = fc
    run.rows = _rows(fc, meta, dims, horizon, steps, _earlier_in_quarter(series, as_of))
    return run


def _earlier_in_quarter(series: pd.DataFrame, as_of: date) -> tuple[date, dict[str, float]]:
    """The current quarter's start and, per series, its cost in the quarter's months before
    the current month (the model's quarter row starts at the current month)."""
    month0 = pd.Timestamp(as_of).to_period("M")
    q_start = month0.asfreq("Q").start_time
    past = series[(series["ds"] >= q_start) & (series["ds"] < month0.start_time)]
    return q_start.date(), {str(k): float(v) for k, v in
                            past.groupby("unique_id")["y"].sum().items()}


def _steps(store: Any, table: str, dims: list[str], metric: str, as_of: date, until: date,
           meta: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    keys = {CURRENCY: ident("BillingCurrency"),
            **{d: f"CAST({ident(d)} AS VARCHAR)" for d in dims}}
    raw = commitment_steps(store, table, keys, {"delta": on_demand_delta(metric)},
                           as_of=as_of, until=until)
    if raw.empty:
        return []
    by_meta = {(m["currency"], *[m[d] for d in dims]): uid for uid, m in meta.items()
               if m["series"] != "total"}
    totals = {m["currency"]: uid for uid, m in meta.items() if m["series"] == "total"}
    out: list[dict[str, Any]] = []
    for r in raw.to_dict("records"):   # one per commitment and series (aggregated rows)
        cur = r[CURRENCY]
        targets = [totals.get(cur)]
        if dims:
            key = (cur, *[None if pd.isna(r[d]) else r[d] for d in dims])
            targets.append(by_meta.get(key))
        for uid in targets:
            if uid is None:
                continue
            out.append({"unique_id": uid, "commitment_id": r["commitment_id"],
                        "end": r["end"], "from": r["ds"].date(),
                        "per_day": float(r["delta"])})
    frame = pd.DataFrame(out)
    frame = frame.groupby(["unique_id", "commitment_id", "end", "from"], as_index=False)[
        "per_day"].sum()
    return list(frame.to_dict("records"))


def _rows(fc: Forecast, meta: dict[str, dict[str, Any]], dims: list[str], horizon: str,
          steps: list[dict[str, Any]], quarter: tuple[date, dict[str, float]]
          ) -> list[dict[str, Any]]:
    models = fc.series.set_index("unique_id")
    order = {uid: i for i, uid in enumerate(meta)}
    periods = fc.periods.assign(_o=fc.periods["unique_id"].map(order)).sort_values(
        ["_o", "kind", "period"], kind="stable")
    out = []
    for p in periods.to_dict("records"):
        uid = p["unique_id"]
        m = meta[uid]
        if p["kind"] == "quarter":
            earlier = quarter[1].get(uid, 0.0)
            p["start"] = quarter[0]
            for col in ("actual_to_date", "total", "lo80", "hi80", "lo95", "hi95"):
                p[col] += earlier
            p["days_actual"] += (pd.Timestamp(fc.last_day + timedelta(days=1)).to_period(
                "M").start_time - pd.Timestamp(quarter[0])).days
        start, end = pd.Timestamp(p["start"]), pd.Timestamp(p["end"])
        known = sum(s["per_day"] * max(0, (end - max(start, pd.Timestamp(s["from"]))).days + 1)
                    for s in steps if s["unique_id"] == uid)
        row: dict[str, Any] = {"series": m["series"], **{d: m[d] for d in dims},
                               "currency": m["currency"]}
        if horizon == "month-end":
            row["month"] = p["period"]
        else:
            row["period"] = p["period"]
            row["kind"] = p["kind"]
        row.update({"start": p["start"], "end": p["end"],
                    "days_actual": int(p["days_actual"]),
                    "days_forecast": int(p["days_forecast"]),
                    "actual_to_date": money(p["actual_to_date"]),
                    "forecast": money(p["forecast"])})
        row["month_total" if horizon == "month-end" else "total"] = money(p["total"])
        row.update({b: money(p[b]) for b in ("lo80", "hi80", "lo95", "hi95")})
        row["known_changes"] = money(known)
        row["model"] = str(models.loc[uid, "model"])
        row["notes"] = list(models.loc[uid, "notes"])
        out.append(row)
    return out


def forecast_costs(store: Any, settings: Settings, *, by: Sequence[str] | None = None,
                   as_of: date | None = None, horizon: str = "month-end",
                   metric: str = "EffectiveCost") -> list[dict[str, Any]]:
    """The forecast rows (what ``cloudledger forecast --format json`` prints): per series
    and period: actual_to_date, forecast (the rest), month_total (or total), lo80, hi80,
    lo95, hi95 (Decimal, to the cent), currency, the ``by`` values, model, notes."""
    return run_forecast(store, settings, by=by, as_of=as_of, horizon=horizon,
                        metric=metric).rows


@dataclass
class BacktestRun:
    as_of: date
    by: list[str]
    metric: str
    summary: list[dict[str, Any]] = field(default_factory=list)
    months: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _pct(value: Any) -> float | None:
    x = float(value)
    return round(x, 2) if np.isfinite(x) else None


def _ratio(value: Any) -> float | None:
    x = float(value)
    return round(x, 3) if np.isfinite(x) else None


def backtest_costs(store: Any, settings: Settings, *, by: Sequence[str] | None = None,
                   as_of: date | None = None, metric: str = "EffectiveCost",
                   days: Sequence[int] = (7, 15), months: int = 6) -> BacktestRun:
    """Measured accuracy on this store: month-end forecasts made on ``days`` of each of the
    last ``months`` complete months before ``as_of`` (each seeing only the days before it),
    against what the month cost; and daily MASE against seasonal naive."""
    table, dims, as_of = _resolve(store, settings, by, as_of, "month-end", metric)
    run = BacktestRun(as_of=as_of, by=dims, metric=metric)
    series, meta = build_series(daily_costs(store, table, dims, metric, as_of), dims)
    if series.empty:
        run.notes.append(f"no cost before {as_of}: nothing to backtest")
        return run
    bt = backtest(series, days=tuple(days), months=months)
    if bt.months.empty:
        run.notes.append("no complete month with history before it")
        return run
    order = {uid: i for i, uid in enumerate(meta)}
    m = bt.months.assign(ape=bt.months["error_pct"].abs())
    agg = m.groupby(["unique_id", "day"], as_index=False).agg(
        forecasts=("ape", "size"), mape=("ape", "mean"), max_ape=("ape", "max"),
        coverage80=("covered80", "mean"), coverage95=("covered95", "mean"))
    agg = agg.merge(bt.mase, on=["unique_id", "day"], how="left")
    agg = agg.assign(_o=agg["unique_id"].map(order)).sort_values(["_o", "day"])
    for r in agg.to_dict("records"):
        info = meta[r["unique_id"]]
        run.summary.append({
            "series": info["series"], **{d: info[d] for d in dims},
            "currency": info["currency"], "forecast_day": int(r["day"]),
            "months": int(r["forecasts"]), "mape_pct": _pct(r["mape"]),
            "max_ape_pct": _pct(r["max_ape"]),
            "coverage80_pct": _pct(100 * r["coverage80"]),
            "coverage95_pct": _pct(100 * r["coverage95"]),
            "mase": _ratio(r["mase"]), "mase_seasonal_naive": _ratio(r["mase_seasonal_naive"])})
    mm = bt.months.assign(_o=bt.months["unique_id"].map(order)).sort_values(
        ["_o", "month", "day"])
    for r in mm.to_dict("records"):
        info = meta[r["unique_id"]]
        run.months.append({
            "series": info["series"], **{d: info[d] for d in dims},
            "currency": info["currency"], "month": r["month"], "forecast_day": int(r["day"]),
            "actual": money(r["actual"]), "forecast_total": money(r["total"]),
            "error_pct": _pct(r["error_pct"]), "lo80": money(r["lo80"]),
            "hi80": money(r["hi80"]), "covered80": bool(r["covered80"]),
            "covered95": bool(r["covered95"]), "model": r["model"]})
    return run
