"""Chargeback journal after a real allocation, with hand-computed answers.

2026-05, USD; owner dimensions team and cost_center (tag keys team, cost_center)::

    row  tags / how it is owned                              cost   journal line
    r1   team payments, cost_center "Cost001"                 100   payments Cost001
    r2   team payments, no cost center                         50   payments Cost001 (its one code)
    r3   team search, cost_center " Cost002 " (trimmed)        30   search Cost002
    r4   team search, cost_center "cost002" (tags.values)      20   search Cost002
    r5   Support: pool to payments/search by direct cost       40   payments 30, search 10
                                                                    (on their own codes)
    r6   team web, no cost center; cost_centers: web Cost009    9   web Cost009
    r7   Kubernetes __idle__, idle: keep                        7   not billed (__idle__)

    journal: payments Cost001 180, search Cost002 60, web Cost009 9; not billed: __idle__ 7
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cloudledger.allocate import allocate
from cloudledger.analyze.showback import chargeback
from cloudledger.config import settings_from
from cloudledger.errors import InputError
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus

D = Decimal
MAY = "2026-05"
CONFIG: dict[str, Any] = {
    "owners": {"dimensions": ["team", "cost_center"]},
    "tags": {"aliases": {"team": ["team"], "cost_center": ["cost_center"]},
             "values": {"cost_center": {"Cost002": ["cost002"]}}, "required": ["team"]},
    "shared": [{"name": "support", "match": {"service": "Support"},
                "to": ["payments", "search"]}],
    "kubernetes": {"idle": "keep"},
    "chargeback": {"cost_centers": {"web": "Cost009"}},
}


def rows() -> list[dict[str, Any]]:
    return [
        frow(MAY, "100", tags={"team": "payments", "cost_center": "Cost001"}),
        frow(MAY, "50", tags={"team": "payments"}),
        frow(MAY, "30", tags={"team": "search", "cost_center": " Cost002 "}),
        frow(MAY, "20", tags={"team": "search", "cost_center": "cost002"}),
        frow(MAY, "40", service="Support", category="Purchase"),
        frow(MAY, "9", tags={"team": "web"}),
        frow(MAY, "7", service="Kubernetes", AllocatedResourceName="__idle__"),
    ]


@pytest.fixture()
def allocated(store: Store) -> Store:
    make_focus(store, rows())
    return store


def journal(store: Store, config: dict[str, Any]) -> Any:
    settings = settings_from(config)
    allocate(store, settings)
    return chargeback(store, settings)


def test_journal_lines(allocated: Store) -> None:
    cb = journal(allocated, CONFIG)
    assert [(e["owner"], e["cost_center"], e["amount"]) for e in cb.entries] == [
        ("payments", "Cost001", D("180.00")), ("search", "Cost002", D("60.00")),
        ("web", "Cost009", D("9.00"))]
    assert [(n["owner"], n["amount"]) for n in cb.non_billable] == [("__idle__", D(7))]
    [s] = cb.summary
    assert (s["billable"], s["non_billable"], s["total"]) == (D(249), D(7), D(256))


def test_exclude_cannot_bill_the_special_owners(allocated: Store) -> None:
    cb = journal(allocated, {**CONFIG, "chargeback": {**CONFIG["chargeback"],
                                                       "exclude": ["web"]}})
    assert {e["owner"] for e in cb.entries} == {"payments", "search"}
    assert {n["owner"] for n in cb.non_billable} == {"__idle__", "web"}


def test_owner_without_a_cost_center_is_an_error(allocated: Store) -> None:
    with pytest.raises(InputError, match=r"web \(2026-05: no cost center\)") as e:
        journal(allocated, {**CONFIG, "chargeback": {}})
    assert "cost_centers: {web: CC-" in (e.value.hint or "")
    make_focus(allocated, [*rows(), frow(MAY, "1", tags={"team": "web",
                                                       "cost_center": "Cost008"}),
                           frow(MAY, "2", tags={"team": "web", "cost_center": "Cost007"})])
    with pytest.raises(InputError, match=r"2 cost centers \(Cost007, Cost008\)"):
        journal(allocated, {**CONFIG, "chargeback": {}})
