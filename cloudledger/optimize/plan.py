"""Commitment purchase plans (Savings Plans per billing account, RIs per family and region):
how much hourly commitment to buy now, what it is expected to save, and how it holds up.

API (pure functions over numpy arrays; the ``recommend commitments`` command calls ``plan``
once per scope with the scope's eligible usage read from the store up to ``--as-of``)::

    plan(scope: Scope, usage: array, discount: float, *, existing=(), options=PlanOptions(),
         as_of=None) -> Plan
    Plan.to_dict() -> dict   # JSON-ready: scope, term, hourly_commitment, expected_monthly_savings,
                             # utilization, coverage, ... (floats; money in dollars)

``usage`` is the on-demand-equivalent cost of the scope's *eligible* usage per step
(``options.step_hours`` = 1 for hourly data, 24 for daily), oldest first, ending at the as-of
point (``as_of`` = a step index cuts it there). ``discount`` ``d`` in (0, 1) is the commitment's
discount off on-demand (from the user's billing, ``--discount`` or config). ``existing`` lists
commitments already owned in the scope with their expiry. Nothing here raises on bad input:
empty, non-finite, negative or all-zero usage, a lookback longer than the data, a discount
outside (0, 1), commitments without usage all give a plan with ``notes`` saying what was done.

Units and conventions. Money is on-demand-equivalent dollars per hour. A commitment ``c``
(``hourly_commitment``) covers up to ``c`` of on-demand-equivalent usage each hour and costs
``(1 - d) * c`` per hour whether used or not (``hourly_cost``; AWS quotes a Savings Plan by this
figure). ``r_t`` is the hourly rate of step ``t`` (usage / step_hours). ``W = 730`` hours in a
month (8760 / 12).

1. Lookback: the last ``lookback_hours`` of ``usage`` (all of it if shorter, with a note).
2. Trend and projection (``plan_trend``): a robust, shrunk Theil-Sen line ``L`` through the
   daily medians of the lookback; the projected rate over the term copies the lookback step
   at the same phase of the week and scales it along the line, which is held level after
   ``trend_hours`` (default: as far ahead as the lookback reaches back):
   ``p_s = r_j(s) * L(min(t_s, trend_hours)) / L(t_j(s))``. ``options.trend=False`` (or a
   slope within noise) gives the last whole weeks of the lookback repeated.
3. Existing commitments: ``e_s = sum_i e_i * [t_s < expiry_i]``; usage left to cover
   ``q_s = max(p_s - e_s, 0)``. An existing commitment expiring inside the term raises ``q``
   from its expiry on, hence the commitment.
4. Flat commitment (``plan_solve.optimal_flat``): ``S(c) = h * sum_s (min(q_s, c) - (1-d)c)``
   is concave; ``dS/dc = h * (#{q_s > c} - (1 - d) * n)`` so the optimum has
   ``P(q > c) = 1 - d``: ``c*`` is the inverted-CDF ``d``-quantile of ``q`` (the
   ``ceil(d*n)``-th smallest value; the smallest maximizer when ``d*n`` is a whole number).
5. Figures, ``n`` steps of ``h`` hours in the term:
   ``expected_monthly_savings = S(c*) / (n*h) * 730``;
   ``utilization = sum min(q_s, c*) / (n * c*)`` (of the new commitment);
   ``coverage = sum (min(p_s, e_s) + min(q_s, c*)) / sum p_s`` (all commitments, after the
   purchase; ``coverage_before`` without it);
   ``break_even_utilization = 1 - d`` (savings ``c*(u - (1 - d))`` per hour at utilization
   ``u`` are zero there);
   ``scenarios``: the same ``c*`` when projected usage drops by 10/20/30%: ``p' = (1-x) p``,
   ``q' = max(p' - e, 0)``, savings, utilization and coverage as above.
6. Tranches (``plan_solve.staged_optimum``): stages start at the as-of, every
   ``tranche_every_hours`` while the trend runs and at each expiry of an existing commitment
   inside the term (at most ``max_tranches``); the non-decreasing cumulative commitments
   ``C_k`` maximizing ``sum_k sum_{s in k} (min(q_s, C_k) - (1 - d) C_k)`` come from an exact
   LP solved by HiGHS. A tranche is bought at its stage start; ``staged_monthly_savings``
   scores the staged plan over the term like (5).
7. ``lookback_hourly_commitment``: the plain rule for comparison -- the ``d``-quantile of the
   lookback's usage left after the commitments active at the as-of.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from cloudledger.optimize.plan_solve import FloatArray, net_savings, optimal_flat, staged_optimum
from cloudledger.optimize.plan_trend import Trend, fit_trend, project

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class Scope:
    """What one commitment covers: a Savings Plan per billing account, an RI per instance
    family and region of a billing account."""

    kind: Literal["savings_plan", "reserved_instance"]
    billing_account: str
    family: str | None = None
    region: str | None = None

    @property
    def key(self) -> str:
        parts = [self.kind, self.billing_account]
        if self.kind == "reserved_instance":
            parts += [self.family or "*", self.region or "*"]
        return "/".join(parts)


@dataclass(frozen=True)
class Existing:
    """A commitment already owned: on-demand-equivalent dollars per hour it covers, and the
    hours after the as-of when it expires (``None``: outlasts the term)."""

    hourly_commitment: float
    expires_in_hours: float | None = None


@dataclass(frozen=True)
class PlanOptions:
    term_hours: int = 8760
    #: hours of history used; None: all of ``usage``
    lookback_hours: int | None = None
    #: 1 for hourly usage, 24 for daily
    step_hours: int = 1
    trend: bool = True
    #: how far ahead the trend is followed before being held level; None: the lookback length
    trend_hours: float | None = None
    #: slopes within ``trend_z`` standard errors of zero are shrunk to nothing
    trend_z: float = 2.0
    tranche_every_hours: int = 730
    max_tranches: int = 6
    drops: tuple[float, ...] = (0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Scenario:
    usage_drop: float
    expected_monthly_savings: float
    utilization: float
    coverage: float


@dataclass(frozen=True)
class Tranche:
    start_hour: int
    added_hourly_commitment: float
    hourly_commitment: float


@dataclass(frozen=True)
class Plan:
    scope: Scope
    term_hours: int
    discount: float
    hourly_commitment: float
    hourly_cost: float
    expected_monthly_savings: float
    break_even_utilization: float
    utilization: float
    coverage: float
    coverage_before: float
    lookback_hours: int
    lookback_hourly_commitment: float
    trend_per_day: float
    scenarios: tuple[Scenario, ...] = ()
    tranches: tuple[Tranche, ...] = ()
    staged_monthly_savings: float = 0.0
    notes: tuple[str, ...] = field(default=())

    @property
    def term(self) -> str:
        years = self.term_hours / 8760
        return f"{years:g}y" if years == int(years) else f"{self.term_hours}h"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["scope"] = self.scope.key
        out["scope_kind"] = self.scope.kind
        out["term"] = self.term
        return out


def _clean(usage: ArrayLike, notes: list[str]) -> FloatArray:
    try:
        arr = np.asarray(usage, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        notes.append("usage is not numeric: treated as no usage")
        return np.zeros(0)
    bad = ~np.isfinite(arr)
    if bad.any():
        notes.append(f"{int(bad.sum())} missing or non-finite usage values counted as 0")
        arr = np.where(bad, 0.0, arr)
    if (arr < 0).any():
        notes.append(f"{int((arr < 0).sum())} negative usage values (credits?) counted as 0")
        arr = np.maximum(arr, 0.0)
    return arr


def _stages(n: int, step: int, options: PlanOptions, trend_hours: float,
            expiries: list[float]) -> np.ndarray:
    """Stage index of each of the ``n`` term steps (see the module docstring, 6)."""
    term = n * step
    starts = {0.0}
    if options.tranche_every_hours > 0:
        starts |= set(np.arange(0, min(trend_hours, term), options.tranche_every_hours)[1:]
                      .astype(float).tolist())
    starts |= {e for e in expiries if 0 < e < term}
    ordered = sorted(starts)[: max(1, options.max_tranches)]
    bounds = np.array([math.ceil(s / step) for s in ordered])
    stage: np.ndarray = np.searchsorted(bounds, np.arange(n), side="right") - 1
    _, stage = np.unique(stage, return_inverse=True)  # drop stages with no steps
    return stage.astype(np.int64)


def _figures(p: FloatArray, e: FloatArray, c: float, d: float) -> tuple[float, float, float]:
    """(monthly savings, utilization of c, coverage after) on projected usage ``p``."""
    q = np.maximum(p - e, 0.0)
    covered = np.minimum(q, c)
    monthly = net_savings(q, c, d) / q.size * HOURS_PER_MONTH if q.size else 0.0
    util = float(covered.mean() / c) if c > 0 and q.size else 0.0
    total = float(p.sum())
    cov = float((np.minimum(p, e).sum() + covered.sum()) / total) if total > 0 else 0.0
    return monthly, util, cov


def plan(scope: Scope, usage: ArrayLike, discount: float, *,
         existing: tuple[Existing, ...] | list[Existing] = (),
         options: PlanOptions | None = None, as_of: int | None = None) -> Plan:
    """The purchase plan for one scope (see the module docstring for every formula)."""
    opt = options or PlanOptions()
    notes: list[str] = []
    step = max(1, int(opt.step_hours))
    if step != 1:
        notes.append(f"{step}-hour usage steps: variation inside a step is unseen, so "
                     "utilization may be overstated")
    rate = _clean(usage, notes)
    if as_of is not None:
        rate = rate[: max(0, as_of)]
    rate = rate / step
    if opt.lookback_hours is not None:
        want = max(1, math.ceil(opt.lookback_hours / step))
        if want > rate.size:
            notes.append(f"lookback of {opt.lookback_hours} h asked but only "
                         f"{rate.size * step} h of usage before the as-of: all of it used")
        rate = rate[-want:] if want <= rate.size else rate
    d = float(discount) if np.isfinite(discount) else 0.0
    valid_discount = 0.0 < d < 1.0
    if not valid_discount:
        notes.append(f"discount {discount!r} is not between 0 and 1: no commitment can save")
    owned = [x for x in existing if np.isfinite(x.hourly_commitment) and x.hourly_commitment > 0]
    expiries = [float(x.expires_in_hours) for x in owned if x.expires_in_hours is not None]
    n_term = max(1, math.ceil(opt.term_hours / step))
    t_mid = (np.arange(n_term) + 0.5) * step
    e = np.zeros(n_term)
    for x in owned:
        until = np.inf if x.expires_in_hours is None else float(x.expires_in_hours)
        e += np.where(t_mid < until, x.hourly_commitment, 0.0)
    e_now = sum(x.hourly_commitment for x in owned
                if x.expires_in_hours is None or x.expires_in_hours > 0)

    lookback_hours = rate.size * step
    trend = Trend()
    trend_hours = float(opt.trend_hours if opt.trend_hours is not None else lookback_hours)
    if rate.size == 0:
        notes.append("no usage before the as-of: nothing to plan from")
        p = np.zeros(n_term)
    else:
        if float(rate.max()) == 0.0:
            notes.append("all usage in the lookback is zero: no commitment recommended")
        elif opt.trend:
            trend = fit_trend(rate, step, opt.trend_z)
        if lookback_hours < 168:
            notes.append(f"only {lookback_hours} h of usage: a weekly pattern cannot be seen")
        p = project(rate, step, n_term, trend, trend_hours)
    slope, raw = trend.slope, trend.raw_slope
    if slope:
        notes.append(f"usage trend {slope * 24:+.4g} $/h per day (fitted {raw * 24:+.4g}) "
                     f"followed for {trend_hours / 24:g} days, then held level")
    elif raw:
        notes.append(f"usage trend {raw * 24:+.4g} $/h per day is within noise: not followed")
    if owned:
        used = float(np.minimum(rate, e_now).mean() / e_now) if rate.size and e_now else 0.0
        if rate.size == 0 or float(rate.max()) == 0.0:
            notes.append(f"existing commitments of {e_now:g} $/h have no usage to cover: "
                         "they are unused")
        elif e_now:
            notes.append(f"existing commitments of {e_now:g} $/h were {used:.0%} utilized in "
                         "the lookback")
        for x in owned:
            if x.expires_in_hours is not None and 0 < x.expires_in_hours < opt.term_hours:
                notes.append(f"an existing {x.hourly_commitment:g} $/h commitment expires "
                             f"{x.expires_in_hours / 24:g} days into the term: its usage is "
                             "planned for from then")

    q = np.maximum(p - e, 0.0)
    c = optimal_flat(q, d) if valid_discount else 0.0
    monthly, util, cov = _figures(p, e, c, d)
    _, _, cov_before = _figures(p, e, 0.0, d)
    scenarios = tuple(Scenario(x, *_figures(p * (1 - x), e, c, d)) for x in opt.drops)
    for s in scenarios:
        if c > 0 and s.expected_monthly_savings < 0:
            notes.append(f"if usage drops {s.usage_drop:.0%} this commitment loses "
                         f"{-s.expected_monthly_savings:,.2f} $/month")
            break
    plain = optimal_flat(np.maximum(rate - e_now, 0.0), d) if valid_discount else 0.0

    tranches: tuple[Tranche, ...] = ()
    staged = monthly
    if valid_discount and float(q.max(initial=0.0)) > 0:
        stage = _stages(n_term, step, opt, trend_hours, expiries)
        if int(stage.max()) > 0:
            levels, best = staged_optimum(q, stage, d)
            staged = best / q.size * HOURS_PER_MONTH
            starts = [int(np.argmax(stage == k)) * step for k in range(levels.size)]
            prev = 0.0
            out: list[Tranche] = []
            for start, level in zip(starts, levels, strict=True):
                if level > prev + 1e-9 * max(1.0, level) or not out:
                    out.append(Tranche(start, float(level - prev), float(level)))
                prev = float(level)
            tranches = tuple(out)
        else:
            tranches = (Tranche(0, c, c),) if c > 0 else ()
    return Plan(scope=scope, term_hours=int(opt.term_hours), discount=d, hourly_commitment=c,
                hourly_cost=(1 - d) * c if valid_discount else 0.0,
                expected_monthly_savings=monthly,
                break_even_utilization=1 - d if valid_discount else 1.0,
                utilization=util, coverage=cov, coverage_before=cov_before,
                lookback_hours=int(lookback_hours), lookback_hourly_commitment=plain,
                trend_per_day=slope * 24, scenarios=scenarios, tranches=tranches,
                staged_monthly_savings=staged, notes=tuple(notes))
