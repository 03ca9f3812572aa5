"""The paired sequential comparison: calibrated when checked after every target, on
autocorrelated differences; powerful; deterministic; a pure function of the prefix."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest

from chronoguard.errors import ChronoguardError
from chronoguard.monitoring import (
    PairedDecision,
    PairedInputError,
    PairedSequentialTest,
    PairedVerdict,
    paired_bounds,
    paired_sequential,
)
from chronoguard.monitoring import paired as paired_module

ALPHA = 0.05


def ar1(rng: np.random.Generator, reps: int, n: int, phi: float) -> np.ndarray:
    """Gaussian AR(1) paths of marginal sd 1, started stationary."""
    eps = rng.normal(0.0, math.sqrt(1 - phi * phi), size=(reps, n))
    out = np.empty((reps, n))
    out[:, 0] = rng.normal(size=reps)
    for t in range(1, n):
        out[:, t] = phi * out[:, t - 1] + eps[:, t]
    return out


def losses(
    rng: np.random.Generator, reps: int, n: int, phi: float, scale: float, corr: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute errors of a challenger (errors ``scale`` times the champion's in sd, with
    correlation ``corr``) and of the champion, both AR(1) over the targets."""
    e0 = ar1(rng, reps, n, phi)
    e1 = scale * (corr * e0 + math.sqrt(1 - corr * corr) * ar1(rng, reps, n, phi))
    return np.abs(e1), np.abs(e0)


def decisions(d: np.ndarray, settings: PairedSequentialTest) -> list[PairedVerdict]:
    return [paired_sequential(row, settings=settings) for row in d]


# -- calibration: equal versions, checked after every target ---------------------------------


def test_no_more_wrong_decisions_than_alpha_on_ar1_differences_checked_every_target() -> None:
    """1,000 streams of 500 AR(1) (phi 0.5) differences with mean 0, checked after every
    target: the share that ever decides (either way) stays at alpha. The same boundary with
    the plain sd instead of the long-run one decides wrongly far more often on the same
    streams, so this test can tell a miscalibrated sequence apart."""
    rng = np.random.default_rng(11)
    reps, n = 1000, 500
    d = ar1(rng, reps, n, 0.5)
    s = PairedSequentialTest(alpha=ALPHA)
    verdicts = decisions(d, s)
    wrong = sum(v.decision is not PairedDecision.CONTINUE for v in verdicts)
    worse = sum(v.decision is PairedDecision.WORSE for v in verdicts)
    better = sum(v.decision is PairedDecision.BETTER for v in verdicts)
    # A share at alpha would exceed this bound (binomial, 1,000 streams) with probability
    # about 0.01.
    assert wrong / reps <= ALPHA + 2.33 * math.sqrt(ALPHA * (1 - ALPHA) / reps), (
        worse,
        better,
    )
    assert worse + better == wrong

    mean, half, sd = paired_bounds(d, settings=s)
    t = np.arange(1, n + 1)
    cs = np.cumsum(d, axis=1)
    cs2 = np.cumsum(d * d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        plain = np.sqrt(np.maximum(cs2 - cs * cs / t, 0.0) / (t - 1))
        naive_half = half * plain / sd
    out = (np.abs(mean) > naive_half)[:, s.min_targets - 1 :].any(axis=1)
    assert out.mean() > 2 * ALPHA


def test_wrong_decisions_on_independent_differences_are_rare_too() -> None:
    rng = np.random.default_rng(12)
    d = rng.standard_t(df=5, size=(600, 400))
    wrong = sum(
        v.decision is not PairedDecision.CONTINUE for v in decisions(d, PairedSequentialTest())
    )
    assert wrong / 600 <= ALPHA


def test_equal_loss_streams_from_correlated_absolute_errors_stay_undecided() -> None:
    rng = np.random.default_rng(13)
    ch, pv = losses(rng, 400, 400, 0.5, 1.0)
    verdicts = [paired_sequential(c - p, champion_loss=p) for c, p in zip(ch, pv, strict=True)]
    assert sum(v.decision is not PairedDecision.CONTINUE for v in verdicts) / 400 <= ALPHA


# -- power ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scale", "expected"), [(1.2, PairedDecision.WORSE), (0.8, PairedDecision.BETTER)]
)
def test_a_twenty_percent_difference_is_found_within_300_targets(
    scale: float, expected: PairedDecision
) -> None:
    rng = np.random.default_rng(14)
    ch, pv = losses(rng, 200, 300, 0.5, scale)
    verdicts = [paired_sequential(c - p, champion_loss=p) for c, p in zip(ch, pv, strict=True)]
    found = [v for v in verdicts if v.decision is expected]
    assert len(found) >= 0.95 * len(verdicts)
    assert all(v.decision in (expected, PairedDecision.CONTINUE) for v in verdicts)
    at = np.median([v.decided_at for v in found if v.decided_at is not None])
    assert at <= 150
    rel = np.median([v.relative_difference for v in verdicts if v.relative_difference])
    assert rel == pytest.approx(scale - 1.0, abs=0.03)


# -- purity: determinism and the prefix ----------------------------------------------------------


def test_same_input_same_verdict() -> None:
    rng = np.random.default_rng(15)
    d = 0.2 + ar1(rng, 1, 120, 0.5)[0]
    a = paired_sequential(d, champion_loss=np.full(120, 2.0))
    b = paired_sequential(d.copy(), champion_loss=np.full(120, 2.0))
    assert a == b
    assert a.to_dict() == b.to_dict()
    assert a.to_dict()["decision"] == str(a.decision)


