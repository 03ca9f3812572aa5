"""A sequential, paired, anytime-valid comparison of a challenger with its champion.

Both versions forecast the same targets; when a target's actual arrives, each version's loss
on it is known and their difference ``d = loss(challenger) - loss(champion)`` is one paired
observation (forecasts of one target from several origins are averaged first: they share the
target's surprise). :func:`paired_sequential` answers, after any number of targets, whether
the mean difference is below zero (the challenger is ``better``), above it (``worse``), or
not yet known (``continue``), and may be asked after every target without inflating its false
decisions: the chance that it ever decides wrongly, however often it is asked, stays near
``alpha``.

Design
------
* **A confidence sequence, not a test repeated.** A fixed-sample test (t, Mann-Whitney) asked
  after every target rejects a true null far more often than its level: each look is a new
  chance of a wrong decision (``bench/canary.py`` measures it). A confidence sequence
  ``[L_t, U_t]`` covers the mean at *every* ``t`` at once with probability ``1 - alpha``, so a
  decision taken the first time it leaves zero is wrong with probability at most ``alpha``,
  whenever it is looked at. The construction is a mixture martingale and Ville's inequality
  (Howard, Ramdas, McAuliffe & Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic
  confidence sequences"): the likelihood ratio of "mean ``mu + theta sigma``" against
  "mean ``mu``", mixed over ``theta ~ N(0, 1 / rho)``, is a nonnegative martingale under the
  mean ``mu``, so the chance that it *ever* exceeds ``1 / alpha`` is at most ``alpha``; the
  ``mu`` for which it has not are the sequence. It is the mSPRT of Johari, Pekelis & Walsh
  (2017), written as an interval.
* **Unknown variance: Lai's t-sequence.** The variance of the differences is not known, and
  a normal-mixture sequence with an estimated variance plugged in (the asymptotic sequence
  of Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas) is too narrow on a few dozen targets.
  The mixture is therefore over the scale-invariant likelihood ratio (Lai 1976; Wang &
  Ramdas 2023, "Anytime-valid t-tests and confidence sequences for Gaussian means with
  unknown variance"): ``sqrt(rho / (t + rho)) (1 - S_t^2 / ((t + rho) V_t))^(-t / 2)`` with
  ``S_t`` and ``V_t`` the sum and the sum of squares of the differences around ``mu``. It is
  exact for independent Gaussian differences at every ``t``, with no plug-in, and widens by
  itself while the variance is uncertain. Solved for ``mu``: ``|mean - mu| < sqrt(c var /
  (t - c))``, ``c = (1 - q)(t + rho)``, ``q = (alpha^2 rho / (t + rho))^(1 / t)`` (unbounded
  while ``t <= c``). ``rho`` sets where the interval is narrowest for its level
  (``tightest_at`` independent targets, ``rho = tightest_at / (-2 log alpha + log(1 - 2 log
  alpha))``, the choice of Waudby-Smith et al.); the sequence is valid whatever it is.
* **Dependence: an effective number of targets.** Loss differences are autocorrelated
  (multi-step forecasts from overlapping origins, errors that persist), and a sequence built
  for independent data is then too narrow by the square root of the ratio ``f`` of their
  long-run variance ``sum_k gamma_k`` to their variance ``gamma_0`` (``f = 3`` for AR(1) with
  ``phi = 0.5``) and decides wrongly far more often than ``alpha`` (``bench/canary.py``'s
  ``sequential_plain_sd``). Partial sums of weakly dependent, stationary differences behave
  like those of ``t / f`` independent ones (a strong invariance principle; Berkes, Liu & Wu
  2014), so Lai's sequence is used with ``t / f`` effective targets (and the same mean and
  variance), which keeps its small-sample width where it matters: a few dozen autocorrelated
  targets hold the information of far fewer independent ones. ``f`` is estimated from the
  targets so far as the larger of the AR(1) value ``(1 + phi) / (1 - phi)`` and a Newey-West
  ratio (Bartlett weights, bandwidth ``floor(4 (t / 100)^(2/9))``). ``phi`` is the lag-1
  autocorrelation, corrected for its downward bias of about ``(1 + 4 phi) / t`` (solved:
  ``(t phi + 1) / (t - 4)``), raised by half a standard error ``sqrt((1 - phi^2) / t)`` so
  that a short sample's noisy estimate does not narrow the interval as often as it widens it
  (:data:`PHI_SE`; it costs about 7 % more targets to a decision in ``bench/canary.py`` and
  brings the false decisions on AR(1) differences with ``phi = 0.5`` from about 5.5 % to
  3.5 %), and kept in ``[0, 0.95]``: a negative estimate on short data is more often noise
  than a reason to narrow the interval below the independent width. The AR(1) value is far
  less biased than Newey-West on a few dozen targets when the dependence decays
  geometrically, as forecast errors' does; Newey-West catches dependence of another shape
  within its bandwidth.
* **Why not blocks or betting.** Means of non-overlapping blocks are nearly independent, but
  a decision could then only fall at block ends and the block length must be fixed before
  the data is seen, for a dependence not yet known; the long-run variance does the same
  continuously. Betting confidence sequences (Waudby-Smith & Ramdas 2023) are exact for
  bounded observations with a constant conditional mean, which autocorrelated, unbounded
  losses are not.
* **Short histories.** No decision is taken before ``min_targets`` targets: ``f`` needs data
  before it can be trusted. ``tests/monitoring/test_paired.py``
  measures the false-decision rate at the defaults on AR(1) differences checked after every
  target; ``bench/canary.py`` on simulated champion and challenger losses.
* **Stateless.** The verdict is a pure function of the differences so far: it recomputes the
  sequence at every prefix and reports the first target at which it left zero (so a verdict
  after ``n`` targets depends only on the first ``n``, and a caller that stores the
  differences, not the verdicts, gets the decision it would have had by checking after every
  target). Once decided, the decision stands; the interval reported is the running
  intersection of the sequence since ``min_targets`` (valid, because the coverage holds at
  all times at once).
* **Margin.** With ``margin > 0`` the challenger is ``better`` only when the whole interval
  lies below ``-margin`` and ``worse`` when it lies above ``+margin``: a difference smaller
  than the margin is not worth a move.

Limits: the guarantee is exact only for independent Gaussian differences; with estimated
dependence it is asymptotic (measured, not proven, at the sizes used), and strongly
persistent errors (AR(1) ``phi = 0.9`` before the absolute value) exceed it (see
``docs/canary.md``). It is for the
mean difference over the targets so far, assuming that mean is stable (a challenger that is
better at first and decays is judged on its average); dependence at lags far beyond the
bandwidth that the AR(1) shape does not describe (a season in the loss differences) is not
fully accounted for.

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> champion = np.abs(rng.normal(size=200)) + 1.0
>>> d = -0.3 + 0.5 * rng.normal(size=200)  # the challenger's losses are 0.3 lower
>>> v = paired_sequential(d, champion_loss=champion)
>>> v.decision, v.decided_at
(<PairedDecision.BETTER: 'better'>, 50)
>>> paired_sequential(d[:10]).decision
<PairedDecision.CONTINUE: 'continue'>
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from numbers import Integral, Real
from typing import Any

import numpy as np
import numpy.typing as npt

from chronoguard.errors import ChronoguardError

#: Upper bound of the AR(1) coefficient used for the long-run variance (a factor of 39).
PHI_MAX = 0.95
#: Standard errors added to the estimated AR(1) coefficient (see the module's Design).
PHI_SE = 0.5


class PairedInputError(ChronoguardError, ValueError):
    """Loss differences or settings a paired sequential comparison cannot use (NaN or
    infinite values, a wrong shape, a setting outside its range); the message names it."""


class PairedDecision(StrEnum):
    """What the paired comparison concludes about the challenger."""

    BETTER = "better"  # its mean loss is below the champion's (beyond the margin)
    WORSE = "worse"  # its mean loss is above the champion's (beyond the margin)
    CONTINUE = "continue"  # not known yet: keep collecting targets


@dataclass(frozen=True, slots=True, kw_only=True)
class PairedSequentialTest:
    """Settings of :func:`paired_sequential`.

    Parameters
    ----------
    alpha
        Probability, over all the times it is checked, of ever deciding wrongly (two-sided:
        ``better`` or ``worse`` when the two are equal). In (0, 1).
    min_targets
        No decision before this many targets (at least 2): the variance estimate needs data.
    tightest_at
        Number of targets at which the confidence sequence is narrowest for its level (sets
        the normal mixture's scale); valid at every number of targets whatever its value.
    margin
        A difference of mean loss (in loss units, >= 0) too small to act on: ``better``
        needs the interval below ``-margin``, ``worse`` above ``+margin``.
    """

    alpha: float = 0.05
    min_targets: int = 10
    tightest_at: int = 100
    margin: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, Real) and 0.0 < float(self.alpha) < 1.0):
            raise PairedInputError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not (isinstance(self.min_targets, Integral) and self.min_targets >= 2):
            raise PairedInputError(f"min_targets must be an integer >= 2, got {self.min_targets!r}")
        if not (isinstance(self.tightest_at, Integral) and self.tightest_at >= 1):
            raise PairedInputError(f"tightest_at must be an integer >= 1, got {self.tightest_at!r}")
        if not (isinstance(self.margin, Real) and math.isfinite(self.margin) and self.margin >= 0):
            raise PairedInputError(f"margin must be finite and >= 0, got {self.margin!r}")

    @property
    def rho(self) -> float:
        """The mixture's precision on the standardised effect, in (effective) targets."""
        la = -2.0 * math.log(self.alpha)
        return self.tightest_at / (la + math.log(1.0 + la))


@dataclass(frozen=True, slots=True)
class PairedVerdict:
    """The paired comparison after ``n`` targets.

    ``mean_difference`` is the mean of challenger loss minus champion loss, ``lower`` and
    ``upper`` the anytime-valid interval for it at level ``1 - alpha`` (``None`` before two
    targets, infinite while too few targets bound it), ``decided_at`` the number of the target at which the interval first left zero
    (or the margin), ``None`` while undecided. With the champion's losses given,
    ``challenger_loss`` and ``champion_loss`` are the two means and the ``relative_*``
    fields the difference and its interval over the champion's mean loss (``-0.05``: the
    challenger's loss is 5 % lower; the champion's mean is taken as known). ``long_run_sd``
    is the sd per target used, ``dependence`` its ratio to the plain sd (above 1 when the
    differences are positively autocorrelated). ``reason`` says it in a sentence.
    """

    decision: PairedDecision
    n: int
    mean_difference: float | None
    lower: float | None
    upper: float | None
    decided_at: int | None
    alpha: float
    margin: float
    long_run_sd: float | None
    dependence: float | None
    challenger_loss: float | None
    champion_loss: float | None
    relative_difference: float | None
    relative_lower: float | None
    relative_upper: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the decision as its string), e.g. for a store or JSON."""
        out = asdict(self)
        out["decision"] = str(self.decision)
        return out


def _as_matrix(d: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    try:
        x = np.asarray(d, dtype=float)
    except (TypeError, ValueError) as exc:
        raise PairedInputError(f"{name} must be numeric: {exc}") from None
    if x.ndim not in (1, 2):
        raise PairedInputError(
            f"{name} must be 1-D (targets in time order) or 2-D (streams x targets), "
            f"got {x.ndim} dimensions"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad)[0][-1])
        raise PairedInputError(
            f"{name} holds {int(bad.sum())} NaN or infinite value(s), the first at target "
            f"{first + 1}; drop targets whose loss is not known before comparing"
        )
    return np.atleast_2d(x)


def _bandwidth(t: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Newey-West's rule of thumb, ``floor(4 (t / 100)^(2/9))``, at least 1."""
    return np.maximum(np.floor(4.0 * (t / 100.0) ** (2.0 / 9.0)), 1.0).astype(np.int64)


