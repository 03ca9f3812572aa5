"""Multivariate drift on dependent data: kernel MMD and a domain-classifier test.

Both compare a reference window and a current window of the same features, rows in time
order, and both get their p-values by permuting *contiguous blocks* of rows between the
two windows rather than single rows.

Why blocks: a permutation test is exact when, under no change, the pooled rows are
exchangeable. Autocorrelated rows are not: neighbouring rows resemble each other, so a
window of n rows carries the information of fewer independent ones and its empirical
distribution wanders more than an iid sample's (for an AR(1) with φ = 0.5 the effective
size of a mean is n/3). Shuffling single rows destroys that dependence and builds a null
distribution as if the data were iid — too narrow, so a stable series raises false alarms
(see the tests: several times the nominal rate). Shuffling blocks of ``L`` consecutive rows
keeps the dependence within blocks, so permuted windows wander like real ones; the test is
asymptotically valid for weakly dependent (mixing) series as ``L`` grows with ``n`` more
slowly than ``n`` (Politis & Romano's block schemes; Chwialkowski et al. 2014 show the
failure of the iid bootstrap for kernel tests on time series).

Block length: given, or ``"auto"``: ``L = ceil(2 · max(1, (2ρ / (1 - ρ²))^(2/3)) · N^(1/3))``
with ``N = n + m`` and ``ρ`` the largest lag-1 autocorrelation over features (estimated
within each window, so a level shift does not pass for dependence), capped so each window
keeps at least four blocks. The ``N^(1/3)`` rate and the AR(1) factor are Politis & White's
(2004); the factor 2 is ours: a two-sample block permutation also cuts dependence at every
block boundary and small windows hold few blocks, and with factor 1 an AR(1), φ = 0.5,
n = m = 100 rejected 9.5 % at the 5 % level in simulation, with factor 2 4–7.5 %.

Optional tests, kept for users and benchmarks; the chronoguard loop does not use them
(see :mod:`chronoguard_extras`). Import them from here::

    from chronoguard_extras.multivariate import auto_block_length, classifier_test, mmd_test
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.drift._core import FloatArray
from chronoguard.drift.types import DriftInputError, DriftKind, DriftResult, Severity

# Pairwise distances for the median heuristic are computed on at most this many points.
_MEDIAN_SAMPLE = 1000
# Kernel rows computed at a time when summing the Gram matrix into blocks.
_ROW_CHUNK = 512


def _as_matrix(x: Any, what: str) -> tuple[FloatArray, list[str]]:
    if isinstance(x, pd.DataFrame):
        names = [str(c) for c in x.columns]
        try:
            arr = x.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DriftInputError(
                f"{what} has non-numeric columns; multivariate tests need numeric features "
                "(encode categoricals first)."
            ) from None
    else:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        names = [f"x{j}" for j in range(arr.shape[1])] if arr.ndim == 2 else []
    if arr.ndim != 2:
        raise DriftInputError(f"{what} must be 2-D (rows × features), got shape {arr.shape}.")
    if arr.shape[0] < 2:
        raise DriftInputError(
            f"{what} has {arr.shape[0]} row(s); a multivariate test needs at least 2 rows "
            "per window (in practice dozens)."
        )
    if not np.isfinite(arr).all():
        cols = [names[j] for j in np.flatnonzero(~np.isfinite(arr).all(axis=0))]
        raise DriftInputError(
            f"{what} has NaN or infinite values in {cols}; drop or impute them first."
        )
    return arr, names


def _prepare(reference: Any, current: Any) -> tuple[FloatArray, FloatArray, list[str]]:
    x, names_x = _as_matrix(reference, "reference")
    y, names_y = _as_matrix(current, "current")
    if x.shape[1] != y.shape[1]:
        raise DriftInputError(
            f"reference has {x.shape[1]} feature(s) {names_x} but current has {y.shape[1]} "
            f"{names_y}; pass the same features in the same order."
        )
    # Standardise by the reference so one bandwidth suits features of any scale.
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (x - mu) / sd, (y - mu) / sd, names_x


def _lag1(a: FloatArray) -> FloatArray:
    ac = a - a.mean(axis=0)
    den = (ac * ac).sum(axis=0)
    num = (ac[1:] * ac[:-1]).sum(axis=0)
    return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0))


def auto_block_length(x: FloatArray, y: FloatArray) -> int:
    """Block length from the lag-1 autocorrelation of both windows (see module notes)."""
    n, m = x.shape[0], y.shape[0]
    rho = float(np.max(np.abs((n * _lag1(x) + m * _lag1(y)) / (n + m))))
    rho = min(rho, 0.95)
    scale = max(1.0, (2 * rho / (1 - rho**2)) ** (2 / 3))
    length = math.ceil(2.0 * scale * (n + m) ** (1 / 3))
    return int(max(1, min(length, min(n, m) // 4)))


def _blocks(n: int, m: int, length: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Start offsets and sizes of blocks over the pooled rows; number of reference blocks."""
    starts_x = np.arange(0, n, length)
    starts_y = n + np.arange(0, m, length)
    starts = np.concatenate([starts_x, starts_y])
    ends = np.concatenate([starts[1:], [n + m]])
    return starts, ends - starts, len(starts_x)


