"""Compute waste from billing alone: previous-generation instance types, and non-production
resources that run all weekend (schedule candidates).

- ``waste.previous-generation``: instance hours (ConsumedUnit hours, ResourceId set) whose
  instance type names a previous-generation family; the type comes from x_UsageType
  (``BoxUsage:c4.xlarge``, ``InstanceUsage:db.m4.large``), SkuId (``EC2:M4.LARGE``) or SkuMeter,
  lower-cased, as ``[db.|cache.]<family>.<size>``. Saving: the run rate times
  ``1 - price_ratio`` of the family's successor. The default ratios are list (on-demand,
  Linux, us-east-1) price ratios of the same size; override or extend them with
  ``successors``. A ratio of 1 or more is never a saving (db.r4 -> db.r5 costs the same).
- ``waste.weekend-schedule`` (category ``schedule``): hour-billed resources (ConsumedUnit
  hours; ServiceCategory Compute, Databases, Analytics, AI and Machine Learning) whose owner
  environment is not production and that keep at least ``min_weekend_ratio`` of their
  weekday usage (ConsumedQuantity per day) on Saturdays and Sundays. The environment is the
  resource's dominant ``environment_dimension`` value in ``allocated`` (run
  ``cloudledger allocate`` first; without it nothing is flagged). Saving: the average
  weekend-day cost times 104.36 / 12 weekend days a month (stopping Friday night to Monday
  morning saves the weekend days' cost).

Rows read (usage rows): ResourceId, ResourceType, ServiceCategory, x_UsageType, SkuId,
SkuMeter, ConsumedUnit, ConsumedQuantity, EffectiveCost, ChargePeriodStart / End,
BillingCurrency, SubAccountId / BillingAccountId; and ``allocated``'s owner dimension.

Options::

    optimize:
      waste.previous-generation:
        window_days: 14
        successors: {m4: {to: m6i, price_ratio: 0.96}}   # merged over the defaults
      waste.weekend-schedule:
        window_days: 28
        min_weekend_ratio: 0.5
        environment_dimension: environment
        production: [prod, production, prd]
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from cloudledger.optimize.owners import owners_of
from cloudledger.optimize.recommenders.waste_base import (
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

#: weekend days in an average month
WEEKEND_DAYS = Decimal("365.25") * 2 / 7 / 12
#: an instance type in x_UsageType / SkuId / SkuMeter text: [db.|cache.]<family>.<size>
TYPE = (r"(?:^|[:\s])((?:db\.|cache\.)?[a-z][a-z0-9-]*\.(?:nano|micro|small|medium|large|"
        r"[0-9]*xlarge|metal))")


class Successor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str
    price_ratio: Decimal = Field(gt=0)


#: previous-generation family -> current one and its price ratio (same size, on-demand
#: Linux, us-east-1 list prices)
SUCCESSORS: dict[str, Successor] = {k: Successor(to=v[0], price_ratio=Decimal(v[1])) for k, v in {
    "t1": ("t3", "0.52"), "t2": ("t3", "0.897"), "m1": ("m6i", "0.55"), "m3": ("m6i", "0.72"),
    "m4": ("m6i", "0.96"), "c1": ("c6i", "0.65"), "c3": ("c6i", "0.81"),
    "c4": ("c6i", "0.85"), "r3": ("r6i", "0.76"), "r4": ("r6i", "0.947"),
    "i2": ("i3", "0.366"), "d2": ("d3", "0.723"), "g2": ("g4dn", "0.81"),
    "db.m3": ("db.m6i", "0.88"), "db.m4": ("db.m6i", "0.94"), "db.r3": ("db.r6i", "0.96"),
    "db.t2": ("db.t3", "0.94"), "cache.m3": ("cache.m6g", "0.82"),
    "cache.m4": ("cache.m6g", "0.88"), "cache.r3": ("cache.r6g", "0.79"),
    "cache.t2": ("cache.t3", "0.99"),
}.items()}


class PreviousGenOptions(WasteOptions):
    #: family -> {to, price_ratio}; merged over the built-in table
    successors: dict[str, Successor] = Field(default_factory=dict)


class ScheduleOptions(WasteOptions):
    window_days: int = Field(28, ge=7, le=366)
    #: weekend usage per day / weekday usage per day at or above this runs all weekend
    min_weekend_ratio: Decimal = Field(Decimal("0.5"), ge=0)
    #: the owner dimension that holds the environment
    environment_dimension: str = "environment"
    #: environment values that are production (never scheduled)
    production: list[str] = Field(default_factory=lambda: ["prod", "production", "prd"])


@recommender("waste.previous-generation", category="waste", options=PreviousGenOptions,
             description="instances of a previous-generation family (same size on the "
                         "current one costs less)")
def previous_generation(ctx: Context, opts: PreviousGenOptions) -> list[Recommendation]:
    table = SUCCESSORS | opts.successors
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    t = t.filter(in_window(t, w) & t.ResourceId.notnull()
                 & t.ConsumedUnit.lower().fill_null("").re_search(HOURS))
    name = (column(t, "x_UsageType").fill_null("") + " " + t.SkuId.fill_null("") + " "
            + t.SkuMeter.fill_null("")).lower()
    itype = name.re_extract(TYPE, 1)
    t = t.mutate(itype=itype, family=itype.re_extract(r"^(.*)\.[^.]+$", 1))
    t = t.filter(t.family.isin(sorted(table)))
    per = t.group_by(resource=t.ResourceId, family=t.family, account=t.account,
                     currency=t.BillingCurrency).aggregate(
        cost=t.EffectiveCost.sum(), hours=t.ConsumedQuantity.sum(), itype=t.itype.max())
    out = []
    for r in ctx.store.execute(per).to_pylist():
        succ = table[r["family"]]
        if succ.price_ratio >= 1:
            continue
        monthly = w.monthly(r["cost"])
        with decimal.localcontext() as c:
            c.prec = 60
            saving = (monthly * (1 - succ.price_ratio)).quantize(QUANTUM)
        if saving < opts.min_monthly_savings:
            continue
        itype = r["itype"] or r["family"]
        target = succ.to + itype[len(r["family"]):]
        out.append(Recommendation(
            kind="waste.previous-generation", category="waste", resource=r["resource"],
            title=f"move {r['resource']} from {itype} to {target}",
            monthly_savings=saving, currency=r["currency"], account=r["account"],
            evidence={"instance_type": itype, "family": r["family"], "successor": succ.to,
                      "price_ratio": text(succ.price_ratio),
                      "cost_in_window": text(money(r["cost"])), "monthly_cost": text(monthly),
                      "hours_in_window": text(r["hours"]), **w.to_dict()},
            risk="check the AMI / engine version supports the new family (drivers, "
                 "ENA/NVMe); a commitment on the old family stops applying"))
    return out


@recommender("waste.weekend-schedule", category="schedule", options=ScheduleOptions,
             description="non-production resources that run all weekend")
def weekend_schedule(ctx: Context, opts: ScheduleOptions) -> list[Recommendation]:
    if (found := usage_window(ctx, opts.window_days)) is None:
        return []
    t, w = found
    weekdays, weekend_days = w.calendar()
    if not weekdays or not weekend_days:
        return []
    t = t.filter(in_window(t, w) & t.ResourceId.notnull()
                 & t.ConsumedUnit.lower().fill_null("").re_search(HOURS)
                 & t.ServiceCategory.isin(["Compute", "Databases", "Analytics",
                                           "AI and Machine Learning"]))
    weekend = t.ChargePeriodStart.day_of_week.index() >= 5
    per = t.group_by(resource=t.ResourceId, account=t.account,
                     currency=t.BillingCurrency).aggregate(
        weekday_qty=t.ConsumedQuantity.sum(where=~weekend),
        weekend_qty=t.ConsumedQuantity.sum(where=weekend),
        weekend_cost=t.EffectiveCost.sum(where=weekend),
        cost=t.EffectiveCost.sum(), service=t.ServiceName.max(), unit=t.ConsumedUnit.max())
    ratio = (per.weekend_qty / weekend_days) / (per.weekday_qty / weekdays)
    per = per.filter((per.weekday_qty > 0) & (ratio >= float(opts.min_weekend_ratio)))
    rows = ctx.store.execute(per).to_pylist()
    if not rows:
        return []
    env = owners_of(ctx.store, ctx.settings, [r["resource"] for r in rows],
                    dimensions=[opts.environment_dimension], as_of=ctx.as_of)
    production = {p.lower() for p in opts.production}
    out = []
    for r in rows:
        value = env[r["resource"]][opts.environment_dimension]
        if value.startswith("__") or value.lower() in production:
            continue
        with decimal.localcontext() as c:
            c.prec = 60
            per_day = Decimal(r["weekend_cost"] or 0) / weekend_days
            saving = (per_day * WEEKEND_DAYS).quantize(QUANTUM)
            kept = (Decimal(str(r["weekend_qty"])) / weekend_days) / (
                Decimal(str(r["weekday_qty"])) / weekdays)
        if saving < opts.min_monthly_savings:
            continue
        out.append(Recommendation(
            kind="waste.weekend-schedule", category="schedule", resource=r["resource"],
            title=f"stop {r['resource']} ({value}) over weekends",
            monthly_savings=saving, currency=r["currency"], account=r["account"],
            evidence={"environment": value, "service": r["service"],
                      "weekend_to_weekday_usage": text(kept.quantize(Decimal("0.001"))),
                      "weekend_cost_per_day": text(per_day.quantize(QUANTUM)),
                      "cost_in_window": text(money(r["cost"])), "unit": r["unit"],
                      "weekdays": weekdays, "weekend_days": weekend_days, **w.to_dict()},
            risk="weekend batch jobs or other time zones may use it"))
    return out
