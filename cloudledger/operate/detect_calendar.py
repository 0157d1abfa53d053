"""Calendar helpers of the detector: the seasonal period of a grid, same-day-of-month lags."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["month_offsets", "period_of"]

DAY = np.timedelta64(1, "D")


def step_of(grid: NDArray[np.datetime64]) -> np.timedelta64 | None:
    """The grid's spacing (median difference), None for fewer than two points."""
    if len(grid) < 2:
        return None
    return np.median(np.diff(grid.astype("datetime64[s]")).astype(np.int64)).astype(
        "timedelta64[s]")


def period_of(grid: NDArray[np.datetime64]) -> int | None:
    """Seasonal period in points: a week on daily data, a day on finer data, else None."""
    step = step_of(grid)
    if step is None or step <= np.timedelta64(0, "s"):
        return None
    day = DAY.astype("timedelta64[s]")
    if step == day:
        return 7
    if step < day and int(day.astype(np.int64)) % int(step.astype(np.int64)) == 0:
        return int(day.astype(np.int64) // step.astype(np.int64))
    return None


def month_offsets(grid: NDArray[np.datetime64], months: int) -> NDArray[np.int64] | None:
    """For every point of a daily grid, the indices of the same calendar day in prior months.

    Returns ``(n, 2, months)``: ``[t, 0, m]`` the same day of the month ``m + 1`` months
    earlier, ``[t, 1, m]`` the same number of days before month end; -1 where that day is not
    in the grid (before it starts, or the 31st of a 30-day month). None on non-daily grids.
    """
    step = step_of(grid)
    if step is None or step != DAY.astype("timedelta64[s]") or months <= 0:
        return None
    days = grid.astype("datetime64[D]")
    first = days[0]
    month = days.astype("datetime64[M]")
    dom = (days - month.astype("datetime64[D]")).astype(np.int64)  # 0-based
    to_end = ((month + 1).astype("datetime64[D]") - days).astype(np.int64)  # 1 on the last day
    out = np.full((len(days), 2, months), -1, dtype=np.int64)
    for m in range(months):
        prior = month - (m + 1)
        length = ((prior + 1).astype("datetime64[D]") - prior.astype("datetime64[D]")).astype(
            np.int64)
        same = prior.astype("datetime64[D]") + dom
        ok = dom < length
        before_end = (prior + 1).astype("datetime64[D]") - to_end
        ok_end = to_end <= length
        for kind, target, valid in ((0, same, ok), (1, before_end, ok_end)):
            idx = (target - first).astype(np.int64)
            good = valid & (idx >= 0) & (idx < len(days))
            out[:, kind, m] = np.where(good, idx, -1)
    return out
