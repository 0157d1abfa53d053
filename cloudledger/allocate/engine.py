"""Allocation: label every focus row, split pools, check conservation, swap in atomically.

    result = allocate(store, settings)
    result.conservation      # per billing period, currency and metric: focus vs allocated
    result.named_share()     # share of EffectiveCost on named owners (first dimension)

Steps (each an engine query; only aggregates come back to Python):

1. label (``rules.label_sql``): owner values from tags, Kubernetes and rules; kinds; pool
   claims. Written as the next ``allocated`` table.
2. commitments: purchases follow the usage their commitment covered (by EffectiveCost).
3. Kubernetes idle: shared to the namespaces of the same cluster (BillingAccountId) by
   their cost (``kubernetes.idle: share``).
4. shared pools, in run order (``config.pool_order``).
5. conservation: per billing period and currency, the four cost metrics of the new table
   equal focus to 1e-6, else ``RunError`` and nothing is written.

Shared pools are split at the pool grain (``GRAIN``): their rows are summed first, so a
pool costs (groups x recipients) rows, not (rows x recipients). Both engines build the next
table, check it, then swap it in (DuckDB: ``DROP`` + ``RENAME`` in one transaction; the
next table is dropped on any error).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from cloudledger.allocate import pools as P
from cloudledger.allocate.rules import META, label_sql
from cloudledger.allocate.sql import MONEY, SHARE_TYPE, Runner, lit, q, tag_keys
from cloudledger.config import IDLE, SHARED, UNALLOCATED, Settings, SharedPool, pool_order
from cloudledger.errors import InputError, RunError
from cloudledger.focus import COST_METRICS
from cloudledger.store import Store
from cloudledger.store.reconcile import RECONCILE_TOLERANCE

NEXT = "allocated__next"
POOLED = "allocate__pooled"
#: The grain shared pools are split at: their rows are summed per these columns (with the
#: owner dimensions and the allocation rule), per-resource columns become NULL, the charge
#: period spans the group's (MIN start, MAX end).
GRAIN = ("BillingPeriodStart", "BillingPeriodEnd", "BillingCurrency", "BillingAccountId",
         "ProviderName", "ServiceName", "ServiceCategory", "ChargeCategory")
#: Test seam: called just before the new table replaces the old one.
def _nothing() -> None:
    return None


before_commit: Callable[[], None] = _nothing


@dataclass
class Conservation:
    period: str
    currency: str
    metric: str
    focus_total: Decimal
    allocated_total: Decimal

    @property
    def difference(self) -> Decimal:
        return self.allocated_total - self.focus_total

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= RECONCILE_TOLERANCE


@dataclass
class AllocationResult:
    rows_in: int
    rows_out: int
    conservation: list[Conservation]
    #: (kind, first owner dimension value) -> EffectiveCost, over all periods/currencies
    by_kind: dict[str, Decimal] = field(default_factory=dict)
    named: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    pools: list[str] = field(default_factory=list)

    def named_share(self) -> float:
        """Share of EffectiveCost (absolute) on named owners of the first dimension."""
        return float(self.named / self.total) if self.total else 1.0

    def summary(self) -> list[dict[str, object]]:
        return [{"period": c.period[:7], "currency": c.currency, "metric": c.metric,
                 "focus": c.focus_total, "allocated": c.allocated_total,
                 "difference": c.difference} for c in self.conservation]


# ------------------------------------------------------------------ checks on the data
def check_data(run: Runner, settings: Settings) -> None:
    """Checks that need the store: columns named by rules exist, matched tag keys occur,
    metrics exist. Raises InputError before anything is written."""
    columns = run.columns("focus")
    matches = [(("rules", i, "match"), f"rule {r.name!r}", r.match)
               for i, r in enumerate(settings.rules)]
    matches += [(("shared", i, "match"), f"pool {p.name!r}", p.match)
                for i, p in enumerate(settings.shared)]
    for path, what, m in matches:
        for col in (m.column or {}):
            if col not in columns:
                close = difflib.get_close_matches(col, columns, n=1)
                raise InputError(
                    f"{what} matches column {col!r}, which focus does not have" + (
                        f"; did you mean {close[0]!r}?" if close else ""),
                    where=settings.where(*path, "column", col),
                    hint="columns are FOCUS names or x_ columns; see `cloudledger sql "
                         "'DESCRIBE focus'`")
        if m.owner and m.tag:
            raise InputError(f"{what}: a pool with match.owner cannot also match tags",
                             where=settings.where(*path, "tag"),
                             hint="split it in two pools, or match the owner only")
    keys = tag_keys(settings)
    if keys:
        counts = run.fetch("SELECT " + ", ".join(
            f"SUM(CASE WHEN \"Tags\" LIKE {lit('%' + _json_key(k) + '%')} THEN 1 ELSE 0 END) "
            f"AS k{i}" for i, k in enumerate(keys)) + ", COUNT(*) AS n FROM focus")[0]
        if counts["n"]:
            for i, key in enumerate(keys):
                if not counts[f"k{i}"]:
                    path, what = next((p, w) for p, w, m in matches if key in (m.tag or {}))
                    seen = _seen_keys(run)
                    close = difflib.get_close_matches(key, seen, n=1)
                    raise InputError(
                        f"{what} matches tag {key!r}, which no row carries" + (
                            f"; did you mean {close[0]!r}?" if close else ""),
                        where=settings.where(*path, "tag", key),
                        hint=f"tag keys seen: {', '.join(seen[:15]) or 'none'}")
    metric_pools = [(i, p) for i, p in enumerate(settings.shared) if p.split == "metric"]
    for i, p in metric_pools:
        if "metrics" not in run.store.tables():
            raise InputError(f"pool {p.name!r} splits by metric {p.metric!r} but the store "
                             "has no metrics", where=settings.where("shared", i, "metric"),
                             hint="run `cloudledger metrics load FILE` first")
        names = [r["metric"] for r in run.fetch("SELECT DISTINCT metric FROM metrics")]
        if p.metric not in names:
            close = difflib.get_close_matches(str(p.metric), names, n=1)
            raise InputError(
                f"pool {p.name!r} splits by metric {p.metric!r}, which the store has no "
                "values for" + (f"; did you mean {close[0]!r}?" if close else ""),
                where=settings.where("shared", i, "metric"),
                hint=f"metrics loaded: {', '.join(sorted(names)) or 'none'}")


def _json_key(key: str) -> str:
    import json

    return json.dumps(key).replace("%", "_")


def _seen_keys(run: Runner) -> list[str]:
    if run.spark is not None:
        sql = ("SELECT DISTINCT explode(map_keys(from_json(Tags, 'map<string,string>'))) AS k "
               "FROM focus WHERE Tags IS NOT NULL")
        return sorted(r["k"] for r in run.spark.sql(sql).collect())
    rows = run.fetch("SELECT DISTINCT unnest(json_keys(TRY_CAST(\"Tags\" AS JSON))) AS k "
                     "FROM (SELECT DISTINCT \"Tags\" FROM focus) AS t")
    return sorted(str(r["k"]) for r in rows if r["k"] is not None)


# ------------------------------------------------------------------ the run
class _Target:
    """The table being built: DuckDB edits it in place inside a transaction; Spark replaces
    it with a new table per step. ``NEXT`` holds the row-level rows; ``POOLED`` the shared
    pools' rows at the pool grain (``GRAIN``), split there and appended to ``NEXT`` last."""

    def __init__(self, run: Runner, settings: Settings, focus_columns: list[str]):
        self.run = run
        self.settings = settings
        self.columns = focus_columns
        self.all = [*focus_columns, *settings.owners.dimensions, *META]
        self.pooled = False

    def split(self, where: str, shares: list[P.ShareRow], group: str | None = None,
              table: str = NEXT) -> None:
        if not shares:
            return
        source = f"SELECT * FROM {q(table)} WHERE {where}"
        self.run.register(P.SHARES, P.shares_table(self.settings, shares))
        sql = P.split_sql(self.settings, self.columns, source, group)
        cols = ", ".join(q(c) for c in self.all)
        if self.run.spark is None:
            self.run.exec(f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM ({sql}) AS s")
            self.run.exec(f"DELETE FROM {q(table)} WHERE {where}")
        else:
            keep = f"SELECT {cols} FROM {q(table)} WHERE NOT COALESCE({where}, FALSE)"
            self.run.create(table + "_step", f"{keep} UNION ALL SELECT {cols} FROM ({sql}) AS s")
            self.run.rename(table + "_step", table)
        self.run.unregister(P.SHARES)

    def _remove(self, table: str, where: str) -> None:
        if self.run.spark is None:
            self.run.exec(f"DELETE FROM {q(table)} WHERE {where}")
            return
        cols = ", ".join(q(c) for c in self.all)
        self.run.create(table + "_step", f"SELECT {cols} FROM {q(table)} "
                                         f"WHERE NOT COALESCE({where}, FALSE)")
        self.run.rename(table + "_step", table)

    def _aggregate(self, where: str, pool: str | None) -> str:
        """SELECT of the ``NEXT`` rows matching ``where`` at the pool grain, in ``all``'s
        column order (pending in ``pool`` when given, else keeping kind and pool)."""
        dims = self.settings.owners.dimensions
        keys = {*GRAIN, *dims, "x_AllocationRule"}
        if pool is None:
            keys |= {"x_AllocationKind", "x_AllocationPool"}
        cols, group = [], []
        for i, c in enumerate(self.all):
            if c in keys:
                cols.append(q(c))
                group.append(str(i + 1))
            elif c in COST_METRICS:
                cols.append(f"CAST(SUM({q(c)}) AS {MONEY}) AS {q(c)}")
            elif c == "ChargePeriodStart":
                cols.append(f"MIN({q(c)}) AS {q(c)}")
            elif c == "ChargePeriodEnd":
                cols.append(f"MAX({q(c)}) AS {q(c)}")
            elif c == "x_AllocationKind":
                cols.append(f"{lit(P.PENDING)} AS {q(c)}")
            elif c == "x_AllocationPool":
                cols.append(f"{lit(pool)} AS {q(c)}")
            elif c == "x_AllocationShare":
                cols.append(f"CAST(1 AS {SHARE_TYPE}) AS {q(c)}")
            else:
                cols.append(f"NULL AS {q(c)}")
        return (f"SELECT {', '.join(cols)} FROM {q(NEXT)} WHERE {where} "
                f"GROUP BY {', '.join(group)}")

    def pool(self, where: str, pool: str | None = None) -> None:
        """Move the ``NEXT`` rows matching ``where`` to ``POOLED``, aggregated."""
        if not self.pooled:
            cols = ", ".join(q(c) for c in self.all)
            if self.run.spark is None:
                self.run.exec(f"CREATE OR REPLACE TEMP TABLE {q(POOLED)} AS SELECT {cols} "
                              f"FROM {q(NEXT)} LIMIT 0")
            else:
                self.run.create(POOLED, f"SELECT {cols} FROM {q(NEXT)} LIMIT 0")
            self.pooled = True
        self.run.exec(f"INSERT INTO {q(POOLED)} {self._aggregate(where, pool)}")
        self._remove(NEXT, where)

    def mark(self, where: str, pool: str) -> None:
        """Turn ``POOLED`` rows a chained pool takes into its pending rows."""
        if self.run.spark is None:
            self.run.exec(f"UPDATE {q(POOLED)} SET \"x_AllocationKind\" = {lit(P.PENDING)}, "
                          f"\"x_AllocationPool\" = {lit(pool)} WHERE {where}")
            return
        cols = []
        for c in self.all:
            if c in ("x_AllocationKind", "x_AllocationPool"):
                new = lit(P.PENDING) if c == "x_AllocationKind" else lit(pool)
                cols.append(f"CASE WHEN COALESCE({where}, FALSE) THEN {new} ELSE {q(c)} END "
                            f"AS {q(c)}")
            else:
                cols.append(q(c))
        self.run.create(POOLED + "_step", f"SELECT {', '.join(cols)} FROM {q(POOLED)}")
        self.run.rename(POOLED + "_step", POOLED)

    def both(self) -> str:
        """Rows of ``NEXT`` and ``POOLED`` (a FROM item)."""
        cols = ", ".join(q(c) for c in self.all)
        if not self.pooled:
            return q(NEXT)
        return (f"(SELECT {cols} FROM {q(NEXT)} UNION ALL SELECT {cols} FROM {q(POOLED)}) "
                f"AS b")

    def finish(self) -> None:
        """Append the split pool rows to ``NEXT``."""
        if not self.pooled:
            return
        cols = ", ".join(q(c) for c in self.all)
        self.run.exec(f"INSERT INTO {q(NEXT)} ({cols}) SELECT {cols} FROM {q(POOLED)}"
                      if self.run.spark is None else
                      f"INSERT INTO {q(NEXT)} SELECT {cols} FROM {q(POOLED)}")
        self.run.drop(POOLED)
        self.pooled = False


def _totals(run: Runner, table: str) -> dict[tuple[str, str], dict[str, Decimal]]:
    cols = ", ".join(f"SUM({q(m)}) AS {q(m)}" for m in COST_METRICS)
    rows = run.fetch(f"SELECT CAST(\"BillingPeriodStart\" AS VARCHAR) AS p, "
                     f"\"BillingCurrency\" AS c, {cols}, COUNT(*) AS n FROM {q(table)} "
                     f"GROUP BY 1, 2")
    return {(r["p"], r["c"]): {m: Decimal(r[m] or 0) for m in (*COST_METRICS, "n")}
            for r in rows}


def allocate(store: Store, settings: Settings) -> AllocationResult:
    """Allocate every focus row to owners; write table ``allocated`` atomically."""
    run = Runner(store)
    check_data(run, settings)
    focus_columns = run.columns("focus")
    target = _Target(run, settings, focus_columns)
    try:
        # the next table is built outside a transaction (a large transaction's COMMIT
        # rewrites every row); only the swap is one transaction (engine.swap)
        run.create(NEXT, label_sql(run, settings, focus_columns))
        _run_steps(run, settings, target)
        result = _check(run, settings)
        before_commit()
        run.rename(NEXT, "allocated")
    except BaseException:
        for name in (NEXT, NEXT + "_step", POOLED, POOLED + "_step"):
            run.drop(name)
        raise
    return result


def _run_steps(run: Runner, settings: Settings, target: _Target) -> None:
    where = P.pending(P.COMMITMENTS)
    keys = P.pending_keys(run, NEXT, where, "CommitmentDiscountId")
    if keys:
        target.split(where, P.commitment_shares(run, settings, NEXT, keys),
                     "CommitmentDiscountId")
    where = P.pending(P.K8S_IDLE)
    keys = P.pending_keys(run, NEXT, where, P.IDLE_GROUP)
    if keys:
        target.split(where, P.idle_shares(run, settings, NEXT, keys), P.IDLE_GROUP)
    pending = f"(\"x_AllocationKind\" = {lit(P.PENDING)})"
    if P.pending_keys(run, NEXT, pending):
        target.pool(pending)
    for pool in pool_order(settings):
        _run_pool(run, settings, target, pool)
    target.finish()


def _run_pool(run: Runner, settings: Settings, target: _Target, pool: SharedPool) -> None:
    where = P.pending(pool.name)
    if pool.match.owner:
        taken = P.chained_match(settings, pool)
        keys = P.pending_keys(run, target.both(), taken)
        if not keys:
            return
        # drivers before the taken rows move: the same as taking them in place
        shares = P.pool_shares(run, settings, NEXT, pool, keys)
        if target.pooled:
            target.mark(taken, pool.name)
        if P.pending_keys(run, NEXT, taken):
            target.pool(taken, pool.name)
        target.split(where, shares, table=POOLED)
        return
    if not target.pooled:
        return
    keys = P.pending_keys(run, POOLED, where)
    if keys:
        target.split(where, P.pool_shares(run, settings, NEXT, pool, keys), table=POOLED)


def _check(run: Runner, settings: Settings) -> AllocationResult:
    before = _totals(run, "focus")
    after = _totals(run, NEXT)
    out: list[Conservation] = []
    for key in sorted(set(before) | set(after)):
        for m in COST_METRICS:
            a = before.get(key, {}).get(m, Decimal(0))
            b = after.get(key, {}).get(m, Decimal(0))
            out.append(Conservation(key[0], key[1], m, a, b))
    bad = [c for c in out if not c.ok]
    if bad:
        c = bad[0]
        raise RunError(
            f"allocation does not conserve {c.metric} for {c.period[:10]} {c.currency}: "
            f"focus {c.focus_total} != allocated {c.allocated_total} (difference "
            f"{c.difference})", where="allocate",
            hint="nothing was written; a row's cost may exceed 1e10 or be NULL; report "
                 "this with your cloudledger.yaml")
    dims = settings.owners.dimensions
    null_dims = " OR ".join(f"{q(d)} IS NULL" for d in dims)
    leftover = run.fetch(f"SELECT COUNT(*) AS n FROM {q(NEXT)} WHERE {null_dims} OR "
                         f"\"x_AllocationKind\" = {lit(P.PENDING)}")[0]["n"]
    if leftover:
        raise RunError(f"{leftover} allocated rows have no owner or are still pending",
                       where="allocate", hint="nothing was written; report this as a bug")
    primary = q(settings.primary)
    special = ", ".join(lit(s) for s in (UNALLOCATED, SHARED, IDLE))
    kinds = run.fetch(
        f"SELECT \"x_AllocationKind\" AS k, SUM(\"EffectiveCost\") AS e, "
        f"SUM(CASE WHEN {primary} NOT IN ({special}) THEN ABS(\"EffectiveCost\") ELSE 0 END)"
        f" AS named, SUM(ABS(\"EffectiveCost\")) AS total FROM {q(NEXT)} GROUP BY 1")
    return AllocationResult(
        rows_in=int(sum(v["n"] for v in before.values())),
        rows_out=int(sum(v["n"] for v in after.values())), conservation=out,
        by_kind={r["k"]: Decimal(r["e"] or 0) for r in kinds},
        named=sum((Decimal(r["named"] or 0) for r in kinds), Decimal(0)),
        total=sum((Decimal(r["total"] or 0) for r in kinds), Decimal(0)),
        pools=[p.name for p in pool_order(settings)])
