"""Month over month compares like with like when a month's data covers only part of it.

Daily rows (each charge period one day), USD::

    May 2026 (31 days, whole)     payments 10/day = 310   search 5/day = 155
    June 2026 (data to the 25th)  payments 10/day = 250   search 6/day = 150
                                  + platform's monthly fee (1 June - 1 July), 30 in each month

June covers 25 of 30 days: partial. Against May's run rate scaled to 25 days
(310 * 25 / 31 = 250, 155 * 25 / 31 = 125) payments is flat and search +20%, where plain
totals said payments -19.35% and search -3.23%.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cloudledger.analyze import summary as s
from cloudledger.analyze.showback import showback
from cloudledger.config import Settings
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus
from tests.allocated_data import make_allocated, row

D = Decimal
MAY, JUNE = "2026-05", "2026-06"


def daily(month: str, days: int, **costs: str) -> list[tuple[str, str, datetime, datetime]]:
    first = datetime.fromisoformat(f"{month}-01")
    return [(team, cost, first + timedelta(days=i), first + timedelta(days=i + 1))
            for i in range(days) for team, cost in costs.items()]


def fee(month: str) -> tuple[str, str, datetime, datetime]:
    first = datetime.fromisoformat(f"{month}-01")
    return ("platform", "30", first, datetime(first.year, first.month + 1, 1))


CHARGES = [*daily(MAY, 31, payments="10", search="5"), fee(MAY),
           *daily(JUNE, 25, payments="10", search="6"), fee(JUNE)]


def allocated_rows() -> list[dict[str, Any]]:
    return [row(f"{start:%Y-%m}", cost, team=team, day=start.day, ChargePeriodStart=start,
                ChargePeriodEnd=end, category="Purchase" if team == "platform" else "Usage")
            for team, cost, start, end in CHARGES]


def focus_rows() -> list[dict[str, Any]]:
    return [frow(f"{start:%Y-%m}", cost, service=team, ChargePeriodStart=start,
                 ChargePeriodEnd=end, category="Purchase" if team == "platform" else "Usage")
            for team, cost, start, end in CHARGES]


def test_showback_flags_the_partial_month_and_compares_run_rates(store: Store) -> None:
    make_allocated(store, allocated_rows())
    rows = {(r["period"], r["team"]): r for r in showback(store, Settings()).rows}
    may, pay, search = rows[(MAY, "payments")], rows[(JUNE, "payments")], rows[(JUNE, "search")]
    assert (may["days"], may["partial"], may["basis"]) == (D(31), False, None)
    assert (pay["days"], pay["partial"], pay["basis"]) == (D(25), True, "run rate")
    assert pay["total"] == D(250) and pay["change"] == 0 and pay["change_pct"] == 0.0
    assert search["change"] == D(25) and search["change_pct"] == 20.0
    # the monthly fee spans June but does not make June look whole
    assert rows[(JUNE, "platform")]["partial"] is True
    # the totals themselves are untouched and still add up
    assert sum(r["total"] for r in rows.values() if r["period"] == JUNE) == D(430)


def test_whole_months_compare_totals(store: Store) -> None:
    whole = [*daily(MAY, 31, payments="10"), *daily(JUNE, 30, payments="10")]
    make_allocated(store, [row(f"{a:%Y-%m}", c, team=t, ChargePeriodStart=a, ChargePeriodEnd=b)
                           for t, c, a, b in whole])
    june = next(r for r in showback(store, Settings(), month=JUNE).rows)
    assert (june["partial"], june["basis"], june["change"]) == (False, "total", D(-10))


def test_summary_by_month_and_top_movers(store: Store) -> None:
    make_focus(store, focus_rows())
    months = {str(r["month"])[:7]: r for r in s.by_dimension(store, "month").to_pylist()}
    assert (months[MAY]["days"], months[MAY]["partial"]) == (D(31), False)
    assert (months[JUNE]["days"], months[JUNE]["partial"]) == (D(25), True)
    movers = {r["service"]: r for r in s.top_movers(store, n=5).to_pylist()}
    assert movers["search"]["change"] == D(25) and movers["search"]["basis"] == "run rate"
    assert movers["payments"]["change"] == 0 and movers["payments"]["change_pct"] == 0.0
    assert movers["search"]["previous"] == D(155) and movers["search"]["current"] == D(150)


@pytest.fixture(scope="module")
def month_to_date(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo, its last month cut after the 25th (data as it looks on the 26th)."""
    from datetime import date

    from cloudledger.allocate import allocate
    from cloudledger.config import load_settings
    from cloudledger.demo import generate, load
    from tests.allocate.test_demo import STARTER

    out = tmp_path_factory.mktemp("mtd")
    data = generate(rows=20_000, seed=3, end=date(2026, 7, 1), out_dir=out, months=6)
    store = Store(out / "store.duckdb")
    load(store, data)
    store.raw("DELETE FROM focus WHERE ChargePeriodStart >= TIMESTAMP '2026-06-26'")
    settings = load_settings(STARTER)
    allocate(store, settings)
    yield store, settings
    store.close()


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def test_demo_month_to_date_is_not_down_20_percent(month_to_date: Any) -> None:
    store, settings = month_to_date
    sb = [r for r in showback(store, settings, month=JUNE).rows if r["change_pct"] is not None]
    assert sb and all(r["partial"] and r["basis"] == "run rate" for r in sb)
    assert sb[0]["days"] == D(25)
    assert abs(median([r["change_pct"] for r in sb])) < 8      # plain totals: about -17%
    movers = s.top_movers(store, n=50).to_pylist()
    assert all(r["basis"] == "run rate" for r in movers)
    assert abs(median([r["change_pct"] for r in movers if r["change_pct"] is not None])) < 8
