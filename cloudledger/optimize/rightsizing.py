"""Rightsizing: percentiles of utilization per resource (in the engine) and the sizing
decision per resource (pure Python over one row of figures per resource).

Figures (one grouped query over ``utilization``, ``quantile_cont`` per resource), over the
lookback window ``[as_of - lookback_days, as_of)``:

- ``cpu_p`` / ``cpu_p99``: the ``percentile`` (default P95) and P99 of average CPU %
  (``cpu``; a resource with only ``cpu_max`` samples is sized on those, more cautiously);
  ``mem_p`` / ``mem_p99`` likewise for memory used %.
- Shutdown (Azure Advisor's rule): P95 of max CPU over the last ``shutdown_days`` (7)
  < ``shutdown_max_cpu_pct`` (3 %), P100 of average CPU over the last ``shutdown_avg_days``
  (3) <= ``shutdown_avg_cpu_pct`` (2 %), and outbound network over the last 7 days below
  ``shutdown_network_pct`` (2 %) of the size's nominal bandwidth (when network is measured
  and the size known; else the rule rests on CPU alone and the risk says so).
- Downsize: the cheapest size (same provider; the same family, or with ``cross_family`` and
  measured memory a family of the same arch and class group) that holds the percentile with
  ``headroom``: ``vcpu_new >= vcpu * cpu_p/100 * (1 + headroom)`` and ``memory_new >=
  memory * mem_p/100 * (1 + headroom)``. Without memory samples only the same family (memory
  scales with the size) and the risk says memory was not measured.
- Coverage: samples x sample interval / lookback; below ``min_coverage_pct`` the resource is
  skipped (gaps), as are unknown instance types (except for shutdown, which needs no size).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from cloudledger.engine import ident, literal
from cloudledger.optimize.catalog import FIXED_CLASSES, Catalog, Size
from cloudledger.optimize.registry import Options

TABLE = "utilization"
Action = Literal["shutdown", "downsize", "change-family"]


class RightsizingOptions(Options):
    """``optimize: {rightsizing: {...}}`` in cloudledger.yaml::

        optimize:
          rightsizing:
            lookback_days: 14
            headroom: 0.2          # fraction: 0.2 = 20 % above the percentile
            percentile: 95
            shutdown_max_cpu_pct: 3
    """

    lookback_days: int = Field(default=14, ge=1, le=366)
    headroom: float = Field(default=0.2, ge=0, le=4)
    percentile: float = Field(default=95, gt=0, le=100)
    min_coverage_pct: float = Field(default=50, ge=0, le=100)
    cross_family: bool = True
    shutdown_max_cpu_pct: float = Field(default=3.0, ge=0)
    shutdown_avg_cpu_pct: float = Field(default=2.0, ge=0)
    shutdown_network_pct: float = Field(default=2.0, ge=0)
    shutdown_days: int = Field(default=7, ge=1)
    shutdown_avg_days: int = Field(default=3, ge=1)


@dataclass(frozen=True)
class Stats:
    """One resource's utilization figures over the lookback (percentages in percent)."""

    resource_id: str
    samples: int
    coverage_pct: float
    cpu_p: float | None
    cpu_p99: float | None
    cpu_top: float | None
    cpu_from_max: bool = False            # only cpu_max samples: sized on those
    mem_p: float | None = None
    mem_p99: float | None = None
    peak_p95_recent: float | None = None  # P95 of max CPU, last shutdown_days
    avg_max_recent: float | None = None   # P100 of average CPU, last shutdown_avg_days
    recent_coverage_pct: float = 0.0      # of the shutdown_days window
    net_rate: float | None = None         # bytes/s out, last shutdown_days


@dataclass
class Decision:
    action: Action | None
    target: Size | None = None
    ratio: Decimal | None = None          # price(target) / price(current)
    price_source: str | None = None
    predicted_cpu_pct: float | None = None
    predicted_mem_pct: float | None = None
    net_pct: float | None = None
    notes: list[str] = field(default_factory=list)
    skip: str | None = None               # why no decision could be made


def window(store: Any, as_of: date | None, lookback_days: int) -> tuple[datetime, datetime] | None:
    """[start, end) of the lookback; end is ``as_of`` (or the day after the last sample)."""
    if as_of is None:
        last = store.engine.fetch(f"SELECT max({ident('timestamp')}) AS t FROM {ident(TABLE)}")
        if not last or last[0]["t"] is None:
            return None
        t = last[0]["t"]
        end = datetime(t.year, t.month, t.day) + timedelta(days=1)
    else:
        end = datetime(as_of.year, as_of.month, as_of.day)
    return end - timedelta(days=lookback_days), end


