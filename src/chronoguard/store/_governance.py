"""Small governance tables: alerts, alias history, version status, retrain decisions.

Functions take a session inside the caller's transaction and return typed records; the
:class:`chronoguard.store.Store` adds the audit row and owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import finite_float, optional_float, to_utc_naive
from chronoguard.store._models import (
    AlertRow,
    AliasMoveRow,
    ModelVersionRow,
    RetrainDecisionRow,
    StatusChangeRow,
)
from chronoguard.store._records import (
    Alert,
    AlertStatus,
    AliasMove,
    ModelVersion,
    RetrainDecision,
    RetrainOutcome,
    StatusChange,
    VersionStatus,
)
from chronoguard.store._series import as_list, check_kind, where_range


def check_value(value: str, allowed: type[StrEnum], what: str) -> str:
    """``value`` as a plain string if it is one of the enum's values, else a StoreError."""
    values = [str(v.value) for v in allowed]
    plain = str(value.value) if isinstance(value, StrEnum) else str(value)
    if plain not in values:
        raise StoreError(f"{what} {value!r} is not one of {values}")
    return plain


def _required(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{what} must be a non-empty string, got {value!r}")
    return value


# --- alerts ---------------------------------------------------------------------------


def alert_row(alert: Alert, index: int) -> AlertRow:
    what = f"alert {index} ({alert.method} on {alert.unique_id!r})"
    return AlertRow(
        ds=to_utc_naive(alert.ds, f"{what}: ds"),
        unique_id=alert.unique_id,
        feature=alert.feature,
        kind=check_kind(alert.kind, what),
        method=alert.method,
        statistic=finite_float(alert.statistic, f"{what}: statistic"),
        p_value=optional_float(alert.p_value, f"{what}: p_value"),
        threshold=finite_float(alert.threshold, f"{what}: threshold"),
        severity=str(alert.severity),
        message=alert.message,
        version=alert.version,
        status=check_value(alert.status, AlertStatus, f"{what}: status"),
    )


def to_alert(row: AlertRow) -> Alert:
    return Alert(
        id=row.id,
        ds=row.ds,
        unique_id=row.unique_id,
        feature=row.feature,
        kind=row.kind,
        method=row.method,
        statistic=row.statistic,
        p_value=row.p_value,
        threshold=row.threshold,
        severity=row.severity,
        message=row.message,
        version=row.version,
        status=row.status,
    )


def select_alerts(
    *,
    status: str | None,
    unique_id: str | Sequence[str] | None,
    kind: str | None,
    version: str | None,
    ds_from: Any,
    ds_to: Any,
) -> Select[AlertRow]:
    query = select(AlertRow)
    if status is not None:
        query = query.where(AlertRow.status == check_value(status, AlertStatus, "status"))
    if (uids := as_list(unique_id)) is not None:
        query = query.where(AlertRow.unique_id.in_(uids))
    if kind is not None:
        query = query.where(AlertRow.kind == check_kind(kind, "list_alerts"))
    if version is not None:
        query = query.where(AlertRow.version == version)
    query = query.where(*where_range(AlertRow.ds, ds_from, ds_to, "ds"))
    return query.order_by(AlertRow.ds, AlertRow.id)


def update_alert_status(session: Session, alert_id: int, status: str) -> tuple[AlertRow, str]:
    """Set the status; returns the row and its old status."""
    new = check_value(status, AlertStatus, "alert status")
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise StoreError(f"cg_alerts has no alert with id {alert_id}")
    old = row.status
    row.status = new
    session.flush([row])
    return row, old


# --- aliases --------------------------------------------------------------------------


def to_move(row: AliasMoveRow) -> AliasMove:
    return AliasMove(
        id=row.id,
        model_name=row.model_name,
        alias=row.alias,
        version=row.version,
        previous_version=row.previous_version,
        moved_at=row.moved_at,
        moved_by=row.moved_by,
        reason=row.reason,
    )


def current_alias(session: Session, model_name: str, alias: str) -> str | None:
    # The newest move wins; ids (not moved_at) order moves, so a replay that records
    # moves with past timestamps still reads back in the order they were made.
    return session.scalar(
        select(AliasMoveRow.version)
        .where(AliasMoveRow.model_name == model_name, AliasMoveRow.alias == alias)
        .order_by(AliasMoveRow.id.desc())
        .limit(1)
    )


def move_alias(
    session: Session,
    model_name: str,
    alias: str,
    version: str,
    *,
    by: str,
    reason: str,
    at: datetime,
) -> AliasMove:
    row = AliasMoveRow(
        model_name=_required(model_name, "model_name"),
        alias=_required(alias, "alias"),
        version=_required(version, "version"),
        previous_version=current_alias(session, model_name, alias),
        moved_at=to_utc_naive(at, "at"),
        moved_by=_required(by, "by"),
        reason=reason,
    )
    session.add(row)
    session.flush([row])
    return to_move(row)


def alias_history(session: Session, model_name: str, alias: str | None) -> list[AliasMove]:
    query = select(AliasMoveRow).where(AliasMoveRow.model_name == model_name)
    if alias is not None:
        query = query.where(AliasMoveRow.alias == alias)
    return [to_move(r) for r in session.scalars(query.order_by(AliasMoveRow.id))]


# --- version status -------------------------------------------------------------------


def to_version(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        model_name=row.model_name, version=row.version, status=row.status, updated_at=row.updated_at
    )


def to_change(row: StatusChangeRow) -> StatusChange:
    return StatusChange(
        id=row.id,
        model_name=row.model_name,
        version=row.version,
        from_status=row.from_status,
        to_status=row.to_status,
        at=row.at,
        by=row.by,
        reason=row.reason,
    )


def set_status(
    session: Session,
    model_name: str,
    version: str,
    status: str,
    *,
    at: datetime,
    by: str,
    reason: str,
) -> tuple[ModelVersion, StatusChange]:
    new = check_value(status, VersionStatus, "version status")
    when = to_utc_naive(at, "at")
    row = session.get(ModelVersionRow, (model_name, version))
    old: str | None = None
    if row is None:
        row = ModelVersionRow(
            model_name=_required(model_name, "model_name"),
            version=_required(version, "version"),
            status=new,
            updated_at=when,
        )
        session.add(row)
    else:
        old = row.status
        row.status = new
        row.updated_at = when
    change = StatusChangeRow(
        model_name=model_name,
        version=version,
        from_status=old,
        to_status=new,
        at=when,
        by=_required(by, "by"),
        reason=reason,
    )
    session.add(change)
    session.flush([row, change])
    return to_version(row), to_change(change)


def get_version(session: Session, model_name: str, version: str) -> ModelVersion | None:
    row = session.get(ModelVersionRow, (model_name, version))
    return None if row is None else to_version(row)


def list_versions(
    session: Session, model_name: str | None, status: str | None
) -> list[ModelVersion]:
    query = select(ModelVersionRow)
    if model_name is not None:
        query = query.where(ModelVersionRow.model_name == model_name)
    if status is not None:
        query = query.where(
            ModelVersionRow.status == check_value(status, VersionStatus, "version status")
        )
    query = query.order_by(ModelVersionRow.model_name, ModelVersionRow.updated_at)
    return [to_version(r) for r in session.scalars(query)]


def version_history(session: Session, model_name: str, version: str | None) -> list[StatusChange]:
    query = select(StatusChangeRow).where(StatusChangeRow.model_name == model_name)
    if version is not None:
        query = query.where(StatusChangeRow.version == version)
    return [to_change(r) for r in session.scalars(query.order_by(StatusChangeRow.id))]


# --- retrain decisions ----------------------------------------------------------------


def to_retrain(row: RetrainDecisionRow) -> RetrainDecision:
    return RetrainDecision(
        id=row.id,
        ds=row.ds,
        model_name=row.model_name,
        trigger=row.trigger,
        challenger_version=row.challenger_version,
        champion_version=row.champion_version,
        challenger_error=row.challenger_error,
        champion_error=row.champion_error,
        outcome=row.outcome,
        reason=row.reason,
    )


def insert_retrain(
    session: Session,
    *,
    ds: datetime,
    model_name: str,
    trigger: str,
    challenger_version: str,
    champion_version: str | None,
    challenger_error: float | None,
    champion_error: float | None,
    outcome: str,
    reason: str,
) -> RetrainDecision:
    row = RetrainDecisionRow(
        ds=to_utc_naive(ds, "ds"),
        model_name=_required(model_name, "model_name"),
        trigger=_required(trigger, "trigger"),
        challenger_version=_required(challenger_version, "challenger_version"),
        champion_version=champion_version,
        challenger_error=optional_float(challenger_error, "challenger_error"),
        champion_error=optional_float(champion_error, "champion_error"),
        outcome=check_value(outcome, RetrainOutcome, "retrain outcome"),
        reason=reason,
    )
    session.add(row)
    session.flush([row])
    return to_retrain(row)


def list_retrains(session: Session, model_name: str | None) -> list[RetrainDecision]:
    query = select(RetrainDecisionRow)
    if model_name is not None:
        query = query.where(RetrainDecisionRow.model_name == model_name)
    return [to_retrain(r) for r in session.scalars(query.order_by(RetrainDecisionRow.id))]
