"""rightsizing: shut down idle VMs and downsize over-provisioned ones, from utilization
metrics (``cloudledger metrics load``) joined to billing by resource id.

    optimize:
      rightsizing:
        lookback_days: 14      # P95/P99 over this many days before --as-of
        headroom: 0.2          # the target size keeps 20 % above the percentile
        percentile: 95
        min_coverage_pct: 50   # fewer samples (gaps): skipped, and reported
        cross_family: true     # may move to a cheaper family (needs memory metrics)
        shutdown_max_cpu_pct: 3    # Azure Advisor: P95 of max CPU over 7 days < 3 %
        shutdown_avg_cpu_pct: 2    # ... P100 of average CPU over 3 days <= 2 %
        shutdown_network_pct: 2    # ... outbound network < 2 % of the size's bandwidth

Metrics join billing (``focus``) by resource id: case-insensitively, and an ARN matches its
last part (``arn:aws:ec2:...:instance/i-0abc`` is ``i-0abc``). The resource's monthly cost
is its hourly usage cost over its last 30 billed days before ``as_of``, per billed day,
times 365/12; a downsize saves that times ``1 - price(target) / price(current)``, a shutdown
all of it. Resources that cannot be judged (metrics without billing, gaps, unknown instance
types, several currencies) are listed in ``Result.skipped`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cloudledger.engine import ident, literal
from cloudledger.optimize.catalog import Catalog, billed_prices, resolve, type_candidates_sql
from cloudledger.optimize.registry import Context, Recommendation, recommender
from cloudledger.optimize.rightsizing import (
    TABLE,
    Decision,
    RightsizingOptions,
    Stats,
    clipped_sql,
    decide,
    risk_text,
    utilization_stats,
    window,
)

NAME = "rightsizing"
MONTH = Decimal(365) / Decimal(12)
CENT = Decimal("0.01")


@dataclass
class Result:
    recommendations: list[Recommendation] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)   # resource_id, reason
    window: tuple[datetime, datetime] | None = None
    resources: int = 0                    # resources with metrics in the lookback


def key_sql(column: str) -> str:
    """The join key of a resource id: lower case; an ARN's last part."""
    c = ident(column)
    return (f"lower(CASE WHEN lower({c}) LIKE 'arn:%' THEN regexp_extract({c}, "
            f"'[:/]([^:/]+)$', 1) ELSE {c} END)")


def key_of(resource_id: str) -> str:
    if resource_id.lower().startswith("arn:"):
        resource_id = resource_id.replace("/", ":").rsplit(":", 1)[-1]
    return resource_id.lower()


def _billing(store: Any, keys: list[str], end: datetime) -> dict[str, dict[str, Any]]:
    """Per resource key: resource id, account, provider, region, currency, cost, days and
    the type candidates of its latest row."""
    if not keys or "focus" not in store.tables():
        return {}
    cols = set(store.focus.columns)
    types = type_candidates_sql(cols)
    eng, view = store.engine, "cl_rightsizing_keys"
    eng.register(view, pa.table({"rkey": pa.array(keys, pa.string())}))
    q = ident
    hourly = (f"(lower({q('PricingUnit')}) LIKE '%hour%' OR lower({q('PricingUnit')}) IN "
              "('hrs', 'hr', 'h'))")
    type_cols = "".join(f", arg_max({e}, {q('ChargePeriodStart')}) AS t{i}"
                        for i, e in enumerate(types))
    account = (f"coalesce({q('SubAccountId')}, {q('BillingAccountId')})"
               if "SubAccountId" in cols else q("BillingAccountId"))
    sql = f"""
WITH f AS (
  SELECT *, {key_sql('ResourceId')} AS rkey FROM focus
  WHERE {q('ResourceId')} IS NOT NULL AND {q('ChargeCategory')} = 'Usage'
    AND {q('ChargePeriodStart')} < TIMESTAMP {literal(end.isoformat(sep=' '))}),
k AS (SELECT f.*, max({q('ChargePeriodStart')}) OVER (PARTITION BY f.rkey) AS cl_last
      FROM f SEMI JOIN {q(view)} v ON v.rkey = f.rkey)
SELECT rkey, arg_max({q('ResourceId')}, {q('ChargePeriodStart')}) AS resource,
  arg_max({account}, {q('ChargePeriodStart')}) AS account,
  arg_max({q('ProviderName')}, {q('ChargePeriodStart')}) AS provider,
  arg_max({q('RegionId')}, {q('ChargePeriodStart')}) AS region,
  any_value({q('BillingCurrency')}) AS currency,
  count(DISTINCT {q('BillingCurrency')}) AS currencies,
  sum({q('EffectiveCost')}) FILTER (WHERE {hourly}) AS hourly_cost,
  sum({q('EffectiveCost')}) AS cost,
  count(DISTINCT CAST({q('ChargePeriodStart')} AS DATE)) AS days{type_cols}
FROM k WHERE {q('ChargePeriodStart')} >= cl_last - INTERVAL 29 DAY
GROUP BY rkey"""
    try:
        rows = eng.fetch(sql)
    finally:
        eng.unregister(view)
    out = {}
    for r in rows:
        r["types"] = [r.pop(f"t{i}") for i in range(len(types))]
        out[r["rkey"]] = r
    return out


