"""chronoguard.store: the state store of the lifecycle.

Forecasts served, actuals, monitoring results, alerts, alias history, model version
status, retrain decisions, the per-series state of the production cycle (deployments,
check history, decisions, the cycle ledger, intents, the workspace lock), approval
requests with their votes, and an
append-only, hash-chained audit log, in SQLite (the
embedded default, WAL mode) or PostgreSQL, chosen by URL. The schema is migrated by
Alembic revisions shipped in this package; callers get typed records and frames back,
never ORM objects.

Examples
--------
>>> from datetime import datetime
>>> from chronoguard.store import Store
>>> with Store.open("sqlite://") as store:
...     store.set_version_status("demand", "1", "candidate", at=datetime(2024, 1, 1),
...                              by="trainer", reason="trained").status
'candidate'
"""

from chronoguard.store._approvals import ApprovalConflictError, ApprovalError
from chronoguard.store._outbox import AlertEpisode, OutboxEntry, OutboxWrite
from chronoguard.store._records import (
    SHADOW_ALIAS,
    ActualsWrite,
    Alert,
    AlertStatus,
    AliasMove,
    ApiToken,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    AuditEntry,
    AuditVerdict,
    CycleRecord,
    CycleStatus,
    DecisionAction,
    DecisionOutcome,
    DecisionOutcomeUpdate,
    Deployment,
    DeploymentMove,
    ForecastRecord,
    Intent,
    IntentStatus,
    ModelVersion,
    MonitoringResult,
    ResultKind,
    RetrainDecision,
    RetrainOutcome,
    SeriesCheck,
    SeriesDecision,
    StatusChange,
    TokenRole,
    VersionStatus,
    VoteChoice,
    VoteResult,
    Watch,
    WatchClose,
    WatchKind,
    WatchStatus,
)
from chronoguard.store._store import Store
from chronoguard.store._tokens import TokenError

__all__ = [  # noqa: RUF022 - plain sorted() order, which the exports test checks
    "ActualsWrite",
    "Alert",
    "AlertEpisode",
    "AlertStatus",
    "AliasMove",
    "ApiToken",
    "ApprovalConflictError",
    "ApprovalError",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalStatus",
    "ApprovalVote",
    "AuditEntry",
    "AuditVerdict",
    "CycleRecord",
    "CycleStatus",
    "DecisionAction",
    "DecisionOutcome",
    "DecisionOutcomeUpdate",
    "Deployment",
    "DeploymentMove",
    "ForecastRecord",
    "Intent",
    "IntentStatus",
    "ModelVersion",
    "MonitoringResult",
    "OutboxEntry",
    "OutboxWrite",
    "ResultKind",
    "RetrainDecision",
    "RetrainOutcome",
    "SHADOW_ALIAS",
    "SeriesCheck",
    "SeriesDecision",
    "StatusChange",
    "Store",
    "TokenError",
    "TokenRole",
    "VersionStatus",
    "VoteChoice",
    "VoteResult",
    "Watch",
    "WatchClose",
    "WatchKind",
    "WatchStatus",
]
