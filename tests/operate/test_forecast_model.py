"""forecast_model on generated series with known answers (trend, weekly pattern, steps)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cloudledger.operate.forecast_model import (
    backtest,
    forecast,
    horizon_end,
    prepare,
    with_total,
)

START = pd.Timestamp("2025-06-01")
LAST = date(2026, 3, 14)          # forecasts made on 2026-03-15; March has 17 days to go
WEEKLY = np.array([0, 0, 0, 0, 0, -25, -25.0])   # Monday..Sunday offsets


def expected(ds: pd.DatetimeIndex, level: float = 200, slope: float = 0.15,
             step_day: pd.Timestamp | None = None, step: float = 0.0) -> np.ndarray:
    """The noise-free cost of each day: level + slope * t + weekly pattern (+ step)."""
    t = (ds - START).days.to_numpy()
    y = level + slope * t + WEEKLY[ds.dayofweek.to_numpy()]
    if step_day is not None:
        y = y + step * (ds >= step_day)
    return np.asarray(y, dtype=float)


def frame(uid: str, ds: pd.DatetimeIndex, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y})


def history(end: date = LAST) -> pd.DatetimeIndex:
    return pd.date_range(START, pd.Timestamp(end), freq="D")


def noisy(y: np.ndarray, sd: float, seed: int) -> np.ndarray:
    return y + np.random.default_rng(seed).normal(0, sd, len(y))


def march_truth(**kw: float | pd.Timestamp) -> float:
    return float(expected(pd.date_range("2026-03-01", "2026-03-31"), **kw).sum())  # type: ignore[arg-type]


def test_month_total_within_2pct_of_truth_with_trend_season_and_step() -> None:
    ds = history()
    step_day = pd.Timestamp("2025-12-10")
    df = pd.concat([
        frame("trend", ds, noisy(expected(ds), 3, 1)),
        frame("stepped", ds, noisy(expected(ds, level=300, slope=0.05, step_day=step_day,
                                            step=-80), 3, 2)),
    ])
    fc = forecast(df, "month-end", last_day=LAST)
    p = fc.periods.set_index("unique_id")
    assert set(p["period"]) == {"2026-03"}
    assert (p["days_actual"] == 14).all() and (p["days_forecast"] == 17).all()
    truths = {"trend": march_truth(),
              "stepped": march_truth(level=300, slope=0.05, step_day=step_day, step=-80)}
    for uid, truth in truths.items():
        assert p.loc[uid, "total"] == pytest.approx(truth, rel=0.02), uid
        assert p.loc[uid, "lo95"] < truth < p.loc[uid, "hi95"], uid
    # actual to date is the raw sum of March 1..14
    march = df[(df["unique_id"] == "trend") & (df["ds"] >= "2026-03-01")]
    assert p.loc["trend", "actual_to_date"] == pytest.approx(march["y"].sum())


@pytest.mark.parametrize("horizon", ["month-end", "quarter-end", "12m"])
def test_intervals_are_ordered(horizon: str) -> None:
    ds = history()
    df = pd.concat([frame("a", ds, noisy(expected(ds), 10, 3)),
                    frame("b", ds, noisy(expected(ds, level=50, slope=-0.05), 8, 4))])
    fc = forecast(df, horizon, last_day=LAST)
    for table, point in ((fc.daily, "forecast"), (fc.periods, "total")):
        t = table
        assert (t["lo95"] <= t["lo80"]).all() and (t["lo80"] <= t[point]).all()
        assert (t[point] <= t["hi80"]).all() and (t["hi80"] <= t["hi95"]).all()
        assert (t["hi95"] > t["lo95"]).any()
    assert fc.daily["ds"].max() == pd.Timestamp(horizon_end(LAST, horizon))
    months = {"month-end": 1, "quarter-end": 1, "12m": 12}[horizon]
    assert (fc.periods["kind"] == "month").sum() == 2 * months
    if horizon != "month-end":   # the period total is the sum of its months
        tot = fc.periods[fc.periods["kind"] != "month"].set_index("unique_id")["total"]
        by_month = fc.periods[fc.periods["kind"] == "month"].groupby("unique_id")["total"]
        assert tot.to_dict() == pytest.approx(by_month.sum().to_dict())


def test_month_total_interval_is_not_the_sum_of_daily_bounds() -> None:
    """White noise around a level: daily errors are independent, so the month-to-go
    total's interval is far narrower than the sum of the daily half-widths."""
    ds = history()
    df = frame("flat", ds, noisy(np.full(len(ds), 100.0), 10, 5))
    fc = forecast(df, "month-end", last_day=LAST, models=("SeasonalNaive", "AutoETS"))
    p = fc.periods.iloc[0]
    daily_sum = (fc.daily["hi80"] - fc.daily["forecast"]).sum()
    assert p["hi80"] - p["total"] < 0.6 * daily_sum
    assert p["hi80"] > p["total"]


