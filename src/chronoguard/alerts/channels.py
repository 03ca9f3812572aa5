"""Alert channels: one method, ``send(notification)``, that delivers or raises.

A :class:`Notification` is what one channel receives for one model and cycle: every series
that fired, grouped by their group. Each channel renders it in its receiver's shape:

- :class:`WebhookChannel`: the notification as JSON, POSTed with an ``Idempotency-Key``;
- :class:`SlackChannel`: a Slack incoming-webhook message (``text`` and ``blocks``);
- :class:`PagerDutyChannel`: a PagerDuty Events API v2 event, one ``dedup_key`` per episode;
- :class:`EmailChannel`: an SMTP message whose ``Message-ID`` derives from the key.

Every channel sends a notification under its ``key`` (or its episode's ``dedup_key``),
so a notification sent twice (a deliverer killed after sending, before recording) is
recognised by the receiver as one.
"""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from chronoguard.config import AlertingConfig, AlertSeverity, ChannelConfig
from chronoguard.errors import ChronoguardError, ConfigError

NotificationEvent = Literal["trigger", "update", "resolve", "digest"]
_SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
_PD_SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}
_SLACK_SECTION = 2900  # Slack refuses a section text over 3,000 characters
_SLACK_BLOCKS = 50  # and a message of more than 50 blocks


class DeliveryError(ChronoguardError):
    """A channel could not deliver a notification; it stays queued and is retried."""


def highest_severity(severities: list[str]) -> AlertSeverity:
    """The most severe of ``severities`` (``info`` when there are none)."""
    top = max(severities, key=lambda s: _SEVERITY_ORDER.get(s, 0), default="info")
    return "critical" if top == "critical" else "warning" if top == "warning" else "info"


