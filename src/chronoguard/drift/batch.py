"""Batch two-sample drift tests over many columns and series at once.

Each test takes a *reference* — a :class:`~chronoguard.drift.profile.ReferenceProfile`
(the production case: computed at training time, never re-reading training data) or raw
data — and a *current* window, and returns one :class:`DriftResult` per column (per series
× feature for long data). Raw data may be a 1-D or 2-D array, a Series, a wide DataFrame or
a long DataFrame in the data contract (``unique_id``, ``ds``, features); see
:func:`chronoguard.drift.profile.to_columns` for naming.

The arithmetic lives in ``_core`` (vectorised across columns); ``_dispatch`` validates,
matches columns, picks the faster strategy and wraps numbers into results. Decisions:
p-value tests flag drift when ``p_value < threshold``; distance tests when
``statistic >= threshold`` (Evidently's convention).

These are iid tests: on autocorrelated or seasonal series their p-values are too small.
Use them for screening and as the statistics behind the dependence-aware p-values of
``chronoguard.drift.inference``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from chronoguard.drift import _core, _core_rank
from chronoguard.drift._columns import ColumnSet, to_columns, value_counts
from chronoguard.drift._dispatch import (
    _bins,
    _Group,
    _ks_statistic,
    _merged_stat,
    _no_sketch,
    _result,
    _run,
    _sizes,
    _wasserstein,
)
from chronoguard.drift.profile import ReferenceProfile
from chronoguard.drift.types import DriftInputError, DriftKind, DriftResult

#: Default thresholds. p-value tests: significance level. PSI 0.2 is the usual "significant
#: shift" mark; normed Wasserstein 0.1 and JS 0.1 follow Evidently's defaults.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "psi": 0.2,
    "wasserstein": 0.1,
    "jensen_shannon": 0.1,
    "chi2": 0.05,
    "anderson_darling": 0.05,
    "cramer_von_mises": 0.05,
}
NUMERIC_METHODS = (
    "ks",
    "psi",
    "wasserstein",
    "jensen_shannon",
    "anderson_darling",
    "cramer_von_mises",
)


# --------------------------------------------------------------------------------------
# Kolmogorov–Smirnov
# --------------------------------------------------------------------------------------


def ks_test(
    reference: Any,
    current: Any,
    *,
    threshold: float = DEFAULT_THRESHOLDS["ks"],
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Two-sided two-sample Kolmogorov–Smirnov test per column.

    Statistic and p-value equal ``scipy.stats.ks_2samp(ref, cur)`` (``method="auto"``:
    exact up to 10,000 points per sample, asymptotic above). Drift when
    ``p_value < threshold``. Against a sketched profile the statistic is within
    ``details["max_error"]`` of the full-sample one.

    Parameters
    ----------
    reference
        A :class:`ReferenceProfile`, or raw data: 1-D/2-D array, Series, wide DataFrame, or
        long DataFrame with ``id_col`` (one column per series × feature).
    current
        The window to test, in the same form as the raw reference.
    threshold
        Significance level (p-value tests) or distance (distance tests) for ``drift``.
    features
        Columns to test; for arrays, the names of their columns (default ``x0, x1, …``,
        or ``y`` for 1-D data).
    id_col, time_col
        Series id and timestamp columns of long frames (rows are ordered by time).
    kind
        What the columns are (data, prediction, residuals…), copied into each result.

    Returns
    -------
    list of DriftResult
        One per current column, in the current data's column order. The other tests of
        this module take the same parameters plus their own.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(1000, 2)), rng.normal(size=(200, 2)) + [0.0, 0.5]
    >>> [(r.feature, round(r.statistic, 3), r.drift) for r in ks_test(ref, cur)]
    [('x0', 0.057, False), ('x1', 0.231, True)]
    """

    def per_group(grp: _Group) -> list[DriftResult]:
        cur_s = _core.sort_columns(grp.cur)
        d = _ks_statistic(grp, cur_s)
        d_used, p, missing = _core.ks_pvalues(d, grp.n, grp.m)
        for j in map(int, np.flatnonzero(missing)):  # only if scipy's exact routine moved
            res = stats.ks_2samp(grp.ref_col(j), cur_s[:, j])
            d_used[j], p[j] = res.statistic, res.pvalue
        exact = max(grp.n, grp.m) <= _core.KS_EXACT_MAX_N
        out = []
        for j, key in enumerate(grp.keys):
            det = {**_sizes(grp), "p_method": "exact" if exact else "asymptotic"}
            if grp.block.sketch:
                det["max_error"] = float(grp.block.get("sketch_ks_error")[grp.ref_idx[j]])
            out.append(_result("ks", key, d_used[j], p[j], threshold, kind, det))
        return out

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