def paired_bounds(
    d: npt.ArrayLike, *, settings: PairedSequentialTest | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The confidence sequence of the mean of ``d`` at every prefix: ``(mean, half_width,
    long_run_sd)``, each of the shape of ``d`` (1-D: targets in time order; 2-D: one stream
    per row), element ``t - 1`` computed from the first ``t`` targets only. The interval after
    ``t`` targets is ``mean ± half_width`` (``half_width`` is infinite for ``t < 2``). This
    is the numeric core of :func:`paired_sequential`, vectorised over streams."""
    s = settings if settings is not None else PairedSequentialTest()
    x = _as_matrix(d, "d")
    one_d = np.ndim(d) == 1
    r, n = x.shape
    if n == 0:
        empty = np.empty((r, 0))
        return (empty[0], empty[0], empty[0]) if one_d else (empty, empty, empty)
    # Centred sums from cumulative sums; shifting by the first value (a function of the
    # prefix) keeps them accurate when the mean is large against the spread.
    shift = x[:, :1].copy()
    x = x - shift
    t = np.arange(1, n + 1, dtype=float)
    c = np.concatenate([np.zeros((r, 1)), np.cumsum(x, axis=1)], axis=1)  # c[:, j]: first j
    m = c[:, 1:] / t
    lags = int(_bandwidth(np.array([float(n)]))[0])
    gam = np.zeros((lags + 1, r, n))
    for k in range(lags + 1):
        prod = np.zeros_like(x)
        prod[:, k:] = x[:, k:] * x[:, : n - k]
        p = np.cumsum(prod, axis=1)
        pairs = np.maximum(t - k, 0.0)
        a = c[:, 1:] - c[:, [k]]  # sum of x_i, i = k+1..t
        b = c[:, np.maximum(np.arange(1, n + 1) - k, 0)]  # sum of x_i, i = 1..t-k
        g = (p - m * (a + b) + pairs * m * m) / t
        g[:, pairs == 0] = 0.0
        gam[k] = g
    g0 = np.maximum(gam[0], 0.0)
    bw = _bandwidth(t)
    w = np.clip(1.0 - np.arange(lags + 1)[:, None] / (bw[None, :] + 1.0), 0.0, None)  # (K+1, n)
    nw = g0 + 2.0 * np.einsum("kt,krt->rt", w[1:], gam[1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(g0 > 0, gam[1] / g0, 0.0)
        # The lag-1 autocorrelation's bias is about -(1 + 4 phi) / t; solved for phi.
        phi = np.where(t > 5, (t * phi + 1.0) / (t - 4.0), PHI_MAX)
        phi = np.clip(phi, 0.0, PHI_MAX)
        phi = np.clip(phi + PHI_SE * np.sqrt((1.0 - phi * phi) / t), 0.0, PHI_MAX)
        # The dependence factor: long-run over marginal variance, at least 1.
        f = np.maximum((1.0 + phi) / (1.0 - phi), np.where(g0 > 0, nw / g0, 1.0))
    half = _lai_half_width(t / f, g0, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.where(t > 1, np.sqrt(f * g0 * t / np.maximum(t - 1.0, 1.0)), np.inf)
    mean = m + shift
    if one_d:
        return mean[0], half[0], sd[0]
    return mean, half, sd


def _lai_half_width(
    t_eff: npt.NDArray[np.float64], var: npt.NDArray[np.float64], s: PairedSequentialTest
) -> npt.NDArray[np.float64]:
    """Half-width of Lai's confidence sequence for a Gaussian mean of unknown variance, for
    ``t_eff`` observations whose (biased, divided-by-n) sample variance is ``var``.

    The mixture over the standardised effect ``N(0, 1 / rho)`` of the scale-invariant
    likelihood ratio is ``sqrt(rho / (t + rho)) (1 - S^2 / ((t + rho) V))^(-t / 2)`` with
    ``S`` and ``V`` the sum and the sum of squares around the hypothesised mean; it stays
    below ``1 / alpha`` exactly where ``delta^2 (t - (1 - q)(t + rho)) < (1 - q)(t + rho)
    var``, ``q = (alpha^2 rho / (t + rho))^(1 / t)``. Infinite when no finite interval holds
    (too few effective observations)."""
    rho = s.rho
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        te = np.where(t_eff > 0, t_eff, np.nan)
        q = np.exp(np.log(s.alpha**2 * rho / (te + rho)) / te)
        c = (1.0 - q) * (te + rho)
        den = te - c
        half = np.sqrt(c * var / den)
    return np.where((den > 0) & np.isfinite(half) & (t_eff > 1.0 - 1e-12), half, np.inf)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _pct(v: float) -> str:
    return f"{100.0 * v:+.1f} %"


def paired_sequential(
    d: npt.ArrayLike,
    *,
    settings: PairedSequentialTest | None = None,
    champion_loss: npt.ArrayLike | None = None,
    loss: str = "MAE",
) -> PairedVerdict:
    """Whether the challenger's mean loss is below or above the champion's, anytime-valid.

    Parameters
    ----------
    d
        Per-target loss differences, challenger minus champion, in time order (1-D).
    settings
        :class:`PairedSequentialTest` (default: ``alpha`` 0.05, 10 targets at least).
    champion_loss
        The champion's loss on the same targets (optional): the verdict then reports both
        mean losses and the difference relative to the champion's.
    loss
        The loss's name in the reason (``MAE`` for mean absolute errors).

    Returns
    -------
    PairedVerdict
        ``better`` or ``worse`` from the first target at which the confidence sequence left
        zero (or the margin), ``continue`` until then. A pure function of ``d``: the verdict
        after ``n`` targets depends on the first ``n`` only.
    """
    s = settings if settings is not None else PairedSequentialTest()
    x = _as_matrix(d, "d")
    if np.ndim(d) != 1:
        raise PairedInputError(f"d must be 1-D (targets in time order), got shape {x.shape}")
    x = x[0]
    n = x.size
    champ: npt.NDArray[np.float64] | None = None
    if champion_loss is not None:
        champ = _as_matrix(champion_loss, "champion_loss")[0]
        if np.ndim(champion_loss) != 1 or champ.size != n:
            raise PairedInputError(
                f"champion_loss must be 1-D with one loss per target of d ({n}), "
                f"got shape {np.shape(champion_loss)}"
            )
    if n == 0:
        return PairedVerdict(
            decision=PairedDecision.CONTINUE,
            n=0,
            mean_difference=None,
            lower=None,
            upper=None,
            decided_at=None,
            alpha=float(s.alpha),
            margin=float(s.margin),
            long_run_sd=None,
            dependence=None,
            challenger_loss=None,
            champion_loss=None,
            relative_difference=None,
            relative_lower=None,
            relative_upper=None,
            reason="no target has the losses of both versions yet: continue",
        )
    mean, half, sd = paired_bounds(x, settings=s)
    lo, hi = mean - half, mean + half
    k0 = s.min_targets - 1
    worse = lo > s.margin
    better = hi < -s.margin
    worse[:k0] = False
    better[:k0] = False
    hit = np.flatnonzero(worse | better)
    decided_at = int(hit[0]) + 1 if hit.size else None
    decision = PairedDecision.CONTINUE
    if decided_at is not None:
        decision = PairedDecision.WORSE if worse[decided_at - 1] else PairedDecision.BETTER
    mean_n = float(mean[-1])
    lower: float | None = None
    upper: float | None = None
    note = ""
    if n >= 2:
        lower, upper = float(lo[-1]), float(hi[-1])
        if n > s.min_targets:
            li, ui = float(np.max(lo[k0:])), float(np.min(hi[k0:]))
            if li <= ui:
                lower, upper = li, ui
            else:
                note = (
                    " (its intersection since target "
                    f"{s.min_targets} is empty: the difference is not stable over time)"
                )
    sd_n = float(sd[-1]) if n >= 2 else None
    plain = float(np.std(x, ddof=1)) if n >= 2 else None
    dependence = sd_n / plain if sd_n is not None and plain else None
    ch_mean: float | None = None
    pv_mean: float | None = None
    rel: float | None = None
    rel_lo: float | None = None
    rel_hi: float | None = None
    if champ is not None:
        pv_mean = float(np.mean(champ))
        ch_mean = pv_mean + mean_n
        if pv_mean > 0:
            rel = mean_n / pv_mean
            rel_lo = None if lower is None else lower / pv_mean
            rel_hi = None if upper is None else upper / pv_mean
    verdict = PairedVerdict(
        decision=decision,
        n=n,
        mean_difference=mean_n,
        lower=lower,
        upper=upper,
        decided_at=decided_at,
        alpha=float(s.alpha),
        margin=float(s.margin),
        long_run_sd=sd_n,
        dependence=dependence,
        challenger_loss=ch_mean,
        champion_loss=pv_mean,
        relative_difference=rel,
        relative_lower=rel_lo,
        relative_upper=rel_hi,
        reason="",
    )
    return replace(verdict, reason=_reason(verdict, s, loss, note))


def _reason(v: PairedVerdict, s: PairedSequentialTest, loss: str, note: str) -> str:
    """The verdict in one sentence, with its numbers."""
    n = v.n
    targets = f"{n} target{'s' if n != 1 else ''}"
    mean = math.nan if v.mean_difference is None else v.mean_difference
    if v.challenger_loss is not None and v.champion_loss is not None:
        head = f"challenger {loss} {_fmt(v.challenger_loss)} vs {_fmt(v.champion_loss)} "
        head += f"for the champion over {targets}"
        if v.relative_difference is not None:
            head += f" ({_pct(v.relative_difference)})"
    else:
        head = f"{loss} difference (challenger - champion) {_fmt(mean)} "
        head += f"over {targets}"
    level = f"{100 * (1 - s.alpha):g} %"
    if v.lower is None or v.upper is None:
        body = f"the {level} confidence sequence needs 2 targets"
    elif not (math.isfinite(v.lower) and math.isfinite(v.upper)):
        body = f"the {level} confidence sequence for the mean difference is still unbounded "
        body += "(too few targets for their spread"
        if v.dependence is not None and v.dependence > 1.05:
            body += f" and autocorrelation, which widens it ×{v.dependence:.2f}"
        body += ")"
    else:
        body = f"the {level} confidence sequence for the mean difference is "
        body += f"[{_fmt(v.lower)}, {_fmt(v.upper)}]"
        if v.relative_lower is not None and v.relative_upper is not None:
            body += f" ({_pct(v.relative_lower)} to {_pct(v.relative_upper)} of the champion's)"
        body += note
        if v.dependence is not None and v.dependence > 1.05:
            body += f", widened ×{v.dependence:.2f} for autocorrelation"
    if v.decision is PairedDecision.BETTER:
        edge = "0" if s.margin == 0 else f"-{_fmt(s.margin)}"
        tail = f"below {edge} since target {v.decided_at}: better"
    elif v.decision is PairedDecision.WORSE:
        edge = "0" if s.margin == 0 else f"+{_fmt(s.margin)}"
        tail = f"above {edge} since target {v.decided_at}: worse"
    elif n < s.min_targets:
        tail = f"no decision before {s.min_targets} targets: continue"
    else:
        tail = f"not clear of {'0' if s.margin == 0 else f'±{_fmt(s.margin)}'}: continue"
    return f"{head}; {body}; {tail}"
