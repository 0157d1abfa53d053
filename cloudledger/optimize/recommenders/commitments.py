"""commitments.purchase: how much Savings Plan / RI / CUD commitment to buy, per scope.

    optimize:
      commitments.purchase: {discount: 0.28, lookback: 30, term: 1y, payment: no}

``purchase_plans(store, options, as_of=)`` builds, from rows charged before the as-of and
inside the lookback, the on-demand-equivalent eligible usage per step (hourly where every
eligible row is at most an hour long, else daily) of each scope -- a Savings Plan per
provider, billing account and currency (spend-based commitments: AWS Savings Plans, Azure
savings plans, GCP flexible CUDs); an RI per billing account, instance family and region
(usage-based commitments: RIs, reservations, resource CUDs) -- and calls
``cloudledger.optimize.plan.plan`` once per scope. The discount is the user's own: 1 -
EffectiveCost / ListCost of the covered usage of that kind in the account (before the
as-of), else ``--discount``, else the config. Commitments already owned (``commitments``,
item 1) cover part of the usage until their known end. The recommender registered here puts
one plan per billing account in the savings ledger: the Savings Plan, or the RIs when their
plans together save more (they cover the same usage: buy one or the other).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from cloudledger.optimize.commitments import commitments, data_end
from cloudledger.optimize.plan import Existing, PlanOptions, Scope, plan
from cloudledger.optimize.registry import Context, Options, Recommendation, recommender
from cloudledger.optimize.usage import flags_sql, focus_columns, q, ts

TERMS = {"1y": 8760, "3y": 26280}
MAX_DISCOUNT = 0.95


class PurchaseOptions(Options):
    #: discount off on-demand where the billing shows none (0-1)
    discount: float | None = None
    #: days of usage before the as-of the plan rests on
    lookback: int = 30
    term: Literal["1y", "3y"] = "1y"
    payment: Literal["no", "partial", "all-upfront"] = "no"


def _money(x: float, places: str = "0.01") -> Decimal:
    return Decimal(repr(float(x))).quantize(Decimal(places)) if math.isfinite(x) else \
        Decimal("0")


def _pct(x: float) -> float:
    return round(100.0 * x, 2)


def _kind(category: str | None) -> str:
    return "savings_plan" if category == "Spend" else "reserved_instance"


def _step(store: Any, f: str, start: datetime, end: datetime) -> tuple[int, int]:
    """(step hours, rows longer than a day) of the eligible usage in the window."""
    cps, cpe = q("ChargePeriodStart"), q("ChargePeriodEnd")
    row = store.engine.fetch(
        f"WITH {f} SELECT max(epoch({cpe}) - epoch({cps})) AS span, count(*) FILTER (WHERE "
        f"epoch({cpe}) - epoch({cps}) > 86400) AS long FROM f WHERE _eligible AND {cps} >= "
        f"{ts(start)}")[0]
    span = row["span"] or 0
    return (1 if span <= 3600 else 24), int(row["long"] or 0)


def _discounts(store: Any, f: str) -> dict[tuple[str, str, str, str], float]:
    """(provider, account, currency, kind) -> 1 - EffectiveCost / ListCost of covered usage."""
    cat = q("CommitmentDiscountCategory")
    rows = store.engine.fetch(f"""WITH {f}
SELECT {q('ProviderName')} AS p, {q('BillingAccountId')} AS a, {q('BillingCurrency')} AS c,
  coalesce({cat}, 'Spend') AS k, sum({q('EffectiveCost')}) AS e, sum(_od) AS l
FROM f WHERE _covered AND _od IS NOT NULL GROUP BY ALL
UNION ALL
SELECT {q('ProviderName')}, {q('BillingAccountId')}, {q('BillingCurrency')}, 'Usage',
  sum({q('EffectiveCost')}), sum(_od)
FROM f WHERE _covered AND _od IS NOT NULL AND {cat} IS NULL GROUP BY ALL""")
    out: dict[tuple[str, str, str, str], float] = {}
    for r in rows:
        if r["l"] and r["l"] > 0:
            out[(r["p"], r["a"], r["c"], _kind(r["k"]))] = 1 - float(r["e"]) / float(r["l"])
    return out


def _series(store: Any, f: str, start: datetime, step: int) -> dict[tuple[Any, ...], Any]:
    """scope key -> (bucket index array, on-demand-equivalent cost array), both kinds."""
    unit = "hour" if step == 1 else "day"
    idx = (f"CAST((epoch(date_trunc('{unit}', {q('ChargePeriodStart')})) - "
           f"epoch({ts(start)})) / {3600 * step} AS BIGINT)")
    keys = (f"{q('ProviderName')} AS p, {q('BillingAccountId')} AS a, "
            f"{q('BillingCurrency')} AS c")
    where = f"{q('ChargePeriodStart')} >= {ts(start)} AND _od IS NOT NULL"
    tbl = store.engine.query(f"""WITH {f}
