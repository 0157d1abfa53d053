"""Billing rows for one month, expanded from the catalog with numpy (no Python row loops).

Money is integer arithmetic in units of 1e-12 dollars (unit price at 1e-8 times quantity at
1e-4), so ListCost = ListUnitPrice x PricingQuantity and the commitment invariant
(Used + Unused EffectiveCost = purchase BilledCost) hold exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cloudledger import focus
from cloudledger.demo import company as co
from cloudledger.demo.arrow import COST_SCALE, MONEY, QTY_SCALE, QUANTITY, decimal, strings
from cloudledger.demo.arrow import timestamps as ts
from cloudledger.demo.resources import (
    CREDIT,
    PURCHASE,
    SUPPORT,
    TAX,
    UNUSED,
    USAGE,
    Catalog,
    commitment_columns,
)

_CENT = 10**(COST_SCALE - 2)
_PRICING = strings(["Standard", "Dynamic", "Committed", None])
_STATUS = strings([None, "Used", "Unused"])


@dataclass
class Window:
    epoch: np.datetime64          # first day generated
    days: int
    month_starts: np.ndarray      # day offsets of month starts, plus the end
    anomalies: list[tuple[int, int, int, float]]   # start day, days, service index, factor

    def season(self) -> np.ndarray:
        """Retail holiday season: Black Friday peak and December uplift, per day."""
        d = self.epoch + np.arange(self.days).astype("timedelta64[D]")
        doy = (d - d.astype("datetime64[Y]")).astype(int)
        return 1 + 0.45 * np.exp(-(((doy - 331) / 6.0) ** 2)) + 0.15 * ((doy >= 335) &
                                                                        (doy <= 358))


def commitment_daily(cat: Catalog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per commitment: first day (offset, set by the caller), daily used and committed cost."""
    n = len(co.COMMITMENTS)
    covered = cat.commitment >= 0
    used = np.zeros(n, dtype=np.int64)
    np.add.at(used, cat.commitment[covered & (cat.kind == USAGE)],
              (cat.covered_qty * cat.committed_p)[covered & (cat.kind == USAGE)])
    amount = np.array([int(round(u / c.utilization)) for u, c in zip(  # 5 commitments
        used.tolist(), co.COMMITMENTS, strict=True)], dtype=np.int64)
    return np.zeros(n, dtype=np.int64), used, amount


def month(cat: Catalog, win: Window, m: int, rng: np.random.Generator,
          commit_start: np.ndarray) -> pa.Table:
    """Every FOCUS row of month ``m`` (usage, unused, purchases, support, tax, credits)."""
    d0, d1 = int(win.month_starts[m]), int(win.month_starts[m + 1])
    # ---- usage: one row per active usage template per day
    usage = np.flatnonzero((cat.kind == USAGE) & (cat.start_day < d1))
    first = np.maximum(cat.start_day[usage], d0)
    count = d1 - first
    tpl = np.repeat(usage, count)
    offsets = np.repeat(np.cumsum(count) - count, count)
    day = np.repeat(first, count) + (np.arange(len(tpl)) - offsets)
    weekend = ((win.epoch.astype(np.int64) + day + 3) % 7) >= 5
    factor = (np.exp(cat.growth[tpl] * (day - win.days) / 365.0)
              * (1 - cat.weekend[tpl] * weekend)
              * np.where(cat.seasonal[tpl], win.season()[day], 1.0)
              * rng.lognormal(0.0, cat.noise[tpl]))
    covered = cat.covered_qty[tpl] > 0
    for start, length, service, mult in win.anomalies:
        hit = (cat.service[tpl] == service) & (day >= start) & (day < start + length)
        factor = np.where(hit & ~covered, factor * mult, factor)
    list_p = cat.list_p[tpl]
    qty = np.where(covered, cat.covered_qty[tpl], np.maximum(np.rint(
        cat.base_cost[tpl] * factor / list_p * 10**(QTY_SCALE + 8)), 1).astype(np.int64))
    cid = np.where(covered & (day >= commit_start[cat.commitment[tpl]]), cat.commitment[tpl], -1)
    committed = cid >= 0
    effective = qty * np.where(committed, cat.committed_p[tpl], cat.effective_p[tpl])
    billed = np.where(committed, 0, effective)
    cq = np.where(committed, np.where(
        np.array([c.category == "Spend" for c in co.COMMITMENTS])[np.maximum(cid, 0)],
        effective, qty * 10**(COST_SCALE - QTY_SCALE)), 0)
    parts = [dict(tpl=tpl, start=day, end=day + 1, list=qty * list_p,
                  contracted=qty * cat.contracted_p[tpl], effective=effective, billed=billed,
                  qty=qty, qty_valid=np.ones(len(tpl), bool),
                  pricing=np.where(committed, 2, np.where(cat.dynamic[tpl], 1, 0)),
                  cid=cid, status=np.where(committed, 1, 0), cq=cq)]
    # ---- commitments: Unused per day, Purchase per month
    _, used, amount = commitment_daily(cat)
    for c in range(len(co.COMMITMENTS)):  # 5 commitments, vectorized over days
        days = np.arange(max(d0, int(commit_start[c])), d1)
        if not len(days):
            continue
        unused_t = int(np.flatnonzero((cat.kind == UNUSED) & (cat.commitment == c))[0])
        purchase_t = int(np.flatnonzero((cat.kind == PURCHASE) & (cat.commitment == c))[0])
        waste = np.full(len(days), amount[c] - used[c], dtype=np.int64)
        parts.append(_special(unused_t, days, days + 1, waste, effective=waste, pricing=2,
                              cid=c, status=2))
        total = np.array([amount[c] * len(days)], dtype=np.int64)
        parts.append(_special(purchase_t, days[:1], np.array([d1]), total,
                              effective=np.zeros(1, np.int64), pricing=0, cid=c))
    # ---- monthly support, credits, tax per provider (from this month's billed totals)
    billed_by = np.zeros(3)
    for part in parts:
        billed_by += np.bincount(cat.provider[part["tpl"]], weights=part["billed"] / 10**COST_SCALE,
                                 minlength=3)
    for kind in (SUPPORT, CREDIT, TAX):
        for t in np.flatnonzero(cat.kind == kind):  # one template per provider
            p = int(cat.provider[t])
            rate = float(cat.base_cost[t])
            if kind == SUPPORT:
                value = rate * billed_by[p] if rate < 1 else rate
            elif kind == CREDIT:
                value = -(rate * billed_by[p] if rate < 1 else rate)
                if p == 0 and m >= 6:
                    continue
            else:
                value = rate * billed_by[p]
            cents = np.array([int(round(value * 100)) * _CENT], dtype=np.int64)
            parts.append(_special(int(t), np.array([d0]), np.array([d1]), cents,
                                  effective=cents, pricing=3))
            billed_by[p] += value
    return _table(cat, parts, win, d0, d1)


