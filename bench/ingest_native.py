"""Benchmark: cloudledger's AWS CUR ingest against DuckDB's raw read of the same file.

    .venv/bin/python bench/ingest_native.py --rows 5000000
    .venv/bin/python bench/ingest_native.py --rows 200000 --focus-converter

Generates (vectorized, in DuckDB) a legacy CUR CSV and an Athena-style CUR Parquet that
resemble the shared real ones (Usage, DiscountedUsage with RI ARNs, SavingsPlanCoveredUsage
with matching SavingsPlanNegation rows, RIFee and SavingsPlanRecurringFee rows with unused
commitment, Tax, Credit, resource tags, cost categories, ~60 columns), then in one process
times ``CREATE TABLE AS SELECT * FROM read_csv/read_parquet`` (the baseline) and
``cloudledger.ingest.ingest`` (read, map, load, reconcile) into a fresh store each, and
prints rows/s, the ratio (target >= 0.4x) and peak RSS. ``--focus-converter`` also times
focus-converter 1.0.0 on a 100k-row CSV in /tmp/fc-venv (skipped if it cannot be set up).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cloudledger.ingest import ingest  # noqa: E402
from cloudledger.store import Store  # noqa: E402

# legacy column name -> SQL over the generator relation g (i, k = i % 100, j = key row)
COLUMNS = {
    "identity/LineItemId": "md5(i::VARCHAR)",
    "identity/TimeInterval": "strftime(ts, '%Y-%m-%dT%H:00:00Z') || '/' || "
                             "strftime(ts + INTERVAL 1 HOUR, '%Y-%m-%dT%H:00:00Z')",
    "bill/InvoiceId": "'EUINXX24-0001'",
    "bill/InvoicingEntity": "'Amazon Web Services, Inc.'",
    "bill/BillingEntity": "'AWS'", "bill/BillType": "'Anniversary'",
    "bill/PayerAccountId": "'012345678901'",
    "bill/BillingPeriodStartDate": "'2024-05-01T00:00:00Z'",
    "bill/BillingPeriodEndDate": "'2024-06-01T00:00:00Z'",
    "lineItem/UsageAccountId": "lpad(((j % 7) + 100000000000)::VARCHAR, 12, '0')",
    "lineItem/LineItemType": "lit",
    "lineItem/UsageStartDate": "strftime(ts, '%Y-%m-%dT%H:00:00Z')",
    "lineItem/UsageEndDate": "strftime(ts + INTERVAL 1 HOUR, '%Y-%m-%dT%H:00:00Z')",
    "lineItem/ProductCode": "CASE WHEN j % 5 = 0 THEN 'AmazonRDS' WHEN j % 5 = 1 THEN "
                            "'AmazonS3' ELSE 'AmazonEC2' END",
    "lineItem/UsageType": "'USE1-BoxUsage:m5.' || ['large','xlarge','2xlarge'][j % 3 + 1]",
    "lineItem/Operation": "'RunInstances'",
    "lineItem/AvailabilityZone": "'us-east-1' || ['a','b','c'][j % 3 + 1]",
    "lineItem/ResourceId": "'i-' || lpad((j % 50000)::VARCHAR, 8, '0')",
    "lineItem/UsageAmount": "CASE WHEN lit IN ('Tax', 'Credit') THEN '0' ELSE '1' END",
    "lineItem/NormalizationFactor": "'4'", "lineItem/NormalizedUsageAmount": "'4'",
    "lineItem/CurrencyCode": "'USD'",
    "lineItem/UnblendedRate": "rate::VARCHAR",
    "lineItem/UnblendedCost": "CASE WHEN lit = 'SavingsPlanNegation' THEN (-od)::VARCHAR "
                              "WHEN lit = 'DiscountedUsage' THEN '0' ELSE cost::VARCHAR END",
    "lineItem/BlendedRate": "rate::VARCHAR", "lineItem/BlendedCost": "cost::VARCHAR",
    "lineItem/LineItemDescription": "'$' || rate::VARCHAR || ' per On Demand Linux Hour'",
    "lineItem/TaxType": "CASE WHEN lit = 'Tax' THEN 'VAT' ELSE '' END",
    "lineItem/LegalEntity": "'Amazon Web Services, Inc.'",
    "product/ProductName": "'Amazon Elastic Compute Cloud'",
    "product/instanceType": "'m5.large'", "product/location": "'US East (N. Virginia)'",
    "product/locationType": "'AWS Region'", "product/operatingSystem": "'Linux'",
    "product/productFamily": "'Compute Instance'", "product/region": "'us-east-1'",
    "product/servicecode": "'AmazonEC2'", "product/sku": "'SKU' || (j % 97)::VARCHAR",
    "product/tenancy": "'Shared'", "product/vcpu": "'2'", "product/memory": "'8 GiB'",
    "pricing/publicOnDemandCost": "CASE WHEN lit IN ('Tax','Credit','RIFee',"
                                  "'SavingsPlanRecurringFee') THEN '' ELSE od::VARCHAR END",
    "pricing/publicOnDemandRate": "od::VARCHAR",
    "pricing/term": "CASE WHEN lit = 'DiscountedUsage' THEN 'Reserved' ELSE 'OnDemand' END",
    "pricing/unit": "'Hrs'", "pricing/RateCode": "'RC.' || (j % 97)::VARCHAR",
    "pricing/RateId": "(j % 9973)::VARCHAR",
    "reservation/ReservationARN": "CASE WHEN lit IN ('DiscountedUsage', 'RIFee') THEN "
                                  "'arn:aws:ec2:us-east-1:012345678901:reserved-instances/ri-' "
                                  "|| (j % 20)::VARCHAR ELSE '' END",
    "reservation/EffectiveCost": "CASE WHEN lit = 'DiscountedUsage' THEN (od * 0.6)::VARCHAR "
                                 "ELSE '' END",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod":
        "CASE WHEN lit = 'RIFee' THEN '12.5' ELSE '' END",
    "reservation/UnusedRecurringFee": "CASE WHEN lit = 'RIFee' THEN '3.25' ELSE '' END",
    "reservation/TotalReservedUnits": "CASE WHEN lit = 'RIFee' THEN '744' ELSE '' END",
    "reservation/UnusedQuantity": "CASE WHEN lit = 'RIFee' THEN '40' ELSE '' END",
    "savingsPlan/SavingsPlanARN": "CASE WHEN lit LIKE 'SavingsPlan%' THEN "
                                  "'arn:aws:savingsplans::012345678901:savingsplan/sp-' || "
                                  "(j % 10)::VARCHAR ELSE '' END",
    "savingsPlan/SavingsPlanEffectiveCost": "CASE WHEN lit = 'SavingsPlanCoveredUsage' THEN "
                                            "(od * 0.7)::VARCHAR ELSE '' END",
    "savingsPlan/TotalCommitmentToDate": "CASE WHEN lit = 'SavingsPlanRecurringFee' THEN "
                                         "'1.5' ELSE '' END",
    "savingsPlan/UsedCommitment": "CASE WHEN lit = 'SavingsPlanRecurringFee' THEN '1.2' "
                                  "ELSE '' END",
    "resourceTags/user:env": "['prod', 'stage', '', 'dev'][j % 4 + 1]",
    "resourceTags/user:team": "CASE WHEN j % 3 = 0 THEN '' ELSE 'team-' || (j % 11)::VARCHAR "
                              "END",
    "resourceTags/aws:createdBy": "CASE WHEN j % 9 = 0 THEN 'IAMUser:AIDA:ci' ELSE '' END",
    "costCategory/CostCenter": "'cc-' || (j % 13)::VARCHAR",
}

GENERATOR = """
WITH r AS (SELECT range AS i, range % 100 AS k FROM range({rows})),
g0 AS (SELECT i, k,
  CASE WHEN k < 60 THEN 'Usage' WHEN k < 72 THEN 'DiscountedUsage'
       WHEN k < 84 THEN 'SavingsPlanCoveredUsage' WHEN k < 96 THEN 'SavingsPlanNegation'
       WHEN k = 96 THEN 'RIFee' WHEN k = 97 THEN 'SavingsPlanRecurringFee'
       WHEN k = 98 THEN 'Tax' ELSE 'Credit' END AS lit,
  CASE WHEN k BETWEEN 84 AND 95 THEN i - 12 ELSE i END AS j FROM r),
