"""Billing periods the data covers only in part, and like-for-like comparisons.

A month whose data ends on the 25th holds 25 days of cost: against a whole previous month
every owner looks 20% down. ``coverage`` finds, per billing period and currency, the span
the data covers: from the first ChargePeriodStart to the last ChargePeriodEnd of its usage
rows (``ChargeCategory = 'Usage'``; monthly fees and purchases span the whole period however
far the data goes), clipped to the billing period; all rows with a charge period when there
is no usage. Rows whose charge period is empty (end <= start) say nothing about coverage; a
period with nothing else has unknown coverage and is never flagged.

``compare`` then puts two periods on the same footing: when either is partial, the previous
total is scaled to the current period's covered time (the run rate: previous / its covered
seconds * current covered seconds), else totals are compared as they are.

    cov = coverage(store, store.table("allocated"))    # {(period start, currency): Coverage}
    before, basis = compare(prev_total, cov.get((cur, "USD")), cov.get((prev, "USD")))
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir

DAY = 86400
#: the money scale: scaled comparisons are quantized to it
QUANTUM = Decimal(1).scaleb(-12)
TOTAL, RUN_RATE = "total", "run rate"


@dataclass(frozen=True)
class Coverage:
    period: datetime            # BillingPeriodStart
    currency: str
    period_end: datetime | None  # BillingPeriodEnd
    start: datetime | None      # first covered instant (None: unknown)
    end: datetime | None        # last covered instant (exclusive)

    @property
    def seconds(self) -> int | None:
        if self.start is None or self.end is None or self.end <= self.start:
            return None
        return int((self.end - self.start).total_seconds())

    @property
    def period_seconds(self) -> int | None:
        if self.period_end is None or self.period_end <= self.period:
            return None
        return int((self.period_end - self.period).total_seconds())

    @property
    def days(self) -> Decimal | None:
        """Covered days (4 decimals), None when unknown."""
        s = self.seconds
        return None if s is None else (Decimal(s) / DAY).quantize(Decimal("0.0001"))

    @property
    def partial(self) -> bool:
        """The data covers less than the whole billing period."""
        s, whole = self.seconds, self.period_seconds
        return s is not None and whole is not None and s < whole


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value)).replace(tzinfo=None)


def coverage(store: Any, t: ir.Table) -> dict[tuple[datetime, str], Coverage]:
    """Coverage per (BillingPeriodStart, BillingCurrency) of the FOCUS-shaped table ``t``
    (one engine aggregate; a few rows per period reach Python)."""
    span = t.ChargePeriodEnd > t.ChargePeriodStart
    usage = span & (t.ChargeCategory == "Usage")
    expr = t.group_by(period=t.BillingPeriodStart, currency=t.BillingCurrency).aggregate(
        period_end=t.BillingPeriodEnd.max(),
        usage_start=t.ChargePeriodStart.min(where=usage),
        usage_end=t.ChargePeriodEnd.max(where=usage),
        any_start=t.ChargePeriodStart.min(where=span),
        any_end=t.ChargePeriodEnd.max(where=span))
    out: dict[tuple[datetime, str], Coverage] = {}
    for r in store.execute(expr).to_pylist():
        period = _ts(r["period"])
        if period is None:
            continue
        period_end = _ts(r["period_end"])
        used = r["usage_start"] is not None
        start = _ts(r["usage_start"] if used else r["any_start"])
        end = _ts(r["usage_end"] if used else r["any_end"])
        if start is not None:
            start = max(start, period)
        if end is not None and period_end is not None:
            end = min(end, period_end)
        out[(period, r["currency"])] = Coverage(period, r["currency"], period_end, start, end)
    return out


def compare(previous: Decimal, current: Coverage | None, prior: Coverage | None
            ) -> tuple[Decimal, str]:
    """The previous period's ``previous`` total on the current period's footing, and the
    basis: ``run rate`` (scaled to the current covered time) when either period is partial
    and both coverages are known, else ``total`` (unchanged)."""
    if current is None or prior is None or not (current.partial or prior.partial):
        return previous, TOTAL
    now, then = current.seconds, prior.seconds
    if now is None or then is None:
        return previous, TOTAL
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        scaled = previous * Decimal(now) / Decimal(then)
    return scaled.quantize(QUANTUM, rounding=decimal.ROUND_HALF_EVEN), RUN_RATE


def month_start(d: date | datetime) -> datetime:
    return datetime(d.year, d.month, 1)


def previous_month(d: date | datetime) -> datetime:
    return datetime(d.year - (d.month == 1), 12 if d.month == 1 else d.month - 1, 1)