SELECT 'savings_plan' AS kind, {keys}, CAST(NULL AS VARCHAR) AS fam,
  CAST(NULL AS VARCHAR) AS reg, {idx} AS i, CAST(sum(_od) AS DOUBLE) AS od
FROM f WHERE _sp_eligible AND {where} GROUP BY ALL
UNION ALL
SELECT 'reserved_instance', {keys}, _family, {q('RegionId')}, {idx},
  CAST(sum(_od) AS DOUBLE) FROM f WHERE _ri_eligible AND {where} GROUP BY ALL""")
    cols = tbl.to_pydict()
    out: dict[tuple[Any, ...], Any] = defaultdict(lambda: ([], []))
    for k, p, a, c, fam, reg, i, od in zip(cols["kind"], cols["p"], cols["a"], cols["c"],
                                           cols["fam"], cols["reg"], cols["i"], cols["od"],
                                           strict=True):
        out[(k, p, a, c, fam, reg)][0].append(i)
        out[(k, p, a, c, fam, reg)][1].append(od)
    return dict(out)


def _owned(store: Any, f: str, start: datetime, end: datetime,
           report: Any) -> dict[tuple[Any, ...], list[tuple[str, Existing]]]:
    """Active commitments as ``Existing`` per scope key: on-demand-equivalent $/h they
    covered in the lookback (covered usage + unused cost at their own discount)."""
    ends = {r["commitment_id"]: r["end"] for r in report.commitments if r["status"] == "active"}
    if not ends:
        return {}
    cid = q("CommitmentDiscountId")
    rows = store.engine.fetch(f"""WITH {f}
SELECT {cid} AS id, min({q('ProviderName')}) AS p, min({q('BillingAccountId')}) AS a,
  min({q('BillingCurrency')}) AS c, max({q('CommitmentDiscountCategory')}) AS k,
  arg_max(_family, _od) FILTER (WHERE _covered) AS fam,
  arg_max({q('RegionId')}, _od) FILTER (WHERE _covered) AS reg,
  coalesce(sum(_od) FILTER (WHERE _covered), 0) AS od,
  coalesce(sum(_od) FILTER (WHERE _covered AND _sp_eligible), 0) AS od_sp,
  coalesce(sum({q('EffectiveCost')}) FILTER (WHERE _covered), 0) AS used,
  coalesce(sum({q('EffectiveCost')}) FILTER (WHERE _unused), 0) AS unused,
  epoch(least(max({q('ChargePeriodEnd')}), {ts(end)})) - epoch(greatest(
    min({q('ChargePeriodStart')}), {ts(start)})) AS seconds
