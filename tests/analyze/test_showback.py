"""Showback and chargeback on a small allocated table with hand-computed answers.

Topology (USD, EffectiveCost unless noted; team / cost_center):

    2026-01                        direct   shared  commitment  unused  credits  other   total
      payments  CC-100 / CC-101    60+40    20      30 (SP)     .       -5       .      145.00
      search    CC-200             50       10      .           .       .        4.50    64.50
      platform  CC-300             .        .       0 (buy 42)  12      .        .       12.00
      __unallocated__              7.25     .       .           .       .        .        7.25
      __shared__ (pool remainder)  .        1.005   .           .       .        .        1.005
                                                                               period  229.755
    2026-02
      payments  CC-100             110      22                                          132.00
      search    CC-200             80                                                    80.00
      analytics CC-400             33.333333333333                             33.333333333333
      __unallocated__              2                                                      2.00
                                                                      period  247.333333333333

The savings plan (SP) purchase is BilledCost 42.00 on platform with EffectiveCost 0; the
covered usage and the unused part have BilledCost 0, so BilledCost moves 30 + 12 of the
commitment onto platform's purchase.

MoM 2026-02: payments -13.00 (-8.97%), search +15.50 (+24.03%), platform -12 (-100%),
analytics +33.333333333333 (new, no %), __unallocated__ -5.25 (-72.41%).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from cloudledger.analyze.showback import PARTS, chargeback, distribute, showback
from cloudledger.cli import app
from cloudledger.config import Chargeback as ChargebackSettings
from cloudledger.config import Settings
from cloudledger.errors import InputError
from cloudledger.render.showback import render
from cloudledger.store import Store
from tests.allocated_data import make_allocated, row

D = Decimal
JAN, FEB = "2026-01", "2026-02"


def topology() -> list[dict]:
    sp = {"commitment": "sp-1"}
    return [
        row(JAN, "60", team="payments", cost_center="CC-100"),
        row(JAN, "40", team="payments", cost_center="CC-101", product="api"),
        row(JAN, "20", team="payments", cost_center="CC-100", kind="shared",
            x_AllocationPool="support"),
        row(JAN, "30", team="payments", cost_center="CC-100", status="Used", billed="0", **sp),
        row(JAN, "-5", team="payments", cost_center="CC-100", category="Credit"),
        row(JAN, "50", team="search", cost_center="CC-200", product="search"),
        row(JAN, "10", team="search", cost_center="CC-200", kind="shared",
            product="search"),
        row(JAN, "4.50", team="search", cost_center="CC-200", category="Tax",
            product="search"),
        row(JAN, "12", team="platform", cost_center="CC-300", kind="commitment_unused",
            status="Unused", billed="0", **sp),
        row(JAN, "0", team="platform", cost_center="CC-300", category="Purchase",
            billed="42", **sp),
        row(JAN, "7.25", team="__unallocated__", kind="unallocated"),
        row(JAN, "1.005", team="__shared__", kind="shared"),
        row(FEB, "110", team="payments", cost_center="CC-100"),
        row(FEB, "22", team="payments", cost_center="CC-100", kind="shared"),
        row(FEB, "80", team="search", cost_center="CC-200", product="search"),
        row(FEB, "33.333333333333", team="analytics", cost_center="CC-400"),
        row(FEB, "2", team="__unallocated__", kind="unallocated"),
    ]


@pytest.fixture()
def store(engine_store: Store) -> Store:
    """Every showback test runs on DuckDB and on Spark (``-m spark`` for the latter)."""
    return engine_store


@pytest.fixture()
def allocated(store: Store) -> Store:
    make_allocated(store, topology())
    return store


def _by_owner(rows: list[dict], period: str) -> dict[str, dict]:
    return {r["team"]: r for r in rows if r["period"] == period}


def test_parts_per_owner_january(allocated: Store) -> None:
    sb = showback(allocated, Settings())
    jan = _by_owner(sb.rows, JAN)
    assert set(jan) == {"payments", "search", "platform", "__unallocated__", "__shared__"}
    p = jan["payments"]
    assert (p["direct"], p["shared"], p["commitment"], p["commitment_unused"], p["credits"],
            p["other"], p["total"]) == (D(100), D(20), D(30), D(0), D(-5), D(0), D(145))
    s = jan["search"]
    assert (s["direct"], s["shared"], s["other"], s["total"]) == (D(50), D(10), D("4.5"),
                                                                  D("64.5"))
    assert jan["platform"]["commitment_unused"] == D(12)
    assert jan["platform"]["commitment"] == D(0)        # the purchase is 0 amortized
    assert jan["__shared__"]["shared"] == D("1.005")
    assert jan["__unallocated__"]["direct"] == D("7.25")
    assert all(r["change"] is None for r in jan.values())   # no earlier month
    for r in sb.rows:
        assert sum((r[k] for k in PARTS), D(0)) == r["total"]


def test_month_over_month(allocated: Store) -> None:
    feb = _by_owner(showback(allocated, Settings()).rows, FEB)
    assert feb["payments"]["change"] == D(-13)
    assert feb["payments"]["change_pct"] == -8.97
    assert feb["search"]["change"] == D("15.5")
    assert feb["search"]["change_pct"] == 24.03
    assert feb["platform"]["total"] == 0 and feb["platform"]["change"] == D(-12)
    assert feb["platform"]["change_pct"] == -100.0
    assert feb["analytics"]["change"] == D("33.333333333333")
    assert feb["analytics"]["change_pct"] is None
    assert feb["__unallocated__"]["change_pct"] == -72.41
    assert "__shared__" in feb and feb["__shared__"]["change"] == D("-1.005")


def test_totals_equal_allocated_table(allocated: Store) -> None:
    sb = showback(allocated, Settings())
    direct = allocated.engine.query("SELECT strftime(BillingPeriodStart, '%Y-%m') AS p, "
                           "sum(EffectiveCost) AS t FROM allocated GROUP BY 1").to_pylist()
    expected = {(r["p"], "USD"): r["t"] for r in direct}
    assert sb.totals == expected == {(JAN, "USD"): D("229.755"),
                                     (FEB, "USD"): D("247.333333333333")}
    for key, total in expected.items():
        assert sum(r["total"] for r in sb.rows if (r["period"], r["currency"]) == key) == total


def test_month_filter_keeps_change(allocated: Store) -> None:
    sb = showback(allocated, Settings(), month=FEB)
    assert {r["period"] for r in sb.rows} == {FEB}
    assert _by_owner(sb.rows, FEB)["payments"]["change"] == D(-13)
    assert sb.totals == {(FEB, "USD"): D("247.333333333333")}


def test_billed_cost_puts_commitment_on_the_purchase(allocated: Store) -> None:
    jan = _by_owner(showback(allocated, Settings(), metric="BilledCost").rows, JAN)
    assert jan["payments"]["commitment"] == 0 and jan["payments"]["total"] == D(115)
    assert jan["platform"]["commitment"] == D(42) and jan["platform"]["total"] == D(42)


def test_two_dimensions(allocated: Store) -> None:
    sb = showback(allocated, Settings(), by=["team", "product"], month=JAN)
    pay = {r["product"]: r["total"] for r in sb.rows if r["team"] == "payments"}
    assert pay == {"web": D(105), "api": D(40)}


def test_bad_arguments(allocated: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'team'"):
        showback(allocated, Settings(), by=["teem"])
    with pytest.raises(InputError, match="YYYY-MM"):
        showback(allocated, Settings(), month="2026/02")
    with pytest.raises(InputError, match="billing periods here: 2026-01, 2026-02"):
        showback(allocated, Settings(), month="2026-03")
    with pytest.raises(InputError, match="no allocated cost in 2025-12"):
        chargeback(allocated, Settings(), month="2025-12")
    with pytest.raises(InputError, match="did you mean 'BilledCost'"):
        showback(allocated, Settings(), metric="BiledCost")
    empty = Store(tmp_path / "empty.duckdb")
    with pytest.raises(InputError, match="cloudledger allocate"):
        showback(empty, Settings())
    empty.close()


# ------------------------------------------------------------------ chargeback
def test_chargeback_journal(allocated: Store) -> None:
    cb = chargeback(allocated, Settings())
    jan = [(e["owner"], e["cost_center"], e["amount"]) for e in cb.entries
           if e["period"] == JAN]
    assert jan == [("payments", "CC-100", D("105.00")), ("payments", "CC-101", D("40.00")),
                   ("platform", "CC-300", D("12.00")), ("search", "CC-200", D("64.50"))]
    summary = {s["period"]: s for s in cb.summary}
    assert summary[FEB]["billable"] == D("245.333333333333")
    assert summary[FEB]["journal"] == D("245.33")
    assert summary[FEB]["non_billable"] == D(2)
    for s in cb.summary:
        journal = sum(e["amount"] for e in cb.entries if e["period"] == s["period"])
        assert journal == s["journal"] == s["billable"].quantize(D("0.01"))
        assert s["billable"] + s["non_billable"] == s["total"]
    assert summary[JAN]["total"] == D("229.755")
    assert {(n["period"], n["owner"]): n["amount"] for n in cb.non_billable} == {
        (JAN, "__shared__"): D("1.005"), (JAN, "__unallocated__"): D("7.25"),
        (FEB, "__unallocated__"): D(2)}


def test_chargeback_exact_and_custom_exclude(allocated: Store) -> None:
    settings = Settings(chargeback=ChargebackSettings(exclude=["__unallocated__", "platform"]))
    cb = chargeback(allocated, settings, month=JAN, precision=12)
    # __shared__ is never billed, whatever exclude says
    assert sum(e["amount"] for e in cb.entries) == D("229.755") - D("7.25") - D(12) \
        - D("1.005")
    assert cb.summary[0]["rounding"] == 0
    assert {n["owner"] for n in cb.non_billable} == {"__unallocated__", "platform",
                                                     "__shared__"}


@given(st.lists(st.decimals(min_value=-1000, max_value=1000, places=6), min_size=1,
                max_size=30))
def test_distribute_sums_to_rounded_total(amounts: list[Decimal]) -> None:
    rounded = distribute(amounts, 2)
    assert sum(rounded, D(0)) == sum(amounts, D(0)).quantize(D("0.01"))
    assert all(abs(r - a) < D("0.01") for r, a in zip(rounded, amounts, strict=True))


def test_distribute_ties() -> None:
    assert distribute([D("33.335")] * 3, 2) == [D("33.34"), D("33.33"), D("33.33")]


# ------------------------------------------------------------------ renderers
def test_csv_json_markdown(allocated: Store) -> None:
    sb = showback(allocated, Settings())
    text = render(sb, "csv")
    assert text is not None
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == sb.columns
    assert sum(D(r["total"]) for r in parsed) == D("229.755") + D("247.333333333333")
    doc = json.loads(render(sb, "json") or "")
    assert sum(D(r["total"]) for r in doc if r["period"] == FEB) == D("247.333333333333")
    md = render(sb, "markdown") or ""
    assert "## 2026-02 (USD)" in md and "| payments |" in md and "247.33" in md


def test_xlsx_opens_and_sums(allocated: Store, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    sb = showback(allocated, Settings())
    path = tmp_path / "showback.xlsx"
    render(sb, "xlsx", path)
    ws = load_workbook(path)["showback"]
    header = [c.value for c in ws[1]]
    assert header == sb.columns
    col = header.index("total")
    total = sum(r[col] for r in ws.iter_rows(min_row=2, values_only=True))
    assert total == pytest.approx(float(D("229.755") + D("247.333333333333")), abs=1e-9)


def test_html_is_standalone(allocated: Store) -> None:
    html = render(showback(allocated, Settings()), "html") or ""
    assert html.startswith("<!DOCTYPE html>") and html.count("<svg") == 3
    assert "<script" not in html
    without_ns = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_ns and "https://" not in without_ns
    assert "payments" in html and "247.33" in html


# ------------------------------------------------------------------ CLI
runner = CliRunner()


def test_cli_showback_formats(allocated: Store, tmp_path: Path) -> None:
    if allocated.is_spark:
        pytest.skip("the CLI opens a DuckDB store file")
    path = str(allocated.path)
    allocated.close()
    res = runner.invoke(app, ["showback", "--store", path, "--month", FEB])
    assert res.exit_code == 0, res.output
    assert "payments" in res.output and "247.33" in res.output
    res = runner.invoke(app, ["showback", "--store", path, "--format", "csv", "--by",
                              "team,environment"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0].startswith("period,team,environment,currency,direct")
    html = tmp_path / "out" / "showback.html"
    res = runner.invoke(app, ["showback", "--store", path, "-f", "html", "-o", str(html)])
    assert res.exit_code == 0, res.output
    assert "<svg" in html.read_text()
    res = runner.invoke(app, ["showback", "--store", path, "-f", "xlsx"])
    assert res.exit_code == 2 and "--output" in res.output
    res = runner.invoke(app, ["showback", "--store", path, "--by", "squad"])
    assert res.exit_code == 2 and "unknown owner dimension" in res.output


def test_cli_chargeback_journal(allocated: Store, tmp_path: Path) -> None:
    if allocated.is_spark:
        pytest.skip("the CLI opens a DuckDB store file")
    path = str(allocated.path)
    allocated.close()
    journal = tmp_path / "journal.csv"
    res = runner.invoke(app, ["chargeback", "--store", path, "--output", str(journal)])
    assert res.exit_code == 0, res.output
    assert "__unallocated__" in res.output          # the non-billable remainder is shown
    rows = list(csv.DictReader(journal.open()))
    assert list(rows[0]) == ["owner", "cost_center", "amount", "currency", "period"]
    assert sum(D(r["amount"]) for r in rows if r["period"] == FEB) == D("245.33")
    assert sum(D(r["amount"]) for r in rows if r["period"] == JAN) == D("221.50")
    res = runner.invoke(app, ["showback", "--chargeback", "--store", path, "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {s["period"]: s["non_billable"] for s in doc["summary"]} == {
        JAN: "8.255", FEB: "2.00"}


@pytest.mark.spark
def test_spark_gives_the_same_answers(spark, allocated: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if allocated.is_spark:
        pytest.skip("this test compares a DuckDB store with Spark itself")
    from cloudledger.analyze.unit_economics import unit_costs
    from cloudledger.ingest.metrics import load_metrics

    on_spark = Store(spark=spark)
    make_allocated(on_spark, topology())
    metrics = tmp_path / "m.csv"
    metrics.write_text("date,metric,value,product\n2026-01-05,requests,1000,web\n"
                       "2026-02-05,requests,2000,web\n")
    for target in (allocated, on_spark):
        load_metrics(target, metrics)
        load_metrics(target, metrics)   # idempotent on both engines
    assert showback(on_spark, Settings()).rows == showback(allocated, Settings()).rows
    assert chargeback(on_spark, Settings()).entries == chargeback(allocated, Settings()).entries
    assert (unit_costs(on_spark, Settings(), per=1000, by="product").rows
            == unit_costs(allocated, Settings(), per=1000, by="product").rows)
