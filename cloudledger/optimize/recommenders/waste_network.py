"""Network waste from billing alone: idle load balancers, unassociated public IPs,
data-transfer hot spots.

- ``waste.idle-load-balancer``: a resource billed load-balancer hours in the window
  (ResourceType "load balancer", ServiceName "... Load Balancing", x_UsageType
  ``LoadBalancerUsage``; ConsumedUnit hours) whose traffic in the window is at most
  ``max_gb_per_day`` GB a day (ConsumedQuantity of its GB-metered rows: data processed,
  ``DataTransfer-*``) and at most ``max_lcu_per_hour`` capacity units an hour (its
  ``LCUUsage`` / "LCU" rows). Saving: the resource's whole run rate.
- ``waste.idle-public-ip``: rows charged for a public address attached to nothing: AWS
  x_UsageType ``ElasticIP:IdleAddress``, ``ElasticIP:AdditionalAddress``,
  ``PublicIPv4:IdleAddress`` (ChargeDescription "Elastic IP address not attached",
  "idle public IPv4"), GCP "Static Ip Charge" (a reserved address not in use). Azure bills
  a public IP the same whether associated or not, so its rows are not flagged. Saving: the
  run rate; resource = ResourceId (else account/region/SkuId).
- ``waste.transfer-hotspot``: resources whose data-transfer run rate (x_UsageType
  ``DataTransfer*``, ``*-Out-Bytes``, ``NatGateway-Bytes``, ``TransitGateway-Bytes``;
  GB-metered rows of ServiceCategory Networking; ChargeDescription "data transfer" /
  "egress") is at least ``min_monthly_cost`` and at least ``min_share_pct`` % of the
  billing account's transfer cost. The saving is an estimate: ``reducible_pct`` % of the
  run rate (keeping traffic in one zone, VPC endpoints instead of NAT, a CDN or
  compression in front of egress); the evidence lists the usage types behind it.

Rows read (usage rows): ResourceId, ResourceType, ServiceName, ServiceCategory,
x_UsageType, ChargeDescription, ConsumedUnit, ConsumedQuantity, EffectiveCost, SkuId,
BillingAccountId, SubAccountId, RegionId, BillingCurrency, ChargePeriodStart / End.

Options::

    optimize:
      waste.idle-load-balancer: {window_days: 14, max_gb_per_day: 1, max_lcu_per_hour: 0.05}
      waste.idle-public-ip: {window_days: 14, min_monthly_savings: 1}
      waste.transfer-hotspot: {window_days: 14, min_monthly_cost: 100, min_share_pct: 5,
                               reducible_pct: 25}
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

import ibis
from pydantic import Field

from cloudledger.optimize.recommenders.waste_base import (
    GIGABYTES,
    HOURS,
    QUANTUM,
    WasteOptions,
    column,
    in_window,
    money,
    text,
    usage_window,
)
from cloudledger.optimize.registry import Context, Recommendation, recommender


class IdleLBOptions(WasteOptions):
    #: at most this much traffic (GB a day) counts as idle
    max_gb_per_day: Decimal = Field(Decimal("1"), ge=0)
    #: at most this many load-balancer capacity units an hour count as idle
    max_lcu_per_hour: Decimal = Field(Decimal("0.05"), ge=0)


class HotspotOptions(WasteOptions):
    #: a hot spot's transfer run rate is at least this (billing currency a month)
    min_monthly_cost: Decimal = Field(Decimal("100"), ge=0)
    #: ... and at least this share of its billing account's transfer cost
    min_share_pct: Decimal = Field(Decimal("5"), ge=0, le=100)
    #: the part of a hot spot's transfer cost the saving assumes can go
    reducible_pct: Decimal = Field(Decimal("25"), ge=0, le=100)


@recommender("waste.idle-load-balancer", category="waste", options=IdleLBOptions,
             description="load balancers billed by the hour with (almost) no traffic")
def idle_load_balancer(ctx: Context, opts: IdleLBOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    t = t.filter(in_window(t, w) & t.ResourceId.notnull())
    lbs = t.filter(t.kind == "lb_hours").select(rid=t.ResourceId).distinct()
    rows = t.semi_join(lbs, t.ResourceId == lbs.rid)
    unit = rows.ConsumedUnit.lower().fill_null("")
    hours = unit.re_search(HOURS) & (rows.kind == "lb_hours")
    gb = unit.re_search(GIGABYTES)
    lcu = unit.contains("lcu") | column(rows, "x_UsageType").lower().fill_null("").contains(
        "lcuusage")
    per = rows.group_by(resource=rows.ResourceId, account=rows.account,
                        currency=rows.BillingCurrency).aggregate(
        cost=rows.EffectiveCost.sum(), hours=rows.ConsumedQuantity.sum(where=hours),
        gb=rows.ConsumedQuantity.sum(where=gb), lcu_hours=rows.ConsumedQuantity.sum(where=lcu),
        service=rows.ServiceName.max())
    out = []
    days = w.days
    for r in ctx.store.execute(per).to_pylist():
        gb_day = Decimal(str(r["gb"] or 0)) / days
        hrs = Decimal(str(r["hours"] or 0))
        lcu_hour = Decimal(str(r["lcu_hours"] or 0)) / hrs if hrs else Decimal(0)
        monthly = w.monthly(r["cost"])
        if gb_day > opts.max_gb_per_day or lcu_hour > opts.max_lcu_per_hour or \
                monthly < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.idle-load-balancer", category="waste", resource=r["resource"],
            title=f"delete idle load balancer {r['resource']} "
                  f"({_fmt(gb_day)} GB/day, {_fmt(lcu_hour)} LCU/h)",
            monthly_savings=monthly, currency=r["currency"], account=r["account"],
            evidence={"service": r["service"], "cost_in_window": text(money(r["cost"])),
                      "monthly_cost": text(monthly), "hours_billed": text(hrs),
                      "gb_per_day": _fmt(gb_day), "lcu_per_hour": _fmt(lcu_hour),
                      **w.to_dict()},
            risk="a standby or DNS-failover target can be idle on purpose"))
    return out


@recommender("waste.idle-public-ip", category="waste", options=WasteOptions,
             description="public IP addresses billed while attached to nothing")
def idle_public_ip(ctx: Context, opts: WasteOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    t = t.filter(in_window(t, w) & (t.kind == "idle_ip"))
    key = t.ResourceId.fill_null(ibis.literal("").concat(
        t.account.fill_null("?"), "/", t.RegionId.fill_null("?"), "/",
        t.SkuId.fill_null(column(t, "x_UsageType")).fill_null("?")))
    per = t.group_by(resource=key, account=t.account, currency=t.BillingCurrency).aggregate(
        cost=t.EffectiveCost.sum(), quantity=t.ConsumedQuantity.sum(),
        unit=t.ConsumedUnit.max(), usage_type=column(t, "x_UsageType").max(),
        description=t.ChargeDescription.max())
    out = []
    for r in ctx.store.execute(per).to_pylist():
        monthly = w.monthly(r["cost"])
        if monthly < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.idle-public-ip", category="waste", resource=r["resource"],
            title=f"release unassociated public IP {r['resource']}",
            monthly_savings=monthly, currency=r["currency"], account=r["account"],
            evidence={"usage_type": r["usage_type"], "charge": r["description"],
                      "cost_in_window": text(money(r["cost"])), "monthly_cost": text(monthly),
                      "quantity_in_window": text(r["quantity"]), "unit": r["unit"],
                      **w.to_dict()},
            risk="an address allow-listed elsewhere cannot be got back once released"))
    return out


@recommender("waste.transfer-hotspot", category="waste", options=HotspotOptions,
             description="resources with the largest data-transfer bills (estimated "
                         "reducible share)")
def transfer_hotspot(ctx: Context, opts: HotspotOptions) -> list[Recommendation]:
    if (window_found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = window_found
    t = t.filter(in_window(t, w) & (t.kind == "transfer"))
    ut = column(t, "x_UsageType").fill_null(t.ServiceName)
    by_type = t.filter(t.ResourceId.notnull()).group_by(
        resource=t.ResourceId, usage_type=ut).aggregate(cost=t.EffectiveCost.sum(),
                                                        gb=t.ConsumedQuantity.sum())
    per = t.filter(t.ResourceId.notnull()).group_by(
        resource=t.ResourceId, billing=t.BillingAccountId, account=t.account,
        currency=t.BillingCurrency).aggregate(cost=t.EffectiveCost.sum(),
                                              service=t.ServiceName.max())
    totals = t.group_by(billing=t.BillingAccountId, currency=t.BillingCurrency).aggregate(
        total=t.EffectiveCost.sum())
    rows = ctx.store.execute(per.join(totals, ["billing", "currency"])).to_pylist()
    found = []
    for r in rows:
        monthly = w.monthly(r["cost"])
        share = Decimal(r["cost"]) / Decimal(r["total"]) * 100 if r["total"] else Decimal(0)
        if monthly < opts.min_monthly_cost or share < opts.min_share_pct:
            continue
        found.append((r, monthly, share))
    if not found:
        return []
    wanted = [r["resource"] for r, _, _ in found]
    detail: dict[str, list[dict[str, Any]]] = {}
    types = by_type.filter(by_type.resource.isin(wanted)).order_by(ibis.desc("cost"))
    for d in ctx.store.execute(types).to_pylist():
        detail.setdefault(d["resource"], []).append(
            {"usage_type": d["usage_type"], "cost_in_window": text(money(d["cost"])),
             "gb": text(d["gb"])})
    out = []
    for r, monthly, share in found:
        with decimal.localcontext() as c:
            c.prec = 60
            saving = (monthly * opts.reducible_pct / 100).quantize(QUANTUM)
        if saving < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.transfer-hotspot", category="waste", resource=r["resource"],
            title=f"cut data transfer of {r['resource']}: {_fmt(monthly)} "
                  f"{r['currency']}/month, {_fmt(share)}% of the account's transfer",
            monthly_savings=saving, currency=r["currency"], account=r["account"],
            evidence={"service": r["service"], "transfer_cost_in_window":
                      text(money(r["cost"])), "transfer_monthly_cost": text(monthly),
                      "share_of_account_transfer_pct": float(round(share, 2)),
                      "reducible_pct": text(opts.reducible_pct), "estimate": True,
                      "by_usage_type": detail.get(r["resource"], [])[:5], **w.to_dict()},
            risk="an estimate: how much can go depends on the traffic (same-zone "
                 "placement, VPC endpoints, caching)"))
    return out


def _fmt(d: Decimal) -> str:
    return f"{d:,.2f}"
