"""Waste in block storage, from billing alone: unattached volumes, volumes left behind by
stopped instances, old snapshots.

A bill does not say which instance a volume is attached to. What it does say: where a
volume lives (account = SubAccountId, else BillingAccountId; RegionId) and whether any
instance ran there. A volume can only be attached to an instance of its own account and
zone, so a volume billed in a place where no instance ran is attached to nothing running.

- ``waste.unattached-volume``: a volume billed in the window where no instance ran at any
  time in the store's history (up to the end of the window). Saving: its run rate.
- ``waste.stopped-instance-storage``: a volume billed in the window where instances ran
  before the window and none during it (the instances are stopped or gone, their volumes
  still bill). Saving: the volume's run rate (snapshot it and delete it, or terminate the
  instance).
- ``waste.old-snapshot``: a snapshot billed in the window that was first billed at least
  ``max_age_days`` before the end of the window. The age is from the store's billing
  history, so it is a lower bound: a store holding less than ``max_age_days`` of data
  never flags a snapshot. Saving: its run rate.

Rows read (usage rows, ``ChargeCategory = 'Usage'``): ResourceId, ResourceType,
x_UsageType (``EBS:VolumeUsage*``, ``EBS:SnapshotUsage``, ``BoxUsage:*``), ChargeDescription
("Managed Disks", "PD Capacity", "snapshot"), ConsumedUnit (hours for instances),
ConsumedQuantity, EffectiveCost, BillingCurrency, SubAccountId / BillingAccountId, RegionId,
ChargePeriodStart / ChargePeriodEnd. See ``waste_base`` for the classes.

Limits: the place is the region, not the zone (AWS CUR leaves AvailabilityZone empty on
volume rows), so a volume in a region where any instance of the account runs is never
flagged: these rules miss volumes, they do not invent them.

Options (``optimize:`` of cloudledger.yaml)::

    optimize:
      waste.unattached-volume: {window_days: 14, min_monthly_savings: 1}
      waste.stopped-instance-storage: {window_days: 14, min_monthly_savings: 1}
      waste.old-snapshot: {window_days: 14, min_monthly_savings: 1, max_age_days: 90}
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
from pydantic import Field

from cloudledger.optimize.recommenders.waste_base import (
    WasteOptions,
    Window,
    in_window,
    money,
    text,
    usage_window,
)
from cloudledger.optimize.registry import Context, Recommendation, recommender


class SnapshotOptions(WasteOptions):
    #: a snapshot first billed at least this many days before the window's end is old
    max_age_days: int = Field(90, ge=1)


def _volumes(ctx: Context, t: ir.Table, w: Window, kind: str) -> list[dict[str, Any]]:
    """Per resource of ``kind`` billed in the window: cost, quantity, first and last seen
    (history up to the window's end), with its place's instance history."""
    hist = t.filter(t.ChargePeriodStart < w.end)
    res = hist.filter((hist.kind == kind) & hist.ResourceId.notnull())
    per = res.group_by(resource=res.ResourceId, account=res.account, region=res.RegionId,
                       currency=res.BillingCurrency).aggregate(
        cost=res.EffectiveCost.sum(where=in_window(res, w)),
        quantity=res.ConsumedQuantity.sum(where=in_window(res, w)),
        unit=res.ConsumedUnit.max(),
        first_seen=res.ChargePeriodStart.min(),
        last_seen=res.ChargePeriodStart.max(),
        billed_in_window=in_window(res, w).any())
    per = per.filter(per.billed_in_window)
    inst = hist.filter((hist.kind == "instance") & (hist.ConsumedQuantity > 0))
    places = inst.group_by(account=inst.account, region=inst.RegionId).aggregate(
        instances=inst.ResourceId.nunique(),
        instances_in_window=inst.ResourceId.nunique(where=in_window(inst, w)),
        instance_last_seen=inst.ChargePeriodEnd.max())
    joined = per.left_join(places, [per.account == places.account,
                                    per.region.fill_null("") == places.region.fill_null("")])
    joined = joined.select(per, places.instances, places.instances_in_window,
                           places.instance_last_seen)
    return ctx.store.execute(joined).to_pylist()  # type: ignore[no-any-return]


def _evidence(r: dict[str, Any], w: Window, monthly: Any) -> dict[str, Any]:
    return {"account": r["account"], "region": r["region"],
            "cost_in_window": text(money(r["cost"])), "monthly_cost": text(monthly),
            "quantity_in_window": text(r["quantity"]), "unit": r["unit"],
            "first_billed": text(r["first_seen"]), "last_billed": text(r["last_seen"]),
            **w.to_dict()}


@recommender("waste.unattached-volume", category="waste", options=WasteOptions,
             description="block volumes billed where no instance ever ran (attached to "
                         "nothing)")
def unattached_volume(ctx: Context, opts: WasteOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    out = []
    for r in _volumes(ctx, t, w, "volume"):
        monthly = w.monthly(r["cost"])
        if r["instances"] or monthly < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.unattached-volume", category="waste", resource=r["resource"],
            title=f"delete unattached volume {r['resource']} (no instance ran in "
                  f"{r['account']}/{r['region']})",
            monthly_savings=monthly, currency=r["currency"], account=r["account"],
            evidence=_evidence(r, w, monthly) | {"instances_in_place": 0},
            risk="the volume may hold data: snapshot it before deleting"))
    return out


@recommender("waste.stopped-instance-storage", category="waste", options=WasteOptions,
             description="volumes still billed where every instance stopped before the "
                         "window")
def stopped_instance_storage(ctx: Context, opts: WasteOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    out = []
    for r in _volumes(ctx, t, w, "volume"):
        monthly = w.monthly(r["cost"])
        if not r["instances"] or r["instances_in_window"] or \
                monthly < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.stopped-instance-storage", category="waste", resource=r["resource"],
            title=f"snapshot and delete {r['resource']}: the {r['instances']} instance(s) "
                  f"of {r['account']}/{r['region']} stopped by "
                  f"{text(r['instance_last_seen'])[:10]}",
            monthly_savings=monthly, currency=r["currency"], account=r["account"],
            evidence=_evidence(r, w, monthly) | {
                "stopped_instances": r["instances"],
                "last_instance_hour": text(r["instance_last_seen"])},
            risk="a stopped instance may be started again; keep a snapshot"))
    return out


@recommender("waste.old-snapshot", category="waste", options=SnapshotOptions,
             description="snapshots first billed more than max_age_days ago")
def old_snapshot(ctx: Context, opts: SnapshotOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    out = []
    for r in _volumes(ctx, t, w, "snapshot"):
        age = (w.end - r["first_seen"].replace(tzinfo=None)).days
        monthly = w.monthly(r["cost"])
        if age < opts.max_age_days or monthly < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.old-snapshot", category="waste", resource=r["resource"],
            title=f"delete snapshot {r['resource']}: billed for {age} days",
            monthly_savings=monthly, currency=r["currency"], account=r["account"],
            evidence=_evidence(r, w, monthly) | {"age_days": age,
                                                 "max_age_days": opts.max_age_days},
            risk="check retention rules (backups, compliance) before deleting"))
    return out
