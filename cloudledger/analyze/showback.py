"""Showback and chargeback over the ``allocated`` table.

Showback: per owner (one or more owner dimensions) and billing period, the cost split into
mutually exclusive parts that add up to the total, plus the month-over-month change (like
with like: run rates when a month's data covers only part of it)::

    direct             the owner's own usage (rules and tags), including __unallocated__/__idle__
    shared             shares of shared pools (x_AllocationKind = 'shared')
    commitment         amortized commitment: usage covered by a commitment
                       (CommitmentDiscountStatus = 'Used'; EffectiveCost carries the amortized
                       fee) and commitment purchases (non-zero only under BilledCost)
    commitment_unused  unused commitment (x_AllocationKind = 'commitment_unused' or
                       CommitmentDiscountStatus = 'Unused')
    credits            ChargeCategory = 'Credit' (negative)
    other              taxes and adjustments
    total              the sum of the above = the allocated table's total for the period

A row takes the first part that matches, in the order credits, commitment_unused, shared,
commitment, other, direct. Sums are exact decimals computed in the engine; only the
aggregated rows (owners x periods) reach Python.

Chargeback: the billable owners (values of ``settings.chargeback.billable_dimension``, never
``__unallocated__``/``__shared__``/``__idle__``, nor ``exclude``) as journal entries per
period, cost center (the owner's own for pool shares and uncoded rows) and currency, rounded
to cents with the largest-remainder method so the entries sum exactly to the rounded
billable total; the non-billable remainder is reported beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.analyze.options import allocated_table, check_dimensions, check_metric, suggest
from cloudledger.analyze.periods import compare, coverage
from cloudledger.config import IDLE, SHARED, UNALLOCATED, Settings
from cloudledger.errors import InputError, RunError
from cloudledger.store import Store

PARTS = ("direct", "shared", "commitment", "commitment_unused", "credits", "other")
ZERO = Decimal(0)


# ------------------------------------------------------------------ shared helpers
def parse_month(month: str | None) -> datetime | None:
    if month is None:
        return None
    try:
        return datetime.strptime(month, "%Y-%m")
    except ValueError:
        raise InputError(f"not a month: {month!r}", where="--month",
                         hint="write it as YYYY-MM, e.g. 2026-05") from None


def add_months(d: datetime, n: int) -> datetime:
    m = d.year * 12 + d.month - 1 + n
    return datetime(m // 12, m % 12 + 1, 1)


def period_label(d: datetime) -> str:
    return d.strftime("%Y-%m")


def _months(t: ir.Table, month: datetime | None, back: int) -> ir.Table:
    """Rows of billing period ``month`` and the ``back`` months before it (all if None)."""
    if month is None:
        return t
    return t.filter((t.BillingPeriodStart >= add_months(month, -back))
                    & (t.BillingPeriodStart < add_months(month, 1)))


def period_totals(store: Store, metric: str = "EffectiveCost",
                  month: str | None = None) -> dict[tuple[str, str], Decimal]:
    """The allocated table's total of ``metric`` per (period YYYY-MM, currency)."""
    t = _months(allocated_table(store), parse_month(month), 0)
    expr = t.group_by(period=t.BillingPeriodStart, currency=t.BillingCurrency).aggregate(
        total=t[check_metric(metric)].sum())
    return {(period_label(r["period"]), r["currency"]): r["total"] or ZERO
            for r in store.execute(expr).to_pylist()}


def part_of(t: ir.Table) -> ir.Value:
    """Which showback part each allocated row belongs to (see the module docstring)."""
    cc, kind, status = t.ChargeCategory, t.x_AllocationKind, t.CommitmentDiscountStatus
    return ibis.cases(
        (cc == "Credit", "credits"),
        ((kind == "commitment_unused") | (status == "Unused"), "commitment_unused"),
        (kind == "shared", "shared"),
        (((cc == "Usage") & (status == "Used"))
         | ((cc == "Purchase") & t.CommitmentDiscountId.notnull()), "commitment"),
        (cc.isin(["Tax", "Adjustment"]), "other"),
        else_="direct")


