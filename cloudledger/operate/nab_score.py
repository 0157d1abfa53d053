"""Numenta Anomaly Benchmark (NAB v1.x) scoring, written from the published rules.

The rules (``reference/nab-scoring.md``, the NAB paper and README):

* a detector emits, row by row and seeing only the rows so far, whether it flags an anomaly;
* the first ``min(floor(0.15 n), 750)`` rows of a file are probationary and not scored;
* a labelled window scores only its best (= earliest) detection: at row ``i`` of a window whose
  last row is ``right`` and whose width is ``w`` rows, the relative position is
  ``p = -(right - i + 1) / w`` and the detection earns ``tpWeight * S(p) / S(-1)`` with the
  scaled sigmoid ``S(x) = 2 / (1 + exp(5 x)) - 1`` (``S(x) = -1`` for ``x >= 3``);
* a window without a detection costs ``-fnWeight``;
* a detection outside every window costs ``fpWeight * S(d / (w_prev - 1))`` where ``d`` is the
  distance in rows past the previous window's last row (``-fpWeight`` before the first window),
  so a detection just after a window costs little;
* normalised score = ``100 * (raw - null) / (perfect - null)`` summed over the files, where the
  null detector never fires and the perfect detector fires on every window's first scored row.

Published results tune one threshold per detector and profile over the whole corpus
(:func:`best_threshold` does the same: one threshold for every file).

API::

    windows = load_windows(path)                          # {"category/file.csv": [(start, end)]}
    profiles = load_profiles(path)                        # {"standard": Profile(...), ...}
    frame = ScoringFrame.build(timestamps, windows[key])  # per-row weights of one file
    part = frame.score(detections, profiles["standard"])  # FileScore(raw, null, perfect, tp...)
    normalised([part, ...])                               # 100 for perfect, 0 for null
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "STANDARD",
    "FileScore",
    "Profile",
    "ScoringFrame",
    "best_threshold",
    "load_profiles",
    "load_windows",
    "normalised",
    "probationary_length",
    "scaled_sigmoid",
]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


STANDARD = Profile("standard", 1.0, 1.0, 0.11)


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Read NAB's ``profiles.json`` (``{name: {"CostMatrix": {tpWeight, fnWeight, fpWeight}}}``)."""
    raw = json.loads(Path(path).read_text())
    return {
        name: Profile(name, float(body["CostMatrix"]["tpWeight"]),
                      float(body["CostMatrix"]["fnWeight"]), float(body["CostMatrix"]["fpWeight"]))
        for name, body in raw.items()
    }


def load_windows(path: str | Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Read NAB's ``combined_windows.json``: ``{"category/file.csv": [[start, end], ...]}``."""
    raw = json.loads(Path(path).read_text())
    return {
        key: [(np.datetime64(a.replace(" ", "T")), np.datetime64(b.replace(" ", "T")))
              for a, b in spans]
        for key, spans in raw.items()
    }


def scaled_sigmoid(x: float | NDArray[np.float64]) -> NDArray[np.float64]:
    """NAB's ``S(x) = 2 / (1 + exp(5 x)) - 1``, and ``-1`` from ``x >= 3`` on."""
    arr = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * arr)) - 1.0
    return np.where(arr >= 3.0, -1.0, val)


#: ``S(-1)``: the weight of a detection on a window's first row, before scaling to 1.
MAX_TP = float(scaled_sigmoid(-1.0))


def probationary_length(n_rows: int, fraction: float = 0.15) -> int:
    """Rows at the start of a file that are not scored: ``min(floor(0.15 n), 750)``."""
    return int(min(math.floor(fraction * n_rows), fraction * 5000))


