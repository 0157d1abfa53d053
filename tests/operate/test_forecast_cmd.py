"""`cloudledger forecast` on generated stores with known daily costs: a flat $100/day store,
a monthly fee spread over its days, --as-of, a commitment that expires mid-month."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.config import Settings
from cloudledger.operate.forecast import (
    backtest_costs,
    daily_costs,
    forecast_costs,
    money,
    run_forecast,
)
from cloudledger.store import Store
from tests.allocate.conftest import make_focus

START = date(2026, 2, 1)


def drow(day: date, cost: str, *, service: str = "Compute", end: datetime | None = None,
         start: datetime | None = None, category: str = "Usage", currency: str = "USD",
         frequency: str = "Usage-Based", effective: str | None = None,
         contracted: str | None = None, billed: str | None = None,
         **extra: Any) -> dict[str, Any]:
    """One focus row charged on ``day`` (or from ``start`` to ``end``)."""
    s = start or datetime(day.year, day.month, day.day)
    e = end or s + timedelta(days=1)
    month = datetime(s.year, s.month, 1)
    money_ = Decimal(cost)
    row: dict[str, Any] = {
        "BillingPeriodStart": month,
        "BillingPeriodEnd": datetime(month.year + month.month // 12, month.month % 12 + 1, 1),
        "ChargePeriodStart": s, "ChargePeriodEnd": e, "BillingAccountId": "billing-1",
        "SubAccountId": "acct-1", "BillingCurrency": currency, "ChargeCategory": category,
        "ChargeFrequency": frequency, "ProviderName": "TestCloud", "ServiceName": service,
        "ServiceCategory": "Compute", "InvoiceIssuerName": "TestCloud",
        "PublisherName": "TestCloud",
        "BilledCost": Decimal(billed) if billed is not None else money_,
        "EffectiveCost": Decimal(effective) if effective is not None else money_,
        "ListCost": money_,
        "ContractedCost": Decimal(contracted) if contracted is not None else money_,
        "x_SourceFormat": "test", "x_IngestId": 1}
    row.update(extra)
    return row


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def flat_rows(first: date = START, last: date = date(2026, 6, 30), cost: str = "100",
              **kw: Any) -> list[dict[str, Any]]:
    return [drow(d, cost, **kw) for d in days(first, last)]


@pytest.fixture()
def flat(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "flat.duckdb")
    make_focus(st, flat_rows())
    yield st
    st.close()


def _one(rows: list[dict[str, Any]], series: str = "total") -> dict[str, Any]:
    found = [r for r in rows if r["series"] == series]
    assert len(found) == 1, rows
    return found[0]


def test_flat_100_a_day_forecasts_3000_for_june(flat: Store) -> None:
    rows = forecast_costs(flat, Settings(), as_of=date(2026, 6, 1))
    r = _one(rows)
    assert r["month"] == "2026-06" and r["currency"] == "USD"
    assert r["actual_to_date"] == Decimal("0.00")
    assert abs(r["month_total"] - Decimal(3000)) <= Decimal(1)
    assert r["lo95"] <= r["lo80"] <= r["month_total"] <= r["hi80"] <= r["hi95"]
    assert r["hi95"] - r["lo95"] < Decimal(300)        # flat history: a narrow interval
    for k in ("actual_to_date", "forecast", "month_total", "lo80", "hi80", "lo95", "hi95"):
        assert isinstance(r[k], Decimal) and r[k].as_tuple().exponent == -2


def test_mid_month_actual_is_exact_and_total_stays(flat: Store) -> None:
    r = _one(forecast_costs(flat, Settings(), as_of=date(2026, 6, 11)))
    assert r["actual_to_date"] == Decimal("1000.00")
    assert r["days_actual"] == 10 and r["days_forecast"] == 20
    assert abs(r["forecast"] - Decimal(2000)) <= Decimal(1)
    assert r["month_total"] == r["actual_to_date"] + r["forecast"]


def test_default_as_of_is_the_day_after_the_last_usage_day(flat: Store) -> None:
    run = run_forecast(flat, Settings())
    assert run.as_of == date(2026, 7, 1) and run.last_day == date(2026, 6, 30)
    assert _one(run.rows)["month"] == "2026-07"


def test_monthly_fee_is_spread_over_its_days(tmp_path: Path) -> None:
    st = Store(tmp_path / "fee.duckdb")
    rows = flat_rows(date(2026, 6, 1), date(2026, 6, 30))
    rows.append(drow(date(2026, 6, 1), "3000", category="Tax", frequency="One-Time",
                     end=datetime(2026, 7, 1)))
    # 36 hours from noon on the 10th: a third on the 10th, two thirds on the 11th
    rows.append(drow(date(2026, 6, 10), "90", start=datetime(2026, 6, 10, 12),
                     end=datetime(2026, 6, 12)))
    make_focus(st, rows)
    df = daily_costs(st, "focus", [], "EffectiveCost", date(2026, 7, 1))
    y = dict(zip(df["ds"].dt.date, df["y"], strict=True))
    assert len(y) == 30
    assert y[date(2026, 6, 1)] == pytest.approx(200.0)
    assert y[date(2026, 6, 10)] == pytest.approx(230.0)
    assert y[date(2026, 6, 11)] == pytest.approx(260.0)
    assert y[date(2026, 6, 30)] == pytest.approx(200.0)
    assert sum(y.values()) == pytest.approx(30 * 200 + 90)
    # the as-of cuts a row's charge period: 10 days of the fee before June 11
    df = daily_costs(st, "focus", [], "EffectiveCost", date(2026, 6, 11))
    assert df["y"].sum() == pytest.approx(10 * 200 + 30)
    st.close()


def test_as_of_ignores_later_data(tmp_path: Path) -> None:
    st = Store(tmp_path / "later.duckdb")
    make_focus(st, flat_rows(START, date(2026, 6, 10)) +
               flat_rows(date(2026, 6, 11), date(2026, 6, 30), cost="1000"))
    r = _one(forecast_costs(st, Settings(), as_of=date(2026, 6, 11)))
    assert r["actual_to_date"] == Decimal("1000.00")
    assert abs(r["month_total"] - Decimal(3000)) <= Decimal(1)
    st.close()


def test_commitment_expiring_mid_month_raises_the_forecast(tmp_path: Path) -> None:
    st = Store(tmp_path / "ri.duckdb")
    ri: dict[str, Any] = {"CommitmentDiscountId": "ri-1",
                          "CommitmentDiscountType": "Reserved Instance",
                          "CommitmentDiscountCategory": "Usage"}
    rows = flat_rows(cost="40", service="Storage")
    rows += flat_rows(cost="100", effective="60", billed="0", contracted="100",
                      CommitmentDiscountStatus="Used", PricingCategory="Committed", **ri)
    # an upfront purchase whose charge period is its term: ends 2026-06-15 00:00
    rows.append(drow(date(2025, 6, 15), "0", category="Purchase", frequency="One-Time",
                     end=datetime(2026, 6, 15), billed="10000", **ri))
    make_focus(st, rows)
    run = run_forecast(st, Settings(), as_of=date(2026, 6, 1))
    r = _one(run.rows)
    # June 15..30: 16 days at on-demand 100 instead of 60
    assert r["known_changes"] == Decimal("640.00")
    assert abs(r["month_total"] - Decimal(3640)) <= Decimal(2)
    assert [(s["commitment_id"], s["from"], round(s["per_day"], 6)) for s in run.steps] == \
        [("ri-1", date(2026, 6, 15), 40.0)]
    # once it has expired (as-of after the end) nothing is added
    later = run_forecast(st, Settings(), as_of=date(2026, 6, 16))
    assert later.steps == []
    st.close()


def test_by_dimension_forecasts_each_value_and_the_total(tmp_path: Path) -> None:
    st = Store(tmp_path / "by.duckdb")
    make_focus(st, flat_rows(date(2026, 3, 1), cost="70", service="Compute") +
               flat_rows(date(2026, 3, 1), cost="30", service="Storage"))
    rows = forecast_costs(st, Settings(), by=["ServiceName"], as_of=date(2026, 6, 1))
    assert [(r["series"], r["ServiceName"]) for r in rows] == [
        ("total", None), ("ServiceName=Compute", "Compute"),
        ("ServiceName=Storage", "Storage")]
    totals = {r["series"]: r["month_total"] for r in rows}
    assert abs(totals["total"] - Decimal(3000)) <= Decimal(1)
    assert abs(totals["ServiceName=Compute"] - Decimal(2100)) <= Decimal(1)
    assert abs(totals["ServiceName=Storage"] - Decimal(900)) <= Decimal(1)
    st.close()


def test_quarter_row_includes_the_quarters_earlier_months(flat: Store) -> None:
    rows = forecast_costs(flat, Settings(), as_of=date(2026, 6, 1), horizon="quarter-end")
    q = [r for r in rows if r["kind"] == "quarter"][0]
    assert q["start"] == date(2026, 4, 1)
    assert q["actual_to_date"] == Decimal("6100.00")       # April 30 + May 31 days
    assert abs(q["total"] - Decimal(9100)) <= Decimal(1)


def test_backtest_on_a_flat_store(flat: Store) -> None:
    bt = backtest_costs(flat, Settings(), months=2)
    assert {r["forecast_day"] for r in bt.summary} == {7, 15}
    for r in bt.summary:
        assert r["months"] == 2 and r["mape_pct"] is not None and r["mape_pct"] < 1
    assert {r["month"] for r in bt.months} == {"2026-05", "2026-06"}


def test_money_rounds_to_cents() -> None:
    assert money(2999.999) == Decimal("3000.00")
    assert money(0.125) == Decimal("0.12")
    assert money(float("nan")) is None
    assert str(money(5)) == "5.00"


runner = CliRunner()


def test_cli_json_money_is_exact_strings(flat: Store, tmp_path: Path) -> None:
    path = str(flat.path)
    flat.close()
    res = runner.invoke(app, ["forecast", "--store", path, "--as-of", "2026-06-11",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    r = data[0]
    assert r["month"] == "2026-06" and r["actual_to_date"] == "1000.00"
    for k in ("forecast", "month_total", "lo80", "hi80", "lo95", "hi95"):
        assert isinstance(r[k], str) and Decimal(r[k]).as_tuple().exponent == -2
    res = runner.invoke(app, ["forecast", "--store", path, "--as-of", "2026-06-11"])
    assert res.exit_code == 0 and "1,000.00" in res.stdout and "|" in res.stdout


def test_cli_unknown_dimension_and_bad_date_exit_2(flat: Store) -> None:
    path = str(flat.path)
    flat.close()
    res = runner.invoke(app, ["forecast", "--store", path, "--by", "ServiceNme"])
    assert res.exit_code == 2
    assert "ServiceName" in res.stderr and "--by" in res.stderr
    res = runner.invoke(app, ["forecast", "--store", path, "--as-of", "June"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.stderr


def test_cli_sparkline() -> None:
    from cloudledger.cli.forecast import sparkline

    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert len(sparkline(list(range(100)), width=10)) == 10
