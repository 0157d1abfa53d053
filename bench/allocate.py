"""Allocation speed and memory: N FOCUS rows, 50 rules, 5 shared pools.

    .venv/bin/python bench/allocate.py --rows 20000000

Generates the rows vectorized in DuckDB straight into a store (13 monthly periods, 3
providers, 40 services, 200k resources, 2k distinct tag sets, ~6% of rows in shared pools),
then, each in a fresh process: the allocation (rules + pools + conservation + atomic write),
and two baselines on the same rows: a plain GROUP BY of every non-cost column (writing a
table as wide as ``allocated``) and a narrow GROUP BY (period, service). Prints wall time,
peak RSS and the ratios. DuckDB runs with memory_limit (default 2GB) so it spills.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def run_isolated(code: str) -> dict[str, Any]:
    """Run ``code`` (printing one JSON object) in a fresh interpreter; add its peak RSS."""
    import subprocess

    # the child reports its own high-water mark from /proc: ru_maxrss survives fork+exec on
    # Linux, so it would show the generator's peak in this (parent) process
    code += ("\nimport json as _j\n"
             "_kb = [int(x.split()[1]) for x in open('/proc/self/status') "
             "if x.startswith('VmHWM:')][0]\n"
             "print(_j.dumps({'kb': _kb}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    lines = proc.stdout.strip().splitlines()
    out: dict[str, Any] = json.loads(lines[-2])
    out["peak_rss_mb"] = json.loads(lines[-1])["kb"] / 1024
    return out

TEAMS = [f"team-{i:02d}" for i in range(40)]
SERVICES = [f"Service {i:02d}" for i in range(35)] + [
    "Support", "Shared Network", "Security Hub", "Observability", "Data Platform"]


def generate(path: Path, rows: int) -> None:
    import duckdb

    from cloudledger.store import Store

    Store(path).close()  # the focus table and friends
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order=false")
    teams = "[" + ", ".join(f"'{t}'" for t in TEAMS) + "]"
    services = "[" + ", ".join(f"'{s}'" for s in SERVICES) + "]"
    con.execute(f"""
    INSERT INTO focus ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
      "ChargePeriodEnd", "BillingAccountId", "BillingCurrency", "ChargeCategory",
      "ProviderName", "ServiceName", "ServiceCategory", "InvoiceIssuerName", "PublisherName",
      "SubAccountId", "RegionId", "ResourceId", "Tags", "BilledCost", "EffectiveCost",
      "ListCost", "ContractedCost", "x_SourceFormat", "x_IngestId")
    SELECT p, p + INTERVAL 1 MONTH, p + to_days(CAST(h % 28 AS INTEGER)),
      p + to_days(CAST(h % 28 AS INTEGER) + 1), 'billing-' || (r % 3),
      'USD', CASE WHEN svc = 36 THEN 'Purchase' ELSE 'Usage' END,
      ['AWS', 'Microsoft', 'Google Cloud'][1 + r % 3], {services}[svc],
      'Compute', 'Cloud', 'Cloud', 'acct-' || (res % 60), 'region-' || (res % 7),
      'res/' || {teams}[1 + res % 40] || '-' || res,
      CASE WHEN res % 4 = 0 THEN NULL WHEN svc > 35 THEN '{{"cost-pool": "pool-' || svc || '"}}'
           ELSE '{{"team": "' || {teams}[1 + (res // 4) % 40] || '", "env": "' ||
                ['prod', 'Production', 'dev'][1 + res % 3] || '"}}' END,
      c, c, CAST(c * 1.2 AS DECIMAL(38, 12)), CAST(c * 1.1 AS DECIMAL(38, 12)), 'bench', 1
    FROM (SELECT r, CAST(hash(r) % 1000000007 AS BIGINT) AS h,
            CAST((hash(r) // 7) % 200000 AS BIGINT) AS res,
            CAST(CASE WHEN r % 100 < 6 THEN 36 + r % 5 ELSE 1 + (hash(r) // 11) % 35 END
                 AS BIGINT) AS svc,
            TIMESTAMP '2025-06-01' + to_months(CAST(r % 13 AS INTEGER)) AS p,
            CAST((hash(r) % 1000000) / 10000.0 AS DECIMAL(38, 12)) AS c
          FROM range({rows}) AS t(r))
    """)
    con.close()


def settings_data() -> dict[str, object]:
    rules = []
    for i in range(40):
        rules.append({"name": f"name-{i}", "match": {"resource_regex": f"/team-{i:02d}-"},
                      "set": {"team": TEAMS[i], "product": f"product-{i % 8}"}})
    for i in range(10):
        rules.append({"name": f"acct-{i}", "match": {"account": f"acct-{i}",
                                                     "service": SERVICES[i]},
                      "set": {"cost_center": f"CC-{i}"}})
    fixed = {"percentages": {TEAMS[0]: 50, TEAMS[1]: 25, TEAMS[2]: 25}}
    splits: list[tuple[str, dict[str, Any]]] = [
        ("proportional", {}), ("even", {}), ("fixed", fixed),
        ("proportional", {"to": TEAMS[:10]}), ("even", {"to": TEAMS[5:20]})]
    shared = [{"name": f"pool-{i}", "match": {"service": SERVICES[35 + i]}, "split": s, **extra}
              for i, (s, extra) in enumerate(splits)]
    return {"rules": rules, "shared": shared}


ALLOCATE = """
import json, time
from cloudledger.store import Store
from cloudledger.config import settings_from
from cloudledger.allocate import allocate
s = Store({path!r}); s.raw("SET memory_limit='{mem}'")
t = time.perf_counter(); r = allocate(s, settings_from({settings}))
print(json.dumps({{"seconds": time.perf_counter() - t, "rows_out": r.rows_out,
                  "named": r.named_share(), "ok": all(c.ok for c in r.conservation)}}))
"""
BASELINE = """
import json, time, duckdb
con = duckdb.connect({path!r}); con.execute("SET memory_limit='{mem}'")
con.execute("SET preserve_insertion_order=false")
cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
        "table_name = 'focus' ORDER BY ordinal_position").fetchall()]
costs = ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"]
keys = ", ".join('"' + c + '"' for c in cols if c not in costs)
sums = ", ".join('SUM("' + c + '") AS "' + c + '"' for c in costs)
t = time.perf_counter()
con.execute({sql!r}.format(keys=keys, sums=sums))
print(json.dumps({{"seconds": time.perf_counter() - t}}))
"""
WIDE = "CREATE OR REPLACE TABLE bench_groupby AS SELECT {keys}, {sums} FROM focus GROUP BY ALL"
NARROW = ("CREATE OR REPLACE TABLE bench_groupby AS SELECT \"BillingPeriodStart\", "
          "\"ServiceName\", {sums} FROM focus GROUP BY ALL")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--memory-limit", default="2GB")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="cloudledger-bench-"))
    path = work / "bench.duckdb"
    t = time.perf_counter()
    generate(path, args.rows)
    print(f"generated {args.rows:,} FOCUS rows in {time.perf_counter() - t:.1f}s ({path})")
    mem = args.memory_limit
    wide = run_isolated(BASELINE.format(path=str(path), mem=mem, sql=WIDE))
    narrow = run_isolated(BASELINE.format(path=str(path), mem=mem, sql=NARROW))
    alloc = run_isolated(ALLOCATE.format(path=str(path), mem=mem,
                                         settings=json.dumps(settings_data())))
    print(f"allocate: {alloc['seconds']:.1f}s, peak RSS {alloc['peak_rss_mb']:.0f} MB, "
          f"{alloc['rows_out']:,} allocated rows, conserved={alloc['ok']}, "
          f"named {alloc['named']:.1%} (50 rules, 5 pools, memory_limit {mem})")
    print(f"baseline GROUP BY all non-cost columns (full-width table): {wide['seconds']:.1f}s"
          f", peak RSS {wide['peak_rss_mb']:.0f} MB")
    print(f"baseline GROUP BY period, service: {narrow['seconds']:.1f}s")
    print(f"ratio allocate / wide GROUP BY: {alloc['seconds'] / wide['seconds']:.2f}x "
          f"(target <= 3x); allocate / narrow GROUP BY: "
          f"{alloc['seconds'] / narrow['seconds']:.1f}x")


if __name__ == "__main__":
    main()
