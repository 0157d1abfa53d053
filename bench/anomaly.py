"""Cost anomalies: precision, recall and delay of the product detector on generated series.

    .venv/bin/python bench/anomaly.py [--series 10000] [--days 400] [--blocks 10] [--seed 0]

Every series is daily cost with a level between $20 and $20,000, weekly seasonality, a trend,
multiplicative noise, and (some of them) a month-start charge, a mid-month credit, a gap of
missing days, a short history, sparse usage, all zeros or credits only (negative). Most series
get one injected anomaly of known shape, size and start day (day 120..380):

* spike: one day, +60%..+300%; drop: one day, -50%..-90%;
* level_shift: from the start day on, +-(30%..100%) (the detector must adapt, not alert daily);
* drift: a ramp reaching +60%..+150% over 7 days, then staying there.

A detection is an alert (the first day of an episode) within 1 day of the start (spikes, drops,
level shifts) or within the 7 ramp days (drifts, whose first day is below the noise; the share
found within 1 day is printed too). Alerts are counted from day 90 on (the history the detector
needs). An injected anomaly owns its days (a spike or drop: its day and the next; a level shift
or a drift: the start and the 7 days after): the first alert there is true, later ones there
are repeats of the same event, printed apart and counted neither true nor false (precision =
true / (true + false)). Every other alert is false. The series are split into ``--blocks``
blocks with their own seeds; the spread over the blocks is printed. The detection of all the
series runs in one batch: its wall time is the speed figure (target <= 60 s for 10,000 series
of 400 days).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudledger.operate.detector import DAILY, detect  # noqa: E402

SHAPES = ("spike", "drop", "level_shift", "drift")
RAMP = 7
HIT_DAYS = 1
WARMUP = 90


@dataclass
class Truth:
    """Injected anomalies: shape index (-1 none) and start day per series."""

    shape: np.ndarray
    start: np.ndarray


def generate(n_series: int, n_days: int, seed: int) -> tuple[np.ndarray, np.ndarray, Truth]:
    """Daily cost series ``(n_series, n_days)`` with their injected anomalies."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2024-01-01") + np.arange(n_days)
    day = np.arange(n_days)
    weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    level = np.exp(rng.uniform(np.log(20), np.log(20000), n_series))[:, None]
    weekend = rng.uniform(0.5, 1.0, n_series)[:, None] * (rng.random(n_series) < 0.7)[:, None]
    season = np.where(weekday[None, :] >= 5, 1.0 - weekend * 0.8, 1.0)
    trend = 1.0 + rng.uniform(-0.001, 0.002, n_series)[:, None] * day[None, :]
    noise = 1.0 + rng.uniform(0.02, 0.08, n_series)[:, None] * rng.standard_normal(
        (n_series, n_days))
    base = level * season * trend
    y = base * noise
    kind = rng.random(n_series)
    monthly = kind < 0.4
    y += np.where(monthly[:, None] & (dom[None, :] == 0), level * rng.uniform(0.5, 3.0, (
        n_series, 1)), 0.0)
    credit = (kind >= 0.4) & (kind < 0.55)
    y -= np.where(credit[:, None] & (dom[None, :] == 14), level * rng.uniform(0.3, 0.8, (
        n_series, 1)), 0.0)

    shape = np.where(rng.random(n_series) < 0.75, rng.integers(0, len(SHAPES), n_series), -1)
    start = rng.integers(120, min(380, n_days - RAMP - 2), n_series)
    size = rng.uniform(0.0, 1.0, n_series)
    after = day[None, :] >= start[:, None]
    at = day[None, :] == start[:, None]
    rel = np.zeros((n_series, n_days))
    sp, dr, ls, dd = (shape[:, None] == k for k in range(4))
    rel += np.where(sp & at, 0.6 + 2.4 * size[:, None], 0.0)
    rel += np.where(dr & at, -(0.5 + 0.4 * size[:, None]), 0.0)
    sign = np.where(rng.random(n_series) < 0.6, 1.0, -1.0)[:, None]
    rel += np.where(ls & after, sign * (0.3 + 0.7 * size[:, None]), 0.0)
    ramp = np.clip((day[None, :] - start[:, None] + 1) / RAMP, 0.0, 1.0)
    rel += np.where(dd & after, ramp * (0.6 + 0.9 * size[:, None]), 0.0)
    y += base * rel

    # Special series (no anomaly injected): credits only, sparse, all zero, short, gappy.
    special = rng.random(n_series)
    neg = special < 0.05
    y[neg] = -np.abs(base[neg] * noise[neg])
    sparse = (special >= 0.05) & (special < 0.12)
    y[sparse] = np.where(rng.random((int(sparse.sum()), n_days)) < 0.2,
                         base[sparse] * noise[sparse], 0.0)
    zero = (special >= 0.12) & (special < 0.14)
    y[zero] = 0.0
    shape[neg | sparse | zero] = -1
    short = (special >= 0.14) & (special < 0.19)
    for s in np.flatnonzero(short):
        y[s, : n_days - int(rng.integers(20, 60))] = np.nan
        shape[s] = -1
    gappy = (special >= 0.19) & (special < 0.29)
    for s in np.flatnonzero(gappy):
        g0 = int(rng.integers(100, n_days - 20))
        if shape[s] >= 0 and g0 - 20 <= start[s] <= g0 + 20:
            g0 = max(WARMUP, start[s] - 40)
        y[s, g0:g0 + int(rng.integers(3, 15))] = np.nan
    return dates, y, Truth(shape, start)


