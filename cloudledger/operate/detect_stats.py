"""Row-wise statistics of the detector (batch of series x window), the month charges, and
the re-basing of a series at a level shift."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["kth_largest_rows", "month_effect", "nanmedian_rows", "rebase", "robust_scale"]

FloatArray = NDArray[np.float64]


def nanmedian_rows(x: FloatArray) -> FloatArray:
    """Row medians ignoring NaN (NaN for an empty row); faster than ``np.nanmedian`` here."""
    if x.shape[1] == 0:
        return np.full(x.shape[0], np.nan)
    srt = np.sort(x, axis=1)  # NaN sort last
    n = np.sum(~np.isnan(x), axis=1)
    lo = np.clip((n - 1) // 2, 0, None)
    hi = np.clip(n // 2, 0, None)
    a = np.take_along_axis(srt, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(srt, hi[:, None], axis=1)[:, 0]
    return np.where(n > 0, 0.5 * (a + b), np.nan)


def robust_scale(absr: FloatArray, meanabs_floor: float) -> FloatArray:
    """1.4826 x the median of absolute residuals, at least ``meanabs_floor`` x 1.2533 x their
    mean (a sparse series has a median of 0); 0 for a row without any."""
    if absr.shape[1] == 0:
        return np.zeros(absr.shape[0])
    mad = 1.4826 * np.nan_to_num(nanmedian_rows(absr))
    return np.maximum(mad, meanabs_floor * 1.2533 * np.nan_to_num(np.nanmean(absr, axis=1)))


def kth_largest_rows(x: FloatArray, k: int) -> FloatArray:
    """The k-th largest value of each row (0 when the row has fewer than k values)."""
    if x.shape[1] < k:
        return np.zeros(x.shape[0])
    return -np.partition(-x, k - 1, axis=1)[:, k - 1]


def rebase(s: int, first: int, stop: int, y: FloatArray, accepted: FloatArray,
            deviation: FloatArray, sfac: FloatArray, mon: FloatArray, relative: bool) -> None:
    """Start series ``s``'s new regime at ``first``: its points (anomalous until now) become
    the level's history, deseasonalised with the seasonal factors of their phase, and the
    seasonal profile of those points is rebuilt around the new level."""
    vals = y[s, first:stop] - mon[s, first:stop]
    fac = sfac[s, first:stop]
    med = float(np.nanmedian(vals)) if np.isfinite(vals).any() else 0.0
    sgn = 1.0 if med >= 0 else -1.0
    des = vals / np.maximum(1.0 + sgn * fac, 0.2) if relative else vals - fac * abs(med)
    accepted[s, first:stop] = des
    new_level = float(np.nanmedian(des)) if np.isfinite(des).any() else 0.0
    if abs(new_level) > 1e-9:
        deviation[s, first:stop] = (vals - new_level) / abs(new_level)


def month_effect(raw_resid: FloatArray, raw_z: FloatArray, lags: NDArray[np.int64],
                  z_min: float) -> tuple[FloatArray, FloatArray]:
    """Charges on the same calendar day in the prior months, agreeing in sign (else 0).

    ``lags`` is ``(2, months)``: the indices of the same day of the month and of the same day
    before month end in the prior months (-1 where outside the data). A charge counts when
    every prior month seen (at least two, or all of them when fewer are asked) showed it with
    one sign, by a median of ``z_min`` times the noise of its day: their median is expected,
    and half their range is returned as its uncertainty.
    """
    best = np.zeros(raw_resid.shape[0])
    spread = np.zeros(raw_resid.shape[0])
    need = min(2, lags.shape[1])
    for row in lags:
        row = row[row >= 0]
        if len(row) < need:
            continue
        vals = raw_resid[:, row]
        seen = np.isfinite(vals)
        big = nanmedian_rows(np.where(seen, np.abs(raw_z[:, row]), np.nan)) >= z_min
        enough = (seen.sum(axis=1) >= need) & big
        pos = np.all(~seen | (vals > 0), axis=1)
        neg = np.all(~seen | (vals < 0), axis=1)
        mag = np.where(seen, np.abs(vals), np.nan)
        eff = np.nan_to_num(np.where(enough & pos, 1.0, np.where(enough & neg, -1.0, 0.0))
                            * nanmedian_rows(mag))
        var = np.nan_to_num(0.5 * (np.nanmax(mag, axis=1) - np.nanmin(mag, axis=1)))
        take = np.abs(eff) > np.abs(best)
        best = np.where(take, eff, best)
        spread = np.where(take, var, spread)
    return best, spread
