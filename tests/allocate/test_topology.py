"""Allocation on a small drawn topology, with hand-computed answers for each split method.

Billing period 2026-05, USD (all four cost metrics equal the cost shown)::

    row  service   tags / how it is owned                cost   lands on
    r1   Compute   {team: web}                            600   web (tags)
    r2   Compute   {Team: " API "}   alias + trim + fold    300   api (tags)
    r3   Storage   none; rule storage-data                100   data (rule)
    r4   Support   pool support: proportional             90    web 54, api 27, data 9
    r5   Network   {cost-pool: net}; pool net: even       60    web 20, api 20, data 20
    r6   Security  pool sec: fixed 50/30/20               50    web 25, api 15, data 10
    r7   CDN       pool cdn: metric requests 300/100      40    web 30, api 10
    r8   Misc      none, no rule                          7     __unallocated__
                                                          ----
    team totals: web 729, api 372, data 139, __unallocated__ 7      = 1247

Billing period 2026-06, USD: commitments and Kubernetes::

    row  what                                         Billed  Effective  lands on
    c1   Purchase of commitment C1                      100      0       follows c2/c3:
                                                                         web 75, platform 25
    c2   Usage covered by C1 {team: web}, Used            0     60       web
    c3   Unused part of C1                                0     20       platform (unused)
    k1   namespace checkout (mapped to payments)         70     70       payments
    k2   namespace search {team: search-team} label      30     30       search-team
    k3   __idle__ cluster capacity                       10     10       share: payments 7,
                                                                         search-team 3
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from cloudledger.allocate import allocate, explain
from cloudledger.config import settings_from
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus

MAY = [
    frow("2026-05", "600", tags={"team": "web"}, resource="r1"),
    frow("2026-05", "300", tags={"Team": " API "}, resource="r2"),
    frow("2026-05", "100", service="Storage", resource="r3"),
    frow("2026-05", "90", service="Support", category="Purchase"),
    frow("2026-05", "60", service="Network", tags={"cost-pool": "net"}),
    frow("2026-05", "50", service="Security"),
    frow("2026-05", "40", service="CDN"),
    frow("2026-05", "7", service="Misc", resource="r8"),
]


def june_rows() -> list[dict[str, Any]]:
    def k8s(cost: str, labels: dict[str, str] | None, name: str) -> dict[str, Any]:
        return frow("2026-06", cost, service="Kubernetes", AllocatedResourceName=name,
                    AllocatedTags=labels, resource="cluster-1")

    return [
        frow("2026-06", "0", billed="100", category="Purchase", service="Compute",
             CommitmentDiscountId="C1"),
        frow("2026-06", "60", billed="0", tags={"team": "web"}, CommitmentDiscountId="C1",
             CommitmentDiscountStatus="Used"),
        frow("2026-06", "20", billed="0", CommitmentDiscountId="C1",
             CommitmentDiscountStatus="Unused"),
        k8s("70", {"namespace": "checkout"}, "checkout"),
        k8s("30", {"namespace": "search", "team": "search-team"}, "search"),
        k8s("10", None, "__idle__"),
    ]


SETTINGS: dict[str, Any] = {
    "owners": {"dimensions": ["team", "environment"]},
    "tags": {"aliases": {"team": ["team", "Team"], "environment": ["env"]},
             "values": {}, "required": ["team"]},
    "rules": [{"name": "storage-data", "match": {"service": "Storage"},
               "set": {"team": "data"}}],
    "shared": [
        {"name": "support", "match": {"service": "Support"}, "split": "proportional"},
        {"name": "net", "match": {"tag": {"cost-pool": "net"}}, "split": "even"},
        {"name": "sec", "match": {"service": "Security"}, "split": "fixed",
         "percentages": {"web": 50, "api": 30, "data": 20}},
        {"name": "cdn", "match": {"service": "CDN"}, "split": "metric", "metric": "requests"},
    ],
    "commitments": {"unused_owner": {"team": "platform"}},
    "kubernetes": {"idle": "share", "namespaces": {"checkout": {"team": "payments"}}},
}


def add_metrics(store: Store) -> None:
    import ibis
    import pyarrow as pa

    table = pa.table({
        "date": pa.array([date(2026, 5, 3), date(2026, 5, 9), date(2026, 5, 9),
                          date(2026, 4, 30)], pa.date32()),
        "metric": ["requests", "requests", "requests", "requests"],
        "value": [100.0, 200.0, 100.0, 5000.0],
        "owner": ["web", "web", "api", "api"],
        "product": [None, None, None, None]})
    store.con.create_table("metrics", ibis.memtable(table).cast(
        {"date": "date", "metric": "string", "value": "float64", "owner": "string",
         "product": "string"}), overwrite=True)


def team_totals(store: Store, month: str, metric: str = "EffectiveCost") -> dict[str, Decimal]:
    rows = store.engine.query(
        f"SELECT team, SUM({metric}) AS c FROM allocated WHERE "
        f"strftime(BillingPeriodStart, '%Y-%m') = '{month}' GROUP BY 1")
    return {r["team"]: r["c"] for r in rows.to_pylist()}


@pytest.fixture()
def topo(store: Store) -> Store:
    make_focus(store, MAY + june_rows())
    add_metrics(store)
    return store


def test_each_split_method_by_hand(topo: Store) -> None:
    result = allocate(topo, settings_from(SETTINGS))
    assert team_totals(topo, "2026-05") == {
        "web": Decimal(729), "api": Decimal(372), "data": Decimal(139),
        "__unallocated__": Decimal(7)}
    assert all(c.ok and c.difference == 0 for c in result.conservation)
    by_pool = topo.engine.query(
        "SELECT x_AllocationPool AS p, team, SUM(EffectiveCost) AS c FROM allocated "
        "WHERE x_AllocationKind = 'shared' AND strftime(BillingPeriodStart, '%Y-%m') = "
        "'2026-05' GROUP BY 1, 2").to_pylist()
    got = {(r["p"], r["team"]): r["c"] for r in by_pool}
    assert got == {("support", "web"): 54, ("support", "api"): 27, ("support", "data"): 9,
                   ("net", "web"): 20, ("net", "api"): 20, ("net", "data"): 20,
                   ("sec", "web"): 25, ("sec", "api"): 15, ("sec", "data"): 10,
                   ("cdn", "web"): 30, ("cdn", "api"): 10}


def test_commitments_and_kubernetes(topo: Store) -> None:
    allocate(topo, settings_from(SETTINGS))
    assert team_totals(topo, "2026-06", "BilledCost") == {
        "web": Decimal(75), "platform": Decimal(25), "payments": Decimal(77),
        "search-team": Decimal(33)}
    assert team_totals(topo, "2026-06") == {
        "web": Decimal(60), "platform": Decimal(20), "payments": Decimal(77),
        "search-team": Decimal(33)}
    kinds = topo.engine.query(
        "SELECT x_AllocationKind AS k, SUM(BilledCost) AS b FROM allocated WHERE "
        "strftime(BillingPeriodStart, '%Y-%m') = '2026-06' GROUP BY 1")
    assert {r["k"]: r["b"] for r in kinds.to_pylist()} == {
        "direct": Decimal(175), "commitment_unused": Decimal(25), "shared": Decimal(10)}


def test_idle_kept(topo: Store) -> None:
    settings = settings_from({**SETTINGS, "kubernetes": {
        "idle": "keep", "namespaces": {"checkout": {"team": "payments"}}}})
    allocate(topo, settings)
    june = team_totals(topo, "2026-06")
    assert june["__idle__"] == 10 and june["payments"] == 70 and june["search-team"] == 30
    env = topo.engine.query("SELECT DISTINCT environment FROM allocated WHERE team = '__idle__'"
                       ).column(0).to_pylist()
    assert env == ["__idle__"]


def test_remainder_without_recipients_goes_to_shared(store: Store) -> None:
    make_focus(store, [frow("2026-05", "12.5", service="Support", category="Purchase"),
                       frow("2026-05", "3", service="Misc")])
    allocate(store, settings_from({"shared": [{"name": "support",
                                               "match": {"service": "Support"}}]}))
    assert team_totals(store, "2026-05") == {"__shared__": Decimal("12.5"),
                                             "__unallocated__": Decimal(3)}


def test_rules_first_match_and_override(store: Store) -> None:
    make_focus(store, [frow("2026-05", "10", service="Storage", tags={"team": "tagged"}),
                       frow("2026-05", "20", service="Storage"),
                       frow("2026-05", "5", service="Queue", tags={"team": "tagged"})])
    rules = [{"name": "first", "match": {"service": "Storage"}, "set": {"team": "one"}},
             {"name": "second", "match": {"service": "Storage"}, "set": {"team": "two"}},
             {"name": "queue", "match": {"service": "Queue"}, "set": {"team": "q"},
              "override": True}]
    allocate(store, settings_from({"rules": rules}))
    got = store.engine.query("SELECT team, x_AllocationRule AS r, SUM(EffectiveCost) AS c FROM "
                        "allocated GROUP BY 1, 2").to_pylist()
    assert {(r["team"], r["r"]): r["c"] for r in got} == {
        ("tagged", "tags"): 10, ("one", "first"): 20, ("q", "queue"): 5}


def test_splitting_money_is_exact_and_the_largest_takes_the_rest(store: Store) -> None:
    make_focus(store, [
        frow("2026-05", "1", tags={"team": "a"}), frow("2026-05", "1", tags={"team": "b"}),
        frow("2026-05", "2", tags={"team": "c"}),
        frow("2026-05", "0.000000000010", service="Support", billed="100.000000000001",
             BillingAccountId="billing-2"),
        frow("2026-05", "-33.333333333334", service="Support", BillingAccountId="billing-3")])
    allocate(store, settings_from({"shared": [{"name": "s", "match": {"service": "Support"}}]}))
    rows = store.engine.query(
        "SELECT BillingAccountId AS id, team, BilledCost AS b, EffectiveCost AS e, "
        "x_AllocationShare AS s FROM allocated WHERE x_AllocationPool = 's' ORDER BY id, team"
    ).to_pylist()
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_source.setdefault(r["id"], []).append(r)
    sums = sorted(sum((r["b"] for r in v), Decimal(0)) for v in by_source.values())
    assert sums == [Decimal("-33.333333333334"), Decimal("100.000000000001")]
    big = next(v for v in by_source.values() if sum(r["b"] for r in v) > 0)
    shares = {r["team"]: r["s"] for r in big}
    assert shares == {"a": Decimal("0.25"), "b": Decimal("0.25"), "c": Decimal("0.5")}
    amounts = {r["team"]: r["b"] for r in big}
    assert amounts["a"] == amounts["b"] == Decimal("25")
    assert amounts["c"] == Decimal("50.000000000001")  # the largest takes the sub-micro rest
    for r in big:
        assert abs(r["b"] - Decimal("100.000000000001") * r["s"]) <= Decimal("0.000001")


def test_explain_owner_month_and_resource(topo: Store) -> None:
    settings = settings_from(SETTINGS)
    allocate(topo, settings)
    e = explain(topo, settings, owner={"team": "web"}, month="2026-05")
    assert e.total == 729
    parts = {(ln.kind, ln.source): ln for ln in e.lines}
    assert parts[("direct", "tags")].amount == 600
    support = parts[("shared", "support")]
    assert support.amount == 54 and support.share == Decimal("0.6")
    assert Decimal(support.driver or "0") == 600 and support.pool_total == 90
    assert parts[("shared", "net")].driver == "1"
    r = explain(topo, settings, resource_id="r3")
    assert [(ln.owner["team"], ln.source, ln.amount) for ln in r.lines] == [
        ("data", "storage-data", Decimal(100))]
