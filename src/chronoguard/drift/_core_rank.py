"""Rank-based kernels of the batch drift tests: Cramér–von Mises and Anderson–Darling.

Split from :mod:`chronoguard.drift._core`, whose conventions apply unchanged: plain numpy
arrays, column-wise ``(n, k)`` data, no validation. Both statistics are computed from the
*merged* view (:func:`~chronoguard.drift._core.merge_sorted`), which supplies the pooled
ranks and tie groups they need; results equal ``scipy.stats`` to rounding.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import special

from chronoguard.drift._core import BoolArray, FloatArray, Merged

# scipy.stats.cramervonmises_2samp(method="auto") is exact when both have at most this many.
CVM_EXACT_MAX_N = 20


def cvm_merged(mg: Merged) -> tuple[FloatArray, FloatArray]:
    """Two-sample Cramér–von Mises ``T`` and ``U`` per column (scipy's eq. 9 and 10).

    Ranks are mid-ranks of the pooled sample; within a tie group every member shares the
    average rank, so which reference point gets which index inside a group does not matter.
    """
    n, m = mg.n, mg.m
    rank = (mg.start + mg.end) / 2.0 + 1.0
    ref_term = np.where(mg.from_ref, (rank - mg.cref) ** 2, 0.0).sum(axis=0)
    cur_term = np.where(mg.from_ref, 0.0, (rank - mg.ccur) ** 2).sum(axis=0)
    u = n * ref_term + m * cur_term
    kk, big_n = n * m, n + m
    t = u / (kk * big_n) - (4 * kk - 1) / (6 * big_n)
    return np.asarray(t, dtype=np.float64), np.asarray(u, dtype=np.float64)


def _cdf_cvm_inf(x: FloatArray) -> FloatArray:
    # Csörgő & Faraway (1996) eq. 1.2 series, summed until terms < 1e-7 — as scipy does.
    tot = np.zeros_like(x)
    cond = np.ones(x.shape, dtype=bool)
    k = 0
    while cond.any():
        xs = x[cond]
        u = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (np.pi**1.5 * np.sqrt(xs))
        y = 4 * k + 1
        q = y**2 / (16 * xs)
        z = u * math.sqrt(y) * np.exp(-q) * special.kv(0.25, q)
        tot[cond] += z
        cond[cond] = np.abs(z) >= 1e-7
        k += 1
    return tot


def cvm_pvalues_asymptotic(t: FloatArray, n: int, m: int) -> FloatArray:
    """Asymptotic p-values of two-sample CvM ``T`` (Anderson 1962), as scipy computes them."""
    t = np.asarray(t, dtype=np.float64)
    kk, big_n = n * m, n + m
    et = (1 + 1 / big_n) / 6
    vt_num = (big_n + 1) * (4 * kk * big_n - 3 * (n**2 + m**2) - 2 * kk)
    vt = vt_num / (45 * big_n**2 * 4 * kk)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    p = np.ones_like(tn)
    sel = tn >= 0.003  # below, 1 - cdf differs from 1 by < 1.3e-18
    if sel.any():
        p[sel] = np.clip(1.0 - _cdf_cvm_inf(tn[sel]), 0.0, None)
    return p


def ad_midrank_merged(mg: Merged) -> tuple[FloatArray, BoolArray]:
    """Standardised k-sample Anderson–Darling statistic (k = 2, mid-rank variant) per column.

    Scholz & Stephens (1987) eq. 7 and their normalisation, exactly as
    ``scipy.stats.anderson_ksamp(variant="midrank")``. Also returns a mask of columns whose
    pooled sample has at least two distinct values (the statistic is undefined otherwise).
    """
    n, m = mg.n, mg.m
    big_n = n + m
    last = mg.last
    lj = (mg.end - mg.start + 1).astype(np.float64)
    bj = mg.start + lj / 2.0
    start = mg.start
    prev = np.maximum(start - 1, 0)
    before_ref = np.where(start > 0, np.take_along_axis(mg.cref, prev, axis=0), 0)
    before_cur = np.where(start > 0, np.take_along_axis(mg.ccur, prev, axis=0), 0)
    denom = bj * (big_n - bj) - big_n * lj / 4.0
    ok_pos = last & (denom != 0)
    safe = np.where(ok_pos, denom, 1.0)
    a2 = np.zeros(mg.values.shape[1])
    for counts, before, size in ((mg.cref, before_ref, n), (mg.ccur, before_cur, m)):
        mij = counts - (counts - before) / 2.0
        inner = lj / float(big_n) * (big_n * mij - bj * size) ** 2 / safe
        a2 += np.where(ok_pos, inner, 0.0).sum(axis=0) / size
    a2 *= (big_n - 1.0) / big_n
    n_distinct = last.sum(axis=0)
    sigma = math.sqrt(_ad_sigmasq(n, m))
    return np.asarray((a2 - 1.0) / sigma, dtype=np.float64), np.asarray(n_distinct >= 2)


@lru_cache(maxsize=64)
def _ad_sigmasq(n: int, m: int) -> float:
    # Variance of A2kN under H0 (Scholz & Stephens 1987), k = 2; O(N) so cached per size pair.
    big_n = n + m
    k = 2
    h_sum = 1.0 / n + 1.0 / m
    hs_cs = (1.0 / np.arange(big_n - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, big_n)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * h_sum
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * h_sum - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * h_sum + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    return float(
        (a * big_n**3 + b * big_n**2 + c * big_n + d)
        / ((big_n - 1.0) * (big_n - 2.0) * (big_n - 3.0))
    )


# Scholz & Stephens (1987) Table 2 interpolation for k - 1 = 1, as in scipy.
_AD_SIG = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
_AD_CRIT = (
    np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
    + np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615]) / math.sqrt(1)
    + np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154]) / 1
)
_AD_FIT = np.polyfit(_AD_CRIT, np.log(_AD_SIG), 2)


def ad_pvalues(a2: FloatArray) -> tuple[FloatArray, BoolArray]:
    """p-values for standardised 2-sample AD statistics, with scipy's table and caps.

    The table covers 0.001–0.25: outside it the p-value is capped at 0.25 or floored at
    0.001 (scipy warns; here the second return value flags those columns).
    """
    a2 = np.asarray(a2, dtype=np.float64)
    p = np.exp(np.polyval(_AD_FIT, a2))
    low = a2 < _AD_CRIT.min()
    high = a2 > _AD_CRIT.max()
    p = np.where(low, _AD_SIG.max(), np.where(high, _AD_SIG.min(), p))
    return np.asarray(p, dtype=np.float64), np.asarray(low | high)
