"""Each alerting check's level, from one false-alert budget per series per year.

A check run every period at level ``α`` raises ``α`` false alerts per period on a series
without change, so its level says nothing about a year until the data's frequency is known:
at ``α = 0.01`` a monthly series raises 0.12 false alerts a year per check, a daily one 3.7,
and a fleet of 10,000 daily series 36,500. The budget is therefore set once, in alert
episodes per series per year (``monitoring.false_alerts_per_year``, default 0.2: one false
alert episode per series every five years over all its checks), and every level follows
from it at the data's frequency.

The budget is split evenly over the series' alerting families: the four error checks
(performance decay, bias, the newest error, interval coverage), the data-drift check of
each feature (the target and every exogenous input) and the prediction-drift check. For
``K`` families and ``C`` checks a year each family may spend ``B / K`` a year:

* an error check, tested afresh at every check, gets ``α = B / (K × C)``; by linearity of
  expectation its expected false alerts a year are at most ``B / K`` whatever the
  dependence between consecutive checks (an episode of several positive checks in a row
  counts once, so episodes are fewer still);
* a sequential drift check is calibrated for a probability of any false alarm within its
  horizon of ``H`` checks (``H / C`` years), so it gets ``B / K × H / C``, capped at
  :data:`MAX_SEQUENTIAL_RATE` (past the cap the horizon is longer than a sequential
  threshold can usefully cover at that rate: the check keeps the capped, stricter rate).

Benjamini–Hochberg across the fleet (:func:`~chronoguard.monitoring.fleet_alerts`) only
ever makes a check stricter, so the budget holds for alerts after it as well.

``monitoring.alpha``, ``monitoring.drift_false_alarm_rate`` and
``monitoring.drift_budget_checks`` override the derived values when set.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chronoguard.config import MonitoringConfig
from chronoguard.errors import ConfigError

#: Error checks that can alert or trigger: performance decay, bias, newest error, coverage.
ERROR_FAMILIES = 4
#: Cap of a sequential check's false-alarm probability over its horizon.
MAX_SEQUENTIAL_RATE = 0.25


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
    """The levels of one series' alerting checks at one frequency (see the module text).

    ``error`` is the per-check level of the decay, bias, newest-error and coverage checks;
    ``sequential_rate(horizon)`` the false-alarm probability a sequential drift check with
    that horizon is calibrated for.
    """

    budget_per_year: float
    checks_per_year: float
    families: int
    error: float
    error_overridden: bool = False

    @property
    def share_per_year(self) -> float:
        """False alert episodes a year each family may spend."""
        return self.budget_per_year / self.families

    def sequential_rate(self, horizon: int) -> float:
        """The false-alarm probability over ``horizon`` checks of a sequential drift check."""
        return min(MAX_SEQUENTIAL_RATE, self.share_per_year * horizon / self.checks_per_year)


def check_levels(monitoring: MonitoringConfig, freq: str, *, n_features: int = 1) -> CheckLevels:
    """The levels of the checks of a series with ``n_features`` drift-checked features
    (the target and its exogenous inputs), checked every ``monitoring.every`` periods of
    ``freq``."""
    if n_features < 1:
        raise ValueError(f"n_features = {n_features}: a series has at least its target")
    per_year = periods_per_year(freq) / monitoring.every
    families = ERROR_FAMILIES + n_features + 1
    budget = monitoring.false_alerts_per_year
    derived = budget / (families * per_year)
    return CheckLevels(
        budget_per_year=budget,
        checks_per_year=per_year,
        families=families,
        error=monitoring.alpha if monitoring.alpha is not None else derived,
        error_overridden=monitoring.alpha is not None,
    )
