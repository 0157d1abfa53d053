"""Explain one allocated number: direct costs by rule, shares of each pool with drivers.

    e = explain(store, settings, owner={"team": "payments"}, month="2026-05")
    e.total                 # EffectiveCost of team payments in May 2026
    e.lines                 # [Line(kind, source, pool, amount, share, driver, pool_total)]
    explain(store, resource_id="arn:aws:...")   # where one resource's cost went
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudledger.allocate.sql import Runner, lit, q
from cloudledger.config import Settings
from cloudledger.errors import InputError
from cloudledger.focus import COST_METRICS
from cloudledger.store import Store

META = {"x_AllocationRule", "x_AllocationKind", "x_AllocationPool", "x_AllocationShare",
        "x_AllocationDriver", "x_SourceRowId"}


@dataclass
class Line:
    kind: str
    source: str                  # rule (direct) or pool (shared) name
    pool: str | None
    amount: Decimal
    rows: int
    share: Decimal | None = None        # the share of the pool this owner got
    driver: str | None = None           # the driver value behind that share
    pool_total: Decimal | None = None   # the pool's whole amount in the same periods
    owner: dict[str, str] = field(default_factory=dict)


@dataclass
class Explanation:
    metric: str
    filters: dict[str, str]
    total: Decimal
    lines: list[Line]

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for ln in self.lines:
            row: dict[str, Any] = dict(ln.owner)
            row.update(kind=ln.kind, source=ln.source, pool=ln.pool, amount=ln.amount,
                       share=ln.share, driver=ln.driver, pool_total=ln.pool_total,
                       rows=ln.rows)
            out.append(row)
        return out


def explain(store: Store, settings: Settings | None = None, owner: dict[str, str] | None = None,
            month: str | None = None, resource_id: str | None = None,
            metric: str = "EffectiveCost") -> Explanation:
    """Break one owner's (and/or one month's, one resource's) cost into its parts."""
    run = Runner(store)
    if "allocated" not in store.tables():
        raise InputError("the store has no allocated table", hint="run `cloudledger allocate`")
    columns = run.columns("allocated")
    focus_cols = set(run.columns("focus"))
    dims = settings.owners.dimensions if settings else [
        c for c in columns if c not in focus_cols and c not in META]
    if metric not in COST_METRICS:
        raise InputError(f"unknown cost metric {metric!r}",
                         hint=f"use one of: {', '.join(COST_METRICS)}")
    owner = owner or {}
    where = ["TRUE"]
    for d, v in owner.items():
        if d not in dims or d not in columns:
            close = difflib.get_close_matches(d, dims, n=1)
            raise InputError(f"unknown owner dimension {d!r}" + (
                f"; did you mean {close[0]!r}?" if close else ""),
                hint=f"owner dimensions: {', '.join(dims)}")
        where.append(f"{q(d)} = {lit(v)}")
    if month is not None:
        if not re.fullmatch(r"\d{4}-\d{2}", month) or not 1 <= int(month[5:]) <= 12:
            raise InputError(f"month {month!r} is not a month (YYYY-MM)", where="--month",
                             hint="e.g. --month 2026-05")
        where.append(f"CAST(\"BillingPeriodStart\" AS VARCHAR) LIKE {lit(month + '%')}")
    if resource_id is not None:
        where.append(f"\"ResourceId\" = {lit(resource_id)}")
    if not owner and resource_id is None:
        raise InputError("say what to explain", hint="give an owner (e.g. --team payments) "
                         "or --resource ID")
    cond = " AND ".join(where)
    by_owner = resource_id is not None
    extra = [q(d) for d in dims] if by_owner else []
    group = ["\"x_AllocationKind\"", "\"x_AllocationRule\"", "\"x_AllocationPool\"", *extra]
    share_cols = ("SUM(\"x_AllocationShare\" * 1) AS share_sum, "
                  "MIN(\"x_AllocationShare\") AS share_min, MAX(\"x_AllocationShare\") AS "
                  "share_max, MIN(\"x_AllocationDriver\") AS driver_min, "
                  "MAX(\"x_AllocationDriver\") AS driver_max")
    rows = run.fetch(
        f"SELECT {', '.join(group)}, SUM({q(metric)}) AS amount, COUNT(*) AS n, {share_cols} "
        f"FROM allocated WHERE {cond} GROUP BY {', '.join(str(i + 1) for i in range(len(group)))}"
        f" ORDER BY amount DESC")
    if not rows:
        _nothing_found(run, owner, month, resource_id)
    pools = sorted({r["x_AllocationPool"] for r in rows if r["x_AllocationPool"]})
    totals: dict[str, Decimal] = {}
    if pools:
        period = (f" AND CAST(\"BillingPeriodStart\" AS VARCHAR) LIKE {lit(month + '%')}"
                  if month else "")
        for r in run.fetch(
                f"SELECT \"x_AllocationPool\" AS p, SUM({q(metric)}) AS t FROM allocated "
                f"WHERE \"x_AllocationPool\" IN ({', '.join(lit(p) for p in pools)}){period} "
                f"GROUP BY 1"):
            totals[r["p"]] = Decimal(r["t"] or 0)
    lines = []
    for r in rows:
        pool = r["x_AllocationPool"]
        same = r["share_min"] == r["share_max"] and r["driver_min"] == r["driver_max"]
        lines.append(Line(
            kind=r["x_AllocationKind"], source=r["x_AllocationRule"], pool=pool,
            amount=Decimal(r["amount"] or 0), rows=int(r["n"]),
            share=Decimal(r["share_min"]) if same and r["share_min"] is not None else None,
            driver=r["driver_min"] if same else f"{r['driver_min']} .. {r['driver_max']}",
            pool_total=totals.get(pool) if pool else None,
            owner={d.strip('"'): r[d.strip('"')] for d in extra}))
    filters = dict(owner)
    if month:
        filters["month"] = month
    if resource_id:
        filters["resource"] = resource_id
    return Explanation(metric, filters, sum((ln.amount for ln in lines), Decimal(0)), lines)


