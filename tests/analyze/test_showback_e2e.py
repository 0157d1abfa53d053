"""End to end: focus rows -> cloudledger.allocate.allocate -> showback, chargeback, unit costs.

    2026-05  web: 600 tagged, api: 300 tagged, 100 untagged storage (rule -> data),
             support 90 (pool, proportional to direct cost), credit -25 tagged web
    2026-06  web: 500 tagged + 60 covered by commitment C1 (purchase BilledCost 100,
             20 unused -> platform), api: 350 tagged, 13 untagged (-> __unallocated__)

Whatever the allocation does inside, the showback must add up to the focus table for every
period and metric, the parts to each owner's total, and the journal to the billable part.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cloudledger.allocate import allocate
from cloudledger.analyze.showback import PARTS, chargeback, showback
from cloudledger.analyze.unit_economics import unit_costs
from cloudledger.config import settings_from
from cloudledger.ingest.metrics import load_metrics
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus

D = Decimal
SETTINGS = settings_from({
    "owners": {"dimensions": ["team", "cost_center"]},
    "tags": {"aliases": {"team": ["team"], "cost_center": ["cc"]}, "values": {},
             "required": ["team"]},
    "rules": [{"name": "storage-data", "match": {"service": "Storage"},
               "set": {"team": "data", "cost_center": "CC-3"}}],
    "shared": [{"name": "support", "match": {"service": "Support"},
                "split": "proportional"}],
    "commitments": {"unused_owner": {"team": "platform", "cost_center": "CC-9"}},
})


def focus_rows() -> list[dict]:
    web, api = {"team": "web", "cc": "CC-1"}, {"team": "api", "cc": "CC-2"}
    return [
        frow("2026-05", "600", tags=web, resource="w1", day=4),
        frow("2026-05", "300", tags=api, resource="a1", day=4),
        frow("2026-05", "100", service="Storage", resource="s1", day=4),
        frow("2026-05", "90", service="Support", category="Purchase"),
        frow("2026-05", "-25", tags=web, category="Credit"),
        frow("2026-06", "500", tags=web, resource="w1", day=4),
        frow("2026-06", "0", billed="100", category="Purchase", CommitmentDiscountId="C1"),
        frow("2026-06", "60", billed="0", tags=web, CommitmentDiscountId="C1",
             CommitmentDiscountStatus="Used", resource="w2", day=4),
        frow("2026-06", "20", billed="0", CommitmentDiscountId="C1",
             CommitmentDiscountStatus="Unused"),
        frow("2026-06", "350", tags=api, resource="a1", day=4),
        frow("2026-06", "13", service="Misc", resource="m1", day=4),
    ]


@pytest.fixture()
def store(engine_store: Store) -> Store:
    """Every showback test runs on DuckDB and on Spark (``-m spark`` for the latter)."""
    return engine_store


@pytest.fixture()
def allocated(store: Store, tmp_path: Path) -> Store:
    make_focus(store, focus_rows())
    allocate(store, SETTINGS)
    metrics = tmp_path / "requests.csv"
    metrics.write_text("date,metric,value,owner\n2026-05-04,requests,3000000,web\n"
                       "2026-06-04,requests,4000000,web\n2026-05-04,requests,1000000,api\n"
                       "2026-06-04,requests,1400000,api\n")
    load_metrics(store, metrics)
    return store


def focus_totals(store: Store, metric: str) -> dict[tuple[str, str], Decimal]:
    rows = store.engine.query(f"SELECT strftime(BillingPeriodStart, '%Y-%m') AS p, BillingCurrency "
                     f"AS c, sum({metric}) AS t FROM focus GROUP BY 1, 2").to_pylist()
    return {(r["p"], r["c"]): r["t"] for r in rows}


@pytest.mark.parametrize("metric", ["EffectiveCost", "BilledCost", "ListCost"])
def test_showback_adds_up_to_the_bill(allocated: Store, metric: str) -> None:
    sb = showback(allocated, SETTINGS, metric=metric)
    assert sb.totals == focus_totals(allocated, metric)
    for key, total in sb.totals.items():
        assert sum(r["total"] for r in sb.rows if (r["period"], r["currency"]) == key) == total
    for r in sb.rows:
        assert sum((r[p] for p in PARTS), D(0)) == r["total"]


def test_parts_follow_the_allocation(allocated: Store) -> None:
    sb = showback(allocated, SETTINGS)
    may = {r["team"]: r for r in sb.rows if r["period"] == "2026-05"}
    june = {r["team"]: r for r in sb.rows if r["period"] == "2026-06"}
    assert may["web"]["credits"] == D(-25)
    assert sum(r["shared"] for r in may.values()) == D(90)     # the support pool, split
    assert may["data"]["direct"] == D(100)                     # the storage rule
    assert june["web"]["commitment"] == D(60)                  # amortized, covered usage
    assert june["platform"]["commitment_unused"] == D(20)
    assert june["__unallocated__"]["total"] == D(13)
    assert june["api"]["change"] == june["api"]["total"] - may["api"]["total"]


def test_chargeback_and_unit_costs(allocated: Store) -> None:
    cb = chargeback(allocated, SETTINGS)
    totals = focus_totals(allocated, "EffectiveCost")
    for s in cb.summary:
        assert s["total"] == totals[(s["period"], s["currency"])]
        assert s["billable"] + s["non_billable"] == s["total"]
        assert sum(e["amount"] for e in cb.entries if e["period"] == s["period"]) == \
            s["billable"].quantize(D("0.01"))
    assert {n["owner"] for n in cb.non_billable} == {"__unallocated__"}
    uc = unit_costs(allocated, SETTINGS, metric="requests", per=1000, by="team")
    web = {r["period"]: r for r in uc.rows if r["team"] == "web"}
    sb = {(r["period"], r["team"]): r["total"] for r in showback(allocated, SETTINGS).rows}
    assert web["2026-06"]["unit_cost"] == pytest.approx(
        float(sb[("2026-06", "web")]) / 4000)
