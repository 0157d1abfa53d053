"""Model choice, daily forecasts and the month-total error calibration, all through
statsforecast (see ``forecast_model`` for the public API).

Per series, by history length (days after gap filling):

- all zero                    -> zeros, no model
- fewer than ``SEASONAL_MIN``  -> ``HistoricAverage`` (no weekly pattern can be seen)
- fewer than ``FIT_MIN``       -> ``SeasonalNaive(7)``
- fewer than ``CV_MIN``        -> the first candidate, unselected (no room for a backtest)
- otherwise                   -> every candidate is backtested with statsforecast's
  ``cross_validation`` (windows of ``CV_H`` days, ``CV_STEP`` apart, parameters fitted
  once on the first window and rolled forward: ``refit=False``); the candidate with the
  lowest mean absolute daily error wins.

The chosen model's backtest errors also calibrate the intervals of sums (month-to-go,
quarter, 12 months): see ``Calibration``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SEASON = 7
SEASONAL_MIN = 14
FIT_MIN = 28
CV_H = 28
CV_STEP = 7
CV_TRAIN_MIN = 56
CV_MIN = CV_TRAIN_MIN + CV_H
MAX_WINDOWS = 12
#: Backtest fits see at most this many days (the final fit sees all): halves the cost.
CV_INPUT: int | None = None
#: Backtest windows across all series per call: fewer windows per series when there are
#: many series (the pooled calibration then has plenty of samples anyway).
WINDOW_BUDGET = 2000
#: Cumulative-sum lengths (days) grouped for the calibration: 1-7, 8-14, 15-21, 22-28.
K_EDGES = (7, 14, 21, 28)
Z80 = 1.2815515655446004
Z95 = 1.959963984540054
MIN_POOL = 30
LEVELS = (80, 95)


def _models() -> dict[str, Callable[[], Any]]:
    from statsforecast.models import (
        MSTL,
        AutoETS,
        AutoTheta,
        HistoricAverage,
        SeasonalNaive,
    )

    return {
        "MSTL": lambda: MSTL(season_length=SEASON, alias="MSTL"),
        "AutoETS": lambda: AutoETS(season_length=SEASON, model="AZA", alias="AutoETS"),
        "AutoTheta": lambda: AutoTheta(season_length=SEASON, decomposition_type="additive",
                                       alias="AutoTheta"),
        "SeasonalNaive": lambda: SeasonalNaive(SEASON, alias="SeasonalNaive"),
        "HistoricAverage": lambda: HistoricAverage(alias="HistoricAverage"),
    }


MODEL_NAMES = tuple(_models())


def make_model(name: str) -> Any:
    try:
        return _models()[name]()
    except KeyError:
        raise ValueError(f"unknown forecast model {name!r}; "
                         f"choose from {', '.join(MODEL_NAMES)}") from None


def _sf(models: Sequence[str], n_series: int, n_jobs: int | None) -> Any:
    from statsforecast import StatsForecast

    jobs = n_jobs if n_jobs is not None else (min(os.cpu_count() or 1, 4)
                                              if n_series >= 40 else 1)
    return StatsForecast(models=[make_model(m) for m in models], freq="D", n_jobs=jobs,
                         fallback_model=make_model("SeasonalNaive"))


@contextmanager
def _quiet() -> Iterator[None]:
    """statsforecast warns on every series a model struggles with; the notes say enough."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass
class Calibration:
    """Standardized errors of cumulative sums from backtest windows.

    For a window starting the day after a cutoff, the error of the first k days' sum is
    ``e_k = sum(y) - sum(point)``; it is divided by ``s_k = sum(sigma_j)``, where
    ``sigma_j`` is the day's own 80% interval half-width / 1.2816 (the model's daily
    standard deviation; a plain sum, as if the daily errors were fully correlated). The
    ratios ``z`` are pooled over series and windows by k bucket (``K_EDGES``); a sum's
    interval is ``point + q(z) * s`` with the empirical quantiles of its bucket (normal
    quantiles with the bucket's RMS of z when it has fewer than ``MIN_POOL`` values, and
    plain normal quantiles, z ~ N(0, 1), when nothing was backtested).
    """

    z: list[np.ndarray] = field(default_factory=lambda: [np.empty(0) for _ in K_EDGES])

    def add(self, cv: pd.DataFrame, model_of: pd.Series) -> None:
        """Add the chosen model's windows (``cv`` from ``cross_validation`` with levels)."""
        if cv.empty:
            return
        chosen = model_of.reindex(cv["unique_id"]).to_numpy()
        point = np.zeros(len(cv))
        half = np.zeros(len(cv))
        for name in np.unique(chosen):
            rows = chosen == name
            point[rows] = cv[name].to_numpy()[rows]
            half[rows] = (cv[f"{name}-hi-80"].to_numpy()[rows]
                          - cv[f"{name}-lo-80"].to_numpy()[rows]) / 2
        frame = pd.DataFrame({"g": cv.groupby(["unique_id", "cutoff"], sort=False).ngroup(),
                              "e": cv["y"].to_numpy() - point, "s": half / Z80})
        grouped = frame.groupby("g", sort=False)
        frame["k"] = grouped.cumcount() + 1
        frame["E"] = grouped["e"].cumsum()
        frame["S"] = grouped["s"].cumsum()
        ok = frame["S"] > 0
        z = (frame["E"] / frame["S"]).to_numpy()[ok]
        k = frame["k"].to_numpy()[ok]
        bucket = np.minimum(np.searchsorted(K_EDGES, k), len(K_EDGES) - 1)
        for i in range(len(K_EDGES)):
            self.z[i] = np.concatenate([self.z[i], z[bucket == i]])

    def quantiles(self, k: int) -> dict[str, float]:
        """z quantiles for a sum over the first ``k`` days after the cutoff (the last
        bucket for k beyond the backtest horizon)."""
        z = self.z[min(int(np.searchsorted(K_EDGES, k)), len(K_EDGES) - 1)]
        z = z[np.isfinite(z)]
        if len(z) >= MIN_POOL:
            q = np.quantile(z, [0.025, 0.1, 0.9, 0.975])
            return {"lo95": q[0], "lo80": q[1], "hi80": q[2], "hi95": q[3]}
        scale = float(np.sqrt(np.mean(z**2))) if len(z) else 1.0
        return {"lo95": -Z95 * scale, "lo80": -Z80 * scale, "hi80": Z80 * scale,
                "hi95": Z95 * scale}

    @property
    def samples(self) -> int:
        return int(sum(len(z) for z in self.z))