def test_short_zero_gappy_and_negative_series_do_not_crash_and_carry_notes() -> None:
    ds = history()
    rng = np.random.default_rng(6)
    keep = rng.random(len(ds)) > 0.3
    df = pd.concat([
        frame("normal", ds, noisy(expected(ds), 3, 7)),
        frame("five_days", ds[-5:], np.array([10, 12, 11, 13, 12.0])),
        frame("three_weeks", ds[-21:], noisy(expected(ds[-21:]), 2, 8)),
        frame("zero", ds, np.zeros(len(ds))),
        frame("gappy", ds[keep], noisy(expected(ds[keep]), 3, 9)),
        frame("credits", ds, np.where(ds.day == 1, -500.0, 20.0)),
    ])
    fc = forecast(df, "month-end", last_day=LAST)
    notes = fc.notes()
    assert "mean of the history" in " ".join(notes["five_days"])
    assert "seasonal naive" in " ".join(notes["three_weeks"])
    assert "all zero" in " ".join(notes["zero"])
    assert f"{(~keep).sum()} missing days filled with 0" in notes["gappy"]
    assert "normal" not in notes
    assert np.isfinite(fc.daily[["forecast", "lo80", "hi80", "lo95", "hi95"]]).all().all()
    zero = fc.periods.set_index("unique_id").loc["zero"]
    assert zero["total"] == 0 and zero["lo95"] == 0 and zero["hi95"] == 0
    assert set(fc.periods["unique_id"]) == set(df["unique_id"])


def test_known_future_step_moves_the_forecast_by_the_known_amount() -> None:
    ds = history()
    df = frame("svc", ds, noisy(expected(ds), 3, 10))
    base = forecast(df, "month-end", last_day=LAST)
    steps = pd.DataFrame({"unique_id": ["svc"], "ds": [date(2026, 3, 20)], "delta": [40.0]})
    moved = forecast(df, "month-end", last_day=LAST, steps=steps)
    diff = moved.daily.set_index("ds")["forecast"] - base.daily.set_index("ds")["forecast"]
    assert diff[diff.index < "2026-03-20"].abs().max() == pytest.approx(0, abs=1e-9)
    assert diff[diff.index >= "2026-03-20"].to_numpy() == pytest.approx(40.0)
    change = moved.periods["total"].iloc[0] - base.periods["total"].iloc[0]
    assert change == pytest.approx(40.0 * 12)          # March 20..31
    for col in ("lo80", "hi80", "lo95", "hi95"):
        assert moved.daily[col].iloc[-1] - base.daily[col].iloc[-1] == pytest.approx(40.0)


def test_known_past_step_is_taken_out_of_the_history() -> None:
    """A commitment bought a week ago cut the cost by 60/day: passing it as a step lets the
    model see one regime, and the forecast lands on the new level."""
    ds = history()
    day = pd.Timestamp("2026-03-08")
    y = noisy(expected(ds, step_day=day, step=-60), 2, 11)
    df = frame("svc", ds, y)
    steps = pd.DataFrame({"unique_id": ["svc"], "ds": [day], "delta": [-60.0]})
    truth = march_truth(step_day=day, step=-60)
    known = forecast(df, "month-end", last_day=LAST, steps=steps).periods["total"].iloc[0]
    assert known == pytest.approx(truth, rel=0.01)
    adjusted, raw, _, _ = prepare(df, LAST, steps)
    assert (adjusted["y"] - raw["y"]).to_numpy() == pytest.approx(
        np.where(raw["ds"] < day, -60.0, 0.0))


def test_horizon_ends() -> None:
    assert horizon_end(date(2026, 3, 14), "month-end") == date(2026, 3, 31)
    assert horizon_end(date(2026, 3, 31), "month-end") == date(2026, 4, 30)
    assert horizon_end(date(2026, 2, 14), "quarter-end") == date(2026, 3, 31)
    assert horizon_end(date(2026, 3, 14), "12m") == date(2027, 2, 28)
    with pytest.raises(ValueError, match="unknown horizon"):
        horizon_end(date(2026, 3, 14), "week-end")


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="missing: y"):
        forecast(pd.DataFrame({"unique_id": ["a"], "ds": [LAST]}))
    with pytest.raises(ValueError, match="unknown forecast model 'Prophet'"):
        forecast(frame("a", history(), np.ones(len(history()))), models=("Prophet",))


def test_with_total_and_backtest() -> None:
    ds = pd.date_range(START, "2026-02-28", freq="D")
    df = with_total(pd.concat([frame("a", ds, noisy(expected(ds), 3, 12)),
                               frame("b", ds, noisy(expected(ds, level=80), 3, 13))]))
    assert df[df["unique_id"] == "total"]["y"].sum() == pytest.approx(
        df[df["unique_id"] != "total"]["y"].sum())
    bt = backtest(df, days=(15,), months=2, models=("MSTL", "SeasonalNaive"))
    assert sorted(bt.months["month"].unique()) == ["2026-01", "2026-02"]
    assert len(bt.months) == 3 * 2
    assert bt.months["error_pct"].abs().max() < 3
    s = bt.summary()
    assert list(s["day"]) == [15]
    assert s["mase"].iloc[0] < s["mase_seasonal_naive"].iloc[0]