def analyze(store: Any, opts: RightsizingOptions, *, as_of: date | None = None,
            settings: Any = None) -> Result:
    """Recommendations and the resources skipped, with reasons (see the module doc)."""
    res = Result()
    if TABLE not in store.tables():
        res.skipped.append({"resource_id": "*", "reason": "no utilization metrics in the "
                            "store (load them with `cloudledger metrics load`)"})
        return res
    span = window(store, as_of, opts.lookback_days)
    if span is None:
        return res
    start, end = res.window = span
    stats = utilization_stats(store, start, end, opts)
    res.resources = len(stats)
    billing = _billing(store, sorted({key_of(s.resource_id) for s in stats}), end)
    catalog = Catalog(billed=billed_prices(
        store, f"{ident('ChargePeriodStart')} < TIMESTAMP {literal(end.isoformat(sep=' '))} "
               f"AND {ident('ChargePeriodStart')} >= TIMESTAMP "
               f"{literal((end - timedelta(days=90)).isoformat(sep=' '))}")) \
        if billing else Catalog()
    decided: list[tuple[Stats, dict[str, Any], Decision, Any]] = []
    for s in stats:
        b = billing.get(key_of(s.resource_id))
        if b is None:
            res.skipped.append({"resource_id": s.resource_id, "reason": "no billing rows for "
                                "this resource (metrics only): nothing to price"})
            continue
        if b["currencies"] > 1:
            res.skipped.append({"resource_id": s.resource_id,
                                "reason": "billed in several currencies"})
            continue
        current, name = resolve(catalog, b["types"])
        d = decide(s, current, catalog, b["region"], opts, unknown_type=name)
        if d.skip:
            res.skipped.append({"resource_id": s.resource_id, "reason": d.skip})
        elif d.action is not None:
            decided.append((s, b, d, current))
    clips = _clipped(store, [(s, d, c) for s, _, d, c in decided if d.target], start, end)
    for s, b, d, current in decided:
        rec = _recommendation(s, b, d, current, clips.get(s.resource_id), opts, start, end)
        if rec is not None:
            res.recommendations.append(rec)
    if settings is not None and res.recommendations:
        from cloudledger.optimize.owners import with_owners

        res.recommendations = with_owners(store, settings, res.recommendations, as_of=as_of)
    res.recommendations.sort(key=lambda r: (-r.monthly_savings, r.resource))
    res.skipped.sort(key=lambda r: (r["reason"], r["resource_id"]))
    return res


def _clipped(store: Any, items: list[tuple[Stats, Decision, Any]], start: datetime,
             end: datetime) -> dict[str, dict[str, Any]]:
    if not items:
        return {}
    eng, view = store.engine, "cl_rightsizing_factors"
    ids, cpu, mem = [], [], []
    for s, d, c in items:
        assert d.target is not None
        ids.append(s.resource_id)
        cpu.append(c.vcpu / d.target.vcpu)
        mem.append(c.memory_gib / d.target.memory_gib)
    eng.register(view, pa.table({"resource_id": ids, "cpu_factor": cpu, "mem_factor": mem}))
    try:
        return {r["resource_id"]: r for r in eng.fetch(clipped_sql(view, start, end))}
    finally:
        eng.unregister(view)


def _recommendation(s: Stats, b: dict[str, Any], d: Decision, current: Any,
                    clip: dict[str, Any] | None, opts: RightsizingOptions, start: datetime,
                    end: datetime) -> Recommendation | None:
    basis = b["hourly_cost"] if b["hourly_cost"] else b["cost"]
    monthly = (Decimal(basis or 0) / Decimal(max(1, b["days"])) * MONTH)
    assert d.action is not None and d.ratio is not None
    saving = (monthly * (1 - d.ratio)).quantize(CENT)
    if saving <= 0:
        return None
    cur = current.instance_type if current else None
    title = (f"shut down {b['resource']} (idle)" if d.action == "shutdown" else
             f"{'downsize' if d.action == 'downsize' else 'move'} {cur} to "
             f"{d.target.instance_type if d.target else '?'}")
    evidence: dict[str, Any] = {
        "action": d.action, "current_type": cur,
        "target_type": d.target.instance_type if d.target else None,
        "region": b["region"], "lookback_start": start, "lookback_end": end,
        "samples": s.samples, "coverage_pct": round(s.coverage_pct, 2),
        "percentile": opts.percentile, "headroom_pct": round(opts.headroom * 100, 2),
        "cpu_p_pct": _r(s.cpu_p), "cpu_p99_pct": _r(s.cpu_p99), "cpu_max_pct": _r(s.cpu_top),
        "memory_p_pct": _r(s.mem_p), "memory_p99_pct": _r(s.mem_p99),
        "shutdown_cpu_max_p95_pct": _r(s.peak_p95_recent),
        "shutdown_cpu_avg_max_pct": _r(s.avg_max_recent),
        "network_out_pct": _r(d.net_pct),
        "predicted_cpu_pct": _r(d.predicted_cpu_pct),
        "predicted_memory_pct": _r(d.predicted_mem_pct),
        "monthly_cost": monthly.quantize(CENT), "price_ratio": d.ratio.quantize(
            Decimal("0.0001")), "price_source": d.price_source,
        "cost_basis": "hourly usage" if b["hourly_cost"] else "all usage rows",
    }
    if clip:
        evidence.update(cpu_clipped_samples=int(clip["cpu_clipped"]),
                        memory_clipped_samples=int(clip["mem_clipped"]))
    return Recommendation(
        kind=NAME, category="rightsizing", resource=b["resource"], title=title,
        monthly_savings=saving, currency=b["currency"], evidence=evidence,
        risk=risk_text(d.action, s, current, d, clip), account=b["account"])


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


@recommender(NAME, category="rightsizing", options=RightsizingOptions,
             description="shut down idle VMs (Azure Advisor's rule) and downsize "
                         "over-provisioned ones from P95/P99 CPU and memory with headroom")
def rightsizing(ctx: Context, opts: Any) -> list[Recommendation]:
    return analyze(ctx.store, opts, as_of=ctx.as_of, settings=ctx.settings).recommendations
