"""The savings report: identified savings by category and owner as % of spend, and the
realized trend (rate savings + accepted findings whose resource cost fell), on the drawn
March 2026 file of test_waste plus an April in which vol-orphan is deleted on the 10th.

Hand-computed:
- March spend of team mobile: vol-orphan 0.5 * 28 + i-dev 1 * 28 + i-devsched 1 * 20
  weekdays = 62; its waste finding vol-orphan 15.21875 -> 24.55 %.
- March rate savings: i-run ListCost 2.5, ContractedCost 2.2, EffectiveCost 2 a day:
  negotiated 0.3 * 28 = 8.4; commitments 0: the 0.2 a day below the contracted price is on
  a row no commitment covers (no CommitmentDiscountId), so it is not a commitment's saving.
- vol-orphan accepted on data ending 2026-03-29: baseline = the 30 days before (28 days *
  0.5 = 14) * 30.4375 / 30 = 14.204166...; April cost 9 * 0.5 = 4.5 (April fully
  covered by i-run) -> realized 9.704166666667 (below the finding's 15.21875).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from cloudledger.allocate import allocate
from cloudledger.cli import app
from cloudledger.config import settings_from
from cloudledger.ingest import ingest
from cloudledger.optimize.ledger import savings
from cloudledger.store import Store
from tests.optimize.test_waste import (
    DEV,
    PROD,
    SETTINGS,
    build_store,
    day_row,
    waste_rows,
    write_csv,
)

runner = CliRunner()


def april_rows() -> list[dict[str, Any]]:
    days = [date(2026, 4, 1) + timedelta(days=i) for i in range(30)]
    rows = [day_row(d, "i-run", "2", usage_type="BoxUsage:m5.large", rtype="instance",
                    tags=PROD) for d in days]
    rows += [day_row(d, "vol-orphan", "0.5", usage_type="EBS:VolumeUsage.gp2",
                     rtype="volume", unit="GB-Mo", qty="0.2", account="B", tags=DEV)
             for d in days[:9]]
    return rows


@pytest.fixture(scope="module")
def ledger_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("savings")
    path = tmp / "s.duckdb"
    build_store(path, waste_rows()).close()
    cfg = tmp / "cloudledger.yaml"
    cfg.write_text(yaml.safe_dump(SETTINGS))
    common = ["--store", str(path), "--config", str(cfg)]
    found = json.loads(runner.invoke(app, ["recommend", "waste", *common, "-f",
                                           "json"]).stdout)
    ids = {r["resource"]: r["id"] for r in found}
    assert runner.invoke(app, ["recommend", "accept", ids["vol-orphan"], *common]
                         ).exit_code == 0
    assert runner.invoke(app, ["recommend", "dismiss", ids["nat-1"], "--reason", "x",
                               *common]).exit_code == 0
    return path, cfg, common


def test_identified_by_category_and_owner(ledger_store: Any) -> None:
    path, _, _ = ledger_store
    st = Store(path, read_only=True)
    try:
        report = savings(st, settings_from(SETTINGS))
    finally:
        st.close()
    assert report.by == "team" and report.month == "2026-03"
    rows = {(r["category"], r["team"]): r for r in report.identified}
    mobile = rows[("waste", "mobile")]
    assert mobile["accepted_savings"] == Decimal("15.21875")
    assert mobile["open_savings"] == 0 and mobile["spend"] == Decimal(62)
    assert mobile["savings_pct"] == 24.55
    assert rows[("schedule", "mobile")]["monthly_savings"] == Decimal("8.696428571429")
    # the dismissed NAT hot spot (34.2421875) is not counted
    total = rows[("waste", "total")]
    assert total["monthly_savings"] == Decimal("116.597366071429") - Decimal(
        "34.2421875") - Decimal("8.696428571429")
    assert total["findings"] == 6


def test_realized_trend_with_accepted_finding(ledger_store: Any) -> None:
    path, _, _ = ledger_store
    st = Store(path)
    try:
        ingest(st, [write_csv(path.parent / "april.csv", april_rows())])
        allocate(st, settings_from(SETTINGS))
        report = savings(st, settings_from(SETTINGS))
    finally:
        st.close()
    months = {r["month"]: r for r in report.realized}
    assert months["2026-03"]["negotiated_savings"] == Decimal("8.4")
    assert months["2026-03"]["commitment_savings"] == 0
    assert months["2026-03"]["accepted_savings"] == 0
    assert months["2026-04"]["accepted_savings"] == Decimal("9.704166666667")
    assert months["2026-04"]["accepted_findings"] == 1
    assert months["2026-04"]["realized_savings"] == Decimal("9.704166666667")
    # spend stays the findings' own time (their data ends 2026-03-29), not April's
    assert report.month == "2026-03"


def test_cli_formats(ledger_store: Any, tmp_path: Path) -> None:
    _, _, common = ledger_store
    res = runner.invoke(app, ["savings", *common, "-f", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == {"by", "spend_month", "identified", "realized"}
    assert all(isinstance(r["monthly_savings"], str) for r in doc["identified"])
    res = runner.invoke(app, ["savings", *common, "-f", "csv", "--by", "environment"])
    assert res.exit_code == 0 and res.stdout.startswith("section,category,environment,")
    res = runner.invoke(app, ["savings", *common, "--by", "teem"])
    assert res.exit_code == 2 and "team" in res.output
    target = tmp_path / "s.xlsx"
    assert runner.invoke(app, ["savings", *common, "-f", "xlsx", "-o", str(target)]
                         ).exit_code == 0
    wb = load_workbook(target)
    assert wb.sheetnames == ["identified", "realized"]
    assert runner.invoke(app, ["savings", *common, "-f", "xlsx"]).exit_code == 2
    assert runner.invoke(app, ["savings", *common]).exit_code == 0
