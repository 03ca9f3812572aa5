"""Alert delivery: which notifications a cycle queues, and sending them from the outbox.

:func:`queue_notifications` runs inside the transaction that records a cycle's alerts, so
an alert is never recorded without its notification. It keeps one episode per model:
alerts firing while none is open open one (a ``trigger``); newly fired series of an open
episode are announced (an ``update``) at most once per cooldown; when every alert has
resolved, the episode resolves (a ``resolve`` to each channel that heard of it). Each
channel gets one notification per model and cycle, listing every series it is routed
(by tier and severity), grouped by the series' group.

:func:`deliver_pending` sends what is due, under the workspace lock ``alert-delivery`` (two
deliverers never send the same row): a row is marked sent after its channel accepted it,
and a failed send is retried with exponential backoff, without end. A deliverer killed
between sending and recording sends the row again under the same key, which every channel
passes to its receiver (idempotency key, PagerDuty ``dedup_key``, email Message-ID).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from chronoguard.alerts.channels import (
    Channel,
    DeliveryError,
    Notification,
    NotificationEvent,
    SeriesAlert,
    highest_severity,
)
from chronoguard.alerts.incidents import cycle_incidents
from chronoguard.config import AlertingConfig, ChannelConfig
from chronoguard.store import Alert, AlertEpisode, OutboxEntry, OutboxWrite, Store

DELIVERY_LOCK = "alert-delivery"
DEFAULT_TIER = "standard"


@dataclass(frozen=True, slots=True)
class SeriesPlace:
    """The group and tier of a series, as notifications group and route it."""

    group: str | None = None
    tier: str = DEFAULT_TIER


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one delivery pass did: messages sent and failed, rows held (quiet hours, a
    digest interval still open, a channel no longer configured) and the errors."""

    sent: int = 0
    failed: int = 0
    held: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)


def _naive_utc(now: datetime | pd.Timestamp) -> datetime:
    ts = pd.Timestamp(now)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.floor("us").to_pydatetime()


def _firing(store: Store) -> list[Alert]:
    return [*store.list_alerts(status="open"), *store.list_alerts(status="acknowledged")]


def _routed(channel: ChannelConfig, alert: Alert, place: SeriesPlace) -> bool:
    return place.tier in channel.tiers and alert.severity in channel.severities


def _series(alert: Alert, place: SeriesPlace) -> SeriesAlert:
    return SeriesAlert(
        alert_id=int(alert.id or 0),
        unique_id=alert.unique_id,
        group=place.group,
        tier=place.tier,
        kind=alert.kind,
        method=alert.method,
        feature=alert.feature,
        severity=alert.severity,
        message=alert.message,
    )


def _told(store: Store, episode: AlertEpisode) -> dict[str, set[int]]:
    """The alert ids each channel was already told of in ``episode``."""
    told: dict[str, set[int]] = {}
    for entry in store.list_outbox(episode_id=episode.id):
        n = Notification.model_validate(entry.payload)
        told.setdefault(entry.channel, set()).update(s.alert_id for s in n.series)
    return told


def queue_notifications(
    store: Store,
    cfg: AlertingConfig,
    *,
    model_name: str,
    now: datetime | pd.Timestamp,
    places: Mapping[str, SeriesPlace] | None = None,
    period: str = "cycle",
    urgent: bool = False,
) -> list[OutboxEntry]:
    """Queue this cycle's notifications of ``model_name`` after its alerts were recorded.

    Call it in the transaction that records the alerts. ``places`` gives each series'
    group and tier (series not in it are in no group, tier ``standard``); a trigger or an
    update also carries the cycle's group incidents (:func:`cycle_incidents`), worded with
    ``period`` ("month"). ``urgent`` (an automatic rollback) is told at once, past the
    cooldown. Returns the rows queued (none when no channel is configured).
    """
    if not cfg.channels:
        return []
    at = _naive_utc(now)
    places = places or {}
    default = SeriesPlace()
    with store.transaction():
        firing = sorted(_firing(store), key=lambda a: (str(a.unique_id), int(a.id or 0)))
        episode = store.open_alert_episode_of(model_name)
        if not firing:
            if episode is None:
                return []
            told = _told(store, episode)
            store.resolve_alert_episode(episode.id, at=at)
            note = Notification(
                key=f"{episode.dedup_key}:resolve",
                dedup_key=episode.dedup_key,
                model_name=model_name,
                event="resolve",
                severity="info",
                at=at,
                opened_at=episode.opened_at,
            )
            writes = [_write(episode, c.name, note) for c in cfg.channels if told.get(c.name)]
            return store.enqueue_notifications(writes, at=at)
        if episode is None:
            dedup_key = f"chronoguard:{model_name}:{at.strftime('%Y%m%dT%H%M%S')}"
            episode = store.open_alert_episode(model_name, dedup_key, at=at)
            event: NotificationEvent = "trigger"
            told = {}
        else:
            last = episode.last_notified_at
            if (
                not urgent
                and last is not None
                and at < last + timedelta(minutes=cfg.cooldown_minutes)
            ):
                return []
            event = "update"
            told = _told(store, episode)
        incidents = tuple(
            i.sentence
            for i in cycle_incidents(
                store, model_name, at, {u: p.group for u, p in places.items()}, period=period
            )
        )
        writes = []
        for channel in cfg.channels:
            mine = [
                a for a in firing if _routed(channel, a, places.get(a.unique_id or "", default))
            ]
            known = told.get(channel.name, set())
            fresh = [a for a in mine if int(a.id or 0) not in known]
            if not fresh:
                continue
            # A channel's first message of an episode is its trigger, whenever it comes.
            mine_event: NotificationEvent = event if known else "trigger"
            note = Notification(
                key=f"{episode.dedup_key}:{mine_event}:{at.strftime('%Y%m%dT%H%M%S')}",
                dedup_key=episode.dedup_key,
                model_name=model_name,
                event=mine_event,
                severity=highest_severity([a.severity for a in mine]),
                at=at,
                opened_at=episode.opened_at,
                series=tuple(_series(a, places.get(a.unique_id or "", default)) for a in mine),
                new_series=len({a.unique_id for a in fresh}),
                incidents=incidents,
            )
            writes.append(_write(episode, channel.name, note))
        return store.enqueue_notifications(writes, at=at)


