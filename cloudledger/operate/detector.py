"""Online anomaly detection for cost (and metric) series: the detector the product uses.

One pass over time, vectorised across series, using at each point only the points before it,
so a run "as of" a day gives, for every earlier day, exactly what a daily run on that day gave.

API (what ``cloudledger anomalies`` calls)::

    from cloudledger.operate.detector import DAILY, HOURLY, detect

    result = detect(dates, values)                  # values: (n,) one series or (S, n) a batch
    result = detect(dates, values, DAILY.with_impact(min_abs=25.0, min_pct=0.2))
    result.expected[s, t]      # the baseline the point was compared with (level + week + month)
    result.score[s, t]         # anomaly score; >= config.alert.threshold (1.0) is anomalous
    result.is_anomaly[s, t]    # bool, after the minimum dollar and % impact filters
    result.impact[s, t]        # value - expected (money; negative = below the baseline)
    result.severity[s, t]      # 0 none, 1 low, 2 medium, 3 high (SEVERITIES names them)
    result.episode_start[s, t] # index of the first point of the anomaly episode, -1 if none
    result.alerts              # bool: the first point of each episode (alert once per episode)
    result.episodes()          # [Episode(series, start, end, direction, peak_score, impact...)]

``dates`` is a 1-D array (anything ``numpy.datetime64`` accepts) on a regular grid, shared by
the batch; ``values`` hold NaN for missing points (gaps are skipped, never alerted). Daily data
gets weekly seasonality and day-of-month charges; hourly and finer data a daily season.

How a point is judged (all robust, all online):

* level: median of the last ``level_window`` accepted points of the current regime, plus a
  damped trend (difference of the medians of the two halves of that window; only once the
  regime fills the window);
* season: median deviation from the level at the same phase in the last ``seasons`` periods;
* month: a charge seen on the same day of the month (or the same day before month end) in the
  prior months (at least two of the last ``months``), with one sign and a median size of
  ``month_z`` x the noise, is expected (their median; half their range adds to the scale);
* scale: 1.4826 x MAD of recent accepted residuals, floored by ``scale_floor_pct`` of the level
  and by a fraction of the mean absolute residual (sparse series have a MAD of 0). With
  ``relative`` (costs) residuals are measured against the expected usage (level + season,
  not the month charges), so a weekend day gets its own, smaller, noise in money;
* intermittent series (zero on ``intermittent`` of recent points): no season, no month charges,
  no drop alerts, and residuals against their typical non-zero amount;
* z = (value - expected) / scale; score = |z| / max(z_min, the ``recurrence``-th largest z in
  the same direction over the last ``memory`` points): a deviation that keeps recurring (a
  nightly batch spike) stops being news;
* optional short-window scores (both off in the cost profiles, on in :data:`NAB`): the mean
  residual of the last ``smooth`` points (a small sustained shift) and, with ``spread``, a rise
  of the noise: the mean |residual| of the last ``spread`` points without their largest, as a
  z under the current scale; each has its own recurrence memory and the score is the largest;
* anomalous when score >= threshold and |impact| >= ``min_abs`` and >= ``min_pct`` x |expected|
  (``$3 on a $5 series`` is not an alert); anomalous points feed neither the baseline nor the
  seasonal profile. On a daily grid a series is judged from two months after its first
  ``min_history`` points (a day-of-month charge is known only after two months);
* episodes: anomalous points closer than ``merge_gap`` points form one episode; an episode
  that keeps one sign for ``shift_confirm`` points (points past ``shift_weak`` x threshold on
  the same side count too) is a level shift: the baseline restarts from the episode's first
  point, deseasonalised with its phase's seasonal factor, and the seasonal profile of those
  points is rebuilt around the new level (it adapts, it does not alert every day after a
  step). For ``settle`` points after it, same-signed anomalies continue that episode (a ramp
  is one alert). The new regime's noise is learned from its own points once it has
  ``min_history`` of them (until then, at least the old noise in money); a shifted series'
  noise in money stays a floor, since a drop need not shrink the noise with the level.

Profiles: :data:`DAILY` (the product default for daily costs), :data:`HOURLY`, and
:data:`NAB` (5-minute metrics, the settings ``bench/nab.py`` scores with on every file).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cloudledger.operate.detect_calendar import month_offsets, period_of
from cloudledger.operate.detect_stats import (
    kth_largest_rows,
    month_effect,
    nanmedian_rows,
    rebase,
    robust_scale,
)

__all__ = [
    "DAILY",
    "HOURLY",
    "NAB",
    "SEVERITIES",
    "AlertConfig",
    "BaselineConfig",
    "Detection",
    "DetectorConfig",
    "Episode",
    "detect",
]

FloatArray = NDArray[np.float64]
SHIFT_MONEY = 1.0
MEAN_ABS_Z = float(np.sqrt(2.0 / np.pi))  # E|Z| and sd|Z| of a standard normal
SD_ABS_Z = float(np.sqrt(1.0 - 2.0 / np.pi))
SEVERITIES = ("none", "low", "medium", "high")


@dataclass(frozen=True)
class BaselineConfig:
    """How the expected value and the noise scale are estimated (windows in points)."""

    level_window: int = 28
    scale_window: int = 56
    seasons: int = 4
    period: int | None = None  # None: from the grid (7 on daily data, 1 day below daily)
    trend: float = 0.3  # damping of the trend term; 0 turns it off
    months: int = 3  # prior months that must show a day-of-month charge; 0 turns it off
    month_z: float = 2.0  # ... beyond this many times the noise, each month
    scale_floor_pct: float = 0.01
    scale_floor_meanabs: float = 1.0  # scale >= this x 1.2533 x mean |residual|
    relative: bool = True  # noise proportional to the expected value (costs), else additive
    intermittent: float = 0.3  # zero on this share of recent points: no season, month, drops


@dataclass(frozen=True)
class AlertConfig:
    """When a deviation is an anomaly, and how anomalies group into episodes."""

    threshold: float = 1.0
    z_min: float = 4.0
    memory: int = 90
    recurrence: int = 3
    margin: float = 0.5  # a deviation within (1 + margin) x a recurring one is not news
    smooth: int = 0  # also score the mean residual of the last `smooth` points (0: off)
    spread: int = 0  # also score a rise of the noise over the last `spread` points (0: off)
    min_history: int = 14
    merge_gap: int = 1
    shift_confirm: int = 3
    shift_weak: float = 0.5  # see _run: points this close to anomalous extend a shift run
    settle: int = 14  # after a level shift, same-signed anomalies this close continue it
    min_abs: float = 10.0
    min_pct: float = 0.1


@dataclass(frozen=True)
class DetectorConfig:
    """A detector profile: the baseline and the alert settings."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)

    def with_impact(self, min_abs: float, min_pct: float) -> DetectorConfig:
        """The same profile with another minimum impact (per scope: team, service, account)."""
        return replace(self, alert=replace(self.alert, min_abs=min_abs, min_pct=min_pct))

    def with_threshold(self, threshold: float) -> DetectorConfig:
        """The same profile with another score threshold."""
        return replace(self, alert=replace(self.alert, threshold=threshold))


