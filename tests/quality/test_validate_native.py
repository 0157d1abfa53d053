"""`validate --store` on a store built from every shared native export: 0 errors.

Every file under ../shared/data/native (except metrics/, which holds utilization metrics,
not billing) is either loaded or skipped here with the reason. The files skipped for a
defect of their own are loaded alone as well, and validate must report that defect: the
rules are not silenced, the data is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.ingest import ingest
from cloudledger.quality.validate import Report, validate_store
from cloudledger.store import Store
from tests.conftest import SHARED

NATIVE = SHARED / "data" / "native"

#: One ingest call per entry, in this order: (files, allow_bad_rows).
LOADS: list[tuple[list[str], bool]] = [
    (["aws-cur/koku__2022-07-01-alt-columns.csv"], False),
    (["aws-cur/koku__2023-06-01-not-final.csv"], False),
    (["aws-cur/koku__2023-06-01.csv"], False),  # the final month restates the not-final one
    # 2 malformed records (missing columns, lines 7 and 22) are set aside
    (["aws-cur/koku__November-2023-None.csv"], True),
    (["aws-cur/koku__test_cur.csv"], False),
    # the manifest loads its data file, koku__test_local_bucket__koku-local-1.csv.gz
    (["aws-cur/koku__test_local_bucket__koku-local-Manifest.json"], False),
    (["aws-cur/wal__BeforeCUR.gz"], False),
    (["aws-cur/wal__Oct2018-WorkshopCUR-00001.snappy.parquet"], False),
    # actual and amortized exports of one account and month form one FOCUS set
    (["azure/finops-toolkit__EA_ActualCost_Small.csv",
      "azure/finops-toolkit__EA_AmortizedCost_Small.csv"], False),
    (["azure/koku__camel_v2_with_BOM.csv"], False),
    (["gcp/koku__202011_30c31bca_2020-11-08_2020-11-11.csv"], False),
    (["gcp/koku__2022-08-01_5.csv"], False),
    (["gcp/koku__evidence-2019-06-03.csv"], False),
    (["opencost/finfocus-plugin-opencost__allocation-namespace-60m.json"], False),
]
VIA_MANIFEST = {"aws-cur/koku__test_local_bucket__koku-local-1.csv.gz"}

#: Not loadable at all: file -> reason.
UNLOADABLE = {
    "azure/finops-toolkit__EA_NoRows.csv": "a header without data rows (ingest refuses it)",
    "azure/koku__azure_export_manifest.json": "its data blob is not in the shared data",
    "opencost/finfocus-plugin-opencost__error-bad-window.json":
        "a saved error reply of the API (invalid window), not an allocation",
}
#: Loadable, but with a defect of their own that validate reports: file -> (reason,
#: {rule: count} of the errors validate gives on the file loaded alone).
DEFECTIVE: dict[str, tuple[str, dict[str, int]]] = {
    "azure/koku__azure_version_2.csv": (
        "BillingCurrencyCode 'MC' is no ISO 4217 code; 2 rows of the made-up location "
        "'usnorth' have no MeterRegion to name it", {"CL-CUR-001": 5, "CL-REF-001": 2}),
    "azure/koku__costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv": (
        "UnitOfMeasure is empty on every row: a quantity without its unit",
        {"CL-REF-001": 3}),
    "gcp/koku__tmp_example.csv": (
        "9 rows end before they start (usage_end_time < usage_start_time)",
        {"CL-PER-001": 9}),
}


def native_files() -> set[str]:
    return {str(p.relative_to(NATIVE)) for p in NATIVE.rglob("*")
            if p.is_file() and p.relative_to(NATIVE).parts[0] != "metrics"}


@pytest.fixture(scope="module")
def native_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not NATIVE.is_dir():
        pytest.fail(f"shared data not found at {NATIVE}; set CLOUDLEDGER_SHARED")
    path = tmp_path_factory.mktemp("native") / "native.duckdb"
    store = Store(path)
    for files, bad_rows in LOADS:
        ingest(store, [NATIVE / f for f in files], allow_bad_rows=bad_rows)
    report = validate_store(store)
    store.close()
    return path, report


def test_every_native_file_is_loaded_or_skipped_with_a_reason() -> None:
    loaded = {f for files, _ in LOADS for f in files} | VIA_MANIFEST
    assert not loaded & (set(UNLOADABLE) | set(DEFECTIVE))
    assert loaded | set(UNLOADABLE) | set(DEFECTIVE) == native_files()


def test_store_of_every_native_file_has_no_errors(native_store: Any) -> None:
    _, report = native_store
    assert isinstance(report, Report)
    failed = [(f.rule, f.count, f.detail, f.examples[:2]) for f in report.failed("error")]
    assert failed == [] and report.errors == 0
    assert report.rows > 140_000
    # AWS, Azure, GCP ids all carry their names now (CL-REF-001 ran, on every pair)
    ref = report.finding("CL-REF-001")
    assert (ref.status, ref.count) == ("pass", 0)
    # the Well-Architected Labs RIs amortize an upfront paid before October 2018
    assert report.finding("CL-CST-002").status == "pass"


def test_cli_validate_store_exit_0(native_store: Any) -> None:
    path, _ = native_store
    result = CliRunner().invoke(app, ["validate", "--store", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["errors"] == 0 and doc["origin"] == "store"


@pytest.mark.parametrize("name", sorted(DEFECTIVE))
def test_defective_files_are_reported(tmp_path: Path, name: str) -> None:
    store = Store(tmp_path / "one.duckdb")
    try:
        ingest(store, [NATIVE / name])
        report = validate_store(store)
    finally:
        store.close()
    assert {f.rule: f.count for f in report.failed("error")} == DEFECTIVE[name][1]
