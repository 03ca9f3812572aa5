"""Multivariate drift: block-permutation MMD is calibrated on AR(1) data and has power."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from chronoguard.drift import DriftInputError
from chronoguard_extras import multivariate
from chronoguard_extras.multivariate import auto_block_length, classifier_test, mmd_test


def _ar1_windows(
    rng: np.random.Generator, n: int, d: int, phi: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Two adjacent windows of one stationary AR(1) series (burn-in discarded)."""
    e = rng.standard_normal((2 * n + 100, d))
    x = np.zeros_like(e)
    for t in range(1, len(e)):
        x[t] = phi * x[t - 1] + e[t]
    return x[100 : 100 + n], x[100 + n :]


def _rejection_rate(block_length: int | str, reps: int, shift: float = 0.0) -> float:
    rng = np.random.default_rng(2024)
    hits = 0
    for r in range(reps):
        ref, cur = _ar1_windows(rng, 100, 2)
        cur = cur + np.array([shift, 0.0])
        res = mmd_test(ref, cur, block_length=block_length, n_permutations=199, seed=r)
        hits += res.drift
    return hits / reps


def test_block_mmd_is_calibrated_on_ar1_without_change() -> None:
    # 200 stable AR(1) (phi = 0.5) cases at the 5 % level: block permutation stays close.
    assert _rejection_rate("auto", 200) <= 0.09


def test_iid_permutation_over_rejects_on_ar1() -> None:
    # Why blocks: shuffling single rows treats dependent rows as independent.
    assert _rejection_rate(1, 60) >= 0.15


def test_block_mmd_has_power_under_a_mean_shift() -> None:
    assert _rejection_rate("auto", 30, shift=1.5) >= 0.8


def test_result_and_details() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame(rng.normal(size=(150, 2)), columns=["load", "temp"])
    cur = pd.DataFrame(rng.normal(size=(80, 2)) + np.array([0.0, 1.0]), columns=["load", "temp"])
    r = mmd_test(ref, cur, n_permutations=99, seed=0, unique_id="s1")
    assert r.method == "mmd" and r.feature == "load+temp" and r.unique_id == "s1"
    assert r.drift and r.p_value == pytest.approx(0.01)
    assert r.details["block_length"] >= 1 and r.details["bandwidth"] > 0
    same = mmd_test(ref, cur, n_permutations=99, seed=0)
    assert same.statistic == r.statistic and same.p_value == r.p_value  # seeded


def test_auto_block_length_grows_with_dependence() -> None:
    rng = np.random.default_rng(1)
    iid = rng.normal(size=(300, 1))
    ref, cur = _ar1_windows(rng, 300, 1, phi=0.9)
    assert auto_block_length(iid, iid) < auto_block_length(ref, cur)
    assert auto_block_length(ref, cur) <= 300 // 4


def test_classifier_detects_a_shift() -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + np.array([1.0, 0.0])
    r = classifier_test(ref, cur, n_permutations=19, threshold=0.1, seed=0)
    assert r.method == "domain_classifier" and r.statistic > 0.7 and r.drift


def test_multivariate_input_errors() -> None:
    x = np.ones((50, 2))
    with pytest.raises(DriftInputError, match=r"2 feature.*1"):
        mmd_test(x, np.ones((50, 1)))
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(DriftInputError, match=r"NaN.*\['x1'\]"):
        mmd_test(x, bad)
    with pytest.raises(DriftInputError, match="at least 2 rows"):
        mmd_test(x, np.ones((1, 2)))
    with pytest.raises(DriftInputError, match="block_length=40"):
        mmd_test(x, x, block_length=40)
    with pytest.raises(DriftInputError, match="block_length=0"):
        mmd_test(x, x, block_length=0)
    with pytest.raises(DriftInputError, match="cannot make 5 folds"):
        classifier_test(x[:8], x[:8], block_length=4)


def test_docstring_examples() -> None:
    # Moved here from tests/drift/test_batch_docs.py with the module.
    result = doctest.testmod(multivariate, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
