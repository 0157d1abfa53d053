"""FOCUS conformance validation: real files, one generated violation per rule, the CLI."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.quality.rules import RULES
from cloudledger.quality.validate import Report, validate_file, validate_store

# ------------------------------------------------------------------ a valid generated file
# Four rows: plain usage, a commitment purchase, its Used and its Unused usage rows.
_COMMON = {
    "BillingAccountId": "acct-1", "BillingAccountName": "Acme", "BillingCurrency": "USD",
    "BillingPeriodStart": "2024-09-01T00:00:00Z", "BillingPeriodEnd": "2024-10-01T00:00:00Z",
    "ChargeClass": "", "ChargeDescription": "VM hour", "ChargePeriodStart":
    "2024-09-02T00:00:00Z", "ChargePeriodEnd": "2024-09-02T01:00:00Z", "InvoiceIssuerName":
    "Cloud Inc", "ProviderName": "Cloud", "PublisherName": "Cloud", "RegionId": "eu-1",
    "RegionName": "Europe 1", "ServiceCategory": "Compute", "ServiceName": "VMs",
    "SubAccountId": "sub-1", "SubAccountName": "Team A", "Tags": '{"team": "a", "n": 1}',
    "CapacityReservationId": "", "CapacityReservationStatus": "", "PricingQuantity": "1",
    "PricingUnit": "Hours", "x_Custom": "z",
}
_NO_CD = {"CommitmentDiscountId": "", "CommitmentDiscountCategory": "",
          "CommitmentDiscountName": "", "CommitmentDiscountStatus": "",
          "CommitmentDiscountType": ""}
_CD = {"CommitmentDiscountId": "cd-1", "CommitmentDiscountCategory": "Usage",
       "CommitmentDiscountName": "RI 1", "CommitmentDiscountType": "Reserved Instance"}
BASE: list[dict[str, str]] = [
    {**_COMMON, **_NO_CD, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
     "BilledCost": "1.50", "EffectiveCost": "1.50", "ListCost": "2.00", "ContractedCost":
     "1.50", "ListUnitPrice": "2.00", "ContractedUnitPrice": "1.50", "PricingCategory":
     "Standard", "ConsumedQuantity": "1", "ConsumedUnit": "Hours", "ResourceId": "vm-1",
     "ResourceType": "VM"},
    {**_COMMON, **_CD, "CommitmentDiscountStatus": "", "ChargeCategory": "Purchase",
     "ChargeFrequency": "Recurring", "BilledCost": "3.00", "EffectiveCost": "0",
     "ListCost": "3.00", "ContractedCost": "3.00", "ListUnitPrice": "3.00",
     "ContractedUnitPrice": "3.00", "PricingCategory": "Standard", "ConsumedQuantity": "",
     "ConsumedUnit": "", "ResourceId": "cd-1", "ResourceType": "Commitment"},
    {**_COMMON, **_CD, "CommitmentDiscountStatus": "Used", "ChargeCategory": "Usage",
     "ChargeFrequency": "Usage-Based", "BilledCost": "0", "EffectiveCost": "2.00",
     "ListCost": "4.00", "ContractedCost": "4.00", "ListUnitPrice": "4.00",
     "ContractedUnitPrice": "4.00", "PricingCategory": "Committed", "ConsumedQuantity": "1",
     "ConsumedUnit": "Hours", "ResourceId": "vm-2", "ResourceType": "VM"},
    {**_COMMON, **_CD, "CommitmentDiscountStatus": "Unused", "ChargeCategory": "Usage",
     "ChargeFrequency": "Usage-Based", "BilledCost": "0", "EffectiveCost": "1.00",
     "ListCost": "0", "ContractedCost": "0", "ListUnitPrice": "", "ContractedUnitPrice": "",
     "PricingCategory": "Committed", "ConsumedQuantity": "", "ConsumedUnit": "",
     "ResourceId": "", "ResourceType": ""},
]


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def mutated(changes: list[tuple[int, str, str]] = (), drop: str | None = None,  # type: ignore[assignment]
            rename: tuple[str, str] | None = None) -> list[dict[str, str]]:
    rows = [dict(r) for r in BASE]
    for i, col, value in changes:
        rows[i][col] = value
    for r in rows:
        if drop:
            r.pop(drop)
        if rename:
            r[rename[1]] = r.pop(rename[0])
    return rows


def test_base_file_is_clean(tmp_path: Path) -> None:
    report = validate_file(write(tmp_path / "ok.csv", BASE))
    failed = [(f.rule, f.count, f.examples) for f in report.findings if f.status == "fail"]
    assert failed == []
    assert report.rows == 4 and report.exit_code == 0
    assert not [f.rule for f in report.findings if f.status == "skip"]  # every rule ran


# (rule, mutation, expected count): one generated violation per rule
CASES: list[tuple[str, dict[str, Any], int]] = [
    ("CL-COL-001", {"drop": "BillingAccountId"}, 1),
    ("CL-COL-002", {"rename": ("x_Custom", "Custom")}, 1),
    ("CL-TYP-001", {"changes": [(0, "BilledCost", "$1.50"), (2, "ListCost", "1,000")]}, 2),
    ("CL-TYP-002", {"changes": [(0, "ChargePeriodEnd", "2024-09-02T30:00:00Z")]}, 1),
    ("CL-TYP-003", {"changes": [(0, "ChargePeriodStart", "2024-09-02 00:00:00")]}, 1),
    ("CL-NUL-001", {"changes": [(0, "ServiceName", ""), (1, "BilledCost", "NULL")]}, 2),
    ("CL-VAL-001", {"changes": [(0, "ChargeCategory", "usage")]}, 1),
    ("CL-VAL-002", {"changes": [(0, "ChargeClass", "Refund")]}, 1),
    ("CL-VAL-003", {"changes": [(0, "ChargeFrequency", "Usage-based")]}, 1),
    ("CL-VAL-004", {"changes": [(0, "PricingCategory", "OnDemand")]}, 1),
    ("CL-VAL-005", {"changes": [(2, "CommitmentDiscountCategory", "Spendy")]}, 1),
    ("CL-VAL-006", {"changes": [(2, "CommitmentDiscountStatus", "used")]}, 1),
    ("CL-VAL-007", {"changes": [(0, "ServiceCategory", "Computing")]}, 1),
    ("CL-VAL-008", {"changes": [(0, "CapacityReservationId", "cr-1"),
                                (0, "CapacityReservationStatus", "Busy")]}, 1),
    ("CL-CUR-001", {"changes": [(0, "BillingCurrency", "usd"), (1, "BillingCurrency", "$")]},
     2),
    ("CL-JSN-001", {"changes": [(0, "Tags", '{"a": {"b": 1}}'), (1, "Tags", "{a:1}"),
                                (2, "Tags", '["x"]')]}, 3),
    ("CL-PER-001", {"changes": [(0, "ChargePeriodEnd", "2024-09-02T00:00:00Z")]}, 1),
    ("CL-PER-002", {"changes": [(0, "BillingPeriodEnd", "2024-09-01T00:00:00Z")]}, 1),
    ("CL-PER-003", {"changes": [(0, "ChargePeriodStart", "2024-10-02T00:00:00Z"),
                                (0, "ChargePeriodEnd", "2024-10-02T01:00:00Z")]}, 1),
    ("CL-PER-004", {"changes": [(1, "ChargePeriodEnd", "2025-09-01T00:00:00Z")]}, 1),
    ("CL-CST-001", {"changes": [(1, "EffectiveCost", "3.00")]}, 1),
    ("CL-CST-002", {"changes": [(2, "EffectiveCost", "1.50")]}, 1),  # amortizes < the fee
    ("CL-CMT-001", {"changes": [(2, "CommitmentDiscountStatus", "")]}, 1),
    ("CL-CMT-002", {"changes": [(0, "CommitmentDiscountStatus", "Used"),
                                (0, "CommitmentDiscountType", "Savings Plan")]}, 1),
    ("CL-CMT-003", {"changes": [(2, "CommitmentDiscountCategory", "")]}, 1),
    ("CL-SVC-001", {"changes": [(3, "ServiceCategory", "Storage")]}, 1),
    ("CL-QTY-001", {"changes": [(1, "ConsumedQuantity", "1"), (1, "ConsumedUnit", "Hours"),
                                (3, "ConsumedQuantity", "1"), (3, "ConsumedUnit", "Hours")]},
     2),
    ("CL-PRC-001", {"changes": [(0, "ListUnitPrice", "-1"), (2, "ContractedUnitPrice",
                                                             "-0.5")]}, 2),
    ("CL-REF-001", {"changes": [(0, "RegionName", ""), (2, "SubAccountId", "")]}, 2),
]


def test_every_rule_has_a_generated_case() -> None:
    assert sorted(c[0] for c in CASES) == sorted(r.id for r in RULES.values())


@pytest.mark.parametrize(("rule_id", "mutation", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_rule_catches_its_violation(tmp_path: Path, rule_id: str, mutation: dict[str, Any],
                                    expected: int) -> None:
    clean = validate_file(write(tmp_path / "ok.csv", BASE), rules=[rule_id])
    assert [(f.rule, f.status, f.count) for f in clean.findings] == [(rule_id, "pass", 0)]
    report = validate_file(write(tmp_path / "bad.csv", mutated(**mutation)), rules=[rule_id])
    f = report.finding(rule_id)
    assert (f.status, f.count) == ("fail", expected), f.examples
    assert 1 <= len(f.examples) <= 5
    severity = next(r.severity for r in RULES.values() if r.id == rule_id)
    assert report.exit_code == (1 if severity == "error" else 0)


def test_examples_point_at_records(tmp_path: Path) -> None:
    rows = mutated(changes=[(i, "ChargeFrequency", "weekly") for i in range(4)])
    rows = rows + [dict(BASE[0]) for _ in range(3)] + [dict(rows[0])]
    f = validate_file(write(tmp_path / "bad.csv", rows), rules=["CL-VAL-003"]).findings[0]
    assert f.count == 5
    assert [e["row"] for e in f.examples] == [1, 2, 3, 4, 8]
    assert f.examples[0] == {"row": 1, "ChargeFrequency": "weekly"}


def test_focus_version_override_and_bad_input(tmp_path: Path) -> None:
    from cloudledger.errors import InputError

    path = write(tmp_path / "ok.csv", mutated(drop="InvoiceIssuerName"))
    f = validate_file(path, version="1.2", rules=["CL-COL-001"]).findings[0]
    assert f.examples == [{"column": "InvoiceIssuerName", "version": "1.2"}]
    with pytest.raises(InputError):
        validate_file(path, version="2.0")
    with pytest.raises(InputError):
        validate_file(tmp_path / "missing.csv")
    with pytest.raises(InputError):
        validate_file(path, rules=["CL-NOPE"])


# ------------------------------------------------------------------ real files
def _sample_counts(path: Path) -> dict[str, Any]:
    """Independent figures for focus_sample_1.0.csv, straight from DuckDB SQL."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_csv('{path}', all_varchar=true)")
    cols = ", ".join(f"nullif(nullif(trim(\"{c}\"), ''), 'NULL') AS \"{c}\"" for c in
                     [d[0] for d in con.execute("DESCRIBE raw").fetchall()])
    con.execute(f"CREATE VIEW t AS SELECT {cols} FROM raw")

    def one(sql: str) -> Any:
        return con.execute(sql).fetchone()[0]  # type: ignore[index]

    return {
        "rows": one("SELECT count(*) FROM t"),
        "CL-NUL-001": one("SELECT count(*) FROM t WHERE ContractedCost IS NULL OR BilledCost "
                          "IS NULL OR EffectiveCost IS NULL OR ListCost IS NULL OR "
                          "ServiceName IS NULL OR ProviderName IS NULL"),
        "CL-VAL-003": one("SELECT count(*) FROM t WHERE ChargeFrequency NOT IN ('One-Time', "
                          "'Recurring', 'Usage-Based')"),
        "CL-TYP-003": one("SELECT count(*) FROM t WHERE NOT regexp_matches(ChargePeriodStart, "
                          "'^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z$')"),
        "CL-PER-003": one("SELECT count(*) FROM t WHERE ChargePeriodStart::TIMESTAMP < "
                          "BillingPeriodStart::TIMESTAMP OR ChargePeriodStart::TIMESTAMP >= "
                          "BillingPeriodEnd::TIMESTAMP"),
        "CL-QTY-001": one("SELECT count(*) FROM t WHERE ConsumedQuantity IS NOT NULL AND "
                          "(ChargeCategory <> 'Usage' OR CommitmentDiscountStatus = 'Unused')"),
        "CL-PRC-001": one("SELECT count(*) FROM t WHERE ListUnitPrice::DECIMAL(38,16) < 0 OR "
                          "ContractedUnitPrice::DECIMAL(38,16) < 0"),
        "CL-REF-001": one("SELECT count(*) FROM t WHERE (RegionId IS NULL) <> (RegionName IS "
                          "NULL) OR (SubAccountId IS NULL) <> (SubAccountName IS NULL) OR "
                          "(ResourceId IS NULL) <> (ResourceType IS NULL) OR "
                          "(ConsumedQuantity IS NULL) <> (ConsumedUnit IS NULL)"),
        "CL-SVC-001": one("SELECT count(*) FROM (SELECT ServiceName FROM t GROUP BY 1 HAVING "
                          "count(DISTINCT ServiceCategory) > 1)"),
        "CL-CMT-001": one("SELECT count(*) FROM t WHERE ChargeCategory = 'Usage' AND "
                          "CommitmentDiscountId IS NOT NULL AND CommitmentDiscountStatus IS "
                          "NULL"),
    }


