"""Shared-cost splits: drivers (engine aggregates), exact decimal shares (Python, over the
few driver rows), and the split itself (one engine query per pool).

Money is split by cumulative rounding in micro-units: recipient k of a row costing C gets
``round(u * S_k) - round(u * S_(k-1))`` micro-units, u = floor(C * 1e6), where ``S_k`` is
the cumulative exact decimal share (``S_n = 1``); the amounts telescope to u, and the
recipient with the largest share also takes the sub-micro rest, so the parts sum to C
exactly and each is within 1e-6 of ``C * share_k``.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cloudledger.allocate.rules import COMMITMENTS, K8S_IDLE, META, PENDING
from cloudledger.allocate.sql import (
    CALC_MONEY,
    MONEY,
    SHARE_PLACES,
    SHARE_TYPE,
    Runner,
    in_list,
    lit,
    match_sql,
    q,
)
from cloudledger.config import IDLE, SHARED, UNALLOCATED, Settings, SharedPool
from cloudledger.focus import COST_METRICS

SPECIAL = (UNALLOCATED, SHARED, IDLE)
QUANTUM = Decimal(1).scaleb(-SHARE_PLACES)


@dataclass(frozen=True)
class Key:
    """What one set of shares applies to: a billing period, a currency, a group."""

    period: str
    currency: str
    group: str | None = None
    end: str | None = None


@dataclass
class Recipient:
    owner: dict[str, str]
    driver: Decimal | None
    kind: str = "shared"
    pool: str | None = None
    sort: tuple[str, ...] = field(default_factory=tuple)


@dataclass
class ShareRow:
    key: Key
    owner: dict[str, str]
    kind: str
    pool: str | None
    rule: str
    driver: Decimal | None
    share: Decimal
    cum: Decimal
    prev: Decimal


def split_exact(key: Key, recipients: list[Recipient], rule: str,
                fallback: Recipient) -> list[ShareRow]:
    """Exact cumulative shares of the recipients with a positive driver, else ``fallback``."""
    # the largest share last: it takes the sub-micro rest of each row (see split_sql)
    live = sorted((r for r in recipients if r.driver is not None and r.driver > 0),
                  key=lambda r: (r.driver, r.sort or tuple(
                      sorted(r.owner.items()))))  # type: ignore[arg-type]
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        total = sum((r.driver for r in live if r.driver is not None), Decimal(0))
        if not live or total <= 0:
            return [ShareRow(key, fallback.owner, fallback.kind, fallback.pool, rule, None,
                             Decimal(1), Decimal(1), Decimal(0))]
        out: list[ShareRow] = []
        running = Decimal(0)
        prev = Decimal(0)
        for i, r in enumerate(live):
            assert r.driver is not None
            running += r.driver
            cum = Decimal(1) if i == len(live) - 1 else (running / total).quantize(
                QUANTUM, rounding=decimal.ROUND_HALF_EVEN)
            if cum != prev:
                out.append(ShareRow(key, r.owner, r.kind, r.pool, rule, r.driver, cum - prev,
                                    cum, prev))
            prev = cum
    return out


# ------------------------------------------------------------------ drivers
def group_sql(column: str, prefix: str = "") -> str:
    """The text a split group is keyed by ('' for NULL, so no row falls out of a join)."""
    return f"COALESCE(CAST({prefix}{q(column)} AS VARCHAR), '')"


def source(table: str) -> str:
    """A FROM item: a table name, or a parenthesized subquery with its alias."""
    return table if table.startswith("(") else q(table)


def pending_keys(run: Runner, table: str, where: str, group: str | None = None) -> list[Key]:
    g = f", {group_sql(group)} AS g" if group else ", NULL AS g"
    rows = run.fetch(
        f"SELECT CAST(\"BillingPeriodStart\" AS VARCHAR) AS p, \"BillingCurrency\" AS c{g}, "
        f"CAST(MAX(\"BillingPeriodEnd\") AS VARCHAR) AS e FROM {source(table)} WHERE {where} "
        f"GROUP BY 1, 2, 3")
    return sorted((Key(r["p"], r["c"], r["g"], r["e"]) for r in rows),
                  key=lambda k: (k.period, k.currency, k.group or ""))


def _direct(run: Runner, table: str, dim: str, basis: str, to: list[str] | None,
            extra: str = "TRUE") -> dict[tuple[str, str], list[tuple[str, Decimal]]]:
    cond = f"\"x_AllocationKind\" = 'direct' AND {q(dim)} NOT IN " \
           f"({', '.join(lit(s) for s in SPECIAL)}) AND {extra}"
    if to:
        cond += " AND " + in_list(q(dim), to)
    rows = run.fetch(
        f"SELECT CAST(\"BillingPeriodStart\" AS VARCHAR) AS p, \"BillingCurrency\" AS c, "
        f"{q(dim)} AS r, SUM({q(basis)}) AS d, COUNT(*) AS n FROM {q(table)} WHERE {cond} "
        f"GROUP BY 1, 2, 3")
    out: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for r in rows:
        out.setdefault((r["p"], r["c"]), []).append((r["r"], Decimal(r["d"] or 0)))
    return out


def _metric(run: Runner, pool: SharedPool, dim: str, keys: list[Key]
            ) -> dict[str, list[tuple[str, Decimal]]]:
    column = "product" if dim == "product" else "owner"
    periods = {(k.period, k.end) for k in keys}
    values = ", ".join(f"({lit(p)}, {lit(e)})" for p, e in sorted(periods, key=str))
    rows = run.fetch(
        f"SELECT k.p AS p, m.{column} AS r, SUM(m.value) AS d FROM metrics AS m JOIN "
        f"(VALUES {values}) AS k(p, e) ON CAST(m.date AS TIMESTAMP) >= CAST(k.p AS TIMESTAMP) "
        f"AND CAST(m.date AS TIMESTAMP) < CAST(k.e AS TIMESTAMP) "
        f"WHERE m.metric = {lit(pool.metric)} AND m.{column} IS NOT NULL GROUP BY 1, 2")
    out: dict[str, list[tuple[str, Decimal]]] = {}
    for r in rows:
        out.setdefault(r["p"], []).append((r["r"], Decimal(repr(float(r["d"] or 0)))))
    return out


def pool_shares(run: Runner, settings: Settings, table: str, pool: SharedPool,
                keys: list[Key]) -> list[ShareRow]:
    """Shares of a user-defined pool for every pending (period, currency)."""
    dim = pool.dimension or settings.primary
    fallback = Recipient({dim: SHARED}, None, "shared", pool.name)
    if pool.split == "fixed":
        pct = {k: Decimal(repr(v)) for k, v in (pool.percentages or {}).items()}
        by: Any = {(k.period, k.currency): list(pct.items()) for k in keys}
    elif pool.split == "metric":
        metric = _metric(run, pool, dim, keys)
        by = {(k.period, k.currency): [(r, d) for r, d in metric.get(k.period, [])
                                       if not pool.to or r in pool.to] for k in keys}
    elif pool.split == "even" and pool.to:
        by = {(k.period, k.currency): [(r, Decimal(1)) for r in pool.to] for k in keys}
    else:
        direct = _direct(run, table, dim, pool.basis, pool.to)
        if pool.split == "even":
            direct = {k: [(r, Decimal(1)) for r, _ in v] for k, v in direct.items()}
        by = direct
    out: list[ShareRow] = []
    for k in keys:
        recipients = [Recipient({dim: r}, d, "shared", pool.name) for r, d in
                      by.get((k.period, k.currency), [])]
        out += split_exact(k, recipients, pool.name, fallback)
    return out


def _by_owner(run: Runner, settings: Settings, table: str, where: str, group: str | None,
              extra: tuple[str, ...] = ()) -> dict[tuple[str, str, str | None], list[
                  dict[str, Any]]]:
    dims = [q(d) for d in settings.owners.dimensions]
    g = group_sql(group) if group else "NULL"
    cols = ", ".join(dims + [q(c) for c in extra])
    rows = run.fetch(
        f"SELECT CAST(\"BillingPeriodStart\" AS VARCHAR) AS _p, \"BillingCurrency\" AS _c, "
        f"{g} AS _g, {cols}, SUM(\"EffectiveCost\") AS _d FROM {q(table)} WHERE {where} "
        f"GROUP BY {', '.join(str(i) for i in range(1, 4 + len(dims) + len(extra)))}")
    out: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["_p"], r["_c"], r["_g"]), []).append(r)
    return out


def commitment_shares(run: Runner, settings: Settings, table: str, keys: list[Key]
                      ) -> list[ShareRow]:
    """Purchases follow the EffectiveCost of the usage their commitment covered."""
    dims = settings.owners.dimensions
    by = _by_owner(run, settings, table, "\"ChargeCategory\" = 'Usage' AND "
                   "\"CommitmentDiscountId\" IS NOT NULL", "CommitmentDiscountId",
                   ("x_AllocationKind", "x_AllocationPool"))
    unused = {d: settings.commitments.unused_owner.get(d, UNALLOCATED) for d in dims}
    fallback = Recipient(unused, None, "commitment_unused", None)
    out: list[ShareRow] = []
    for k in keys:
        recipients = [Recipient({d: r[d] for d in dims}, Decimal(r["_d"] or 0),
                                r["x_AllocationKind"], r["x_AllocationPool"],
                                tuple(str(r[c]) for c in (*dims, "x_AllocationKind",
                                                          "x_AllocationPool")))
                      for r in by.get((k.period, k.currency, k.group), [])]
        out += split_exact(k, recipients, "commitments", fallback)
    return out


#: Kubernetes idle is shared within its cluster: OpenCost's BillingAccountId is the cluster
#: (for EKS split cost allocation, the AWS account that runs the clusters).
IDLE_GROUP = "BillingAccountId"


def idle_shares(run: Runner, settings: Settings, table: str, keys: list[Key]
                ) -> list[ShareRow]:
    """Kubernetes idle cost, proportional to the namespaces' direct cost in the same
    billing period, currency and cluster (``IDLE_GROUP``); keys carry the group."""
    dims = settings.owners.dimensions
    by = _by_owner(run, settings, table, "\"x_AllocationRule\" = 'kubernetes' AND "
                   "\"x_AllocationKind\" = 'direct'", IDLE_GROUP)
    fallback = Recipient(dict.fromkeys(dims, IDLE), None, "idle", None)
    out: list[ShareRow] = []
    for k in keys:
        recipients = [Recipient({d: r[d] for d in dims}, Decimal(r["_d"] or 0), "shared",
                                K8S_IDLE) for r in by.get((k.period, k.currency, k.group), [])]
        out += split_exact(k, recipients, K8S_IDLE, fallback)
    return out


# ------------------------------------------------------------------ the split query
SHARES = "allocate__shares"


def shares_table(settings: Settings, shares: list[ShareRow]) -> pa.Table:
    """The shares as a small typed Arrow table (registered as ``allocate__shares``)."""
    dims = settings.owners.dimensions
    last = [i == len(shares) - 1 or shares[i + 1].key != s.key for i, s in enumerate(shares)]
    cols: dict[str, pa.Array] = {
        "_p": pa.array([s.key.period for s in shares], pa.string()),
        "_c": pa.array([s.key.currency for s in shares], pa.string()),
        "_g": pa.array([s.key.group for s in shares], pa.string())}
    for i, d in enumerate(dims):
        cols[f"_o_{i}"] = pa.array([s.owner.get(d) for s in shares], pa.string())
    cols["_kind"] = pa.array([s.kind for s in shares], pa.string())
    cols["_pool"] = pa.array([s.pool for s in shares], pa.string())
    cols["_rule"] = pa.array([s.rule for s in shares], pa.string())
    cols["_driver"] = pa.array([None if s.driver is None else str(s.driver) for s in shares],
                               pa.string())
    cols["_share"] = pa.array([s.share for s in shares], pa.decimal128(15, SHARE_PLACES))
    cols["_cum"] = pa.array([float(s.cum) for s in shares], pa.float64())
    cols["_prev"] = pa.array([float(s.prev) for s in shares], pa.float64())
    cols["_last"] = pa.array(last, pa.bool_())
    return pa.table(cols)


def split_sql(settings: Settings, focus_columns: list[str], source: str,
              group: str | None = None) -> str:
    """Rows of ``source`` (a SELECT of the labeled table) times their shares (the registered
    table ``allocate__shares``).

    Each cost C is cut once into whole micro-units u = floor(C * 1e6) (BIGINT) and a rest
    r = C - u / 1e6 in [0, 1e-6). Recipient k gets round(u * S_k) - round(u * S_(k-1))
    micro-units (IEEE double, exact for |u| < 2**53, i.e. |C| < 9e9; the same on every
    engine), and the recipient with the largest share (the last) also gets r: the parts
    add up to C exactly.
    """
    dims = settings.owners.dimensions
    costs = [c for c in focus_columns if c in COST_METRICS]
    pieces = []
    for c in costs:
        u = f"CAST(FLOOR(CAST({q(c)} AS {CALC_MONEY}) * 1000000) AS BIGINT)"
        pieces.append(f"{u} AS {q('_u_' + c)}")
    src = f"SELECT s0.*, {', '.join(pieces)} FROM ({source}) AS s0"
    cols = []
    for c in focus_columns:
        if c in COST_METRICS:
            u = f"CAST(src.{q('_u_' + c)} AS DOUBLE)"
            micro = (f"CAST(CAST(ROUND({u} * sh._cum) - ROUND({u} * sh._prev) AS BIGINT) "
                     f"AS DECIMAL(18, 0)) * CAST(0.000001 AS DECIMAL(7, 6))")
            # explicit narrow types: Spark would drop the 12th decimal of a wider sum
            rest = (f"CAST(CAST(src.{q(c)} AS {CALC_MONEY}) - CAST(CAST(src.{q('_u_' + c)} "
                    f"AS DECIMAL(18, 0)) * CAST(0.000001 AS DECIMAL(7, 6)) AS {CALC_MONEY}) "
                    f"AS {CALC_MONEY})")
            cols.append(f"CAST({micro} + CASE WHEN sh._last THEN {rest} ELSE "
                        f"CAST(0 AS {CALC_MONEY}) END AS {MONEY}) AS {q(c)}")
        else:
            cols.append(f"src.{q(c)}")
    for i, d in enumerate(dims):
        cols.append(f"COALESCE(sh._o_{i}, src.{q(d)}) AS {q(d)}")
    cols += ["sh._rule AS \"x_AllocationRule\"", "sh._kind AS \"x_AllocationKind\"",
             "sh._pool AS \"x_AllocationPool\"",
             f"CAST(sh._share AS {SHARE_TYPE}) AS \"x_AllocationShare\"",
             "sh._driver AS \"x_AllocationDriver\"",
             "src.\"x_SourceRowId\" AS \"x_SourceRowId\""]
    on = ("CAST(src.\"BillingPeriodStart\" AS VARCHAR) = sh._p AND "
          "src.\"BillingCurrency\" = sh._c")
    if group:
        on += f" AND {group_sql(group, 'src.')} = sh._g"
    return f"SELECT {', '.join(cols)} FROM ({src}) AS src JOIN {SHARES} AS sh ON {on}"


def pending(pool: str) -> str:
    return f"(\"x_AllocationKind\" = {lit(PENDING)} AND \"x_AllocationPool\" = {lit(pool)})"


def chained_match(settings: Settings, pool: SharedPool) -> str:
    """Rows a pool with an ``owner`` condition takes from the current table."""
    return (f"({match_sql(pool.match, settings, {})} AND "
            f"\"x_AllocationKind\" <> {lit(PENDING)})")


__all__ = ["COMMITMENTS", "IDLE_GROUP", "K8S_IDLE", "META", "Key", "ShareRow", "commitment_shares",
           "idle_shares", "pending", "pending_keys", "pool_shares", "split_exact",
           "split_sql"]
