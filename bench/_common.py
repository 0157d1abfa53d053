"""Helpers shared by the bench scripts: generated FOCUS files, isolated runs, store settings.

Each measured run happens in a fresh interpreter (``run``) so that its peak RSS is its own:
the child reads its high-water mark (``VmHWM``) from /proc, because ``ru_maxrss`` survives
fork+exec on Linux and would show the parent's (the generator's) peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: Prepended to every child's code: ``peak_rss_mb()`` and ``cpu_s()`` (user + system CPU
#: seconds of the process: on a shared machine a steadier measure than the wall clock).
PEAK_RSS = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

def cpu_s():
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
"""

#: DuckDB's sniffer takes the account ids for BIGINT and fails later in the file; a DuckDB
#: user pins them to VARCHAR after that error.
CSV_OPTIONS = ", types={'BillingAccountId': 'VARCHAR', 'SubAccountId': 'VARCHAR', " \
    "'InvoiceId': 'VARCHAR'}"


def run(code: str, args: Iterable[str] = ()) -> dict[str, Any]:
    """Run ``code`` (its last stdout line one JSON object) in a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS + code, *args], capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        sys.exit(f"bench run failed:\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def workdir(keep: Path | None) -> Path:
    work = keep or Path(tempfile.mkdtemp(prefix="cl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    return work


def focus_files(rows: int, work: Path) -> dict[str, Path]:
    """One Parquet and one CSV FOCUS file of about ``rows`` demo rows in ``work`` (reused
    when a previous run generated them with the same ``rows``)."""
    sys.path.insert(0, str(ROOT))
    from cloudledger.demo import generate

    files = {"parquet": work / "focus.parquet", "csv": work / "focus.csv"}
    marker = work / "generated-rows"
    same = marker.exists() and marker.read_text().strip() == str(rows)
    if not (same and all(f.exists() for f in files.values())):
        print(f"generating ~{rows:,} FOCUS rows with the demo generator into {work} ...",
              flush=True)
        marker.unlink(missing_ok=True)
        generate(rows, seed=7, end=date(2026, 11, 1), out_dir=work,
                 formats=("parquet", "csv"), single_file=True)
        marker.write_text(str(rows))
    return files


def store_settings() -> dict[str, str]:
    """The DuckDB settings a cloudledger store runs with (memory_limit from
    ``CLOUDLEDGER_MEMORY_LIMIT`` or the default, threads as the store leaves them)."""
    import os

    sys.path.insert(0, str(ROOT))
    from cloudledger.store import DEFAULT_MEMORY_LIMIT, Store

    store = Store(":memory:")
    try:
        threads = store.con.raw_sql("SELECT current_setting('threads')").fetchone()[0]
    finally:
        store.close()
    return {"memory_limit": os.environ.get("CLOUDLEDGER_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
            "threads": str(threads)}


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def focus_bench_args(description: str) -> tuple[argparse.Namespace, Path, dict[str, Path]]:
    """The options every FOCUS-file bench takes (--rows, --repeat, --keep, --format), its
    work directory and the generated files by format."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="reuse/keep generated files in this directory")
    ap.add_argument("--format", choices=("parquet", "csv"), action="append",
                    help="only this format (repeatable; default both)")
    args = ap.parse_args()
    work = workdir(args.keep)
    return args, work, focus_files(args.rows, work)
