"""Each check's levels, from a false-alert budget and a false-trigger budget per series-year.

A check run every period at level ``α`` is positive ``α`` of the time on a series without
change, so its level says nothing about a year until the data's frequency is known: at
``α = 0.01`` a monthly series is flagged 0.12 times a year per check, a daily one 3.7 times,
and a fleet of 10,000 daily series 36,500 times. The levels are therefore set once, as
budgets per series per year, and every check's level follows from them at the data's
frequency. There are two budgets, because a positive check is used twice:

* **alerts**, which a person reads: ``monitoring.false_alerts_per_year`` (default 0.2, one
  false alert episode per series every five years over all its checks);
* **retraining evidence**, which the retraining rule counts (``k`` of ``n``, cooldown) and the
  decision engine prices before any compute is spent: ``monitoring.false_triggers_per_year``
  (default 1). A false trigger costs at most one fit, a missed change costs forecast error
  until it is found, so this budget is larger. It is never below the alert budget.

Each budget is split evenly over the series' families of checks: the four error checks
(performance decay, bias, the newest error, interval coverage), the data-drift check of
each feature (the target and every exogenous input) and the prediction-drift check. For
``K`` families and ``C`` checks a year each family may spend ``B / K`` a year:

* an error check, tested afresh at every check, gets ``α = B / (K × C)`` (at most
  :data:`MAX_CHECK_LEVEL`); by linearity of
  expectation its expected false positives a year are at most ``B / K`` whatever the
  dependence between consecutive checks (a run of positive checks in a row is one episode,
  so episodes are fewer still);
* a sequential drift check is calibrated for a probability of any false alarm within its
  horizon of ``H`` checks (``H / C`` years), so it gets ``B / K × H / C``, capped at
  :data:`MAX_SEQUENTIAL_RATE` (past the cap the check keeps the capped, stricter rate).

Its reference is calibrated at the retraining level; it alerts at the alert level through
its p-value. Benjamini–Hochberg across the fleet
(:func:`~chronoguard.monitoring.fleet_alerts`) only ever makes an alert stricter, so the
alert budget holds after it as well.

``monitoring.alpha``, ``monitoring.drift_false_alarm_rate`` and
``monitoring.drift_budget_checks`` override the derived values when set (``alpha`` for
retraining and alerts alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chronoguard.config import MonitoringConfig
from chronoguard.drift import DriftResult
from chronoguard.errors import ConfigError

#: Error checks that can alert or trigger: performance decay, bias, newest error, coverage.
ERROR_FAMILIES = 4
#: Cap of a sequential check's false-alarm probability over its horizon.
MAX_SEQUENTIAL_RATE = 0.25
#: Cap of an error check's per-check level (a yearly or quarterly series' trigger budget
#: spread over few checks would otherwise test at a third).
MAX_CHECK_LEVEL = 0.1
#: The sequential drift check's method (its p-value is over its horizon of checks).
SEQUENTIAL_METHOD = "cusum_prewhitened"
#: The performance-decay check's method (its statistic is the recent MASE over the
#: reference's: the decay ratio the decision engine weighs).
DECAY_METHOD = "mase_ratio_chi2"


def periods_per_year(freq: str) -> float:
    """Periods of ``freq`` in a (non-leap) year: 12 for ``MS``, 4 for ``QS``, 365 for ``D``,
    17,520 for ``30min``, 1 for ``YS``."""
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise ConfigError(f"frequency {freq!r} is not a pandas frequency: {exc}") from None
    start = pd.Timestamp("2001-01-01")
    n = len(pd.date_range(start, start + pd.DateOffset(years=1), freq=offset, inclusive="left"))
    if n >= 1:
        return float(n)
    # Longer than a year (e.g. every two years): the share of a year one period covers.
    return 365.0 / max((start + offset - start).days, 1)


@dataclass(frozen=True, slots=True)
class CheckLevels:
    """The levels of one series' checks at one frequency (see the module text).

    ``trigger`` and ``alert`` are the per-check levels of the decay, bias, newest-error and
    coverage checks, for retraining evidence and for alerts;
    :meth:`trigger_rate` and :meth:`alert_rate` the false-alarm probabilities over a
    horizon of checks of a sequential drift check.
    """

    alerts_per_year: float
    triggers_per_year: float
    checks_per_year: float
    families: int
    trigger: float
    alert: float

    def _rate(self, per_year: float, horizon: int) -> float:
        return min(MAX_SEQUENTIAL_RATE, per_year / self.families * horizon / self.checks_per_year)

    def trigger_rate(self, horizon: int) -> float:
        """The false-alarm probability over ``horizon`` checks a sequential drift check's
        reference is calibrated for (its retraining level)."""
        return self._rate(self.triggers_per_year, horizon)

    def alert_rate(self, horizon: int) -> float:
        """The false-alarm probability over ``horizon`` checks at which it alerts."""
        return self._rate(self.alerts_per_year, horizon)

    def alert_level(self, result: DriftResult) -> float:
        """The level at which ``result`` alerts: never above the level it was decided at."""
        if result.method == SEQUENTIAL_METHOD:
            horizon = result.details.get("horizon")
            if isinstance(horizon, int | float) and horizon >= 1:
                return min(float(result.threshold), self.alert_rate(int(horizon)))
            return float(result.threshold)
        return min(float(result.threshold), self.alert)


def check_levels(monitoring: MonitoringConfig, freq: str, *, n_features: int = 1) -> CheckLevels:
    """The levels of the checks of a series with ``n_features`` drift-checked features
    (the target and its exogenous inputs), checked every ``monitoring.every`` periods of
    ``freq``."""
    if n_features < 1:
        raise ValueError(f"n_features = {n_features}: a series has at least its target")
    per_year = periods_per_year(freq) / monitoring.every
    families = ERROR_FAMILIES + n_features + 1
    alerts = monitoring.false_alerts_per_year
    triggers = max(monitoring.false_triggers_per_year, alerts)
    if monitoring.alpha is not None:
        trigger = alert = monitoring.alpha
    else:
        trigger = min(MAX_CHECK_LEVEL, triggers / (families * per_year))
        alert = min(MAX_CHECK_LEVEL, alerts / (families * per_year))
    return CheckLevels(
        alerts_per_year=alerts,
        triggers_per_year=triggers,
        checks_per_year=per_year,
        families=families,
        trigger=trigger,
        alert=alert,
    )