def test_a_verdict_after_n_targets_depends_only_on_the_first_n() -> None:
    rng = np.random.default_rng(16)
    d = 0.5 + ar1(rng, 1, 200, 0.5)[0]
    full = paired_sequential(d)
    assert full.decided_at is not None
    changed = d.copy()
    changed[full.decided_at :] = -50.0  # the future turns the other way
    assert paired_sequential(changed[: full.decided_at]) == paired_sequential(d[: full.decided_at])
    # Checked after every target, the first decision falls where the whole stream says.
    first = next(
        n for n in range(1, 201) if paired_sequential(d[:n]).decision is not PairedDecision.CONTINUE
    )
    assert first == full.decided_at
    assert paired_sequential(changed).decided_at == full.decided_at
    assert paired_sequential(changed).decision is full.decision
    # The numeric core at every prefix equals the core on the prefix alone.
    m, h, s = paired_bounds(d)
    for n in (2, 3, 17, 64, 199):
        mn, hn, sn = paired_bounds(d[:n])
        np.testing.assert_allclose([m[n - 1], h[n - 1], s[n - 1]], [mn[-1], hn[-1], sn[-1]])


def test_streams_in_a_matrix_equal_streams_one_by_one() -> None:
    rng = np.random.default_rng(17)
    d = ar1(rng, 3, 80, 0.3)
    m, h, s = paired_bounds(d)
    for i in range(3):
        mi, hi, si = paired_bounds(d[i])
        np.testing.assert_allclose(m[i], mi)
        np.testing.assert_allclose(h[i], hi)
        np.testing.assert_allclose(s[i], si)


def test_the_reported_interval_only_narrows_once_decisions_are_allowed() -> None:
    rng = np.random.default_rng(18)
    d = 0.1 + ar1(rng, 1, 150, 0.5)[0]
    s = PairedSequentialTest()
    widths = []
    for n in range(s.min_targets, 151):
        v = paired_sequential(d[:n], settings=s)
        assert v.lower is not None and v.upper is not None
        widths.append(v.upper - v.lower)
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(widths))


# -- the verdict in words and numbers ---------------------------------------------------------


def test_the_reason_names_the_losses_the_interval_and_the_decision() -> None:
    rng = np.random.default_rng(19)
    ch, pv = losses(rng, 1, 300, 0.5, 0.8)
    v = paired_sequential(ch[0] - pv[0], champion_loss=pv[0])
    assert v.decision is PairedDecision.BETTER
    assert v.challenger_loss is not None and v.champion_loss is not None
    assert v.challenger_loss < v.champion_loss
    assert v.lower is not None and v.upper is not None and v.upper < 0
    assert v.relative_upper is not None and v.relative_upper < 0
    assert f"{v.challenger_loss:.3g} vs {v.champion_loss:.3g}" in v.reason
    assert "over 300 targets" in v.reason
    assert "95 % confidence sequence" in v.reason
    assert f"since target {v.decided_at}: better" in v.reason


def test_undecided_before_min_targets_and_on_no_data() -> None:
    v = paired_sequential(np.full(5, -1.0) + np.arange(5) * 0.01)
    assert v.decision is PairedDecision.CONTINUE
    assert "no decision before 10 targets" in v.reason
    empty = paired_sequential(np.array([]))
    assert empty.decision is PairedDecision.CONTINUE and empty.n == 0
    assert empty.mean_difference is None and empty.lower is None
    one = paired_sequential([0.5])
    assert one.lower is None and one.mean_difference == 0.5


def test_a_margin_keeps_small_differences_undecided() -> None:
    rng = np.random.default_rng(20)
    d = -0.1 + 0.2 * rng.normal(size=2000)
    assert paired_sequential(d).decision is PairedDecision.BETTER
    wide = PairedSequentialTest(margin=0.2)
    v = paired_sequential(d, settings=wide)
    assert v.decision is PairedDecision.CONTINUE
    assert "±0.2" in v.reason


def test_identical_forecasts_never_decide() -> None:
    v = paired_sequential(np.zeros(50))
    assert v.decision is PairedDecision.CONTINUE
    assert v.lower == v.upper == 0.0


def test_the_docstring_example_runs() -> None:
    result = doctest.testmod(paired_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# -- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d",
    [
        [0.1, float("nan"), 0.2],
        [0.1, float("inf")],
        [[0.1, 0.2], [0.3, 0.4]],
        ["a", "b"],
    ],
)
def test_bad_differences_are_a_clear_error(d: object) -> None:
    with pytest.raises(PairedInputError, match="d ") as exc:
        paired_sequential(d)  # type: ignore[arg-type]
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, ChronoguardError)


def test_nan_message_names_the_target() -> None:
    with pytest.raises(PairedInputError, match="first at target 2"):
        paired_sequential([0.1, float("nan"), 0.2])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"alpha": 1.5},
        {"alpha": float("nan")},
        {"min_targets": 1},
        {"tightest_at": 0},
        {"margin": -0.1},
        {"margin": float("inf")},
    ],
)
def test_bad_settings_are_a_clear_error(kwargs: dict[str, float]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(PairedInputError, match=name):
        PairedSequentialTest(**kwargs)  # type: ignore[arg-type]


def test_champion_losses_must_match_the_differences() -> None:
    with pytest.raises(PairedInputError, match="champion_loss"):
        paired_sequential([0.1, 0.2, 0.3], champion_loss=[1.0, 1.0])
    with pytest.raises(PairedInputError, match="champion_loss"):
        paired_sequential([0.1, 0.2], champion_loss=[1.0, float("nan")])