@pytest.fixture(scope="module")
def sample_report(shared_data: Path) -> Report:
    return validate_file(shared_data / "focus" / "focus_sample_1.0.csv")


def test_focus_sample_counts_match_duckdb(shared_data: Path, sample_report: Report) -> None:
    expected = _sample_counts(shared_data / "focus" / "focus_sample_1.0.csv")
    assert sample_report.rows == expected.pop("rows") == 1000
    assert sample_report.version == "1.0"
    got = {rule: sample_report.finding(rule).count for rule in expected}
    assert got == expected
    # the figures themselves, as verified when this test was written
    assert expected == {"CL-NUL-001": 7, "CL-VAL-003": 7, "CL-TYP-003": 1000, "CL-PER-003": 1,
                        "CL-QTY-001": 2, "CL-PRC-001": 1, "CL-REF-001": 795, "CL-SVC-001": 1,
                        "CL-CMT-001": 0}


def test_focus_sample_schema_findings(sample_report: Report) -> None:
    assert sample_report.finding("CL-COL-001").status == "pass"
    assert sample_report.finding("CL-COL-002").examples == [
        {"column": "Id", "did_you_mean": None}]
    assert sample_report.finding("CL-NUL-001").detail == {"ContractedCost": 7}
    assert sample_report.finding("CL-VAL-008").status == "skip"
    assert sample_report.exit_code == 1


