"""A third-party package adds a source through the ``cloudledger.sources`` entry point
group: the tiny example package in tests/plugins is found, detected and loaded."""

from __future__ import annotations

import importlib.metadata
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.ingest import registry

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


@pytest.fixture()
def plugin_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    importlib.invalidate_caches()
    yield
    registry.SOURCES.pop("tinycloud", None)


def test_entry_point_source_is_listed_detected_and_loaded(plugin_on_path: None,
                                                          tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["formats", "-f", "csv"])
    assert "tinycloud" in listed.output
    bill = tmp_path / "tiny.csv"
    bill.write_text("account,month,service,amount\nt-1,2026-05,Buckets,1.10\n"
                    "t-1,2026-05,Compute,2.205\n")
    db = tmp_path / "s.duckdb"
    r = runner.invoke(app, ["ingest", str(bill), "--store", str(db), "-f", "json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sql", "SELECT sum(BilledCost) AS b, any_value(x_SourceFormat) AS s "
                            "FROM focus", "--store", str(db), "-f", "csv"])
    assert r.exit_code == 0, r.output
    b, s = r.output.strip().splitlines()[1].split(",")
    assert Decimal(b) == Decimal("3.305") and s == "tinycloud"


def test_without_the_package_the_source_is_unknown() -> None:
    registry.load_all()
    assert "tinycloud" not in registry.SOURCES
