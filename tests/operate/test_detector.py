"""The product's anomaly detector on generated daily cost series with known answers."""

from __future__ import annotations

import numpy as np

from cloudledger.operate.detector import DAILY, detect

DAYS = 200
DATES = np.datetime64("2024-01-01") + np.arange(DAYS)


def weekly(seed: int, level: float = 1000.0, noise: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weekday = (DATES.astype(np.int64) + 3) % 7
    season = np.where(weekday >= 5, 0.6, 1.0)
    return level * season * (1 + noise * rng.standard_normal(DAYS))


def alert_days(values: np.ndarray, start: int = 30) -> list[int]:
    al = detect(DATES, values).alerts[0]
    return [int(t) for t in np.flatnonzero(al) if t >= start]


def test_pure_weekly_seasonality_raises_nothing() -> None:
    for seed in range(5):
        assert alert_days(weekly(seed)) == []


def test_injected_spike_and_drop_found_on_their_day() -> None:
    for seed, day in ((1, 120), (2, 151), (3, 97)):
        y = weekly(seed)
        y[day] *= 2.0
        assert alert_days(y) == [day]
        y = weekly(seed)
        y[day] *= 0.3
        assert alert_days(y) == [day]


def test_level_shift_alerts_once_then_adapts() -> None:
    y = weekly(4)
    y[100:] *= 1.6
    res = detect(DATES, y)
    assert alert_days(y) == [100]
    eps = res.episodes()
    assert len(eps) == 1 and eps[0].level_shift and eps[0].direction == 1
    assert eps[0].end <= 105
    assert not res.is_anomaly[0, 110:].any()
    assert abs(res.expected[0, 150] / y[150] - 1) < 0.1


def test_batch_equals_single_series_and_is_online() -> None:
    ys = np.vstack([weekly(s) for s in range(3)])
    ys[1, 140] *= 3
    full = detect(DATES, ys)
    one = detect(DATES, ys[1])
    np.testing.assert_allclose(full.expected[1], one.expected[0])
    assert (full.is_anomaly[1] == one.is_anomaly[0]).all()
    # As of day 141 the run sees only days <= 141 and gives the same answers for them.
    asof = detect(DATES[:142], ys[:, :142])
    np.testing.assert_allclose(asof.score, full.score[:, :142])
    assert (asof.alerts == full.alerts[:, :142]).all()


def test_minimum_impact_filters_small_series() -> None:
    y = np.full(DAYS, 5.0) + 0.05 * np.random.default_rng(0).standard_normal(DAYS)
    y[120] = 8.0  # $3 on a $5 series: huge in z, too small in dollars
    assert alert_days(y) == []
    assert alert_days(y * 100) == [120]
    strict = detect(DATES, y * 100, DAILY.with_impact(min_abs=500.0, min_pct=0.1))
    assert not strict.is_anomaly.any()


def test_month_start_charge_is_learned() -> None:
    y = weekly(5)
    dom1 = (DATES - DATES.astype("datetime64[M]").astype("datetime64[D]")).astype(int) == 0
    y[dom1] += 3000.0
    days = alert_days(y, start=100)
    assert days == []


def test_degenerate_series_do_not_crash() -> None:
    zero = np.zeros(DAYS)
    short = np.full(DAYS, np.nan)
    short[-5:] = [10.0, 11.0, 500.0, 12.0, 10.0]
    gappy = weekly(6)
    gappy[50:70] = np.nan
    gappy[::9] = np.nan
    credits = -weekly(7)
    credits[150] *= 3  # a credit three times the usual
    res = detect(DATES, np.vstack([zero, short, gappy, credits]))
    assert np.isfinite(res.expected).all()
    assert not res.is_anomaly[0].any()
    assert not res.is_anomaly[1].any()  # too little history to judge
    assert not res.is_anomaly[2][np.isnan(gappy)].any()
    assert [int(t) for t in np.flatnonzero(res.alerts[2]) if t >= 30] == []
    assert [int(t) for t in np.flatnonzero(res.alerts[3]) if t >= 30] == [150]
    assert res.impact[3, 150] < 0 and res.severity[3, 150] >= 1


def test_tiny_inputs() -> None:
    assert detect(DATES[:1], [3.0]).is_anomaly.shape == (1, 1)
    assert detect(DATES[:0], np.zeros((2, 0))).score.shape == (2, 0)


def test_intermittent_series_no_alerts_on_usual_amounts() -> None:
    rng = np.random.default_rng(8)
    on = rng.random(DAYS) < 0.2
    y = np.where(on, 500.0 * (1 + 0.05 * rng.standard_normal(DAYS)), 0.0)
    assert alert_days(y, start=60) == []  # zeros are not drops, usual amounts not spikes
    y[150] = 5000.0  # ten times the usual amount is
    assert alert_days(y, start=60) == [150]


def test_young_series_waits_two_months_for_month_charges() -> None:
    y = weekly(9)
    y[:120] = np.nan  # the series starts on day 120 (2024-04-30)
    dom1 = (DATES - DATES.astype("datetime64[M]").astype("datetime64[D]")).astype(int) == 0
    y[dom1 & ~np.isnan(y)] += 3000.0  # month-start charges from the first month on
    assert alert_days(y) == []


def test_level_shift_down_into_noisier_data_adapts() -> None:
    rng = np.random.default_rng(10)
    y = weekly(10)
    y[100:] = 0.3 * y[100:] + 60.0 * rng.standard_normal(DAYS - 100)  # noise kept in money
    assert alert_days(y) == [100]


def _five_minute(n: int) -> np.ndarray:
    return np.datetime64("2024-01-01T00:00") + np.arange(n) * np.timedelta64(5, "m")


def test_nab_profile_finds_a_rise_of_the_noise_and_not_one_spike() -> None:
    # A 5-minute metric whose noise doubles for a while (no single point far out, mean
    # unchanged): the spread score finds it at once, the point scores only later; a lone spike
    # is found by the point score alone.
    from dataclasses import replace

    from cloudledger.operate.detector import NAB

    n = 1200
    rng = np.random.default_rng(11)
    y = 50.0 + rng.standard_normal(n)
    y[900:960] = 50.0 + 2.0 * np.clip(rng.standard_normal(60), -1.5, 1.5)
    grid = _five_minute(n)
    without = replace(NAB, alert=replace(NAB.alert, spread=0))
    found = [int(t) for t in np.flatnonzero(detect(grid, y, NAB).alerts[0]) if t >= 600]
    assert found and 900 <= found[0] <= 903  # nothing before, found within 20 minutes
    later = np.flatnonzero(detect(grid, y, without).alerts[0, 600:]) + 600
    assert later[0] >= 906

    spike = 50.0 + rng.standard_normal(n)
    spike[1000] = 70.0
    res = detect(grid, spike, NAB)
    assert [int(t) for t in np.flatnonzero(res.alerts[0]) if t >= 600] == [1000]
    # Online: a run that ends at point 930 gives the same scores for the points it saw.
    part = detect(grid[:931], y[:931], NAB)
    np.testing.assert_allclose(part.score[0], detect(grid, y, NAB).score[0, :931])