def _write(episode: AlertEpisode, channel: str, note: Notification) -> OutboxWrite:
    return OutboxWrite(
        episode_id=episode.id,
        key=note.key,
        channel=channel,
        event=note.event,
        severity=note.severity,
        payload=note.model_dump(mode="json"),
    )


def in_quiet_hours(cfg: AlertingConfig, now: datetime | pd.Timestamp) -> bool:
    """Whether ``now`` (naive means UTC) falls in the quiet hours, in their time zone."""
    window = cfg.quiet_window()
    if window is None:
        return False
    local = _naive_utc(now).replace(tzinfo=UTC).astimezone(ZoneInfo(cfg.timezone)).time()
    start, end = window
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window spans midnight


def backoff(cfg: AlertingConfig, attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed send in a row (1 for the first)."""
    exponent = min(max(attempts - 1, 0), 60)
    seconds = min(cfg.retry_max_seconds, cfg.retry_initial_seconds * 2.0**exponent)
    return timedelta(seconds=seconds)


def _digest_end(created_at: datetime, minutes: float) -> datetime:
    step = timedelta(minutes=minutes)
    epoch = datetime(1970, 1, 1)
    return epoch + step * ((created_at - epoch) // step + 1)


def _units(
    channel: ChannelConfig | None, rows: Sequence[OutboxEntry], at: datetime
) -> tuple[list[tuple[Notification, list[OutboxEntry]]], int]:
    """The messages to send for one channel's due rows, and how many rows wait."""
    notes = [(Notification.model_validate(r.payload), r) for r in rows]
    if channel is None or not channel.digest_minutes:
        return [(n, [r]) for n, r in notes], 0
    by_end: dict[datetime, list[tuple[Notification, OutboxEntry]]] = {}
    for n, r in notes:
        by_end.setdefault(_digest_end(r.created_at, channel.digest_minutes), []).append((n, r))
    units, held = [], 0
    for end, members in sorted(by_end.items()):
        if end > at:
            held += len(members)
            continue
        parts = tuple(n for n, _ in members)
        digest = Notification(
            key=f"digest:{channel.name}:{end.strftime('%Y%m%dT%H%M%S')}",
            dedup_key=parts[0].dedup_key,
            model_name=parts[0].model_name,
            event="digest",
            severity=highest_severity([p.severity for p in parts]),
            at=end,
            opened_at=min(p.opened_at for p in parts),
            series=tuple(s for p in parts for s in p.series),
            parts=parts,
        )
        units.append((digest, [r for _, r in members]))
    return units, held


def deliver_pending(
    store: Store,
    channels: Mapping[str, Channel],
    cfg: AlertingConfig,
    *,
    now: datetime | pd.Timestamp,
    holder: str = "chronoguard alerts deliver",
    on_sent: Callable[[Notification], None] | None = None,
) -> DeliveryReport:
    """Send every queued notification that is due at ``now``.

    Parameters
    ----------
    channels
        The channels by name (:func:`~chronoguard.alerts.build_channels`); a row of a
        channel not among them waits (reported as an error) until it is configured again.
    cfg
        Quiet hours, backoff and digests.
    now
        The time of this pass (the edge reads the clock; naive means UTC).
    on_sent
        Called after each message was accepted, before it is recorded sent.

    Raises
    ------
    WorkspaceBusyError
        Another delivery holds the ``alert-delivery`` lock.
    """
    at = _naive_utc(now)
    sent = failed = held = 0
    errors: list[str] = []
    configured = {c.name: c for c in cfg.channels}
    quiet = in_quiet_hours(cfg, at)
    with store.lock(DELIVERY_LOCK, holder=holder, at=at):
        due = store.list_outbox(due_at=at)
        by_channel: dict[str, list[OutboxEntry]] = {}
        for row in due:
            if quiet and row.severity not in cfg.quiet_severities:
                held += 1
                continue
            by_channel.setdefault(row.channel, []).append(row)
        for name, rows in by_channel.items():
            channel = channels.get(name)
            if channel is None:
                held += len(rows)
                errors.append(
                    f"{len(rows)} notifications wait for channel {name!r}, not configured"
                )
                continue
            units, waiting = _units(configured.get(name), rows, at)
            held += waiting
            for i, (note, members) in enumerate(units):
                try:
                    channel.send(note)
                except DeliveryError as exc:
                    # The receiver is down: the channel's other messages wait for the next
                    # pass instead of each waiting out a timeout now.
                    held += sum(len(m) for _, m in units[i + 1 :])
                    failed += 1
                    errors.append(f"{name}: {exc}")
                    store.record_failed_delivery(
                        [r.id for r in members],
                        at=at,
                        error=str(exc),
                        retry_at={r.id: at + backoff(cfg, r.attempts + 1) for r in members},
                    )
                    break
                if on_sent is not None:
                    on_sent(note)
                store.mark_notifications_sent([r.id for r in members], at=at)
                sent += 1
    return DeliveryReport(sent=sent, failed=failed, held=held, errors=tuple(errors))
