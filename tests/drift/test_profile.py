"""Reference profiles: statistics, exactness against raw data, sketches, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import linalg, stats

from chronoguard.drift import (
    ColumnKey,
    DriftInputError,
    ReferenceProfile,
    anderson_darling_test,
    chi2_test,
    cramer_von_mises_test,
    detect_drift,
    jensen_shannon_test,
    ks_test,
    psi_test,
    wasserstein_test,
)

ALL_NUMERIC = (
    ks_test,
    wasserstein_test,
    psi_test,
    jensen_shannon_test,
    anderson_darling_test,
    cramer_von_mises_test,
)


def _ar1(rng: np.random.Generator, n: int, k: int, phi: float) -> np.ndarray:
    e = rng.standard_normal((n + 100, k))
    x = np.zeros_like(e)
    for t in range(1, n + 100):
        x[t] = phi * x[t - 1] + e[t]
    return x[100:]


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 240
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], n),
            "ds": np.tile(pd.date_range("2023-01-01", periods=n, freq="h"), 2),
            "y": np.concatenate([_ar1(rng, n, 1, 0.6)[:, 0], rng.normal(size=n)]),
            "temp": rng.normal(20, 5, size=2 * n).round(0),  # ties
            "store": rng.choice(["x", "y", "z"], size=2 * n),
        }
    )


def test_numeric_summary_statistics(frame: pd.DataFrame) -> None:
    p = ReferenceProfile.build(frame, ar_order=3, season_length=24)
    y = frame.loc[frame.unique_id == "a", "y"].to_numpy()
    s = p.numeric[ColumnKey("a", "y")]
    assert s.n == len(y)
    assert s.mean == pytest.approx(y.mean(), abs=1e-12)
    assert s.std == pytest.approx(y.std(), abs=1e-12)
    assert (s.min, s.max) == (y.min(), y.max())
    yc = y - y.mean()
    acf1 = (yc[1:] * yc[:-1]).sum() / (yc * yc).sum()
    assert s.acf1 == pytest.approx(acf1, abs=1e-12)
    assert 0.4 < s.acf1 < 0.8
    # Yule–Walker by Levinson–Durbin equals solving the Toeplitz system directly.
    want = linalg.solve_toeplitz(s.acf[:3], s.acf[1:4])
    np.testing.assert_allclose(s.ar_coef, want, atol=1e-12)
    assert s.ar_noise_var == pytest.approx(s.std**2 * (1 - s.acf[1:4] @ want), rel=1e-10)
    assert s.seasonal_means is not None and s.seasonal_means.shape == (24,)
    assert s.seasonal_means[5] == pytest.approx(y[5::24].mean())
    np.testing.assert_allclose(s.bin_edges, np.quantile(y, np.arange(1, 10) / 10), atol=1e-12)
    assert s.bin_proportions.sum() == pytest.approx(1.0)
    counts = p.categorical[ColumnKey("b", "store")].counts
    assert sum(counts.values()) == 240 and set(counts) <= {"x", "y", "z"}


def test_profile_results_equal_raw_reference(frame: pd.DataFrame) -> None:
    ref, cur = frame.iloc[::2], frame.iloc[1::2].copy()
    cur["temp"] += 2.0
    p = ReferenceProfile.build(ref)
    for fn in ALL_NUMERIC:
        got = fn(p, cur, features=["y", "temp"])
        want = fn(ref, cur, features=["y", "temp"])
        assert [(r.unique_id, r.feature) for r in got] == [(r.unique_id, r.feature) for r in want]
        for a, b in zip(got, want, strict=True):
            assert a.statistic == pytest.approx(b.statistic, abs=1e-9, nan_ok=True)
            assert a.p_value == pytest.approx(b.p_value, abs=1e-9)
    assert [r.statistic for r in chi2_test(p, cur)] == [r.statistic for r in chi2_test(ref, cur)]


def _same_results(p1: ReferenceProfile, p2: ReferenceProfile, cur: pd.DataFrame) -> None:
    a = detect_drift(p1, cur, methods=["ks", "wasserstein", "psi", "anderson_darling"])
    b = detect_drift(p2, cur, methods=["ks", "wasserstein", "psi", "anderson_darling"])
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_round_trips_are_exact(frame: pd.DataFrame, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    residuals = frame[["unique_id", "ds"]].assign(residual=rng.normal(size=len(frame)))
    p = ReferenceProfile.build(frame, season_length=24, residuals=residuals)
    d = p.to_dict()
    text = json.dumps(d, allow_nan=False)  # JSON-safe: no NaN, no numpy types
    q = ReferenceProfile.from_dict(json.loads(text))
    cur = frame.iloc[100:200]
    _same_results(p, q, cur)
    for suffix in (".json", ".npz"):
        path = p.save(tmp_path / f"profile{suffix}")
        r = ReferenceProfile.load(path)
        _same_results(p, r, cur)
        assert r.numeric.keys() == p.numeric.keys()
        for key, s in p.numeric.items():
            t = r.numeric[key]
            assert t.mean == s.mean and t.std == s.std
            np.testing.assert_array_equal(t.ar_coef, s.ar_coef)
            np.testing.assert_array_equal(t.seasonal_means, s.seasonal_means)
            np.testing.assert_array_equal(r.sorted_sample(key), p.sorted_sample(key))
        assert r.categorical == p.categorical
        assert r.residuals is not None and p.residuals is not None
        rk = ColumnKey("a", "residual")
        assert r.residuals.numeric[rk].rms == p.residuals.numeric[rk].rms
        assert r.residuals.numeric[rk].mean_abs == p.residuals.numeric[rk].mean_abs
    assert "ReferenceProfile(numeric_columns=4" in repr(q)


def test_residual_profile_has_error_sizes(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    res = rng.normal(0.5, 2.0, size=500)
    p = ReferenceProfile.build(frame.iloc[:500], residuals=res)
    assert p.residuals is not None
    s = p.residuals.numeric[ColumnKey(None, "y")]
    assert s.mean_abs == pytest.approx(np.abs(res).mean())
    assert s.rms == pytest.approx(np.sqrt((res**2).mean()))
    assert ks_test(p.residuals, rng.normal(3.0, 2.0, size=100))[0].drift


def test_sketch_is_used_only_above_threshold_and_bounds_its_error() -> None:
    rng = np.random.default_rng(3)
    ref = np.column_stack([rng.standard_normal(40_000), rng.exponential(size=40_000)])
    small = rng.standard_normal((5_000, 2))
    p = ReferenceProfile.build(ref, sketch_above=20_000, sketch_size=1024)
    q = ReferenceProfile.build(small, sketch_above=20_000, sketch_size=1024)
    assert not q.numeric[ColumnKey(None, "x0")].sketch
    s = p.numeric[ColumnKey(None, "x0")]
    assert s.sketch and p.sorted_sample(ColumnKey(None, "x0")).shape == (1024,)
    assert s.n == 40_000 and s.std == pytest.approx(ref[:, 0].std(), abs=1e-12)
    assert 0 < s.sketch_ks_error <= 1 / 1024 + 1 / 40_000
    cur = rng.standard_normal((800, 2)) * 1.1
    exact_ks = ks_test(ref, cur)
    exact_w = wasserstein_test(ref, cur, normed=False)
    for r, e in zip(ks_test(p, cur), exact_ks, strict=True):
        assert abs(r.statistic - e.statistic) <= r.details["max_error"] + 1e-12
        assert r.details["n_reference"] == 40_000 and r.details["reference_sketch_points"] == 1024
    for r, e in zip(wasserstein_test(p, cur, normed=False), exact_w, strict=True):
        assert abs(r.statistic - e.statistic) <= r.details["max_error"] + 1e-12
    # PSI bins come from the full sample, so they are exact even with a sketch.
    for r, e in zip(psi_test(p, cur), psi_test(ref, cur), strict=True):
        assert r.statistic == pytest.approx(e.statistic, abs=1e-12)
    with pytest.raises(DriftInputError, match=r"quantile sketch.*sketch_above"):
        cramer_von_mises_test(p, cur)


def test_build_and_load_errors(tmp_path: Path) -> None:
    x = np.ones((50, 2))
    with pytest.raises(DriftInputError, match="sketch_above >= 10000"):
        ReferenceProfile.build(x, sketch_above=100)
    with pytest.raises(DriftInputError, match="n_bins=1"):
        ReferenceProfile.build(x, n_bins=1)
    with pytest.raises(DriftInputError, match="NaN"):
        ReferenceProfile.build(np.array([1.0, np.nan]))
    p = ReferenceProfile.build(x)
    with pytest.raises(DriftInputError, match=r"\.json or \.npz"):
        p.save(tmp_path / "p.pickle")
    with pytest.raises(DriftInputError, match="no reference profile at"):
        ReferenceProfile.load(tmp_path / "missing.npz")
    with pytest.raises(DriftInputError, match="not a chronoguard reference profile"):
        ReferenceProfile.from_dict({"format": "other"})
    with pytest.raises(DriftInputError, match="version 99"):
        ReferenceProfile.from_dict({**p.to_dict(), "version": 99})
    with pytest.raises(DriftInputError, match=r"n_bins=5.*rebuild"):
        psi_test(
            ReferenceProfile.build(np.arange(30_000.0), sketch_above=10_000),
            np.arange(10.0),
            n_bins=5,
        )


def test_profile_with_other_bins_recomputes_from_full_sample() -> None:
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=(400, 1)), rng.normal(size=(100, 1))
    p = ReferenceProfile.build(ref, n_bins=10)
    got, want = psi_test(p, cur, n_bins=20)[0], psi_test(ref, cur, n_bins=20)[0]
    assert got.statistic == pytest.approx(want.statistic, abs=1e-12)


def test_sorted_sample_is_read_only() -> None:
    p = ReferenceProfile.build(np.array([3.0, 1.0, 2.0]))
    view = p.sorted_sample(ColumnKey(None, "y"))
    assert list(view) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        view[0] = 5.0
    assert stats.ks_2samp(view, [1.0]).statistic == ks_test(p, np.array([1.0]))[0].statistic
