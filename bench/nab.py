"""NAB (Numenta Anomaly Benchmark) score of the product's anomaly detector.

    .venv/bin/python bench/nab.py --data ../shared/data/nab/realAWSCloudwatch \\
        --labels ../shared/data/nab/combined_windows_realAWSCloudwatch.json [--profile standard]

Runs :func:`cloudledger.operate.detector.detect` with the one :data:`NAB` profile on every CSV
under ``--data`` (one category folder, or NAB's data folder with its category folders), online:
the files go through the detector as one batch padded with missing points at the end, and a
point only ever sees the points before it. A detection is the first point of an anomaly
episode (the product's alert). Scoring follows NAB v1.x (cloudledger.operate.nab_score):
windows, scaled sigmoid, the profile weights of ``profiles.json`` next to the labels (or NAB's
defaults), null/perfect normalisation. As NAB does, one threshold is chosen for the whole
corpus per profile. A leave-half-out check picks the threshold on half the files and scores
the other half, both ways, to show the threshold is not fitted to particular files.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudledger.operate.detector import NAB, detect  # noqa: E402
from cloudledger.operate.nab_score import (  # noqa: E402
    STANDARD,
    FileScore,
    Profile,
    ScoringFrame,
    load_profiles,
    load_windows,
    normalised,
)

THRESHOLDS = (0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0)


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """NAB data file: ``timestamp,value`` rows."""
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    ts = np.array([r["timestamp"].replace(" ", "T") for r in rows], dtype="datetime64[s]")
    return ts, np.array([float(r["value"]) for r in rows])


def find_files(data: Path) -> dict[str, Path]:
    """``{"category/file.csv": path}`` for a category folder or NAB's data folder."""
    direct = sorted(data.glob("*.csv"))
    if direct:
        return {f"{data.name}/{p.name}": p for p in direct}
    return {f"{p.parent.name}/{p.name}": p for p in sorted(data.glob("*/*.csv"))}


def run_alerts(values: list[np.ndarray], threshold: float) -> list[np.ndarray]:
    """The detector's alerts (first point of each episode) for every file, at ``threshold``."""
    width = max(len(v) for v in values)
    batch = np.full((len(values), width), np.nan)
    for i, v in enumerate(values):
        batch[i, : len(v)] = v
    grid = np.datetime64("2000-01-01T00:00") + np.arange(width) * np.timedelta64(5, "m")
    alerts = detect(grid, batch, NAB.with_threshold(threshold)).alerts
    return [alerts[i, : len(v)] for i, v in enumerate(values)]


def corpus_score(frames: Sequence[ScoringFrame], alerts: Sequence[np.ndarray],
                 profile: Profile, which: Sequence[int] | None = None) -> float:
    idx = range(len(frames)) if which is None else which
    return normalised([frames[i].score(alerts[i], profile) for i in idx])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--labels", type=Path, required=True)
    ap.add_argument("--profile", default="standard")
    ap.add_argument("--profiles", type=Path, default=None,
                    help="NAB profiles.json (default: next to --labels)")
    args = ap.parse_args()

    prof_path = args.profiles or args.labels.parent / "profiles.json"
    profiles = load_profiles(prof_path) if prof_path.exists() else {"standard": STANDARD}
    if args.profile not in profiles:
        sys.exit(f"unknown profile {args.profile!r}; one of {', '.join(profiles)}")
    windows = load_windows(args.labels)
    files = find_files(args.data)
    if not files:
        sys.exit(f"no CSV files under {args.data}")
    keys = list(files)
    missing = [k for k in keys if k not in windows]
    if missing:
        sys.exit(f"{len(missing)} files have no labels in {args.labels}, e.g. {missing[0]}")
    data = [read_csv(files[k]) for k in keys]
    frames = [ScoringFrame.build(ts, windows[k]) for k, (ts, _) in zip(keys, data, strict=True)]
    values = [v for _, v in data]

    t0 = time.perf_counter()
    by_thr = {thr: run_alerts(values, thr) for thr in THRESHOLDS}
    secs = time.perf_counter() - t0
    print(f"{len(keys)} files, {sum(len(v) for v in values)} rows, "
          f"{sum(f.n_windows for f in frames)} windows; detector profile NAB, one set of "
          f"parameters for every file; {len(THRESHOLDS)} thresholds run in {secs:.1f} s")

    chosen: dict[str, tuple[float, float]] = {}
    for name, prof in profiles.items():
        scores = {thr: corpus_score(frames, by_thr[thr], prof) for thr in THRESHOLDS}
        best = max(THRESHOLDS, key=scores.__getitem__)
        chosen[name] = (best, corpus_score(frames, by_thr[best], prof))

    prof = profiles[args.profile]
    thr = chosen[args.profile][0]
    print(f"\nprofile {args.profile}, threshold {thr:g} (one threshold for the whole corpus, "
          "chosen as NAB does)")
    parts: list[FileScore] = []
    for k, frame, al in zip(keys, frames, by_thr[thr], strict=True):
        p = frame.score(al, prof)
        parts.append(p)
        print(f"  {k:60s} windows {frame.n_windows}  tp {p.tp}  fn {p.fn}  fp {p.fp:2d}  "
              f"raw {p.raw:+.2f}")

    half = [list(range(0, len(keys), 2)), list(range(1, len(keys), 2))]
    if len(keys) >= 4:
        print("\nleave-half-out (threshold chosen on one half of the files, scored on the other):")
        for fit, held in (half, half[::-1]):
            best = max(THRESHOLDS, key=lambda t: corpus_score(frames, by_thr[t], prof, fit))
            print(f"  fit on {len(fit)} files -> threshold {best:g}; held-out {len(held)} files "
                  f"score {corpus_score(frames, by_thr[best], prof, held):.1f} (with the "
                  f"corpus threshold {corpus_score(frames, by_thr[thr], prof, held):.1f})")

    print()
    for name, (t, score) in chosen.items():
        if name != args.profile:
            print(f"{name} score: {score:.1f} (threshold {t:g})")
    print(f"{args.profile} score: {chosen[args.profile][1]:.1f}")


if __name__ == "__main__":
    main()