# ------------------------------------------------------------------ showback
@dataclass
class Showback:
    by: list[str]
    metric: str
    #: period, *by, currency, direct ... other, total, change, change_pct
    rows: list[dict[str, Any]]
    #: (period, currency) -> the allocated table's total for the period
    totals: dict[tuple[str, str], Decimal]

    @property
    def columns(self) -> list[str]:
        return ["period", *self.by, "currency", *PARTS, "total", "change", "change_pct",
                "basis", "days", "partial"]

    @property
    def periods(self) -> list[str]:
        return sorted({p for p, _ in self.totals})


def showback(store: Store, settings: Settings, *, by: list[str] | None = None,
             month: str | None = None, metric: str = "EffectiveCost") -> Showback:
    """Cost per owner and billing period, split into parts, with the month-over-month change.

    ``month`` (YYYY-MM) limits the result to one billing period; the change is still
    against the month before it. ``days`` is the time the period's data covers and
    ``partial`` says it is less than the period (see :mod:`cloudledger.analyze.periods`); when this
    or the previous period is partial the change compares run rates (``basis`` ``run
    rate``: the previous total scaled to this period's covered time), else totals.
    """
    t = allocated_table(store)
    by = check_dimensions(t, settings, by or [settings.owners.dimensions[0]])
    check_metric(metric)
    start = parse_month(month)
    t = _months(t, start, 1)
    cost = t[metric]
    part = part_of(t)
    aggs = {p: cost.sum(where=part == p) for p in PARTS}
    expr = t.group_by(period=t.BillingPeriodStart, currency=t.BillingCurrency,
                      **{d: t[d] for d in by}).aggregate(total=cost.sum(), **aggs)
    raw = store.execute(expr).to_pylist()

    present = {(r["period"], r["currency"]) for r in raw}
    by_key = {(r["period"], r["currency"], *(r[d] for d in by)): r for r in raw}
    cov = coverage(store, t)
    rows: list[dict[str, Any]] = []
    if start is not None and not any(r["period"] == start for r in raw):
        _no_month(store, month)
    for r in sorted(raw, key=lambda r: (r["period"], r["currency"], *(str(r[d]) for d in by))):
        if start is not None and r["period"] != start:
            continue
        out: dict[str, Any] = {"period": period_label(r["period"])}
        out.update({d: r[d] for d in by})
        out["currency"] = r["currency"]
        for p in PARTS:
            out[p] = r[p] if r[p] is not None else ZERO
        out["total"] = r["total"] if r["total"] is not None else ZERO
        prior_period = add_months(r["period"], -1)
        here = cov.get((r["period"], r["currency"]))
        if (prior_period, r["currency"]) in present:
            prior = by_key.get((prior_period, r["currency"], *(r[d] for d in by)))
            before, out["basis"] = compare((prior["total"] or ZERO) if prior else ZERO, here,
                                           cov.get((prior_period, r["currency"])))
            out["change"] = out["total"] - before
            out["change_pct"] = (round(float(out["change"] / before) * 100, 2)
                                 if before else None)
        else:
            out["change"] = None
            out["change_pct"] = None
            out["basis"] = None
        out["days"] = here.days if here else None
        out["partial"] = here.partial if here else False
        rows.append(out)
    # owners with cost last month and none this month: a row of zeros shows the drop
    seen = {(r["period"], r["currency"], *(r[d] for d in by)) for r in rows}
    for r in raw:
        nxt = add_months(r["period"], 1)
        key = (period_label(nxt), r["currency"], *(r[d] for d in by))
        if ((nxt, r["currency"]) in present and key not in seen and (r["total"] or ZERO)
                and (start is None or nxt == start)):
            here = cov.get((nxt, r["currency"]))
            before, basis = compare(r["total"], here, cov.get((r["period"], r["currency"])))
            gone: dict[str, Any] = {"period": period_label(nxt), **{d: r[d] for d in by},
                                    "currency": r["currency"], **dict.fromkeys(PARTS, ZERO),
                                    "total": ZERO, "change": -before, "change_pct": -100.0,
                                    "basis": basis, "days": here.days if here else None,
                                    "partial": here.partial if here else False}
            rows.append(gone)
    rows.sort(key=lambda r: (r["period"], r["currency"], -r["total"],
                             *(str(r[d]) for d in by)))

    totals = period_totals(store, metric, month)
    _check_conserved(rows, totals)
    return Showback(by=by, metric=metric, rows=rows, totals=totals)