def _median_bandwidth(z: FloatArray, rng: np.random.Generator) -> float:
    pts = z if z.shape[0] <= _MEDIAN_SAMPLE else z[rng.choice(z.shape[0], _MEDIAN_SAMPLE, False)]
    sq = (pts * pts).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * pts @ pts.T, 0.0)
    med = float(np.sqrt(np.median(d2[np.triu_indices(pts.shape[0], 1)])))
    return med if med > 0 else 1.0


def _block_gram(z: FloatArray, starts: np.ndarray, bandwidth: float) -> FloatArray:
    """Sum of the RBF Gram matrix over every pair of blocks, without holding it whole."""
    nb = starts.shape[0]
    sq = (z * z).sum(axis=1)
    out = np.zeros((nb, nb))
    gamma = 1.0 / (2.0 * bandwidth**2)
    n_rows = z.shape[0]
    block_of = np.repeat(np.arange(nb), np.diff(np.append(starts, n_rows)))
    for a in range(0, n_rows, _ROW_CHUNK):
        rows = z[a : a + _ROW_CHUNK]
        d2 = np.maximum(sq[a : a + _ROW_CHUNK, None] + sq[None, :] - 2.0 * rows @ z.T, 0.0)
        k = np.exp(-gamma * d2)
        by_col = np.add.reduceat(k, starts, axis=1)  # (rows, nb)
        np.add.at(out, block_of[a : a + _ROW_CHUNK], by_col)
    return out