SPEC = "spec-examples-1.2"


@pytest.mark.parametrize("name", [
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource",
    "one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources",
    "one_hundred_percent_utilization_without_commitment_discount_flexibility",
    "zero_percent_utilization_without_commitment_discount_flexibility"])
def test_spec_commitment_flexibility_balances(shared_data: Path, name: str) -> None:
    path = shared_data / "focus" / SPEC / "commitment_discount_flexibility" / f"{name}.csv"
    report = validate_file(path, rules=["CL-CST", "CL-CMT", "CL-COL-002"])
    assert (report.finding("CL-CST-002").status, report.finding("CL-CST-002").count) == (
        "pass", 0)
    assert report.finding("CL-CST-001").status == "pass"
    # the spec's own examples spell SkuPriceId as "SkuPriceid"
    assert report.finding("CL-COL-002").examples == [
        {"column": "SkuPriceid", "did_you_mean": "SkuPriceId"}]


def test_spec_commitment_scenarios(shared_data: Path) -> None:
    base = shared_data / "focus" / SPEC / "commitment_discount_scenarios"
    # purchases without their usage rows (the upfront of scenario 1 covers a year of
    # charge periods that this data does not hold): nothing to compare against
    for n in range(1, 4):
        p = validate_file(base / f"commitment_discount_purchase_scenario_{n}.csv",
                          rules=["CL-CST-002"]).findings[0]
        assert (p.status, p.count) == ("pass", 0)
    # usage without purchases: nothing to compare against
    for n in range(1, 5):
        u = validate_file(base / f"commitment_discount_usage_scenario_{n}.csv",
                          rules=["CL-CST-002", "CL-CMT-001"])
        assert [(f.status, f.count) for f in u.findings] == [("pass", 0), ("pass", 0)]
    # scenario 2 has the hour "30" in its charge period ends
    p2 = validate_file(base / "commitment_discount_purchase_scenario_2.csv",
                       rules=["CL-TYP-002"]).findings[0]
    assert (p2.count, p2.examples[0]["ChargePeriodEnd"]) == (1, "2023-02-01T30:00:00Z")


