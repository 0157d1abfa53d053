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
        if not re.fullmatch(r"\d{4}-\d{2}", month):
            raise InputError(f"month {month!r} is not YYYY-MM", hint="e.g. --month 2026-05")
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
