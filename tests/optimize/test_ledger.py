"""The recommendations ledger: kept across runs, status survives, gone findings flagged,
accept / dismiss from the CLI, owners from allocation."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.config import settings_from
from cloudledger.errors import InputError
from cloudledger.optimize import ledger
from cloudledger.optimize.owners import owners_of
from cloudledger.optimize.registry import Recommendation
from cloudledger.store import Store
from tests.optimize.test_waste import SETTINGS, build_store, waste_rows

runner = CliRunner()
T1, T2, T3 = datetime(2026, 4, 1), datetime(2026, 4, 2), datetime(2026, 4, 3)


def rec(resource: str, saving: str, kind: str = "waste.old-snapshot") -> Recommendation:
    return Recommendation(kind=kind, category="waste", resource=resource,
                          title=f"delete {resource}", monthly_savings=Decimal(saving),
                          currency="USD", evidence={"cost": Decimal(saving)})


@pytest.fixture()
def store(tmp_path: Path) -> Any:
    st = Store(tmp_path / "s.duckdb")
    yield st
    st.close()


def by_id(st: Store) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in ledger.rows(st)}


def test_rerun_updates_figures_keeps_status_and_flags_gone(store: Store) -> None:
    s = settings_from({})
    a, b = rec("snap-a", "10"), rec("snap-b", "5")
    other = rec("vol-x", "7", kind="waste.unattached-volume")
    ledger.record(store, s, [a, b, other], kinds=["waste.old-snapshot",
                                                  "waste.unattached-volume"], now=T1)
    ledger.decide(store, a.id, "accepted", now=T2)
    ledger.decide(store, b.id, "dismissed", reason="kept for audit", now=T2)
    # second run of old-snapshot only: a found with a new figure, b not found
    ledger.record(store, s, [rec("snap-a", "12.5")], kinds=["waste.old-snapshot"], now=T3)
    rows = by_id(store)
    assert rows[a.id]["monthly_savings"] == Decimal("12.5")
    assert rows[a.id]["status"] == "accepted" and rows[a.id]["first_seen"] == T1
    assert rows[a.id]["last_seen"] == T3 and not rows[a.id]["gone"]
    assert rows[b.id]["gone"] and rows[b.id]["gone_since"] == T3
    assert rows[b.id]["status"] == "dismissed" and rows[b.id]["reason"] == "kept for audit"
    assert rows[b.id]["monthly_savings"] == Decimal(5)       # last figures kept
    assert rows[other.id]["last_seen"] == T1 and not rows[other.id]["gone"]  # not rerun
    # b found again: no longer gone, still dismissed
    ledger.record(store, s, [rec("snap-a", "12.5"), rec("snap-b", "6")],
                  kinds=["waste.old-snapshot"], now=T3)
    rows = by_id(store)
    assert not rows[b.id]["gone"] and rows[b.id]["status"] == "dismissed"
    assert len(rows) == 3


def test_exact_money_and_evidence(store: Store) -> None:
    r = rec("snap-exact", "1234567.123456789012")
    ledger.record(store, settings_from({}), [r], kinds=[r.kind], now=T1)
    row = by_id(store)[r.id]
    assert row["monthly_savings"] == Decimal("1234567.123456789012")
    assert row["evidence"] == {"cost": "1234567.123456789012"}
    assert row["owner"] == {d: "__unallocated__" for d in settings_from({}).owners.dimensions}


def test_unknown_id_names_the_closest(store: Store) -> None:
    r = rec("snap-a", "1")
    ledger.record(store, settings_from({}), [r], kinds=[r.kind], now=T1)
    with pytest.raises(InputError) as e:
        ledger.decide(store, r.id[:-1], "accepted")
    assert r.id in (e.value.hint or "")


def test_owners_from_allocation(tmp_path: Path) -> None:
    st = build_store(tmp_path / "o.duckdb", waste_rows())
    try:
        found = owners_of(st, settings_from(SETTINGS), ["vol-orphan", "i-run", "vol-left",
                                                        "nowhere"])
        assert found["vol-orphan"]["team"] == "mobile"
        assert found["vol-orphan"]["environment"] == "dev"
        assert found["i-run"]["team"] == "web"
        assert found["vol-left"]["team"] == "__unallocated__"   # untagged
        assert found["nowhere"]["team"] == "__unallocated__"    # not billed
    finally:
        st.close()


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_cli_waste_accept_dismiss(tmp_path: Path) -> None:
    path = tmp_path / "c.duckdb"
    build_store(path, waste_rows()).close()
    cfg = tmp_path / "cloudledger.yaml"
    cfg.write_text(yaml.safe_dump(SETTINGS))
    common = ["--store", str(path), "--config", str(cfg)]
    res = cli("recommend", "waste", *common, "--as-of", "2026-03-29", "-f", "json")
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout)
    assert len(first) == 8
    assert sum(Decimal(r["monthly_savings"]) for r in first) == Decimal("116.597366071429")
    orphan = next(r for r in first if r["resource"] == "vol-orphan")
    assert orphan["owner"]["team"] == "mobile" and orphan["status"] == "open"
    nat = next(r for r in first if r["resource"] == "nat-1")
    assert cli("recommend", "accept", orphan["id"], *common).exit_code == 0
    assert cli("recommend", "dismiss", nat["id"], "--reason", "shared egress",
               *common).exit_code == 0
    res = cli("recommend", "dismiss", nat["id"][:-1] + "z", "--reason", "x", *common)
    assert res.exit_code == 2 and nat["id"] in res.output
    assert cli("recommend", "dismiss", nat["id"], *common).exit_code == 2  # no --reason
    again = json.loads(cli("recommend", "waste", *common, "--as-of", "2026-03-29", "-f",
                           "json").stdout)
    status = {r["resource"]: r["status"] for r in again}
    assert status["vol-orphan"] == "accepted" and status["nat-1"] == "dismissed"
    assert [r["id"] for r in again] == [r["id"] for r in first]
    # a bad --only name is a usage error with a close match
    res = cli("recommend", "waste", *common, "--only", "waste.old-snapshots")
    assert res.exit_code == 2 and "waste.old-snapshot" in res.output


def test_cli_missing_store_is_exit_2(tmp_path: Path) -> None:
    res = cli("recommend", "waste", "--store", str(tmp_path / "none.duckdb"))
    assert res.exit_code == 2
    assert not (tmp_path / "none.duckdb").exists()