def _ts(t: datetime) -> str:
    return f"TIMESTAMP {literal(t.isoformat(sep=' '))}"


CHUNK_ROWS = 8_000_000  # samples per stats query: the percentiles' buffers stay in memory


def stats_sql(start: datetime, end: datetime, opts: RightsizingOptions,
              part: tuple[int, int] = (0, 1)) -> str:
    """One grouped query: the figures of :class:`Stats` per resource (of the resources
    whose hash falls in ``part`` = (i, of n))."""
    p = literal(opts.percentile / 100)
    recent = _ts(end - timedelta(days=opts.shutdown_days))
    recent_avg = _ts(end - timedelta(days=opts.shutdown_avg_days))
    ts = ident("timestamp")
    chunk = (f" AND hash(resource_id) % {literal(part[1])} = {literal(part[0])}"
             if part[1] > 1 else "")
    return f"""
WITH u AS (
  SELECT resource_id, {ts} AS ts, coalesce(cpu, cpu_max) AS cpu_level,
         coalesce(cpu_max, cpu) AS cpu_peak, cpu, memory, network_out, interval_s
  FROM {ident(TABLE)} WHERE {ts} >= {_ts(start)} AND {ts} < {_ts(end)}{chunk})
SELECT resource_id,
  count(cpu_level) AS samples, count(cpu) AS avg_samples,
  median(interval_s) AS interval_s,
  quantile_cont(cpu_level, [{p}, 0.99]) AS cpu_q, max(cpu_level) AS cpu_top,
  quantile_cont(memory, [{p}, 0.99]) AS mem_q,
  quantile_cont(cpu_peak, 0.95) FILTER (WHERE ts >= {recent}) AS peak_p95_recent,
  count(cpu_peak) FILTER (WHERE ts >= {recent}) AS recent_samples,
  max(cpu_level) FILTER (WHERE ts >= {recent_avg}) AS avg_max_recent,
  sum(network_out) FILTER (WHERE ts >= {recent}) AS net_bytes,
  sum(interval_s) FILTER (WHERE ts >= {recent} AND network_out IS NOT NULL) AS net_seconds
FROM u GROUP BY resource_id"""


