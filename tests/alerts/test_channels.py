"""Every channel delivers its receiver's shape, to a real local receiver: a webhook's JSON
with its idempotency key, Slack's text and blocks, PagerDuty trigger and resolve under one
dedup_key per episode, and an SMTP message with a Message-ID stable across resends."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from chronoguard.alerts import (
    DeliveryError,
    EmailChannel,
    Notification,
    SeriesPlace,
    WebhookChannel,
    build_channels,
    deliver_pending,
)
from chronoguard.config import AlertingConfig, ChannelConfig
from chronoguard.store import Store
from tests.alerts.receivers import http_receiver, smtp_receiver
from tests.alerts.support import check

SERIES = [f"s{i}" for i in range(6)]
PLACES = {
    "s0": SeriesPlace("north", "high"),
    "s1": SeriesPlace("north", "high"),
    "s2": SeriesPlace("south", "standard"),
}


def _cfg(*channels: dict[str, Any], **kw: Any) -> AlertingConfig:
    return AlertingConfig(channels=[ChannelConfig(**c) for c in channels], **kw)


def _run(store: Store, cfg: AlertingConfig, now: str) -> None:
    report = deliver_pending(store, build_channels(cfg), cfg, now=pd.Timestamp(now))
    assert report.failed == 0, report.errors


def test_webhook_posts_the_notification_as_json_with_its_key(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg({"name": "hook", "kind": "webhook", "url": rx.url + "/alerts"})
        queued = check(store, cfg, "2024-01-01", SERIES, ["s0", "s1", "s2"], places=PLACES)
        assert [q.channel for q in queued] == ["hook"]
        _run(store, cfg, "2024-01-01 00:05")
        (got,) = rx.accepted
        assert got.path == "/alerts"
        assert got.headers["Idempotency-Key"] == queued[0].key == got.body["key"]
        assert got.body["event"] == "trigger" and got.body["model_name"] == "demand"
        assert {s["unique_id"]: s["group"] for s in got.body["series"]} == {
            "s0": "north",
            "s1": "north",
            "s2": "south",
        }
        assert {s["tier"] for s in got.body["series"] if s["group"] == "north"} == {"high"}
        assert store.list_outbox(status="pending") == []
        (sent,) = store.list_outbox(status="sent")
        assert sent.attempts == 1 and sent.sent_at is not None


def test_slack_message_has_text_listing_every_series_and_blocks_by_group(store: Store) -> None:
    with http_receiver() as rx:
        cfg = _cfg({"name": "chat", "kind": "slack", "url": rx.url + "/services/T/B/x"})
        check(store, cfg, "2024-01-01", SERIES, ["s0", "s2", "s4"], places=PLACES)
        _run(store, cfg, "2024-01-01")
        (got,) = rx.accepted
        body = got.body
        assert set(body) == {"text", "blocks"}
        for uid in ("s0", "s2", "s4"):
            assert uid in body["text"]
        assert body["blocks"][0]["type"] == "header"
        sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
        assert len(sections) == 3  # north, south, and the series in no group
        assert any(s.startswith("*north*") and "`s0`" in s for s in sections)
        assert any(s.startswith("*(no group)*") and "`s4`" in s for s in sections)


def test_pagerduty_triggers_and_resolves_one_dedup_key_per_episode(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_PD_KEY", "R0UT1NGKEY")
    with http_receiver() as rx:
        cfg = _cfg(
            {
                "name": "pager",
                "kind": "pagerduty",
                "events_url": rx.url + "/v2/enqueue",
                "routing_key_env": "CG_TEST_PD_KEY",
                "source": "forecasting-prod",
            },
            cooldown_minutes=0,
        )
        days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
        fired = [["s0"], ["s0", "s1"], [], [], ["s3"]]
        for day, hot in zip(days, fired, strict=True):
            check(store, cfg, day, SERIES, hot, critical=["s1"])
            _run(store, cfg, day)
        events = [r.body for r in rx.accepted]
        assert [e["event_action"] for e in events] == ["trigger", "trigger", "resolve", "trigger"]
        assert all(r.path == "/v2/enqueue" for r in rx.accepted)
        assert all(e["routing_key"] == "R0UT1NGKEY" for e in events)
        first, update, resolve, second = events
        assert first["dedup_key"] == update["dedup_key"] == resolve["dedup_key"]
        assert second["dedup_key"] != first["dedup_key"]
        assert first["payload"]["severity"] == "warning"
        assert update["payload"]["severity"] == "critical"  # s1 fired critical
        assert first["payload"]["source"] == "forecasting-prod"
        assert "payload" not in resolve
        for e in (first, update, second):
            assert 0 < len(e["payload"]["summary"]) <= 1024
        assert update["payload"]["custom_details"]["series_by_group"] == {
            "(no group)": ["s0", "s1"]
        }
        episodes = store.list_alert_episodes("demand")
        assert [e.status for e in episodes] == ["resolved", "open"]


def test_email_over_smtp_with_login_and_a_stable_message_id(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_SMTP_PASSWORD", "s3cret")
    logins: list[tuple[bytes, bytes]] = []
    with smtp_receiver(logins=logins) as box:
        cfg = _cfg(
            {
                "name": "mail",
                "kind": "email",
                "smtp_host": box.host,
                "smtp_port": box.port,
                "sender": "chronoguard@example.org",
                "recipients": ["oncall@example.org", "team@example.org"],
                "username": "cg",
                "password_env": "CG_TEST_SMTP_PASSWORD",
            }
        )
        (queued,) = check(store, cfg, "2024-01-01", SERIES, ["s1", "s2"], places=PLACES)
        _run(store, cfg, "2024-01-01")
        (msg,) = box.messages
        assert logins == [(b"cg", b"s3cret")]
        assert msg["Subject"].startswith("[chronoguard] demand: alerts firing on 2 series")
        assert msg["To"] == "oncall@example.org, team@example.org"
        assert box.envelopes == [
            ("chronoguard@example.org", ["oncall@example.org", "team@example.org"])
        ]
        text = msg.get_payload()
        assert "north (high): 1 alerts" in text and "south (standard): 1 alerts" in text
        # A resend (a deliverer killed after sending) carries the same Message-ID.
        channel = build_channels(cfg)["mail"]
        channel.send(Notification.model_validate(queued.payload))
        assert box.messages[1]["Message-ID"] == msg["Message-ID"]
        assert msg["Message-ID"] == EmailChannel.message_id(queued.key)


def test_an_unreachable_receiver_is_a_delivery_error_naming_it() -> None:
    note = Notification(
        key="k",
        dedup_key="d",
        model_name="m",
        event="resolve",
        severity="info",
        at=pd.Timestamp("2024-01-01").to_pydatetime(),
        opened_at=pd.Timestamp("2024-01-01").to_pydatetime(),
    )
    with http_receiver() as rx:
        url = rx.url
    with pytest.raises(DeliveryError, match=r"http://127\.0\.0\.1:\d+ could not be reached"):
        WebhookChannel("hook", url + "/secret-path", timeout=2).send(note)


def test_email_upgrades_with_starttls_before_it_logs_in(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the test CA, trusted
    monkeypatch.setenv("CG_TEST_SMTP_PASSWORD", "tls-secret")
    logins: list[tuple[bytes, bytes]] = []
    mail = {
        "name": "mail",
        "kind": "email",
        "sender": "cg@example.org",
        "recipients": ["oncall@example.org"],
        "username": "cg",
        "password_env": "CG_TEST_SMTP_PASSWORD",
    }
    with smtp_receiver(logins=logins, tls=server_tls) as box:
        plain = _cfg({**mail, "smtp_host": box.host, "smtp_port": box.port})
        check(store, plain, "2024-01-01", SERIES, ["s1"])
        refused = deliver_pending(store, build_channels(plain), plain, now="2024-01-01")
        # Without STARTTLS the server offers no login: the password is never sent in clear.
        assert refused.failed == 1 and "AUTH extension not supported" in refused.errors[0]
        assert box.messages == [] and logins == []
        tls = _cfg({**mail, "smtp_host": box.host, "smtp_port": box.port, "starttls": True})
        report = deliver_pending(store, build_channels(tls), tls, now="2024-01-02")
        assert (report.sent, report.failed) == (1, 0), report.errors
        assert logins == [(b"cg", b"tls-secret")] and len(box.messages) == 1