DAILY = DetectorConfig()
HOURLY = DetectorConfig(
    BaselineConfig(level_window=72, scale_window=168, seasons=7, months=0),
    AlertConfig(memory=24 * 14, min_history=48, merge_gap=3, shift_confirm=6, settle=48),
)
NAB = DetectorConfig(
    BaselineConfig(level_window=48, scale_window=864, seasons=0, trend=0.0, months=0,
                   scale_floor_pct=0.0, scale_floor_meanabs=0.08, relative=False,
                   intermittent=0.0),
    AlertConfig(threshold=1.1, z_min=3.0, memory=1440, recurrence=1, margin=0.0, min_history=48,
                merge_gap=24, shift_confirm=24, shift_weak=1.0, settle=0, min_abs=0.0, min_pct=0.0,
                smooth=12, spread=12),
)


@dataclass(frozen=True)
class Episode:
    """A run of anomalous points of one series (indices into the date grid, inclusive)."""

    series: int
    start: int
    end: int
    direction: int  # +1 above the baseline, -1 below
    peak_score: float
    impact: float  # summed value - expected over the episode's anomalous points
    severity: int
    level_shift: bool  # the baseline re-based on this episode


@dataclass
class Detection:
    """Per-point results, each ``(series, points)``; see the module docstring."""

    dates: NDArray[np.datetime64]
    expected: FloatArray
    score: FloatArray
    z: FloatArray
    is_anomaly: NDArray[np.bool_]
    impact: FloatArray
    severity: NDArray[np.int8]
    episode_start: NDArray[np.int64]
    shift_at: NDArray[np.bool_]

    @property
    def alerts(self) -> NDArray[np.bool_]:
        """The first point of every episode: where a daily run raises (once) an alert."""
        idx = np.arange(self.is_anomaly.shape[1])
        return self.is_anomaly & (self.episode_start == idx[None, :])

    def episodes(self) -> list[Episode]:
        """Every episode, in series then time order."""
        out: list[Episode] = []
        for s, t0 in zip(*np.nonzero(self.alerts), strict=True):
            members = np.flatnonzero(self.is_anomaly[s] & (self.episode_start[s] == t0))
            imp = float(self.impact[s, members].sum())
            out.append(Episode(int(s), int(t0), int(members[-1]), 1 if imp >= 0 else -1,
                               float(self.score[s, members].max()), imp,
                               int(self.severity[s, members].max()),
                               bool(self.shift_at[s, members].any())))
        return out