FROM f WHERE {cid} IS NOT NULL AND {q('ChargePeriodStart')} >= {ts(start)}
  AND (_covered OR _unused) GROUP BY {cid}""")
    out: dict[tuple[Any, ...], list[tuple[str, Existing]]] = defaultdict(list)
    for r in rows:
        if r["id"] not in ends or not r["seconds"] or r["seconds"] <= 0:
            continue
        od, used, unused = float(r["od"]), float(r["used"]), float(r["unused"])
        rate = used / od if od > 0 and used > 0 else None
        equiv = od + (unused / rate if rate else 0.0)
        hours = float(r["seconds"]) / 3600
        kind = _kind(r["k"])
        stop = ends[r["id"]]
        expires = None if stop is None else max(0.0, (stop - end).total_seconds() / 3600)
        sp_key = ("savings_plan", r["p"], r["a"], r["c"], None, None)
        if kind == "savings_plan":
            out[sp_key].append((r["id"], Existing(equiv / hours, expires)))
            continue
        out[("reserved_instance", r["p"], r["a"], r["c"], r["fam"], r["reg"])].append(
            (r["id"], Existing(equiv / hours, expires)))
        share = float(r["od_sp"]) / od if od > 0 else 0.0
        if share > 0:  # an RI covering compute usage the Savings Plan would cover too
            out[sp_key].append((r["id"], Existing(share * equiv / hours, expires)))
    return dict(out)


def purchase_plans(store: Any, options: PurchaseOptions | None = None, *,
                   as_of: Any = None) -> list[dict[str, Any]]:
    """One JSON-ready plan per scope (see the module docstring), largest saving first."""
    opts = options or PurchaseOptions()
    columns = focus_columns(store)
    end = data_end(store, as_of)
    if end is None:
        return []
    f = (f"f AS (SELECT * FROM ({flags_sql(columns)}) WHERE {q('ChargePeriodStart')} < "
         f"{ts(end)})")
    first = store.engine.fetch(f"WITH {f} SELECT min({q('ChargePeriodStart')}) AS s FROM f "
                               "WHERE _eligible")[0]["s"]
    if first is None:
        return []
    want = end - timedelta(days=opts.lookback)
    start = max(want, first)
    step, long_rows = _step(store, f, start, end)
    start = datetime(start.year, start.month, start.day, start.hour if step == 1 else 0)
    n = max(1, math.ceil((end - start).total_seconds() / 3600 / step))
    discounts = _discounts(store, f)
    report = commitments(store, as_of=end)
    owned = _owned(store, f, start, end, report)
    series = _series(store, f, start, step)
    plan_opts = PlanOptions(term_hours=TERMS[opts.term], lookback_hours=opts.lookback * 24,
                            step_hours=step)
    out: list[dict[str, Any]] = []
    for key in sorted(set(series) | set(owned), key=lambda k: tuple(str(x) for x in k)):
        kind, provider, account, currency, fam, reg = key
        notes: list[str] = []
        if long_rows:
            notes.append(f"{long_rows} eligible row(s) longer than a day are counted on their "
                         "first day")
        scope_obj = {"kind": kind, "provider": provider, "billing_account": account}
        if kind == "reserved_instance":
            scope_obj |= {"family": fam, "region": reg}
        scope = Scope(kind, str(account), fam, reg)  # type: ignore[arg-type]
        base = {"scope": scope_obj, "scope_key": f"{provider}/{scope.key}",
                "currency": currency, "term": opts.term, "payment": opts.payment}
        if kind == "reserved_instance" and fam is None:
            cost = sum(series.get(key, ([], []))[1])
            owned_here = owned.get(key, [])
            out.append(base | _skipped(
                f"{cost:,.2f} {currency} of eligible usage names no instance family "
                "(SkuPriceDetails, x_UsageType, x_MeterSubcategory): no RI plan for it; the "
                "Savings Plan of the account covers it" + (
                    f" ({len(owned_here)} owned commitment(s) cover usage here)"
                    if owned_here else ""), notes))
            continue
        d, source = discounts.get((provider, account, currency, kind)), "billing"
        if d is None:
            other = "reserved_instance" if kind == "savings_plan" else "savings_plan"
            d = discounts.get((provider, account, currency, other))
            source = f"billing ({other.replace('_', ' ')}s)"
        if d is not None and not 0 < d < MAX_DISCOUNT:
            notes.append(f"the discount in your billing ({d:.2%}) is not between 0 and "
                         f"{MAX_DISCOUNT:.0%}: not used")
            d = None
        if d is None:
            d, source = opts.discount, "option"
        if d is None:
            out.append(base | _skipped(
                "no covered usage of this kind shows a discount and none is set: skipped",
                notes, hint="pass --discount 0.28 or set optimize: commitments.purchase: "
                            "discount"))
            continue
        idx, od = series.get(key, ([], []))
        usage = np.zeros(n)
        if idx:
            i = np.asarray(idx, dtype=np.int64)
            ok = (i >= 0) & (i < n)
            np.add.at(usage, i[ok], np.asarray(od, dtype=np.float64)[ok])
        mine = owned.get(key, [])
        if mine and not idx:
            notes.append(f"{len(mine)} commitment(s) in this scope but no eligible usage in "
                         "the lookback")
        p = plan(scope, usage, d, existing=[e for _, e in mine], options=plan_opts)
        out.append(base | _render(p, d, source, start, step, mine, notes))
    return sorted(out, key=lambda r: (-r["expected_monthly_savings"], r["scope_key"]))


def _skipped(reason: str, notes: list[str], hint: str | None = None) -> dict[str, Any]:
    return {"skipped": True, "discount": None, "discount_source": None,
            "hourly_commitment": Decimal("0"), "hourly_cost": Decimal("0"),
            "expected_monthly_savings": Decimal("0"), "utilization": None,
            "utilization_pct": None, "coverage": None, "coverage_pct": None,
            "break_even_utilization": None, "break_even_utilization_pct": None,
            "tranches": [], "scenarios": [], "existing": [],
            "notes": notes + [reason] + ([hint] if hint else [])}


def _render(p: Any, d: float, source: str, start: datetime, step: int,
            mine: list[tuple[str, Existing]], notes: list[str]) -> dict[str, Any]:
    return {
        "skipped": False, "discount": round(d, 4), "discount_source": source,
        "hourly_commitment": _money(p.hourly_commitment, "0.001"),
        "hourly_cost": _money(p.hourly_cost, "0.001"),
        "expected_monthly_savings": _money(p.expected_monthly_savings),
        "staged_monthly_savings": _money(p.staged_monthly_savings),
        "utilization": round(p.utilization, 4), "utilization_pct": _pct(p.utilization),
        "coverage": round(p.coverage, 4), "coverage_pct": _pct(p.coverage),
        "coverage_before_pct": _pct(p.coverage_before),
        "break_even_utilization": round(p.break_even_utilization, 4),
        "break_even_utilization_pct": _pct(p.break_even_utilization),
        "lookback_hours": p.lookback_hours, "step_hours": step,
        "lookback_hourly_commitment": _money(p.lookback_hourly_commitment, "0.001"),
        "trend_per_day": _money(p.trend_per_day, "0.0001"),
        "tranches": [{"start_hour": t.start_hour,
                      "added_hourly_commitment": _money(t.added_hourly_commitment, "0.001"),
                      "hourly_commitment": _money(t.hourly_commitment, "0.001")}
                     for t in p.tranches],
        "scenarios": [{"usage_drop_pct": _pct(s.usage_drop),
                       "expected_monthly_savings": _money(s.expected_monthly_savings),
                       "utilization_pct": _pct(s.utilization),
                       "coverage_pct": _pct(s.coverage)} for s in p.scenarios],
        "existing": [{"commitment_id": cid,
                      "hourly_commitment": _money(e.hourly_commitment, "0.001"),
                      "expires_in_days": None if e.expires_in_hours is None
                      else round(e.expires_in_hours / 24, 1)} for cid, e in mine],
        "notes": notes + list(p.notes) + (
            [f"{sum(1 for _, e in mine if e.expires_in_hours is None)} owned commitment(s) "
             "with no end in the data are assumed to outlast the term"]
            if any(e.expires_in_hours is None for _, e in mine) else []),
    }


@recommender("commitments.purchase", category="commitments", options=PurchaseOptions,
             description="commitment purchases (Savings Plans per billing account, RIs per "
                         "family and region) sized on your own eligible usage")
def purchase(ctx: Context, opts: PurchaseOptions) -> list[Recommendation]:
    return to_recommendations(purchase_plans(ctx.store, opts, as_of=ctx.as_of))


def to_recommendations(all_plans: list[dict[str, Any]]) -> list[Recommendation]:
    """The ledger's findings: per billing account and currency, the Savings Plan or the RI
    plans, whichever saves more (they cover the same usage)."""
    plans = [p for p in all_plans if not p["skipped"] and p["expected_monthly_savings"] > 0]
    by_account: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list))
    for p in plans:
        s = p["scope"]
        by_account[(s["provider"], s["billing_account"], p["currency"])][s["kind"]].append(p)
    out: list[Recommendation] = []
    for (provider, account, currency), kinds in sorted(by_account.items()):
        sp = sum((p["expected_monthly_savings"] for p in kinds["savings_plan"]), Decimal(0))
        ri = sum((p["expected_monthly_savings"] for p in kinds["reserved_instance"]),
                 Decimal(0))
        chosen = kinds["savings_plan"] if sp >= ri else kinds["reserved_instance"]
        other = "reserved instances" if sp >= ri else "a savings plan"
        for p in chosen:
            drop = next((s for s in p["scenarios"] if s["expected_monthly_savings"] < 0), None)
            what = ("Savings Plan" if p["scope"]["kind"] == "savings_plan" else
                    f"RI {p['scope']['family']} in {p['scope']['region']}")
            out.append(Recommendation(
                kind="commitments.purchase", category="commitments",
                resource=p["scope_key"],
                title=f"buy a {p['term']} {what} of {p['hourly_commitment']} {currency}/h "
                      f"on-demand equivalent ({provider} account {account})",
                monthly_savings=p["expected_monthly_savings"], currency=currency,
                account=account,
                evidence={k: p[k] for k in ("scope", "term", "payment", "discount",
                                            "discount_source", "hourly_commitment",
                                            "hourly_cost", "utilization_pct", "coverage_pct",
                                            "break_even_utilization_pct", "tranches",
                                            "scenarios", "existing", "notes")}
                | {"alternative": f"{other} would save {min(sp, ri)} {currency}/month"},
                risk=(f"loses money if usage drops {drop['usage_drop_pct']:g}%"
                      if drop else None)))
    return out
