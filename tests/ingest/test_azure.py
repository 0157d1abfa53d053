"""Azure cost details: every shared sample, actual+amortized pairing, synthetic edge cases."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cloudledger.errors import FormatError
from cloudledger.ingest import detect, ingest
from cloudledger.store import Store

ACTUAL = "finops-toolkit__EA_ActualCost_Small.csv"
AMORTIZED = "finops-toolkit__EA_AmortizedCost_Small.csv"


def native_sum(path: Path, column: str, where: str = "true") -> Decimal:
    """The file's own total, computed with DuckDB on the raw text (the camelCase sample
    mixes CRLF and LF line ends, which needs strict_mode off)."""
    lax = ", strict_mode=false, delim=',', quote='\"'" if "camel" in path.name else ""
    sql = (f"SELECT coalesce(sum(CAST(\"{column}\" AS DECIMAL(38, 18))), 0) FROM read_csv("
           f"'{path}', all_varchar=true, header=true{lax}) WHERE {where}")
    return Decimal(duckdb.sql(sql).fetchone()[0])


def focus_sum(store: Store, metric: str, where: str = "true") -> Decimal:
    return Decimal(store.sql(f"SELECT coalesce(sum({metric}), 0) AS v FROM focus WHERE {where}")
                   .column("v")[0].as_py())


def close(a: Decimal, b: Decimal) -> bool:
    """Equal to the store's 12 decimals (the amortized sample has 28-digit values)."""
    return abs(a - b) <= Decimal("1e-9")


def counts(store: Store) -> dict[str, int]:
    rows = store.sql("SELECT ChargeCategory c, count(*) n FROM focus GROUP BY 1").to_pylist()
    return {r["c"]: r["n"] for r in rows}


@pytest.fixture()
def azure(shared_data: Path) -> Path:
    return shared_data / "native" / "azure"


@pytest.mark.parametrize(("name", "cost", "rows", "account"), [
    (ACTUAL, "Cost", 11, "8611537"),
    (AMORTIZED, "Cost", 28, "8611537"),
    ("koku__azure_version_2.csv", "CostInBillingCurrency", 5, "99999999"),
    ("koku__camel_v2_with_BOM.csv", "costInBillingCurrency", 4,
     "3c100a8a-215e-5a7e-24b2-61aa86945012"),
    ("koku__costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv", "PreTaxCost", 3,
     "0039de71-ca37-4a17-a104-17665a50e7fc"),
])
def test_every_sample_loads_and_reconciles(store: Store, azure: Path, name: str, cost: str,
                                           rows: int, account: str) -> None:
    path = azure / name
    assert detect(path).name == "azure"
    [report] = ingest(store, [path])
    assert report.rows == rows
    assert all(r.ok for r in report.reconciliation)
    assert store.sql("SELECT DISTINCT BillingAccountId FROM focus").column(0).to_pylist() == [
        account]
    if name == AMORTIZED:  # alone: Billed excludes commitment-covered usage
        assert close(focus_sum(store, "EffectiveCost"), native_sum(path, cost))
        assert close(focus_sum(store, "BilledCost"), native_sum(
            path, cost, "PricingModel NOT IN ('Reservation', 'SavingsPlan')"))
    else:
        assert close(focus_sum(store, "BilledCost"), native_sum(path, cost))


