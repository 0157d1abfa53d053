"""Purchase plans: the quantile optimum against brute force, figures against direct sums,
expiring commitments, tranches against the plain LP, bad inputs as notes."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from cloudledger.optimize.plan import Existing, PlanOptions, Scope, plan
from cloudledger.optimize.plan_solve import net_savings, optimal_flat, staged_optimum

SP = Scope("savings_plan", "123456789012")
WEEKS4 = 4 * 168
#: the lookback repeated over a term of the same length, no trend: the plain problem
FLAT = PlanOptions(term_hours=WEEKS4, trend=False, drops=(0.1, 0.2, 0.3))


def brute_force(u: np.ndarray, d: float) -> tuple[float, float]:
    """The smallest maximizer of S(c) and S there: S is piecewise linear with kinks at the
    usage values, so its maximum is at one of them or at 0 (a fine grid confirms it)."""
    cands = np.unique(np.concatenate(([0.0], u)))
    s = np.array([net_savings(u, c, d) for c in cands])
    best = s.max()
    grid = np.linspace(0, u.max(), 2001)
    assert max(net_savings(u, c, d) for c in grid) <= best + 1e-9 * max(1.0, abs(best))
    return float(cands[np.argmax(s >= best - 1e-9 * max(1.0, abs(best)))]), float(best)


@pytest.mark.parametrize("d", [0.05, 0.2, 0.28, 0.5, 0.72, 0.95])
@pytest.mark.parametrize("seed", range(4))
def test_flat_optimum_is_the_d_quantile_and_beats_brute_force(d: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = np.round(rng.gamma(2.0, 50.0, 300), 1)  # rounded: ties, and d*n whole for some d
    c_brute, s_brute = brute_force(u, d)
    c = optimal_flat(u, d)
    assert c == pytest.approx(c_brute)
    assert net_savings(u, c, d) == pytest.approx(s_brute)
    # the ceil(d * n)-th smallest value, d * n in exact arithmetic (numpy's "inverted_cdf"
    # takes 0.28 * 300 = 84.00000000000001 for more than 84 and moves one value up)
    assert c == np.sort(u)[math.ceil(Fraction(str(d)) * u.size) - 1]
    # the planner on the same series (4 weeks repeated, no trend) picks the same commitment
    p = plan(SP, u[np.arange(WEEKS4) % u.size], d, options=FLAT)
    assert p.hourly_commitment == optimal_flat(u[np.arange(WEEKS4) % u.size], d)


def test_flat_optimum_with_weights_equals_repeated_values() -> None:
    rng = np.random.default_rng(9)
    u = rng.uniform(0, 100, 50)
    w = rng.integers(1, 5, 50)
    assert optimal_flat(u, 0.37, w.astype(float)) == optimal_flat(np.repeat(u, w), 0.37)


def daily_ramp(days: int = 28) -> np.ndarray:
    """Hours 1..24 $/h each day: the known case."""
    return np.tile(np.arange(1.0, 25.0), days)


def test_expected_figures_equal_a_direct_computation() -> None:
    p = plan(SP, daily_ramp(), 0.5, options=FLAT)
    # the 12th of 24 values: ceil(0.5 * 24) = 12
    assert p.hourly_commitment == 12.0
    assert p.hourly_cost == 6.0
    # per hour: mean(min(u, 12)) - 0.5 * 12 = (78 + 12 * 12) / 24 - 6 = 3.25
    assert p.expected_monthly_savings == pytest.approx(3.25 * 730)
    assert p.utilization == pytest.approx(9.25 / 12)
    assert p.coverage == pytest.approx(222 / 300)
    assert p.coverage_before == 0.0
    assert p.break_even_utilization == 0.5
    assert p.lookback_hourly_commitment == 12.0
    assert p.term == "672h"


@pytest.mark.parametrize("d", [0.2, 0.45, 0.7])
def test_break_even_utilization_is_one_minus_discount(d: float) -> None:
    p = plan(SP, daily_ramp(), d, options=PlanOptions(term_hours=WEEKS4, trend=False,
                                                       drops=tuple(np.linspace(0, 0.9, 19))))
    assert p.break_even_utilization == pytest.approx(1 - d)
    # savings per hour = c * (utilization - (1 - d)): positive exactly above break-even
    for s in p.scenarios:
        assert s.expected_monthly_savings == pytest.approx(
            p.hourly_commitment * (s.utilization - (1 - d)) * 730)


def test_drop_scenarios() -> None:
    p = plan(SP, daily_ramp(), 0.5, options=FLAT)
    assert [s.usage_drop for s in p.scenarios] == [0.1, 0.2, 0.3]
    u = np.arange(1.0, 25.0)
    for s in p.scenarios:
        dropped = u * (1 - s.usage_drop)
        covered = np.minimum(dropped, 12.0)
        assert s.expected_monthly_savings == pytest.approx((covered.mean() - 6.0) * 730)
        assert s.utilization == pytest.approx(covered.mean() / 12.0)
        assert s.coverage == pytest.approx(covered.sum() / dropped.sum())
    savings = [s.expected_monthly_savings for s in p.scenarios]
    assert savings == sorted(savings, reverse=True) and savings[0] < p.expected_monthly_savings


def noisy_constant(level: float, hours: int, seed: int = 0) -> np.ndarray:
    return level + np.random.default_rng(seed).uniform(-1, 1, hours)


@pytest.mark.parametrize(("expires_frac", "raise_"), [(0.3, 40.0), (0.7, 0.0)])
def test_expiring_commitment_raises_the_recommendation(expires_frac: float,
                                                       raise_: float) -> None:
    """Usage ~100 $/h, 40 $/h already committed. Kept for the whole term, 60 is left to
    cover. Expiring at a fraction f of the term, the usage left is ~60 for f of the hours
    and ~100 after: with d = 0.5 the d-quantile is ~100 when f < d (raise by the expiring
    40) and stays ~60 when f > d."""
    u = noisy_constant(100.0, WEEKS4)
    opts = PlanOptions(term_hours=WEEKS4, trend=False)
    kept = plan(SP, u, 0.5, existing=[Existing(40.0)], options=opts)
    expiring = plan(SP, u, 0.5, existing=[Existing(40.0, expires_frac * WEEKS4)], options=opts)
    assert kept.hourly_commitment == pytest.approx(optimal_flat(u - 40.0, 0.5))
    assert expiring.hourly_commitment - kept.hourly_commitment == pytest.approx(raise_, abs=2.0)
    assert any("expires" in n for n in expiring.notes)
    # the staged alternative buys the residual now and adds the expiring 40 at its expiry
    assert expiring.tranches[0].hourly_commitment == pytest.approx(60.0, abs=2.0)
    assert expiring.tranches[-1].start_hour == pytest.approx(expires_frac * WEEKS4, abs=1)
    assert expiring.tranches[-1].added_hourly_commitment == pytest.approx(40.0, abs=2.0)
    assert expiring.staged_monthly_savings >= expiring.expected_monthly_savings - 1e-6
    assert expiring.coverage > expiring.coverage_before > 0


def test_tranches_on_a_linearly_growing_series() -> None:
    hours = 60 * 24
    u = 100.0 + 0.05 * np.arange(hours) + np.random.default_rng(3).normal(0, 2, hours)
    opts = PlanOptions(term_hours=8760, trend_hours=6 * 730, tranche_every_hours=730,
                       max_tranches=6)
    p = plan(SP, u, 0.3, options=opts)
    assert p.trend_per_day == pytest.approx(0.05 * 24, rel=0.05)
    levels = [t.hourly_commitment for t in p.tranches]
    assert len(p.tranches) == 6
    assert [t.start_hour for t in p.tranches] == [0, 730, 1460, 2190, 2920, 3650]
    assert np.all(np.diff(levels) > 0)
    # each month's usage ~ 36.5 $/h above the previous: so is each monthly addition. The
    # last stage runs from hour 3650 to the term's end with the trend held level from hour
    # 4380: 86% of its hours at that level, so its 0.3-quantile is the level at 4380, and
    # the stage before's is the level at 2920 + 0.3 * 730: 0.05 * (730 + 730 - 219) apart
    for t in p.tranches[1:-1]:
        assert t.added_hourly_commitment == pytest.approx(0.05 * 730, rel=0.1)
    assert p.tranches[-1].added_hourly_commitment == pytest.approx(
        0.05 * 730 + 0.05 * (730 - 0.3 * 730), rel=0.1)
    # now: above the last month of the lookback, below the flat plan for the whole term
    assert u[-730:].mean() < p.tranches[0].hourly_commitment < p.hourly_commitment
    assert p.staged_monthly_savings > p.expected_monthly_savings
    # the plain rule ignores the growth
    assert p.lookback_hourly_commitment < p.tranches[0].hourly_commitment


def plain_lp(q: np.ndarray, stage: np.ndarray, d: float) -> float:
    """The staged problem as the textbook LP: y_t <= q_t, y_t <= C_k(t), C non-decreasing."""
    n, k = q.size, int(stage.max()) + 1
    cost = np.concatenate((-np.ones(n), [(1 - d) * (stage == i).sum() for i in range(k)]))
    cover = sparse.hstack([sparse.eye(n), -sparse.csr_matrix(
        (np.ones(n), (np.arange(n), stage)), shape=(n, k))])
    i = np.arange(k - 1)
    mono = sparse.csr_matrix((np.r_[np.ones(k - 1), -np.ones(k - 1)],
                              (np.r_[i, i], np.r_[n + i, n + i + 1])), shape=(k - 1, n + k))
    res = linprog(cost, A_ub=sparse.vstack([cover, mono]), b_ub=np.zeros(n + k - 1),
                  bounds=[(0, x) for x in q] + [(0, None)] * k, method="highs")
    return float(-res.fun)


@pytest.mark.parametrize("shape", ["growing", "shrinking", "bumpy"])
def test_staged_optimum_equals_the_plain_lp(shape: str) -> None:
    rng = np.random.default_rng(5)
    t = np.arange(600.0)
    base = {"growing": 50 + 0.1 * t, "shrinking": 110 - 0.1 * t,
            "bumpy": 80 + 30 * np.sin(t / 60)}[shape]
    q = base * rng.uniform(0.7, 1.3, t.size)
    stage = (t // 100).astype(np.int64)
    d = 0.35
    levels, best = staged_optimum(q, stage, d)
    assert np.all(np.diff(levels) >= 0)
    direct = sum(net_savings(q[stage == k], levels[k], d) for k in range(6))
    assert best == pytest.approx(direct)
    assert best == pytest.approx(plain_lp(q, stage, d), rel=1e-9)


def test_one_stage_is_the_flat_quantile() -> None:
    q = np.random.default_rng(2).gamma(2.0, 10.0, 500)
    levels, best = staged_optimum(q, np.zeros(500, dtype=np.int64), 0.4)
    assert levels[0] == optimal_flat(q, 0.4)
    assert best == pytest.approx(net_savings(q, levels[0], 0.4))


def test_only_data_up_to_as_of_is_read() -> None:
    u = noisy_constant(50.0, 1440) + np.linspace(0, 20, 1440)
    a = plan(SP, u, 0.3, as_of=720)
    changed = u.copy()
    changed[720:] *= 5
    assert plan(SP, changed, 0.3, as_of=720) == a == plan(SP, u[:720], 0.3)


def test_no_trend_followed_on_steady_noise() -> None:
    u = noisy_constant(200.0, 1440, seed=11)
    p = plan(SP, u, 0.3)
    assert p.trend_per_day == 0.0
    # the projection repeats the last whole weeks of the lookback (8 of them)
    assert p.hourly_commitment == optimal_flat(u[-8 * 168:], 0.3)


@pytest.mark.parametrize(("usage", "discount", "kwargs", "note"), [
    (np.full(100, 5.0), 0.3, {"options": PlanOptions(lookback_hours=2000)}, "lookback of 2000"),
    (np.zeros(500), 0.3, {}, "all usage in the lookback is zero"),
    (np.zeros(500), 0.3, {"existing": [Existing(25.0)]}, "have no usage to cover"),
    (np.array([]), 0.3, {}, "no usage before the as-of"),
    (np.full(500, 5.0), 0.3, {"as_of": 0}, "no usage before the as-of"),
    (np.array([1.0, np.nan, np.inf] * 100), 0.3, {}, "non-finite usage"),
    (np.array([-3.0, 5.0] * 100), 0.3, {}, "negative usage"),
    (np.full(500, 5.0), 0.0, {}, "not between 0 and 1"),
    (np.full(500, 5.0), 1.5, {}, "not between 0 and 1"),
    (np.full(500, 5.0), float("nan"), {}, "not between 0 and 1"),
    (["a", "b"], 0.3, {}, "not numeric"),
    (np.full(30, 120.0), 0.3, {"options": PlanOptions(step_hours=24)}, "24-hour usage steps"),
])
def test_bad_inputs_give_notes_not_exceptions(usage: object, discount: float,
                                              kwargs: dict[str, object], note: str) -> None:
    p = plan(SP, usage, discount, **kwargs)  # type: ignore[arg-type]
    assert any(note in n for n in p.notes), p.notes
    assert np.isfinite([p.hourly_commitment, p.expected_monthly_savings, p.utilization,
                        p.coverage]).all()
    json.dumps(p.to_dict())


def test_zero_usage_and_bad_discount_recommend_nothing() -> None:
    assert plan(SP, np.zeros(500), 0.3).hourly_commitment == 0.0
    assert plan(SP, np.full(500, 5.0), 0.0).hourly_commitment == 0.0
    assert plan(SP, np.full(500, 5.0), 0.3).hourly_commitment == 5.0


def test_daily_steps_match_hourly_flat_usage() -> None:
    hourly = plan(SP, np.full(28 * 24, 10.0), 0.3)
    daily = plan(SP, np.full(28, 240.0), 0.3, options=PlanOptions(step_hours=24))
    assert daily.hourly_commitment == hourly.hourly_commitment == 10.0
    assert daily.expected_monthly_savings == pytest.approx(hourly.expected_monthly_savings)


def test_json_has_the_fields_the_command_prints() -> None:
    ri = Scope("reserved_instance", "123", "m5", "eu-west-1")
    d = plan(ri, daily_ramp(), 0.4).to_dict()
    assert {"scope", "hourly_commitment", "term", "expected_monthly_savings", "utilization",
            "coverage", "break_even_utilization", "scenarios", "tranches", "notes"} <= set(d)
    assert d["scope"] == "reserved_instance/123/m5/eu-west-1" and d["term"] == "1y"
    json.dumps(d)