# --------------------------------------------------------------------------------------
# Wasserstein
# --------------------------------------------------------------------------------------


def wasserstein_test(
    reference: Any,
    current: Any,
    *,
    normed: bool = True,
    threshold: float | None = None,
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Wasserstein-1 distance per column, normed by the reference std by default.

    ``normed=True`` (method ``"wasserstein_normed"``): ``W1 / max(std_ref, 0.001)`` with the
    population std (ddof=0) — exactly Evidently's "normed Wasserstein"; default threshold
    0.1. ``normed=False`` (method ``"wasserstein"``): the raw distance, equal to
    ``scipy.stats.wasserstein_distance``; the default threshold is then 0.1 reference
    standard deviations (reported in absolute units per column). Drift when
    ``statistic >= threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(1000, 1)), rng.normal(size=(200, 1)) + 0.5
    >>> r = wasserstein_test(ref, cur)[0]
    >>> r.method, round(r.statistic, 3), r.drift
    ('wasserstein_normed', 0.61, True)
    """
    thr = DEFAULT_THRESHOLDS["wasserstein"] if threshold is None else threshold

    def per_group(grp: _Group) -> list[DriftResult]:
        cur_s = _core.sort_columns(grp.cur)
        w = _wasserstein(grp, cur_s)
        std = grp.block.get("std")[grp.ref_idx]
        norm = np.maximum(std, 0.001)
        out = []
        for j, key in enumerate(grp.keys):
            det = {**_sizes(grp), "reference_std": float(std[j])}
            err = 0.0
            if grp.block.sketch:
                err = float(grp.block.get("sketch_w1_error")[grp.ref_idx[j]])
            if normed:
                if grp.block.sketch:
                    det["max_error"] = err / float(norm[j])
                out.append(_result("wasserstein_normed", key, w[j] / norm[j], None, thr, kind, det))
            else:
                if grp.block.sketch:
                    det["max_error"] = err
                t = thr * float(norm[j]) if threshold is None else thr
                out.append(_result("wasserstein", key, w[j], None, t, kind, det))
        return out

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


# --------------------------------------------------------------------------------------
# binned: PSI and Jensen–Shannon
# --------------------------------------------------------------------------------------


def psi_test(
    reference: Any,
    current: Any,
    *,
    n_bins: int = 10,
    eps: float = 1e-4,
    threshold: float = DEFAULT_THRESHOLDS["psi"],
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Population stability index per column over ``n_bins`` reference-quantile bins.

    Bins are right-closed with open outer bins, edges at the reference quantiles
    ``i / n_bins``. Proportions below ``eps`` are raised to ``eps`` before the log (see
    ``_core.psi_from_counts``). Common reading: < 0.1 stable, 0.1–0.2 moderate, ≥ 0.2 shifted.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(1000, 1)), rng.normal(size=(500, 1)) + 0.5
    >>> r = psi_test(ref, cur)[0]
    >>> round(r.statistic, 3), r.drift
    (0.36, True)
    """

    def per_group(grp: _Group) -> list[DriftResult]:
        edges, ref_p = _bins(grp, n_bins)
        cur_c = _core.bin_counts(grp.cur, edges)
        psi = _core.psi_from_counts(ref_p, cur_c, eps)
        det = {**_sizes(grp), "n_bins": n_bins, "eps": eps}
        return [
            _result("psi", key, psi[j], None, threshold, kind, dict(det))
            for j, key in enumerate(grp.keys)
        ]

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


