"""Usage trend for purchase plans: a robust line fitted on the lookback and an honest
projection forward (it reads the lookback only: nothing after the as-of point exists here).

Fit. Daily medians ``m_0..m_{D-1}`` of the hourly rate (a median, so that spikes and bursts
barely move it); the Theil-Sen slope ``b`` (median of the pairwise slopes
``(m_j - m_i) / (j - i)``) over the pairs whose distance is a whole number of weeks when the
lookback holds two weeks or more (a weekly pattern then cancels out of every pair), over all
pairs otherwise. The level ``a`` is the median of ``m_j - b * (j - (D - 1) / 2)``: the line's
value in the middle of the lookback.

Noise and shrinkage. ``sigma`` is the robust spread of the daily medians around the line
and their weekly pattern, taken from the differences one week apart
(``1.4826 * median|g - median g| / sqrt 2``, ``g_j = m_{j+7} - m_j``) or from consecutive days
when the lookback is shorter; ``se = sigma * sqrt(12 / (D^3 - D))`` is the least-squares
standard error of a slope over ``D`` days. The slope used is
``b * max(0, 1 - (z * se / |b|)^2)``: a slope within ``z`` standard errors of zero is taken
as none, a clear one is kept nearly whole.

Projection. Future step ``s`` (``t_s`` hours after the as-of) copies the lookback step ``j(s)``
at the same phase of the seasonal period (a week when the lookback holds one, else a day,
else one step; cycling over the last whole periods) and scales it by the trend line between
the two times, the line held level after ``trend_hours``::

    L(t) = a + b * (t - t_mid)          (t_mid: the middle of the lookback)
    p_s = r_j(s) * L(min(t_s, trend_hours)) / L(t_j(s))

(the usage's shape scales with its level, as it does when a fleet grows or shrinks); the
ratio is clipped to ``[0, 10]`` and where the line is not positive at ``t_j(s)`` the shift is
additive,
``p_s = max(0, r_j(s) + L(min(t_s, trend_hours)) - L(t_j(s)))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

HOURS_PER_WEEK = 168


def _spread(diffs: FloatArray) -> float:
    """The noise of one value from differences of pairs: 1.4826 * MAD / sqrt 2."""
    return 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / float(np.sqrt(2.0))


@dataclass(frozen=True)
class Trend:
    """A line through the lookback's hourly rate: ``level`` at ``t_mid`` hours relative to
    the as-of (negative: in the past), ``slope`` used and ``raw_slope`` fitted in $/h per
    hour, ``se`` the slope's standard error."""

    level: float = 0.0
    t_mid: float = 0.0
    slope: float = 0.0
    raw_slope: float = 0.0
    se: float = 0.0

    def at(self, t: FloatArray) -> FloatArray:
        out: FloatArray = self.level + self.slope * (t - self.t_mid)
        return out


def fit_trend(rate: FloatArray, step_hours: int, z: float = 2.0) -> Trend:
    """The robust, shrunk trend line of the lookback ``rate`` (see the module docstring)."""
    per_day = max(1, 24 // step_hours)
    days = rate.size // per_day
    if days < 3:
        return Trend(level=float(np.median(rate)) if rate.size else 0.0,
                     t_mid=-rate.size * step_hours / 2.0)
    tail = rate[rate.size - days * per_day:]
    daily = np.median(tail.reshape(days, per_day), axis=1)
    i, j = np.triu_indices(days, k=1)
    lag = j - i
    weekly = days >= 14
    if weekly:
        keep = lag % 7 == 0
        i, j, lag = i[keep], j[keep], lag[keep]
    raw = float(np.median((daily[j] - daily[i]) / lag))
    sigma = _spread(daily[7:] - daily[:-7]) if weekly else _spread(np.diff(daily))
    se = sigma * float(np.sqrt(12.0 / (days**3 - days)))
    shrunk = raw * max(0.0, 1.0 - (z * se / abs(raw)) ** 2) if raw else 0.0
    centre = (days - 1) / 2.0
    level = float(np.median(daily - raw * (np.arange(days) - centre)))
    t_mid = -(days * 24) / 2.0
    return Trend(level=level, t_mid=t_mid, slope=shrunk / 24.0, raw_slope=raw / 24.0,
                 se=se / 24.0)


def season_steps(n: int, step_hours: int) -> int:
    """The seasonal period in steps used to align the projection (week, day or one step)."""
    for hours in (HOURS_PER_WEEK, 24):
        period = max(1, hours // step_hours)
        if hours % step_hours == 0 and n >= period:
            return period
    return 1


def project(rate: FloatArray, step_hours: int, horizon_steps: int, trend: Trend,
            trend_hours: float) -> FloatArray:
    """The projected hourly rate for the ``horizon_steps`` steps after the lookback."""
    n = rate.size
    period = season_steps(n, step_hours)
    span = (n // period) * period
    s = np.arange(horizon_steps)
    j = n - span + (s % span)
    base = rate[j]
    if trend.slope == 0.0:
        return base.copy()
    t_future: FloatArray = np.minimum((s + 0.5) * step_hours, trend_hours).astype(np.float64)
    t_past: FloatArray = ((j - n + 0.5) * step_hours).astype(np.float64)
    to, frm = trend.at(t_future), trend.at(t_past)
    positive = frm > 0
    ratio = np.clip(np.divide(to, frm, out=np.ones_like(to), where=positive), 0.0, 10.0)
    shifted = np.where(positive, base * ratio, base + to - frm)
    return np.maximum(shifted, 0.0)
