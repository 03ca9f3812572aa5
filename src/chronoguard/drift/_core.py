"""Numeric core of the batch drift tests: pure numpy functions over many columns at once.

Everything here takes and returns plain arrays; there is no pandas, no column names and no
input validation (``batch.py`` and ``profile.py`` validate once, at the door). Data are 2-D
and column-wise: a sample of ``n`` observations of ``k`` columns (features, or series ×
feature) has shape ``(n, k)``, and every statistic comes back with shape ``(k,)``.

Why hand-written rather than a loop over ``scipy.stats``: a monitoring run tests thousands of
columns (series × features), and a scipy call costs 0.1–1 ms of per-call overhead before any
arithmetic, re-sorts the reference on every call and cannot reuse one sort for several
tests. Here a reference is sorted once (at profile time), and two strategies cover the two
shapes that occur in practice:

* *merged* (``merge_sorted`` + ``*_merged``): many small columns. One stable argsort of the
  stacked reference and current samples, vectorised across all columns in C, yields the
  ECDFs, the ranks and the tie groups that KS, Wasserstein, Cramér–von Mises and
  Anderson–Darling all need. No Python loop over columns.
* *searchsorted* (``ks_sorted``, ``wasserstein_sorted``): a large stored reference (10⁵–10⁷
  rows) against a small current window. Only the ``m`` current points are located in the
  sorted reference, so a check costs O(m log n) per column instead of O((n+m) log(n+m)).
  Wasserstein uses a precomputed running integral of the reference ECDF
  (``ecdf_integral_prefix``, one cheap cumulative sum) instead of a merge.

Both strategies reproduce scipy's arithmetic (the same integer counts divided the same
way), so results equal ``scipy.stats`` to rounding; the test-suite checks 1e-9. The
Cramér–von Mises and Anderson–Darling kernels live in ``_core_rank``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# scipy.stats.ks_2samp(method="auto") is exact when both samples have at most this many points.
KS_EXACT_MAX_N = 10_000

try:  # The exact KS p-value of scipy depends only on (n1, n2, D); reuse scipy's own routine.
    from scipy.stats._stats_py import _attempt_exact_2kssamp as _scipy_exact_ks
except ImportError:  # pragma: no cover - a future scipy moved it; batch.py falls back.
    _scipy_exact_ks = None


# --------------------------------------------------------------------------------------
# sorting and merging
# --------------------------------------------------------------------------------------


def sort_columns(x: npt.ArrayLike) -> FloatArray:
    """Return a float64 copy of ``x`` (``(n, k)``) with every column sorted ascending.

    The result is Fortran-ordered so that each column is contiguous: sorting, searching and
    slicing one column then touch consecutive memory. Only one copy of the data is made
    (assignment converts dtype and layout in place of a temporary ``astype`` copy).
    """
    out = fortran_copy(x)
    out.sort(axis=0)
    return out


def fortran_copy(x: npt.ArrayLike) -> FloatArray:
    """A float64, column-major copy of ``x`` (1-D becomes one column)."""
    a = np.asarray(x)
    if a.ndim == 1:
        a = a[:, None]
    out = np.empty(a.shape, dtype=np.float64, order="F")
    if a.flags.f_contiguous or a.shape[1] == 1:
        out[...] = a
    else:
        # A row-major (n, k) array turned column-major in one assignment strides through
        # memory column by column (~6x slower for 10^6 x 50); slabs of rows that fit in
        # cache transpose at memory speed.
        for rows in row_slabs(a):
            out[rows] = a[rows]
    return out


def row_slabs(x: npt.NDArray[Any], cells: int = 2**18) -> list[slice]:
    """Row ranges of about ``cells`` elements: cache-sized pieces for any memory layout."""
    step = max(1, cells // max(x.shape[1], 1))
    return [slice(a, a + step) for a in range(0, x.shape[0], step)]


def finite_columns(x: FloatArray) -> BoolArray:
    """True for columns without NaN or infinity (in row slabs: no n × k mask is built)."""
    ok = np.ones(x.shape[1], dtype=bool)
    for rows in row_slabs(x):
        ok &= np.isfinite(x[rows]).all(axis=0)
    return ok


@dataclass(frozen=True, slots=True)
class Merged:
    """Reference and current samples merged column-wise (ties: reference first).

    ``values`` is the pooled sample sorted per column, ``from_ref`` marks reference points,
    ``cref``/``ccur`` count reference/current points at or before each position, and
    ``start``/``end`` give the first/last position of each position's tie group.
    """

    values: FloatArray
    from_ref: BoolArray
    cref: IntArray
    ccur: IntArray
    start: IntArray
    end: IntArray
    n: int
    m: int

    @property
    def last(self) -> BoolArray:
        """True at the last position of each group of tied values."""
        return np.asarray(self.end == np.arange(self.values.shape[0])[:, None])


def merge_sorted(ref: FloatArray, cur: FloatArray) -> Merged:
    """Merge two column-wise samples (any order) into a :class:`Merged` view.

    ``ref`` is ``(n, k)`` and ``cur`` is ``(m, k)``. A stable argsort keeps reference points
    before current points within ties, which is what the rank and ECDF formulas below
    assume. When both inputs are already sorted, numpy's stable sort (timsort) finds the
    two runs and merges them in linear time.
    """
    n, k = ref.shape
    m = cur.shape[0]
    pooled = np.empty((n + m, k), dtype=np.float64, order="F")
    pooled[:n] = ref
    pooled[n:] = cur
    order = np.argsort(pooled, axis=0, kind="stable")
    values = np.take_along_axis(pooled, order, axis=0)
    from_ref = order < n
    cref = np.cumsum(from_ref, axis=0, dtype=np.int64)
    pos = np.arange(n + m, dtype=np.int64)[:, None]
    ccur = pos + 1 - cref
    new_group = np.empty(values.shape, dtype=bool)
    new_group[0] = True
    np.not_equal(values[1:], values[:-1], out=new_group[1:])
    start = np.maximum.accumulate(np.where(new_group, pos, 0), axis=0)
    is_last = np.empty(values.shape, dtype=bool)
    is_last[-1] = True
    is_last[:-1] = new_group[1:]
    end = np.minimum.accumulate(np.where(is_last, pos, n + m)[::-1], axis=0)[::-1]
    return Merged(values, from_ref, cref, ccur, start, np.ascontiguousarray(end), n, m)


# --------------------------------------------------------------------------------------
# Kolmogorov–Smirnov
# --------------------------------------------------------------------------------------


def ks_merged(mg: Merged) -> FloatArray:
    """Two-sided two-sample KS statistic per column from a merged view.

    As scipy: ``max |F_ref(z) - F_cur(z)|`` over pooled points ``z``, with right-continuous
    ECDFs (so only the last point of a tie group counts).
    """
    diff = mg.cref / mg.n - mg.ccur / mg.m
    diff = np.where(mg.last, diff, 0.0)  # 0 is neutral: both one-sided maxima are >= 0
    max_s = diff.max(axis=0)
    min_s = np.clip(-diff.min(axis=0), 0.0, 1.0)
    return np.asarray(np.where(min_s > max_s, min_s, max_s), dtype=np.float64)


def _tie_bounds(c: FloatArray) -> tuple[IntArray, IntArray]:
    """For a sorted 1-D sample: count of values ``< c_i`` and ``<= c_i`` for every ``i``."""
    m = c.shape[0]
    pos = np.arange(m, dtype=np.int64)
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(c[1:], c[:-1], out=new[1:])
    last = np.empty(m, dtype=bool)
    last[-1] = True
    last[:-1] = new[1:]
    start = np.maximum.accumulate(np.where(new, pos, 0))
    end = np.minimum.accumulate(np.where(last, pos, m)[::-1])[::-1]
    return start, end + 1


def ks_sorted(
    ref_sorted: FloatArray, cur_sorted: FloatArray, ref_cols: Sequence[int] | None = None
) -> FloatArray:
    """KS statistic per column of a sorted reference against a sorted current sample.

    O(m log n) per column: between consecutive current points the current ECDF is flat and
    the reference ECDF only rises, so ``F_ref - F_cur`` peaks just before a current point and
    bottoms out at one. Evaluating there (with exactly scipy's ``count / n`` arithmetic)
    gives the same supremum as scipy's evaluation at all ``n + m`` pooled points.
    ``ref_cols`` picks the reference column for each current column (default: the same
    index), so a subset of a big stored block is tested without copying it.
    """
    n = ref_sorted.shape[0]
    m, k = cur_sorted.shape
    cols = range(k) if ref_cols is None else ref_cols
    out = np.empty(k, dtype=np.float64)
    for j, rj in enumerate(cols):
        r = ref_sorted[:, rj]
        c = cur_sorted[:, j]
        lo = np.searchsorted(r, c, side="left")  # reference points < c
        hi = lo.copy()  # reference points <= c: differs from lo only where c is tied in r
        tied = lo < n
        tied[tied] = r[lo[tied]] == c[tied]
        if tied.any():
            hi[tied] = np.searchsorted(r, c[tied], side="right")
        clo, chi = _tie_bounds(c)
        max_s = max(float((lo / n - clo / m).max()), 0.0)
        min_s = min(max(-float((hi / n - chi / m).min()), 0.0), 1.0)
        out[j] = min_s if min_s > max_s else max_s
    return out


def ks_pvalues(d: FloatArray, n: int, m: int) -> tuple[FloatArray, FloatArray, BoolArray]:
    """p-values of two-sided two-sample KS statistics, as ``scipy.stats.ks_2samp(method="auto")``.

    Exact (Hodges' lattice-path count) when ``max(n, m) <= 10_000``, Smirnov's asymptotic
    distribution otherwise or when the exact count overflows. In exact mode scipy snaps ``D``
    to the lattice ``h / lcm(n, m)``; the snapped statistic is returned too. The exact value
    depends only on ``(n, m, h)``, so it is computed once per distinct ``h``.

    Returns
    -------
    d_used, p, missing
        The statistic as scipy reports it, the p-value, and a mask of columns whose exact
        p-value could not be computed here (only if scipy's private routine is gone; the
        caller then asks ``scipy.stats.ks_2samp`` for those columns).
    """
    d = np.asarray(d, dtype=np.float64)
    p = np.empty_like(d)
    d_used = d.copy()
    missing = np.zeros(d.shape, dtype=bool)
    asymp = np.ones(d.shape, dtype=bool)
    if max(n, m) <= KS_EXACT_MAX_N:
        g = math.gcd(n, m)
        lcm = (n // g) * m
        h = np.round(d * lcm).astype(np.int64)
        d_used = h * 1.0 / lcm
        if _scipy_exact_ks is None:  # pragma: no cover - exercised via monkeypatch in tests
            missing[:] = True
            asymp[:] = False
            p[:] = np.nan
        else:
            for hv in np.unique(h):
                ok, _, prob = _scipy_exact_ks(n, m, g, float(hv) / lcm, "two-sided")
                sel = h == hv
                if ok:
                    p[sel] = prob
                    asymp[sel] = False
    if asymp.any():
        big, small = sorted([float(n), float(m)], reverse=True)
        en = big * small / (big + small)
        p[asymp] = stats.kstwo.sf(d_used[asymp], np.round(en))
    return d_used, np.clip(p, 0.0, 1.0), missing


# --------------------------------------------------------------------------------------
# Wasserstein-1
# --------------------------------------------------------------------------------------


def wasserstein_merged(mg: Merged) -> FloatArray:
    """Wasserstein-1 distance per column, ``∫ |F_ref - F_cur| dx``, from a merged view.

    The same sum as ``scipy.stats.wasserstein_distance``: ECDF gap times the gap between
    consecutive pooled points (tied points contribute a zero-width interval).
    """
    gap = np.abs(mg.cref[:-1] / mg.n - mg.ccur[:-1] / mg.m)
    widths = np.diff(mg.values, axis=0)
    return np.asarray(np.sum(gap * widths, axis=0), dtype=np.float64)


def ecdf_integral_prefix(ref_sorted: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """Running integral of the reference ECDF at its own points, times ``n``, for one column.

    ``out[i] = n * ∫_{r_0}^{r_i} F_ref(s) ds = Σ_{t<i} (t + 1) (r_{t+1} - r_t)`` for the 1-D
    sorted sample ``ref_sorted`` (``weights``, if given, is ``arange(1, n)`` as float, to
    share across columns). Differences of neighbours keep it exact under any offset of the
    data. One pass over the column (a few ms per million points), so it is computed per
    check rather than stored: storing it would double a profile's size.
    """
    n = ref_sorted.shape[0]
    out = np.empty(n, dtype=np.float64)
    out[0] = 0.0
    if n > 1:
        np.subtract(ref_sorted[1:], ref_sorted[:-1], out=out[1:])
        out[1:] *= np.arange(1, n, dtype=np.float64) if weights is None else weights
        np.cumsum(out[1:], out=out[1:])
    return out


def wasserstein_sorted(
    ref_sorted: FloatArray, cur_sorted: FloatArray, ref_cols: Sequence[int] | None = None
) -> FloatArray:
    """Wasserstein-1 per column of a sorted reference vs a sorted current sample.

    With ``I(x) = n ∫_{-inf}^{x} F_ref`` (from :func:`ecdf_integral_prefix`; ``I`` is
    piecewise linear and continuous, so ``I(x) = prefix[i] + (i + 1)(x - r_i)`` for any
    ``r_i <= x <= r_{i+1}``): between current points ``c_j`` and ``c_{j+1}`` the current
    ECDF is the constant ``g = j/m`` and ``F_ref`` only rises, so ``F_ref - g`` changes sign
    once, at ``t = r[ceil(j n / m) - 1]``. Hence, with ``t'`` = ``t`` clipped to ``[a, b]``::

        n ∫_a^b |F - g| = (I(b) - I(a)) - n g (b - a) + 2 [n g (t' - a) - (I(t') - I(a))]

    and ``I(t') = prefix[t_index]`` unless clipped. The tails below ``c_1`` and above ``c_m``
    are the same with ``g = 0`` and ``g = 1``. Beyond the prefix pass, one binary search per
    current point; the sum equals scipy's merged-sample sum up to rounding. ``ref_cols`` as
    in :func:`ks_sorted`.
    """
    n = ref_sorted.shape[0]
    m, k = cur_sorted.shape
    cols = range(k) if ref_cols is None else ref_cols
    out = np.empty(k, dtype=np.float64)
    j_idx = np.arange(1, m, dtype=np.int64)
    g_n = j_idx * (n / m)  # n * g
    t_idx = (j_idx * n + m - 1) // m - 1  # ceil(j n / m) - 1, exact in integers
    weights = np.arange(1, n, dtype=np.float64)
    for col, rj in enumerate(cols):
        r = ref_sorted[:, rj]
        q = ecdf_integral_prefix(r, weights)
        c = cur_sorted[:, col]
        cnt = np.searchsorted(r, c, side="right")
        below = np.maximum(cnt - 1, 0)
        ic = np.where(cnt == 0, 0.0, q[below] + cnt * (c - r[below]))
        total = float(ic[0])  # below c_1 the current ECDF is 0: ∫ F
        if m > 1:
            a, b = c[:-1], c[1:]
            ia, ib = ic[:-1], ic[1:]
            tv = r[t_idx]
            it = np.where(tv <= a, ia, np.where(tv >= b, ib, q[t_idx]))
            t = np.clip(tv, a, b)
            seg = (ib - ia) - g_n * (b - a) + 2.0 * (g_n * (t - a) - (it - ia))
            total += float(seg.sum())
        upper = max(float(r[-1]), float(c[-1]))  # above c_m the current ECDF is 1: ∫ (1 - F)
        i_up = float(q[-1]) + n * (upper - float(r[-1]))
        total += n * (upper - float(c[-1])) - (i_up - float(ic[-1]))
        out[col] = total / n
    return out


def normalised_wasserstein(w: FloatArray, ref_std: FloatArray) -> FloatArray:
    """Wasserstein-1 divided by the reference standard deviation (ddof=0), floored at 0.001.

    This is Evidently's "normed Wasserstein" (``stattests/wasserstein_distance_norm.py``:
    ``wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)``), so thresholds tuned
    there (default 0.1) carry over.
    """
    return np.asarray(w / np.maximum(ref_std, 0.001), dtype=np.float64)


# --------------------------------------------------------------------------------------
# binned divergences: PSI and Jensen–Shannon
# --------------------------------------------------------------------------------------


def quantile_edges(ref_sorted: FloatArray, n_bins: int) -> FloatArray:
    """Inner bin edges ``(n_bins - 1, k)``: reference quantiles at ``i / n_bins``.

    Linear interpolation between order statistics (numpy's default quantile). Bins are
    right-closed, ``(e_{i-1}, e_i]``, with open outer bins, so every value falls in one.
    Repeated edges (heavily tied data) simply leave empty bins, which contribute nothing
    to PSI or JS because both samples are empty there.
    """
    n = ref_sorted.shape[0]
    probs = np.arange(1, n_bins, dtype=np.float64) / n_bins
    pos = probs * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo)[:, None]
    return np.asarray(ref_sorted[lo] + frac * (ref_sorted[hi] - ref_sorted[lo]), dtype=np.float64)


def bin_counts_sorted(x_sorted: FloatArray, edges: FloatArray) -> IntArray:
    """Counts per right-closed bin ``(n_bins, k)`` of a column-sorted sample."""
    n, k = x_sorted.shape
    cum = np.empty((edges.shape[0] + 2, k), dtype=np.int64)
    cum[0] = 0
    cum[-1] = n
    for j in range(k):
        cum[1:-1, j] = np.searchsorted(x_sorted[:, j], edges[:, j], side="right")
    return np.diff(cum, axis=0)


def bin_counts(x: FloatArray, edges: FloatArray) -> IntArray:
    """Counts per right-closed bin ``(n_bins, k)`` of an unsorted sample (no sort needed)."""
    n, k = x.shape
    cum = np.empty((edges.shape[0] + 2, k), dtype=np.int64)
    cum[0] = 0
    cum[-1] = n
    for b in range(edges.shape[0]):  # one vectorised pass per edge; n_bins is small
        cum[b + 1] = np.count_nonzero(x <= edges[b], axis=0)
    return np.diff(cum, axis=0)


def psi_from_counts(ref_counts: npt.NDArray[Any], cur_counts: IntArray, eps: float) -> FloatArray:
    """Population stability index per column from bin counts (or proportions) ``(n_bins, k)``.

    ``PSI = Σ (q_i - p_i) ln(q_i / p_i)`` over bins, ``p`` reference and ``q`` current
    proportions. A proportion of 0 makes the log infinite, so proportions below ``eps`` are
    raised to ``eps`` (without renormalising) — the convention of Evidently and of most
    credit-risk practice; with ``eps = 1e-4`` an empty bin facing a 10 % bin adds ≈ 0.69.
    """
    p = np.maximum(ref_counts / ref_counts.sum(axis=0), eps)
    q = np.maximum(cur_counts / cur_counts.sum(axis=0), eps)
    return np.asarray(((q - p) * np.log(q / p)).sum(axis=0), dtype=np.float64)


def js_distance_from_counts(ref_counts: npt.NDArray[Any], cur_counts: IntArray) -> FloatArray:
    """Jensen–Shannon distance (base 2, so in [0, 1]) per column from bin counts.

    Equal to ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; empty bins need no
    smoothing because ``0 · log 0 = 0``.
    """
    p = ref_counts / ref_counts.sum(axis=0)
    q = cur_counts / cur_counts.sum(axis=0)
    mid = (p + q) / 2.0
    js = (special.rel_entr(p, mid).sum(axis=0) + special.rel_entr(q, mid).sum(axis=0)) / 2.0
    return np.asarray(np.sqrt(np.maximum(js, 0.0) / np.log(2.0)), dtype=np.float64)


# --------------------------------------------------------------------------------------
# categorical: chi-squared on the 2 × K contingency table
# --------------------------------------------------------------------------------------


def chi2_two_sample(ref_counts: IntArray, cur_counts: IntArray) -> tuple[float, float, int]:
    """Chi-squared test of homogeneity on one 2 × K table (reference vs current counts).

    Same as ``scipy.stats.chi2_contingency`` with its default Yates continuity correction
    when the table has one degree of freedom. Categories absent from both samples must
    already be dropped.
    """
    observed = np.stack([ref_counts, cur_counts]).astype(np.float64)
    dof = observed.shape[1] - 1
    if dof <= 0:
        return 0.0, 1.0, 0
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    if dof == 1:
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    stat = float(((observed - expected) ** 2 / expected).sum())
    return stat, float(stats.chi2.sf(stat, dof)), dof


# --------------------------------------------------------------------------------------
# dependence: autocorrelation, AR fits, seasonal means; sketches
# --------------------------------------------------------------------------------------


def column_slabs(x: FloatArray, budget: int = 2**17) -> list[slice]:
    # Column slabs whose temporaries stay near 1 MB: profiling 10^6 x 50 must not hold a
    # second full-size centred copy next to the sorted one. Meant for column-major arrays
    # (on row-major ones each slab would re-read every row).
    step = max(1, budget // max(x.shape[0], 1))
    return [slice(a, a + step) for a in range(0, x.shape[1], step)]


def column_std(x: FloatArray) -> FloatArray:
    """Population standard deviation (ddof=0) of each column, in memory-bounded slabs."""
    out = np.empty(x.shape[1])
    for sl in column_slabs(x):
        out[sl] = np.std(x[:, sl], axis=0)
    return out


def acf(x: FloatArray, nlags: int) -> FloatArray:
    """Sample autocorrelation ``(nlags + 1, k)`` of each column (biased estimator, as statsmodels)."""
    k = x.shape[1]
    out = np.zeros((nlags + 1, k))
    for sl in column_slabs(x):
        xc = x[:, sl] - x[:, sl].mean(axis=0)
        denom = np.einsum("ij,ij->j", xc, xc)
        safe = np.where(denom > 0, denom, 1.0)
        for lag in range(1, min(nlags, x.shape[0] - 1) + 1):
            out[lag, sl] = np.where(
                denom > 0, np.einsum("ij,ij->j", xc[:-lag], xc[lag:]) / safe, 0.0
            )
    out[0] = 1.0
    return out


def yule_walker(rho: FloatArray, order: int) -> tuple[FloatArray, FloatArray]:
    """AR(``order``) coefficients per column from autocorrelations (Levinson–Durbin).

    Returns ``phi`` ``(order, k)`` and the innovation variance as a fraction of the series
    variance ``(k,)``. Vectorised across columns; the recursion runs over the order only.
    """
    k = rho.shape[1]
    phi = np.zeros((order, k))
    err = np.ones(k)
    for p in range(1, order + 1):
        acc = rho[p] - (phi[: p - 1] * rho[p - 1 : 0 : -1]).sum(axis=0) if p > 1 else rho[1]
        refl = np.where(err > 0, acc / np.where(err > 0, err, 1.0), 0.0)
        if p > 1:
            phi[: p - 1] = phi[: p - 1] - refl * phi[p - 2 :: -1][: p - 1]
        phi[p - 1] = refl
        err = err * (1.0 - refl**2)
    return phi, err


def seasonal_means(x: FloatArray, season_length: int) -> FloatArray:
    """Mean of each column per season position ``t mod season_length`` ``(season_length, k)``.

    Positions count from the first row; a position without observations gets NaN.
    """
    out = np.full((season_length, x.shape[1]), np.nan)
    for p in range(min(season_length, x.shape[0])):
        out[p] = x[p::season_length].mean(axis=0)
    return out


def quantile_sketch(x_sorted: FloatArray, size: int) -> FloatArray:
    """A ``(size, k)`` sketch of column-sorted data: the order statistics at block midpoints.

    Point ``i`` is the order statistic of rank ``floor((i + 0.5) n / size)``, i.e. the
    middle of the ``i``-th of ``size`` equal-count blocks. Read as an equally weighted
    sample, its ECDF is within about ``1 / (2 size)`` of the full ECDF; the exact KS and
    Wasserstein distances between sketch and sample are measured when the sketch is made
    (see :class:`~chronoguard.drift.profile.ReferenceProfile`).
    """
    n = x_sorted.shape[0]
    idx = np.floor((np.arange(size) + 0.5) * n / size).astype(np.int64)
    return np.asarray(x_sorted[np.minimum(idx, n - 1)], dtype=np.float64, order="F")


def as_float_2d(x: Any) -> FloatArray:
    """View ``x`` as a 2-D float64 array (1-D becomes one column); copies only if needed."""
    a = np.asarray(x, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a
