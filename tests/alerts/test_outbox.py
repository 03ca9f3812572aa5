"""The outbox on SQLite and PostgreSQL: notifications queued with their alerts, retried with
exponential backoff against a receiver that fails and times out until it recovers (nothing
lost), held in quiet hours, rate-limited by the cooldown, combined into digests, routed by
tier and severity, and sent by one deliverer at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from chronoguard.alerts import (
    DELIVERY_LOCK,
    SeriesPlace,
    backoff,
    build_channels,
    deliver_pending,
    in_quiet_hours,
)
from chronoguard.config import AlertingConfig, ChannelConfig
from chronoguard.errors import StoreError, WorkspaceBusyError
from chronoguard.store import Store
from tests.alerts.receivers import http_receiver
from tests.alerts.support import MODEL, check

SERIES = [f"s{i}" for i in range(10)]
T0 = pd.Timestamp("2024-03-01 12:00")


def _cfg(url: str, **kw: Any) -> AlertingConfig:
    channel = {"name": "hook", "kind": "webhook", "url": url}
    channel.update(kw.pop("channel", {}))
    return AlertingConfig(channels=[ChannelConfig(**channel)], **kw)


def test_a_receiver_that_fails_and_times_out_gets_everything_once_it_recovers(
    store: Store,
) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url, retry_initial_seconds=60, retry_max_seconds=300, timeout_seconds=0.5)
        check(store, cfg, T0, SERIES, ["s1", "s2"])
        rx.fail, rx.hang, rx.hang_seconds = 2, 1, 1.5
        channels = build_channels(cfg)
        attempts = []
        t = T0
        waits = []
        for _ in range(3):  # 500, 500, then a hang past the 0.5 s timeout
            report = deliver_pending(store, channels, cfg, now=t)
            assert (report.sent, report.failed) == (0, 1)
            (row,) = store.list_outbox(status="pending")
            attempts.append(row.attempts)
            waits.append(row.next_attempt_at - t.to_pydatetime())
            # Not due yet: a pass before the backoff ends sends nothing and counts nothing.
            early = deliver_pending(store, channels, cfg, now=row.next_attempt_at - timedelta(1e-3))
            assert (early.sent, early.failed) == (0, 0)
            t = pd.Timestamp(row.next_attempt_at)
        assert attempts == [1, 2, 3]
        assert waits == [timedelta(seconds=s) for s in (60, 120, 240)]
        assert "timed out" in (store.list_outbox()[0].last_error or "")
        assert rx.accepted == []
        report = deliver_pending(store, channels, cfg, now=t)
        assert (report.sent, report.failed) == (1, 0)
        (got,) = rx.accepted
        assert len(rx.requests) == 4
        assert {s["unique_id"] for s in got.body["series"]} == {"s1", "s2"}
        (sent,) = store.list_outbox(status="sent")
        assert sent.attempts == 4 and sent.last_error is None


def test_failures_record_the_error_and_backoff_is_capped() -> None:
    cfg = AlertingConfig(retry_initial_seconds=30, retry_max_seconds=3600)
    assert [backoff(cfg, n).total_seconds() for n in (1, 2, 3, 8, 50)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]


def test_the_last_error_names_the_receiver_and_the_outbox_keeps_the_row(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url)
        check(store, cfg, T0, SERIES, ["s1"])
        rx.fail = 1
        report = deliver_pending(store, build_channels(cfg), cfg, now=T0)
        assert report.failed == 1 and "HTTP 500" in report.errors[0]
        (row,) = store.list_outbox(status="pending")
        assert row.last_error is not None and "HTTP 500: receiver down" in row.last_error
        assert row.last_attempt_at == T0.to_pydatetime()


def test_alerts_and_their_notifications_commit_together(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url)
        with pytest.raises(RuntimeError), store.transaction():
            check(store, cfg, T0, SERIES, ["s1"])
            raise RuntimeError("the check step failed after queueing")
        assert store.list_alerts() == [] and store.list_outbox() == []
        assert store.list_alert_episodes() == []


def test_cooldown_limits_updates_and_a_resolve_follows_the_last_clear(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url, cooldown_minutes=60)
        hours = [T0 + pd.Timedelta(minutes=m) for m in (0, 20, 40, 70, 90, 120)]
        fired = [["s1"], ["s1", "s2"], ["s1", "s2", "s3"], ["s1", "s2", "s3"], ["s1"], []]
        events = []
        for t, hot in zip(hours, fired, strict=True):
            events.append([q.event for q in check(store, cfg, t, SERIES, hot)])
        # 0: trigger; 20 and 40: within the cooldown; 70: an update of s2 and s3;
        # 90: nothing new; 120: all cleared, resolved.
        assert events == [["trigger"], [], [], ["update"], [], ["resolve"]]
        deliver_pending(store, build_channels(cfg), cfg, now=hours[-1])
        bodies = [r.body for r in rx.accepted]
        assert [b["event"] for b in bodies] == ["trigger", "update", "resolve"]
        assert [b["new_series"] for b in bodies] == [1, 2, 0]
        assert {s["unique_id"] for s in bodies[1]["series"]} == {"s1", "s2", "s3"}
        assert len({b["dedup_key"] for b in bodies}) == 1


def test_quiet_hours_hold_all_but_the_severities_let_through(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(
            rx.url,
            quiet_hours="22:00-07:00",
            timezone="Europe/Berlin",
            quiet_severities=["critical"],
            channel={"tiers": ["high"], "name": "hook"},
        )
        pages = _cfg(rx.url + "/pages", channel={"name": "pages", "severities": ["critical"]})
        both = cfg.model_copy(update={"channels": [*cfg.channels, *pages.channels]})
        night = pd.Timestamp("2024-03-01 22:30")  # 23:30 in Berlin
        places = {u: SeriesPlace("g", "high") for u in ("s1", "s2")}
        check(store, both, night, SERIES, ["s1", "s3"], places=places, critical=["s3"])
        assert in_quiet_hours(both, night) and not in_quiet_hours(both, "2024-03-02 06:00")
        channels = build_channels(both)
        report = deliver_pending(store, channels, both, now=night)
        # The critical page (s3) goes through; the warning of the high-tier s1 waits.
        assert (report.sent, report.held) == (1, 1)
        assert [r.path for r in rx.accepted] == ["/pages"]
        assert {s["unique_id"] for s in rx.accepted[0].body["series"]} == {"s3"}
        assert deliver_pending(store, channels, both, now="2024-03-02 05:59").held == 1
        report = deliver_pending(store, channels, both, now="2024-03-02 06:00")  # 07:00 Berlin
        assert report.sent == 1
        hook = rx.accepted[1].body
        assert {s["unique_id"] for s in hook["series"]} == {"s1"}  # routed by tier: s3 is standard


def test_digest_combines_an_interval_into_one_message(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url, cooldown_minutes=0, channel={"digest_minutes": 60})
        for m, hot in ((5, ["s1"]), (25, ["s1", "s2"]), (50, [])):
            check(
                store, cfg, pd.Timestamp("2024-03-01 12:00") + pd.Timedelta(minutes=m), SERIES, hot
            )
        channels = build_channels(cfg)
        held = deliver_pending(store, channels, cfg, now="2024-03-01 12:59")
        assert (held.sent, held.held) == (0, 3)
        report = deliver_pending(store, channels, cfg, now="2024-03-01 13:00")
        assert report.sent == 1
        (got,) = rx.accepted
        assert got.body["event"] == "digest"
        assert [p["event"] for p in got.body["parts"]] == ["trigger", "update", "resolve"]
        assert got.headers["Idempotency-Key"] == "digest:hook:20240301T130000"
        assert len(store.list_outbox(status="sent")) == 3


def test_a_channel_no_longer_configured_keeps_its_rows(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url)
        check(store, cfg, T0, SERIES, ["s1"])
        report = deliver_pending(store, {}, cfg, now=T0)
        assert report.held == 1 and "channel 'hook'" in report.errors[0]
        assert len(store.list_outbox(status="pending")) == 1


def test_two_deliverers_never_send_at_once(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url)
        check(store, cfg, T0, SERIES, ["s1"])
        held = store.lock(DELIVERY_LOCK, holder="another deliverer", at=T0.to_pydatetime())
        with held, pytest.raises(WorkspaceBusyError, match="another deliverer"):
            deliver_pending(store, build_channels(cfg), cfg, now=T0)
        assert rx.requests == []
        assert deliver_pending(store, build_channels(cfg), cfg, now=T0).sent == 1


def test_a_queued_notification_is_not_queued_twice(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg(rx.url)
        (first,) = check(store, cfg, T0, SERIES, ["s1"])
        episode = store.open_alert_episode_of(MODEL)
        assert episode is not None
        from chronoguard.store import OutboxWrite

        again = OutboxWrite(
            episode_id=episode.id,
            key=first.key,
            channel=first.channel,
            event=first.event,
            severity=first.severity,
            payload=first.payload,
        )
        assert store.enqueue_notifications([again], at=T0) == []
        other = OutboxWrite(
            episode_id=episode.id,
            key=first.key,
            channel=first.channel,
            event="update",
            severity="info",
            payload={"other": 1},
        )
        with pytest.raises(StoreError, match="queued already with another content"):
            store.enqueue_notifications([other], at=T0)
        assert len(store.list_outbox()) == 1
        with pytest.raises(StoreError, match="already has an open alert episode"):
            store.open_alert_episode(MODEL, "x", at=T0)
        assert store.verify_audit_chain().ok