def test_actual_and_amortized_make_one_set(store: Store, azure: Path) -> None:
    reports = ingest(store, [azure / ACTUAL, azure / AMORTIZED])
    assert len(reports) == 1 and reports[0].rows == 29
    assert native_sum(azure / ACTUAL, "Cost") == Decimal("8.5450077867419368")
    assert close(focus_sum(store, "BilledCost"), native_sum(azure / ACTUAL, "Cost"))
    assert close(focus_sum(store, "EffectiveCost"), native_sum(azure / AMORTIZED, "Cost"))
    assert counts(store) == {"Usage": 28, "Purchase": 1}
    purchase = store.sql("SELECT BilledCost, EffectiveCost, PricingCategory, "
                         "CommitmentDiscountCategory, x_AzureDataset FROM focus WHERE "
                         "ChargeCategory = 'Purchase'").to_pylist()[0]
    assert (purchase["BilledCost"], purchase["EffectiveCost"]) == (Decimal("3.25"), 0)
    assert purchase["PricingCategory"] is None and purchase["x_AzureDataset"] == "actual"
    used = store.sql("SELECT CommitmentDiscountStatus s, CommitmentDiscountCategory c, "
                     "PricingCategory p, BilledCost b, EffectiveCost e FROM focus WHERE "
                     "CommitmentDiscountStatus IS NOT NULL ORDER BY c").to_pylist()
    assert [(u["s"], u["c"], u["p"], u["b"]) for u in used] == [
        ("Used", "Spend", "Committed", 0), ("Used", "Usage", "Committed", 0)]
    assert [u["e"] for u in used] == [Decimal("0.006000000468"), Decimal("0.493152")]
    # the 10 usage rows of actual matched their amortized twins: nothing duplicated
    both = store.sql("SELECT count(*) n FROM focus WHERE x_AzureDataset = 'actual+amortized'")
    assert both.column(0)[0].as_py() == 10
    row = store.sql("SELECT * FROM focus WHERE ResourceName = 'umq-umqoi3-db'").to_pylist()[0]
    assert row["BilledCost"] == row["EffectiveCost"] == Decimal("1.9584")
    assert row["ChargePeriodStart"].isoformat() == "2023-09-04T00:00:00"
    assert row["BillingPeriodEnd"].isoformat() == "2023-10-01T00:00:00"
    assert row["SubAccountId"] == "64e355d7-997c-491d-b0c1-8414dccfcf42"
    assert json.loads(row["Tags"])["CostCenter"] == "1234"  # brace-less tags got braces


def names(store: Store, id_col: str, name_col: str) -> dict[tuple[str | None, str | None], int]:
    rows = store.sql(f"SELECT {id_col} AS i, {name_col} AS n, count(*) AS c FROM focus "
                     f"WHERE {id_col} IS NOT NULL OR {name_col} IS NOT NULL GROUP BY 1, 2"
                     ).to_pylist()
    return {(r["i"], r["n"]): r["c"] for r in rows}


def types(store: Store) -> dict[str | None, int]:
    """ResourceType counts of the rows that have a ResourceId."""
    rows = store.sql("SELECT ResourceType AS t, count(*) AS c FROM focus WHERE ResourceId IS "
                     "NOT NULL GROUP BY 1").to_pylist()
    return {r["t"]: r["c"] for r in rows}


