"""AWS CUR 2.0 (Data Exports) -> FOCUS.

No public CUR 2.0 sample exists, so these fixtures are generated here with DuckDB from the
documented schema (AWS Data Exports table dictionary, COST_AND_USAGE_REPORT): snake_case
columns as in the legacy Athena CUR, plus the map columns ``product``, ``resource_tags``
(keys ``user_<tag>`` / ``aws_<tag>``) and ``cost_category``, and the CUR 2.0-only
``bill_payer_account_name`` / ``line_item_usage_account_name`` /
``line_item_net_unblended_cost``. Parquet keeps maps as MAP(VARCHAR, VARCHAR); the CSV
export writes them as JSON objects. Expected values are worked out by hand below.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cloudledger.ingest import detect, ingest
from cloudledger.store import Store

SP = "arn:aws:savingsplans::012345678901:savingsplan/sp-1"
RI = "arn:aws:ec2:us-east-1:012345678901:reserved-instances/ri-1"

# id, type, unblended, net, effective (ri/sp), tags, cost categories
ROWS = [
    ("u1", "Usage", "2.00", "1.80", None, {"user_team": "web", "user_env": ""},
     {"Unit": "payments"}),
    ("d1", "DiscountedUsage", "0", "0", "0.70", {"aws_created_by": "IAMUser:ci"}, {}),
    ("rf", "RIFee", "5.00", "5.00", None, {}, {}),
    ("s1", "SavingsPlanCoveredUsage", "3.00", "3.00", "2.10", {"user_team": "api"}, {}),
    ("n1", "SavingsPlanNegation", "-3.00", "-3.00", None, {}, {}),
    ("sf", "SavingsPlanRecurringFee", "2.50", "2.50", None, {}, {}),
    ("tx", "Tax", "0.40", "0.40", None, {}, {}),
]


def _map(d: dict[str, str]) -> str:
    if not d:
        return "MAP {}::MAP(VARCHAR, VARCHAR)"
    items = ", ".join(f"'{k}': '{v}'" for k, v in d.items())
    return f"MAP {{{items}}}"


def make_cur2(folder: Path, fmt: str) -> Path:
    selects = []
    for i, lit, cost, net, eff, tags, cats in ROWS:
        ri = RI if lit in ("DiscountedUsage", "RIFee") else None
        sp = SP if lit.startswith("SavingsPlan") else None
        selects.append(f"""SELECT
  '{i}' AS identity_line_item_id, '2024-05-01T00:00:00Z/2024-05-01T01:00:00Z'
    AS identity_time_interval,
  'Anniversary' AS bill_bill_type, 'AWS' AS bill_billing_entity,
  TIMESTAMP '2024-06-01' AS bill_billing_period_end_date,
  TIMESTAMP '2024-05-01' AS bill_billing_period_start_date, 'INV-9' AS bill_invoice_id,
  'Amazon Web Services EMEA SARL' AS bill_invoicing_entity,
  '012345678901' AS bill_payer_account_id, 'Acme Payer' AS bill_payer_account_name,
  {_map(cats)} AS cost_category,
  'us-east-1a' AS line_item_availability_zone, 'EUR' AS line_item_currency_code,
  'Amazon Web Services EMEA SARL' AS line_item_legal_entity,
  'desc {i}' AS line_item_line_item_description, '{lit}' AS line_item_line_item_type,
  {net} AS line_item_net_unblended_cost, 'RunInstances' AS line_item_operation,
  'AmazonEC2' AS line_item_product_code, 'i-0abc' AS line_item_resource_id,
  {cost} AS line_item_unblended_cost, '000000000042' AS line_item_usage_account_id,
  'team-account' AS line_item_usage_account_name, 1.0 AS line_item_usage_amount,
  TIMESTAMP '2024-05-01 01:00:00' AS line_item_usage_end_date,
  TIMESTAMP '2024-05-01 00:00:00' AS line_item_usage_start_date,
  'EU-BoxUsage:m7g.large' AS line_item_usage_type, 'EUR' AS pricing_currency,
  CASE WHEN '{lit}' IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 3.0
  END AS pricing_public_on_demand_cost, 3.0 AS pricing_public_on_demand_rate,
  'OnDemand' AS pricing_term, 'Hrs' AS pricing_unit,
  MAP {{'product_name': 'Amazon Elastic Compute Cloud', 'instance_type': 'm7g.large'}}
    AS product,
  'eu-west-1' AS product_region_code, 'AmazonEC2' AS product_servicecode,
  'SKU1' AS product_sku,
  {f"'{ri}'" if ri else 'NULL'} AS reservation_reservation_a_r_n,
  {eff if lit == 'DiscountedUsage' else 'NULL'} AS reservation_effective_cost,
  {'1.25' if lit == 'RIFee' else 'NULL'}
    AS reservation_unused_amortized_upfront_fee_for_billing_period,
  {'0.75' if lit == 'RIFee' else 'NULL'} AS reservation_unused_recurring_fee,
  {_map(tags)} AS resource_tags,
  {f"'{sp}'" if sp else 'NULL'} AS savings_plan_savings_plan_a_r_n,
  {eff if lit == 'SavingsPlanCoveredUsage' else 'NULL'}
    AS savings_plan_savings_plan_effective_cost,
  {'2.50' if lit == 'SavingsPlanRecurringFee' else 'NULL'}
    AS savings_plan_total_commitment_to_date,
  {'2.10' if lit == 'SavingsPlanRecurringFee' else 'NULL'} AS savings_plan_used_commitment""")
    query = " UNION ALL ".join(selects)
    con = duckdb.connect()
    if fmt == "parquet":
        path = folder / "cur2-00001.snappy.parquet"
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT PARQUET)")
    else:  # maps as JSON text, as the CSV export writes them
        path = folder / "cur2-00001.csv"
        con.execute(f"""COPY (SELECT * REPLACE (to_json(cost_category)::VARCHAR AS
            cost_category, to_json(resource_tags)::VARCHAR AS resource_tags,
            to_json(product)::VARCHAR AS product) FROM ({query})) TO '{path}' (HEADER)""")
    con.close()
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cur2(store: Store, tmp_path: Path, fmt: str) -> None:
    path = make_cur2(tmp_path, fmt)
    assert detect(path).name == "aws-cur2"
    (report,) = ingest(store, [path])
    assert report.source == "aws-cur2"
    assert report.rows == 7 - 1 + 2  # negation folded; unused RI and SP rows added
    rows = {r["x_LineItemId"]: r for r in store.sql("SELECT * FROM focus").to_pylist()}
    # BilledCost is the net unblended cost; the SP negation nets the covered row to 0
    assert sum(r["BilledCost"] for r in rows.values()) == Decimal("9.70")
    assert rows["u1"]["BilledCost"] == Decimal("1.80")
    assert rows["s1"]["BilledCost"] == 0 and rows["s1"]["EffectiveCost"] == Decimal("2.10")
    # EffectiveCost: 1.80 + 0.70 (RI) + 2.10 (SP) + 2.00 (RI unused) + 0.40 (SP unused) + tax
    assert sum(r["EffectiveCost"] for r in rows.values()) == Decimal("7.40")
    assert rows["rf:unused"]["EffectiveCost"] == Decimal("2.00")
    assert rows["sf:unused"]["EffectiveCost"] == Decimal("0.40")
    assert rows["sf:unused"]["CommitmentDiscountStatus"] == "Unused"
    assert rows["d1"]["CommitmentDiscountStatus"] == "Used"
    assert rows["d1"]["CommitmentDiscountId"] == RI
    assert rows["s1"]["CommitmentDiscountCategory"] == "Spend"
    assert json.loads(rows["u1"]["Tags"]) == {"team": "web"}  # empty value = absent tag
    assert json.loads(rows["d1"]["Tags"]) == {"aws:createdBy": "IAMUser:ci"}
    assert rows["tx"]["Tags"] is None
    assert rows["u1"]["x_CostCategory_Unit"] == "payments"
    u1 = rows["u1"]
    assert (u1["BillingAccountName"], u1["SubAccountName"], u1["ServiceName"],
            u1["RegionId"], u1["BillingCurrency"], u1["InvoiceIssuerName"]) == (
        "Acme Payer", "team-account", "Amazon Elastic Compute Cloud", "eu-west-1", "EUR",
        "Amazon Web Services EMEA SARL")
    assert (rows["tx"]["ChargeCategory"], rows["rf"]["ChargeCategory"]) == ("Tax", "Purchase")
    assert all(rec.ok for rec in report.reconciliation)


def test_cur2_is_not_read_as_legacy(tmp_path: Path) -> None:
    path = make_cur2(tmp_path, "parquet")
    from cloudledger.ingest.sources import aws_cur

    assert not aws_cur.detect(aws_cur.Sniff(path, tuple(duckdb.sql(
        f"SELECT * FROM '{path}' LIMIT 0").columns)))
