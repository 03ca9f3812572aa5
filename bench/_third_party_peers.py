"""Evidently's and NannyML's default drift decisions for ``drift_calibration.py``.

Every function takes series as rows: ``y`` is ``(S, T)``, the reference is ``y[:, :n_ref]``
and a check on day ``d`` compares it with the current data so far, ``y[:, n_ref:n_ref + d]``.
Alarm arrays are ``(S, len(days))`` booleans, one column per check day.

Running the libraries themselves on every daily check is too slow: an Evidently ``Report``
with ``DataDriftPreset`` costs 0.13-0.2 s per column (most of it drawing plotly widgets), a
NannyML ``UnivariateDriftCalculator`` about 10 ms per column to fit and 4 ms per column and
check to calculate, and importing both about 9 s; the bench has 500 series x 84 days x 5
variants x 9 configurations. So every series and every day goes through vectorised copies of
the two default decision rules (``evidently_alarms``, ``nannyml_alarms``; about 0.1 s per
500 series x 84 days), and in the same run a subsample goes through the real libraries
(``evidently_report``, ``nannyml_calculator``): the statistic of every checked column (KS
p-value; chunk distances and thresholds) and the decision are compared, and the
disagreements are counted in the JSON.

Evidently 0.7 default (``DataDriftPreset``, per numeric column): with at most 1000 reference
rows and more than 5 distinct values in reference + current, the two-sample KS test, drift
when its p-value (``scipy.stats.ks_2samp``, exact for these sizes) is <= 0.05. With more
than 1000 reference rows it would be the normed Wasserstein distance > 0.1 instead; the
bench's 365-day reference is below that, so Evidently's default here is the same test as the
bench's ``ks`` peer (which alarms on p < 0.05 rather than <= 0.05).

NannyML 0.13 default (``UnivariateDriftCalculator`` with default methods, chunker and
thresholds): the Jensen–Shannon distance (base 2) between the histogram of a chunk and the
reference histogram on the reference's ``doane`` bin edges (current values outside the
reference range go to one extra bin). ``DefaultChunker`` cuts any data set into chunks of
``len // 10`` rows and keeps the leftover rows as a last, shorter chunk. The alert threshold
is ``mean + 3 * std`` (population std) of the distances of the reference's own chunks; a
check alarms when any chunk of the current data is above it.

What that does here (two ``--quick`` runs, medians over series; ``nannyml_default_facts`` in
the JSON has them per configuration): the 365-day reference gives ten 36-row chunks
(distance 0.22 for white noise) and a 5-row leftover chunk (0.55); the leftover chunk alone
lifts the threshold from 0.34 to 0.57. The one check of the 90-day window has ten 9-row
chunks, whose distances (0.45, largest per series 0.58) sit at that threshold because a
short chunk's histogram is far from any long one: 43-65 % of unchanged series without a
yearly season alarm (8-27 % with one, whose 36-day reference chunks see only part of the
year and so raise the threshold to 0.81-0.91). Daily, the first possible check (day 10) has
ten 1-row chunks, and a one-point histogram lies 0.7-0.9 from the reference (for a bin
holding 30 % to 10 % of it), above every threshold without a yearly season: 90-100 % of
unchanged series alarm on day 10 without a yearly season, 49-98 % with one, and 71-100 % on
some day. As every change starts on day 10 or later, that first alarm precedes it and counts
as a false alarm, so NannyML's daily power is near 0 (at most 0.06 per phi x change).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import logging
import math
import os
import time
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.distance import jensenshannon

from chronoguard.drift import _core

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

EVIDENTLY_KS_MAX_REF_ROWS = 1000  # above this Evidently's default is Wasserstein, not KS
EVIDENTLY_KS_MIN_UNIQUE = 6  # at most 5 distinct values: chi-square / z-test instead
EVIDENTLY_KS_THRESHOLD = 0.05  # default threshold of Evidently's "ks" stattest (p <= it)
NANNYML_CHUNKS = 10  # DefaultChunker.DEFAULT_CHUNK_COUNT
NANNYML_STD_MULTIPLIER = 3.0  # StandardDeviationThreshold's default upper multiplier


def installed() -> dict[str, bool]:
    return {name: importlib.util.find_spec(name) is not None for name in ("evidently", "nannyml")}


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("evidently", "nannyml"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------------------
# Evidently: two-sample KS, drift when p <= 0.05
# --------------------------------------------------------------------------------------


@functools.cache
def ks_critical_h(n: int, m: int, alpha: float = EVIDENTLY_KS_THRESHOLD) -> int:
    """Smallest lattice statistic ``h`` (``D = h / lcm(n, m)``) whose KS p-value is <= alpha.

    The p-value is scipy's (``ks_2samp(method="auto")``), which depends on ``(n, m, h)`` only
    and decreases in ``h``, so ``p <= alpha`` is the same decision as ``h >= ks_critical_h``.
    """
    lcm = n * m // math.gcd(n, m)

    def p(h: int) -> float:
        return float(_core.ks_pvalues(np.array([h / lcm]), n, m)[1][0])

    lo, hi = 0, lcm  # p(lo) > alpha >= p(hi)
    if p(hi) > alpha:
        return lcm + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if p(mid) <= alpha:
            hi = mid
        else:
            lo = mid
    return hi


def ks_lattice_daily(y: FloatArray, n_ref: int, days: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """KS statistic ``h`` (on the ``lcm(n_ref, d)`` lattice) of the reference against the
    first ``d`` current points, for every series and every ``d`` in ``days``: ``(S, D)``.

    One sort of the reference plus all current points serves every day: a current point not
    yet observed on day ``d`` leaves both ECDFs unchanged where it sits, so
    ``max |F_ref - F_cur|`` over the full sorted pool equals the maximum over the points
    observed so far. Series with tied values (none in continuous data) go to scipy.
    """
    days = np.asarray(days, dtype=np.int64)
    s = y.shape[0]
    n_cur = int(days.max())
    pool = np.ascontiguousarray(y[:, : n_ref + n_cur], dtype=np.float64)
    order = np.argsort(pool, axis=1, kind="stable")
    values = np.take_along_axis(pool, order, axis=1)
    ties = (np.diff(values, axis=1) == 0).any(axis=1)
    is_ref = order < n_ref
    cur_day = np.where(is_ref, n_cur + 1, order - n_ref + 1)  # day each current point arrives
    f_ref = np.cumsum(is_ref, axis=1) / n_ref
    h = np.empty((s, days.size), dtype=np.int64)
    for j, d in enumerate(days):
        f_cur = np.cumsum(cur_day <= d, axis=1) / d
        dstat = np.abs(f_ref - f_cur).max(axis=1)
        lcm = n_ref * int(d) // math.gcd(n_ref, int(d))
        h[:, j] = np.round(dstat * lcm).astype(np.int64)
    if ties.any():
        from scipy import stats

        for i in np.flatnonzero(ties):
            for j, d in enumerate(days):
                lcm = n_ref * int(d) // math.gcd(n_ref, int(d))
                res = stats.ks_2samp(y[i, :n_ref], y[i, n_ref : n_ref + d])
                h[i, j] = round(float(res.statistic) * lcm)
    return h


def evidently_default_test(n_ref: int, n_unique: int) -> str:
    """Name of the stattest Evidently 0.7 picks by default for a numeric column."""
    if n_ref <= EVIDENTLY_KS_MAX_REF_ROWS:
        return "ks" if n_unique >= EVIDENTLY_KS_MIN_UNIQUE else "chisquare_or_z"
    return "wasserstein" if n_unique >= EVIDENTLY_KS_MIN_UNIQUE else "jensenshannon"


def evidently_alarms(y: FloatArray, n_ref: int, days: npt.ArrayLike) -> BoolArray:
    """Evidently's default per-column drift decision on each check day: ``(S, len(days))``."""
    days = np.asarray(days, dtype=np.int64)
    # reference + current has at least as many distinct values as the reference alone
    n_unique = min(int(np.unique(row).size) for row in y[:, :n_ref])
    if evidently_default_test(n_ref, n_unique) != "ks":
        raise ValueError(
            f"Evidently's default for {n_ref} reference rows and {n_unique} distinct values "
            "is not the KS test this copy implements"
        )
    h = ks_lattice_daily(y, n_ref, days)
    crit = np.array([ks_critical_h(n_ref, int(d)) for d in days])
    return h >= crit[None, :]