class SeriesAlert(BaseModel):
    """One firing alert of a series, as a notification lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: int
    unique_id: str | None
    group: str | None
    tier: str
    kind: str
    method: str
    feature: str
    severity: str
    message: str


class Notification(BaseModel):
    """What one channel is told about one model's alerts at one cycle.

    ``key`` identifies this notification (the idempotency key and the email Message-ID
    derive from it); ``dedup_key`` identifies its episode (PagerDuty's ``dedup_key``).
    ``series`` are the alerts this channel gets that fire at ``at``; a ``resolve`` lists
    none. A digest (``event = "digest"``) combines ``parts`` into one message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    dedup_key: str
    model_name: str
    event: NotificationEvent
    severity: AlertSeverity
    at: datetime
    opened_at: datetime
    series: tuple[SeriesAlert, ...] = ()
    new_series: int = 0
    incidents: tuple[str, ...] = ()  # group incidents of the cycle, one sentence each
    parts: tuple[Notification, ...] = ()

    def groups(self) -> dict[str, list[SeriesAlert]]:
        """The series by group label (``"(no group)"`` for series in none), in order."""
        out: dict[str, list[SeriesAlert]] = {}
        for s in self.series:
            label = s.group if s.group is not None else "(no group)"
            out.setdefault(label, []).append(s)
        return out

    def title(self) -> str:
        """One line: model, what happened, how many series."""
        if self.event == "digest":
            return f"[chronoguard] {self.model_name}: digest of {len(self.parts)} notifications"
        if self.event == "resolve":
            return f"[chronoguard] {self.model_name}: resolved, every alert cleared"
        n = len({s.unique_id for s in self.series})
        verb = "alerts firing" if self.event == "trigger" else "alerts still firing"
        return f"[chronoguard] {self.model_name}: {verb} on {n} series ({self.severity})"

    def body(self) -> str:
        """Plain text listing every series that fired, by group."""
        if self.event == "digest":
            return "\n\n".join(f"{p.title()}\n{p.body()}" for p in self.parts)
        head = f"episode {self.dedup_key}, opened {self.opened_at.isoformat()}; at {self.at}"
        if self.event == "resolve":
            return head
        lines = [head, *(f"Incident: {sentence}" for sentence in self.incidents)]
        for label, items in self.groups().items():
            lines.append(f"{label} ({items[0].tier}): {len(items)} alerts")
            lines.extend(f"  - {s.message} [{s.severity}]" for s in items)
        return "\n".join(lines)


class Channel(Protocol):
    """Delivers a notification, or raises :class:`DeliveryError`."""

    name: str

    def send(self, notification: Notification) -> None: ...


def _post_json(url: str, body: object, *, timeout: float, headers: Mapping[str, str]) -> None:
    # The standard library's client: one POST with a timeout needs nothing more.
    data = json.dumps(body, default=str).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "chronoguard", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise DeliveryError(f"{_where(url)} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{_where(url)} could not be reached: {reason}") from None


def _where(url: str) -> str:
    # The host only: a Slack URL carries its secret in the path.
    parts = url.split("/")
    return "/".join(parts[:3]) if len(parts) > 2 else url


class WebhookChannel:
    """POSTs the notification as JSON, with its key as the ``Idempotency-Key`` header."""

    def __init__(self, name: str, url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout

    def send(self, notification: Notification) -> None:
        _post_json(
            self.url,
            notification.model_dump(mode="json"),
            timeout=self.timeout,
            headers={"Idempotency-Key": notification.key},
        )


class SlackChannel:
    """Posts to a Slack incoming webhook: ``text`` with every series, ``blocks`` by group."""

    def __init__(self, name: str, url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout

    @staticmethod
    def message(notification: Notification) -> dict[str, object]:
        """The Slack message body of ``notification``."""
        blocks: list[dict[str, object]] = [
            {"type": "header", "text": {"type": "plain_text", "text": notification.title()[:150]}}
        ]
        parts = notification.parts or (notification,)
        sections: list[str] = []
        for part in parts:
            if part.event == "resolve":
                sections.append(f"*{part.model_name}*: resolved ({part.dedup_key})")
            for label, items in part.groups().items():
                ids = ", ".join(f"`{s.unique_id or 'fleet'}`" for s in items)
                sections.append(f"*{label}* ({items[0].tier}, {len(items)} alerts): {ids}")
        for text in sections[: _SLACK_BLOCKS - 2]:
            if len(text) > _SLACK_SECTION:
                text = text[: _SLACK_SECTION - 30] + " … (full list in the text)"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        if len(sections) > _SLACK_BLOCKS - 2:
            more = len(sections) - (_SLACK_BLOCKS - 2)
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {more} more"}]}
            )
        return {"text": f"{notification.title()}\n{notification.body()}", "blocks": blocks}

    def send(self, notification: Notification) -> None:
        _post_json(self.url, self.message(notification), timeout=self.timeout, headers={})


class PagerDutyChannel:
    """Sends PagerDuty Events API v2 events: ``trigger`` while an episode fires (its
    updates trigger the same ``dedup_key`` again), ``resolve`` when it clears."""

    def __init__(
        self,
        name: str,
        routing_key: str,
        *,
        events_url: str,
        source: str = "chronoguard",
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.routing_key = routing_key
        self.events_url = events_url
        self.source = source
        self.timeout = timeout

    def event(self, notification: Notification) -> dict[str, object]:
        """The Events API v2 body of ``notification``."""
        if notification.event == "digest":
            raise DeliveryError("a PagerDuty channel sends each episode's events, not digests")
        base: dict[str, object] = {
            "routing_key": self.routing_key,
            "dedup_key": notification.dedup_key,
        }
        if notification.event == "resolve":
            return {**base, "event_action": "resolve"}
        details = {
            label: [s.unique_id or "fleet" for s in items]
            for label, items in notification.groups().items()
        }
        return {
            **base,
            "event_action": "trigger",
            "payload": {
                "summary": notification.title()[:1024],
                "source": self.source,
                "severity": _PD_SEVERITY[notification.severity],
                "timestamp": notification.at.isoformat(),
                "custom_details": {
                    "incidents": list(notification.incidents),  # the group incidents first
                    "series_by_group": details,
                    "key": notification.key,
                },
            },
        }

    def send(self, notification: Notification) -> None:
        _post_json(self.events_url, self.event(notification), timeout=self.timeout, headers={})


class EmailChannel:
    """Sends an email over SMTP (STARTTLS and login when configured)."""

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = list(recipients)
        self.starttls = starttls
        self.username = username
        self.password = password
        self.timeout = timeout

    @staticmethod
    def message_id(key: str) -> str:
        """The Message-ID of the notification ``key``: the same for every resend."""
        return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@chronoguard>"

    def message(self, notification: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = notification.title()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Message-ID"] = self.message_id(notification.key)
        msg["Date"] = format_datetime(notification.at.replace(tzinfo=None), usegmt=False)
        msg["X-Chronoguard-Dedup-Key"] = notification.dedup_key
        msg.set_content(notification.body())
        return msg

    def send(self, notification: Notification) -> None:
        msg = self.message(notification)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"the SMTP server {self.host}:{self.port} refused or failed: {exc}"
            ) from None


def _secret(env: Mapping[str, str], name: str | None, what: str) -> str:
    value = env.get(name or "")
    if not name or not value:
        raise ConfigError(f"{what}: the environment variable {name} is not set; export it")
    return value


def build_channel(
    cfg: ChannelConfig, *, timeout: float, env: Mapping[str, str] | None = None
) -> Channel:
    """The channel ``cfg`` describes, with its secrets read from ``env`` (the process
    environment by default)."""
    env = os.environ if env is None else env
    what = f"alerting channel {cfg.name!r}"
    if cfg.kind in ("webhook", "slack"):
        url = cfg.url if cfg.url is not None else _secret(env, cfg.url_env, what)
        cls = WebhookChannel if cfg.kind == "webhook" else SlackChannel
        return cls(cfg.name, url, timeout=timeout)
    if cfg.kind == "pagerduty":
        return PagerDutyChannel(
            cfg.name,
            _secret(env, cfg.routing_key_env, what),
            events_url=cfg.events_url,
            source=cfg.source,
            timeout=timeout,
        )
    password = None if cfg.password_env is None else _secret(env, cfg.password_env, what)
    return EmailChannel(
        cfg.name,
        host=cfg.smtp_host or "",
        port=cfg.smtp_port,
        sender=cfg.sender or "",
        recipients=cfg.recipients,
        starttls=cfg.starttls,
        username=cfg.username,
        password=password,
        timeout=timeout,
    )


def build_channels(cfg: AlertingConfig, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Every configured channel by name."""
    return {c.name: build_channel(c, timeout=cfg.timeout_seconds, env=env) for c in cfg.channels}
