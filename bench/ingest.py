"""Ingest throughput: cloudledger vs DuckDB's best-configured CREATE TABLE AS on the same file.

    python bench/ingest.py [--rows 5000000] [--repeat 1] [--keep DIR]

Generates a FOCUS file of N rows with the demo generator (one CSV, one Parquet; see
``_common.focus_files``), then for each format runs, each in a fresh process so that peak
RSS is per run:
  duckdb tuned  CREATE TABLE t AS SELECT * FROM read_csv(...) / read_parquet(...) with
                preserve_insertion_order=false and the store's memory_limit and threads
                (the baseline: DuckDB as well configured as cloudledger's store)
  duckdb plain  the same CTAS with DuckDB's defaults (context only)
  cloudledger   `ingest` into a new store (parse, type, check, load, replace, reconcile, log)
and prints rows/s, the ratio cloudledger/tuned CTAS (medians over --repeat), the same ratio
in CPU seconds (steadier than the wall clock on a shared machine) and peak RSS.
Targets (foundation item 7): Parquet and CSV >= 0.8x of the tuned CTAS, peak RSS < 2 GB.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CSV_OPTIONS, ROOT, focus_bench_args, median, run, store_settings

TARGET = 0.8

CTAS = """
import duckdb, json, sys, time
db, reader, path, options, tuned, memory, threads = sys.argv[1:8]
con = duckdb.connect(db)
if tuned == "1":
    con.execute(f"SET memory_limit='{memory}'")
    con.execute(f"SET threads={threads}")
    con.execute("SET preserve_insertion_order=false")
start, cpu = time.perf_counter(), cpu_s()
con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}('{path}'{options})")
rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
con.close()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": cpu_s() - cpu, "rows": rows,
                  "rss_mb": peak_rss_mb()}))
"""

CLOUDLEDGER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from cloudledger.ingest import ingest
from cloudledger.store import Store
store = Store(sys.argv[2])
start, cpu = time.perf_counter(), cpu_s()
[report] = ingest(store, [sys.argv[3]])
store.close()
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": cpu_s() - cpu,
                  "rows": report.rows,
                  "rss_mb": peak_rss_mb()}))
"""


def main() -> None:
    args, work, files = focus_bench_args(__doc__.splitlines()[0])
    settings = store_settings()
    print(f"baseline: tuned CTAS (preserve_insertion_order=false, memory_limit "
          f"{settings['memory_limit']}, threads {settings['threads']}); plain CTAS for context")
    print(f"{'format':8} {'engine':13} {'rows':>11} {'seconds':>8} {'cpu s':>7} {'rows/s':>11} "
          f"{'peak RSS MB':>11}")
    for fmt in args.format or ("parquet", "csv"):
        path = files[fmt]
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        options = "" if fmt == "parquet" else CSV_OPTIONS
        runs: dict[str, list[dict]] = {"duckdb tuned": [], "duckdb plain": [],
                                       "cloudledger": []}
        for i in range(args.repeat):
            for kind, out in runs.items():
                db = work / f"bench-{kind.replace(' ', '-')}-{fmt}-{i}.duckdb"
                for p in (db, Path(f"{db}.wal")):
                    p.unlink(missing_ok=True)
                if kind == "cloudledger":
                    r = run(CLOUDLEDGER, [str(ROOT), str(db), str(path)])
                else:
                    r = run(CTAS, [str(db), reader, str(path), options,
                                   "1" if kind == "duckdb tuned" else "0",
                                   settings["memory_limit"], settings["threads"]])
                out.append(r)
                for p in (db, Path(f"{db}.wal")):
                    p.unlink(missing_ok=True)
                print(f"{fmt:8} {kind:13} {r['rows']:>11,} {r['seconds']:>8.2f} {r['cpu']:>7.2f} "
                      f"{r['rows'] / r['seconds']:>11,.0f} {r['rss_mb']:>11,.0f}", flush=True)
        speed = {k: median(r["rows"] / r["seconds"] for r in v) for k, v in runs.items()}
        rss = max(r["rss_mb"] for r in runs["cloudledger"])
        cpu = {k: median(r["cpu"] for r in v) for k, v in runs.items()}
        print(f"{fmt:8} ratio cloudledger/tuned CTAS = "
              f"{speed['cloudledger'] / speed['duckdb tuned']:.2f}x (target >= {TARGET}x; "
              f"tuned/plain CTAS {speed['duckdb tuned'] / speed['duckdb plain']:.2f}x); CPU "
              f"seconds tuned CTAS/cloudledger {cpu['duckdb tuned'] / cpu['cloudledger']:.2f}x; "
              f"cloudledger peak RSS {rss:,.0f} MB (target < 2048 MB)", flush=True)


if __name__ == "__main__":
    main()
