"""Batch drift tests equal scipy (and Evidently's formula) column by column, to 1e-9."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from chronoguard.drift import (
    ReferenceProfile,
    _core,
    anderson_darling_test,
    chi2_test,
    cramer_von_mises_test,
    jensen_shannon_test,
    ks_test,
    psi_test,
    wasserstein_test,
)

TOL = 1e-9


def _sample(rng: np.random.Generator, n: int, k: int, kind: str) -> np.ndarray:
    if kind == "ties":  # few distinct values: many ties within and across samples
        return rng.integers(0, 6, size=(n, k)).astype(float)
    if kind == "mixed":  # continuous with a heavy point mass
        x = rng.standard_normal((n, k))
        x[rng.random((n, k)) < 0.3] = 0.0
        return x
    return rng.standard_normal((n, k)) * 3.0 + 100.0


# (n_reference, n_current, kind): small/equal/unequal sizes, ties, and sizes that take the
# searchsorted strategy (n >= 2048 and n >= 4 m) and the asymptotic KS p-value (> 10,000).
CASES = [
    (1, 1, "normal"),
    (7, 5, "ties"),
    (20, 20, "normal"),
    (30, 17, "ties"),
    (200, 200, "mixed"),
    (350, 90, "normal"),
    (1000, 999, "ties"),
    (3000, 200, "normal"),
    (3000, 200, "ties"),
    (12_000, 500, "mixed"),
]


@pytest.fixture(params=CASES, ids=[f"{n}x{m}-{kind}" for n, m, kind in CASES])
def pair(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    n, m, kind = request.param
    rng = np.random.default_rng(n * 31 + m)
    ref = _sample(rng, n, 3, kind)
    cur = _sample(rng, m, 3, kind)
    cur[:, 1] += 0.5  # one drifted column
    return ref, cur


def test_ks_equals_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    for res, j in zip(ks_test(ref, cur), range(ref.shape[1]), strict=True):
        want = stats.ks_2samp(ref[:, j], cur[:, j])
        assert abs(res.statistic - want.statistic) <= TOL
        assert res.p_value is not None and abs(res.p_value - want.pvalue) <= TOL
        assert res.drift == (want.pvalue < 0.05)


def test_wasserstein_equals_scipy_and_evidently_norm(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    raw = wasserstein_test(ref, cur, normed=False)
    normed = wasserstein_test(ref, cur)
    for j in range(ref.shape[1]):
        want = stats.wasserstein_distance(ref[:, j], cur[:, j])
        assert abs(raw[j].statistic - want) <= TOL * max(1.0, want)
        # Evidently: wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)
        want_n = want / max(float(np.std(ref[:, j])), 0.001)
        assert abs(normed[j].statistic - want_n) <= TOL
        assert normed[j].drift == (want_n >= 0.1)


def test_cramer_von_mises_equals_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    if min(len(ref), len(cur)) < 2:
        pytest.skip("scipy needs two points per sample")
    for res, j in zip(cramer_von_mises_test(ref, cur), range(3), strict=True):
        want = stats.cramervonmises_2samp(ref[:, j], cur[:, j])
        assert abs(res.statistic - want.statistic) <= TOL * max(1.0, abs(want.statistic))
        assert res.p_value is not None and abs(res.p_value - want.pvalue) <= TOL


def test_anderson_darling_equals_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    if min(len(ref), len(cur)) < 2:
        pytest.skip("scipy needs two points per sample")
    for res, j in zip(anderson_darling_test(ref, cur), range(3), strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when it caps the p-value
            want = stats.anderson_ksamp([ref[:, j], cur[:, j]], variant="midrank")
        assert abs(res.statistic - want.statistic) <= TOL * max(1.0, abs(want.statistic))
        assert res.p_value is not None and abs(res.p_value - want.pvalue) <= TOL


def _reference_bins(ref: np.ndarray, n_bins: int) -> list[np.ndarray]:
    probs = np.arange(1, n_bins) / n_bins
    return [np.quantile(ref[:, j], probs) for j in range(ref.shape[1])]


def _proportions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(edges, x, side="left")  # right-closed bins (e_{i-1}, e_i]
    return np.bincount(idx, minlength=len(edges) + 1) / len(x)


def test_psi_and_js_equal_direct_computation(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    psi = psi_test(ref, cur)
    js = jensen_shannon_test(ref, cur)
    for j, edges in enumerate(_reference_bins(ref, 10)):
        p, q = _proportions(ref[:, j], edges), _proportions(cur[:, j], edges)
        pe, qe = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
        assert abs(psi[j].statistic - float(((qe - pe) * np.log(qe / pe)).sum())) <= TOL
        assert abs(js[j].statistic - float(jensenshannon(p, q, base=2))) <= TOL


def test_chi2_equals_scipy_contingency() -> None:
    rng = np.random.default_rng(5)
    for n_cat in (1, 2, 3, 7):
        cats = np.array([f"c{i}" for i in range(n_cat + 1)])
        ref = rng.choice(cats[:n_cat], size=300)  # current may hold an unseen category
        cur = rng.choice(cats, size=120)
        res = chi2_test(ref, cur)[0]
        labels = sorted(set(ref) | set(cur))
        table = np.array([[np.sum(ref == c) for c in labels], [np.sum(cur == c) for c in labels]])
        if table.shape[1] < 2:
            assert res.statistic == 0.0 and res.p_value == 1.0
            continue
        want = stats.chi2_contingency(table)
        assert abs(res.statistic - want.statistic) <= TOL
        assert res.p_value is not None and abs(res.p_value - want.pvalue) <= TOL
        assert res.details["dof"] == want.dof


def test_vectorised_equals_per_column_loop(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    for fn in (ks_test, wasserstein_test, psi_test, jensen_shannon_test):
        together = fn(ref, cur)
        for j in range(ref.shape[1]):
            alone = fn(ref[:, j], cur[:, j])[0]
            assert alone.statistic == pytest.approx(together[j].statistic, abs=1e-12)
            assert alone.p_value == together[j].p_value or (
                alone.p_value is not None
                and together[j].p_value is not None
                and abs(alone.p_value - together[j].p_value) <= 1e-12
            )


def test_both_strategies_agree_with_each_other() -> None:
    rng = np.random.default_rng(11)
    for kind in ("normal", "ties", "mixed"):
        ref = _core.sort_columns(_sample(rng, 5000, 4, kind))
        cur = _core.sort_columns(_sample(rng, 300, 4, kind))
        merged = _core.merge_sorted(ref, cur)
        assert np.array_equal(_core.ks_merged(merged), _core.ks_sorted(ref, cur))
        np.testing.assert_allclose(
            _core.wasserstein_merged(merged), _core.wasserstein_sorted(ref, cur), atol=1e-12
        )


def test_wasserstein_exact_under_large_offset() -> None:
    # Differences of neighbours (not running sums of values) keep W exact far from zero.
    rng = np.random.default_rng(2)
    ref = 1e6 + rng.standard_normal((20_000, 1))
    cur = 1e6 + 0.1 + rng.standard_normal((500, 1))
    got = wasserstein_test(ref, cur, normed=False)[0].statistic
    assert abs(got - stats.wasserstein_distance(ref[:, 0], cur[:, 0])) <= 1e-9


def test_against_profile_equals_raw(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, cur = pair
    profile = ReferenceProfile.build(ref)
    for fn in (ks_test, wasserstein_test, psi_test, jensen_shannon_test):
        for a, b in zip(fn(profile, cur), fn(ref, cur), strict=True):
            assert a.statistic == pytest.approx(b.statistic, abs=1e-12)
            assert a.p_value == b.p_value
