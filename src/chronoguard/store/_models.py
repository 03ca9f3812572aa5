"""SQLAlchemy declarative models of the state store.

These mirror the Alembic migrations in ``migrations/versions`` (a test checks that they
agree). Table names carry a ``cg_`` prefix because production deployments often share one
PostgreSQL database with the MLflow tracking server, which owns names such as
``model_versions``.

All timestamps are naive UTC ``TIMESTAMP WITHOUT TIME ZONE``: SQLite cannot keep an
offset, so storing naive UTC everywhere is what makes both backends return equal values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from chronoguard.store._records import (
    AlertStatus,
    ApprovalStatus,
    CycleStatus,
    DecisionAction,
    DecisionOutcome,
    IntentStatus,
    ResultKind,
    RetrainOutcome,
    TokenRole,
    VersionStatus,
    VoteChoice,
    WatchKind,
    WatchStatus,
)

# Deterministic constraint names, so migrations can drop or alter them by name later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")

ID_LEN = 200  # unique_id, model names, versions
NAME_LEN = 100  # kinds, methods, aliases, actors


def _in(column: str, values: type[Any]) -> str:
    """A CHECK clause restricting ``column`` to the values of a ``StrEnum``."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({allowed})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The table of a mapped class, for Core bulk inserts: a plain ``executemany`` of dicts,
    half the time of the ORM's bulk insert for the same rows (a fleet's cycle writes tens
    of thousands)."""
    return cast(Table, model.__table__)


class ForecastRow(Base):
    __tablename__ = "cg_forecasts"
    __table_args__ = (
        UniqueConstraint("unique_id", "origin", "ds", "version"),
        Index("ix_cg_forecasts_unique_id_ds", "unique_id", "ds"),
        Index("ix_cg_forecasts_version_origin", "version", "origin"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    unique_id: Mapped[str] = mapped_column(String(ID_LEN))
    origin: Mapped[datetime] = mapped_column(DateTime())
    ds: Mapped[datetime] = mapped_column(DateTime())
    horizon: Mapped[int] = mapped_column(Integer())
    yhat: Mapped[float] = mapped_column(Float())
    yhat_lo: Mapped[float | None] = mapped_column(Float())
    yhat_hi: Mapped[float | None] = mapped_column(Float())
    level: Mapped[int | None] = mapped_column(Integer())
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    alias: Mapped[str] = mapped_column(String(NAME_LEN))
    created_at: Mapped[datetime] = mapped_column(DateTime())


class ActualRow(Base):
    __tablename__ = "cg_actuals"

    unique_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    ds: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    y: Mapped[float] = mapped_column(Float())
    received_at: Mapped[datetime] = mapped_column(DateTime())


class MonitoringResultRow(Base):
    __tablename__ = "cg_monitoring_results"
    __table_args__ = (
        CheckConstraint(_in("kind", ResultKind), name="kind"),
        Index("ix_cg_monitoring_results_run_id", "run_id"),
        Index("ix_cg_monitoring_results_unique_id_ds", "unique_id", "ds"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    ds: Mapped[datetime] = mapped_column(DateTime())
    unique_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    feature: Mapped[str] = mapped_column(String(ID_LEN))
    kind: Mapped[str] = mapped_column(String(NAME_LEN))
    method: Mapped[str] = mapped_column(String(NAME_LEN))
    statistic: Mapped[float] = mapped_column(Float())
    p_value: Mapped[float | None] = mapped_column(Float())
    threshold: Mapped[float] = mapped_column(Float())
    decision: Mapped[bool] = mapped_column(Boolean(create_constraint=False))
    severity: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    details: Mapped[dict[str, Any]] = mapped_column(JSON())


class AlertRow(Base):
    __tablename__ = "cg_alerts"
    __table_args__ = (
        CheckConstraint(_in("kind", ResultKind), name="kind"),
        CheckConstraint(_in("status", AlertStatus), name="status"),
        Index("ix_cg_alerts_status_ds", "status", "ds"),
        Index("ix_cg_alerts_unique_id_ds", "unique_id", "ds"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ds: Mapped[datetime] = mapped_column(DateTime())
    unique_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    feature: Mapped[str] = mapped_column(String(ID_LEN))
    kind: Mapped[str] = mapped_column(String(NAME_LEN))
    method: Mapped[str] = mapped_column(String(NAME_LEN))
    statistic: Mapped[float] = mapped_column(Float())
    p_value: Mapped[float | None] = mapped_column(Float())
    threshold: Mapped[float] = mapped_column(Float())
    severity: Mapped[str] = mapped_column(String(NAME_LEN))
    message: Mapped[str] = mapped_column(String())
    version: Mapped[str] = mapped_column(String(ID_LEN))
    status: Mapped[str] = mapped_column(String(NAME_LEN))


class AliasMoveRow(Base):
    __tablename__ = "cg_alias_history"
    __table_args__ = (Index("ix_cg_alias_history_model_name_alias", "model_name", "alias", "id"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    alias: Mapped[str] = mapped_column(String(NAME_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    previous_version: Mapped[str | None] = mapped_column(String(ID_LEN))
    moved_at: Mapped[datetime] = mapped_column(DateTime())
    moved_by: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())


class ModelVersionRow(Base):
    __tablename__ = "cg_model_versions"
    __table_args__ = (CheckConstraint(_in("status", VersionStatus), name="status"),)

    model_name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    version: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime())


class StatusChangeRow(Base):
    __tablename__ = "cg_version_status_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_name", "version"],
            ["cg_model_versions.model_name", "cg_model_versions.version"],
        ),
        Index("ix_cg_version_status_history_model_name_version", "model_name", "version"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    from_status: Mapped[str | None] = mapped_column(String(NAME_LEN))
    to_status: Mapped[str] = mapped_column(String(NAME_LEN))
    at: Mapped[datetime] = mapped_column(DateTime())
    by: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())


class RetrainDecisionRow(Base):
    __tablename__ = "cg_retrain_decisions"
    __table_args__ = (
        CheckConstraint(_in("outcome", RetrainOutcome), name="outcome"),
        Index("ix_cg_retrain_decisions_model_name_ds", "model_name", "ds"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    ds: Mapped[datetime] = mapped_column(DateTime())
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    trigger: Mapped[str] = mapped_column(String(NAME_LEN))
    challenger_version: Mapped[str] = mapped_column(String(ID_LEN))
    champion_version: Mapped[str | None] = mapped_column(String(ID_LEN))
    challenger_error: Mapped[float | None] = mapped_column(Float())
    champion_error: Mapped[float | None] = mapped_column(Float())
    outcome: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())


class DeploymentMoveRow(Base):
    __tablename__ = "cg_deployment_moves"
    __table_args__ = (
        Index("ix_cg_deployment_moves_model_name_unique_id", "model_name", "unique_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    unique_id: Mapped[str] = mapped_column(String(ID_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    previous_version: Mapped[str | None] = mapped_column(String(ID_LEN))
    at: Mapped[datetime] = mapped_column(DateTime())
    by: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())
    batch: Mapped[str | None] = mapped_column(String(ID_LEN))


class DeploymentRow(Base):
    """The current version of each series; its history is in ``cg_deployment_moves``."""

    __tablename__ = "cg_deployments"

    model_name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    unique_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    version: Mapped[str] = mapped_column(String(ID_LEN))
    since: Mapped[datetime] = mapped_column(DateTime())
    move_id: Mapped[int] = mapped_column(BigId, ForeignKey("cg_deployment_moves.id"))


class SeriesCheckRow(Base):
    __tablename__ = "cg_series_checks"
    # The key (model_name, unique_id, ds) serves the per-series history; this index serves
    # the idempotency lookup of one cycle's checks (one ds, every series).
    __table_args__ = (Index("ix_cg_series_checks_model_name_ds", "model_name", "ds"),)

    model_name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    unique_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    ds: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    version: Mapped[str] = mapped_column(String(ID_LEN))
    # The fired kinds, a sorted JSON list of strings (sorted so equal sets compare equal).
    fired: Mapped[list[str]] = mapped_column(JSON())


class SeriesDecisionRow(Base):
    __tablename__ = "cg_series_decisions"
    __table_args__ = (
        UniqueConstraint("model_name", "ds", "unique_id"),
        CheckConstraint(_in("action", DecisionAction), name="action"),
        CheckConstraint(_in("outcome", DecisionOutcome), name="outcome"),
        Index("ix_cg_series_decisions_model_name_unique_id_ds", "model_name", "unique_id", "ds"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    ds: Mapped[datetime] = mapped_column(DateTime())
    unique_id: Mapped[str] = mapped_column(String(ID_LEN))
    action: Mapped[str] = mapped_column(String(NAME_LEN))
    trigger: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())
    expected_loss: Mapped[float | None] = mapped_column(Float())
    retrain_cost: Mapped[float | None] = mapped_column(Float())
    cpu_seconds: Mapped[float | None] = mapped_column(Float())
    tier: Mapped[str | None] = mapped_column(String(NAME_LEN))
    group: Mapped[str | None] = mapped_column(String(NAME_LEN))  # quoted: an SQL keyword
    outcome: Mapped[str] = mapped_column(String(NAME_LEN))
    challenger_version: Mapped[str | None] = mapped_column(String(ID_LEN))
    champion_version: Mapped[str | None] = mapped_column(String(ID_LEN))
    challenger_error: Mapped[float | None] = mapped_column(Float())
    champion_error: Mapped[float | None] = mapped_column(Float())
    gate_reason: Mapped[str | None] = mapped_column(String())


class CycleRow(Base):
    __tablename__ = "cg_cycles"
    __table_args__ = (CheckConstraint(_in("status", CycleStatus), name="status"),)

    model_name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    now: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    stage: Mapped[str] = mapped_column(String(NAME_LEN))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON())
    started_at: Mapped[datetime] = mapped_column(DateTime())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime())


class IntentRow(Base):
    __tablename__ = "cg_intents"
    __table_args__ = (
        UniqueConstraint("model_name", "kind", "key"),
        CheckConstraint(_in("status", IntentStatus), name="status"),
        Index("ix_cg_intents_model_name_status", "model_name", "status"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    kind: Mapped[str] = mapped_column(String(NAME_LEN))
    key: Mapped[str] = mapped_column(String(ID_LEN * 2))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON())
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    opened_at: Mapped[datetime] = mapped_column(DateTime())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())


class WatchRow(Base):
    __tablename__ = "cg_watches"
    __table_args__ = (
        CheckConstraint(_in("status", WatchStatus), name="status"),
        CheckConstraint(_in("kind", WatchKind), name="kind"),
        Index("ix_cg_watches_model_name_status", "model_name", "status"),
    )

    model_name: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    unique_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(), primary_key=True)
    version: Mapped[str] = mapped_column(String(ID_LEN))
    previous_version: Mapped[str] = mapped_column(String(ID_LEN))
    periods: Mapped[int] = mapped_column(Integer())
    kind: Mapped[str] = mapped_column(String(NAME_LEN), server_default="watch")
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())
    challenger_error: Mapped[float | None] = mapped_column(Float())
    previous_error: Mapped[float | None] = mapped_column(Float())
    n_pairs: Mapped[int | None] = mapped_column(Integer())
    reason: Mapped[str | None] = mapped_column(String())


class ApprovalRequestRow(Base):
    """A promotion waiting for people; its votes are in ``cg_approval_votes``."""

    __tablename__ = "cg_approval_requests"
    __table_args__ = (
        UniqueConstraint("model_name", "version", "as_of", "tier"),
        CheckConstraint(_in("status", ApprovalStatus), name="status"),
        CheckConstraint("policy IN ('one', 'four_eyes')", name="policy"),
        CheckConstraint("required_approvals IN (1, 2)", name="required_approvals"),
        Index("ix_cg_approval_requests_model_name_status", "model_name", "status"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    version: Mapped[str] = mapped_column(String(ID_LEN))
    # The series it covers, a sorted JSON list of unique_ids.
    series: Mapped[list[str]] = mapped_column(JSON())
    tier: Mapped[str] = mapped_column(String(NAME_LEN))
    policy: Mapped[str] = mapped_column(String(NAME_LEN))
    required_approvals: Mapped[int] = mapped_column(Integer())
    author: Mapped[str] = mapped_column(String(NAME_LEN))
    requested_at: Mapped[datetime] = mapped_column(DateTime())
    as_of: Mapped[datetime] = mapped_column(DateTime())
    expires_at: Mapped[datetime] = mapped_column(DateTime())
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime())
    closed_reason: Mapped[str | None] = mapped_column(String())
    # Bumped by every vote and close; updates are conditional on the value they read.
    row_version: Mapped[int] = mapped_column(Integer())


class ApprovalVoteRow(Base):
    __tablename__ = "cg_approval_votes"
    __table_args__ = (
        UniqueConstraint("request_id", "by"),
        CheckConstraint(_in("vote", VoteChoice), name="vote"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(Integer(), ForeignKey("cg_approval_requests.id"))
    by: Mapped[str] = mapped_column(String(NAME_LEN))
    at: Mapped[datetime] = mapped_column(DateTime())
    vote: Mapped[str] = mapped_column(String(NAME_LEN))
    reason: Mapped[str] = mapped_column(String())


class ApiTokenRow(Base):
    """An API token: only the SHA-256 of its secret, never the secret; revoked, not deleted."""

    __tablename__ = "cg_api_tokens"
    __table_args__ = (
        UniqueConstraint("name"),
        UniqueConstraint("secret_sha256"),
        CheckConstraint(_in("role", TokenRole), name="role"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    role: Mapped[str] = mapped_column(String(NAME_LEN))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime())
    created_by: Mapped[str] = mapped_column(String(NAME_LEN))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(NAME_LEN))


class LockHolderRow(Base):
    """Who holds a PostgreSQL workspace lock, for the busy message only: the lock itself
    is an advisory lock of the holder's connection, so a row left by a dead process
    means nothing (the next holder overwrites it)."""

    __tablename__ = "cg_lock_holders"

    name: Mapped[str] = mapped_column(String(NAME_LEN), primary_key=True)
    holder: Mapped[str] = mapped_column(String())
    acquired_at: Mapped[datetime] = mapped_column(DateTime())


class AuditRow(Base):
    """Append-only: the store never updates or deletes it, and database triggers refuse to."""

    __tablename__ = "cg_audit_log"

    # Assigned by the store (last id + 1), not by the database, because the id is part of
    # the hashed content and must be known before the row is written.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime())
    actor: Mapped[str] = mapped_column(String(NAME_LEN))
    action: Mapped[str] = mapped_column(String(NAME_LEN))
    entity: Mapped[str] = mapped_column(String(ID_LEN * 2))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON())
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The data time the action concerns (NULL: none) and the real time it happened; both
    # NULL on rows written before r0010_audit_times, which carry ``at`` alone.
    as_of: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class AlertEpisodeRow(Base):
    """One episode of a model's alerts: open while any of its alerts fires."""

    __tablename__ = "cg_alert_episodes"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        Index("ix_cg_alert_episodes_model_name_status", "model_name", "status"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(ID_LEN))
    dedup_key: Mapped[str] = mapped_column(String(ID_LEN * 2))
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    opened_at: Mapped[datetime] = mapped_column(DateTime())
    last_notified_at: Mapped[datetime | None] = mapped_column(DateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime())


class AlertOutboxRow(Base):
    """One notification for one channel, pending until the channel accepted it."""

    __tablename__ = "cg_alert_outbox"
    __table_args__ = (
        UniqueConstraint("key", "channel"),
        CheckConstraint("event IN ('trigger', 'update', 'resolve')", name="event"),
        CheckConstraint("status IN ('pending', 'sent')", name="status"),
        Index("ix_cg_alert_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    episode_id: Mapped[int] = mapped_column(Integer(), ForeignKey("cg_alert_episodes.id"))
    key: Mapped[str] = mapped_column(String(ID_LEN * 2))
    channel: Mapped[str] = mapped_column(String(NAME_LEN))
    event: Mapped[str] = mapped_column(String(NAME_LEN))
    severity: Mapped[str] = mapped_column(String(NAME_LEN))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON())
    created_at: Mapped[datetime] = mapped_column(DateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime())
    attempts: Mapped[int] = mapped_column(Integer())
    status: Mapped[str] = mapped_column(String(NAME_LEN))
    last_error: Mapped[str | None] = mapped_column(String())
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime())
