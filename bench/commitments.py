"""Commitment purchase plans against the hindsight optimum, out of sample; and their speed.

    .venv/bin/python bench/commitments.py [--seeds 200] [--scopes 1000]

Accuracy: for each usage shape (steady, weekly-seasonal, growing, shrinking, spiky) and seed,
60 days of hourly on-demand-equivalent usage are generated (level, daily swing, noise,
growth and discount drawn per seed). The planner sees only the first 30 days (the as-of is
day 30; ``plan`` gets ``usage[:720]``) and plans a flat commitment for a 30-day term. Both
it and the plain lookback rule (AWS-style: the discount-quantile of the lookback, no trend)
are scored on days 30-60 as a fraction of the hindsight optimum -- the best flat commitment
for those 30 days, computed exactly (its discount-quantile, ``optimal_flat``):
``S(c) / S(c_hindsight)`` with ``S(c) = sum_t min(u_t, c) - (1 - d) c``.
Prints the median and the worst (minimum) fraction over the seeds per shape, and the 5th
percentile. The staged plan (a tranche now and one added at the start of each week, each
cumulative level chosen by the tranche LP) is scored the same way against the same flat
optimum (it can exceed 1: the flat hindsight optimum is not the best staged plan).

Speed: plans (1-year term, tranches included) for ``--scopes`` scopes of 90 days of hourly
usage each, one ``plan`` call per scope, wall time printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cloudledger.optimize.plan import PlanOptions, Scope, plan  # noqa: E402
from cloudledger.optimize.plan_solve import net_savings, optimal_flat  # noqa: E402

SHAPES = ("steady", "weekly", "growing", "shrinking", "spiky")
HOURS = 24 * 30


def usage(shape: str, rng: np.random.Generator, days: int = 60) -> np.ndarray:
    """Hourly on-demand-equivalent usage of ``shape``, ``days`` long."""
    t = np.arange(days * 24, dtype=np.float64)
    level = rng.uniform(50, 500)
    daily = 1 + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * (t % 24 - 8) / 24)
    trend = np.ones_like(t)
    if shape == "growing":
        trend = 1 + rng.uniform(0.1, 0.3) * t / HOURS  # +10..30% of the start per 30 days
    elif shape == "shrinking":
        trend = np.maximum(1 - rng.uniform(0.1, 0.3) * t / HOURS, 0.05)
    week = np.ones_like(t)
    if shape == "weekly":
        week = np.where((t // 24) % 7 >= 5, rng.uniform(0.4, 0.8), 1.0)
    # AR(1) noise, hour to hour
    sigma, phi = rng.uniform(0.03, 0.12), rng.uniform(0.3, 0.9)
    shocks = rng.normal(0, sigma * np.sqrt(1 - phi**2), t.size)
    noise = np.empty_like(t)
    acc = 0.0
    for i, s in enumerate(shocks):
        acc = phi * acc + s
        noise[i] = acc
    u = level * trend * daily * week * (1 + noise)
    if shape == "spiky":
        spikes = rng.random(t.size) < rng.uniform(0.01, 0.05)
        u = u * np.where(spikes, rng.uniform(2, 6, t.size), 1.0)
        for start in rng.integers(0, t.size - 12, 3):  # a few multi-hour bursts
            u[start:start + rng.integers(3, 12)] *= rng.uniform(1.5, 3)
    return np.maximum(u, 0.0)


def accuracy(seeds: int, options: PlanOptions) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for k, shape in enumerate(SHAPES):
        rows = []
        for seed in range(seeds):
            rng = np.random.default_rng(1000 * k + seed)
            u = usage(shape, rng)
            d = float(rng.uniform(0.2, 0.6))
            train, test = u[:HOURS], u[HOURS:]
            best = net_savings(test, optimal_flat(test, d), d)
            p = plan(Scope("savings_plan", f"acct-{seed}"), u, d, options=options, as_of=HOURS)
            ours = net_savings(test, p.hourly_commitment, d) / best
            plain = net_savings(test, optimal_flat(train, d), d) / best
            staged = p.staged_monthly_savings  # projected; scored below on the real test
            levels = np.zeros(HOURS)
            for tr in p.tranches:
                levels[tr.start_hour:] = tr.hourly_commitment
            staged = float((np.minimum(test, levels) - (1 - d) * levels).sum()) / best
            rows.append((ours, plain, staged))
        arr = np.array(rows)
        out[shape] = {"planner": arr[:, 0], "plain": arr[:, 1], "staged": arr[:, 2]}
    return out


def speed(scopes: int) -> tuple[float, float, int]:
    rng = np.random.default_rng(7)
    shapes = [usage(SHAPES[i % len(SHAPES)], rng, days=90) for i in range(50)]
    t0, cpu0 = time.perf_counter(), time.process_time()
    n_tranches = 0
    for i in range(scopes):
        p = plan(Scope("reserved_instance", "acct", f"fam{i}", "us-east-1"),
                 shapes[i % len(shapes)] * (1 + i / scopes), 0.3 + 0.3 * (i % 7) / 7)
        n_tranches += len(p.tranches)
    return time.perf_counter() - t0, time.process_time() - cpu0, n_tranches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--scopes", type=int, default=1000)
    ap.add_argument("--no-trend", action="store_true", help="the planner without its trend")
    args = ap.parse_args()
    options = PlanOptions(term_hours=HOURS, lookback_hours=HOURS, trend=not args.no_trend,
                          tranche_every_hours=168)
    res = accuracy(args.seeds, options)
    print(f"fraction of the hindsight optimum, out of sample, {args.seeds} seeds per shape "
          "(30 days train -> 30 days scored)")
    print(f"{'shape':<10} {'planner med':>11} {'p5':>6} {'worst':>6} | "
          f"{'plain med':>9} {'p5':>6} {'worst':>6} | {'staged med':>10} {'p5':>6} {'worst':>6}")
    for shape, r in res.items():
        a, b, s = r["planner"], r["plain"], r["staged"]
        print(f"{shape:<10} {np.median(a):>11.3f} {np.percentile(a, 5):>6.3f} {a.min():>6.3f} | "
              f"{np.median(b):>9.3f} {np.percentile(b, 5):>6.3f} {b.min():>6.3f} | "
              f"{np.median(s):>10.3f} {np.percentile(s, 5):>6.3f} {s.min():>6.3f}")
    if args.scopes:
        secs, cpu, n_tr = speed(args.scopes)
        print(f"speed: {args.scopes} scopes x 90 days hourly, 1-year term: {secs:.1f} s wall, "
              f"{cpu:.1f} s CPU ({1000 * secs / args.scopes:.1f} ms/scope, {n_tr} tranches)")


if __name__ == "__main__":
    main()
