"""The replace scope: a load replaces what it carries, (provider, billing account, billing
period), never rows of an account it does not carry; --incremental narrows it to the charge
days it carries; source totals follow the rows. Each case runs on DuckDB and on Spark."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloudledger.ingest import NothingToLoad, ingest
from cloudledger.store import Store
from tests.store.conftest import row, write_focus


def total(store: Store) -> Decimal:
    return Decimal(store.execute(store.focus.BilledCost.sum()).as_py() or 0)


def count(store: Store) -> int:
    return int(store.execute(store.focus.count()).as_py())


def reconciled(store: Store) -> bool:
    rows = store.reconcile().to_pylist()
    return bool(rows) and all(r["status"] == "ok" for r in rows)


def test_an_invoiced_load_of_another_account_deletes_nothing(engine_store: Store,
                                                             tmp_path: Path) -> None:
    five = [row(f"aws-{a}", "1.50", day=1 + i % 28, resource=f"r{i}")
            for a in range(5) for i in range(60)]
    ingest(engine_store, [write_focus(tmp_path / "aws.csv", five)])
    other = write_focus(tmp_path / "azure.csv", [row("az-1", "7.25", provider="Microsoft",
                                                     invoice="INV-1")])
    [report] = ingest(engine_store, [other])
    assert report.rows_replaced == 0 and report.replaced == []
    assert count(engine_store) == 301
    assert total(engine_store) == Decimal("457.25")  # 300 x 1.50 + 7.25
    assert reconciled(engine_store)


def test_final_rows_replace_the_same_accounts_not_final_ones(engine_store: Store,
                                                            tmp_path: Path) -> None:
    ingest(engine_store, [write_focus(tmp_path / "estimate.csv", [
        row("a", "1", day=d) for d in (1, 2, 3)] + [row("b", "5")])])
    final = write_focus(tmp_path / "final.csv", [row("a", "2.5", day=d, invoice="INV-9")
                                                 for d in (1, 2)])
    [report] = ingest(engine_store, [final])
    assert report.rows_replaced == 3
    assert [(r.billing_account, r.rows, r.billed_cost) for r in report.replaced] == [
        ("a", 3, Decimal(3))]
    assert total(engine_store) == Decimal("10")  # a: 2 x 2.5, b: 5
    assert reconciled(engine_store)


def test_incremental_replaces_only_the_charge_days_it_carries(engine_store: Store,
                                                             tmp_path: Path) -> None:
    days = write_focus(tmp_path / "days-01-10.csv", [row("a", "1", day=d)
                                                     for d in range(1, 11)])
    ingest(engine_store, [days])
    update = write_focus(tmp_path / "days-10-12.csv", [row("a", "2", day=d)
                                                      for d in (10, 11, 12)])
    [dry] = ingest(engine_store, [update], incremental=True, dry_run=True)
    assert dry.rows_replaced == 1
    [report] = ingest(engine_store, [update], incremental=True)
    assert report.rows_replaced == 1
    assert total(engine_store) == Decimal("15")  # days 1-9 at 1, days 10-12 at 2
    assert reconciled(engine_store)  # ingest 1's source totals less day 10
    # the default replaces the whole (account, period): a month-to-date file
    month = write_focus(tmp_path / "mtd.csv", [row("a", "3", day=d) for d in (1, 2)])
    [whole] = ingest(engine_store, [month])
    assert whole.rows_replaced == 12 and total(engine_store) == Decimal("6")
    assert reconciled(engine_store)


def test_restating_one_account_month_of_a_multi_account_file(engine_store: Store,
                                                            tmp_path: Path) -> None:
    rows = [row(a, c, month=m) for a, c in (("a", "1"), ("b", "2"))
            for m in ("2025-09", "2025-10")]
    ingest(engine_store, [write_focus(tmp_path / "all.csv", rows)])
    [report] = ingest(engine_store, [write_focus(tmp_path / "a-oct.csv",
                                                 [row("a", "4", month="2025-10")])])
    assert report.rows_replaced == 1
    assert total(engine_store) == Decimal("9")  # a-sep 1, b-sep 2, b-oct 2, a-oct 4
    assert reconciled(engine_store)
    st = engine_store.execute(engine_store.table("source_totals")).to_pylist()
    first = {(r["BillingAccountId"], str(r["BillingPeriodStart"])[:7]) for r in st
             if r["ingest_id"] == 1}
    assert first == {("a", "2025-09"), ("b", "2025-09"), ("b", "2025-10")}


def test_byte_identical_files_count_once(engine_store: Store, tmp_path: Path,
                                         shared_data: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    sample = (shared_data / "focus/focus_sample_1.0.csv").read_bytes()
    (folder / "report.csv").write_bytes(sample)
    (folder / "report (copy).csv").write_bytes(sample)
    [report] = ingest(engine_store, [folder])
    assert report.rows == 1000 and len(report.files) == 1
    assert any("byte-identical" in w for w in report.warnings)
    assert total(engine_store) == Decimal("20.520226728990")
    with pytest.raises(NothingToLoad, match="already loaded"):
        ingest(engine_store, [folder])
    assert total(engine_store) == Decimal("20.520226728990")
    assert reconciled(engine_store)


def test_a_second_format_of_the_same_account_replaces_with_a_warning(
        store: Store, tmp_path: Path, shared_data: Path) -> None:
    [cur] = ingest(store, [shared_data / "native/aws-cur/koku__2023-06-01.csv"])
    got = store.execute(store.focus.select("ProviderName", "BillingAccountId",
                                           "BillingCurrency").distinct()).to_pylist()
    assert got == [{"ProviderName": "AWS", "BillingAccountId": "0099999999999",
                    "BillingCurrency": "NOK"}]
    focus_export = write_focus(tmp_path / "aws-focus.csv", [
        row("0099999999999", "10", month="2023-06", day=d, currency="NOK") for d in (1, 2, 3)])
    [again] = ingest(store, [focus_export])
    assert again.rows_replaced == cur.rows
    assert any("loaded earlier as aws-cur" in w for w in again.warnings)
    assert total(store) == Decimal("30")
    assert reconciled(store)