def detect(dates: ArrayLike, values: ArrayLike, config: DetectorConfig = DAILY) -> Detection:
    """Score every point of one series ``(n,)`` or a batch ``(S, n)`` online.

    ``dates`` is the shared, regular grid of the points. The result is always 2-D
    ``(S, n)`` (``S = 1`` for one series).
    """
    grid = np.asarray(dates, dtype="datetime64[s]")
    y = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if y.ndim != 2 or y.shape[1] != grid.shape[0]:
        raise ValueError(f"values of shape {np.shape(values)} do not match {len(grid)} dates")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _run(grid, y, config)


def _run(grid: NDArray[np.datetime64], y: FloatArray, cfg: DetectorConfig) -> Detection:
    b, a = cfg.baseline, cfg.alert
    n_series, n = y.shape
    period = b.period if b.period is not None else period_of(grid)
    offsets = month_offsets(grid, b.months) if b.months > 0 else None
    finite = np.isfinite(y)
    y0 = np.where(finite, y, 0.0)
    zero_col = np.zeros((n_series, 1))
    c_abs = np.concatenate([zero_col, np.cumsum(np.abs(y0), axis=1)], axis=1)
    c_cnt = np.concatenate([zero_col, np.cumsum(finite, axis=1)], axis=1)
    c_zero = np.concatenate([zero_col, np.cumsum(finite & (y0 == 0.0), axis=1)], axis=1)
    accepted = np.where(finite, y, np.nan)  # deseasonalised values the level learns from
    sfac = np.zeros_like(y)  # the seasonal factor (relative to |level|) used at each point
    mon = np.zeros_like(y)  # the month charge expected at each point
    deviation = np.full_like(y, np.nan)  # (value - level) / |level|, the seasonal profile
    residual = np.full_like(y, np.nan)  # value - expected at accepted points, for the scale
    raw_resid = np.full_like(y, np.nan)  # value - (level + season) at every point, for months
    money = np.full_like(y, np.nan)  # residual (money) at accepted points
    raw_z = np.zeros_like(y)  # the same over the scale of its day
    zhist = np.zeros_like(y)  # signed residual (in units of the norm), the recurrence memory
    zshist = np.zeros_like(y)  # the same for the smoothed residual
    sphist = np.zeros_like(y)  # the mean |residual| (money) over the spread window
    resid_all = np.full_like(y, np.nan)
    expected = np.full_like(y, np.nan)
    zs = np.zeros_like(y)
    score = np.zeros_like(y)
    flag = np.zeros(y.shape, dtype=bool)
    ep_start = np.full(y.shape, -1, dtype=np.int64)
    shift_at = np.zeros(y.shape, dtype=bool)
    regime = np.zeros(n_series, dtype=np.int64)
    seen = np.zeros(n_series, dtype=np.int64)
    cur_start = np.full(n_series, -1, dtype=np.int64)
    last_flag = np.full(n_series, -(10**9), dtype=np.int64)
    run_len = np.zeros(n_series, dtype=np.int64)
    run_sign = np.zeros(n_series, dtype=np.int64)
    settle_until = np.full(n_series, -1, dtype=np.int64)
    settle_sign = np.zeros(n_series, dtype=np.int64)
    settle_ep = np.full(n_series, -1, dtype=np.int64)
    cols = np.arange(n)
    warm_cnt = c_cnt[:, 1:] >= a.min_history  # the first point judged of each series
    warm_at = np.where(warm_cnt.any(axis=1), np.argmax(warm_cnt, axis=1), n) if n else (
        np.zeros(n_series, dtype=np.int64))
    half = max(b.level_window // 2, 1)

    for t in range(n):
        lo = max(0, t - b.level_window)
        win = accepted[:, lo:t]
        if (regime > lo).any():
            win = np.where(cols[None, lo:t] < regime[:, None], np.nan, win)
        level = nanmedian_rows(win)
        if b.trend > 0 and t - lo >= 2 * half:
            slope = (nanmedian_rows(win[:, -half:]) - nanmedian_rows(win[:, :half])) / half
            slope = np.where(regime <= lo, np.nan_to_num(slope), 0.0)  # a whole regime only
            level = level + b.trend * slope * (win.shape[1] + 1) / 2.0
        slo = max(0, t - b.scale_window)
        cnt = c_cnt[:, t] - c_cnt[:, slo]
        mag = (c_abs[:, t] - c_abs[:, slo]) / np.maximum(cnt, 1.0)
        sparse = np.zeros(n_series, dtype=bool)
        if b.intermittent > 0:
            sparse = (cnt > 0) & (c_zero[:, t] - c_zero[:, slo] >= b.intermittent * cnt)
        fac = np.zeros(n_series)
        if period and period > 1 and b.seasons > 0 and t >= period:
            lags = t - period * np.arange(1, b.seasons + 1)
            lags = lags[lags >= 0]
            fac = np.where(sparse, 0.0, np.nan_to_num(nanmedian_rows(deviation[:, lags])))
        season = np.abs(np.nan_to_num(level)) * fac
        base = level + season
        month = np.zeros(n_series)
        month_unc = np.zeros(n_series)
        if offsets is not None:
            month, month_unc = month_effect(raw_resid, raw_z, offsets[t], b.month_z)
            month = np.where(sparse, 0.0, month)
        exp_t = base + month
        exp_t = np.where(np.isnan(exp_t), 0.0, exp_t)
        resid = y[:, t] - exp_t
        norm = np.ones(n_series)
        if b.relative:  # the noise scales with the usage (not with month charges)
            nonzero = cnt - (c_zero[:, t] - c_zero[:, slo])
            typical = (c_abs[:, t] - c_abs[:, slo]) / np.maximum(nonzero, 1.0)
            norm = np.where(sparse, typical, np.maximum(np.abs(np.nan_to_num(base)), 0.1 * mag))
        norm = np.maximum(norm, 1e-9)
        unit = robust_scale(np.abs(residual[:, slo:t]), b.scale_floor_meanabs)
        noise = unit * norm
        moved = np.flatnonzero(regime > 0) if b.relative else np.zeros(0, dtype=np.int64)
        if len(moved):
            # After a level shift the noise is re-learned from the new regime once it has
            # `min_history` points; until then it is at least the old regime's (in money).
            # A shifted series may not keep its noise proportional: the new regime's noise
            # in money is a floor too.
            sub = residual[moved, slo:t]
            mine = cols[None, slo:t] >= regime[moved, None]
            n_mine = np.sum(mine & np.isfinite(sub), axis=1)
            own = robust_scale(np.abs(np.where(mine, sub, np.nan)), b.scale_floor_meanabs)
            msub = money[moved, slo:t]
            own_money = robust_scale(np.abs(np.where(mine, msub, np.nan)),
                                      b.scale_floor_meanabs)
            old = robust_scale(np.abs(msub), b.scale_floor_meanabs)
            noise[moved] = np.where(n_mine >= a.min_history,
                                    np.maximum(own * norm[moved], SHIFT_MONEY * own_money),
                                    np.maximum(noise[moved], old))
        scale = np.maximum.reduce([np.hypot(noise, month_unc),
                                   b.scale_floor_pct * np.abs(exp_t), np.full(n_series, 1e-9)])
        unit = scale / norm  # the scale in units of the norm
        z = np.where(finite[:, t], resid / scale, 0.0)
        mlo = max(0, t - a.memory)
        mem = zhist[:, mlo:t]
        ref_up = kth_largest_rows(np.maximum(mem, 0.0), a.recurrence)
        ref_dn = kth_largest_rows(np.maximum(-mem, 0.0), a.recurrence)
        ref = np.where(z >= 0, ref_up, ref_dn) / unit
        warm = seen >= a.min_history
        judge = warm  # ... and two months after that (to know day-of-month charges)
        if offsets is not None:
            back = offsets[t, :, min(2, b.months) - 1].max()
            judge = warm & (back >= 0) & (warm_at <= back)
        sc = np.where(judge, np.abs(z) / np.maximum(a.z_min, ref * (1 + a.margin)), 0.0)
        resid_all[:, t] = np.where(finite[:, t], resid, np.nan)
        if a.smooth > 1:
            zsm = np.nan_to_num(np.nanmean(resid_all[:, max(0, t - a.smooth + 1):t + 1], axis=1)
                                ) * np.sqrt(a.smooth) / scale
            msm = zshist[:, mlo:t] / unit[:, None]
            rsm = np.where(zsm >= 0, kth_largest_rows(np.maximum(msm, 0.0), a.recurrence),
                           kth_largest_rows(np.maximum(-msm, 0.0), a.recurrence))
            ssm = np.where(judge, np.abs(zsm) / np.maximum(a.z_min, rsm * (1 + a.margin)), 0.0)
            zshist[:, t] = np.where(warm, zsm * unit, 0.0)
            sc = np.maximum(sc, ssm)
        if a.spread > 1:
            # A rise of the noise: the mean |residual| of the last `spread` points without
            # their largest (one spike is the point score's news, not a noisier series), as a
            # z of that mean under the current scale (|N(0,1)|: mean 0.798, sd 0.603).
            mabs, kk = _trimmed_mean_abs(resid_all[:, max(0, t - a.spread + 1):t + 1])
            zsp = (mabs / scale - MEAN_ABS_Z) * kk / SD_ABS_Z
            msp = (sphist[:, mlo:t] / scale[:, None] - MEAN_ABS_Z) * kk[:, None] / SD_ABS_Z
            rsp = kth_largest_rows(np.maximum(msp, 0.0), a.recurrence)
            ssp = np.where(judge, np.maximum(zsp, 0.0) / np.maximum(a.z_min, rsp * (1 + a.margin)),
                           0.0)
            sphist[:, t] = np.where(warm, mabs, 0.0)
            sc = np.maximum(sc, ssp)
        is_an = (finite[:, t] & (sc >= a.threshold) & ~(sparse & (resid < 0))
                 & (np.abs(resid) >= a.min_abs) & (np.abs(resid) >= a.min_pct * np.abs(exp_t)))

        # Episodes, and level shifts confirmed by a long one-signed run.
        sign = np.sign(resid).astype(np.int64)
        cont = is_an & (t <= settle_until) & (sign == settle_sign)
        new_ep = is_an & (t - last_flag > a.merge_gap + 1) & ~cont
        cur_start = np.where(new_ep, t, np.where(cont, settle_ep, cur_start))
        last_flag = np.where(is_an, t, last_flag)
        same = is_an & (run_len > 0) & (sign == run_sign)
        # A point short of an anomaly but past `shift_weak` x threshold on the same side
        # carries a level-shift run on (a shift into noisier data is not anomalous every day).
        weak = (~is_an & finite[:, t] & (run_len > 0) & (sign == run_sign)
                & (sc >= a.shift_weak * a.threshold))
        run_len = np.where(is_an, np.where(same, run_len + 1, 1),
                           np.where(weak, run_len + 1, np.where(finite[:, t], 0, run_len)))
        run_sign = np.where(is_an, sign, run_sign)

        expected[:, t] = exp_t
        zs[:, t] = z
        score[:, t] = sc
        flag[:, t] = is_an
        ep_start[:, t] = np.where(is_an, cur_start, -1)
        ok = finite[:, t] & ~is_an
        accepted[:, t] = np.where(ok, y[:, t] - season, np.nan)
        sfac[:, t] = fac
        mon[:, t] = month
        deviation[:, t] = np.where(ok & (np.abs(level) > 1e-9),
                                   (y[:, t] - level - month) / np.abs(level), np.nan)
        residual[:, t] = np.where(ok & np.isfinite(level), resid / norm, np.nan)
        money[:, t] = np.where(ok & np.isfinite(level), resid, np.nan)
        raw_resid[:, t] = np.where(finite[:, t] & warm, y[:, t] - np.nan_to_num(base), np.nan)
        raw_z[:, t] = raw_resid[:, t] / scale
        zhist[:, t] = np.where(warm & finite[:, t], resid / norm, 0.0)
        seen += finite[:, t]

        shifted = np.flatnonzero(run_len >= a.shift_confirm)
        for s in shifted:
            first = t - int(run_len[s]) + 1
            regime[s] = first
            rebase(int(s), first, t + 1, y, accepted, deviation, sfac, mon, b.relative)
            zhist[s, first:t + 1] = 0.0
            shift_at[s, t] = True
            run_len[s] = 0
            settle_until[s] = t + a.settle
            settle_sign[s] = run_sign[s]
            settle_ep[s] = cur_start[s]

    impact = np.where(finite, y - expected, 0.0)
    severity = _severity(score, impact, expected, flag, a)
    return Detection(grid, expected, score, zs, flag, impact, severity, ep_start, shift_at)


def _trimmed_mean_abs(win: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row means of |win| without each row's largest value (NaN ignored; 0 for empty rows),
    and the square root of the number of values averaged."""
    absw = np.abs(win)
    cnt = np.sum(np.isfinite(absw), axis=1)
    total = np.nansum(absw, axis=1) - np.where(cnt > 1, np.nanmax(np.where(
        np.isfinite(absw), absw, -np.inf), axis=1), 0.0)
    used = np.maximum(cnt - 1, 1).astype(np.float64)
    return np.nan_to_num(total / used), np.sqrt(used)


def _severity(score: FloatArray, impact: FloatArray, expected: FloatArray,
              flag: NDArray[np.bool_], a: AlertConfig) -> NDArray[np.int8]:
    """1 low; 2 medium (score >= 2 x threshold and impact >= 50% or 5 x min_abs); 3 high
    (score >= 4 x threshold and impact >= 100% of expected and >= 20 x min_abs)."""
    rel = np.abs(impact) / np.maximum(np.abs(expected), 1e-9)
    absimp = np.abs(impact)
    med = (score >= 2 * a.threshold) & ((rel >= 0.5) | (absimp >= 5 * max(a.min_abs, 1e-9)))
    high = (score >= 4 * a.threshold) & (rel >= 1.0) & (absimp >= 20 * a.min_abs)
    sev = np.where(high, 3, np.where(med, 2, 1))
    return np.where(flag, sev, 0).astype(np.int8)
