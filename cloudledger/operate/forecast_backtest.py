"""Measured accuracy: forecasts made on given days of past months, scored against what
happened.

A forecast "made on day d" of a month sees the data through day d - 1 (the last complete
day) and forecasts the rest of the month with ``forecast_model.forecast(...,
"month-end")``. For each of the last ``months`` complete months and each day in ``days``:

- ``months``: unique_id, month, day, actual (the month's total), total (actual to date +
  forecast), error_pct ((total - actual) / |actual| * 100), lo80, hi80, lo95, hi95,
  covered80, covered95, model
- ``mase``: unique_id, day, mase (the forecast's daily MASE over the rest of the month,
  scaled by the in-sample MAE of the 7-day seasonal naive; utilsforecast's ``mase``) and
  mase_seasonal_naive (the same for a SeasonalNaive(7) forecast from the same day), the
  mean over the months.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Backtest", "backtest"]


@dataclass
class Backtest:
    months: pd.DataFrame
    mase: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per forecast day: MAPE of the month total, coverage of its 80% and 95%
        intervals, mean daily MASE of the forecast and of seasonal naive."""
        m = self.months.assign(ape=self.months["error_pct"].abs())
        out = m.groupby("day").agg(forecasts=("ape", "size"), mape=("ape", "mean"),
                                   max_ape=("ape", "max"), coverage80=("covered80", "mean"),
                                   coverage95=("covered95", "mean"))
        mase = self.mase.groupby("day")[["mase", "mase_seasonal_naive"]].mean()
        return out.join(mase).reset_index()


def backtest(df: pd.DataFrame, days: Sequence[int] = (7, 15), months: int = 6, *,
             steps: pd.DataFrame | None = None, **kwargs: Any) -> Backtest:
    """See the module docstring; ``kwargs`` go to ``forecast`` (models, n_jobs)."""
    from statsforecast import StatsForecast
    from utilsforecast.losses import mase

    from cloudledger.operate.forecast_fit import make_model
    from cloudledger.operate.forecast_model import forecast, prepare

    _, raw, _, last = prepare(df, None, None)
    last_ts = pd.Timestamp(last)
    final = last_ts.to_period("M")
    if last_ts != final.end_time.normalize():
        final -= 1
    month_list = [final - i for i in range(months)][::-1]
    actual = raw.assign(month=raw["ds"].dt.to_period("M")).groupby(
        ["unique_id", "month"])["y"].sum()
    rows, scores = [], []
    for month in month_list:
        for day in days:
            cutoff = month.start_time + pd.Timedelta(days=day - 2)
            hist = raw[raw["ds"] <= cutoff]
            if hist.empty:
                continue
            fc = forecast(hist, "month-end", last_day=cutoff.date(), steps=steps, **kwargs)
            p = fc.periods[fc.periods["kind"] == "month"].copy()
            p["actual"] = [actual.get((u, month), 0.0) for u in p["unique_id"]]
            p["month"] = str(month)
            p["day"] = day
            p["error_pct"] = ((p["total"] - p["actual"]) / p["actual"].abs().replace(0, np.nan)
                              * 100)
            p["covered80"] = (p["lo80"] <= p["actual"]) & (p["actual"] <= p["hi80"])
            p["covered95"] = (p["lo95"] <= p["actual"]) & (p["actual"] <= p["hi95"])
            p["model"] = p["unique_id"].map(fc.series.set_index("unique_id")["model"])
            rows.append(p[["unique_id", "month", "day", "actual", "total", "error_pct",
                           "lo80", "hi80", "lo95", "hi95", "covered80", "covered95",
                           "model"]])
            sn = StatsForecast(models=[make_model("SeasonalNaive")], freq="D").forecast(
                df=hist, h=len(fc.daily["ds"].unique()))
            daily = fc.daily.merge(sn, on=["unique_id", "ds"]).merge(
                raw, on=["unique_id", "ds"])
            train = hist[hist["unique_id"].isin(daily["unique_id"].unique())]
            score = mase(daily, models=["forecast", "SeasonalNaive"], seasonality=7,
                         train_df=train)
            score["day"] = day
            scores.append(score)
    out = pd.concat(rows, ignore_index=True)
    sc = pd.concat(scores, ignore_index=True).rename(
        columns={"forecast": "mase", "SeasonalNaive": "mase_seasonal_naive"})
    sc = sc.replace([np.inf, -np.inf], np.nan)
    sc = sc.groupby(["unique_id", "day"], as_index=False)[
        ["mase", "mase_seasonal_naive"]].mean()
    return Backtest(months=out, mase=sc)
