"""Alert episodes and the notification outbox: the store half of alert delivery.

An episode is open while any alert of a model fires; the outbox holds one row per
notification and channel. Rows are written in the caller's transaction (the cycle's check
step writes them with the alerts they announce), and a row is marked sent only after its
channel accepted it, so a notification is never lost: at worst it is sent again, under the
same key, which receivers deduplicate on. What a notification says is opaque JSON here;
:mod:`chronoguard.alerts` owns its shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._models import AlertEpisodeRow, AlertOutboxRow
from chronoguard.store._session import DEFAULT_ACTOR, StoreBase

NOTIFICATION_EVENTS = ("trigger", "update", "resolve")
OUTBOX_STATUSES = ("pending", "sent")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEpisode:
    """One episode of a model's alerts; ``dedup_key`` names it to receivers."""

    id: int
    model_name: str
    dedup_key: str
    status: str
    opened_at: datetime
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxWrite:
    """A notification to queue for ``channel``: ``key`` is unique per channel and is the
    idempotency key the channel sends with it; ``payload`` is its JSON form."""

    episode_id: int
    key: str
    channel: str
    event: str
    severity: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxEntry:
    """A queued notification for one channel and where its delivery stands."""

    id: int
    episode_id: int
    key: str
    channel: str
    event: str
    severity: str
    payload: Mapping[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    status: str
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    sent_at: datetime | None = None


def _episode(row: AlertEpisodeRow) -> AlertEpisode:
    return AlertEpisode(
        id=row.id,
        model_name=row.model_name,
        dedup_key=row.dedup_key,
        status=row.status,
        opened_at=row.opened_at,
        last_notified_at=row.last_notified_at,
        resolved_at=row.resolved_at,
    )


def _entry(row: AlertOutboxRow) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        episode_id=row.episode_id,
        key=row.key,
        channel=row.channel,
        event=row.event,
        severity=row.severity,
        payload=dict(row.payload),
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        status=row.status,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        sent_at=row.sent_at,
    )


def _episode_row(session: Session, episode_id: int) -> AlertEpisodeRow:
    row = session.get(AlertEpisodeRow, episode_id)
    if row is None:
        raise StoreError(f"alert episode {episode_id} does not exist in cg_alert_episodes")
    return row


