"""recommend commitments and the commitments.purchase recommender: generated hourly usage
with known answers, bad inputs reported as notes, the real AWS CUR Parquet."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cloudledger.config import load_settings
from cloudledger.optimize import ledger
from cloudledger.optimize.registry import RECOMMENDERS, run
from cloudledger.store import Store
from tests.optimize.test_commitments import WAL, cli, ingest, row, write_focus

T0 = datetime(2023, 1, 1)
M5 = '{"InstanceType": "m5.large"}'


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def hourly(days: int = 30, *, covered: bool = True, list_price: bool = True,
           idle_ri: bool = False) -> list[dict[str, Any]]:
    """Each hour: an on-demand m5 VM (list 6.00) and, with ``covered``, a Savings Plan
    covering 4.00 of list at 2.80 (30% off)."""
    rows = []
    for h in range(days * 24):
        a, b = iso(T0 + timedelta(hours=h)), iso(T0 + timedelta(hours=h + 1))
        rows.append(row(a, b, BilledCost="6.00", EffectiveCost="6.00", ListCost="6.00",
                        ContractedCost="6.00", ConsumedQuantity="1", ConsumedUnit="Hrs",
                        SkuPriceDetails=M5))
        if covered:
            rows.append(row(a, b, PricingCategory="Committed", EffectiveCost="2.80",
                            ListCost="4.00" if list_price else "", ContractedCost="4.00",
                            ConsumedQuantity="1", ConsumedUnit="Hrs", SkuPriceDetails=M5,
                            CommitmentDiscountId="sp-1", CommitmentDiscountCategory="Spend",
                            CommitmentDiscountType="Savings Plan",
                            CommitmentDiscountStatus="Used"))
        if idle_ri:
            rows.append(row(a, b, PricingCategory="Committed", EffectiveCost="0.50",
                            CommitmentDiscountId="ri-idle", CommitmentDiscountCategory="Usage",
                            CommitmentDiscountType="Reserved Instance",
                            CommitmentDiscountStatus="Unused", RegionId="eu-west-1"))
    return rows


def make(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    store = tmp_path / "s.duckdb"
    ingest(write_focus(tmp_path / "usage.csv", rows), store)
    return store


def plans(store: Path, *extra: str) -> list[dict[str, Any]]:
    r = cli("recommend", "commitments", "--store", str(store), "--format", "json", *extra)
    assert r.exit_code == 0, r.output
    out: list[dict[str, Any]] = json.loads(r.stdout)
    return out


def by_kind(ps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["scope"]["kind"]: p for p in ps if not p["skipped"]}


def test_known_answer_flat_usage_with_an_owned_savings_plan(tmp_path: Path) -> None:
    store = make(tmp_path, hourly())
    ps = plans(store)
    sp, ri = by_kind(ps)["savings_plan"], by_kind(ps)["reserved_instance"]
    # usage 10 $/h of list, 4 of it covered by the owned plan: buy the other 6 at 30% off
    assert sp["scope"] == {"kind": "savings_plan", "provider": "AWS", "billing_account": "111"}
    assert (sp["discount"], sp["discount_source"]) == (0.3, "billing")
    assert Decimal(sp["hourly_commitment"]) == Decimal("6.000")
    assert Decimal(sp["hourly_cost"]) == Decimal("4.200")
    assert Decimal(sp["expected_monthly_savings"]) == Decimal("1314.00")  # 6 * 0.3 * 730
    assert (sp["utilization_pct"], sp["coverage_pct"], sp["coverage_before_pct"]) == \
        (100.0, 100.0, 40.0)
    assert sp["utilization"] == 1.0 and sp["coverage"] == 1.0
    assert sp["break_even_utilization_pct"] == 70.0 and sp["step_hours"] == 1
    assert sp["term"] == "1y" and sp["lookback_hours"] == 720
    assert [e["commitment_id"] for e in sp["existing"]] == ["sp-1"]
    assert Decimal(sp["existing"][0]["hourly_commitment"]) == Decimal("4.000")
    assert [s["usage_drop_pct"] for s in sp["scenarios"]] == [10.0, 20.0, 30.0]
    # 10% less usage: 9 $/h, 5 left after the owned 4: (5 - 0.7 * 6) * 730
    assert Decimal(sp["scenarios"][0]["expected_monthly_savings"]) == Decimal("584.00")
    assert Decimal(sp["tranches"][0]["hourly_commitment"]) == Decimal("6.000")
    # the RI scope sees only the on-demand m5 usage (the plan's covered usage is its own)
    assert ri["scope"] == {"kind": "reserved_instance", "provider": "AWS",
                           "billing_account": "111", "family": "m5", "region": "us-east-1"}
    assert ri["discount_source"] == "billing (savings plans)"
    assert Decimal(ri["hourly_commitment"]) == Decimal("6.000")
    # a 3-year term and --as-of: the lookback ends at the as-of
    ps = plans(store, "--term", "3y", "--as-of", "2023-01-16", "--payment", "all-upfront")
    sp = by_kind(ps)["savings_plan"]
    assert (sp["term"], sp["payment"], sp["lookback_hours"]) == ("3y", "all-upfront", 360)


def test_recommender_puts_one_plan_per_account_in_the_ledger(tmp_path: Path) -> None:
    store = make(tmp_path, hourly())
    rec = RECOMMENDERS.find("commitments.purchase")
    assert rec.category == "commitments"
    s = Store(store, read_only=True)
    try:
        out = run(s, load_settings(None), names=["commitments"])
        again = run(s, load_settings(None), names=["commitments"])
    finally:
        s.close()
    (r,) = out
    assert r.kind == "commitments.purchase" and r.monthly_savings == Decimal("1314.00")
    assert r.currency == "USD" and r.account == "111" and r.id == again[0].id
    assert r.evidence["scope"]["kind"] == "savings_plan"
    assert "would save" in r.evidence["alternative"]
    json.dumps(r.to_dict(), default=str)
    # the command keeps the chosen plan in the savings ledger, under the same id
    ps = plans(store)
    assert by_kind(ps)["savings_plan"]["ledger_id"] == r.id
    assert by_kind(ps)["reserved_instance"]["ledger_id"] is None  # the alternative
    s = Store(store, read_only=True)
    try:
        (kept,) = ledger.rows(s, kinds=["commitments.purchase"])
    finally:
        s.close()
    assert kept["id"] == r.id and Decimal(kept["monthly_savings"]) == Decimal("1314.00")
    r2 = cli("recommend", "commitments", "--store", str(store.parent / "none.duckdb"))
    assert r2.exit_code == 2


def test_discount_from_option_then_config_when_billing_has_none(tmp_path: Path) -> None:
    store = make(tmp_path, hourly(covered=False))
    ps = plans(store)
    assert all(p["skipped"] for p in ps)
    assert any("--discount" in n for p in ps for n in p["notes"])
    sp = by_kind(plans(store, "--discount", "0.25"))["savings_plan"]
    assert (sp["discount"], sp["discount_source"]) == (0.25, "option")
    assert Decimal(sp["hourly_commitment"]) == Decimal("6.000")
    assert Decimal(sp["expected_monthly_savings"]) == Decimal("1095.00")  # 6 * .25 * 730
    cfg = tmp_path / "cloudledger.yaml"
    cfg.write_text("optimize:\n  commitments.purchase:\n    discount: 0.2\n")
    sp = by_kind(plans(store, "--config", str(cfg)))["savings_plan"]
    assert (sp["discount"], sp["discount_source"]) == (0.2, "option")
    cfg.write_text("optimize:\n  commitments.purchase:\n    discont: 0.2\n")
    r = cli("recommend", "commitments", "--store", str(store), "--config", str(cfg))
    assert r.exit_code == 2 and "discont" in r.output
    r = cli("recommend", "commitments", "--store", str(store), "--discount", "1.5")
    assert r.exit_code == 2 and "--discount" in r.output


def test_bad_inputs_are_notes_never_crashes(tmp_path: Path) -> None:
    # a lookback longer than the data; an RI with only unused rows; covered usage without
    # a list price
    store = make(tmp_path, hourly(days=3, list_price=False, idle_ri=True))
    ps = plans(store, "--lookback", "90")
    # no covered row has a list price: no discount from the billing
    assert all(p["skipped"] for p in ps if p["scope"]["kind"] == "savings_plan")
    ps = plans(store, "--lookback", "90", "--discount", "0.3")
    sp = by_kind(ps)["savings_plan"]
    assert any("lookback of 2160 h asked but only 72 h" in n for n in sp["notes"])
    skipped = [p for p in ps if p["skipped"]]
    assert any("no instance family" in n for p in skipped for n in p["notes"])
    r = cli("commitments", "--store", str(store), "--format", "json")
    rep = json.loads(r.stdout)
    assert any("without a list price" in n for n in rep["notes"])
    idle = {c["commitment_id"]: c for c in rep["commitments"]}["ri-idle"]
    assert idle["utilization_pct"] == 0.0
    r = cli("recommend", "commitments", "--store", str(store), "--lookback", "0")
    assert r.exit_code == 2
    r = cli("recommend", "commitments", "--store", str(store))
    assert r.exit_code == 0 and "savings_plan" in r.stdout


def test_aws_cur_parquet_plans(tmp_path: Path, shared_data: Path) -> None:
    p = shared_data / WAL
    store = tmp_path / "wal.duckdb"
    ingest(p, store)
    ps = plans(store)
    ri = [x for x in ps if x["scope"]["kind"] == "reserved_instance" and not x["skipped"]]
    assert {x["scope"]["family"] for x in ri} >= {"t2", "m5", "c5", "db.r4"}
    eff, pod = duckdb.sql(f"""SELECT sum(reservation_effective_cost),
      sum(pricing_public_on_demand_cost) FROM '{p}'
      WHERE line_item_line_item_type = 'DiscountedUsage'""").fetchone()
    for x in ri:
        assert x["discount"] == pytest.approx(1 - eff / pod, abs=5e-5)
        assert x["step_hours"] == 1 and x["discount_source"] == "billing"
        assert Decimal(x["expected_monthly_savings"]) >= 0
        assert x["scope"]["billing_account"] == "836060457634"
    sp = by_kind(ps)["savings_plan"]
    assert len(sp["existing"]) == 8  # the RIs with usage, as owned commitments
