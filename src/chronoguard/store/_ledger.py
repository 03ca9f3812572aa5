"""The cycle ledger and the write-ahead intents: what makes a cycle resumable.

A cycle at a given ``now`` is begun once; running it again finds its ledger entry and
picks up from the stage it reached, or skips it when it is done. An intent is written
before a move that spans the store and the registry, so a start-up reconciliation can
finish or undo a move a crash cut in half.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import json_ready, to_utc_naive
from chronoguard.store._deploy import required
from chronoguard.store._governance import check_value
from chronoguard.store._models import CycleRow, IntentRow
from chronoguard.store._records import CycleRecord, CycleStatus, Intent, IntentStatus

START = "start"
DONE = "done"


def _summary(value: Mapping[str, object], what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise StoreError(f"{what} must be a mapping of names to values, got {value!r}")
    return dict(json_ready(value, what))


# --- cycles ---------------------------------------------------------------------------


def _to_cycle(row: CycleRow) -> CycleRecord:
    return CycleRecord(
        model_name=row.model_name,
        now=row.now,
        status=row.status,
        stage=row.stage,
        summary=row.summary,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def cycle_label(model_name: str, now: datetime) -> str:
    return f"{model_name}@{to_utc_naive(now, 'now').isoformat()}"


def begin_cycle(
    session: Session, model_name: str, now: datetime, at: datetime
) -> tuple[CycleRecord, bool]:
    """The cycle's entry, created ``running`` at stage ``start`` if it is new; returns it
    and whether it was created."""
    key = (required(model_name, "model_name"), to_utc_naive(now, "now"))
    row = session.get(CycleRow, key)
    if row is not None:
        return _to_cycle(row), False
    row = CycleRow(
        model_name=key[0],
        now=key[1],
        status=CycleStatus.RUNNING.value,
        stage=START,
        summary={},
        started_at=to_utc_naive(at, "at"),
        finished_at=None,
    )
    session.add(row)
    session.flush([row])
    return _to_cycle(row), True


def _running(session: Session, model_name: str, now: datetime, doing: str) -> CycleRow:
    row = session.get(CycleRow, (model_name, to_utc_naive(now, "now")))
    if row is None:
        raise StoreError(
            f"cg_cycles has no cycle {cycle_label(model_name, now)}; begin it first "
            f"(begin_cycle) before {doing} it"
        )
    return row


def advance_cycle(session: Session, model_name: str, now: datetime, stage: str) -> CycleRecord:
    row = _running(session, model_name, now, "advancing")
    if row.status == CycleStatus.DONE.value:
        raise StoreError(
            f"the cycle {cycle_label(model_name, now)} finished at {row.finished_at}; a "
            "finished cycle is not run again (begin_cycle returns it with status 'done')"
        )
    row.stage = required(stage, "stage")
    session.flush([row])
    return _to_cycle(row)


def finish_cycle(
    session: Session,
    model_name: str,
    now: datetime,
    summary: Mapping[str, object],
    at: datetime,
) -> tuple[CycleRecord, bool]:
    """Mark the cycle done; returns it and whether it changed (finishing again with the
    same summary is a no-op)."""
    row = _running(session, model_name, now, "finishing")
    clean = _summary(summary, "summary")
    if row.status == CycleStatus.DONE.value:
        if row.summary == clean:
            return _to_cycle(row), False
        raise StoreError(
            f"the cycle {cycle_label(model_name, now)} already finished at {row.finished_at} "
            f"with summary {row.summary}; it is not finished again with {clean}"
        )
    row.status = CycleStatus.DONE.value
    row.stage = DONE
    row.summary = clean
    row.finished_at = to_utc_naive(at, "at")
    session.flush([row])
    return _to_cycle(row), True


def get_cycle(session: Session, model_name: str, now: datetime) -> CycleRecord | None:
    row = session.get(CycleRow, (model_name, to_utc_naive(now, "now")))
    return None if row is None else _to_cycle(row)


def list_cycles(session: Session, model_name: str) -> list[CycleRecord]:
    query = select(CycleRow).where(CycleRow.model_name == model_name).order_by(CycleRow.now)
    return [_to_cycle(r) for r in session.scalars(query)]


def last_cycle(session: Session, model_name: str) -> CycleRecord | None:
    query = (
        select(CycleRow)
        .where(CycleRow.model_name == model_name)
        .order_by(CycleRow.now.desc())
        .limit(1)
    )
    row = session.scalar(query)
    return None if row is None else _to_cycle(row)


# --- intents --------------------------------------------------------------------------


def _to_intent(row: IntentRow) -> Intent:
    return Intent(
        id=row.id,
        model_name=row.model_name,
        kind=row.kind,
        key=row.key,
        payload=row.payload,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )


def _find(session: Session, model_name: str, kind: str, key: str) -> IntentRow | None:
    return session.scalar(
        select(IntentRow).where(
            IntentRow.model_name == model_name, IntentRow.kind == kind, IntentRow.key == key
        )
    )


def open_intent(
    session: Session,
    model_name: str,
    kind: str,
    key: str,
    payload: Mapping[str, object],
    at: datetime,
) -> tuple[Intent, bool]:
    """The intent (model_name, kind, key), opened if new; returns it and whether it was."""
    row = _find(
        session,
        required(model_name, "model_name"),
        required(kind, "intent kind"),
        required(key, "intent key"),
    )
    if row is not None:
        return _to_intent(row), False
    row = IntentRow(
        model_name=model_name,
        kind=kind,
        key=key,
        payload=_summary(payload, "intent payload"),
        status=IntentStatus.OPEN.value,
        opened_at=to_utc_naive(at, "at"),
        closed_at=None,
    )
    session.add(row)
    session.flush([row])
    return _to_intent(row), True


def close_intent(
    session: Session, intent_id: int, status: str, at: datetime
) -> tuple[Intent, bool]:
    """Close an open intent ``done`` or ``undone``; returns it and whether it changed
    (closing it again the same way is a no-op)."""
    new = check_value(status, IntentStatus, "intent status")
    if new == IntentStatus.OPEN.value:
        raise StoreError("an intent is closed 'done' or 'undone', not 'open'")
    row = session.get(IntentRow, intent_id)
    if row is None:
        raise StoreError(f"cg_intents has no intent with id {intent_id}")
    if row.status != IntentStatus.OPEN.value:
        if row.status == new:
            return _to_intent(row), False
        raise StoreError(
            f"intent {intent_id} ({row.kind} {row.key!r} of {row.model_name!r}) was already "
            f"closed {row.status!r} at {row.closed_at}; it cannot be closed {new!r} as well"
        )
    row.status = new
    row.closed_at = to_utc_naive(at, "at")
    session.flush([row])
    return _to_intent(row), True


def open_intents(session: Session, model_name: str) -> list[Intent]:
    query = (
        select(IntentRow)
        .where(IntentRow.model_name == model_name, IntentRow.status == IntentStatus.OPEN.value)
        .order_by(IntentRow.id)
    )
    return [_to_intent(r) for r in session.scalars(query)]


def get_intent(session: Session, model_name: str, kind: str, key: str) -> Intent | None:
    row = _find(session, model_name, kind, key)
    return None if row is None else _to_intent(row)