def test_partial_upfront_reservation(tmp_path: Path) -> None:
    """A partial-upfront RI: this period's purchase is the recurring fee (3.00); its Used
    and Unused rows also amortize the upfront fee paid in an earlier period (1.00 of it
    this period), as AWS's reservation/EffectiveCost does. Used + Unused (4.00) exceeds
    the purchases in the data, and that is right."""
    def balance(rows: list[dict[str, str]]) -> tuple[str, int, list[dict[str, Any]]]:
        f = validate_file(write(tmp_path / "ri.csv", rows), rules=["CL-CST-002"]).findings[0]
        return f.status, f.count, f.examples

    partial = mutated(changes=[(2, "EffectiveCost", "3.00")])  # 2.00 recurring + 1.00 upfront
    assert balance(partial) == ("pass", 0, [])
    # the same RI in the period its upfront (12.00) was bought: amortized 4.00 of 15.00
    upfront = {**BASE[1], "ChargeFrequency": "One-Time", "BilledCost": "12.00",
               "ListCost": "12.00", "ContractedCost": "12.00"}
    assert balance([*partial, upfront]) == ("pass", 0, [])
    # amortizing more than every purchase of the commitment, upfront included: an error
    over = mutated(changes=[(2, "EffectiveCost", "16.00")])
    status, count, examples = balance([*over, upfront])
    assert (status, count) == ("fail", 1)
    assert {k: examples[0][k] for k in ("purchases", "upfront", "used", "unused",
                                        "difference")} == {
        "purchases": "15", "upfront": "12", "used": "16", "unused": "1", "difference": "2"}
    # amortizing less than this period's recurring fee: an error (an Unused row missing)
    status, count, examples = balance(mutated(changes=[(3, "EffectiveCost", "0")]))
    assert (status, count, examples[0]["difference"]) == ("fail", 1, "-1")


