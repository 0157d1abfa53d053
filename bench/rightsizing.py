"""Rightsizing figures: candidates on 100 real Azure VMs, and the speed on 10,000 resources.

    .venv/bin/python bench/rightsizing.py [--resources 10000] [--days 14] [--skip-speed]

1. Traces (shared/data/traces/microsoft_{avg,max}_100.csv.gz: 100 Azure VMs, 5-minute
   average and maximum CPU %, 8,004 samples, ~27.8 days; no memory, no network, no sizes).
   Every VM is taken to be a Standard_D8s_v3 (8 vCPU; the trace has no sizes), so a
   downsize is one step (D4s_v3, P x (1 + headroom) <= 50 %) or more (D2s_v3, <= 25 %).
   For each rule setting (percentile, headroom, lookback ending at the trace's last sample)
   the figures per VM are computed with numpy (linear percentiles, as DuckDB's
   quantile_cont) and passed to the same ``decide`` the recommender uses; the default
   setting is also run end to end through the store (CSV load, billing rows, ``analyze``)
   and the two counts are compared.
2. Speed: ``analyze`` on a store with N resources x D days of 5-minute samples (CPU avg and
   max, memory, network) and 30 days of billing, against the raw DuckDB percentile query
   on the same table in the same process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloudledger.ingest.utilization import ensure_tables, load_utilization  # noqa: E402
from cloudledger.optimize.catalog import Catalog  # noqa: E402
from cloudledger.optimize.recommenders.rightsizing import analyze  # noqa: E402
from cloudledger.optimize.rightsizing import RightsizingOptions, Stats, decide  # noqa: E402
from cloudledger.store import Store  # noqa: E402

TRACES = ROOT.parent / "shared" / "data" / "traces"
SIZE = "Standard_D8s_v3"
STEP = 300
START = datetime(2026, 5, 1)


def traces() -> tuple[list[str], np.ndarray, np.ndarray]:
    avg = pd.read_csv(TRACES / "microsoft_avg_100.csv.gz")
    mx = pd.read_csv(TRACES / "microsoft_max_100.csv.gz")
    assert list(avg.columns) == list(mx.columns)
    vms = [c for c in avg.columns if c != "timestamp_s"]
    return vms, avg[vms].to_numpy(float), mx[vms].to_numpy(float)


def numpy_stats(vm: str, a: np.ndarray, m: np.ndarray, opts: RightsizingOptions) -> Stats:
    per_day = 86400 // STEP
    look = a[-opts.lookback_days * per_day:]
    ok = ~np.isnan(look)
    x = look[ok]
    recent = m[-opts.shutdown_days * per_day:]
    recent = recent[~np.isnan(recent)]
    last = a[-opts.shutdown_avg_days * per_day:]
    last = last[~np.isnan(last)]
    span = opts.lookback_days * per_day
    return Stats(
        vm, samples=int(ok.sum()), coverage_pct=min(100.0, 100 * ok.sum() / span),
        cpu_p=float(np.percentile(x, opts.percentile)) if len(x) else None,
        cpu_p99=float(np.percentile(x, 99)) if len(x) else None,
        cpu_top=float(x.max()) if len(x) else None,
        peak_p95_recent=float(np.percentile(recent, 95)) if len(recent) else None,
        avg_max_recent=float(last.max()) if len(last) else None,
        recent_coverage_pct=min(100.0, 100 * len(recent) / (opts.shutdown_days * per_day)))


def classify(opts: RightsizingOptions, vms: list[str], avg: np.ndarray,
             mx: np.ndarray) -> Counter[str]:
    cat = Catalog()
    current = cat.find(SIZE)
    assert current is not None
    out: Counter[str] = Counter()
    for j, vm in enumerate(vms):
        d = decide(numpy_stats(vm, avg[:, j], mx[:, j], opts), current, cat, "eastus", opts)
        if d.skip:
            out["skipped"] += 1
        elif d.action == "shutdown":
            out["shutdown"] += 1
        elif d.action and d.target:
            out["downsize 1 step" if d.target.vcpu == current.vcpu / 2
                else "downsize 2+ steps"] += 1
        else:
            out["keep"] += 1
    return out


def through_store(vms: list[str], avg: np.ndarray, mx: np.ndarray, tmp: Path) -> Counter[str]:
    """The default setting end to end: CSV -> metrics load -> billing -> analyze."""
    n = avg.shape[0]
    ts = pd.date_range(START, periods=n, freq="5min").strftime("%Y-%m-%dT%H:%M:%SZ")
    frames = [pd.DataFrame({"resource_id": vm, "timestamp": ts, "cpu": avg[:, j],
                            "cpu_max": mx[:, j]}) for j, vm in enumerate(vms)]
    path = tmp / "traces.csv"
    pd.concat(frames).to_csv(path, index=False, float_format="%.6f")
    store = Store(tmp / "traces.duckdb")
    load_utilization(store, path)
    last = START + timedelta(minutes=5 * (n - 1))
    store.engine.execute(f"""
        INSERT INTO focus BY NAME SELECT r.id AS ResourceId, d AS ChargePeriodStart,
          d + INTERVAL 1 DAY AS ChargePeriodEnd, 'Usage' AS ChargeCategory,
          'USD' AS BillingCurrency, 'acct' AS BillingAccountId, 'Microsoft' AS ProviderName,
          'eastus' AS RegionId, 'Hours' AS PricingUnit, 9.216 AS EffectiveCost,
          9.216 AS BilledCost, 0.384 AS ListUnitPrice,
          '{{"x_Size": "{SIZE}"}}' AS SkuPriceDetails
        FROM (SELECT unnest(?) AS id) r,
             range(TIMESTAMP '{(last - timedelta(days=30)).date()}',
                   TIMESTAMP '{last.date()}', INTERVAL 1 DAY) t(d)""".replace("?", str(vms)))
    res = analyze(store, RightsizingOptions())
    store.close()
    out: Counter[str] = Counter()
    for r in res.recommendations:
        e = r.evidence
        out["shutdown" if e["action"] == "shutdown" else "downsize 1 step"
            if e["target_type"] == "Standard_D4s_v3" else "downsize 2+ steps"] += 1
    out["skipped"] = len(res.skipped)
    out["keep"] = len(vms) - sum(out.values())
    return out


def speed(resources: int, days: int, tmp: Path) -> None:
    steps = days * 86400 // STEP
    store = Store(tmp / "speed.duckdb")
    ensure_tables(store)
    t0 = time.perf_counter()
    sizes = ["m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge", "c5.2xlarge", "r5.xlarge",
             "m6i.2xlarge", "r6i.2xlarge"]
    store.engine.execute(f"""
        CREATE TEMP TABLE res AS SELECT 'i-' || lpad(i::VARCHAR, 8, '0') AS id, i,
          [0.5, 3, 8, 15, 25, 45][1 + i % 6] AS level,
          {sizes}[1 + (i // 6) % {len(sizes)}] AS size FROM range({resources}) t(i)""")
    store.engine.execute(f"""
        INSERT INTO utilization SELECT r.id, TIMESTAMP '{START}' + to_seconds(s * {STEP}),
          c, least(100, c * (1.2 + random())), least(100, 30 + r.level * 0.5 + random() * 10),
          1e6 * (0.5 + random()), {STEP}, 'bench'
        FROM res r, range({steps}) t(s),
             LATERAL (SELECT least(100, r.level * (0.6 + 0.8 * random())) AS c)""")
    end = START + timedelta(days=days)
    store.engine.execute(f"""
        INSERT INTO focus BY NAME SELECT r.id AS ResourceId, d AS ChargePeriodStart,
          d + INTERVAL 1 DAY AS ChargePeriodEnd, 'Usage' AS ChargeCategory,
          'USD' AS BillingCurrency, 'acct' AS BillingAccountId, 'AWS' AS ProviderName,
          'us-east-1' AS RegionId, 'Hours' AS PricingUnit, 2.304 AS EffectiveCost,
          2.304 AS BilledCost, 0.096 AS ListUnitPrice,
          '{{"x_Size": "' || r.size || '"}}' AS SkuPriceDetails
        FROM res r, range(TIMESTAMP '{(end - timedelta(days=30)).date()}',
                          TIMESTAMP '{end.date()}', INTERVAL 1 DAY) t(d)""")
    rows = store.engine.fetch("SELECT count(*) AS n FROM utilization")[0]["n"]
    print(f"\nspeed: {resources:,} resources x {days} days of 5-minute samples = {rows:,} "
          f"rows (generated in {time.perf_counter() - t0:.1f} s), 30 days of billing")
    t = time.perf_counter()
    store.engine.fetch("SELECT resource_id, quantile_cont(cpu, [0.95, 0.99]) FROM "
                       "utilization GROUP BY resource_id")
    raw = time.perf_counter() - t
    t = time.perf_counter()
    res = analyze(store, RightsizingOptions())
    full = time.perf_counter() - t
    kinds = Counter(r.evidence["action"] for r in res.recommendations)
    total = sum((r.monthly_savings for r in res.recommendations), start=0)
    print(f"  raw DuckDB P95/P99 of CPU per resource: {raw:.1f} s")
    print(f"  analyze (all figures, billing join, catalog, decisions, clipped peaks): "
          f"{full:.1f} s = {full / raw:.1f}x the raw query; target <= 60 s: "
          f"{'met' if full <= 60 else 'MISSED'}")
    print(f"  {len(res.recommendations):,} recommendations ({dict(kinds)}), "
          f"{len(res.skipped):,} skipped, monthly savings {total:,.2f} USD")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    vms, avg, mx = traces()
    print(f"traces: {len(vms)} Azure VMs x {avg.shape[0]:,} 5-minute samples "
          f"({avg.shape[0] * STEP / 86400:.1f} days), each taken as {SIZE}")
    cols = ["shutdown", "downsize 1 step", "downsize 2+ steps", "keep", "skipped"]
    print("| percentile | headroom | lookback | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for pct in (95, 99):
        for head in (0.0, 0.2, 0.3):
            for look in (7, 14, 27):
                opts = RightsizingOptions(percentile=pct, headroom=head, lookback_days=look)
                c = classify(opts, vms, avg, mx)
                print(f"| P{pct} | {head * 100:.0f}% | {look} d | "
                      + " | ".join(str(c[k]) for k in cols) + " |")
    for name, opts in (("Advisor shutdown, max-CPU P95 < 5 %, avg <= 5 %",
                        RightsizingOptions(shutdown_max_cpu_pct=5, shutdown_avg_cpu_pct=5)),
                       ("Advisor shutdown over 14 / 7 days",
                        RightsizingOptions(shutdown_days=14, shutdown_avg_days=7))):
        c = classify(opts, vms, avg, mx)
        print(f"{name}: " + ", ".join(f"{k} {c[k]}" for k in cols))
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t = time.perf_counter()
        engine = through_store(vms, avg, mx, tmp)
        direct = classify(RightsizingOptions(), vms, avg, mx)
        print(f"default setting through the store ({time.perf_counter() - t:.1f} s): "
              + ", ".join(f"{k} {engine[k]}" for k in cols)
              + f"; numpy path: {'same' if engine == direct else dict(direct)}")
        if not args.skip_speed:
            speed(args.resources, args.days, tmp)


if __name__ == "__main__":
    main()
