"""The demo generator: realistic, deterministic, exact, and loadable through ingest."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cloudledger.demo import generate, load
from cloudledger.store import Store

END = date(2026, 7, 1)
ROWS = 40_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("demo")
    data = generate(ROWS, 11, END, out / "data")
    store = Store(out / "demo.duckdb")
    reports = load(store, data)
    yield data, store, reports
    store.close()


def one(store: Store, sql: str) -> Any:
    return store.sql(sql).to_pylist()[0]


def total(paths: list[Path]) -> tuple[int, Any]:
    t = pq.read_table(paths, columns=["BilledCost"])
    return t.num_rows, sum(t.column("BilledCost").to_pylist())


def test_same_seed_same_data_other_seed_differs(demo: Any, tmp_path: Path) -> None:
    data, _, _ = demo
    again = generate(ROWS, 11, END, tmp_path / "again")
    assert total(again.paths) == total(data.paths)
    assert pq.read_table(again.paths[0]).equals(pq.read_table(data.paths[0]))
    assert again.anomalies == data.anomalies
    assert (tmp_path / "again/metrics/business_metrics.csv").read_bytes() == \
        data.metrics.read_bytes()
    other = generate(ROWS, 12, END, tmp_path / "other")
    assert total(other.paths) != total(data.paths)


def test_loads_reconciled(demo: Any) -> None:
    data, store, reports = demo
    recon = [r for rep in reports for r in rep.reconciliation]
    assert recon and all(r.ok for r in recon)
    assert sum(rep.rows for rep in reports) == data.rows
    assert abs(data.rows - ROWS) / ROWS < 0.15
    assert all(r["difference"] == 0 for r in store.reconcile().to_pylist())


def test_shape(demo: Any) -> None:
    _, store, _ = demo
    r = one(store, """SELECT count(DISTINCT BillingPeriodStart) AS months,
        count(DISTINCT ServiceName) AS services, count(DISTINCT ProviderName) AS providers,
        min(ChargePeriodStart) AS first, max(ChargePeriodEnd) AS last,
        count(DISTINCT ServiceCategory) AS categories FROM focus""")
    assert r["months"] >= 13 and r["services"] >= 30 and r["providers"] == 3
    assert r["last"].date() == END and r["first"].date() == date(2025, 6, 1)
    teams = store.sql("""SELECT DISTINCT lower(trim(coalesce(Tags->>'team', Tags->>'Team',
        Tags->>'owner', Tags->>'Owner'))) AS team FROM focus WHERE Tags IS NOT NULL""")
    names = {t for t in teams.column("team").to_pylist() if t}
    assert len(names) >= 10
    keys = set(store.sql("SELECT DISTINCT unnest(json_keys(Tags)) AS k FROM focus "
                         "WHERE Tags IS NOT NULL").column("k").to_pylist())
    assert {"Team", "team", "owner"} <= keys
    envs = set(store.sql("SELECT DISTINCT coalesce(Tags->>'env', Tags->>'environment') AS e "
                         "FROM focus").column("e").to_pylist())
    assert {"prod", "production", "prd"} <= envs
    cats = set(store.sql("SELECT DISTINCT ChargeCategory AS c FROM focus").column(
        "c").to_pylist())
    assert cats == {"Usage", "Purchase", "Tax", "Credit"}
    assert one(store, "SELECT count(*) AS n FROM focus WHERE PublisherName <> ProviderName"
               )["n"] > 0
    assert one(store, "SELECT count(DISTINCT AllocatedResourceName) AS n FROM focus")["n"] >= 8
    for col in ("BillingPeriodStart", "ChargePeriodStart"):
        assert one(store, f"SELECT count(*) AS n FROM focus WHERE {col} IS NULL")["n"] == 0


def test_untagged_share(demo: Any) -> None:
    _, store, _ = demo
    r = one(store, """SELECT sum(EffectiveCost) FILTER (WHERE NOT coalesce(regexp_matches(
        lower(Tags), '"\\s*(team|owner)\\s*"\\s*:'), false)) / sum(EffectiveCost) AS share
        FROM focus""")
    assert 0.17 <= r["share"] <= 0.35


def test_commitments_invariant_and_cost_order(demo: Any) -> None:
    _, store, _ = demo
    rows = store.sql("""SELECT CommitmentDiscountId,
        sum(BilledCost) FILTER (WHERE ChargeCategory = 'Purchase') AS purchased,
        sum(EffectiveCost) FILTER (WHERE ChargeCategory = 'Usage') AS used_unused,
        sum(EffectiveCost) FILTER (WHERE ChargeCategory = 'Purchase') AS purchase_effective,
        count(*) FILTER (WHERE CommitmentDiscountStatus = 'Unused') AS unused_rows,
        count(*) FILTER (WHERE CommitmentDiscountStatus = 'Used') AS used_rows
        FROM focus WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1""").to_pylist()
    assert len(rows) == 5
    for r in rows:
        assert r["purchased"] == r["used_unused"] > 0
        assert r["purchase_effective"] == 0 and r["unused_rows"] > 0 and r["used_rows"] > 0
    bad = one(store, """SELECT count(*) FILTER (WHERE ListCost < ContractedCost OR
        ContractedCost < EffectiveCost) AS order_bad,
        count(*) FILTER (WHERE ListUnitPrice::DECIMAL(38, 8) * PricingQuantity::DECIMAL(38, 4)
                         <> ListCost) AS list_bad,
        count(*) FILTER (WHERE PricingCategory = 'Committed' AND BilledCost <> 0) AS billed_bad,
        count(*) FILTER (WHERE ChargePeriodStart < BillingPeriodStart OR
                         ChargePeriodEnd > BillingPeriodEnd) AS period_bad
        FROM focus WHERE ChargeCategory = 'Usage'""")
    assert bad == {"order_bad": 0, "list_bad": 0, "billed_bad": 0, "period_bad": 0}


def test_anomalies_at_recorded_dates(demo: Any) -> None:
    data, store, _ = demo
    assert len(data.anomalies) >= 3
    recorded = json.loads((data.focus_dir.parent / "anomalies.json").read_text())
    assert recorded == data.anomalies
    for a in data.anomalies:
        r = one(store, f"""WITH d AS (SELECT ChargePeriodStart::DATE AS day,
            sum(EffectiveCost) AS cost FROM focus WHERE ServiceName = '{a["service"]}'
            AND ChargeCategory = 'Usage' GROUP BY 1)
            SELECT (SELECT cost FROM d WHERE day = DATE '{a["start"]}') AS hit,
                   median(cost) AS typical FROM d""")
        assert r["hit"] > Decimal("2.5") * r["typical"], a


def test_business_metrics(demo: Any) -> None:
    data, store, _ = demo
    m = store.sql(f"SELECT metric, count(DISTINCT product) AS products, count(*) AS n, "
                  f"min(value) AS lo FROM read_csv('{data.metrics}') GROUP BY 1 ORDER BY 1"
                  ).to_pylist()
    assert [r["metric"] for r in m] == ["active_users", "requests"]
    assert all(r["products"] >= 5 and r["lo"] > 0 for r in m)


def test_cli_demo(tmp_path: Path) -> None:
    from cloudledger.cli import app

    result = CliRunner().invoke(app, [
        "demo", "--rows", "30000", "--store", str(tmp_path / "s.duckdb"), "--out",
        str(tmp_path / "data"), "--report", str(tmp_path / "r.html"), "--end", "2026-07",
        "--top", "5"])
    assert result.exit_code == 0, result.output
    assert "By provider" in result.output and "report:" in result.output
    html = (tmp_path / "r.html").read_text()
    assert html.count("<svg") >= 3 and "BigQuery" in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    # Operate and Optimize run too: the injected anomalies are found, the month-end band
    # is drawn, identified savings are listed by category
    found = re.search(r"The demo injected (\d+) anomalies; (\d+) found", html)
    assert found and found.group(1) == found.group(2) != "0", found
    assert "Month-end forecast" in html and "80%:" in html
    assert "Identified savings by category" in html and "Anomalies (newest first)" in \
        result.output


def test_demo_files_are_conformant_focus(demo: Any, tmp_path: Path) -> None:
    """The demo's own files pass every cloudledger FOCUS rule, as CSV and as stored."""
    from cloudledger.quality.validate import validate_file, validate_store

    data, store, _ = demo
    csv = generate(5_000, 11, END, tmp_path, formats=("csv",), single_file=True).paths[0]
    for report in (validate_file(csv), validate_store(store)):
        failed = [f.rule for f in report.findings if f.status == "fail"]
        assert failed == [], failed