g AS (SELECT *, TIMESTAMP '2024-05-01' + to_hours((j // 100) % 744) AS ts,
  round(0.05 + (hash(j) % 1000) / 10000.0, 4) AS rate FROM g0),
h AS (SELECT *, CAST(rate * 1.0 AS DECIMAL(18, 8)) AS od,
  CASE WHEN lit = 'Tax' THEN 1.23 WHEN lit = 'Credit' THEN -0.5 WHEN lit = 'RIFee' THEN 9.75
       WHEN lit = 'SavingsPlanRecurringFee' THEN 1.5 ELSE CAST(rate AS DECIMAL(18, 8)) END
  AS cost FROM g)
SELECT {select} FROM h
"""


def snake(name: str) -> str:
    from cloudledger.ingest.sources.aws_common import snake as s

    return s(name)


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    con = duckdb.connect()
    csv_path, pq_path = folder / "cur.csv", folder / "cur.parquet"
    select = ", ".join(f'{expr} AS "{name}"' for name, expr in COLUMNS.items())
    con.execute(f"COPY ({GENERATOR.format(rows=rows, select=select)}) TO '{csv_path}' "
                "(HEADER, DELIMITER ',')")
    typed = []
    for name, expr in COLUMNS.items():
        if name.endswith(("Cost", "Rate", "Amount", "Fee", "Commitment", "ToDate")) and \
                "Description" not in name:
            expr = f"TRY_CAST(NULLIF({expr}, '') AS DOUBLE)"
        elif name.endswith(("StartDate", "EndDate")):
            expr = f"CAST({expr} AS TIMESTAMP)"
        typed.append(f'{expr} AS "{snake(name)}"')
    con.execute(f"COPY ({GENERATOR.format(rows=rows, select=', '.join(typed))}) TO "
                f"'{pq_path}' (FORMAT PARQUET, COMPRESSION SNAPPY)")
    con.close()
    return csv_path, pq_path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_raw(path: Path, folder: Path) -> float:
    con = duckdb.connect(str(folder / "raw.duckdb"))
    reader = "read_parquet" if path.suffix == ".parquet" else "read_csv"
    start = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM {reader}('{path}')")
    elapsed = time.perf_counter() - start
    con.close()
    (folder / "raw.duckdb").unlink()
    return elapsed


def time_cloudledger(path: Path, folder: Path) -> tuple[float, int]:
    store = Store(folder / "store.duckdb")
    start = time.perf_counter()
    reports = ingest(store, [path], fmt="aws-cur")
    elapsed = time.perf_counter() - start
    store.close()
    (folder / "store.duckdb").unlink()
    return elapsed, sum(r.rows for r in reports)


def focus_converter(folder: Path) -> str:
    venv = Path("/tmp/fc-venv")
    try:
        if not (venv / "bin" / "focus-converter").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                           capture_output=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                            "focus-converter==1.0.0", "multimethod==1.10", "click<8.2"],
                           check=True, capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as e:
        return f"focus-converter: skipped (cannot install: {type(e).__name__})"
    small = folder / "fc"
    small.mkdir(exist_ok=True)
    csv_path, _ = generate(small, 100_000)
    out = small / "out"
    start = time.perf_counter()
    run = subprocess.run([str(venv / "bin" / "focus-converter"), "convert", "--provider",
                          "aws-cur", "--data-path", str(csv_path), "--data-format", "csv",
                          "--parquet-data-format", "file", "--export-path", str(out)],
                         capture_output=True, text=True)
    fc = time.perf_counter() - start
    if run.returncode != 0:
        return f"focus-converter: skipped (run failed: {run.stderr.strip()[-200:]})"
    ours, _ = time_cloudledger(csv_path, small)
    return (f"focus-converter 1.0.0 on 100,000 rows: {fc:.2f}s; cloudledger {ours:.2f}s; "
            f"cloudledger is {fc / ours:.1f}x faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--focus-converter", action="store_true")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="generate the files into DIR and keep them; reuse them next time "
                         "if they were generated with the same --rows")
    args = ap.parse_args()
    if args.keep:
        folder = args.keep / str(args.rows)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="cl-bench-"))
    try:
        t0 = time.perf_counter()
        csv_path, pq_path = folder / "cur.csv", folder / "cur.parquet"
        done = folder / "generated"
        if not (args.keep and done.exists()):
            csv_path, pq_path = generate(folder, args.rows)
            done.touch()
            how = f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f}s"
        else:
            how = f"reused {args.rows:,} rows from {folder}"
        print(f"{how}: CSV {csv_path.stat().st_size / 1e6:.0f} MB, Parquet "
              f"{pq_path.stat().st_size / 1e6:.0f} MB, {len(COLUMNS)} columns")
        for path in (csv_path, pq_path):
            raw = time_raw(path, folder)
            ours, loaded = time_cloudledger(path, folder)
            print(f"{path.suffix[1:]:8s} duckdb raw read {args.rows / raw:>12,.0f} rows/s "
                  f"({raw:.2f}s) | cloudledger ingest {args.rows / ours:>12,.0f} rows/s "
                  f"({ours:.2f}s, {loaded:,} FOCUS rows) | ratio {raw / ours:.2f}x "
                  f"(target >= 0.4x) | peak RSS {peak_rss_mb():,.0f} MB")
        if args.focus_converter:
            print(focus_converter(folder))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