def utilization_stats(store: Any, start: datetime, end: datetime,
                      opts: RightsizingOptions) -> list[Stats]:
    n = store.engine.fetch(f"SELECT count(*) AS n FROM {ident(TABLE)} WHERE "
                           f"{ident('timestamp')} >= {_ts(start)} AND "
                           f"{ident('timestamp')} < {_ts(end)}")[0]["n"]
    parts = max(1, -(-int(n) // CHUNK_ROWS))
    rows = [r for i in range(parts)
            for r in store.engine.fetch(stats_sql(start, end, opts, (i, parts)))]
    span = (end - start).total_seconds()
    recent_span = opts.shutdown_days * 86400
    out = []
    for r in rows:
        step = float(r["interval_s"] or 0)
        cpu_q, mem_q = r["cpu_q"] or [None, None], r["mem_q"] or [None, None]
        out.append(Stats(
            resource_id=r["resource_id"], samples=int(r["samples"]),
            coverage_pct=min(100.0, 100 * r["samples"] * step / span),
            cpu_p=cpu_q[0], cpu_p99=cpu_q[1], cpu_top=r["cpu_top"],
            cpu_from_max=r["samples"] > 0 and r["avg_samples"] == 0,
            mem_p=mem_q[0], mem_p99=mem_q[1],
            peak_p95_recent=r["peak_p95_recent"], avg_max_recent=r["avg_max_recent"],
            recent_coverage_pct=min(100.0, 100 * (r["recent_samples"] or 0) * step
                                    / recent_span),
            net_rate=(float(r["net_bytes"]) / float(r["net_seconds"])
                      if r["net_bytes"] is not None and r["net_seconds"] else None)))
    return out


def shutdown_rule(s: Stats, current: Size | None, opts: RightsizingOptions
                  ) -> tuple[bool, float | None, list[str]]:
    """Azure Advisor's shutdown rule: (holds, outbound network %, notes)."""
    notes: list[str] = []
    if s.recent_coverage_pct < opts.min_coverage_pct or s.peak_p95_recent is None \
            or s.avg_max_recent is None:
        return False, None, notes
    holds = (s.peak_p95_recent < opts.shutdown_max_cpu_pct
             and s.avg_max_recent <= opts.shutdown_avg_cpu_pct)
    net_pct = None
    if s.net_rate is not None and current is not None and current.network_gbps:
        net_pct = 100 * s.net_rate * 8 / (current.network_gbps * 1e9)
        holds = holds and net_pct < opts.shutdown_network_pct
    elif holds:
        notes.append("outbound network not measured (or size unknown): the shutdown rule "
                     "rests on CPU alone")
    return holds, net_pct, notes


def decide(s: Stats, current: Size | None, catalog: Catalog, region: str | None,
           opts: RightsizingOptions, unknown_type: str | None = None) -> Decision:
    """The action for one resource (see the module doc)."""
    if s.samples == 0 or s.cpu_p is None:
        return Decision(None, skip="no CPU samples in the lookback")
    if s.coverage_pct < opts.min_coverage_pct:
        return Decision(None, skip=f"metrics cover {s.coverage_pct:.1f}% of the "
                        f"{opts.lookback_days}-day lookback (gaps; min_coverage_pct "
                        f"{opts.min_coverage_pct:g})")
    down, net_pct, notes = shutdown_rule(s, current, opts)
    if down:
        return Decision("shutdown", net_pct=net_pct, notes=notes, ratio=Decimal(0))
    if current is None:
        return Decision(None, skip=f"unknown instance type {unknown_type!r} (not in the "
                        "catalog): no size to compare" if unknown_type else
                        "no instance type in billing: no size to compare")
    h = 1 + opts.headroom
    need_cpu = current.vcpu * s.cpu_p / 100 * h
    need_mem = current.memory_gib * s.mem_p / 100 * h if s.mem_p is not None else None
    best: tuple[Decimal, int, float, Size, str] | None = None
    for c in catalog.candidates(current):
        same = c.family == current.family
        if not same and (need_mem is None or not opts.cross_family or c.arch != current.arch
                         or c.cls in FIXED_CLASSES or current.cls in FIXED_CLASSES):
            continue
        if c.vcpu < need_cpu or (need_mem is not None and c.memory_gib < need_mem):
            continue
        ratio, source = catalog.price_ratio(c, current, region)
        if ratio >= 1:
            continue
        key = (ratio, 0 if same else 1, -c.vcpu, c, source)
        if best is None or key[:3] < best[:3]:
            best = key
    if best is None:
        return Decision(None, net_pct=net_pct)
    ratio, _, _, target, source = best
    if need_mem is None:
        notes.append("memory not measured: sized on CPU within the family (memory shrinks "
                     "with the size)")
    if s.cpu_from_max:
        notes.append("only maximum CPU measured: sized on it")
    return Decision("downsize" if target.family == current.family else "change-family",
                    target=target, ratio=ratio, price_source=source, net_pct=net_pct,
                    predicted_cpu_pct=s.cpu_p * current.vcpu / target.vcpu,
                    predicted_mem_pct=(s.mem_p * current.memory_gib / target.memory_gib
                                       if s.mem_p is not None else None), notes=notes)


def clipped_sql(factors_view: str, start: datetime, end: datetime) -> str:
    """Per resource: samples whose CPU peak / memory would exceed 100 % on the target
    (``factors_view``: resource_id, cpu_factor, mem_factor)."""
    ts = ident("timestamp")
    return f"""
SELECT u.resource_id, count(*) AS samples,
  count(*) FILTER (WHERE coalesce(u.cpu_max, u.cpu) * f.cpu_factor > 100) AS cpu_clipped,
  count(*) FILTER (WHERE u.memory * f.mem_factor > 100) AS mem_clipped,
  max(coalesce(u.cpu_max, u.cpu)) AS cpu_peak
FROM {ident(TABLE)} u JOIN {ident(factors_view)} f ON f.resource_id = u.resource_id
WHERE u.{ts} >= {_ts(start)} AND u.{ts} < {_ts(end)}
GROUP BY u.resource_id"""


def risk_text(action: Action, s: Stats, current: Size | None, d: Decision,
              clip: dict[str, Any] | None) -> str:
    """What the recommendation could break, in one line."""
    parts = []
    if action == "shutdown":
        parts.append(f"stops the resource; max CPU {s.cpu_top or 0:.1f}% over the lookback")
    elif current is not None and d.target is not None:
        f = current.vcpu / d.target.vcpu
        parts.append(f"P99 CPU {s.cpu_p99 or 0:.1f}% would be {(s.cpu_p99 or 0) * f:.1f}% "
                     f"on {d.target.instance_type}")
        if clip:
            n = int(clip["samples"]) or 1
            parts.append(f"{clip['cpu_clipped']} of {clip['samples']} samples "
                         f"({100 * clip['cpu_clipped'] / n:.1f}%) would clip at 100% CPU")
            if clip["mem_clipped"]:
                parts.append(f"{clip['mem_clipped']} samples would exceed memory")
        if action == "change-family":
            parts.append(f"family {current.family} -> {d.target.family}: check CPU "
                         "generation, local disks and network")
    parts += d.notes
    return "; ".join(parts)
