"""Budgets on a constructed store ($100 a day, USD): status and threshold crossings, burn
rate, scopes that match nothing, unknown dimensions (exit 2 with the config line), currency
mismatch, alerts, exact JSON money."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.config import load_settings
from cloudledger.errors import InputError
from cloudledger.operate.budgets import BudgetStatus, evaluate_budgets, period_of, to_alerts
from cloudledger.store import Store
from tests.allocate.conftest import make_focus
from tests.operate.test_forecast_cmd import flat_rows

CONFIG = """\
budgets:
  - name: tight            # 1500 spent of 1000 by the 15th: over
    amount: 1000
  - name: watch            # 1500 of 2000 (75%), forecast 3000 (150%): warning
    amount: 2000
    thresholds: [{percent: 50, on: actual}, {percent: 100, on: forecast}]
  - name: roomy            # 1500 of 10000, forecast 3000: ok
    amount: 10000
    scope: {ServiceName: [Compute, Storage]}
  - name: nothing
    amount: 100
    scope: {ServiceName: Nope}
  - name: euros
    amount: 5000
    currency: EUR
  - name: quarterly
    amount: 9000
    period: quarter
  - name: yearly
    amount: 36500
    period: year
"""

AS_OF = date(2026, 6, 16)      # 15 days of June in the data


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "b.duckdb")
    make_focus(st, flat_rows(date(2026, 1, 1), date(2026, 6, 30)))
    yield st
    st.close()


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    path = tmp_path / "cloudledger.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture()
def statuses(store: Store, config: Path) -> dict[str, BudgetStatus]:
    return {s.name: s for s in evaluate_budgets(store, load_settings(config), as_of=AS_OF)}


def test_status_and_thresholds(statuses: dict[str, BudgetStatus]) -> None:
    tight, watch, roomy = statuses["tight"], statuses["watch"], statuses["roomy"]
    for s in (tight, watch, roomy):
        assert s.period == "2026-06" and s.start == date(2026, 6, 1)
        assert s.days_elapsed == 15 and s.days_in_period == 30
        assert s.actual_to_date == Decimal("1500.00")
        assert s.burn_per_day == Decimal("100.00")
        assert abs(s.forecast - Decimal(3000)) <= Decimal(1)   # type: ignore[operator]
        assert s.forecast_lo80 <= s.forecast <= s.forecast_hi80   # type: ignore[operator]
    assert tight.status == "over" and tight.used_pct == 150.0
    assert sorted(tight.crossed) == [(80.0, "actual"), (100.0, "forecast")]
    assert watch.status == "warning" and watch.used_pct == 75.0
    assert sorted(watch.crossed) == [(50.0, "actual"), (100.0, "forecast")]
    assert roomy.status == "ok" and roomy.crossed == []
    assert roomy.allowance_per_day == Decimal("333.33") and roomy.burn_pct == 30.0


def test_alert_keys(statuses: dict[str, BudgetStatus]) -> None:
    alerts = to_alerts([statuses["tight"], statuses["watch"], statuses["roomy"]])
    keys = sorted(a.key for a in alerts)
    assert keys == ["budget:tight:2026-06:100:forecast", "budget:tight:2026-06:80:actual",
                    "budget:watch:2026-06:100:forecast", "budget:watch:2026-06:50:actual"]
    by_key = {a.key: a for a in alerts}
    assert by_key["budget:tight:2026-06:80:actual"].severity == "critical"   # over
    assert by_key["budget:watch:2026-06:50:actual"].severity == "warning"
    assert by_key["budget:watch:2026-06:50:actual"].fields["Actual to date"] == \
        Decimal("1500.00")


def test_scope_that_matches_nothing_is_reported(statuses: dict[str, BudgetStatus]) -> None:
    s = statuses["nothing"]
    assert s.status == "n/a" and s.actual_to_date is None and s.forecast is None
    assert any("scope matches no cost" in n for n in s.notes)
    assert to_alerts([s]) == []


def test_currency_mismatch_is_said_never_converted(statuses: dict[str, BudgetStatus]) -> None:
    s = statuses["euros"]
    assert s.status == "n/a" and s.actual_to_date is None
    text = " ".join(s.notes)
    assert "never converted" in text and "USD" in text and "1,500.00 USD" in text


def test_quarter_and_year_periods(statuses: dict[str, BudgetStatus]) -> None:
    q, y = statuses["quarterly"], statuses["yearly"]
    assert (q.period, q.start, q.end) == ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))
    assert q.actual_to_date == Decimal("7600.00")          # April 30 + May 31 + 15 days
    assert abs(q.forecast - Decimal(9100)) <= Decimal(2)    # type: ignore[operator]
    assert q.status == "warning"                            # forecast 101% of 9000
    assert (y.period, y.start, y.end) == ("2026", date(2026, 1, 1), date(2026, 12, 31))
    assert y.actual_to_date == Decimal("16600.00")         # Jan 1 .. Jun 15: 166 days
    assert abs(y.forecast - Decimal(36500)) <= Decimal(10)  # type: ignore[operator]


def test_period_of() -> None:
    assert period_of("month", date(2026, 12, 31)) == ("2026-12", date(2026, 12, 1),
                                                      date(2026, 12, 31))
    assert period_of("quarter", date(2026, 11, 2)) == ("2026-Q4", date(2026, 10, 1),
                                                       date(2026, 12, 31))
    assert period_of("year", date(2026, 2, 2))[1:] == (date(2026, 1, 1), date(2026, 12, 31))


def test_unknown_dimension_names_the_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("budgets:\n  - name: typo\n    amount: 10\n    scope:\n"
                    "      ServiceNme: Compute\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        evaluate_budgets(store, load_settings(path), as_of=AS_OF)
    assert e.value.where == f"{path}, line 5"
    assert "ServiceName" in (e.value.hint or "")


def test_duplicate_budget_names_are_an_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("budgets:\n  - {name: a, amount: 1}\n  - {name: a, amount: 2}\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="two budgets") as e:
        evaluate_budgets(store, load_settings(path), as_of=AS_OF)
    assert e.value.where == f"{path}, line 3"


def test_yaml_on_key_is_read(tmp_path: Path) -> None:
    path = tmp_path / "on.yaml"
    path.write_text("budgets:\n  - name: b\n    amount: 1\n    thresholds:\n"
                    "      - {percent: 90, on: forecast}\n", encoding="utf-8")
    assert load_settings(path).budgets[0].thresholds[0].on == "forecast"


runner = CliRunner()


def test_cli_json_and_exit_codes(store: Store, config: Path, tmp_path: Path) -> None:
    path = str(store.path)
    store.close()
    res = runner.invoke(app, ["budgets", "--store", path, "--config", str(config),
                              "--as-of", "2026-06-16", "--budget", "watch",
                              "--format", "json"])
    assert res.exit_code == 0, res.output
    [row] = json.loads(res.stdout)
    assert row["budget"] == "watch" and row["status"] == "warning"
    assert row["amount"] == "2000.00" and row["actual_to_date"] == "1500.00"
    assert row["burn_per_day"] == "100.00" and row["allowance_per_day"] == "66.67"
    assert row["used_pct"] == 75.0 and row["crossed_actual"] == [50]
    assert Decimal(row["forecast"]).as_tuple().exponent == -2
    res = runner.invoke(app, ["budgets", "--store", path, "--config", str(config),
                              "--as-of", "2026-06-16"])
    assert res.exit_code == 0, res.output
    assert "scope matches no cost" in res.stdout and "over" in res.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("budgets:\n  - name: typo\n    amount: 10\n    scope: {ServiceNme: x}\n",
                   encoding="utf-8")
    res = runner.invoke(app, ["budgets", "--store", path, "--config", str(bad)])
    assert res.exit_code == 2
    assert "line 4" in res.stderr and "ServiceName" in res.stderr
    res = runner.invoke(app, ["budgets", "--store", path, "--config", str(config),
                              "--budget", "wach"])
    assert res.exit_code == 2 and "watch" in res.stderr