def jensen_shannon_test(
    reference: Any,
    current: Any,
    *,
    n_bins: int = 10,
    threshold: float = DEFAULT_THRESHOLDS["jensen_shannon"],
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Jensen–Shannon distance (base 2, in [0, 1]) per column over the PSI bins.

    Equal to ``scipy.spatial.distance.jensenshannon(p_ref, p_cur, base=2)`` on the bin
    proportions. Drift when ``statistic >= threshold``.
    """

    def per_group(grp: _Group) -> list[DriftResult]:
        edges, ref_p = _bins(grp, n_bins)
        js = _core.js_distance_from_counts(ref_p, _core.bin_counts(grp.cur, edges))
        det = {**_sizes(grp), "n_bins": n_bins}
        return [
            _result("jensen_shannon", key, js[j], None, threshold, kind, dict(det))
            for j, key in enumerate(grp.keys)
        ]

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


# --------------------------------------------------------------------------------------
# rank tests: Anderson–Darling and Cramér–von Mises
# --------------------------------------------------------------------------------------


def anderson_darling_test(
    reference: Any,
    current: Any,
    *,
    threshold: float = DEFAULT_THRESHOLDS["anderson_darling"],
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """k-sample Anderson–Darling test (k = 2, mid-rank variant) per column.

    Statistic and p-value as ``scipy.stats.anderson_ksamp([ref, cur], variant="midrank")``;
    the p-value is interpolated from Scholz & Stephens' table and so is capped to
    [0.001, 0.25] (``details["p_capped"]``). A column whose pooled values are all equal has
    no statistic: it is reported as NaN with ``p_value`` 1 and no drift.
    """

    def per_group(grp: _Group) -> list[DriftResult]:
        _no_sketch(grp, "anderson_darling")
        if min(grp.n, grp.m) < 2:
            raise DriftInputError(
                f"anderson_darling needs at least 2 points per sample for {grp.keys[0].label()} "
                f"(reference {grp.n}, current {grp.m}); use a longer window."
            )
        a2 = np.empty(len(grp.keys))
        ok = np.empty(len(grp.keys), dtype=bool)
        for idx, (stat, good) in _merged_stat(grp, _core_rank.ad_midrank_merged):
            a2[idx], ok[idx] = stat, good
        p, capped = _core_rank.ad_pvalues(a2)
        out = []
        for j, key in enumerate(grp.keys):
            det = {**_sizes(grp), "p_capped": bool(capped[j])}
            if not ok[j]:
                det["note"] = "all values identical: statistic undefined"
                out.append(_result("anderson_darling", key, np.nan, 1.0, threshold, kind, det))
            else:
                out.append(_result("anderson_darling", key, a2[j], p[j], threshold, kind, det))
        return out

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


def cramer_von_mises_test(
    reference: Any,
    current: Any,
    *,
    threshold: float = DEFAULT_THRESHOLDS["cramer_von_mises"],
    features: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Two-sample Cramér–von Mises test per column.

    Statistic ``T`` and p-value as ``scipy.stats.cramervonmises_2samp(ref, cur)``: exact
    when both samples have at most 20 points, asymptotic (Anderson 1962) otherwise.
    """

    def per_group(grp: _Group) -> list[DriftResult]:
        _no_sketch(grp, "cramer_von_mises")
        if min(grp.n, grp.m) < 2:
            raise DriftInputError(
                f"cramer_von_mises needs at least 2 points per sample for {grp.keys[0].label()} "
                f"(reference {grp.n}, current {grp.m}); use a longer window."
            )
        t = np.empty(len(grp.keys))
        for idx, (stat, _) in _merged_stat(grp, _core_rank.cvm_merged):
            t[idx] = stat
        exact = max(grp.n, grp.m) <= _core_rank.CVM_EXACT_MAX_N
        if exact:  # tiny samples: scipy's exact null distribution on the samples themselves
            p = np.array(
                [
                    stats.cramervonmises_2samp(grp.ref_col(j), grp.cur[:, j], method="exact").pvalue
                    for j in range(len(grp.keys))
                ]
            )
        else:
            p = _core_rank.cvm_pvalues_asymptotic(t, grp.n, grp.m)
        det = {**_sizes(grp), "p_method": "exact" if exact else "asymptotic"}
        return [
            _result("cramer_von_mises", key, t[j], p[j], threshold, kind, dict(det))
            for j, key in enumerate(grp.keys)
        ]

    return _run(reference, current, per_group, features=features, id_col=id_col, time_col=time_col)


# --------------------------------------------------------------------------------------
# categorical
# --------------------------------------------------------------------------------------


def chi2_test(
    reference: Any,
    current: Any,
    *,
    threshold: float = DEFAULT_THRESHOLDS["chi2"],
    features: list[str] | None = None,
    categorical: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Chi-squared test of homogeneity per categorical column (reference vs current counts).

    Same statistic and p-value as ``scipy.stats.chi2_contingency`` on the 2 × K table of
    counts over the categories seen in either sample (Yates-corrected when K = 2). Values
    are compared as strings. Drift when ``p_value < threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.array(["a"] * 60 + ["b"] * 40)
    >>> cur = np.array(["a"] * 30 + ["b"] * 70)
    >>> r = chi2_test(ref, cur)[0]
    >>> round(r.statistic, 2), r.drift
    (16.99, True)
    """

    def cols(data: Any, what: str) -> ColumnSet:
        return to_columns(
            data,
            features=features,
            categorical=categorical,
            id_col=id_col,
            time_col=time_col,
            what=what,
        )

    if isinstance(reference, ReferenceProfile):
        ref_counts = {k: s.counts for k, s in reference.categorical.items()}
    else:
        ref_counts = {
            k: value_counts(v) for k, v in cols(reference, "reference").categorical.items()
        }
    cur = cols(current, "current")
    if not cur.categorical:
        raise DriftInputError(
            "the current data has no categorical column; chi2_test compares category counts — "
            "pass string/categorical columns or name them with `categorical=`."
        )
    out = []
    for key, values in cur.categorical.items():
        if key not in ref_counts:
            raise DriftInputError(
                f"the reference has no categorical column {key.label()}; it has "
                f"{[k.label() for k in list(ref_counts)[:10]]}. Pass matching columns."
            )
        rc, cc = ref_counts[key], value_counts(values)
        cats = sorted(set(rc) | set(cc))
        r_arr = np.array([rc.get(c, 0) for c in cats], dtype=np.int64)
        c_arr = np.array([cc.get(c, 0) for c in cats], dtype=np.int64)
        stat, p, dof = _core.chi2_two_sample(r_arr, c_arr)
        det = {
            "n_reference": int(r_arr.sum()),
            "n_current": int(c_arr.sum()),
            "dof": dof,
            "unseen_categories": [c for c in cats if c not in rc][:20],
        }
        out.append(_result("chi2", key, stat, p, threshold, kind, det))
    return out


# --------------------------------------------------------------------------------------
# all at once
# --------------------------------------------------------------------------------------

_NUMERIC: dict[str, Callable[..., list[DriftResult]]] = {
    "ks": ks_test,
    "psi": psi_test,
    "wasserstein": wasserstein_test,
    "jensen_shannon": jensen_shannon_test,
    "anderson_darling": anderson_darling_test,
    "cramer_von_mises": cramer_von_mises_test,
}


def detect_drift(
    reference: Any,
    current: Any,
    *,
    methods: Sequence[str] = ("ks",),
    categorical_method: str | None = "chi2",
    thresholds: dict[str, float] | None = None,
    features: list[str] | None = None,
    categorical: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    kind: DriftKind = DriftKind.DATA,
) -> list[DriftResult]:
    """Run several tests over every column: ``methods`` on numeric ones, chi2 on categorical.

    A raw reference is profiled (sorted) once and shared by all methods. Results come per
    method, in column order.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    >>> cur = pd.DataFrame({"x": rng.normal(size=100) + 1, "c": rng.choice(["a", "b"], 100)})
    >>> [(r.method, r.feature, r.drift) for r in detect_drift(ref, cur, methods=["ks", "psi"])]
    [('ks', 'x', True), ('psi', 'x', True), ('chi2', 'c', False)]
    """
    unknown = [m for m in methods if m not in _NUMERIC]
    if unknown or (categorical_method not in (None, "chi2")):
        raise DriftInputError(
            f"unknown drift method(s) {unknown or [categorical_method]}; numeric methods are "
            f"{list(_NUMERIC)} and the categorical method is 'chi2'."
        )
    thr = {**DEFAULT_THRESHOLDS, **(thresholds or {})}

    def cols(data: Any, what: str) -> ColumnSet:
        return to_columns(
            data,
            features=features,
            categorical=categorical,
            id_col=id_col,
            time_col=time_col,
            what=what,
        )

    if isinstance(reference, ReferenceProfile):
        profile = reference
    else:
        profile = ReferenceProfile.for_check(cols(reference, "reference"))
    cur = cols(current, "current")
    out: list[DriftResult] = []
    # Numeric tests see only the numeric columns (a column declared categorical stays out).
    numeric_features = list(dict.fromkeys(k.feature for k in cur.numeric_keys))
    if cur.numeric:
        for m in methods:
            out.extend(
                _NUMERIC[m](
                    profile,
                    current,
                    threshold=thr[m],
                    features=numeric_features,
                    id_col=id_col,
                    time_col=time_col,
                    kind=kind,
                )
            )
    if categorical_method and cur.categorical:
        out.extend(
            chi2_test(
                profile,
                current,
                threshold=thr["chi2"],
                categorical=categorical,
                id_col=id_col,
                time_col=time_col,
                kind=kind,
                features=features,
            )
        )
    return out