def test_saas_example_money_and_dates(shared_data: Path) -> None:
    path = shared_data / "focus" / SPEC / "saas_examples" / "simple_agreements" / \
        "simple_saas_agreements_c.csv"
    report = validate_file(path, rules=["CL-TYP"])
    assert report.finding("CL-TYP-001").examples[0]["BilledCost"] == "$10,100.00 "
    assert report.finding("CL-TYP-003").count == report.rows > 0


# ------------------------------------------------------------------ typed Parquet
def test_demo_parquet_validates(tmp_path: Path) -> None:
    """The demo's own output (typed Parquet: decimals, UTC timestamps, dictionaries)."""
    from datetime import date

    from cloudledger.demo import generate

    data = generate(3_000, 5, date(2026, 7, 1), tmp_path / "demo")
    whole = generate(3_000, 5, date(2026, 7, 1), tmp_path / "one", single_file=True)
    assert all(p.suffix == ".parquet" for p in data.paths)
    # every provider's last month, and all 13 months of all providers in one file
    for path in [*data.paths[-3:], *whole.paths]:
        report = validate_file(path)
        assert report.rows > 0 and report.version == "1.3"
        assert [(f.rule, f.count) for f in report.findings if f.status == "fail"] == []
        # typed columns hold no text to get wrong: the type and format rules pass
        assert {f.rule: f.status for f in report.findings if f.rule.startswith("CL-TYP")} == {
            "CL-TYP-001": "pass", "CL-TYP-002": "pass", "CL-TYP-003": "pass"}
    result = runner.invoke(app, ["validate", str(data.paths[0]), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["errors"] == 0


def test_parquet_written_from_the_focus_sample(shared_data: Path, tmp_path: Path,
                                               sample_report: Report) -> None:
    """focus_sample_1.0.csv as Parquet with the types pyarrow infers (double, int64,
    timestamp[s], null): the same findings as the CSV, except the text format rule."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(shared_data / "focus" / "focus_sample_1.0.csv")
    assert str(table.schema.field("BilledCost").type) == "double"
    assert str(table.schema.field("ChargeClass").type) == "null"
    path = tmp_path / "focus_sample_1.0.parquet"
    pq.write_table(table, path)
    report = validate_file(path)
    assert report.rows == 1000 and report.version == "1.0"
    got = {f.rule: (f.status, f.count) for f in report.findings}
    want = {f.rule: (f.status, f.count) for f in sample_report.findings}
    assert want.pop("CL-TYP-003") == ("fail", 1000)  # text written without T/Z
    assert got.pop("CL-TYP-003") == ("pass", 0)  # typed: no text form
    assert got == want
    assert report.finding("CL-REF-001").count == 795


# ------------------------------------------------------------------ the store
def test_store_validation(tmp_path: Path) -> None:
    from cloudledger.ingest import ingest
    from cloudledger.store import Store

    rows = mutated(changes=[(0, "ChargeFrequency", "Usage-based"), (2, "EffectiveCost", "1.5")])
    store = Store(tmp_path / "s.duckdb")
    ingest(store, [write(tmp_path / "in.csv", rows)])
    report = validate_store(store)
    store.close()
    assert report.origin == "store" and report.rows == 4
    assert report.finding("CL-VAL-003").count == 1
    assert report.finding("CL-CST-002").examples[0]["difference"] == "-0.5"
    assert {f.rule for f in report.findings if f.status == "skip"} == {
        "CL-COL-001", "CL-TYP-001", "CL-TYP-002", "CL-TYP-003"}
    assert report.finding("CL-VAL-003").examples[0]["x_IngestId"] == 1


# ------------------------------------------------------------------ CLI
runner = CliRunner()


def test_cli_exit_codes(tmp_path: Path) -> None:
    ok = write(tmp_path / "ok.csv", BASE)
    warn = write(tmp_path / "warn.csv", mutated(
        changes=[(1, "ChargePeriodEnd", "2025-09-01T00:00:00Z")]))
    bad = write(tmp_path / "bad.csv", mutated(changes=[(0, "ChargeCategory", "usage")]))
    assert runner.invoke(app, ["validate", str(ok)]).exit_code == 0
    result = runner.invoke(app, ["validate", str(warn)])
    assert result.exit_code == 0 and "CL-PER-004" in result.output
    assert runner.invoke(app, ["validate", str(bad)]).exit_code == 1
    assert runner.invoke(app, ["validate", str(tmp_path / "none.csv")]).exit_code == 2
    assert runner.invoke(app, ["validate"]).exit_code == 2
    assert runner.invoke(app, ["validate", str(ok), "--store", "x.duckdb"]).exit_code == 2
    assert runner.invoke(app, ["validate", "--store", str(tmp_path / "no.duckdb")]
                         ).exit_code == 2
    (tmp_path / "empty.csv").write_text("")
    assert runner.invoke(app, ["validate", str(tmp_path / "empty.csv")]).exit_code == 2


def test_cli_json_and_junit(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", mutated(changes=[(0, "ChargeFrequency", "daily")]))
    result = runner.invoke(app, ["validate", str(bad), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["errors"] == 1 and doc["rows"] == 4
    f = next(x for x in doc["findings"] if x["rule"] == "CL-VAL-003")
    assert f["count"] == 1 and f["examples"] == [{"row": 1, "ChargeFrequency": "daily"}]

    junit = tmp_path / "report.xml"
    result = runner.invoke(app, ["validate", str(bad), "--format", "junit", "--junit",
                                 str(junit)])
    assert result.exit_code == 1
    for text in (result.output, junit.read_text()):
        suite = ET.fromstring(text).find("testsuite")
        assert suite is not None
        cases = suite.findall("testcase")
        assert len(cases) == len(RULES)
        failed = [c.get("classname") for c in cases if c.find("failure") is not None]
        assert failed == ["cloudledger.validate.CL-VAL-003"]
        assert suite.get("failures") == "1"


def test_cli_store_and_csv(tmp_path: Path) -> None:
    from cloudledger.ingest import ingest
    from cloudledger.store import Store

    store = Store(tmp_path / "s.duckdb")
    ingest(store, [write(tmp_path / "in.csv", BASE)])
    store.close()
    result = runner.invoke(app, ["validate", "--store", str(tmp_path / "s.duckdb"), "-f",
                                 "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.output.splitlines()))
    assert len(rows) == len(RULES) and {r["status"] for r in rows} == {"pass", "skip"}
