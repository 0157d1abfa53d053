"""Forecast accuracy and speed (figures for docs/accuracy.md, ## Forecast).

    .venv/bin/python bench/forecast.py [--work DIR] [--generated 100] [--speed 1000]

1. Demo data: ``cloudledger.demo`` (seed 7, 300k rows, 13 months ending 2026-10) loaded into
   a store; the daily EffectiveCost total (every row spread over its charge period) read
   with ``Store.sql``. Backtest: month-end forecasts made on day 7 and day 15 of each of
   the last 6 months (error of the month total, interval coverage, daily MASE vs seasonal
   naive). The same per ServiceName (the service series, each forecast on its own).
2. Generated series with known structure (trend, weekly seasonality, a mid-series level
   step, noise, rare spikes): the same backtest over many series; coverage of the month
   total's 80% / 95% intervals over every (series, month, day).
3. Speed: one month-end forecast of ``--speed`` generated series (2 cores here), and one
   quarter-end.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import workdir  # noqa: E402
from cloudledger.operate.forecast_model import (  # noqa: E402
    FAST_ABOVE,
    FAST_MODELS,
    backtest,
    forecast,
)

END = date(2026, 11, 1)   # first month not generated: a fixed window, reproducible figures

#: Daily cost per series: each row's cost spread evenly over its charge period's days.
DAILY_SQL = """
with r as (
  select {key} as unique_id, cast(ChargePeriodStart as date) as s,
         greatest(date_diff('day', ChargePeriodStart, ChargePeriodEnd), 1) as n,
         cast(EffectiveCost as double) as c
  from focus)
select unique_id, s + cast(g.i as integer) as ds, sum(c / n) as y
from r, generate_series(0, r.n - 1) g(i) group by 1, 2 order by 1, 2"""


def demo_series(work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(total, per service) daily EffectiveCost of the demo store built in ``work``."""
    from cloudledger.demo import generate, load
    from cloudledger.store import Store

    path = work / "demo.duckdb"
    if not path.exists():
        data = generate(300_000, 7, END, work / "demo-data")
        st = Store(path)
        load(st, data)
        st.close()
    st = Store(path, read_only=True)
    try:
        total = st.sql(DAILY_SQL.format(key="'total'"), time_limit=None,
                       row_limit=None).to_pandas()
        svc = st.sql(DAILY_SQL.format(key="coalesce(ServiceName, '(none)')"),
                     time_limit=None, row_limit=None).to_pandas()
    finally:
        st.close()
    return total, svc


def generated(n: int, days: int = 456, seed: int = 1) -> pd.DataFrame:
    """``n`` daily series ending 2026-10-31: level x (1 + trend) x weekly pattern, a level
    step somewhere in the middle, lognormal noise, rare spikes."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(end="2026-10-31", periods=days, freq="D")
    t = np.arange(days)[None, :]
    base = rng.uniform(50, 5000, (n, 1))
    trend = rng.normal(0.3, 0.25, (n, 1)) * t / 365
    weekend = (ds.dayofweek.to_numpy() >= 5)[None, :] * rng.uniform(0, 0.35, (n, 1))
    step_day = rng.integers(int(days * 0.35), int(days * 0.65), (n, 1))
    step = (t >= step_day) * rng.normal(0, 0.25, (n, 1))
    noise = rng.lognormal(0, rng.uniform(0.02, 0.15, (n, 1)), (n, days))
    spikes = 1 + (rng.random((n, days)) < 0.005) * rng.uniform(1, 3, (n, days))
    y = base * np.maximum(1 + trend - weekend + step, 0.05) * noise * spikes
    return pd.DataFrame({"unique_id": np.repeat([f"g{i:04d}" for i in range(n)], days),
                         "ds": np.tile(ds.to_numpy(), n), "y": y.ravel()})


def report(name: str, bt: object) -> None:
    s = bt.summary()  # type: ignore[attr-defined]
    for r in s.itertuples():
        print(f"{name}: day {r.day:>2}: month-end MAPE {r.mape:5.2f}% (max {r.max_ape:5.2f}%) "
              f"over {r.forecasts} forecasts; 80% interval covers {r.coverage80:.0%}, 95% "
              f"covers {r.coverage95:.0%}; daily MASE {r.mase:.3f} vs seasonal naive "
              f"{r.mase_seasonal_naive:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", type=Path)
    ap.add_argument("--generated", type=int, default=100)
    ap.add_argument("--speed", type=int, default=1000)
    ap.add_argument("--skip-services", action="store_true")
    args = ap.parse_args()
    work = workdir(args.work)

    total, svc = demo_series(work)
    started = time.perf_counter()
    bt = backtest(total, days=(7, 15), months=6)
    print(f"demo total: {len(total)} days through {total['ds'].max()}; backtest "
          f"{time.perf_counter() - started:.1f}s")
    for r in bt.months.itertuples():
        print(f"  {r.month} day {r.day:>2}: actual {r.actual:12,.0f}  forecast "
              f"{r.total:12,.0f}  error {r.error_pct:+6.2f}%  80% [{r.lo80:,.0f}, "
              f"{r.hi80:,.0f}]  95% [{r.lo95:,.0f}, {r.hi95:,.0f}]  {r.model}")
    report("demo total", bt)

    if not args.skip_services:
        started = time.perf_counter()
        bt = backtest(svc, days=(7, 15), months=6)
        print(f"demo services: {svc['unique_id'].nunique()} series; backtest "
              f"{time.perf_counter() - started:.1f}s; share of spend-weighted abs error below")
        m = bt.months
        for day, g in m.groupby("day"):
            w = (g["total"] - g["actual"]).abs().sum() / g["actual"].abs().sum() * 100
            print(f"  day {day}: spend-weighted month-end error {w:.2f}%; median APE "
                  f"{g['error_pct'].abs().median():.2f}%")
        report("demo services", bt)

    gen = generated(args.generated)
    started = time.perf_counter()
    bt = backtest(gen, days=(7, 15), months=6)
    print(f"generated: {args.generated} series x 456 days (trend, weekly, mid-series step); "
          f"backtest {time.perf_counter() - started:.1f}s")
    report("generated", bt)
    print("  models chosen:", bt.months["model"].value_counts().to_dict())

    gen = generated(60, seed=3)
    started = time.perf_counter()
    bt = backtest(gen, days=(7, 15), months=3, models=FAST_MODELS)
    print(f"generated, fast models {'+'.join(FAST_MODELS)} (used above {FAST_ABOVE} series): "
          f"60 series, 3 months; backtest {time.perf_counter() - started:.1f}s")
    report("generated fast", bt)

    many = generated(args.speed, seed=2)
    for horizon in ("month-end", "quarter-end"):
        cpu0, started = cpu_seconds(), time.perf_counter()
        fc = forecast(many, horizon, last_day=date(2026, 10, 14))
        took, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
        print(f"speed: {args.speed} series x 456 days, {horizon} forecast in {took:.1f}s wall "
              f"({cpu:.1f} CPU-s in this process and its workers, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}); models "
              f"{fc.series['model'].value_counts().to_dict()}")


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (statsforecast's worker
    processes), so a busy machine's wall time can be told apart from the work done."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