def _no_month(store: Store, month: str | None) -> None:
    t = allocated_table(store)
    periods = store.execute(t.select(p=t.BillingPeriodStart).distinct().order_by("p"))
    labels = [period_label(p) for p in periods.column("p").to_pylist()]
    raise InputError(f"no allocated cost in {month}", where="--month",
                     hint=f"billing periods here: {', '.join(labels) or 'none'}"
                     if len(labels) <= 24 else f"billing periods here: {labels[0]} to "
                     f"{labels[-1]}")


def _check_conserved(rows: list[dict[str, Any]], totals: dict[tuple[str, str], Decimal]
                     ) -> None:
    sums: dict[tuple[str, str], Decimal] = {}
    for r in rows:
        key = (r["period"], r["currency"])
        parts = sum((r[p] for p in PARTS), ZERO)
        if parts != r["total"]:
            raise RunError(f"showback parts {parts} != total {r['total']} for {r}")
        sums[key] = sums.get(key, ZERO) + r["total"]
    for key, total in totals.items():
        if sums.get(key, ZERO) != total:
            raise RunError(f"showback total {sums.get(key, ZERO)} != allocated total {total}"
                           f" for period {key[0]} {key[1]}")


# ------------------------------------------------------------------ chargeback
@dataclass
class Chargeback:
    dimension: str
    cost_center_dimension: str
    metric: str
    precision: int
    #: journal entries: owner, cost_center, amount, currency, period
    entries: list[dict[str, Any]]
    #: per period and currency: billable (exact), journal (rounded sum), rounding,
    #: non_billable, total (= the allocated total)
    summary: list[dict[str, Any]]
    #: the excluded owners: period, owner, currency, amount
    non_billable: list[dict[str, Any]] = field(default_factory=list)


def distribute(amounts: list[Decimal], precision: int) -> list[Decimal]:
    """Round ``amounts`` to ``precision`` decimals so they sum to the rounded exact total.

    Largest-remainder method: floor every amount, then give one unit to the amounts with the
    largest remainders (ties to the earlier one) until the sum matches.
    """
    q = Decimal(1).scaleb(-precision)
    target = sum(amounts, ZERO).quantize(q, rounding=ROUND_HALF_EVEN)
    floors = [a.quantize(q, rounding=ROUND_FLOOR) for a in amounts]
    units = int((target - sum(floors, ZERO)) / q)
    order = sorted(range(len(amounts)), key=lambda i: (-(amounts[i] - floors[i]), i))
    for i in order[:units]:
        floors[i] += q
    return floors


NOT_BILLED = (UNALLOCATED, SHARED, IDLE)