def _close(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listing(values: list[str], limit: int = 12) -> str:
    return ", ".join(values[:limit]) + (f" ... ({len(values)} in all)"
                                        if len(values) > limit else "")


def _nothing_found(run: Runner, owner: dict[str, str], month: str | None,
                   resource_id: str | None) -> None:
    """No allocated row matches: say which filter matches nothing (with a close match)."""
    for d, v in owner.items():
        if not run.fetch(f"SELECT 1 AS x FROM allocated WHERE {q(d)} = {lit(v)} LIMIT 1"):
            known = sorted(str(r["v"]) for r in run.fetch(
                f"SELECT DISTINCT {q(d)} AS v FROM allocated WHERE {q(d)} IS NOT NULL "
                f"LIMIT 100000"))
            raise InputError(f"no {d} {v!r} in the allocated table" + _close(v, known),
                             where=f"--{d.replace('_', '-')}",
                             hint=f"{d} values: {_listing(known)}")
    periods = [str(r["p"]) for r in run.fetch(
        "SELECT DISTINCT strftime(\"BillingPeriodStart\", '%Y-%m') AS p FROM allocated "
        "ORDER BY 1")]
    if month is not None and month not in periods:
        raise InputError(f"no allocated cost in {month}", where="--month",
                         hint=f"billing periods here: {_listing(periods, 24)}")
    if resource_id is not None:
        rid = lit(resource_id)
        if not run.fetch(f"SELECT 1 AS x FROM allocated WHERE \"ResourceId\" = {rid} LIMIT 1"):
            if run.fetch(f"SELECT 1 AS x FROM focus WHERE \"ResourceId\" = {rid} LIMIT 1"):
                raise InputError(
                    f"resource {resource_id!r} has no direct allocated cost: all of it is in "
                    "shared pools, which are split per pool, not per resource",
                    where="--resource", hint="explain a recipient instead, e.g. --team NAME "
                    "(its lines show each pool's share and driver)")
            near = run.fetch(
                "SELECT r, levenshtein(r, " + rid + ") AS d FROM (SELECT DISTINCT "
                "\"ResourceId\" AS r FROM focus WHERE \"ResourceId\" IS NOT NULL) AS t "
                "ORDER BY 2, 1 LIMIT 1")
            hint = "resource ids are matched exactly; see `cloudledger tags` for the top ones"
            guess = ""
            if near and near[0]["d"] <= max(3, len(resource_id) // 5):
                guess = f"; did you mean {near[0]['r']!r}?"
            raise InputError(f"no resource {resource_id!r} in the store{guess}",
                             where="--resource", hint=hint)
    what = ", ".join([f"{d}={v}" for d, v in owner.items()]
                     + ([f"resource {resource_id}"] if resource_id else []))
    cond = " AND ".join(f"{q(d)} = {lit(v)}" for d, v in owner.items()) or "TRUE"
    if resource_id is not None:
        cond += f" AND \"ResourceId\" = {lit(resource_id)}"
    own = [str(r["p"]) for r in run.fetch(
        "SELECT DISTINCT strftime(\"BillingPeriodStart\", '%Y-%m') AS p FROM allocated "
        f"WHERE {cond} ORDER BY 1")]
    if month is None:
        raise InputError(f"no allocated row has {what}", where=what,
                         hint="each matches on its own: drop one of the filters")
    raise InputError(f"{what} has no allocated cost in {month}", where="--month",
                     hint=f"its billing periods: {_listing(own, 24) or 'none'}")
