"""Validation throughput: `cloudledger validate FILE` vs DuckDB's raw read of the same file.

    python bench/validate.py [--rows 5000000] [--repeat 1] [--keep DIR] [--format parquet]

Generates a FOCUS file of N rows with the demo generator (one CSV, one Parquet; see
``_common.focus_files``), then for each format runs, each in a fresh process so that peak
RSS is per run:
  duckdb       an honest full read of the file: ``SELECT count(*), bit_xor(hash(c))`` for
               every column c (every value of every column is decoded and touched; nothing
               is materialized), with the store's memory_limit and threads; CSV through
               DuckDB's sniffer (types detected, the id columns pinned to VARCHAR)
  cloudledger  the `validate FILE --format json` command, in process after importing the
               CLI (so the time covers reading, every rule, the examples and the report)
and prints seconds, rows/s, the ratio cloudledger/duckdb (medians over --repeat) and peak
RSS (VmHWM of the child). Target (foundation item 7): >= 0.3x at 5M rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CSV_OPTIONS, ROOT, focus_bench_args, median, run, store_settings

TARGET = 0.3

RAW_READ = """
import duckdb, json, sys, time
path, reader, options, memory, threads = sys.argv[1:6]
con = duckdb.connect()
con.execute(f"SET memory_limit='{memory}'")
con.execute(f"SET threads={threads}")
con.execute("SET preserve_insertion_order=false")
src = f"{reader}('{path}'{options})"
start = time.perf_counter()
rows, *_ = con.execute(f"SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM {src}").fetchone()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": rows, "rss_mb": peak_rss_mb()}))
"""

VALIDATE = """
import contextlib, io, json, sys, time
sys.path.insert(0, sys.argv[1])
from cloudledger.cli import app
out = io.StringIO()
start = time.perf_counter()
with contextlib.redirect_stdout(out):
    try:
        app(["validate", sys.argv[2], "--format", "json"])
        code = 0
    except SystemExit as e:  # the command's exit code
        code = e.code or 0
seconds = time.perf_counter() - start
if code not in (0, 1):
    sys.exit(f"validate exited {code}:\\n{out.getvalue()[-3000:]}")
report = json.loads(out.getvalue())
print(json.dumps({"seconds": seconds, "rows": report["rows"], "rss_mb": peak_rss_mb(),
                  "errors": report["errors"], "warnings": report["warnings"],
                  "failed": [f["rule"] for f in report["findings"] if f["status"] == "fail"]}))
"""


def main() -> None:
    args, _, files = focus_bench_args(__doc__.splitlines()[0])
    settings = store_settings()
    print(f"duckdb raw read: count(*) + bit_xor(hash(column)) of every column, memory_limit "
          f"{settings['memory_limit']}, threads {settings['threads']}")
    print(f"{'format':8} {'engine':12} {'rows':>11} {'seconds':>8} {'rows/s':>11} "
          f"{'peak RSS MB':>11}")
    for fmt in args.format or ("parquet", "csv"):
        path = files[fmt]
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        options = "" if fmt == "parquet" else CSV_OPTIONS
        base: list[dict] = []
        mine: list[dict] = []
        for _ in range(args.repeat):
            for kind, runs in (("duckdb", base), ("cloudledger", mine)):
                if kind == "duckdb":
                    r = run(RAW_READ, [str(path), reader, options, settings["memory_limit"],
                                       settings["threads"]])
                else:
                    r = run(VALIDATE, [str(ROOT), str(path)])
                runs.append(r)
                extra = (f"  ({r['errors']} error / {r['warnings']} warning rules failed: "
                         f"{', '.join(r['failed']) or 'none'})" if kind == "cloudledger"
                         else "")
                print(f"{fmt:8} {kind:12} {r['rows']:>11,} {r['seconds']:>8.2f} "
                      f"{r['rows'] / r['seconds']:>11,.0f} {r['rss_mb']:>11,.0f}{extra}",
                      flush=True)
        b = median(r["rows"] / r["seconds"] for r in base)
        m = median(r["rows"] / r["seconds"] for r in mine)
        rss = max(r["rss_mb"] for r in mine)
        print(f"{fmt:8} ratio cloudledger validate/duckdb raw read = {m / b:.2f}x "
              f"(target >= {TARGET}x); validate median {median(r['seconds'] for r in mine):.1f}"
              f" s, peak RSS {rss:,.0f} MB", flush=True)


if __name__ == "__main__":
    main()
