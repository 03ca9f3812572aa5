"""Typed results shared by every drift test and detector."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from chronoguard.errors import ChronoguardError


class DriftKind(StrEnum):
    """What moved. Data-quality incidents are their own kind, never reported as drift."""

    DATA = "data_drift"  # distribution of the target or of an input
    PREDICTION = "prediction_drift"  # distribution of the forecasts
    CONCEPT = "concept_drift"  # residuals / errors given the inputs
    PERFORMANCE = "performance_decay"  # forecast errors on arrived actuals vs the backtest
    QUALITY = "data_quality"  # gaps, stale feed, schema, NaN


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The outcome of one test on one column of one series.

    ``statistic`` is the test statistic, ``p_value`` is ``None`` where the method defines
    none (PSI, Wasserstein), ``threshold`` is what ``statistic`` (or ``p_value`` when
    ``threshold_on == "p_value"``) was compared against, and ``drift`` the decision for
    this series at that level.

    What decides beyond it: ``advisory`` results are reported for comparison only and never
    alert or trigger; ``q_value`` is the p-value adjusted by Benjamini–Hochberg across the
    family of results it was tested with (``None`` until adjusted); ``alert`` is whether it
    raises an alert after that adjustment (``None``: not adjusted, ``drift`` decides).
    ``notes`` are what a reader should know about the result (a gap, a spent budget).
    """

    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drift: bool
    threshold_on: str = "statistic"  # "statistic" or "p_value"
    feature: str = "y"
    unique_id: str | None = None
    kind: DriftKind = DriftKind.DATA
    severity: Severity = Severity.INFO
    details: dict[str, Any] = field(default_factory=dict)
    advisory: bool = False
    q_value: float | None = None
    alert: bool | None = None
    notes: tuple[str, ...] = ()

    @property
    def alerts(self) -> bool:
        """Whether the result raises an alert: positive, not advisory, and within its level
        after the fleet-wide adjustment when there was one."""
        if self.advisory:
            return False
        return self.drift if self.alert is None else self.alert

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = str(self.kind)
        d["severity"] = str(self.severity)
        d["notes"] = list(self.notes)
        return d


class DriftInputError(ChronoguardError):
    """Data handed to a drift test or profile cannot be tested as it is.

    Raised for NaN or infinite values, empty samples, mismatched or missing columns, a
    column of the wrong kind, or a profile that does not hold what a test needs. The
    message names the offending column(s) and says how to fix the input.
    """


class InsufficientDataError(DriftInputError):
    """The data is valid but too short to test yet (e.g. fewer consecutive values than the
    pre-whitening filter needs after a gap). Waiting for more data is the fix."""