def evaluate(alerts: np.ndarray, truth: Truth) -> dict[str, dict[str, float]]:
    """Recall, delays per shape and the overall precision of ``alerts`` ``(S, days)``.

    Each injected anomaly owns the days ``start .. start + tol`` (``tol``: 1 day for a spike or
    a drop, whose next day is the same episode; ``RAMP`` days for a level shift, whose first
    week re-learns the weekly pattern, and for a drift's ramp). The first alert in those days
    is the event's (true; a hit for recall when within ``HIT_DAYS`` of the start, or within
    the ramp for drifts), later ones there are repeats of the same event: counted apart,
    neither true nor false. Every other alert from ``WARMUP`` on is false.
    """
    counted = alerts.copy()
    counted[:, :WARMUP] = False
    out: dict[str, dict[str, float]] = {}
    matched = np.zeros_like(counted)
    owned = np.zeros_like(counted)
    for k, name in enumerate(SHAPES):
        rows = np.flatnonzero(truth.shape == k)
        own = 1 if name in ("spike", "drop") else RAMP
        hit_days = RAMP if name == "drift" else HIT_DAYS
        hits, hits1, delays = 0, 0, []
        for s in rows:
            st = int(truth.start[s])
            owned[s, st:st + own + 1] = True
            win = np.flatnonzero(counted[s, st:st + own + 1])
            if len(win):
                matched[s, st + win[0]] = True
                if win[0] <= hit_days:
                    hits += 1
                    delays.append(int(win[0]))
                hits1 += int(win[0] <= HIT_DAYS)
        out[name] = {"events": float(len(rows)), "recall": hits / max(len(rows), 1),
                     "recall_1d": hits1 / max(len(rows), 1),
                     "mean_delay": float(np.mean(delays)) if delays else float("nan")}
    total = int(counted.sum())
    true = int(matched.sum())
    repeats = int((counted & owned & ~matched).sum())
    false = total - true - repeats
    out["all"] = {"alerts": float(total), "true": float(true), "repeats": float(repeats),
                  "false": float(false),
                  "precision": true / (true + false) if true + false else 1.0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--blocks", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    per = args.series // args.blocks
    parts = [generate(per, args.days, args.seed * 1000 + b) for b in range(args.blocks)]
    dates = parts[0][0]
    y = np.vstack([p[1] for p in parts])
    t0, c0 = time.perf_counter(), time.process_time()
    result = detect(dates, y, DAILY)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    alerts = result.alerts
    blocks = [evaluate(alerts[b * per:(b + 1) * per], parts[b][2]) for b in range(args.blocks)]
    truth = Truth(np.concatenate([p[2].shape for p in parts]),
                  np.concatenate([p[2].start for p in parts]))
    total = evaluate(alerts, truth)
    print(f"series: {y.shape[0]} x {args.days} days, {args.blocks} seeds "
          f"({args.seed * 1000}..{args.seed * 1000 + args.blocks - 1}); profile DAILY "
          f"(min impact ${DAILY.alert.min_abs:g} and {DAILY.alert.min_pct:.0%})")
    for name in SHAPES:
        r = total[name]
        lo = min(b[name]["recall"] for b in blocks)
        hi = max(b[name]["recall"] for b in blocks)
        tol = f"{RAMP} ramp days" if name == "drift" else f"{HIT_DAYS} day"
        extra = f"; within {HIT_DAYS} day {r['recall_1d']:.3f}" if name == "drift" else ""
        print(f"{name:12s} events {int(r['events']):5d}  recall {r['recall']:.3f} "
              f"(blocks {lo:.3f}..{hi:.3f}, within {tol}{extra})  "
              f"mean delay {r['mean_delay']:.2f} d")
    a = total["all"]
    plo = min(b["all"]["precision"] for b in blocks)
    phi = max(b["all"]["precision"] for b in blocks)
    print(f"precision {a['precision']:.3f} (blocks {plo:.3f}..{phi:.3f}): "
          f"{int(a['alerts'])} alerts from day {WARMUP}: {int(a['true'])} true, "
          f"{int(a['false'])} false, {int(a['repeats'])} repeats of an event (its later "
          f"days; not counted)")
    print(f"speed: {y.shape[0]} series x {args.days} days detected in {secs:.1f} s "
          f"wall ({cpu:.1f} s CPU; {y.shape[0] / secs:.0f} series/s; target <= 60 s)")


if __name__ == "__main__":
    main()
