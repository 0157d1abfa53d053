"""Usage trend for purchase plans: a robust slope fitted on the lookback and an honest
projection forward (it reads the lookback only: nothing after the as-of point exists here).

Slope (dollars per hour, per hour): daily means ``m_0..m_{D-1}`` of the hourly rate; the
Theil-Sen slope (median of pairwise slopes ``(m_j - m_i) / (j - i)``) over the pairs whose
distance ``j - i`` is a whole number of weeks when the lookback holds two weeks or more (a
weekly pattern then cancels out of every pair), over all pairs otherwise; divided by 24.
Spikes move a median of pairwise slopes very little, unlike a least-squares fit.

Shrinkage: a slope is only as good as its noise. The residuals ``e_j = m_j - a - b*j``
(``a`` the median of ``m_j - b*j``; less the median residual of each weekday when the weekly
pairs are used) give a robust noise ``sigma = 1.4826 * median|e_j|`` and the least-squares
standard error of a slope over ``D`` days, ``se = sigma * sqrt(12 / (D^3 - D))``. The slope
used is ``b * max(0, 1 - (z * se / |b|)^2)``: a slope within ``z`` standard errors of zero is
taken as none, a clear one is kept nearly whole.

Projection: future step ``s`` (time ``t_s`` hours after the as-of) copies the lookback step
``j(s)`` at the same phase of the seasonal period ``P`` (a week when the lookback holds one,
else a day, else one step) -- cycling over the last whole periods of the lookback -- moved by
the trend between the two times, the trend held level after ``trend_hours``::

    p_s = max(0, r_j(s) + b * (min(t_s, trend_hours) - t_j(s)))
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

HOURS_PER_WEEK = 168


def robust_slope(rate: FloatArray, step_hours: int, z: float = 2.0) -> tuple[float, float]:
    """The (shrunk slope, raw slope) of the hourly rate, in dollars per hour per hour."""
    per_day = max(1, 24 // step_hours)
    days = rate.size // per_day
    if days < 3:
        return 0.0, 0.0
    tail = rate[rate.size - days * per_day:]
    daily = tail.reshape(days, per_day).mean(axis=1)
    i, j = np.triu_indices(days, k=1)
    lag = j - i
    if days >= 14:
        keep = lag % 7 == 0
        i, j, lag = i[keep], j[keep], lag[keep]
    raw = float(np.median((daily[j] - daily[i]) / lag))
    day = np.arange(days)
    resid = daily - raw * day
    resid = resid - np.median(resid)
    if days >= 14:
        for wd in range(7):
            resid[wd::7] -= np.median(resid[wd::7])
    sigma = 1.4826 * float(np.median(np.abs(resid)))
    se = sigma * np.sqrt(12.0 / (days**3 - days))
    shrunk = raw * max(0.0, 1.0 - (z * se / abs(raw)) ** 2) if raw else 0.0
    return shrunk / 24.0, raw / 24.0


def season_steps(n: int, step_hours: int) -> int:
    """The seasonal period in steps used to align the projection (week, day or one step)."""
    for hours in (HOURS_PER_WEEK, 24):
        period = max(1, hours // step_hours)
        if hours % step_hours == 0 and n >= period:
            return period
    return 1


def project(rate: FloatArray, step_hours: int, horizon_steps: int, slope: float,
            trend_hours: float) -> FloatArray:
    """The projected hourly rate for the ``horizon_steps`` steps after the lookback."""
    n = rate.size
    period = season_steps(n, step_hours)
    span = (n // period) * period
    s = np.arange(horizon_steps)
    j = n - span + (s % span)
    t_future = (s + 0.5) * step_hours
    t_past = (j - n + 0.5) * step_hours
    shifted = rate[j] + slope * (np.minimum(t_future, trend_hours) - t_past)
    return np.maximum(shifted, 0.0)
