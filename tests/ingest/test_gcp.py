"""GCP Cloud Billing export: the 4 shared koku files (BigQuery CSV with Python-repr nested
fields, and the deprecated file export) plus generated NDJSON / Parquet detailed exports."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cloudledger.ingest import detect, ingest
from cloudledger.store import Store


def raw_total(path: Path) -> Decimal:
    """sum(cost) + sum(credits.amount), computed on the raw file with DuckDB."""
    sql = (f"SELECT sum(CAST(cost AS DECIMAL(38, 18))) + coalesce(sum((SELECT sum(CAST(a AS "
           f"DECIMAL(38, 18))) FROM (SELECT unnest(regexp_extract_all(credits, "
           f"'''amount'': ([-0-9.e]+)', 1)) a))), 0) FROM read_csv('{path}', "
           f"all_varchar=true, header=true)")
    return Decimal(duckdb.sql(sql).fetchone()[0])


def summary(store: Store) -> dict[str, tuple[int, Decimal]]:
    rows = store.sql("SELECT ChargeCategory c, count(*) n, sum(BilledCost) b FROM focus "
                     "GROUP BY 1").to_pylist()
    return {r["c"]: (r["n"], r["b"]) for r in rows}


@pytest.fixture()
def gcp(shared_data: Path) -> Path:
    return shared_data / "native" / "gcp"


@pytest.mark.parametrize(("name", "usage", "credits", "total"), [
    ("koku__202011_30c31bca_2020-11-08_2020-11-11.csv", 25, 8, Decimal(0)),
    ("koku__2022-08-01_5.csv", 9, 0, Decimal("0.000012")),
    ("koku__tmp_example.csv", 292, 0, Decimal("0.355562")),
])
def test_bigquery_csv_samples(store: Store, gcp: Path, name: str, usage: int, credits: int,
                              total: Decimal) -> None:
    path = gcp / name
    assert detect(path).name == "gcp"
    [report] = ingest(store, [path])
    assert all(r.ok for r in report.reconciliation)
    got = summary(store)
    assert got["Usage"][0] == usage and got.get("Credit", (0, 0))[0] == credits
    billed = sum((v[1] for v in got.values()), Decimal(0))
    assert billed == raw_total(path) == total


def test_credits_are_credit_rows(store: Store, gcp: Path) -> None:
    ingest(store, [gcp / "koku__202011_30c31bca_2020-11-08_2020-11-11.csv"])
    got = summary(store)
    assert got["Credit"][1] == Decimal("-0.000032") and got["Usage"][1] == Decimal("0.000032")
    row = store.sql("SELECT * FROM focus WHERE ChargeCategory = 'Credit' LIMIT 1").to_pylist()[0]
    assert row["x_CreditType"] == "PROMOTION"
    assert row["ChargeDescription"] == "FreeTrial:Credit-000000-B0BBA4-940A77"
    assert row["BilledCost"] == row["EffectiveCost"] == Decimal("-0.000005")
    assert row["SubAccountId"] == "billing-example-00000"
    assert row["BillingPeriodStart"].isoformat() == "2020-11-01T00:00:00"
    tags = store.sql("SELECT DISTINCT Tags FROM focus WHERE Tags IS NOT NULL").column(0)
    assert {json.loads(t.as_py())["goog-resource-type"] for t in tags} == {
        "bigquery_project", "bigquery_resource", "bigquery_dataset"}


def test_labels_system_labels_and_project(store: Store, gcp: Path) -> None:
    ingest(store, [gcp / "koku__tmp_example.csv"])
    rows = store.sql("SELECT Tags, x_ProjectLabels, SubAccountId, SubAccountName FROM focus "
                     "WHERE Tags LIKE '%vm_key_proj2%' AND Tags LIKE '%machine_spec%'"
                     ).to_pylist()
    assert rows
    assert json.loads(rows[0]["Tags"]) == {
        "vm_key_proj2": "vm_label_proj2", "compute.googleapis.com/cores": "2",
        "compute.googleapis.com/machine_spec": "e2-medium",
        "compute.googleapis.com/memory": "4096"}
    assert rows[0]["SubAccountId"] == "test-project-id"
    tagged = store.sql("SELECT count(*) FROM focus WHERE Tags IS NOT NULL").column(0)[0]
    assert tagged.as_py() == 153


def test_deprecated_file_export(store: Store, gcp: Path) -> None:
    path = gcp / "koku__evidence-2019-06-03.csv"
    assert detect(path).name == "gcp"
    [report] = ingest(store, [path])
    assert report.rows == 29 and all(r.ok for r in report.reconciliation)
    raw = duckdb.sql(f"SELECT sum(CAST(\"Cost\" AS DECIMAL(38, 18))), sum(CAST(\"Credit1 "
                     f"Amount\" AS DECIMAL(38, 18))) FROM read_csv('{path}', all_varchar=true,"
                     f" header=true)").fetchone()
    got = summary(store)
    assert got["Usage"] == (26, raw[0]) and got["Credit"] == (3, raw[1])
    assert raw[0] == Decimal("0.581324")
    row = store.sql("SELECT * FROM focus WHERE ChargeCategory = 'Credit' ORDER BY BilledCost "
                    "LIMIT 1").to_pylist()[0]
    assert row["BilledCost"] == Decimal("-0.386854")
    assert row["ChargePeriodStart"].isoformat() == "2019-09-16T07:00:00"  # -07:00 in UTC
    assert row["BillingPeriodStart"].isoformat() == "2019-09-01T00:00:00"
    assert row["SubAccountId"] == "fine-way-252818"


DETAILED = [
    {"billing_account_id": "AAA-1", "service": {"id": "S1", "description": "Compute Engine"},
     "sku": {"id": "K1", "description": "N2 core"}, "usage_start_time":
     "2024-04-30T23:00:00Z", "usage_end_time": "2024-05-01T00:00:00Z",
     "project": {"id": "p1", "name": "Proj 1", "number": "42", "labels": []},
     "labels": [{"key": "team", "value": "a"}], "system_labels": [
         {"key": "compute.googleapis.com/machine_spec", "value": "n2-standard-2"}],
     "tags": [{"key": "env", "value": "prod", "inherited": True, "namespace": "123"}],
     "location": {"location": "us-east1", "country": "US", "region": "us-east1",
                  "zone": "us-east1-b"},
     "resource": {"name": "vm-1", "global_name":
                  "//compute.googleapis.com/projects/p1/zones/us-east1-b/instances/vm-1"},
     "cost": 10.25, "cost_at_list": 12.5, "currency": "USD",
     "usage": {"amount": 3600.0, "unit": "seconds", "amount_in_pricing_units": 1.0,
               "pricing_unit": "hour"},
     "credits": [{"name": "CUD", "amount": -2.5, "full_name": "Committed use discount",
                  "id": "c1", "type": "COMMITTED_USAGE_DISCOUNT"},
                 {"name": "SUD", "amount": -0.75, "full_name": None, "id": "c2",
                  "type": "SUSTAINED_USAGE_DISCOUNT"}],
     "invoice": {"month": "202405"}, "cost_type": "regular"},
    {"billing_account_id": "AAA-1", "service": {"id": "S1", "description": "Compute Engine"},
     "sku": {"id": "K2", "description": "Tax"}, "usage_start_time": "2024-05-02T00:00:00Z",
     "usage_end_time": "2024-05-02T01:00:00Z",
     "project": {"id": "p1", "name": "Proj 1", "number": "42", "labels": []},
     "labels": [], "system_labels": [], "tags": [],
     "location": {"location": "us-east1", "country": "US", "region": "us-east1", "zone": None},
     "resource": {"name": None, "global_name": None},
     "cost": 1.1, "cost_at_list": 1.1, "currency": "USD",
     "usage": {"amount": 0.0, "unit": None, "amount_in_pricing_units": 0.0,
               "pricing_unit": None},
     "credits": [], "invoice": {"month": "202405"}, "cost_type": "tax"},
]


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_detailed_export_ndjson_and_parquet(store: Store, tmp_path: Path, fmt: str) -> None:
    """Generated from the documented detailed-export schema (no public sample exists)."""
    path = tmp_path / "billing.json"
    path.write_text("\n".join(json.dumps(r) for r in DETAILED) + "\n")
    if fmt == "parquet":
        target = tmp_path / "billing.parquet"
        duckdb.sql(f"COPY (SELECT * FROM read_json('{path}')) TO '{target}' (FORMAT parquet)")
        path.unlink()
        path = target
    assert detect(path).name == "gcp"
    [report] = ingest(store, [path])
    assert report.rows == 4 and all(r.ok for r in report.reconciliation)
    got = summary(store)
    assert got == {"Usage": (1, Decimal("10.25")), "Credit": (2, Decimal("-3.25")),
                   "Tax": (1, Decimal("1.1"))}
    usage = store.sql("SELECT * FROM focus WHERE ChargeCategory = 'Usage'").to_pylist()[0]
    assert usage["ListCost"] == Decimal("12.5")
    assert usage["BillingPeriodStart"].isoformat() == "2024-05-01T00:00:00"  # invoice month
    assert usage["ChargePeriodStart"].isoformat() == "2024-04-30T23:00:00"
    assert json.loads(usage["Tags"]) == {"team": "a", "env": "prod",
                                         "compute.googleapis.com/machine_spec": "n2-standard-2"}
    assert usage["ResourceName"] == "vm-1" and usage["AvailabilityZone"] == "us-east1-b"
    assert usage["SubAccountName"] == "Proj 1"
    # the collection of the full resource name; the region table's name for us-east1
    assert (usage["ResourceType"], usage["RegionId"], usage["RegionName"]) == (
        "instances", "us-east1", "South Carolina")


def names(store: Store, sql: str) -> dict[tuple[object, ...], int]:
    rows = store.sql(f"SELECT {sql}, count(*) AS c FROM focus GROUP BY ALL").to_pylist()
    return {tuple(v for k, v in r.items() if k != "c"): r["c"] for r in rows}


def test_region_project_and_resource_names(store: Store, gcp: Path) -> None:
    """RegionName, SubAccountName, ResourceType wherever their id is set (FOCUS C-005)."""
    ingest(store, [gcp / "koku__202011_30c31bca_2020-11-08_2020-11-11.csv"])
    assert names(store, "RegionId, RegionName") == {
        ("global", "Global"): 16, ("us", "United States (multi-region)"): 17}
    assert names(store, "SubAccountId, SubAccountName") == {
        ("billing-example-00000", "cloud-billing"): 33}
    store.raw("DELETE FROM focus")
    # resource.global_name "//example" is no full resource name: the service names the type
    ingest(store, [gcp / "koku__2022-08-01_5.csv"])
    assert names(store, "RegionId, RegionName, ResourceId, ResourceType") == {
        ("us-central1", "Iowa", "//example", "Compute Engine"): 9}
    assert names(store, "SubAccountId, SubAccountName") == {
        ("cloud-billing-292519", "cm_example"): 9}


def test_whole_directory_of_mixed_variants_is_one_load(store: Store, gcp: Path) -> None:
    """Standard, detailed and old file exports side by side: one load, columns unioned by
    name, every account and period reconciled."""
    (report,) = ingest(store, [gcp])
    assert len(report.files) == 4
    assert report.rows == 33 + 9 + 292 + 29
    assert all(r.ok for r in report.reconciliation)
    assert {r.billing_account for r in report.reconciliation} == {
        "000000-B0BBA4-940A77", "018984-D0AAA4-940B88", "01C2AB-2F30E0-1EF054",
        "2G11B4-01028B-AB26DE"}