def _mmd2(gram: FloatArray, labels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Biased MMD² for each row of ``labels`` (bool, block in reference window)."""
    u = labels.astype(np.float64)
    v = 1.0 - u
    nx = u @ sizes
    ny = v @ sizes
    gu, gv = u @ gram, v @ gram
    return np.asarray(
        (gu * u).sum(axis=1) / nx**2
        - 2.0 * (gu * v).sum(axis=1) / (nx * ny)
        + (gv * v).sum(axis=1) / ny**2
    )


def _permuted_labels(nb: int, nbx: int, b: int, rng: np.random.Generator) -> np.ndarray:
    keys = rng.random((b, nb))
    order = np.argsort(keys, axis=1)
    labels = np.zeros((b, nb), dtype=bool)
    np.put_along_axis(labels, order[:, :nbx], True, axis=1)
    return labels


def _resolve_block_length(block_length: int | str, x: FloatArray, y: FloatArray) -> int:
    if block_length == "auto":
        return auto_block_length(x, y)
    if not isinstance(block_length, int) or block_length < 1:
        raise DriftInputError(f"block_length={block_length!r}: pass a positive integer or 'auto'.")
    if block_length > min(x.shape[0], y.shape[0]) // 2:
        raise DriftInputError(
            f"block_length={block_length} leaves fewer than 2 blocks in a window of "
            f"{min(x.shape[0], y.shape[0])} rows; use a shorter block or longer windows."
        )
    return block_length


def mmd_test(
    reference: Any,
    current: Any,
    *,
    block_length: int | str = "auto",
    n_permutations: int = 500,
    bandwidth: float | None = None,
    threshold: float = 0.05,
    seed: int | None = None,
    feature: str | None = None,
    unique_id: str | None = None,
    kind: DriftKind = DriftKind.DATA,
) -> DriftResult:
    """Maximum mean discrepancy with an RBF kernel and a block-permutation p-value.

    Features are standardised by the reference; the kernel is
    ``exp(-|x - y|² / (2 σ²))`` with ``σ`` the median pooled pairwise distance unless
    ``bandwidth`` is given. The statistic is the biased (V-statistic) MMD². Its p-value is
    ``(1 + #{permuted ≥ observed}) / (1 + n_permutations)`` over permutations of
    contiguous row blocks between the windows (``block_length=1`` is the iid permutation
    test, invalid on autocorrelated rows). Rows must be in time order.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(200, 3)), rng.normal(size=(100, 3)) + [0.8, 0.0, 0.0]
    >>> r = mmd_test(ref, cur, seed=1)
    >>> r.method, r.drift, r.p_value < 0.01
    ('mmd', True, True)
    """
    x, y, names = _prepare(reference, current)
    rng = np.random.default_rng(seed)
    length = _resolve_block_length(block_length, x, y)
    z = np.concatenate([x, y])
    sigma = _median_bandwidth(z, rng) if bandwidth is None else float(bandwidth)
    starts, sizes, nbx = _blocks(x.shape[0], y.shape[0], length)
    gram = _block_gram(z, starts, sigma)
    observed_labels = np.zeros((1, starts.shape[0]), dtype=bool)
    observed_labels[0, :nbx] = True
    sizes_f = sizes.astype(np.float64)
    stat = float(_mmd2(gram, observed_labels, sizes_f)[0])
    null = np.concatenate(
        [
            _mmd2(
                gram,
                _permuted_labels(starts.shape[0], nbx, min(256, n_permutations - b), rng),
                sizes_f,
            )
            for b in range(0, n_permutations, 256)
        ]
    )
    p = float((1 + np.count_nonzero(null >= stat - 1e-12)) / (1 + n_permutations))
    drift = p < threshold
    return DriftResult(
        method="mmd",
        statistic=stat,
        p_value=p,
        threshold=threshold,
        drift=drift,
        threshold_on="p_value",
        feature=feature or "+".join(names),
        unique_id=unique_id,
        kind=kind,
        severity=Severity.WARNING if drift else Severity.INFO,
        details={
            "bandwidth": sigma,
            "block_length": length,
            "n_blocks": int(starts.shape[0]),
            "n_permutations": n_permutations,
            "n_reference": int(x.shape[0]),
            "n_current": int(y.shape[0]),
        },
    )


def classifier_test(
    reference: Any,
    current: Any,
    *,
    block_length: int | str = "auto",
    n_splits: int = 5,
    n_permutations: int = 99,
    threshold: float = 0.05,
    seed: int | None = None,
    estimator: Any = None,
    feature: str | None = None,
    unique_id: str | None = None,
    kind: DriftKind = DriftKind.DATA,
) -> DriftResult:
    """Domain-classifier test: can a model tell current rows from reference rows?

    The statistic is the out-of-fold ROC AUC of ``estimator`` (default: logistic
    regression on standardised features) under *block* cross-validation: folds are made of
    whole contiguous blocks, so a test row's autocorrelated neighbours are never in the
    training fold — with plain k-fold the model recognises neighbours and the AUC is
    inflated on a stable series. The p-value permutes the window labels of whole blocks
    and refits (``n_permutations`` times; keep it small, each costs ``n_splits`` fits).
    Needs scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + [1.0, 0.0]
    >>> r = classifier_test(ref, cur, n_permutations=39, seed=0)
    >>> r.method, r.drift, r.statistic > 0.7
    ('domain_classifier', True, True)
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    x, y, names = _prepare(reference, current)
    length = _resolve_block_length(block_length, x, y)
    z = np.concatenate([x, y])
    starts, sizes, nbx = _blocks(x.shape[0], y.shape[0], length)
    nb = starts.shape[0]
    if nb < n_splits:
        raise DriftInputError(
            f"{nb} blocks of {length} rows cannot make {n_splits} folds; use fewer splits, "
            "shorter blocks or longer windows."
        )
    block_of = np.repeat(np.arange(nb), sizes)
    rng = np.random.default_rng(seed)
    model = LogisticRegression() if estimator is None else estimator

    def oof_auc(block_labels: np.ndarray) -> float:
        lab = block_labels[block_of].astype(int)  # 1 = reference window
        # Folds stratified by label at block level: with few blocks per fold, unbalanced
        # folds make a model's intercept anti-predict the held-out labels.
        fold_of_block = np.empty(nb, dtype=np.int64)
        for side in (True, False):
            idx = np.flatnonzero(block_labels == side)
            fold_of_block[rng.permutation(idx)] = np.arange(idx.size) % n_splits
        fold = fold_of_block[block_of]
        score = np.empty(z.shape[0])
        for f in range(n_splits):
            test = fold == f
            train = ~test
            if np.unique(lab[train]).size < 2 or np.unique(lab[test]).size < 2:
                score[test] = 0.5
                continue
            fitted = clone(model).fit(z[train], lab[train])
            score[test] = fitted.predict_proba(z[test])[:, 1]
        return float(roc_auc_score(lab, score))

    observed = np.zeros(nb, dtype=bool)
    observed[:nbx] = True
    stat = oof_auc(observed)
    null = np.array([oof_auc(lab) for lab in _permuted_labels(nb, nbx, n_permutations, rng)])
    p = float((1 + np.count_nonzero(null >= stat - 1e-12)) / (1 + n_permutations))
    drift = p < threshold
    return DriftResult(
        method="domain_classifier",
        statistic=stat,
        p_value=p,
        threshold=threshold,
        drift=drift,
        threshold_on="p_value",
        feature=feature or "+".join(names),
        unique_id=unique_id,
        kind=kind,
        severity=Severity.WARNING if drift else Severity.INFO,
        details={
            "block_length": length,
            "n_blocks": nb,
            "n_splits": n_splits,
            "n_permutations": n_permutations,
            "n_reference": int(x.shape[0]),
            "n_current": int(y.shape[0]),
        },
    )


__all__ = ["auto_block_length", "classifier_test", "mmd_test"]
