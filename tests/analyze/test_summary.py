"""Summary numbers equal independent DuckDB queries over the same store."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.analyze import summary as s
from cloudledger.demo import generate, load
from cloudledger.errors import InputError
from cloudledger.store import Store


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("summary")
    data = generate(30_000, 5, date(2026, 3, 1), out / "data")
    store = Store(out / "s.duckdb")
    load(store, data)
    yield store, out / "s.duckdb"
    store.close()


def raw(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.con.con.execute(sql).fetchall()


@pytest.mark.parametrize("metric", ["BilledCost", "EffectiveCost", "ListCost", "ContractedCost"])
def test_by_provider_and_month(loaded: Any, metric: str) -> None:
    store, _ = loaded
    got = {r["provider"]: r[metric] for r in s.by_dimension(store, "provider",
                                                             metric=metric).to_pylist()}
    want = dict(raw(store, f"SELECT coalesce(ServiceProviderName, ProviderName), "
                           f"sum({metric}) FROM focus GROUP BY 1"))
    assert got == want
    months = s.by_dimension(store, "month", metric=metric).to_pylist()
    want_m = raw(store, f"SELECT BillingPeriodStart::DATE, sum({metric}) FROM focus "
                        "GROUP BY 1 ORDER BY 1")
    assert [(r["month"], r[metric]) for r in months] == want_m
    assert abs(sum(r["share_pct"] for r in months) - 100) <= 0.005 * len(months)  # percent


def test_top_services_with_other(loaded: Any) -> None:
    store, _ = loaded
    rows = s.by_dimension(store, "service", top=5).to_pylist()
    want = raw(store, "SELECT ServiceName, sum(EffectiveCost) AS c FROM focus GROUP BY 1 "
                      "ORDER BY c DESC")
    assert [(r["service"], r["EffectiveCost"]) for r in rows[:5]] == want[:5]
    assert rows[5]["service"] == "(other)"
    assert rows[5]["EffectiveCost"] == sum(c for _, c in want[5:])


def test_tag_coverage(loaded: Any) -> None:
    store, _ = loaded
    r = s.tag_coverage(store).to_pylist()[0]
    tagged, tot = raw(store, """SELECT sum(EffectiveCost) FILTER (WHERE
        json_exists(Tags, '$.team') OR json_exists(Tags, '$.Team') OR
        json_exists(Tags, '$.owner') OR json_exists(Tags, '$.Owner')), sum(EffectiveCost)
        FROM focus""")[0]
    assert (r["tagged"], r["total"]) == (tagged, tot)
    assert 60 < r["coverage_pct"] < 85                                          # percent


def test_top_movers(loaded: Any) -> None:
    store, _ = loaded
    rows = s.top_movers(store, n=3).to_pylist()
    want = raw(store, """SELECT ServiceName,
        sum(EffectiveCost) FILTER (WHERE BillingPeriodStart = '2026-02-01') -
        coalesce(sum(EffectiveCost) FILTER (WHERE BillingPeriodStart = '2026-01-01'), 0) AS ch
        FROM focus WHERE BillingPeriodStart >= '2026-01-01' GROUP BY 1
        ORDER BY abs(ch) DESC LIMIT 3""")
    assert [(r["service"], r["change"]) for r in rows] == want
    assert rows[0]["month"] == date(2026, 2, 1)


def test_bad_names() -> None:
    with pytest.raises(InputError, match="did you mean 'EffectiveCost'"):
        s.check_metric("EfectiveCost")
    with pytest.raises(InputError, match="did you mean service"):
        s.check_dimension("services")


def test_cli_summary(loaded: Any, tmp_path: Path) -> None:
    import shutil

    from cloudledger.cli import app

    store, original = loaded
    store.raw("CHECKPOINT")
    path = tmp_path / "copy.duckdb"
    shutil.copy(original, path)
    runner = CliRunner()
    res = runner.invoke(app, ["summary", "--store", str(path), "--by", "provider",
                              "--metric", "BilledCost", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert {r["provider"] for r in rows} == {"AWS", "Microsoft", "Google Cloud"}
    res = runner.invoke(app, ["summary", "--store", str(path)])
    assert res.exit_code == 0 and "Top movers" in res.output
    res = runner.invoke(app, ["summary", "--store", str(path), "--metric", "Cost"])
    assert res.exit_code == 2


def test_html_report(loaded: Any, tmp_path: Path) -> None:
    from cloudledger.analyze.summary import report_data
    from cloudledger.render.html import spend_report

    store, _ = loaded
    html = spend_report(report_data(store), anomalies=[{"start": "2026-02-10", "end": "2026-02-10",
                                           "service": "BigQuery", "provider": "Google Cloud",
                                           "description": "test", "factor": 3.0}])
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert "Top movers" in html and "Team-tag coverage" in html


# ------------------------------------------------------------------ currencies
@pytest.fixture()
def two_currencies(store: Store, shared_data: Path) -> Store:
    """Real CUR files: koku's 2023-06 account bills in NOK (0.30), test_cur in USD."""
    from cloudledger.ingest import ingest

    cur = shared_data / "native" / "aws-cur"
    ingest(store, [cur / "koku__2023-06-01.csv", cur / "koku__test_cur.csv"])
    return store


def test_currencies_are_never_added(two_currencies: Store) -> None:
    store = two_currencies
    want = dict(raw(store, "SELECT BillingCurrency, sum(EffectiveCost) FROM focus GROUP BY 1"))
    assert set(want) == {"NOK", "USD"}
    ov = s.overview(store)
    assert ov.totals == want and ov.currencies == ["NOK", "USD"]     # largest first
    assert ov.total_text() == "0.30 NOK + 0.08 USD"
    for by in ("provider", "service", "month", "account"):
        rows = s.by_dimension(store, by).to_pylist()
        for currency, total in want.items():
            mine = [r for r in rows if r["currency"] == currency]
            assert sum(r["EffectiveCost"] for r in mine) == total, by
            assert abs(sum(r["share_pct"] for r in mine) - 100) <= 0.005 * len(mine), by
    cov = {r["currency"]: r for r in s.tag_coverage(store).to_pylist()}
    assert {c: r["total"] for c, r in cov.items()} == want
    # the latest month is NOK's; USD's 2018 data is not its "previous month"
    movers = s.top_movers(store).to_pylist()
    assert [(r["currency"], r["previous"]) for r in movers] == [("NOK", 0)]


def test_cli_summary_json_rows_carry_currency(two_currencies: Store) -> None:
    from cloudledger.cli import app

    path = str(two_currencies.path)
    two_currencies.close()
    runner = CliRunner()
    res = runner.invoke(app, ["summary", "--store", path, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for section, rows in doc.items():
        assert rows and all(r["currency"] in ("NOK", "USD") for r in rows), section
    res = runner.invoke(app, ["summary", "--store", path])
    assert res.exit_code == 0, res.output
    assert "0.30 NOK + 0.08 USD" in res.output and "NOK/USD" not in res.output
    for top in ("-5", "0"):
        res = runner.invoke(app, ["summary", "--store", path, "--top", top])
        assert res.exit_code == 2, res.output
        assert "--top" in res.output and "at least 1" in res.output
        assert "Traceback" not in res.output
