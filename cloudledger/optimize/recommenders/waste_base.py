"""What the waste recommenders share: the usage rows they read, the window, run rates and
the resource classes a billing row can belong to. Registers no recommender.

Window: the last ``window_days`` days before the end of the data (``--as-of`` if given,
else the latest ``ChargePeriodEnd`` of a usage row), and not before the first usage row.
A figure "per month" is a run rate: cost in the window / window days * 30.4375
(365.25 / 12), in the billing currency, exact decimals quantized to 1e-12.

Classes (``kind_of``), from the FOCUS columns and the provider columns the sources keep
(``x_UsageType`` of AWS CUR; a store without the column reads it as NULL):

- volume: ResourceType volume / disk / ``microsoft.compute/disks``; x_UsageType
  ``EBS:VolumeUsage*``; ChargeDescription "Managed Disks" or "PD Capacity".
- snapshot: ResourceType snapshot; x_UsageType ``EBS:SnapshotUsage``; ChargeDescription
  "snapshot" (when neither of the others says volume).
- instance: hour-based rows (ConsumedUnit Hrs / Hours / 1 Hour / hour) of ResourceType
  instance / virtual machine / vm instance, or x_UsageType ``BoxUsage:`` / ``SpotUsage:`` /
  ``DedicatedUsage:``.
- lb_hours: hour-based rows of a load balancer (ResourceType, ServiceName, x_UsageType
  ``LoadBalancerUsage``).
- idle_ip: x_UsageType ``ElasticIP:IdleAddress`` / ``ElasticIP:AdditionalAddress`` /
  ``PublicIPv4:IdleAddress``; ChargeDescription "Elastic IP address not attached", "idle
  public IPv4", GCP "Static Ip Charge".
- transfer: x_UsageType ``DataTransfer*``, ``*-Out-Bytes``, ``*-In-Bytes``,
  ``NatGateway-Bytes``, ``TransitGateway-Bytes``; GB-metered rows of ServiceCategory
  Networking; ChargeDescription "data transfer" / "egress".
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import Field

from cloudledger.optimize.registry import Context, Options

#: days in an average month (365.25 / 12)
MONTH_DAYS = Decimal("30.4375")
QUANTUM = Decimal(1).scaleb(-12)
HOURS = r"^\s*(hrs|hours?|1 hours?|node-hrs)\s*$"
GIGABYTES = r"^\s*(1 )?(gb|gigabytes?|gibibytes?)\s*$"
OPTIONAL = ("x_UsageType",)


class WasteOptions(Options):
    """Options every waste recommender has."""

    #: days of data (before --as-of / the end of the data) a finding rests on
    window_days: int = Field(14, ge=1, le=366)
    #: findings saving less than this per month (billing currency) are not reported
    min_monthly_savings: Decimal = Field(Decimal("1"), ge=0)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def days(self) -> Decimal:
        return Decimal(int((self.end - self.start).total_seconds())) / Decimal(86400)

    def monthly(self, cost: Decimal | None) -> Decimal:
        """``cost`` in the window as a monthly run rate."""
        if not cost or self.days <= 0:
            return Decimal(0)
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            return (Decimal(cost) * MONTH_DAYS / self.days).quantize(QUANTUM)

    def calendar(self) -> tuple[int, int]:
        """(weekdays, weekend days) the window spans (whole days)."""
        day, weekdays, weekend = self.start.date(), 0, 0
        while day < self.end.date() or (day == self.end.date() and self.end.time() !=
                                        datetime.min.time()):
            if day.weekday() >= 5:
                weekend += 1
            else:
                weekdays += 1
            day += timedelta(days=1)
        return weekdays, weekend

    def to_dict(self) -> dict[str, Any]:
        return {"window_start": self.start.isoformat(), "window_end": self.end.isoformat(),
                "window_days": str(self.days.quantize(Decimal("0.01")))}


def column(t: ir.Table, name: str) -> ir.StringValue:
    """A text column, NULL when the store has no such column (an ``x_`` one)."""
    if name in t.columns:
        return t[name].cast("string")
    return t.ChargeCategory.nullif(t.ChargeCategory)  # NULL, shaped as a column


def usage(ctx: Context) -> ir.Table:
    """focus usage rows (ChargeCategory Usage) before ``ctx.as_of``, with the text columns
    the classes read lower-cased and a ``kind`` column (see the module doc)."""
    t = ctx.store.focus
    t = t.filter(t.ChargeCategory == "Usage")
    if ctx.as_of is not None:
        t = t.filter(t.ChargePeriodStart < _ts(ctx.as_of))
    return t.mutate(kind=kind_of(t), account=t.SubAccountId.fill_null(t.BillingAccountId))


def kind_of(t: ir.Table) -> ir.StringValue:
    ut = column(t, "x_UsageType").lower().fill_null("")
    rtype = t.ResourceType.lower().fill_null("")
    desc = t.ChargeDescription.lower().fill_null("")
    unit = t.ConsumedUnit.lower().fill_null("")
    svc = t.ServiceName.lower().fill_null("")
    hours = unit.re_search(HOURS)
    gb = unit.re_search(GIGABYTES)
    volume = (rtype.re_search(r"^(volume|disk|microsoft\.compute/disks|persistent disk)$")
              | ut.contains("ebs:volumeusage")
              | ((ut == "") & (rtype == "") & desc.re_search(r"managed disks|pd capacity")))
    snapshot = (rtype.contains("snapshot") | ut.contains("snapshotusage")
                | ((ut == "") & (rtype == "") & desc.contains("snapshot")))
    instance = hours & (rtype.re_search(r"^(instance|virtual machine|vm instance)$")
                        | ut.re_search(r"(boxusage|spotusage|dedicatedusage):"))
    lb = hours & (rtype.re_search(r"load ?balancer") | ut.contains("loadbalancerusage")
                  | svc.re_search(r"load balanc"))
    idle_ip = (ut.re_search(r"(elasticip:idleaddress|elasticip:additionaladdress|"
                            r"publicipv4:idleaddress)")
               | desc.re_search(r"elastic ip address not attached|idle public ipv4|"
                                r"^static ip charge"))
    transfer = (ut.re_search(r"(datatransfer|-out-bytes|-in-bytes|natgateway-bytes|"
                             r"transitgateway-bytes)")
                | (gb & (t.ServiceCategory == "Networking"))
                | desc.re_search(r"data transfer|egress"))
    return ibis.cases((idle_ip, "idle_ip"), (snapshot & ~volume, "snapshot"),
                      (volume, "volume"), (lb, "lb_hours"), (instance, "instance"),
                      (transfer, "transfer"), else_=ibis.null("string"))


def window(ctx: Context, t: ir.Table, days: int) -> Window | None:
    """The window over ``t`` (usage rows), or None when there are none."""
    r = ctx.store.execute(t.aggregate(first=t.ChargePeriodStart.min(),
                                      last=t.ChargePeriodEnd.max())).to_pylist()[0]
    if r["first"] is None:
        return None
    end = _ts(ctx.as_of) if ctx.as_of is not None else _naive(r["last"])
    start = max(end - timedelta(days=days), _naive(r["first"]))
    return Window(start, end) if end > start else None


def usage_window(ctx: Context, days: int) -> tuple[ir.Table, Window] | None:
    """Usage rows (``usage``) and the last ``days`` of them (``window``); None when the
    store has no usage before ``ctx.as_of``: every waste rule starts here."""
    t = usage(ctx)
    w = window(ctx, t, days)
    return None if w is None else (t, w)


def in_window(t: ir.Table, w: Window) -> ir.BooleanValue:
    return (t.ChargePeriodStart >= w.start) & (t.ChargePeriodStart < w.end)


def money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(QUANTUM)


def text(value: Any) -> str:
    """JSON-able text of a figure (decimals exact)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _ts(d: date | datetime) -> datetime:
    return d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)


def _naive(v: datetime) -> datetime:
    return v.replace(tzinfo=None)
