"""The same answers on Spark (local mode) as on DuckDB for the trust fixes: summary per
currency and partial months, showback run rates, chargeback cost centers, explain errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudledger.allocate import explain
from cloudledger.analyze import summary as s
from cloudledger.analyze.showback import chargeback, showback
from cloudledger.config import Settings
from cloudledger.errors import InputError
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus
from tests.allocated_data import make_allocated, row
from tests.analyze.test_partial_months import MAY, allocated_rows, focus_rows

pytestmark = pytest.mark.spark
D = Decimal


def allocated() -> list[dict[str, Any]]:
    return [*allocated_rows(),
            row(MAY, "7", team="payments", cost_center="__unallocated__"),
            row(MAY, "3", team="__idle__", cost_center="__idle__", kind="idle")]


def focus() -> list[dict[str, Any]]:
    return [*focus_rows(), frow(MAY, "2.5", service="payments", currency="EUR", resource="r3")]


def answers(store: Store) -> dict[str, Any]:
    return {
        "months": s.by_dimension(store, "month").to_pylist(),
        "services": s.by_dimension(store, "service", top=1).to_pylist(),
        "movers": s.top_movers(store).to_pylist(),
        "totals": s.overview(store).totals,
        "showback": showback(store, Settings()).rows,
        "journal": chargeback(store, Settings()).entries,
    }


def test_spark_gives_the_same_answers(spark_db: Any, tmp_path: Path) -> None:
    duck = Store(tmp_path / "d.duckdb")
    sp = Store(spark=spark_db)
    for target in (duck, sp):
        make_focus(target, focus())
        make_allocated(target, allocated())
    got, want = answers(sp), answers(duck)
    assert got == want
    assert want["totals"] == {"USD": D(495 + 430), "EUR": D("2.5")}
    june = {r["team"]: r for r in want["showback"] if r["period"] == "2026-06"}
    assert june["search"]["basis"] == "run rate" and june["search"]["change_pct"] == 20.0
    assert {(e["owner"], e["cost_center"]) for e in want["journal"]} == {
        ("payments", "CC-000"), ("search", "CC-000"), ("platform", "CC-000")}
    for target in (duck, sp):
        with pytest.raises(InputError, match="did you mean 'payments'"):
            explain(target, Settings(), owner={"team": "paymnts"})
        with pytest.raises(InputError, match="no allocated cost in 2018-12"):
            explain(target, Settings(), owner={"team": "payments"}, month="2018-12")
    duck.close()