class OutboxStore(StoreBase):
    """Alert episodes and the notification outbox; see :class:`chronoguard.store.Store`."""

    # --- episodes ----------------------------------------------------------------------

    def open_alert_episode(
        self, model_name: str, dedup_key: str, *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> AlertEpisode:
        """Open an episode of ``model_name``'s alerts; refused while one is open."""
        when = to_utc_naive(at, "at")
        if not dedup_key or len(dedup_key) > 400:
            raise StoreError(f"dedup_key must be 1 to 400 characters, got {dedup_key!r}")
        with self._writing(f"opening an alert episode of {model_name!r}") as session:
            if _open_row(session, model_name) is not None:
                raise StoreError(
                    f"model {model_name!r} already has an open alert episode; resolve it first"
                )
            row = AlertEpisodeRow(
                model_name=model_name,
                dedup_key=dedup_key,
                status="open",
                opened_at=when,
                last_notified_at=None,
                resolved_at=None,
            )
            session.add(row)
            session.flush([row])
            self._audit(
                session,
                at=when,
                by=by,
                action="open_alert_episode",
                entity=f"cg_alert_episodes:{row.id}",
                payload={"model_name": model_name, "dedup_key": dedup_key},
            )
            return _episode(row)

    def open_alert_episode_of(self, model_name: str) -> AlertEpisode | None:
        """The open episode of ``model_name``, if any."""
        with self._reading("reading cg_alert_episodes") as session:
            row = _open_row(session, model_name)
            return None if row is None else _episode(row)

    def list_alert_episodes(self, model_name: str | None = None) -> list[AlertEpisode]:
        """Every episode (of ``model_name``), oldest first."""
        query = select(AlertEpisodeRow).order_by(AlertEpisodeRow.id)
        if model_name is not None:
            query = query.where(AlertEpisodeRow.model_name == model_name)
        with self._reading("reading cg_alert_episodes") as session:
            return [_episode(r) for r in session.scalars(query)]

    def resolve_alert_episode(
        self, episode_id: int, *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> AlertEpisode:
        """Close an open episode (all of its alerts resolved)."""
        when = to_utc_naive(at, "at")
        with self._writing(f"resolving alert episode {episode_id}") as session:
            row = _episode_row(session, episode_id)
            if row.status != "open":
                raise StoreError(f"alert episode {episode_id} is {row.status}, not open")
            row.status = "resolved"
            row.resolved_at = when
            self._audit(
                session,
                at=when,
                by=by,
                action="resolve_alert_episode",
                entity=f"cg_alert_episodes:{episode_id}",
                payload={"dedup_key": row.dedup_key},
            )
            return _episode(row)

    # --- the outbox --------------------------------------------------------------------

    def enqueue_notifications(
        self, writes: Sequence[OutboxWrite], *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> list[OutboxEntry]:
        """Queue notifications, due at once; returns those queued.

        A write whose (key, channel) is queued already is skipped when it says the same,
        so a repeated step queues nothing twice. Each episode named is marked notified at
        ``at`` (the cooldown counts from there).
        """
        when = to_utc_naive(at, "at")
        queued: list[AlertOutboxRow] = []
        seen: set[tuple[str, str]] = set()
        with self._writing("queueing notifications into cg_alert_outbox") as session:
            for i, w in enumerate(writes):
                if not isinstance(w, OutboxWrite):
                    raise StoreError(f"notification {i} is {type(w).__name__}, not an OutboxWrite")
                if w.event not in NOTIFICATION_EVENTS:
                    raise StoreError(
                        f"notification {i}: event {w.event!r} is not one of "
                        f"{list(NOTIFICATION_EVENTS)}"
                    )
                if not w.key or len(w.key) > 400 or not w.channel or len(w.channel) > 100:
                    raise StoreError(
                        f"notification {i}: key (1-400 characters) and channel (1-100) are "
                        f"required, got {w.key!r}, {w.channel!r}"
                    )
                if (w.key, w.channel) in seen:
                    raise StoreError(f"notification {i} repeats {w.key!r} for {w.channel!r}")
                seen.add((w.key, w.channel))
                episode = _episode_row(session, w.episode_id)
                stored = session.scalars(
                    select(AlertOutboxRow).where(
                        AlertOutboxRow.key == w.key, AlertOutboxRow.channel == w.channel
                    )
                ).first()
                if stored is not None:
                    if stored.payload != dict(w.payload):
                        raise StoreError(
                            f"notification {w.key!r} for {w.channel!r} is queued already "
                            "with another content"
                        )
                    continue
                row = AlertOutboxRow(
                    episode_id=w.episode_id,
                    key=w.key,
                    channel=w.channel,
                    event=w.event,
                    severity=w.severity,
                    payload=dict(w.payload),
                    created_at=when,
                    next_attempt_at=when,
                    attempts=0,
                    status="pending",
                    last_error=None,
                    last_attempt_at=None,
                    sent_at=None,
                )
                session.add(row)
                queued.append(row)
                episode.last_notified_at = when
            if queued:
                session.flush(queued)
                self._audit(
                    session,
                    at=when,
                    by=by,
                    action="enqueue_notifications",
                    entity="cg_alert_outbox",
                    payload={"ids": [r.id for r in queued]},
                )
            return [_entry(r) for r in queued]

    def list_outbox(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        episode_id: int | None = None,
        due_at: datetime | None = None,
    ) -> list[OutboxEntry]:
        """Queued notifications matching every given filter, oldest first; ``due_at``
        keeps the pending ones whose next attempt is due by then."""
        query = select(AlertOutboxRow).order_by(AlertOutboxRow.id)
        if status is not None:
            if status not in OUTBOX_STATUSES:
                raise StoreError(f"status {status!r} is not one of {list(OUTBOX_STATUSES)}")
            query = query.where(AlertOutboxRow.status == status)
        if channel is not None:
            query = query.where(AlertOutboxRow.channel == channel)
        if episode_id is not None:
            query = query.where(AlertOutboxRow.episode_id == episode_id)
        if due_at is not None:
            query = query.where(
                AlertOutboxRow.status == "pending",
                AlertOutboxRow.next_attempt_at <= to_utc_naive(due_at, "due_at"),
            )
        with self._reading("reading cg_alert_outbox") as session:
            return [_entry(r) for r in session.scalars(query)]

    def mark_notifications_sent(self, ids: Sequence[int], *, at: datetime) -> int:
        """Record that the channel accepted these rows; returns how many were pending
        (not audited: delivery is the outcome of a change already audited)."""
        when = to_utc_naive(at, "at")
        with self._writing("marking notifications sent in cg_alert_outbox") as session:
            result = session.execute(
                update(AlertOutboxRow)
                .where(AlertOutboxRow.id.in_(list(ids)), AlertOutboxRow.status == "pending")
                .values(
                    status="sent",
                    sent_at=when,
                    last_attempt_at=when,
                    attempts=AlertOutboxRow.attempts + 1,
                    last_error=None,
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def record_failed_delivery(
        self, ids: Sequence[int], *, at: datetime, error: str, retry_at: Mapping[int, datetime]
    ) -> None:
        """Record a failed attempt of each row: its error and when to try it again."""
        when = to_utc_naive(at, "at")
        with self._writing("recording failed deliveries in cg_alert_outbox") as session:
            for row_id in ids:
                row = session.get(AlertOutboxRow, row_id)
                if row is None or row.status != "pending":
                    continue
                row.attempts += 1
                row.last_attempt_at = when
                row.last_error = error[:2000]
                row.next_attempt_at = to_utc_naive(retry_at[row_id], "retry_at")


def _open_row(session: Session, model_name: str) -> AlertEpisodeRow | None:
    return session.scalars(
        select(AlertEpisodeRow).where(
            AlertEpisodeRow.model_name == model_name, AlertEpisodeRow.status == "open"
        )
    ).first()
