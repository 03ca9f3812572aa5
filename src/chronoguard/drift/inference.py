"""Dependence-aware drift inference: p-values that stay calibrated on time series.

Why: classical two-sample tests assume independent observations. On a stable daily AR(1)
series with phi = 0.9 a KS test of one year against the next 90 days flags 72 % of series
at alpha = 0.05, and a yearly season pushes that past 90 %: neighbouring values are
dependent and seasons move the distribution. This module compares like with like and
removes the dependence before testing:

1. **Seasonal adjustment with the reference's own profile.** The reference is modelled as
   mean + seasonal profile (dummies per position for short seasons, a few Fourier pairs
   for long ones such as the year in daily data, see :mod:`~chronoguard.drift.seasonal`) +
   AR(p) noise, fitted by feasible GLS. Current values are compared with the *reference's*
   profile at the *same* season positions. Assumes the profile is stable; with one
   reference year a yearly profile is assumed smooth (three harmonics).
2. **Pre-whitening** (Box & Jenkins 1970). The AR filter fitted on the reference, bias-
   corrected by a parametric bootstrap (Kilian 1998), is applied *unchanged* to the current
   values. Its output, the innovations, is close to independent under no change, so tests
   on it keep their level. A level shift delta of the series shows in the innovations as
   delta at the change, then only delta * (1 - sum(phi)); the checks here use that exact
   whitened shape, so the jump at the change is not lost. An oracle CUSUM on the true
   innovations shares the loss of the steady part. Assumes an AR(p) approximation of the
   noise (p by BIC) and Gaussian-like innovations in the tails.
3. **Estimation-aware calibration.** The reference's mean, profile, filter and scale are
   estimates; their errors make monitored innovations drift slightly, and a CUSUM summing
   90 days turns that into false alarms. Null distributions are therefore simulated with
   those errors drawn from their sampling distributions, and innovations resampled (smoothed,
   independently) from the reference's residual innovations, rescaled to unit variance
   (Davison & Hinkley 1997, §6.2.3).
4. **Effective sample size** (``method="ess"``): KS and mean tests on the deseasonalised
   values with ``n_eff = n (1 - sum(phi))² var(u) / sigma²`` (= ``n (1 - rho) / (1 + rho)``
   for AR(1)). Cheap and familiar, but only approximate for KS; kept for comparison.
5. **Block bootstrap** (``method="bootstrap"``): the KS distance between deseasonalised
   reference and current values, with a null from stationary-bootstrap pairs drawn from the
   reference. For statistics without a closed-form null; assumes blocks longer than the
   dependence (mean length ``2 x`` the integrated autocorrelation time).

Two ways to ask:

* a **window** check (:meth:`CalibratedDriftTest.test`): is this window different from
  the reference? Level, scale, seasonal-pattern and shape tests on the innovations,
  combined into one p-value (weighted Bonferroni) at level ``alpha``;
* a **sequential** check (:meth:`CalibratedDriftTest.monitor`): run at every period on the
  data since the reference; a likelihood-ratio CUSUM on the innovations whose threshold is
  simulated so that a series without change raises at least one false alarm within
  ``horizon`` checks with probability ``false_alarm_rate``. This is the check to schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chronoguard.drift._calibrated import CalibratedDriftTest
from chronoguard.drift._sequential_batch import SequentialCheck, monitor_checks
from chronoguard.drift.reference_state import ReferenceState
from chronoguard.drift.types import DriftInputError, DriftKind, DriftResult

__all__ = [
    "CalibratedDriftTest",
    "ReferenceState",
    "SequentialCheck",
    "drift_check",
    "fit_reference_state",
    "sequential_checks",
]


def fit_reference_state(
    reference: Any,
    *,
    ds: Any = None,
    freq: str | None = None,
    season_length: float | tuple[float, ...] | str | None = "auto",
    **settings: Any,
) -> ReferenceState:
    """Fit the reference of one series × feature for later drift checks (store it at training).

    Parameters
    ----------
    reference
        The reference values: a 1-D array, a list or a ``pd.Series`` (a ``DatetimeIndex``
        serves as ``ds``). Must be complete (no NaN).
    ds
        Timestamps of ``reference``; with them, later checks place current values at the
        right season positions whatever gap separates them from the reference.
    freq
        Pandas frequency of ``ds`` (inferred when omitted).
    season_length
        ``"auto"`` (the usual seasons of ``freq``), ``None`` (no season), one period or
        several (e.g. ``(7, 365.25)`` for daily data).
    **settings
        Any :class:`CalibratedDriftTest` parameter (``horizon``, ``false_alarm_rate``...).

    Returns
    -------
    ReferenceState
        JSON-safe through ``to_dict()``; includes the calibrated sequential threshold.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> state = fit_reference_state(rng.normal(size=200), season_length=None)
    >>> state.n, len(state.phi)
    (200, 0)
    """
    test = CalibratedDriftTest(season_length=season_length, **settings)
    return test.fit(reference, ds=ds, freq=freq).state_


def drift_check(
    state: ReferenceState | dict[str, Any],
    current: Any,
    *,
    ds: Any = None,
    start: int | None = None,
    mode: str = "sequential",
    alpha: float | None = None,
    alternative: str | None = None,
    method: str = "auto",
    feature: str = "y",
    unique_id: str | None = None,
    kind: DriftKind = DriftKind.DATA,
    random_state: int = 0,
) -> list[DriftResult]:
    """Check ``current`` against a stored reference; the entry point of a monitoring run.

    Parameters
    ----------
    state
        A :class:`ReferenceState` or its ``to_dict()``.
    current
        Values to check (array, list or ``pd.Series``); NaN marks a missing period.
        For ``mode="sequential"`` pass every value since the reference ended (or since the
        last reset); a shorter recent window also works and is conservative.
    ds, start
        Timestamps of ``current``, or the position of its first value counted in steps
        from the reference's first value. Neither: ``current`` directly follows the
        reference.
    mode
        ``"sequential"`` (calibrated CUSUM, for scheduled checks) or ``"window"`` (one
        reference-vs-window test at level ``alpha``).
    alpha
        Window mode: the test level (default 0.05). Sequential mode: the false-alarm
        probability over the calibrated horizon (default: the stored one; another value
        recalibrates, about 0.1 s).
    alternative
        ``"two-sided"``, ``"greater"`` or ``"less"`` (default: the stored one).
    method
        Window mode only: ``"auto"``/``"prewhiten"``, ``"ess"`` or ``"bootstrap"``.

    Returns
    -------
    list[DriftResult]
        One result, decided on its p-value (``threshold_on="p_value"``), so that
        :func:`~chronoguard.drift.alerting.fdr_adjust` can control a fleet's FDR.
    """
    st = state if isinstance(state, ReferenceState) else ReferenceState.from_dict(state)
    test = CalibratedDriftTest.from_state(st)
    if alternative is not None:
        test.alternative = alternative
    kw = {"ds": ds, "start": start, "feature": feature, "unique_id": unique_id, "kind": kind}
    if mode == "window":
        if alpha is not None:
            test.alpha = alpha
        test.method = method
        return test.test(current, random_state=random_state, **kw)
    if mode == "sequential":
        if alpha is not None:
            test.false_alarm_rate = alpha
        return [test.monitor(current, **kw)]
    raise DriftInputError(
        f"mode={mode!r}: use 'sequential' (scheduled checks) or 'window' (one comparison)"
    )


def sequential_checks(
    checks: Sequence[SequentialCheck], *, skip_insufficient: bool = False
) -> list[DriftResult | None]:
    """The scheduled (sequential) check of many series × features at once, in order.

    Each result equals ``drift_check(c.state, c.values, ds=c.ds, start=c.start,
    mode="sequential", ...)`` for its check; the checks that share a seasonal design, an AR
    order, the positions of their values and their calibrated settings run as one stack,
    which is what makes a fleet's cycle fast (see
    :mod:`chronoguard.drift._sequential_batch`). A reference stored without a calibration
    is calibrated first (about 0.1 s each). With ``skip_insufficient`` a check whose window
    has too few consecutive values after a gap to pre-whiten gives ``None`` instead of
    raising :class:`~chronoguard.drift.InsufficientDataError`.
    """
    calibrations = [
        c.state.calibration
        if c.state.calibration is not None
        else CalibratedDriftTest.from_state(c.state)._calibration(c.state)
        for c in checks
    ]
    return monitor_checks(checks, calibrations, skip_insufficient=skip_insufficient)
