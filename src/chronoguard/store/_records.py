"""Typed records that go into and come out of the store.

Plain frozen dataclasses: the ORM rows in :mod:`chronoguard.store._models` never leave
the store. Every timestamp is a naive :class:`~datetime.datetime` in UTC (an aware
timestamp given to the store is converted to UTC first), so both backends hand back the
same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ResultKind(StrEnum):
    """What a monitoring result or an alert is about (same values as ``drift.DriftKind``)."""

    DATA_DRIFT = "data_drift"
    PREDICTION_DRIFT = "prediction_drift"
    CONCEPT_DRIFT = "concept_drift"
    PERFORMANCE_DECAY = "performance_decay"
    DATA_QUALITY = "data_quality"


class AlertStatus(StrEnum):
    """Where an alert is in its life: raised, seen by a person, closed."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class VersionStatus(StrEnum):
    """Lifecycle state of a model version.

    ``candidate → validated | rejected → shadow | canary → champion → retired``. The store
    records any move; which moves are allowed is the lifecycle layer's rule.
    """

    CANDIDATE = "candidate"
    VALIDATED = "validated"
    REJECTED = "rejected"
    SHADOW = "shadow"
    CANARY = "canary"
    CHAMPION = "champion"
    RETIRED = "retired"


class RetrainOutcome(StrEnum):
    """What a retrain decision ended in."""

    PROMOTED = "promoted"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastRecord:
    """One served forecast: series ``unique_id``, made at ``origin`` for target ``ds``.

    ``origin`` is the last observed timestamp when the forecast was made and ``horizon``
    the step ahead (1 = the next period). The interval (``yhat_lo``, ``yhat_hi`` at
    ``level`` percent) is optional. ``id`` is ``None`` until the store assigns it.

    Examples
    --------
    >>> from datetime import datetime
    >>> r = ForecastRecord(unique_id="s1", origin=datetime(2024, 1, 31),
    ...                    ds=datetime(2024, 2, 1), horizon=1, yhat=10.0,
    ...                    model_name="demand", version="3", alias="champion",
    ...                    created_at=datetime(2024, 1, 31, 6))
    >>> r.level is None
    True
    """

    unique_id: str
    origin: datetime
    ds: datetime
    horizon: int
    yhat: float
    model_name: str
    version: str
    alias: str
    created_at: datetime
    yhat_lo: float | None = None
    yhat_hi: float | None = None
    level: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualsWrite:
    """What :meth:`Store.record_actuals` did: new rows, identical re-sends, revisions."""

    inserted: int
    unchanged: int
    revised: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringResult:
    """The outcome of one check (a drift test, a quality rule, a performance comparison).

    ``statistic`` was compared with ``threshold`` (or ``p_value`` with it, for tests that
    define one) and ``decision`` says whether the check fired. ``unique_id`` is ``None``
    for fleet-level checks. ``run_id`` and ``ds`` (the check time) are given once per
    :meth:`Store.record_monitoring_results` call and come back in the frame.
    """

    kind: str
    method: str
    statistic: float
    threshold: float
    decision: bool
    severity: str
    version: str
    unique_id: str | None = None
    feature: str = "y"
    p_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert raised at check time ``ds``. ``id`` is ``None`` until stored."""

    ds: datetime
    kind: str
    method: str
    statistic: float
    threshold: float
    severity: str
    message: str
    version: str
    unique_id: str | None = None
    feature: str = "y"
    p_value: float | None = None
    status: str = AlertStatus.OPEN.value
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasMove:
    """One move of ``alias`` of ``model_name`` onto ``version``.

    ``previous_version`` is the version the alias pointed at before the move (``None`` for
    the first move), so the history reads as a chain and a rollback knows where to go.
    """

    id: int
    model_name: str
    alias: str
    version: str
    previous_version: str | None
    moved_at: datetime
    moved_by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """The current lifecycle state of one model version."""

    model_name: str
    version: str
    status: str
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """One lifecycle move of a model version; ``from_status`` is ``None`` for the first."""

    id: int
    model_name: str
    version: str
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainDecision:
    """A challenger compared with the champion at ``ds``, and what came of it.

    The errors are the validation metric of each (lower is better); ``champion_version``
    and ``champion_error`` are ``None`` when there was no champion yet.
    """

    id: int
    ds: datetime
    model_name: str
    trigger: str
    challenger_version: str
    champion_version: str | None
    challenger_error: float | None
    champion_error: float | None
    outcome: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One row of the append-only, hash-chained audit log.

    ``hash`` is the SHA-256 of the canonical JSON of every other field (including
    ``prev_hash``), so changing any stored row breaks the chain from that row on.
    """

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
