"""Kubernetes allocation on the shared OpenCost response (namespace aggregation, one hour).

The real response has five namespaces and no idle row; a generated response for the same
window adds the cluster's ``__idle__`` (0.5) and a second cluster ``c2`` (namespace oc-test
1.00, idle 0.25). OpenCost puts the namespace in SubAccountId (``Kubernetes Namespace``)
and ``x_Namespace``; its labels carry no ``namespace`` key::

    cluster           namespace            cost      team (kubernetes.namespaces)
    default-cluster   kube-system          0.1177    platform
    default-cluster   prometheus-system    0.09958   platform
    default-cluster   opencost             0.0035    platform
    default-cluster   oc-test              0.1406    payments
    default-cluster   local-path-storage   0.00049   storage
    default-cluster   __idle__             0.5       shared by cost within default-cluster:
                                                      platform 0.5 * 0.22078 / 0.36187 ...
    c2                oc-test              1.00      payments
    c2                __idle__             0.25      payments (the only namespace of c2)
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudledger.allocate import allocate
from cloudledger.config import settings_from
from cloudledger.ingest import ingest
from cloudledger.store import Store

D = Decimal
SAVED = "finfocus-plugin-opencost__allocation-namespace-60m.json"
WINDOW = {"start": "2026-10-03T09:58:00Z", "end": "2026-10-03T10:58:00Z"}
NAMESPACES = {"kube-system": {"team": "platform"}, "prometheus-system": {"team": "platform"},
              "opencost": {"team": "platform"}, "oc-test": {"team": "payments"},
              "local-path-storage": {"team": "storage"}}
DIRECT = {"platform": D("0.1177") + D("0.09958") + D("0.0035"), "payments": D("0.1406"),
          "storage": D("0.00049")}
IDLE, C2, C2_IDLE = D("0.5"), D("1.00"), D("0.25")


def idle_response() -> dict[str, Any]:
    def alloc(name: str, cluster: str, cost: str, ns: str | None = None) -> dict[str, Any]:
        props = {"cluster": cluster} | ({"namespace": ns} if ns else {})
        return {"name": name, "properties": props, "window": WINDOW,
                "start": WINDOW["start"], "end": WINDOW["end"], "totalCost": cost}

    return {"code": 200, "data": [{
        "__idle__": alloc("__idle__", "default-cluster", str(IDLE)),
        "c2/oc-test": alloc("oc-test", "c2", str(C2), "oc-test"),
        "c2/__idle__": alloc("c2/__idle__", "c2", str(C2_IDLE))}]}


def load_opencost(store: Store, shared_data: Path, tmp_path: Path) -> None:
    extra = tmp_path / "opencost-idle.json"
    extra.write_text(json.dumps(idle_response()))
    ingest(store, [shared_data / "native" / "opencost" / SAVED, extra])


@pytest.fixture()
def opencost_store(store: Store, shared_data: Path, tmp_path: Path) -> Store:
    load_opencost(store, shared_data, tmp_path)
    return store


def by_team(store: Store, cluster: str | None = None) -> dict[str, Decimal]:
    where = f"WHERE BillingAccountId = '{cluster}'" if cluster else ""
    rows = store.sql(f"SELECT team, SUM(EffectiveCost) AS c FROM allocated {where} "
                     "GROUP BY 1").to_pylist()
    return {r["team"]: r["c"] for r in rows}


SETTINGS = {"owners": {"dimensions": ["team"]},
            "tags": {"aliases": {"team": ["team"]}, "values": {}, "required": ["team"]},
            "kubernetes": {"idle": "share", "namespaces": NAMESPACES}}


def test_namespaces_map_and_idle_is_shared_per_cluster(opencost_store: Store) -> None:
    result = allocate(opencost_store, settings_from(SETTINGS))
    assert all(c.difference == 0 for c in result.conservation)
    total = sum(DIRECT.values(), D(0))
    got = by_team(opencost_store, "default-cluster")
    assert set(got) == set(DIRECT)                     # no __idle__, no __unallocated__
    for team, direct in DIRECT.items():
        assert abs(got[team] - (direct + IDLE * direct / total)) <= D("1e-6"), team
    assert sum(got.values(), D(0)) == total + IDLE     # exact
    # c2's idle stays in c2: all of it to the only namespace there
    assert by_team(opencost_store, "c2") == {"payments": C2 + C2_IDLE}
    rule = opencost_store.sql(
        "SELECT DISTINCT x_AllocationRule AS r, x_AllocationKind AS k FROM allocated "
        "WHERE AllocatedResourceName <> '__idle__' AND AllocatedResourceName <> "
        "'c2/__idle__'").to_pylist()
    assert rule == [{"r": "kubernetes", "k": "direct"}]


def test_idle_kept_names_the_namespaces_still(opencost_store: Store) -> None:
    allocate(opencost_store, settings_from({**SETTINGS, "kubernetes": {
        "idle": "keep", "namespaces": NAMESPACES}}))
    assert by_team(opencost_store, "default-cluster") == {**DIRECT, "__idle__": IDLE}
