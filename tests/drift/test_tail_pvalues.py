"""p-values beyond the simulated tail of the sequential check resolve below its floor."""

from __future__ import annotations

import numpy as np
import pytest

from chronoguard.drift import CalibratedDriftTest, benjamini_hochberg
from chronoguard.drift._sequential import TAIL_PROBS, log_tail, pvalue_from_tail


def _exponential_tail(theta: float = 1.3) -> np.ndarray:
    # Quantiles of an exponential tail P(max > h) = e^{-theta h} at the stored probabilities.
    return -np.log(TAIL_PROBS) / theta


def test_extrapolation_is_continuous_and_follows_an_exponential_tail() -> None:
    q = _exponential_tail()
    logp = np.log(TAIL_PROBS)
    last = float(q[-1])
    assert log_tail(last, q, logp) == pytest.approx(np.log(0.001))
    assert log_tail(last + 1e-9, q, logp) == pytest.approx(np.log(0.001), abs=1e-6)
    # An exponential tail is extrapolated exactly: log p = -theta h.
    for h in (last + 1.0, last + 5.0, 3 * last):
        assert log_tail(h, q, logp) == pytest.approx(-1.3 * h, rel=1e-9)
    stats = np.array([last * 0.9, last, last * 1.5, last * 3])
    p = pvalue_from_tail(stats, np.tile(q, (stats.size, 1)))
    assert p[1] == pytest.approx(0.001)
    assert p[2] < 0.001 and p[3] < p[2]  # no floor: more extreme, smaller
    assert np.all(np.diff(p) <= 0)


def test_flat_stored_tail_keeps_the_smallest_stored_probability() -> None:
    q = np.full(TAIL_PROBS.shape, 2.0)
    q[:5] = np.linspace(0.5, 2.0, 5)
    assert pvalue_from_tail(np.array([10.0]), q)[0] == pytest.approx(TAIL_PROBS[-1])


def test_a_lone_series_with_a_large_shift_passes_fleet_wide_fdr() -> None:
    rng = np.random.default_rng(3)
    n = 8 * 12
    season = 10 * np.sin(2 * np.pi * np.arange(n + 24) / 12)
    y = 100 + season + rng.normal(0, 2, n + 24)
    test = CalibratedDriftTest.monthly(random_state=0).fit(y[:n])
    after = y[n:].copy()
    after[6:] -= 30  # 15 sds of the noise, for the last 18 months
    r = test.monitor(after)
    assert r.drift
    assert r.p_value is not None and r.p_value < 1e-5
    # Among 5,000 quiet series (uniform p-values), BH at the check's 10 % level keeps it.
    quiet = rng.uniform(size=5000)
    _, flagged = benjamini_hochberg(np.append(quiet, r.p_value), alpha=0.10)
    assert bool(flagged[-1])