@dataclass
class Fitted:
    daily: pd.DataFrame            # unique_id, ds, forecast, lo80, hi80, lo95, hi95
    model: dict[str, str]          # unique_id -> model name
    score: dict[str, float]        # unique_id -> backtest MAE of the chosen model
    calibration: Calibration


def _columns(fc: pd.DataFrame, model_of: pd.Series) -> pd.DataFrame:
    """Point and interval columns of each series' own model."""
    chosen = model_of.reindex(fc["unique_id"]).to_numpy()
    out = fc[["unique_id", "ds"]].copy()
    for col, suffix in (("forecast", ""), ("lo80", "-lo-80"), ("hi80", "-hi-80"),
                        ("lo95", "-lo-95"), ("hi95", "-hi-95")):
        values = np.full(len(fc), np.nan)
        for name in np.unique(chosen):
            rows = chosen == name
            values[rows] = fc[f"{name}{suffix}"].to_numpy()[rows]
        out[col] = values
    out["model"] = chosen
    return out


def select(df: pd.DataFrame, lengths: pd.Series, candidates: Sequence[str],
           n_jobs: int | None) -> tuple[pd.Series, dict[str, float], Calibration]:
    """Backtest ``candidates`` on the series long enough; the best per series by mean
    absolute daily error, and the calibration of the winners' cumulative errors."""
    cal = Calibration()
    model_of = pd.Series(candidates[0], index=lengths.index, dtype=object)
    scores: dict[str, float] = {}
    long = lengths[lengths >= CV_MIN]
    if long.empty:
        return model_of, scores, cal
    windows = int(np.clip(WINDOW_BUDGET // len(long), 2, MAX_WINDOWS))
    fits = np.minimum(windows, 1 + (long - CV_MIN) // CV_STEP).astype(int)
    for w in sorted(set(fits.tolist())):
        ids = fits.index[fits == w]
        part = df[df["unique_id"].isin(ids)]
        sf = _sf(candidates, len(ids), n_jobs)
        with _quiet():
            cv = sf.cross_validation(df=part, h=CV_H, n_windows=w, step_size=CV_STEP,
                                     level=[80], refit=False, input_size=CV_INPUT)
        err = cv[list(candidates)].sub(cv["y"], axis=0).abs()
        err["unique_id"] = cv["unique_id"].to_numpy()
        mae = err.groupby("unique_id").mean()
        best = mae.idxmin(axis=1)
        model_of.loc[best.index] = best
        for uid, name in best.items():
            scores[str(uid)] = float(mae.loc[uid, name])
        cal.add(cv, model_of)
    return model_of, scores, cal


def fit(df: pd.DataFrame, h: int, candidates: Sequence[str], n_jobs: int | None,
        train_days: int | None = None) -> Fitted:
    """Daily forecasts for ``h`` days after each series' last day (all series end on the
    same day), each from the model its length and the backtest chose; models see at most
    the last ``train_days`` days."""
    if train_days:
        df = df[df["ds"] > df["ds"].max() - pd.Timedelta(days=train_days)]
    lengths = df.groupby("unique_id", sort=False).size()
    nonzero = df.groupby("unique_id", sort=False)["y"].apply(lambda y: bool(np.any(y != 0)))
    model_of, scores, cal = select(df, lengths, candidates, n_jobs)
    model_of[lengths < FIT_MIN] = "SeasonalNaive"
    model_of[lengths < SEASONAL_MIN] = "HistoricAverage"
    model_of[~nonzero] = "zero"
    parts = []
    for name in model_of.unique():
        ids = model_of.index[model_of == name]
        if name == "zero":
            continue
        part = df[df["unique_id"].isin(ids)]
        sf = _sf([name], len(ids), n_jobs)
        with _quiet():
            fc = sf.forecast(df=part, h=h, level=list(LEVELS))
        parts.append(_columns(fc, model_of))
    last = df["ds"].max()
    zero = model_of.index[model_of == "zero"]
    if len(zero):
        days = pd.date_range(last + pd.Timedelta(days=1), periods=h, freq="D")
        z = pd.DataFrame({"unique_id": np.repeat(zero.to_numpy(), h),
                          "ds": np.tile(days.to_numpy(), len(zero))})
        for col in ("forecast", "lo80", "hi80", "lo95", "hi95"):
            z[col] = 0.0
        z["model"] = "zero"
        parts.append(z)
    daily = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["unique_id", "ds", "forecast", "lo80", "hi80", "lo95", "hi95", "model"])
    return Fitted(daily=daily, model=model_of.astype(str).to_dict(), score=scores,
                  calibration=cal)
