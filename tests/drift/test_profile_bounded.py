"""Profiles of bounded size: sketches below the exact-KS floor when ``exact_ks=False``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chronoguard.drift import ReferenceProfile, ks_test, psi_test, wasserstein_test
from chronoguard.drift.types import DriftInputError


def bounded(x: np.ndarray, size: int = 256) -> ReferenceProfile:
    return ReferenceProfile.build(x, sketch_above=size, sketch_size=size, exact_ks=False)


def test_a_bounded_profile_keeps_the_same_bytes_at_any_length() -> None:
    rng = np.random.default_rng(0)
    sizes = {n: len(json.dumps(bounded(rng.normal(size=(n, 2))).to_dict())) for n in (600, 9_000)}
    assert abs(sizes[9_000] - sizes[600]) < 50  # the digits of n and a few statistics
    full = len(json.dumps(ReferenceProfile.build(rng.normal(size=(9_000, 2))).to_dict()))
    assert full > 10 * sizes[9_000]


def test_its_statistics_stay_within_the_measured_sketch_error() -> None:
    rng = np.random.default_rng(1)
    ref = np.column_stack([rng.standard_normal(3_000), rng.exponential(size=3_000)])
    cur = rng.standard_normal((60, 2)) * 1.2
    p = bounded(ref)
    s = p.numeric[p.columns[0]]
    assert s.sketch and s.n == 3_000 and p.sorted_sample(p.columns[0]).shape == (256,)
    assert 0 < s.sketch_ks_error <= 1 / 256 + 1 / 3_000
    for r, e in zip(ks_test(p, cur), ks_test(ref, cur), strict=True):
        assert abs(r.statistic - e.statistic) <= r.details["max_error"] + 1e-12
        assert r.details["n_reference"] == 3_000
    for r, e in zip(
        wasserstein_test(p, cur, normed=False),
        wasserstein_test(ref, cur, normed=False),
        strict=True,
    ):
        assert abs(r.statistic - e.statistic) <= r.details["max_error"] + 1e-12
    for r, e in zip(psi_test(p, cur), psi_test(ref, cur), strict=True):  # bins: full sample
        assert r.statistic == pytest.approx(e.statistic, abs=1e-12)
    again = ReferenceProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    assert [r.statistic for r in ks_test(again, cur)] == [r.statistic for r in ks_test(p, cur)]


def test_a_column_no_longer_than_its_sketch_is_kept_whole() -> None:
    x = np.random.default_rng(2).normal(size=(200, 1))
    p = bounded(x)
    assert not p.numeric[p.columns[0]].sketch
    np.testing.assert_array_equal(p.sorted_sample(p.columns[0]), np.sort(x[:, 0]))


def test_bad_sketch_settings_are_refused_with_the_fix() -> None:
    x = np.ones((50, 1))
    with pytest.raises(DriftInputError, match=r"sketch_above >= sketch_size"):
        ReferenceProfile.build(x, sketch_above=100, sketch_size=200, exact_ks=False)
    with pytest.raises(DriftInputError, match=r"sketch_size >= 16"):
        ReferenceProfile.build(x, sketch_above=100, sketch_size=8, exact_ks=False)
    with pytest.raises(DriftInputError, match=r"exact_ks=False"):
        ReferenceProfile.build(x, sketch_above=100)
