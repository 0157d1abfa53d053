"""Cost forecasts: daily values with 80% and 95% intervals, and period totals (month, quarter,
12 months) with honest intervals, for many daily series at once. Pure functions over pandas
frames; the models are statsforecast's, chosen per series by backtest.

API (what ``cloudledger forecast`` calls)::

    from cloudledger.operate.forecast_model import forecast, with_total, backtest

    series = with_total(daily)            # daily: unique_id, ds (date), y (cost, float)
    fc = forecast(series, "month-end",    # or "quarter-end", "12m"
                  last_day=date(2026, 11, 14),        # last complete day (default: max ds)
                  steps=known_changes)    # unique_id, ds, delta: cost per day changes by
                                          # delta from ds on (commitment expiring: +X)
    fc.periods   # unique_id, period, kind, start, end, actual_to_date, forecast, total,
                 # lo80, hi80, lo95, hi95, days_actual, days_forecast
    fc.daily     # unique_id, ds, forecast, lo80, hi80, lo95, hi95, model
    fc.series    # unique_id, model, history_days, backtest_mae, notes
    bt = backtest(series, days=(7, 15), months=6)    # see forecast_backtest
    bt.months    # unique_id, month, day, actual, total, error_pct, lo80..hi95, covered80/95
    bt.mase      # unique_id, model MASE, seasonal-naive MASE (daily, same windows)

Inputs. ``y`` is the day's cost (EffectiveCost is the usual choice, with every row spread
evenly over its charge period, so monthly fees, tax and credits do not pile on the 1st).
Days missing between a series' first day and ``last_day`` are filled with 0; negative days
(credits) are kept; rows after ``last_day`` are ignored (noted). A forecast starts the day
after ``last_day``; the month containing that day is "the current month", and its
``actual_to_date`` is the sum of the series' days in it up to ``last_day``.

Known changes (``steps``). A row (uid, D, X) says the daily cost changes by X from day D on.
D in the future: the forecast (point and intervals) moves by X on every day from D.
D in the past: the history before D is shifted by X before fitting, so the models see one
regime and do not read the jump as trend. Derive them from the FOCUS commitment columns,
e.g. a Savings Plan expiring on D raises EffectiveCost by (on-demand - committed) cost of
the usage it covers; a purchase starting on D lowers it by the discount.

Horizons. ``month-end``: through the last day of the current month. ``quarter-end``: the
current quarter (a row per month and one ``kind == "quarter"`` row). ``12m``: the current
month and the 11 after it (a row per month and one ``kind == "12m"`` row). Month rows have
``period`` "YYYY-MM" and ``kind == "month"``.

Models (``forecast_fit``): candidates ``models`` (default ``DEFAULT_MODELS``: MSTL, AutoETS,
SeasonalNaive; ``FAST_MODELS`` when a call has more than ``FAST_ABOVE`` series). Per series
by history length (zero series -> zeros; < 14 days ->
HistoricAverage; < 28 -> SeasonalNaive(7); < 84 -> the first candidate unselected; else
every candidate is backtested and the lowest daily MAE wins). Every such fallback leaves a
note in ``series.notes``.

Intervals. Daily: the chosen model's own (statsforecast ``level=[80, 95]``). Sums (months,
quarter, 12 months): not the sum of daily bounds. The backtest windows' cumulative errors
of the chosen models, standardized by the sum of the daily standard deviations, are pooled
by sum length and their empirical quantiles scale the period's sum of daily standard
deviations (``forecast_fit.Calibration``). Bounds are kept ordered around the point:
lo95 <= lo80 <= total <= hi80 <= hi95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from cloudledger.operate import forecast_fit as ff

__all__ = ["DEFAULT_MODELS", "FAST_MODELS", "HORIZONS", "Forecast", "backtest", "forecast",
           "horizon_end", "prepare", "with_total"]

DEFAULT_MODELS: tuple[str, ...] = ("MSTL", "AutoETS", "SeasonalNaive")
#: Candidates when a call has more than ``FAST_ABOVE`` series and no ``models``: AutoETS
#: doubles the cost (two fits per series: backtest and final), so 1,000 series would not fit
#: in a minute on 2 cores; measured accuracy of both sets in docs/accuracy.md.
FAST_MODELS: tuple[str, ...] = ("MSTL", "SeasonalNaive")
FAST_ABOVE = 300
HORIZONS = ("month-end", "quarter-end", "12m")
#: Models see at most this many recent days (None: all).
TRAIN_DAYS: int | None = None
BOUNDS = ("lo80", "hi80", "lo95", "hi95")


@dataclass
class Forecast:
    daily: pd.DataFrame
    periods: pd.DataFrame
    series: pd.DataFrame
    last_day: date

    def notes(self) -> dict[str, list[str]]:
        return {str(r.unique_id): list(r.notes) for r in self.series.itertuples() if r.notes}


def with_total(df: pd.DataFrame, name: str = "total") -> pd.DataFrame:
    """``df`` plus one series ``name`` with the sum of all series per day (forecast on its
    own: the total's forecast is not the sum of the parts' forecasts)."""
    total = df.groupby("ds", as_index=False)["y"].sum()
    total.insert(0, "unique_id", name)
    return pd.concat([df[["unique_id", "ds", "y"]], total], ignore_index=True)


def horizon_end(last_day: date, horizon: str) -> date:
    """The last forecast day of ``horizon`` for data complete through ``last_day``."""
    origin = pd.Timestamp(last_day) + pd.Timedelta(days=1)
    if horizon == "month-end":
        end = origin + pd.offsets.MonthEnd(0)
    elif horizon == "quarter-end":
        end = origin + pd.offsets.QuarterEnd(0)
    elif horizon == "12m":
        end = (origin + pd.DateOffset(months=11)) + pd.offsets.MonthEnd(0)
    else:
        raise ValueError(f"unknown horizon {horizon!r}; choose from {', '.join(HORIZONS)}")
    return end.date()  # type: ignore[no-any-return]


def prepare(df: pd.DataFrame, last_day: date | None = None,
            steps: pd.DataFrame | None = None
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]], date]:
    """Daily series ready to fit: one row per series and day from its first day through
    ``last_day`` (missing days 0), past known steps applied. Returns (adjusted, raw, notes,
    last_day)."""
    missing = {"unique_id", "ds", "y"} - set(df.columns)
    if missing:
        raise ValueError(f"series need columns unique_id, ds, y (missing: "
                         f"{', '.join(sorted(missing))})")
    data = pd.DataFrame({"unique_id": df["unique_id"].astype(str),
                         "ds": pd.to_datetime(df["ds"]).dt.normalize(),
                         "y": pd.to_numeric(df["y"]).astype(float)})
    notes: dict[str, list[str]] = {u: [] for u in data["unique_id"].unique()}
    nan = data["y"].isna()
    for uid, n in data[nan].groupby("unique_id").size().items():
        notes[str(uid)].append(f"{n} days without a value taken as 0")
    data.loc[nan, "y"] = 0.0
    end = pd.Timestamp(last_day) if last_day is not None else data["ds"].max()
    late = data["ds"] > end
    for uid, n in data[late].groupby("unique_id").size().items():
        notes[str(uid)].append(f"{n} days after {end.date()} ignored")
    data = data[~late].groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    first = data.groupby("unique_id")["ds"].min()
    for uid in set(notes) - set(first.index):
        notes[uid].append("no days up to the last day: all zero")
        first[uid] = end
    first = first.sort_index()
    length = ((end - first).dt.days + 1).to_numpy()
    full = pd.DataFrame({
        "unique_id": np.repeat(first.index.to_numpy(), length),
        "ds": np.repeat(first.to_numpy(), length) + pd.to_timedelta(
            np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length),
            unit="D")})
    full = full.merge(data, on=["unique_id", "ds"], how="left")
    filled = full["y"].isna()
    for uid, n in full[filled].groupby("unique_id").size().items():
        notes[str(uid)].append(f"{n} missing days filled with 0")
    full["y"] = full["y"].fillna(0.0)
    raw = full.copy()
    for s in _steps(steps):
        if s.ds <= end:
            rows = (full["unique_id"] == s.unique_id) & (full["ds"] < s.ds)
            full.loc[rows, "y"] += s.delta
    return full, raw, notes, end.date()


def _steps(steps: pd.DataFrame | None) -> list[Any]:
    if steps is None or steps.empty:
        return []
    out = pd.DataFrame({"unique_id": steps["unique_id"].astype(str),
                        "ds": pd.to_datetime(steps["ds"]).dt.normalize(),
                        "delta": pd.to_numeric(steps["delta"]).astype(float)})
    return list(out.itertuples(index=False))


def forecast(df: pd.DataFrame, horizon: str = "month-end", *, last_day: date | None = None,
             steps: pd.DataFrame | None = None, models: Sequence[str] | None = None,
             n_jobs: int | None = None, train_days: int | None = TRAIN_DAYS) -> Forecast:
    """Forecast every series of ``df`` (unique_id, ds, y) through ``horizon``; see the
    module docstring."""
    end = horizon_end(last_day or pd.Timestamp(df["ds"].max()).date(), horizon)
    adjusted, raw, notes, last = prepare(df, last_day, steps)
    if models is None:
        models = DEFAULT_MODELS if len(notes) <= FAST_ABOVE else FAST_MODELS
        if models is FAST_MODELS:
            for n in notes.values():
                n.append(f"more than {FAST_ABOVE} series: candidates "
                         f"{', '.join(FAST_MODELS)} only")
    for m in models:
        ff.make_model(m)
    h = (end - last).days
    fitted = ff.fit(adjusted, h, list(models), n_jobs, train_days)
    daily = fitted.daily.sort_values(["unique_id", "ds"], ignore_index=True)
    for s in _steps(steps):
        if s.ds <= pd.Timestamp(last):
            continue   # already in the adjusted history
        rows = (daily["unique_id"] == s.unique_id) & (daily["ds"] >= s.ds)
        for col in ("forecast", *BOUNDS):
            daily.loc[rows, col] += s.delta
    lengths = raw.groupby("unique_id").size()
    cal = fitted.calibration
    for uid, n in lengths.items():
        uid = str(uid)
        model = fitted.model[uid]
        if model == "zero":
            notes[uid].append("all zero: forecast 0")
        elif model == "HistoricAverage":
            notes[uid].append(f"{n} days of history: mean of the history, no weekly pattern")
        elif model == "SeasonalNaive" and n < ff.FIT_MIN:
            notes[uid].append(f"{n} days of history: seasonal naive (last week repeated)")
        elif uid not in fitted.score:
            notes[uid].append(f"{n} days of history: {model} without a backtest "
                              f"(needs {ff.CV_MIN} days)")
        if model != "zero" and uid not in fitted.score:
            notes[uid].append(
                "period intervals calibrated on other series' backtests" if cal.samples
                else "period intervals from the model's daily intervals only (no backtest)")
    periods = _periods(raw, daily, last, end, horizon, cal)
    series = pd.DataFrame({
        "unique_id": lengths.index.astype(str),
        "model": [fitted.model[str(u)] for u in lengths.index],
        "history_days": lengths.to_numpy(),
        "backtest_mae": [fitted.score.get(str(u), np.nan) for u in lengths.index],
        "notes": [notes[str(u)] for u in lengths.index]})
    return Forecast(daily=daily, periods=periods, series=series, last_day=last)


def _periods(raw: pd.DataFrame, daily: pd.DataFrame, last: date, end: date, horizon: str,
             cal: ff.Calibration) -> pd.DataFrame:
    """Month rows (and the quarter or 12-month row) with calibrated sum intervals."""
    last_ts = pd.Timestamp(last)
    month0 = (last_ts + pd.Timedelta(days=1)).to_period("M")
    actual = raw[raw["ds"] >= month0.start_time].groupby("unique_id")["y"].sum()
    days_actual = (last_ts - month0.start_time).days + 1
    d = daily.assign(sd=(daily["hi80"] - daily["lo80"]) / (2 * ff.Z80),
                     month=daily["ds"].dt.to_period("M"))
    by = d.groupby(["unique_id", "month"], as_index=False).agg(
        forecast=("forecast", "sum"), sd=("sd", "sum"), start=("ds", "min"),
        last=("ds", "max"), days_forecast=("ds", "size"))
    by["period"] = by["month"].astype(str)
    by["kind"] = "month"
    by["k"] = (by["last"] - last_ts).dt.days
    by["start"] = by["month"].dt.start_time
    by["end"] = by["month"].dt.end_time.dt.normalize()
    by["actual_to_date"] = np.where(by["month"] == month0,
                                    by["unique_id"].map(actual).fillna(0.0), 0.0)
    by["days_actual"] = np.where(by["month"] == month0, days_actual, 0)
    rows = [by]
    if horizon != "month-end":
        tot = by.groupby("unique_id", as_index=False).agg(
            forecast=("forecast", "sum"), sd=("sd", "sum"), start=("start", "min"),
            end=("end", "max"), days_forecast=("days_forecast", "sum"),
            actual_to_date=("actual_to_date", "sum"), days_actual=("days_actual", "sum"))
        tot["kind"] = "quarter" if horizon == "quarter-end" else "12m"
        tot["period"] = (str(month0.asfreq("Q")) if horizon == "quarter-end"
                         else f"{month0}..{pd.Timestamp(end).to_period('M')}")
        tot["k"] = (pd.Timestamp(end) - last_ts).days
        rows.append(tot)
    out = pd.concat(rows, ignore_index=True)
    out["total"] = out["actual_to_date"] + out["forecast"]
    q = pd.DataFrame([cal.quantiles(int(k)) for k in out["k"]])
    for col in BOUNDS:
        z = q[col].to_numpy()
        z = np.minimum(z, 0.0) if col.startswith("lo") else np.maximum(z, 0.0)
        out[col] = out["total"] + z * out["sd"].to_numpy()
    out["lo80"] = np.minimum(out["lo80"], out["total"])
    out["lo95"] = np.minimum(out["lo95"], out["lo80"])
    out["hi80"] = np.maximum(out["hi80"], out["total"])
    out["hi95"] = np.maximum(out["hi95"], out["hi80"])
    out["start"] = out["start"].dt.date
    out["end"] = out["end"].dt.date
    cols = ["unique_id", "period", "kind", "start", "end", "actual_to_date", "forecast",
            "total", *BOUNDS, "days_actual", "days_forecast"]
    return out[cols].sort_values(["unique_id", "kind", "period"], ignore_index=True)


def backtest(df: pd.DataFrame, days: Sequence[int] = (7, 15), months: int = 6,
             **kwargs: Any) -> Any:
    """Month-end errors of forecasts made on ``days`` of each of the last ``months``
    complete months, and daily MASE; see ``forecast_backtest.backtest``."""
    from cloudledger.operate.forecast_backtest import backtest as run

    return run(df, days=days, months=months, **kwargs)
