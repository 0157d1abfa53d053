"""Unit costs on known data: cost / (usage / per) by product, team, month and day; the
cost-to-usage elasticity recovered from generated series with a known slope.

Known table (USD EffectiveCost, requests per product):

    month    product   cost      requests    per 1k   team
    2026-01  checkout  120.00    480,000     0.25     payments
    2026-02  checkout  150.00    500,000     0.30     payments
    2026-01  search     30.00    100,000     0.30     search
    2026-02  search     30.00    150,000     0.20     search
    2026-02  ml          9.99    (none)      -        search     -> noted, no unit cost
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cloudledger.analyze.unit_economics import elasticity, unit_costs
from cloudledger.cli import app
from cloudledger.config import MetricSource, Settings
from cloudledger.errors import InputError
from cloudledger.ingest.metrics import load_metrics
from cloudledger.store import Store
from tests.allocated_data import make_allocated, row

runner = CliRunner()


def _metrics(tmp_path: Path, records: list[dict], name: str = "m.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(records).to_csv(path, index=False)
    return path


@pytest.fixture()
def known(store: Store, tmp_path: Path) -> Store:
    make_allocated(store, [
        row("2026-01", "100", team="payments", product="checkout", day=3),
        row("2026-01", "20", team="payments", product="checkout", day=20),
        row("2026-02", "150", team="payments", product="checkout", day=1),
        row("2026-01", "30", team="search", product="search", day=5),
        row("2026-02", "30", team="search", product="search", day=5),
        row("2026-02", "9.99", team="search", product="ml", day=5),
    ])
    records = [
        {"date": "2026-01-03", "metric": "requests", "value": 300_000, "product": "checkout",
         "owner": "payments"},
        {"date": "2026-01-20", "metric": "requests", "value": 180_000, "product": "checkout",
         "owner": "payments"},
        {"date": "2026-02-01", "metric": "requests", "value": 500_000, "product": "checkout",
         "owner": "payments"},
        {"date": "2026-01-05", "metric": "requests", "value": 100_000, "product": "search",
         "owner": "search"},
        {"date": "2026-02-05", "metric": "requests", "value": 150_000, "product": "search",
         "owner": "search"},
        {"date": "2026-01-01", "metric": "active_users", "value": 1000},
        {"date": "2026-02-01", "metric": "active_users", "value": 1250},
    ]
    load_metrics(store, _metrics(tmp_path, records))
    return store


def test_cost_per_1k_requests_by_product_and_month(known: Store) -> None:
    uc = unit_costs(known, Settings(), metric="requests", per=1000, by="product")
    got = {(r["period"], r["product"]): (r["cost"], r["usage"], r["unit_cost"])
           for r in uc.rows}
    assert got[("2026-01", "checkout")] == (120, 480_000, 0.25)
    assert got[("2026-02", "checkout")] == (150, 500_000, 0.3)
    assert got[("2026-01", "search")] == (30, 100_000, 0.3)
    assert got[("2026-02", "search")] == (30, 150_000, 0.2)
    assert got[("2026-02", "ml")] == (Decimal("9.99"), None, None)
    for r in uc.rows:
        if r["usage"]:
            assert r["unit_cost"] == pytest.approx(float(r["cost"]) / (r["usage"] / 1000),
                                                   rel=1e-12)
    summary = {s["product"]: s for s in uc.summary}
    assert summary["checkout"]["unit_cost"] == pytest.approx(270 / 980)   # per 1k, overall
    assert summary["checkout"]["change_pct"] == 20.0                      # 0.25 -> 0.30
    assert summary["search"]["change_pct"] == pytest.approx(-33.33)
    assert summary["search"]["elasticity"] is None                        # 2 points only
    assert "ml" not in summary and "ml" in uc.warnings[0]
    assert uc.unit_label == "1k requests"


def test_by_team_uses_the_owner_column(known: Store) -> None:
    uc = unit_costs(known, Settings(), metric="requests", per=1000, by="team")
    got = {(r["period"], r["team"]): r["unit_cost"] for r in uc.rows}
    assert got[("2026-01", "payments")] == 0.25
    # search's cost includes ml's 9.99 in February: (30 + 9.99) / 150
    assert got[("2026-02", "search")] == pytest.approx(39.99 / 150)


def test_daily_grain(known: Store) -> None:
    uc = unit_costs(known, Settings(), metric="requests", per=1000, by="product",
                    grain="day")
    got = {(r["period"], r["product"]): r["unit_cost"] for r in uc.rows}
    assert got[("2026-01-03", "checkout")] == pytest.approx(100 / 300)
    assert got[("2026-01-20", "checkout")] == pytest.approx(20 / 180)


def test_total_uses_company_wide_rows(known: Store) -> None:
    uc = unit_costs(known, Settings(), metric="active_users")
    got = {r["period"]: r["unit_cost"] for r in uc.rows}
    assert got == {"2026-01": 0.15, "2026-02": pytest.approx(189.99 / 1250)}
    # without company-wide rows, the total is the sum over products
    total = unit_costs(known, Settings(), metric="requests", per=1000)
    assert {r["period"]: r["usage"] for r in total.rows} == {"2026-01": 580_000,
                                                              "2026-02": 650_000}


def test_metric_choice_and_errors(known: Store, store_factory: Path) -> None:
    settings = Settings(metrics=[MetricSource(name="requests", file="x.csv")])
    assert unit_costs(known, settings).metric == "requests"
    with pytest.raises(InputError, match="which metric"):
        unit_costs(known, Settings())
    with pytest.raises(InputError, match="did you mean 'requests'"):
        unit_costs(known, Settings(), metric="request")
    with pytest.raises(InputError, match="no rows with a product"):
        unit_costs(known, Settings(), metric="active_users", by="product")
    with pytest.raises(InputError, match="positive"):
        unit_costs(known, Settings(), metric="requests", per=0)
    with pytest.raises(InputError, match="did you mean 'team'"):
        unit_costs(known, Settings(), metric="requests", by="teams")
    empty = Store(store_factory)
    make_allocated(empty, [row("2026-01", "1")])
    with pytest.raises(InputError, match="metrics load"):
        unit_costs(empty, Settings())
    empty.close()


@pytest.fixture()
def store_factory(tmp_path: Path) -> Path:
    return tmp_path / "other.duckdb"


@pytest.mark.parametrize("slope", [0.6, 1.0, 1.35])
def test_elasticity_recovers_a_known_slope(slope: float) -> None:
    rng = np.random.default_rng(7)
    usage = 1e5 * np.exp(np.linspace(0, 2, 24))
    exact = 3.0 * usage ** slope
    e, r2 = elasticity(exact.tolist(), usage.tolist())
    assert e == pytest.approx(slope, abs=1e-9) and r2 == pytest.approx(1.0)
    noisy = exact * np.exp(rng.normal(0, 0.02, len(usage)))
    e, r2 = elasticity(noisy.tolist(), usage.tolist())
    assert e == pytest.approx(slope, abs=0.05) and r2 is not None and r2 > 0.95


def test_elasticity_end_to_end(store: Store, tmp_path: Path) -> None:
    """12 months of generated cost = 2 * usage^0.7 through the engine and the summary."""
    usage = [1e6 * 1.15 ** i for i in range(12)]
    make_allocated(store, [row(f"2025-{i + 1:02d}", f"{2 * u ** 0.7:.6f}", product="api",
                               day=10) for i, u in enumerate(usage)])
    load_metrics(store, _metrics(tmp_path, [
        {"date": f"2025-{i + 1:02d}-10", "metric": "requests", "value": u, "product": "api"}
        for i, u in enumerate(usage)]))
    s = unit_costs(store, Settings(), per=1000, by="product").summary[0]
    assert s["elasticity"] == pytest.approx(0.7, abs=1e-4)
    # unit cost falls by 1.15^(0.7 - 1) - 1 per month
    assert s["trend_pct"] == pytest.approx((1.15 ** -0.3 - 1) * 100, abs=0.01)


def test_cli_unit_costs(known: Store, tmp_path: Path) -> None:
    db = str(known.path)
    known.close()
    chart = tmp_path / "uc.html"
    res = runner.invoke(app, ["unit-costs", "--store", db, "--metric", "requests", "--per",
                              "1000", "--by", "product", "--chart", str(chart)])
    assert res.exit_code == 0, res.output
    assert "checkout" in res.output and "elasticity" in res.output
    assert "ml" in res.output                         # the cost without requests is noted
    html = chart.read_text()
    assert html.count("<svg") == 6 and "<script" not in html   # 3 charts x 2 products
    res = runner.invoke(app, ["unit-costs", "--store", db, "--metric", "requests", "--per",
                              "1000", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert [r["usage"] for r in json.loads(res.output)] == [580_000, 650_000]
    res = runner.invoke(app, ["unit-costs", "--store", db, "--metric", "requets"])
    assert res.exit_code == 2 and "did you mean 'requests'" in res.output