def chargeback(store: Store, settings: Settings, *, month: str | None = None,
               metric: str = "EffectiveCost", precision: int = 2) -> Chargeback:
    """Journal entries for the billable owners; the excluded remainder reported beside.

    ``__unallocated__``, ``__shared__`` and ``__idle__`` are never billed (``exclude`` adds
    owners). Shares of shared pools split across another dimension than the cost center
    (they carry the pool's source code) and rows without a cost center go to the owner's:
    ``chargeback.cost_centers``, else the one code the owner's other rows carry in the
    period; an owner with neither is an error (its journal lines would not post).
    """
    cfg = settings.chargeback
    t = allocated_table(store)
    dim = check_dimensions(t, settings, [cfg.billable_dimension])[0]
    cc_dim = cfg.cost_center_dimension
    if cc_dim not in t.columns:
        raise InputError(f"the allocated table has no cost center column {cc_dim!r}",
                         where="chargeback.cost_center_dimension",
                         hint=suggest(cc_dim, settings.owners.dimensions)
                         or f"owner dimensions: {', '.join(settings.owners.dimensions)}")
    if not 0 <= precision <= 12:
        raise InputError(f"precision {precision} is out of range", where="--precision",
                         hint="use 0 to 12 decimals (2 = cents)")
    check_metric(metric)
    t = _months(t, parse_month(month), 0)
    excluded = sorted({*NOT_BILLED, *cfg.exclude})
    billable = ~t[dim].isin(excluded)
    # a share of a pool split across another dimension carries the code of the pool's
    # source rows, not the owner's: bill it to the owner's own
    foreign = [p.name for p in settings.shared if (p.dimension or settings.primary) != cc_dim]
    own = ibis.cases(((t.x_AllocationKind == "shared") & t.x_AllocationPool.isin(foreign),
                      ibis.null("string")), else_=t[cc_dim].cast("string")) if foreign \
        else t[cc_dim].cast("string")
    expr = t.group_by(period=t.BillingPeriodStart, currency=t.BillingCurrency,
                      owner=t[dim], cost_center=own,
                      billable=billable).aggregate(amount=t[metric].sum())
    raw = store.execute(expr).to_pylist()
    if month is not None and not raw:
        _no_month(store, month)
    for r in raw:
        r["period"] = period_label(r["period"])
        r["amount"] = r["amount"] if r["amount"] is not None else ZERO
    raw = _cost_centers(raw, cfg.cost_centers, dim, cc_dim)

    entries: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    non_billable: list[dict[str, Any]] = []
    for period, currency in sorted({(r["period"], r["currency"]) for r in raw}):
        group = sorted((r for r in raw if (r["period"], r["currency"]) == (period, currency)),
                       key=lambda r: (str(r["owner"]), str(r["cost_center"])))
        bill = [r for r in group if r["billable"]]
        rounded = distribute([r["amount"] for r in bill], precision)
        for r, amount in zip(bill, rounded, strict=True):
            entries.append({"owner": r["owner"], "cost_center": r["cost_center"],
                            "amount": amount, "currency": currency, "period": period})
        kept: dict[str, Decimal] = {}
        for r in group:
            if not r["billable"]:
                kept[r["owner"]] = kept.get(r["owner"], ZERO) + r["amount"]
        non_billable += [{"period": period, "owner": o, "currency": currency, "amount": a}
                         for o, a in sorted(kept.items())]
        exact = sum((r["amount"] for r in bill), ZERO)
        journal = sum(rounded, ZERO)
        summary.append({"period": period, "currency": currency, "billable": exact,
                        "journal": journal, "rounding": journal - exact,
                        "non_billable": sum(kept.values(), ZERO),
                        "total": sum((r["amount"] for r in group), ZERO),
                        "entries": len(bill)})
    return Chargeback(dimension=dim, cost_center_dimension=cc_dim, metric=metric,
                      precision=precision, entries=entries, summary=summary,
                      non_billable=non_billable)


def _cost_centers(raw: list[dict[str, Any]], defaults: dict[str, str], dim: str,
                  cc_dim: str) -> list[dict[str, Any]]:
    """Give billable rows without a real cost center the owner's; merge equal lines.

    ``raw`` holds aggregates (period x currency x owner x cost center), not billing rows."""
    codes: dict[tuple[str, str], set[str]] = {}
    for r in raw:
        if r["billable"] and r["cost_center"] not in (None, *NOT_BILLED):
            codes.setdefault((r["period"], r["owner"]), set()).add(r["cost_center"])
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    missing: dict[str, list[str]] = {}
    for r in raw:
        cc = r["cost_center"]
        if r["billable"] and cc in (None, *NOT_BILLED):
            found = codes.get((r["period"], r["owner"]), set())
            if r["owner"] in defaults:
                cc = defaults[r["owner"]]
            elif len(found) == 1:
                cc = next(iter(found))
            else:
                why = (f"{len(found)} cost centers ({', '.join(sorted(found))})" if found
                       else "no cost center")
                missing.setdefault(r["owner"], []).append(f"{r['period']}: {why}")
                continue
        elif not r["billable"]:
            cc = cc if cc is not None else UNALLOCATED
        key = (r["period"], r["currency"], r["owner"], cc, r["billable"])
        if key in merged:
            merged[key]["amount"] += r["amount"]
        else:
            merged[key] = {**r, "cost_center": cc}
    if missing:
        owners = sorted(missing)
        first = owners[0]
        raise InputError(
            f"{len(owners)} billable {dim} owner(s) have cost with no cost center to bill: "
            + "; ".join(f"{o} ({', '.join(sorted(set(missing[o]))[:3])})" for o in owners[:5])
            + (" ..." if len(owners) > 5 else ""), where="chargeback.cost_centers",
            hint=f"give each a default cost center in cloudledger.yaml, e.g. "
                 f"`chargeback: {{cost_centers: {{{first}: CC-...}}}}`, or tag its "
                 f"resources with {cc_dim}")
    return list(merged.values())