def test_region_subscription_and_resource_names(store: Store, azure: Path) -> None:
    """RegionName, SubAccountName, ResourceType wherever the id is set (FOCUS C-005)."""
    ingest(store, [azure / ACTUAL, azure / AMORTIZED])
    # ResourceLocation only: the region table names it
    assert names(store, "RegionId", "RegionName") == {
        ("centralus", "Central US"): 4, ("eastus", "East US"): 8,
        ("eastus2", "East US 2"): 7, ("southcentralus", "South Central US"): 1,
        ("uksouth", "UK South"): 1, ("ukwest", "UK West"): 2, ("westus", "West US"): 2,
        ("westus2", "West US 2"): 3}
    # no ResourceType column: the ARM type of the resource id (nested types included)
    assert types(store) == {
        "microsoft.capacity/reservationorders/reservations": 1,
        "microsoft.compute/capacityreservationgroups/capacityreservations": 1,
        "microsoft.compute/disks": 4, "microsoft.compute/virtualmachinescalesets": 3,
        "microsoft.dbformysql/servers": 1, "microsoft.keyvault/vaults": 1,
        "microsoft.machinelearningservices/workspaces": 5,
        "microsoft.network/publicipaddresses": 1,
        "microsoft.operationalinsights/workspaces": 2, "microsoft.sql/servers": 2,
        "microsoft.sql/servers/databases": 3, "microsoft.sql/servers/elasticpools": 2,
        "microsoft.storage/storageaccounts": 3}
    assert names(store, "SubAccountId", "SubAccountName")[
        ("9ec51cfd-5ca7-4d76-8101-dd0a4abc5674", "Trey Research Corporate")] == 8
    store.raw("DELETE FROM focus")
    # the legacy layout: "US East 2" is Cost Management's name for eastus2; no subscription
    # name (the id stands in); the export's own ResourceType is kept
    ingest(store, [azure / "koku__costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv"])
    assert names(store, "RegionId", "RegionName") == {("eastus2", "East US 2"): 3}
    sub = "0039de71-ca37-4a17-a104-17665a50e7fc"
    assert names(store, "SubAccountId", "SubAccountName") == {(sub, sub): 3}
    assert types(store) == {
        "Microsoft.Compute/virtualMachines": 1,
        "Microsoft.Storage/storageAccounts": 2}
    store.raw("DELETE FROM focus")
    # the export's own Location column wins over the table
    ingest(store, [azure / "koku__camel_v2_with_BOM.csv"])
    assert names(store, "RegionId", "RegionName") == {("eastus", "US East"): 3,
                                                      ("eastus2", "US East 2"): 1}
    store.raw("DELETE FROM focus")
    # "Unassigned" is no region; MeterRegion names a location the table does not know when
    # it spells the same id; koku's made-up "usnorth" has no name on rows without one
    ingest(store, [azure / "koku__azure_version_2.csv"])
    assert names(store, "RegionId", "RegionName") == {("usnorth", "US North"): 2,
                                                      ("usnorth", None): 2}
    assert types(store) == {"microsoft.resources/subscriptions": 4}


def test_header_only_export_is_rejected(store: Store, azure: Path) -> None:
    with pytest.raises(FormatError, match="header but no data rows"):
        ingest(store, [azure / "finops-toolkit__EA_NoRows.csv"])
    assert store.sql("SELECT count(*) FROM focus").column(0)[0].as_py() == 0


def test_manifest_names_missing_blobs(store: Store, azure: Path) -> None:
    with pytest.raises(FormatError, match=r"missing next to it: cost/partitioned/.*000001\.csv"):
        ingest(store, [azure / "koku__azure_export_manifest.json"])


def test_manifest_reads_its_blobs(store: Store, azure: Path, tmp_path: Path) -> None:
    manifest = json.loads((azure / "koku__azure_export_manifest.json").read_text())
    tmp_path = tmp_path / "export"
    blob = tmp_path / manifest["blobs"][0]["blobName"]
    blob.parent.mkdir(parents=True)
    shutil.copy(azure / "koku__azure_version_2.csv", blob)
    shutil.copy(azure / "koku__azure_export_manifest.json", tmp_path / "manifest.json")
    # the directory holds the manifest and its blob: the blob is read once
    [report] = ingest(store, [tmp_path])
    assert report.rows == 5
    assert focus_sum(store, "BilledCost") == Decimal("19.998413754")


SYNTHETIC_HEADER = ("BillingAccountId,BillingPeriodStartDate,BillingPeriodEndDate,SubscriptionId,"
                    "Date,MeterCategory,MeterId,ConsumedService,ResourceId,Quantity,"
                    "CostInBillingCurrency,PaygCostInBillingCurrency,BillingCurrency,ChargeType,"
                    "PricingModel,Frequency,ReservationId,benefitId,benefitName,Tags\n")