def _special(t: int, start: np.ndarray, end: np.ndarray, cost: np.ndarray, *,
             effective: np.ndarray, pricing: int, cid: int = -1, status: int = 0
             ) -> dict[str, np.ndarray]:
    n = len(start)
    billed = cost if status == 0 else np.zeros(n, np.int64)
    return dict(tpl=np.full(n, t), start=start, end=end, list=cost, contracted=cost,
                effective=effective, billed=billed, qty=np.zeros(n, np.int64),
                qty_valid=np.zeros(n, bool), pricing=np.full(n, pricing),
                cid=np.full(n, cid), status=np.full(n, status),
                cq=np.zeros(n, np.int64))


def _table(cat: Catalog, parts: list[dict[str, np.ndarray]], win: Window, d0: int,
           d1: int) -> pa.Table:
    a = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(cat.provider[a["tpl"]], kind="stable")  # files split by provider
    a = {k: v[order] for k, v in a.items()}
    n = len(a["tpl"])
    t = cat.table.take(pa.array(a["tpl"]))
    month_text = str(win.epoch + np.timedelta64(d0, "D"))[:7].replace("-", "")
    prefixes = cat.table.column("x_InvoicePrefix").combine_chunks().dictionary.to_pylist()
    invoice = strings([f"{p}{month_text}" for p in prefixes]).dictionary
    inv_idx = t.column("x_InvoicePrefix").combine_chunks().indices
    t = t.drop_columns(["x_InvoicePrefix"])
    commit = commitment_columns().take(pa.array(a["cid"] + 1))
    effective = decimal(a["effective"], COST_SCALE)
    qty = decimal(a["qty"], QTY_SCALE, QUANTITY, valid=a["qty_valid"])
    cq_valid = a["cid"] >= 0
    cq = decimal(a["cq"], COST_SCALE, QUANTITY, valid=cq_valid & (a["status"] == 1))
    cols: dict[str, pa.Array] = {
        "BilledCost": decimal(a["billed"], COST_SCALE),
        "EffectiveCost": effective,
        "ListCost": decimal(a["list"], COST_SCALE),
        "ContractedCost": decimal(a["contracted"], COST_SCALE),
        "PricingCurrencyEffectiveCost": effective,
        "PricingQuantity": qty, "ConsumedQuantity": qty,
        "ChargePeriodStart": ts(a["start"], win.epoch),
        "ChargePeriodEnd": ts(a["end"], win.epoch),
        "BillingPeriodStart": ts(np.full(n, d0), win.epoch),
        "BillingPeriodEnd": ts(np.full(n, d1), win.epoch),
        "InvoiceId": pa.DictionaryArray.from_arrays(inv_idx, invoice),
        "PricingCategory": _PRICING.take(pa.array(a["pricing"])),
        "CommitmentDiscountStatus": _STATUS.take(pa.array(a["status"])),
        "CommitmentDiscountQuantity": cq,
    }
    for name in commit.column_names:
        cols[name] = commit.column(name).combine_chunks()
    for name in t.column_names:
        cols[name] = t.column(name).combine_chunks()
    out = []
    for name in focus.NAMES:
        if name in cols:
            out.append(cols[name])
        else:  # e.g. CapacityReservationId: not used by this company
            out.append(pa.nulls(n, MONEY if focus.BY_NAME[name].kind == "decimal"
                                else pa.string()))
    return pa.table(out, names=list(focus.NAMES))