@dataclass(frozen=True)
class FileScore:
    """One file's raw score under one profile, with its null and perfect references."""

    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class ScoringFrame:
    """Per-row NAB weights of one file, independent of the detector and of the profile.

    ``window`` is the window index of each scored row (``-1`` outside windows, ``-2`` in the
    probationary rows); ``tp_unit`` the ``S(p)/S(-1)`` of rows in windows and ``fp_unit`` the
    ``S(...)`` (negative) of rows outside windows.
    """

    window: NDArray[np.int64]
    tp_unit: NDArray[np.float64]
    fp_unit: NDArray[np.float64]
    n_windows: int

    @classmethod
    def build(cls, timestamps: Sequence[np.datetime64] | NDArray[np.datetime64],
              windows: Sequence[tuple[np.datetime64, np.datetime64]]) -> ScoringFrame:
        """Lay ``windows`` (inclusive ``(start, end)`` timestamps) over a file's rows."""
        ts = np.asarray(timestamps, dtype="datetime64[ns]")
        n = len(ts)
        window = np.full(n, -1, dtype=np.int64)
        tp_unit = np.zeros(n)
        fp_unit = np.full(n, -1.0)  # before the first window: -1 (NAB: position 3.0)
        idx = np.arange(n)
        bounds = []
        for start, end in sorted(windows):
            left = int(np.searchsorted(ts, np.array(start, dtype="datetime64[ns]"), side="left"))
            right = int(np.searchsorted(ts, np.array(end, dtype="datetime64[ns]"),
                                        side="right")) - 1
            if right >= left:
                bounds.append((left, right))
        for k, (left, right) in enumerate(bounds):
            width = right - left + 1
            window[left:right + 1] = k
            pos = -(right - idx[left:right + 1] + 1) / width
            tp_unit[left:right + 1] = scaled_sigmoid(pos) / MAX_TP
            stop = bounds[k + 1][0] if k + 1 < len(bounds) else n
            after = idx[right + 1:stop]
            if len(after):
                denom = max(width - 1, 1)
                fp_unit[right + 1:stop] = scaled_sigmoid(np.abs(right - after) / denom)
        prob = probationary_length(n)
        scored_windows = set(window[prob:][window[prob:] >= 0].tolist())
        window[:prob] = -2
        # Renumber so that only windows with a scored row count.
        remap = {old: new for new, old in enumerate(sorted(scored_windows))}
        for old, new in remap.items():
            window[window == old] = new
        return cls(window, tp_unit, fp_unit, len(remap))

    def score(self, detections: NDArray[np.bool_], profile: Profile) -> FileScore:
        """Score boolean per-row ``detections`` under ``profile``."""
        det = np.asarray(detections, dtype=bool)
        if det.shape != self.window.shape:
            raise ValueError(f"{len(det)} detections for {len(self.window)} rows")
        fp_rows = det & (self.window == -1)
        fp_total = float(profile.fp_weight * self.fp_unit[fp_rows].sum())
        best = np.full(self.n_windows, -np.inf)
        hit = det & (self.window >= 0)
        np.maximum.at(best, self.window[hit], self.tp_unit[hit])
        found = np.isfinite(best)
        tp_total = float(profile.tp_weight * best[found].sum())
        fn = int((~found).sum())
        raw = tp_total - profile.fn_weight * fn + fp_total
        perfect = self._perfect(profile)
        return FileScore(raw, -profile.fn_weight * self.n_windows, perfect,
                         int(found.sum()), int(fp_rows.sum()), fn)

    def _perfect(self, profile: Profile) -> float:
        best = np.zeros(self.n_windows)
        inside = self.window >= 0
        np.maximum.at(best, self.window[inside], self.tp_unit[inside])
        return float(profile.tp_weight * best.sum())


def normalised(parts: Sequence[FileScore]) -> float:
    """``100 * (raw - null) / (perfect - null)`` over the files (0 if there is no window)."""
    raw = sum(p.raw for p in parts)
    null = sum(p.null for p in parts)
    perfect = sum(p.perfect for p in parts)
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def best_threshold(
    frames: Mapping[str, ScoringFrame],
    detect: Callable[[str, float], NDArray[np.bool_]],
    thresholds: Sequence[float],
    profile: Profile,
) -> tuple[float, float]:
    """The one threshold (for the whole corpus) with the best normalised score.

    ``detect(key, threshold)`` returns the detections of file ``key`` at that threshold.
    Returns ``(threshold, normalised score)``; ties keep the first (lowest) threshold.
    """
    best = (float("nan"), -float("inf"))
    for thr in thresholds:
        total = normalised([frame.score(detect(key, thr), profile) for key, frame in
                            frames.items()])
        if total > best[1]:
            best = (float(thr), total)
    return best