def evidently_pvalues(y: FloatArray, n_ref: int, d: int) -> FloatArray:
    """scipy's KS p-values of the reference against the first ``d`` current points."""
    ref = y[:, :n_ref]
    cur = y[:, n_ref : n_ref + d]
    mg = _core.merge_sorted(ref.T, cur.T)
    return _core.ks_pvalues(_core.ks_merged(mg), n_ref, d)[1]


def evidently_report(y: FloatArray, n_ref: int, d: int) -> dict[str, Any]:
    """The real library: one Evidently ``Report([DataDriftPreset()])`` with one column per
    series (reference = the first ``n_ref`` rows, current = the next ``d``).

    Returns the per-column drift decision (the preset's per-column test failed), the drift
    score (for KS, the p-value) and the method and threshold Evidently resolved.
    """
    import pandas as pd
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    cols = [f"s{i}" for i in range(y.shape[0])]
    ref = pd.DataFrame(y[:, :n_ref].T, columns=cols)
    cur = pd.DataFrame(y[:, n_ref : n_ref + d].T, columns=cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap = Report([DataDriftPreset()], include_tests=True).run(
            Dataset.from_pandas(cur), Dataset.from_pandas(ref)
        )
    out = snap.dict()
    score = {c: np.nan for c in cols}
    methods: set[str] = set()
    thresholds: set[float] = set()
    for m in out["metrics"]:
        cfg = m["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            score[cfg["column"]] = float(m["value"])
            methods.add(str(cfg["method"]))
            thresholds.add(float(cfg["threshold"]))
    drift = dict.fromkeys(cols, False)
    seen = set()
    for t in out["tests"]:
        params = t.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift"):
            drift[params["column"]] = t["status"] == "FAIL"
            seen.add(params["column"])
    if seen != set(cols) or any(np.isnan(v) for v in score.values()):
        raise RuntimeError("Evidently's report lacks a per-column drift result")
    return {
        "alarm": np.array([drift[c] for c in cols]),
        "score": np.array([score[c] for c in cols]),
        "methods": sorted(methods),
        "thresholds": sorted(thresholds),
    }


# --------------------------------------------------------------------------------------
# NannyML: Jensen-Shannon on reference doane bins, threshold mean + 3 std of reference chunks
# --------------------------------------------------------------------------------------


def nannyml_chunks(n: int) -> list[tuple[int, int]]:
    """Row ranges ``[a, b)`` of ``DefaultChunker`` on ``n`` rows (empty when ``n < 10``)."""
    size = n // NANNYML_CHUNKS
    if size <= 0:
        return []
    out = [(a, a + size) for a in range(0, n - size + 1, size)]
    if n % size:
        out.append((size * (n // size), n))
    return out


def _nml_bins(x: FloatArray, edges: list[FloatArray], width: int) -> npt.NDArray[np.int64]:
    """Bin of every value as ``np.histogram`` counts it with the series' edges; values
    outside the edges go to the last column ``width - 1`` (the leftover bin)."""
    idx = np.empty(x.shape, dtype=np.int64)
    for i, e in enumerate(edges):
        k = e.size - 1
        b = np.searchsorted(e, x[i], side="right") - 1
        b[x[i] == e[-1]] = k - 1  # np.histogram's last bin is closed on the right
        b[(b < 0) | (b >= k)] = width - 1
        idx[i] = b
    return idx


def _nml_cumcounts(idx: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.int32]:
    s, t = idx.shape
    onehot = np.zeros((s, t + 1, width), dtype=np.int32)
    onehot[np.arange(s)[:, None], np.arange(1, t + 1)[None, :], idx] = 1
    return np.cumsum(onehot, axis=1, dtype=np.int32)


def _nml_distance(p_ref: FloatArray, counts: npt.NDArray[np.int32], rows: int) -> FloatArray:
    """NannyML's ``ContinuousJensenShannonDistance._calculate`` for all series at once."""
    q = counts[:, :-1] / rows
    leftover = 1 - np.sum(q, axis=1)
    q = np.concatenate([q, np.where(leftover > 0, leftover, 0.0)[:, None]], axis=1)
    return np.asarray(jensenshannon(p_ref, q, base=2, axis=1), dtype=np.float64)


def nannyml_fit(y: FloatArray, n_ref: int) -> dict[str, Any]:
    """Reference bins, reference histogram and alert threshold of every series."""
    ref = np.asarray(y[:, :n_ref], dtype=np.float64)
    edges = [np.histogram_bin_edges(r, bins="doane") for r in ref]
    width = max(e.size for e in edges)  # widest bin count + 1 leftover column
    p_ref = np.zeros((ref.shape[0], width))
    for i, (r, e) in enumerate(zip(ref, edges, strict=True)):
        p_ref[i, : e.size - 1] = np.histogram(r, bins=e)[0] / n_ref
    cum = _nml_cumcounts(_nml_bins(ref, edges, width), width)
    chunks = nannyml_chunks(n_ref)
    ref_dist = np.stack(
        [_nml_distance(p_ref, cum[:, b] - cum[:, a], b - a) for a, b in chunks], axis=1
    )
    threshold = np.nanmean(ref_dist, axis=1) + NANNYML_STD_MULTIPLIER * np.nanstd(ref_dist, axis=1)
    return {
        "edges": edges,
        "width": width,
        "p_ref": p_ref,
        "threshold": threshold,
        "reference_chunks": chunks,
        "reference_distances": ref_dist,
    }


def nannyml_distances(fit: dict[str, Any], y: FloatArray, n_ref: int, d: int) -> FloatArray:
    """Distance of every ``DefaultChunker`` chunk of the first ``d`` current points."""
    cur = np.asarray(y[:, n_ref : n_ref + d], dtype=np.float64)
    cum = _nml_cumcounts(_nml_bins(cur, fit["edges"], fit["width"]), fit["width"])
    return np.stack(
        [_nml_distance(fit["p_ref"], cum[:, b] - cum[:, a], b - a) for a, b in nannyml_chunks(d)],
        axis=1,
    )


def nannyml_alarms(
    y: FloatArray, n_ref: int, days: npt.ArrayLike, fit: dict[str, Any] | None = None
) -> BoolArray:
    """NannyML's default decision (any chunk above the threshold) on each check day.

    Days with fewer than 10 current points have no chunk (``DefaultChunker`` fails on them)
    and never alarm.
    """
    fit = fit if fit is not None else nannyml_fit(y, n_ref)
    days = np.asarray(days, dtype=np.int64)
    cur = np.asarray(y[:, n_ref : n_ref + int(days.max())], dtype=np.float64)
    cum = _nml_cumcounts(_nml_bins(cur, fit["edges"], fit["width"]), fit["width"])
    thr = fit["threshold"]
    above: dict[tuple[int, int], BoolArray] = {}
    out = np.zeros((y.shape[0], days.size), dtype=bool)
    for j, d in enumerate(days):
        for a, b in nannyml_chunks(int(d)):
            if (a, b) not in above:
                dist = _nml_distance(fit["p_ref"], cum[:, b] - cum[:, a], b - a)
                above[(a, b)] = dist > thr
            out[:, j] |= above[(a, b)]
    return out


def nannyml_calculator(y: FloatArray, n_ref: int, days: list[int]) -> dict[str, Any]:
    """The real library: one ``UnivariateDriftCalculator`` (defaults) over one column per
    series, fitted on the reference and run on the first ``d`` current points for each ``d``.

    Returns per day the alarm (any analysis chunk alerts) and the chunk distances, and the
    fitted thresholds.
    """
    import pandas as pd

    logging.getLogger("nannyml").setLevel(logging.CRITICAL)
    import nannyml

    cols = [f"s{i}" for i in range(y.shape[0])]
    ref = pd.DataFrame(y[:, :n_ref].T, columns=cols)
    out: dict[str, Any] = {"alarm": {}, "distance": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = nannyml.UnivariateDriftCalculator(column_names=cols).fit(ref)
        out["threshold"] = np.array(
            [calc._column_to_models_mapping[c][0].upper_threshold_value for c in cols]
        )
        for d in days:
            cur = pd.DataFrame(y[:, n_ref : n_ref + d].T, columns=cols)
            res = calc.calculate(cur).filter(period="analysis").to_df()
            out["alarm"][d] = np.array(
                [bool(res[(c, "jensen_shannon", "alert")].eq(True).any()) for c in cols]
            )
            out["distance"][d] = np.stack(
                [res[(c, "jensen_shannon", "value")].to_numpy(dtype=np.float64) for c in cols]
            )
    return out


# --------------------------------------------------------------------------------------
# checks against the real libraries (subsample, same run)
# --------------------------------------------------------------------------------------


def _import_timed(peer: str, module: str) -> None:
    if peer not in IMPORT_SECONDS:
        t0 = time.perf_counter()
        importlib.import_module(module)
        IMPORT_SECONDS[peer] = time.perf_counter() - t0


def check_evidently(y: FloatArray, n_ref: int, days: list[int]) -> dict[str, Any]:
    """Compare ``evidently_alarms`` and scipy's p-values with a real Evidently report."""
    _import_timed("evidently_default", "evidently.presets")
    ours = evidently_alarms(y, n_ref, days)
    out: dict[str, Any] = {
        "column_checks": 0,
        "disagreements": 0,
        "max_abs_pvalue_diff": 0.0,
        "methods": set(),
        "thresholds": set(),
        "seconds": 0.0,
    }
    for j, d in enumerate(days):
        t0 = time.perf_counter()
        rep = evidently_report(y, n_ref, d)
        out["seconds"] += time.perf_counter() - t0
        out["column_checks"] += y.shape[0]
        out["disagreements"] += int((rep["alarm"] != ours[:, j]).sum())
        diff = np.abs(rep["score"] - evidently_pvalues(y, n_ref, d)).max()
        out["max_abs_pvalue_diff"] = max(out["max_abs_pvalue_diff"], float(diff))
        out["methods"].update(rep["methods"])
        out["thresholds"].update(rep["thresholds"])
    return out


def check_nannyml(y: FloatArray, n_ref: int, days: list[int]) -> dict[str, Any]:
    """Compare ``nannyml_alarms`` and its distances and thresholds with a real calculator."""
    _import_timed("nannyml_default", "nannyml")
    fit = nannyml_fit(y, n_ref)
    ours = nannyml_alarms(y, n_ref, days, fit)
    t0 = time.perf_counter()
    real = nannyml_calculator(y, n_ref, days)
    seconds = time.perf_counter() - t0
    out: dict[str, Any] = {
        "column_checks": y.shape[0] * len(days),
        "disagreements": 0,
        "max_abs_distance_diff": 0.0,
        "max_abs_threshold_diff": float(np.abs(real["threshold"] - fit["threshold"]).max()),
        "seconds": seconds,
    }
    for j, d in enumerate(days):
        out["disagreements"] += int((real["alarm"][d] != ours[:, j]).sum())
        diff = np.abs(real["distance"][d] - nannyml_distances(fit, y, n_ref, d)).max()
        out["max_abs_distance_diff"] = max(out["max_abs_distance_diff"], float(diff))
    return out


# --------------------------------------------------------------------------------------
# what the bench calls
# --------------------------------------------------------------------------------------

# First check day of each peer: Evidently as the bench's own peers (7 points); NannyML's
# DefaultChunker cannot split fewer than 10 rows (chunk size len // 10 = 0 raises).
FIRST_DAY = {"evidently_default": 7, "nannyml_default": NANNYML_CHUNKS}
# Subsample checked against the real libraries in every configuration: the first
# ``series`` series of the no-change data and of each changed variant, on ``days``.
CHECK: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "evidently_default": {"series": 1, "days": [90]},
        "nannyml_default": {"series": 2, "days": [10, 19, 45, 90]},
    },
    "full": {
        "evidently_default": {"series": 10, "days": [14, 90]},
        "nannyml_default": {"series": 20, "days": [10, 19, 45, 90]},
    },
}
# Seconds spent in the vectorised decisions, per peer, over the whole run, and in importing
# the libraries (once, before the first check against them).
SECONDS: dict[str, float] = {"evidently_default": 0.0, "nannyml_default": 0.0}
IMPORT_SECONDS: dict[str, float] = {}
_fit_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def measured() -> list[str]:
    """The peers this run measures: those whose library is installed (to check against)."""
    have = installed()
    return [
        p
        for p, lib in (("evidently_default", "evidently"), ("nannyml_default", "nannyml"))
        if have[lib]
    ]


def _nml_fit_cached(y: FloatArray, n_ref: int) -> dict[str, Any]:
    ref = np.ascontiguousarray(y[:, :n_ref])
    key = (ref.shape, hash(ref.tobytes()))
    if key not in _fit_cache:
        _fit_cache.clear()
        _fit_cache[key] = nannyml_fit(ref, n_ref)
    return _fit_cache[key]


def daily_alarms(y: FloatArray, n_ref: int, n_cur: int) -> dict[str, BoolArray]:
    """Alarms ``(S, n_cur)`` of each measured peer; column ``d - 1`` is the check on day ``d``
    (False before the peer's first check day). The last column is the one-check decision."""
    out: dict[str, BoolArray] = {}
    for peer in measured():
        t0 = time.perf_counter()
        days = np.arange(FIRST_DAY[peer], n_cur + 1)
        a = np.zeros((y.shape[0], n_cur), dtype=bool)
        if peer == "evidently_default":
            a[:, days - 1] = evidently_alarms(y, n_ref, days)
        else:
            a[:, days - 1] = nannyml_alarms(y, n_ref, days, _nml_fit_cached(y, n_ref))
        out[peer] = a
        SECONDS[peer] += time.perf_counter() - t0
    return out


def nannyml_facts(y: FloatArray, n_ref: int, n_cur: int) -> dict[str, float | None] | None:
    """Medians over series of NannyML's threshold and of the distances that meet it."""
    if "nannyml_default" not in measured():
        return None
    fit = _nml_fit_cached(y, n_ref)
    ref_d = fit["reference_distances"]
    chunks = fit["reference_chunks"]
    full = [j for j, (a, b) in enumerate(chunks) if b - a == chunks[0][1] - chunks[0][0]]
    short = [j for j in range(len(chunks)) if j not in full]
    cur_d = nannyml_distances(fit, y, n_ref, n_cur)
    first = nannyml_alarms(y, n_ref, [FIRST_DAY["nannyml_default"]], fit)
    return {
        "threshold": float(np.median(fit["threshold"])),
        "threshold_without_leftover_chunk": float(
            np.median(
                ref_d[:, full].mean(axis=1) + NANNYML_STD_MULTIPLIER * ref_d[:, full].std(axis=1)
            )
        ),
        "reference_chunk_rows": float(chunks[0][1] - chunks[0][0]),
        "reference_chunk_distance": float(np.median(ref_d[:, full])),
        "leftover_chunk_rows": float(sum(chunks[j][1] - chunks[j][0] for j in short)),
        "leftover_chunk_distance": float(np.median(ref_d[:, short])) if short else None,
        "one_check_chunk_rows": float(n_cur // NANNYML_CHUNKS),
        "one_check_chunk_distance": float(np.median(cur_d)),
        "one_check_max_chunk_distance": float(np.median(cur_d.max(axis=1))),
        "alarm_share_first_check_day": float(first.mean()),
    }


def check(ys: dict[str, FloatArray], n_ref: int, quick: bool) -> dict[str, Any]:
    """Check the vectorised decisions against the real libraries on the configured subsample
    of every variant (``ys``: variant -> ``(S, T)``)."""
    proto = CHECK["quick" if quick else "full"]
    out: dict[str, Any] = {}
    for peer in measured():
        n = proto[peer]["series"]
        y = np.concatenate([v[:n] for v in ys.values()], axis=0)
        if peer == "evidently_default":
            out[peer] = check_evidently(y, n_ref, proto[peer]["days"])
        else:
            out[peer] = check_nannyml(y, n_ref, proto[peer]["days"])
    return out


def protocol(quick: bool, series: int, n_cur: int) -> dict[str, Any]:
    proto = CHECK["quick" if quick else "full"]
    return {
        peer: {
            "decision": "vectorised copy of the library's default rule, every series",
            "series_per_config": series,
            "check_days": f"every day {FIRST_DAY[peer]}..{n_cur} (data so far)",
            "one_check_day": n_cur,
            "real_library_check": {
                "series_per_variant_per_config": proto[peer]["series"],
                "variants": "no change + every change",
                "check_days": proto[peer]["days"],
            },
        }
        for peer in measured()
    }
