"""Waste recommenders on a small FOCUS file drawn for them, with hand-computed figures.

March 2026, USD, daily rows (day d = 2026-03-d, 1..28; the window is the 14 days
2026-03-15 .. 2026-03-28 = 10 weekdays + 4 weekend days; a month is 30.4375 days)::

    acct/region     resource    what                                  $/day  expected
    A us-east-1     i-run       BoxUsage:m5.large 24h every day, prod   2    (keeps A's volumes)
    A us-east-1     vol-att     EBS:VolumeUsage.gp2                     1    -
    B us-east-1     vol-orphan  EBS:VolumeUsage.gp2, no instance ever   0.5  unattached 15.21875
    C us-west-2     i-stop      BoxUsage:m5.large days 1-10 only        3    -
    C us-west-2     vol-left    EBS:VolumeUsage.gp2                     0.8  stopped 24.35
    A us-east-1     snap-old    EBS:SnapshotUsage days 1-28             0.1  old (>=20 d) 3.04375
    A us-east-1     snap-new    EBS:SnapshotUsage days 20-28            0.1  -
    A us-east-1     lb-idle     LoadBalancerUsage 24h + 0.01 GB         0.54 idle 16.43625
    A us-east-1     lb-busy     LoadBalancerUsage + LCUUsage 240/day    2.46 -
    A us-east-1     eip-1       ElasticIP:IdleAddress 24h               0.12 idle IP 3.6525
    A us-east-1     eip-2       PublicIPv4:InUseAddress 24h             0.12 -
    A us-east-1     nat-1       NatGateway-Bytes 100 GB                 4.5  hot spot 25% of
                                                                             136.96875 = 34.2421875
    A us-east-1     i-run       DataTransfer-Regional-Bytes             0.1  - (below 100/month)
    A us-east-1     i-old       BoxUsage:c4.large 24h                   2.4  prev. gen: 73.05 *
                                                                             0.15 = 10.9575
    A us-east-1     i-dev       BoxUsage:m5.large 24h every day, dev    1    weekend schedule
                                                                             1 * 730.5/84 =
                                                                             8.696428571429
    A us-east-1     i-devsched  BoxUsage:m5.large weekdays only, dev    1    -
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudledger.allocate import allocate
from cloudledger.config import settings_from
from cloudledger.ingest import ingest
from cloudledger.optimize.registry import run
from cloudledger.store import Store

COLUMNS = ["BillingAccountId", "SubAccountId", "BillingPeriodStart", "BillingPeriodEnd",
           "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", "ChargeCategory",
           "ProviderName", "ServiceName", "ServiceCategory", "RegionId", "ResourceId",
           "ResourceType", "ConsumedUnit", "ConsumedQuantity", "BilledCost", "EffectiveCost",
           "ListCost", "ContractedCost", "Tags", "x_UsageType", "ChargeDescription"]
AS_OF = date(2026, 3, 29)
PROD = {"team": "web", "env": "prod"}
DEV = {"team": "mobile", "env": "dev"}


def day_row(day: date, resource: str | None, cost: str, *, usage_type: str = "",
            rtype: str = "", unit: str = "Hrs", qty: str = "24", account: str = "A",
            region: str = "us-east-1", service: str = "Amazon Elastic Compute Cloud",
            category: str = "Compute", tags: dict[str, str] | None = None,
            list_cost: str | None = None, contracted: str | None = None,
            description: str = "") -> dict[str, Any]:
    start = datetime(day.year, day.month, 1)
    end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1)
    return {"BillingAccountId": "payer", "SubAccountId": account,
            "BillingPeriodStart": start.date().isoformat(),
            "BillingPeriodEnd": end.date().isoformat(),
            "ChargePeriodStart": day.isoformat(),
            "ChargePeriodEnd": (day + timedelta(days=1)).isoformat(),
            "BillingCurrency": "USD", "ChargeCategory": "Usage", "ProviderName": "AWS",
            "ServiceName": service, "ServiceCategory": category, "RegionId": region,
            "ResourceId": resource or "", "ResourceType": rtype, "ConsumedUnit": unit,
            "ConsumedQuantity": qty, "BilledCost": cost, "EffectiveCost": cost,
            "ListCost": list_cost or cost, "ContractedCost": contracted or cost,
            "Tags": json.dumps(tags) if tags else "", "x_UsageType": usage_type,
            "ChargeDescription": description}


def march(days: range = range(1, 29)) -> list[date]:
    return [date(2026, 3, d) for d in days]


def waste_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for d in march():
        weekend = d.weekday() >= 5
        rows += [
            day_row(d, "i-run", "2", usage_type="BoxUsage:m5.large", rtype="instance",
                    tags=PROD, list_cost="2.5", contracted="2.2"),
            day_row(d, "i-run", "0.1", usage_type="DataTransfer-Regional-Bytes",
                    rtype="instance", unit="GB", qty="10", tags=PROD),
            day_row(d, "vol-att", "1", usage_type="EBS:VolumeUsage.gp2", rtype="volume",
                    unit="GB-Mo", qty="0.3", tags=PROD),
            day_row(d, "vol-orphan", "0.5", usage_type="EBS:VolumeUsage.gp2",
                    rtype="volume", unit="GB-Mo", qty="0.2", account="B", tags=DEV),
            day_row(d, "vol-left", "0.8", usage_type="EBS:VolumeUsage.gp2", rtype="volume",
                    unit="GB-Mo", qty="0.3", account="C", region="us-west-2"),
            day_row(d, "snap-old", "0.1", usage_type="EBS:SnapshotUsage", rtype="snapshot",
                    unit="GB-Mo", qty="0.1"),
            day_row(d, "lb-idle", "0.54", usage_type="LoadBalancerUsage",
                    rtype="loadbalancer"),
            day_row(d, "lb-idle", "0", usage_type="DataTransfer-Out-Bytes",
                    rtype="loadbalancer", unit="GB", qty="0.01"),
            day_row(d, "lb-busy", "0.54", usage_type="LoadBalancerUsage",
                    rtype="loadbalancer"),
            day_row(d, "lb-busy", "1.92", usage_type="LCUUsage", rtype="loadbalancer",
                    unit="LCU-Hrs", qty="240"),
            day_row(d, "eip-1", "0.12", usage_type="ElasticIP:IdleAddress", unit="Hrs"),
            day_row(d, "eip-2", "0.12", usage_type="PublicIPv4:InUseAddress", unit="Hrs"),
            day_row(d, "nat-1", "4.5", usage_type="NatGateway-Bytes", unit="GB", qty="100",
                    service="Amazon Virtual Private Cloud", category="Networking"),
            day_row(d, "i-old", "2.4", usage_type="BoxUsage:c4.large", rtype="instance"),
            day_row(d, "i-dev", "1", usage_type="BoxUsage:m5.large", rtype="instance",
                    tags=DEV),
        ]
        if d.day <= 10:
            rows.append(day_row(d, "i-stop", "3", usage_type="BoxUsage:m5.large",
                                rtype="instance", account="C", region="us-west-2"))
        if d.day >= 20:
            rows.append(day_row(d, "snap-new", "0.1", usage_type="EBS:SnapshotUsage",
                                rtype="snapshot", unit="GB-Mo", qty="0.1"))
        if not weekend:
            rows.append(day_row(d, "i-devsched", "1", usage_type="BoxUsage:m5.large",
                                rtype="instance", tags=DEV))
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


SETTINGS = {"optimize": {"waste.old-snapshot": {"max_age_days": 20},
                         "waste.weekend-schedule": {"window_days": 14}}}


def build_store(path: Path, rows: list[dict[str, Any]], *, allocated: bool = True) -> Store:
    st = Store(path)
    ingest(st, [write_csv(path.with_suffix(".csv"), rows)])
    if allocated:
        allocate(st, settings_from(SETTINGS))
    return st


@pytest.fixture(scope="module")
def waste_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    st = build_store(tmp_path_factory.mktemp("waste") / "store.duckdb", waste_rows())
    yield st
    st.close()


def found(st: Store, name: str, settings: dict[str, Any] | None = None,
          as_of: date | None = AS_OF) -> dict[str, Decimal]:
    recs = run(st, settings_from(SETTINGS if settings is None else settings), names=[name],
               as_of=as_of)
    assert all(r.kind == name for r in recs)
    return {r.resource: r.monthly_savings for r in recs}


def test_unattached_volume(waste_store: Store) -> None:
    assert found(waste_store, "waste.unattached-volume") == {
        "vol-orphan": Decimal("15.218750000000")}


def test_stopped_instance_storage(waste_store: Store) -> None:
    assert found(waste_store, "waste.stopped-instance-storage") == {
        "vol-left": Decimal("24.350000000000")}
    # before i-stop stopped (window ending on the 10th) its volume is not flagged
    assert found(waste_store, "waste.stopped-instance-storage", as_of=date(2026, 3, 11)) == {}


def test_old_snapshot(waste_store: Store) -> None:
    assert found(waste_store, "waste.old-snapshot") == {"snap-old": Decimal("3.043750000000")}
    # with the default 90 days nothing in four weeks of data is old
    assert found(waste_store, "waste.old-snapshot", {}) == {}


def test_idle_load_balancer(waste_store: Store) -> None:
    assert found(waste_store, "waste.idle-load-balancer") == {
        "lb-idle": Decimal("16.436250000000")}


def test_idle_public_ip(waste_store: Store) -> None:
    assert found(waste_store, "waste.idle-public-ip") == {"eip-1": Decimal("3.652500000000")}


def test_transfer_hotspot(waste_store: Store) -> None:
    assert found(waste_store, "waste.transfer-hotspot") == {
        "nat-1": Decimal("34.242187500000")}
    higher = {"optimize": {"waste.transfer-hotspot": {"min_monthly_cost": 200}}}
    assert found(waste_store, "waste.transfer-hotspot", higher) == {}


def test_previous_generation(waste_store: Store) -> None:
    recs = run(waste_store, settings_from(SETTINGS), names=["waste.previous-generation"],
               as_of=AS_OF)
    assert [(r.resource, r.monthly_savings) for r in recs] == [
        ("i-old", Decimal("10.957500000000"))]
    assert recs[0].evidence["instance_type"] == "c4.large"
    assert "c6i.large" in recs[0].title
    # a ratio of 1 (same price) is no saving
    same = {"optimize": {"waste.previous-generation": {
        "successors": {"c4": {"to": "c5", "price_ratio": 1}}}}}
    assert found(waste_store, "waste.previous-generation", same) == {}


def test_weekend_schedule(waste_store: Store) -> None:
    recs = run(waste_store, settings_from(SETTINGS), names=["waste.weekend-schedule"],
               as_of=AS_OF)
    assert [(r.resource, r.category, r.monthly_savings) for r in recs] == [
        ("i-dev", "schedule", Decimal("8.696428571429"))]
    assert recs[0].evidence["environment"] == "dev"
    assert recs[0].evidence["weekend_days"] == 4


def test_weekend_schedule_needs_allocation(tmp_path: Path) -> None:
    st = build_store(tmp_path / "s.duckdb", waste_rows(), allocated=False)
    try:
        assert found(st, "waste.weekend-schedule") == {}
    finally:
        st.close()


def test_all_waste_together_and_stable_ids(waste_store: Store) -> None:
    first = run(waste_store, settings_from(SETTINGS), names=["waste"], as_of=AS_OF)
    again = run(waste_store, settings_from(SETTINGS), names=["waste"], as_of=AS_OF)
    assert [r.id for r in first] == [r.id for r in again]
    assert sum(r.monthly_savings for r in first) == Decimal("116.597366071429")
    assert len({r.id for r in first}) == len(first) == 8


def test_unknown_option_is_an_error(waste_store: Store) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        run(waste_store, settings_from({"optimize": {"waste.old-snapshot": {"max_age": 3}}}),
            names=["waste.old-snapshot"])


def test_no_rows_no_findings(tmp_path: Path) -> None:
    st = Store(tmp_path / "empty.duckdb")
    try:
        assert run(st, settings_from({}), names=["waste"]) == []
    finally:
        st.close()