def test_synthetic_commitment_refund_spot(store: Store, tmp_path: Path) -> None:
    """Known answers for the cases the shared samples lack (hand-made MCA-style rows)."""
    sp = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o1/savingsPlans/sp1"
    ri = "/providers/Microsoft.Capacity/reservationOrders/o2/reservations/r1"
    actual = tmp_path / "mca_actual.csv"
    amortized = tmp_path / "mca_amortized.csv"
    common = "acc1,2024-03-01,2024-03-31,sub1"
    actual.write_text(SYNTHETIC_HEADER + "\n".join([
        f"{common},03/05/2024,Virtual Machines,m1,Microsoft.Compute,/vm/a,10,5.00,5.00,USD,"
        'Usage,Spot,UsageBased,,,,"""team"": ""a"""',
        f"{common},03/05/2024,Virtual Machines,m2,Microsoft.Compute,/vm/b,10,0,8.00,USD,"
        f"Usage,SavingsPlan,UsageBased,,{sp},SP one,",
        f"{common},03/01/2024,Virtual Machines,m3,Microsoft.Capacity,{ri},1,30.00,0,USD,"
        f"Purchase,Reservation,Recurring,r1,{ri},RI one,",
        f"{common},03/02/2024,Virtual Machines,m3,Microsoft.Capacity,{ri},1,-10.00,0,USD,"
        f"Refund,Reservation,OneTime,r1,{ri},RI one,",
    ]) + "\n")
    amortized.write_text(SYNTHETIC_HEADER + "\n".join([
        f"{common},03/05/2024,Virtual Machines,m1,Microsoft.Compute,/vm/a,10,5.00,5.00,USD,"
        'Usage,Spot,UsageBased,,,,"""team"": ""a"""',
        f"{common},03/05/2024,Virtual Machines,m2,Microsoft.Compute,/vm/b,10,6.00,8.00,USD,"
        f"Usage,SavingsPlan,UsageBased,,{sp},SP one,",
        f"{common},03/05/2024,Virtual Machines,m2,Microsoft.Compute,,0,1.50,0,USD,"
        f"UnusedSavingsPlan,SavingsPlan,UsageBased,,{sp},SP one,",
        f"{common},03/05/2024,Virtual Machines,m3,Microsoft.Compute,,0,0.75,0,USD,"
        f"UnusedReservation,Reservation,UsageBased,r1,{ri},RI one,",
    ]) + "\n")
    [report] = ingest(store, [actual, amortized])
    assert report.rows == 6
    assert focus_sum(store, "BilledCost") == Decimal("25")  # 5 + 0 + 30 - 10
    assert focus_sum(store, "EffectiveCost") == Decimal("13.25")  # 5 + 6 + 1.5 + 0.75
    got = {r["x_ChargeType"]: r for r in store.sql("SELECT * FROM focus").to_pylist()}
    spot = store.sql("SELECT * FROM focus WHERE x_PricingModel = 'Spot'").to_pylist()[0]
    assert spot["PricingCategory"] == "Dynamic" and json.loads(spot["Tags"]) == {"team": "a"}
    assert spot["ChargePeriodStart"].isoformat() == "2024-03-05T00:00:00"
    refund = got["Refund"]
    assert (refund["ChargeCategory"], refund["ChargeClass"]) == ("Purchase", "Correction")
    assert (refund["BilledCost"], refund["EffectiveCost"]) == (Decimal("-10"), 0)
    for kind, category in (("UnusedSavingsPlan", "Spend"), ("UnusedReservation", "Usage")):
        row = got[kind]
        assert row["CommitmentDiscountStatus"] == "Unused"
        assert row["CommitmentDiscountCategory"] == category
        assert row["ChargeCategory"] == "Usage" and row["BilledCost"] == 0
        assert row["ConsumedQuantity"] is None
    assert got["UnusedSavingsPlan"]["CommitmentDiscountId"] == sp
    assert got["Purchase"]["ChargeFrequency"] == "Recurring"
    assert got["Purchase"]["EffectiveCost"] == 0
    assert [r.ok for r in report.reconciliation] == [True, True]


def test_cli_ingests_actual_and_amortized(azure: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cloudledger.cli import app

    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(azure / ACTUAL), str(azure / AMORTIZED),
                                      "--store", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "8.545007786742" in result.output
    assert CliRunner().invoke(app, ["reconcile", "--store", str(db)]).exit_code == 0
