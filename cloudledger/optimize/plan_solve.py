"""The exact optimizers behind purchase plans: the flat commitment (a weighted quantile) and
staged tranches (a linear programme solved by HiGHS through scipy).

Notation (all money in on-demand-equivalent dollars per hour, see ``plan``'s docstring):
``q_s`` the usage left to cover in step ``s`` (after existing commitments), ``w_s`` the hours
in step ``s``, ``W = sum w_s``, ``d`` the discount, ``c`` the hourly commitment.

Net savings of a flat commitment::

    S(c) = sum_s w_s * (min(q_s, c) - (1 - d) * c)

``S`` is concave and piecewise linear in ``c``; between two consecutive usage values its slope
is ``sum_{q_s > c} w_s - (1 - d) * W``, so it rises while ``P_w(q > c) > 1 - d`` and falls
after. The maximizer is the weighted **inverted-CDF d-quantile**::

    c* = min { c : sum_{q_s <= c} w_s >= d * W }

(with equal weights: the ``ceil(d * n)``-th smallest value, numpy's ``method="inverted_cdf"``
except that ``d * n`` is taken with a 1e-12 relative tolerance, so that 0.28 * 300 =
84.00000000000001 counts as the whole number 84 it is).
When ``d * W`` falls exactly on a step of the weighted CDF every ``c`` between that value and
the next is optimal; ``c*`` is the smallest of them (the least capital at risk).

Tranches: stage ``k`` (steps ``s`` in ``K_k``) holds the cumulative commitment ``C_k``;
commitments cannot be sold, so ``C_0 <= C_1 <= ...``. Maximize::

    sum_k [ f_k(C_k) - (1 - d) * W_k * C_k ],  f_k(C) = sum_{s in K_k} w_s * min(q_s, C)

``f_k`` is concave piecewise linear, the minimum of its pieces: with the stage's values sorted
``q_(1) <= ... <= q_(m)`` (weights ``w_(i)``), ``f_k(C) = min_j [A_j + B_j * C]`` where
``A_j = sum_{i<=j} w_(i) q_(i)`` and ``B_j = sum_{i>j} w_(i)`` (``j = 0..m``). The hypograph
variable ``z_k <= A_j + B_j * C_k`` for every ``j`` makes the problem an exact LP in ``2K``
variables, solved with HiGHS (``scipy.optimize.linprog(method="highs")``) by cutting planes
(``staged_optimum``): all ``m`` pieces at once make the simplex walk one breakpoint per
iteration (8,760 hourly pieces: 1.6 s per scope), a few added where needed take milliseconds
and reach the same optimum (tested against the plain LP ``y_t <= q_t, y_t <= C_k(t)``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

FloatArray = NDArray[np.float64]

#: pieces per stage the cutting planes start with, evenly spaced over [lo, hi]
INITIAL_CUTS = 9


def optimal_flat(q: FloatArray, discount: float, weights: FloatArray | None = None) -> float:
    """The flat hourly commitment maximizing ``S(c)``: the weighted inverted-CDF
    ``discount``-quantile of ``q`` (0 for an empty series or a discount outside (0, 1))."""
    if q.size == 0 or not 0.0 < discount < 1.0:
        return 0.0
    order = np.argsort(q, kind="stable")
    qs = q[order]
    if weights is None:
        k = int(np.ceil(discount * qs.size - 1e-12))
        return float(qs[max(k, 1) - 1])
    cum = np.cumsum(weights[order])
    idx = int(np.searchsorted(cum, discount * cum[-1] * (1 - 1e-12), side="left"))
    return float(qs[min(idx, qs.size - 1)])


def net_savings(q: FloatArray, c: float, discount: float,
                weights: FloatArray | None = None) -> float:
    """``S(c) = sum_s w_s * (min(q_s, c) - (1 - d) * c)`` in dollars."""
    gain = np.minimum(q, c) - (1.0 - discount) * c
    return float(gain.sum() if weights is None else (gain * weights).sum())


def staged_optimum(q: FloatArray, stage: NDArray[np.int64], discount: float,
                   weights: FloatArray | None = None) -> tuple[FloatArray, float]:
    """Cumulative commitments ``C_k`` per stage (non-decreasing) maximizing the staged net
    savings, and that maximum. ``stage[s]`` is the stage of step ``s`` (``0..K-1``, every
    stage non-empty).

    Solved by cutting planes over the pieces of ``f_k``: the LP keeps only some pieces (an
    over-estimate of ``f_k``), starting with the pieces active at each stage's own optimum
    and at ``INITIAL_CUTS`` points evenly spread over ``[lo, hi]``; each round adds the piece
    active at every stage's ``C_k`` where the LP's ``z_k`` exceeds ``f_k(C_k)``. When none
    does, the LP optimum is attained by the true objective, so it is exact. ``C_k`` is
    bounded to ``[lo, hi]``, the smallest and largest stage optimum: clipping any plan into
    that range keeps it non-decreasing and moves each ``C_k`` toward its own stage's
    maximizer of a concave ``f_k``, never lowering savings.
    """
    w = np.ones_like(q) if weights is None else weights
    n_stages = int(stage.max()) + 1
    sorted_q: list[FloatArray] = []
    cum_a: list[FloatArray] = []
    cum_w: list[FloatArray] = []
    totals = np.zeros(n_stages)
    own = np.zeros(n_stages)
    for k in range(n_stages):
        sel = stage == k
        order = np.argsort(q[sel], kind="stable")
        qk, wk = q[sel][order], w[sel][order]
        sorted_q.append(qk)
        cum_a.append(np.concatenate(([0.0], np.cumsum(wk * qk))))
        totals[k] = wk.sum()
        cum_w.append(totals[k] - np.concatenate(([0.0], np.cumsum(wk))))
        own[k] = optimal_flat(qk, discount, wk)
    def piece(k: int, c: float) -> tuple[float, float]:
        j = int(np.searchsorted(sorted_q[k], c, side="right"))
        return float(cum_a[k][j]), float(max(cum_w[k][j], 0.0))

    def f(k: int, c: float) -> float:
        a, b = piece(k, c)
        return a + b * c

    lo, hi = float(own.min()), float(own.max())
    if n_stages == 1 or np.all(np.diff(own) >= 0):
        # the stage optima are already non-decreasing: feasible, hence optimal
        return own, sum(f(k, own[k]) - (1 - discount) * totals[k] * own[k]
                        for k in range(n_stages))
    cuts: list[tuple[int, float, float]] = []
    for k in range(n_stages):
        for c in {own[k], *np.linspace(lo, hi, INITIAL_CUTS).tolist()}:
            a, b = piece(k, c)
            cuts.append((k, a, b))
    cost = np.concatenate(((1.0 - discount) * totals, -np.ones(n_stages)))
    # C_{k-1} - C_k <= 0; the matrices are a few dozen rows: dense is cheaper than sparse
    mono = np.zeros((n_stages - 1, 2 * n_stages))
    kk = np.arange(n_stages - 1)
    mono[kk, kk], mono[kk, kk + 1] = 1.0, -1.0
    bounds = [(lo, hi)] * n_stages + [(None, None)] * n_stages
    for _ in range(200):
        hyp = np.zeros((len(cuts), 2 * n_stages))  # z_k - B_j C_k <= A_j
        for r, (k, _a, b) in enumerate(cuts):
            hyp[r, n_stages + k], hyp[r, k] = 1.0, -b
        res = linprog(cost, A_ub=np.vstack((hyp, mono)),
                      b_ub=np.concatenate(([a for _k, a, _b in cuts], np.zeros(n_stages - 1))),
                      bounds=bounds, method="highs")
        if res.status != 0:  # pragma: no cover - bounded and feasible by construction
            raise RuntimeError(f"HiGHS failed on the tranche LP: {res.message}")
        levels = np.clip(np.maximum.accumulate(np.asarray(res.x[:n_stages], dtype=np.float64)),
                         lo, hi)
        z = res.x[n_stages:]
        new = []
        for k in range(n_stages):
            if z[k] > f(k, levels[k]) + 1e-9 * max(1.0, abs(z[k])):
                a, b = piece(k, levels[k])
                new.append((k, a, b))
        if not new:
            break
        cuts += new
    best = sum(f(k, levels[k]) - (1 - discount) * totals[k] * levels[k] for k in range(n_stages))
    return levels, float(best)
