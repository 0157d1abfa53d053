"""OCI cost reports. No public sample is shared: the fixture below is built from the
documented OCI cost report columns (Cost and Usage Reports, "Cost reports" schema)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb

from cloudledger.ingest import detect, ingest
from cloudledger.store import Store

HEADER = ("lineItem/referenceNo,lineItem/tenantId,lineItem/intervalUsageStart,"
          "lineItem/intervalUsageEnd,product/service,product/resource,product/compartmentId,"
          "product/compartmentName,product/region,product/availabilityDomain,"
          "product/resourceId,usage/billedQuantity,usage/billedQuantityOverage,"
          "cost/subscriptionId,cost/productSku,product/Description,cost/unitPrice,"
          "cost/unitPriceOverage,cost/myCost,cost/myCostOverage,cost/currencyCode,"
          "cost/billingUnitReadable,cost/skuUnitDescription,cost/overageFlag,"
          "lineItem/isCorrection,lineItem/backreferenceNo,tags/Oracle-Tags.CreatedBy,"
          "tags/Oracle-Tags.CreatedOn,tags/team\n")
ROWS = [
    "r1,ocid1.tenancy.oc1..aaa,2024-02-29T23:00Z,2024-03-01T00:00Z,COMPUTE,PIC_COMPUTE_"
    "STANDARD_E4,ocid1.compartment.oc1..c1,prod,us-ashburn-1,AD-1,ocid1.instance.oc1..i1,"
    "1,,sub1,B93113,Compute - Standard - E4 - OCPU,0.025,,0.025,,USD,,OCPU Per Hour,,false,,"
    "alice,2024-01-01T00:00:00Z,payments",
    "r2,ocid1.tenancy.oc1..aaa,2024-03-01T00:00Z,2024-03-01T01:00Z,BLOCK_STORAGE,PIC_BLOCK,"
    "ocid1.compartment.oc1..c1,prod,us-ashburn-1,,ocid1.volume.oc1..v1,50,,sub1,B91961,"
    "Block Volume - Storage,0.0000354,,0.00177,,USD,,GB Month,,false,,bob,,",
    "r3,ocid1.tenancy.oc1..aaa,2024-03-02T00:00Z,2024-03-02T01:00Z,COMPUTE,PIC_COMPUTE_"
    "STANDARD_E4,ocid1.compartment.oc1..c1,prod,us-ashburn-1,AD-1,ocid1.instance.oc1..i1,"
    "-1,,sub1,B93113,Compute - Standard - E4 - OCPU,0.025,,-0.025,,USD,,OCPU Per Hour,,true,"
    "r1,alice,,payments",
]


def test_oci_cost_report(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "reports_cost-csv_0001000000123456.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    assert detect(path).name == "oci"
    [report] = ingest(store, [path])
    assert report.rows == 3 and all(r.ok for r in report.reconciliation)
    native = duckdb.sql(f"SELECT substr(\"lineItem/intervalUsageStart\", 1, 7) m, "
                        f"sum(CAST(\"cost/myCost\" AS DECIMAL(38, 18))) FROM "
                        f"read_csv('{path}', all_varchar=true, header=true) GROUP BY 1 "
                        f"ORDER BY 1").fetchall()
    got = store.sql("SELECT strftime(BillingPeriodStart, '%Y-%m') m, sum(BilledCost) b FROM "
                    "focus GROUP BY 1 ORDER BY 1").to_pylist()
    assert [(g["m"], g["b"]) for g in got] == [(m, Decimal(v)) for m, v in native] == [
        ("2024-02", Decimal("0.025")), ("2024-03", Decimal("-0.02323"))]
    rows = {r["x_ReferenceNo"]: r for r in store.sql("SELECT * FROM focus").to_pylist()}
    assert json.loads(rows["r1"]["Tags"]) == {"Oracle-Tags.CreatedBy": "alice",
                                              "Oracle-Tags.CreatedOn": "2024-01-01T00:00:00Z",
                                              "team": "payments"}
    assert json.loads(rows["r2"]["Tags"]) == {"Oracle-Tags.CreatedBy": "bob"}
    assert rows["r3"]["ChargeClass"] == "Correction" and rows["r1"]["ChargeClass"] is None
    assert rows["r1"]["SubAccountId"] == "ocid1.compartment.oc1..c1"
    assert rows["r1"]["BillingAccountId"] == "ocid1.tenancy.oc1..aaa"
    assert rows["r2"]["ServiceCategory"] == "Storage"
    assert rows["r1"]["ChargePeriodStart"].isoformat() == "2024-02-29T23:00:00"
    # region name from the table; compartment name from the report
    assert (rows["r1"]["RegionId"], rows["r1"]["RegionName"]) == ("us-ashburn-1",
                                                                  "US East (Ashburn)")
    assert rows["r1"]["SubAccountName"] == "prod"
    assert rows["r2"]["ResourceType"] == "PIC_BLOCK"  # product/resource, as reported


def test_oci_names_where_the_report_lacks_them(store: Store, tmp_path: Path) -> None:
    """A region key (IAD), no product/resource, no compartment name: RegionId/Name from the
    region table, ResourceType from the OCID, the compartment id stands in for its name."""
    row = ("r9,ocid1.tenancy.oc1..aaa,2024-03-01T00:00Z,2024-03-01T01:00Z,BLOCK_STORAGE,,"
           "ocid1.compartment.oc1..c2,,IAD,,ocid1.bootvolume.oc1.iad.b1,50,,sub1,B91961,"
           "Block Volume - Storage,0.0000354,,0.00177,,USD,,GB Month,,false,,,,")
    path = tmp_path / "reports_cost-csv_0001000000123457.csv"
    path.write_text(HEADER + row + "\n")
    ingest(store, [path])
    got = store.sql("SELECT RegionId, RegionName, ResourceType, SubAccountId, SubAccountName "
                    "FROM focus").to_pylist()
    assert got == [{"RegionId": "us-ashburn-1", "RegionName": "US East (Ashburn)",
                    "ResourceType": "bootvolume", "SubAccountId": "ocid1.compartment.oc1..c2",
                    "SubAccountName": "ocid1.compartment.oc1..c2"}]
