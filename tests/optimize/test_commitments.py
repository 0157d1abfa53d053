"""cloudledger commitments: every shared export that carries commitments, ingested into a
store, against the native file's own columns (DuckDB over the raw file); generated FOCUS
files with known answers for what the real ones lack (unused rows, ends, --by, --as-of)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app

WAL = "native/aws-cur/wal__Oct2018-WorkshopCUR-00001.snappy.parquet"
KOKU_SP = "native/aws-cur/koku__2023-06-01.csv"
AZ_AMORTIZED = "native/azure/finops-toolkit__EA_AmortizedCost_Small.csv"
AZ_ACTUAL = "native/azure/finops-toolkit__EA_ActualCost_Small.csv"
FOCUS_SAMPLE = "focus/focus_sample_1.0.csv"
TOL = Decimal("1e-6")
DU = "line_item_line_item_type = 'DiscountedUsage'"
FEE = "line_item_line_item_type = 'RIFee'"


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def ingest(path: Path, store: Path) -> None:
    r = cli("ingest", str(path), "--store", str(store))
    assert r.exit_code == 0, r.output


def report(store: Path, *extra: str) -> dict[str, Any]:
    r = cli("commitments", "--store", str(store), "--format", "json", *extra)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def native(sql: str) -> list[tuple[Any, ...]]:
    return duckdb.sql(sql).fetchall()


def dec(x: Any) -> Decimal:
    return Decimal(str(x)) if x is not None else Decimal(0)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("commitments")
    out = {}
    for name in (WAL, KOKU_SP, AZ_AMORTIZED, AZ_ACTUAL, FOCUS_SAMPLE):
        store = base / (Path(name).stem.replace(".", "_") + ".duckdb")
        ingest(shared_data / name, store)
        out[name] = store
    return out


#: the workshop CUR's data ends with October 2018
DATA_END = datetime(2018, 11, 1)


# --- AWS CUR Parquet (RIs) ----------------------------------------------------------------

def test_aws_cur_parquet_per_reservation_matches_native_columns(
        stores: dict[str, Path], shared_data: Path) -> None:
    p = shared_data / WAL
    rep = report(stores[WAL])
    rows = {c["commitment_id"]: c for c in rep["commitments"]}
    nat = native(f"""SELECT reservation_reservation_a_r_n,
      sum(reservation_effective_cost) FILTER (WHERE {DU}),
      sum(pricing_public_on_demand_cost) FILTER (WHERE {DU}),
      sum(reservation_unused_amortized_upfront_fee_for_billing_period
          + reservation_unused_recurring_fee) FILTER (WHERE {FEE}),
      sum(TRY_CAST(reservation_unused_quantity AS DOUBLE)) FILTER (WHERE {FEE}),
      sum(TRY_CAST(reservation_total_reserved_units AS DOUBLE)) FILTER (WHERE {FEE}),
      sum(line_item_unblended_cost) FILTER (WHERE {FEE}),
      max(NULLIF(reservation_end_time, ''))
    FROM '{p}' WHERE reservation_reservation_a_r_n <> '' GROUP BY 1""")
    assert len(nat) == len(rows) == 9
    for arn, used, pod, unused, unused_q, units, fee, end in nat:
        r = rows[arn]
        assert abs(dec(r["used_cost"]) - dec(used)) < TOL
        assert abs(dec(r["covered_list_cost"]) - dec(pod)) < TOL
        assert abs(dec(r["unused_cost"]) - dec(unused)) < TOL
        assert abs(dec(r["purchase_cost"]) - dec(fee)) < TOL
        assert abs(dec(r["savings"]) - (dec(pod) - dec(used) - dec(unused))) < TOL
        total = dec(used) + dec(unused)
        assert r["utilization_pct"] == pytest.approx(float(100 * dec(used) / total), abs=0.006)
        assert r["utilization_quantity_pct"] == pytest.approx(
            100 * (1 - (unused_q or 0) / units), abs=0.006)
        # the CUR's reservation/EndTime (x_CommitmentDiscountEnd): days from the data's end
        assert r["status"] == "active" and r["end"] == end[:19]
        assert r["expires_in_days"] == (datetime.fromisoformat(end[:10]) - DATA_END).days
    # one reservation bought but never used: 0% utilized, its whole cost unused
    idle = [r for r in rows.values() if r["used_cost"] == "0.00"]
    assert len(idle) == 1 and idle[0]["utilization_pct"] == 0
    assert any("no covered usage" in n for n in rep["notes"])


def test_aws_cur_parquet_totals_match_native_and_leave_the_fees_out(
        stores: dict[str, Path], shared_data: Path) -> None:
    p = shared_data / WAL
    (t,) = report(stores[WAL])["totals"]
    used, pod, hours, unused, fees = native(f"""SELECT
      sum(reservation_effective_cost) FILTER (WHERE {DU}),
      sum(pricing_public_on_demand_cost) FILTER (WHERE {DU}),
      sum(line_item_usage_amount) FILTER (WHERE {DU}),
      sum(reservation_unused_amortized_upfront_fee_for_billing_period
          + reservation_unused_recurring_fee) FILTER (WHERE {FEE}),
      sum(line_item_unblended_cost) FILTER (WHERE {FEE})
    FROM '{p}'""")[0]
    # eligible: RI-covered usage plus on-demand EC2/RDS instance hours (not spot)
    e_pod, e_hours = native(f"""SELECT sum(pricing_public_on_demand_cost),
      sum(line_item_usage_amount) FROM '{p}' WHERE line_item_line_item_type = 'DiscountedUsage'
      OR (line_item_line_item_type = 'Usage' AND line_item_product_code IN ('AmazonEC2',
          'AmazonRDS') AND (pricing_unit = 'Hrs' OR line_item_usage_type LIKE '%BoxUsage:%')
          AND line_item_usage_type NOT LIKE '%SpotUsage%')""")[0]
    assert t["currency"] == "USD" and t["commitments"] == 9
    assert abs(dec(t["used_cost"]) - dec(used)) < TOL
    assert abs(dec(t["unused_cost"]) - dec(unused)) < TOL
    assert abs(dec(t["covered_cost"]) - dec(pod)) < TOL
    assert abs(dec(t["eligible_cost"]) - dec(e_pod)) < TOL
    assert t["coverage_pct"] == pytest.approx(100 * pod / e_pod, abs=0.006)
    assert t["coverage_hours_pct"] == pytest.approx(100 * hours / e_hours, abs=0.006)
    assert t["utilization_pct"] == pytest.approx(100 * used / (used + unused), abs=0.006)
    savings = dec(t["savings"])
    assert abs(savings - (dec(pod) - dec(used) - dec(unused))) < TOL
    # the RIFee rows' ListCost (= their fee) is not a saving: counting it would add the fees
    assert fees > 100 and savings < Decimal(60)
    assert (t["coverage_pct"], t["utilization_pct"]) == (21.76, 82.58)


# --- AWS CUR CSV: Savings Plan usage without a plan ARN -----------------------------------

def test_savings_plan_usage_without_arn_counts_as_covered(
        stores: dict[str, Path], shared_data: Path) -> None:
    p = shared_data / KOKU_SP
    rep = report(stores[KOKU_SP])
    assert rep["commitments"] == []
    (t,) = rep["totals"]
    pod, eff = native(f"""SELECT sum(CAST("pricing/publicOnDemandCost" AS DECIMAL(38, 12))),
      sum(CAST("savingsPlan/SavingsPlanEffectiveCost" AS DECIMAL(38, 12)))
      FROM read_csv('{p}', all_varchar=true)
      WHERE "lineItem/LineItemType" = 'SavingsPlanCoveredUsage'""")[0]
    assert dec(t["covered_cost"]) == pod and dec(t["used_cost"]) == 0
    assert dec(t["savings"]) == pod - eff
    assert t["coverage_pct"] == 100.0


# --- Azure: amortized (usage covered by a reservation and a savings plan), actual ---------

def test_azure_amortized_matches_its_own_columns(stores: dict[str, Path],
                                                 shared_data: Path) -> None:
    p = shared_data / AZ_AMORTIZED
    rep = report(stores[AZ_AMORTIZED])
    # EA exports leave PayGPrice 0 on reservation usage: its on-demand price is UnitPrice
    nat = native(f"""SELECT PricingModel, sum(CAST(Cost AS DECIMAL(38, 12))),
      sum(CASE WHEN CAST(PayGPrice AS DECIMAL(38, 12)) > 0 THEN CAST(PayGPrice AS
          DECIMAL(38, 12)) ELSE CAST(UnitPrice AS DECIMAL(38, 12)) END
          * CAST(Quantity AS DECIMAL(38, 12))),
      sum(CAST(Quantity AS DOUBLE))
      FROM read_csv('{p}', all_varchar=true) WHERE PricingModel IN ('Reservation', 'SavingsPlan')
      GROUP BY 1""")
    by_type = {c["type"]: c for c in rep["commitments"]}
    assert set(by_type) == {"Reservation", "Savings Plan"}
    for model, cost, payg, qty in nat:
        r = by_type["Reservation" if model == "Reservation" else "Savings Plan"]
        assert abs(dec(r["used_cost"]) - cost) < TOL
        assert abs(dec(r["covered_list_cost"]) - payg) < TOL
        assert abs(dec(r["savings"]) - (payg - cost)) < TOL
        assert dec(r["unused_cost"]) == 0 and r["utilization_pct"] == 100.0
        if model == "Reservation":
            assert r["covered_hours"] == pytest.approx(qty)
    (t,) = rep["totals"]
    covered = sum(x[2] for x in nat)
    # eligible: covered + on-demand compute/database meters billed by the hour
    (od,) = native(f"""SELECT sum(CAST(PayGPrice AS DECIMAL(38, 12))
      * CAST(Quantity AS DECIMAL(38, 12))) FROM read_csv('{p}', all_varchar=true)
      WHERE PricingModel = 'OnDemand' AND UnitOfMeasure = '1 Hour'
        AND MeterCategory IN ('Virtual Machines', 'Azure Database for MySQL',
                              'SQL Managed Instance')""")[0]
    assert abs(dec(t["eligible_cost"]) - (covered + od)) < TOL
    assert t["coverage_pct"] == pytest.approx(float(100 * covered / (covered + od)), abs=0.006)


def test_azure_actual_reservation_purchase_without_usage(stores: dict[str, Path],
                                                        shared_data: Path) -> None:
    p = shared_data / AZ_ACTUAL
    rep = report(stores[AZ_ACTUAL])
    (c,) = rep["commitments"]
    (fee,) = native(f"""SELECT sum(CAST(Cost AS DECIMAL(38, 12))) FROM read_csv('{p}',
      all_varchar=true) WHERE ChargeType = 'Purchase'""")[0]
    assert dec(c["purchase_cost"]) == fee and dec(c["used_cost"]) == 0
    assert c["utilization_pct"] is None  # neither used nor unused rows: unknown, not 0
    assert any("no covered usage" in n for n in rep["notes"])


# --- FOCUS 1.0 sample (Savings Plans) -----------------------------------------------------

def test_focus_sample_matches_its_own_columns(stores: dict[str, Path],
                                              shared_data: Path) -> None:
    p = shared_data / FOCUS_SAMPLE
    rep = report(stores[FOCUS_SAMPLE])
    nat = native(f"""SELECT CommitmentDiscountId, sum(CAST(EffectiveCost AS DECIMAL(38, 12))),
      sum(CAST(ListCost AS DECIMAL(38, 12))), sum(CAST(ContractedCost AS DECIMAL(38, 12)))
      FROM read_csv('{p}', all_varchar=true) WHERE CommitmentDiscountId NOT IN ('', 'NULL')
      AND ChargeCategory = 'Usage' GROUP BY 1""")
    rows = {c["commitment_id"]: c for c in rep["commitments"]}
    assert len(nat) == len(rows) == 2
    for cid, eff, lst, con in nat:
        r = rows[cid]
        assert dec(r["used_cost"]) == eff and dec(r["covered_list_cost"]) == lst
        assert dec(r["savings"]) == lst - eff
        assert dec(r["savings_vs_contracted"]) == con - eff


# --- generated FOCUS files with known answers ---------------------------------------------

FOCUS_COLUMNS = ["BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
                 "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeFrequency",
                 "PricingCategory", "ProviderName", "ServiceName", "ServiceCategory",
                 "RegionId", "ResourceId", "SkuPriceDetails", "BilledCost", "EffectiveCost",
                 "ListCost", "ContractedCost", "ConsumedQuantity", "ConsumedUnit",
                 "CommitmentDiscountId", "CommitmentDiscountCategory",
                 "CommitmentDiscountType", "CommitmentDiscountStatus",
                 "CommitmentDiscountQuantity", "CommitmentDiscountUnit",
                 "x_CommitmentDiscountEnd"]


def row(start: str, end: str, **kw: Any) -> dict[str, Any]:
    base = {"BillingAccountId": "111", "BillingCurrency": "USD",
            "BillingPeriodStart": start[:8] + "01T00:00:00Z", "ChargePeriodStart": start,
            "ChargePeriodEnd": end, "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
            "PricingCategory": "Standard", "ProviderName": "AWS", "ServiceName": "EC2",
            "ServiceCategory": "Compute", "RegionId": "us-east-1", "BilledCost": "0",
            "EffectiveCost": "0", "ListCost": "0", "ContractedCost": "0"}
    y, m = int(start[:4]), int(start[5:7])
    base["BillingPeriodEnd"] = (f"{y + m // 12}-{m % 12 + 1:02d}-01T00:00:00Z")
    return base | kw


def write_focus(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, FOCUS_COLUMNS, extrasaction="raise")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in FOCUS_COLUMNS})
    return path


def spec_store(tmp_path: Path) -> Path:
    """The FOCUS 1.2 spec's examples, as one account: a 100%-used RI (purchase 1.50, usage
    list 3.00 at 1.50), a 0%-used RI (unused 1.50) and an on-demand VM (2.00), one hour each;
    a one-time Savings Plan purchase whose charge period is its term (ends 2023-02-20), and a
    reservation whose end an x_CommitmentDiscountEnd column states (2023-04-15)."""
    h0, h1 = "2023-01-01T00:00:00Z", "2023-01-01T01:00:00Z"
    ri = {"CommitmentDiscountCategory": "Usage", "CommitmentDiscountType": "Reserved Instance"}
    rows = [
        row(h0, h1, ChargeCategory="Purchase", ChargeFrequency="Recurring", BilledCost="1.50",
            ListCost="1.50", ContractedCost="1.50", CommitmentDiscountId="ri-full",
            CommitmentDiscountQuantity="1", CommitmentDiscountUnit="Hour", **ri),
        row(h0, h1, PricingCategory="Committed", EffectiveCost="1.50", ListCost="3.00",
            ContractedCost="3.00", ConsumedQuantity="1", ConsumedUnit="Hour",
            CommitmentDiscountId="ri-full", CommitmentDiscountStatus="Used",
            CommitmentDiscountQuantity="1", CommitmentDiscountUnit="Hour", **ri),
        row(h0, h1, ChargeCategory="Purchase", ChargeFrequency="Recurring", BilledCost="1.50",
            ListCost="1.50", ContractedCost="1.50", CommitmentDiscountId="ri-idle",
            CommitmentDiscountQuantity="1", CommitmentDiscountUnit="Hour",
            x_CommitmentDiscountEnd="2023-04-15T00:00:00Z", **ri),
        row(h0, h1, PricingCategory="Committed", EffectiveCost="1.50", ListCost="3.00",
            ContractedCost="3.00", CommitmentDiscountId="ri-idle",
            CommitmentDiscountStatus="Unused", CommitmentDiscountQuantity="1",
            CommitmentDiscountUnit="Hour", **ri),
        row(h0, h1, BilledCost="2.00", EffectiveCost="2.00", ListCost="2.00",
            ContractedCost="2.00", ConsumedQuantity="1", ConsumedUnit="Hour",
            RegionId="eu-west-1"),
        row(h0, "2023-02-20T00:00:00Z", ChargeCategory="Purchase", ChargeFrequency="One-Time",
            BilledCost="100.00", ListCost="100.00", ContractedCost="100.00",
            CommitmentDiscountId="sp-upfront", CommitmentDiscountCategory="Spend",
            CommitmentDiscountType="Savings Plan"),
    ]
    store = tmp_path / "spec.duckdb"
    ingest(write_focus(tmp_path / "spec.csv", rows), store)
    return store


def test_known_answers_utilization_coverage_savings_and_ends(tmp_path: Path) -> None:
    store = spec_store(tmp_path)
    rep = report(store, "--as-of", "2023-01-20")
    rows = {c["commitment_id"]: c for c in rep["commitments"]}
    full, idle, sp = rows["ri-full"], rows["ri-idle"], rows["sp-upfront"]
    assert (full["utilization_pct"], full["utilization_quantity_pct"]) == (100.0, 100.0)
    assert (idle["utilization_pct"], idle["utilization_quantity_pct"]) == (0.0, 0.0)
    assert dec(full["savings"]) == Decimal("1.50")
    # the unused row's ListCost (3.00) is no saving: the idle RI lost its 1.50
    assert dec(idle["savings"]) == Decimal("-1.50") and dec(idle["unused_cost"]) == Decimal("1.5")
    assert idle["end"] == "2023-04-15T00:00:00" and idle["expires_in_days"] == 85
    assert sp["end"] == "2023-02-20T00:00:00" and sp["expires_in_days"] == 31
    (t,) = rep["totals"]
    # eligible: the covered VM hour (list 3.00) and the on-demand one (2.00)
    assert dec(t["eligible_cost"]) == Decimal(5) and dec(t["covered_cost"]) == Decimal(3)
    assert t["coverage_pct"] == 60.0 and t["coverage_hours_pct"] == 50.0
    assert t["utilization_pct"] == 50.0 and dec(t["savings"]) == Decimal(0)
    assert (t["expiring_30d"], t["expiring_60d"], t["expiring_90d"]) == (0, 1, 2)


def test_by_and_as_of(tmp_path: Path) -> None:
    store = spec_store(tmp_path)
    by = report(store, "--by", "RegionId", "--as-of", "2023-01-20")["totals"]
    regions = {t["RegionId"]: t for t in by}
    assert regions["eu-west-1"]["coverage_pct"] == 0.0
    assert regions["us-east-1"]["coverage_pct"] == 100.0
    # after the Savings Plan's end it is expired; before the data nothing is charged
    later = {c["commitment_id"]: c for c in report(store, "--as-of", "2023-03-01")
             ["commitments"]}
    assert later["sp-upfront"]["status"] == "expired"
    assert report(store, "--as-of", "2022-12-01")["commitments"] == []


def test_errors_and_other_formats(tmp_path: Path) -> None:
    store = spec_store(tmp_path)
    r = cli("commitments", "--store", str(store), "--by", "Regionid")
    assert r.exit_code == 2 and "RegionId" in r.output
    r = cli("commitments", "--store", str(store), "--as-of", "2023-13-01")
    assert r.exit_code == 2 and "YYYY-MM-DD" in r.output
    r = cli("commitments", "--store", str(tmp_path / "missing.duckdb"))
    assert r.exit_code == 2
    r = cli("commitments", "--store", str(store), "--format", "csv")
    assert r.exit_code == 0 and r.stdout.splitlines()[0].startswith("section,")
    r = cli("commitments", "--store", str(store))
    assert r.exit_code == 0 and "ri-idle" in r.stdout


def test_realized_commitment_savings_equal_the_report(stores: dict[str, Path]) -> None:
    """The savings ledger's realized commitment savings (covered usage below its contracted
    price, net of unused) are the commitments report's savings: 56.77 on the workshop CUR,
    not the 41.72 that counting spot and free-tier rows gave."""
    from cloudledger.config import Settings
    from cloudledger.optimize.ledger import savings
    from cloudledger.store import Store

    rep = report(stores[WAL])
    st = Store(stores[WAL], read_only=True)
    try:
        realized = savings(st, Settings()).realized
    finally:
        st.close()
    assert [r["commitment_savings"] for r in realized] == [
        Decimal(rep["totals"][0]["savings"])]
