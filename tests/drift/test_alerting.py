"""Alert control: persistence, Benjamini–Hochberg across a run, severity, daily default."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from chronoguard.drift.alerting import (
    DAILY_CHECK_RULE,
    DailyCheckRule,
    PersistenceRule,
    benjamini_hochberg,
    fdr_adjust,
    persistent_alarms,
    severity_from_margin,
    severity_from_pvalue,
)
from chronoguard.drift.types import DriftInputError, DriftResult, Severity


def test_persistence_rule_fires_on_k_of_the_last_n() -> None:
    rule = PersistenceRule(k=2, n=3)
    got = [rule.update(d) for d in [True, False, True, False, False, True, True]]
    assert got == [False, False, True, False, False, False, True]
    rule.reset()
    assert rule.update(True) is False


def test_persistence_rule_round_trips_and_validates() -> None:
    rule = PersistenceRule(3, 5)
    for d in [True, True, False]:
        rule.update(d)
    again = PersistenceRule.from_dict(rule.to_dict())
    assert again.update(True) == rule.update(True)
    assert repr(rule) == "PersistenceRule(k=3, n=5)"
    for k, n in [(0, 3), (4, 3), (1.5, 3)]:
        with pytest.raises(DriftInputError, match="1 <= k <= n"):
            PersistenceRule(k, n)  # type: ignore[arg-type]


@pytest.mark.parametrize(("k", "n"), [(1, 1), (2, 3), (3, 5), (4, 4)])
def test_vectorised_persistence_equals_the_rule(k: int, n: int) -> None:
    rng = np.random.default_rng(k * 10 + n)
    decisions = rng.random((20, 60)) < 0.4
    fast = persistent_alarms(decisions, k, n)
    for row, out in zip(decisions, fast, strict=True):
        rule = PersistenceRule(k, n)
        assert [rule.update(bool(d)) for d in row] == out.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_benjamini_hochberg_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate(
        [rng.uniform(size=200), rng.uniform(0, 1e-3, size=30), [0.5, 0.5, 0.5, 0.0, 1.0]]
    )
    q, reject = benjamini_hochberg(p, alpha=0.1)
    np.testing.assert_allclose(q, stats.false_discovery_control(p, method="bh"), rtol=0, atol=1e-12)
    assert np.array_equal(reject, q <= 0.1)


def test_benjamini_hochberg_leaves_missing_p_values_out() -> None:
    q, reject = benjamini_hochberg([0.01, np.nan, 0.04])
    np.testing.assert_allclose(q[[0, 2]], stats.false_discovery_control([0.01, 0.04]), atol=1e-12)
    assert np.isnan(q[1]) and not reject[1]
    with pytest.raises(DriftInputError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])
    with pytest.raises(DriftInputError, match="alpha"):
        benjamini_hochberg([0.5], alpha=0)


def test_benjamini_hochberg_controls_fdr_across_a_fleet() -> None:
    rng = np.random.default_rng(1)
    fdp = []
    for _ in range(200):
        null = rng.uniform(size=900)
        alt = stats.norm.sf(rng.normal(3.0, 1.0, size=100))
        _, reject = benjamini_hochberg(np.concatenate([null, alt]), alpha=0.05)
        fdp.append(reject[:900].sum() / max(reject.sum(), 1))
    assert np.mean(fdp) <= 0.06


def result(p: float | None, on: str = "p_value") -> DriftResult:
    return DriftResult("x", 0.0, p, 0.05, bool(p is not None and p < 0.05), threshold_on=on)


def test_fdr_adjust_redecides_only_p_value_results() -> None:
    rs = [result(0.001), result(0.04), result(0.2), result(None, on="statistic")]
    out = fdr_adjust(rs, alpha=0.05)
    assert [r.drift for r in out] == [True, False, False, rs[3].drift]
    assert out[0].details["q_value"] == pytest.approx(0.003)
    assert out[3] is rs[3]


def test_severity_levels() -> None:
    assert severity_from_pvalue(0.2, 0.05) is Severity.INFO
    assert severity_from_pvalue(0.01, 0.05) is Severity.WARNING
    assert severity_from_pvalue(1e-5, 0.05) is Severity.CRITICAL
    assert severity_from_pvalue(None, 0.05) is Severity.INFO
    assert severity_from_margin(0.05, 0.1) is Severity.INFO
    assert severity_from_margin(0.15, 0.1) is Severity.WARNING
    assert severity_from_margin(0.25, 0.1) is Severity.CRITICAL


def test_daily_default_rule() -> None:
    assert DailyCheckRule(horizon=90, false_alarm_rate=0.05, persistence=(1, 1)) == DAILY_CHECK_RULE
    assert repr(DAILY_CHECK_RULE.rule()) == "PersistenceRule(k=1, n=1)"


def test_docstring_examples() -> None:
    import doctest

    import chronoguard.drift.alerting as mod

    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
