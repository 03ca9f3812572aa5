"""A deliverer killed (SIGKILL) right after a receiver accepted a message and before the
store recorded it sent, then run again: the receiver has every notification, each exactly
once by its key (the webhook's Idempotency-Key, PagerDuty's dedup_key and event), on
SQLite and PostgreSQL.

The killed deliverer is a child process of its own that delivers with the real channels
and kills itself at the named point between sending and recording (``on_sent``), after
its ``kill_at``-th accepted message; every point of the outbox is killed once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from chronoguard.alerts import build_channels, deliver_pending
from chronoguard.config import AlertingConfig, ChannelConfig
from chronoguard.errors import WorkspaceBusyError
from chronoguard.store import Store
from tests.alerts.receivers import HttpReceiver, http_receiver
from tests.alerts.support import check
from tests.conftest import PgSchemas

CHILD = r"""
import os, signal, sys
from chronoguard.alerts import build_channels, deliver_pending
from chronoguard.config import AlertingConfig
from chronoguard.store import Store

url, cfg_json, now, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
cfg = AlertingConfig.model_validate_json(cfg_json)
sent = 0

def on_sent(note):
    global sent
    sent += 1
    if sent == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

with Store.open(url) as store:
    deliver_pending(store, build_channels(cfg), cfg, now=now, on_sent=on_sent)
"""

SERIES = [f"s{i}" for i in range(8)]
# trigger, update (new series after the cooldown), resolve: three notifications per channel
PLAN = [("2024-05-01 09:00", ["s1"]), ("2024-05-01 10:30", ["s1", "s2"]), ("2024-05-01 12:00", [])]
DELIVER_AT = "2024-05-01 12:00"
ROWS = 2 * len(PLAN)


@contextmanager
def _store_url(backend: str, tmp: Path, k: int, pg_schemas: PgSchemas | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'state{k}.db'}"
        return
    assert pg_schemas is not None
    with pg_schemas.fresh() as schema:
        yield schema.url


def _cfg(rx: HttpReceiver) -> AlertingConfig:
    return AlertingConfig(
        cooldown_minutes=60,
        channels=[
            ChannelConfig(name="hook", kind="webhook", url=rx.url + "/hook"),
            ChannelConfig(
                name="pager",
                kind="pagerduty",
                events_url=rx.url + "/pd",
                routing_key_env="CG_TEST_PD_KEY",
            ),
        ],
    )


def _deliver_again(store: Store, cfg: AlertingConfig) -> None:
    # The killed child's PostgreSQL session (and its advisory lock) ends when the server
    # reads the closed socket: at most moments after the kill.
    for _ in range(50):
        try:
            report = deliver_pending(store, build_channels(cfg), cfg, now=DELIVER_AT)
        except WorkspaceBusyError:
            time.sleep(0.1)
            continue
        assert report.failed == 0, report.errors
        return
    pytest.fail("the killed deliverer's lock was never released")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_deliverer_killed_between_send_and_record_resends_under_the_same_key(
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv("CG_TEST_PD_KEY", "crash-key")
    pg = request.getfixturevalue("pg_schemas") if backend == "postgresql" else None
    for kill_at in range(1, ROWS + 1):
        with http_receiver() as rx, _store_url(backend, tmp_path, kill_at, pg) as url:
            cfg = _cfg(rx)
            with Store.open(url) as store:
                keys = set()
                for now, hot in PLAN:
                    keys |= {(q.channel, q.key) for q in check(store, cfg, now, SERIES, hot)}
                assert len(keys) == ROWS
            child = subprocess.run(
                [sys.executable, "-c", CHILD, url, cfg.model_dump_json(), DELIVER_AT, str(kill_at)],
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ},
            )
            assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
            assert len(rx.accepted) == kill_at  # the receiver had it; the store did not
            with Store.open(url) as store:
                assert len(store.list_outbox(status="sent")) == kill_at - 1
                _deliver_again(store, cfg)
                assert store.list_outbox(status="pending") == []

            hooks: dict[str, int] = {}
            for r in rx.accepted:
                if r.path == "/hook":
                    key = r.headers["Idempotency-Key"]
                    hooks[key] = hooks.get(key, 0) + 1
            assert set(hooks) == {k for (ch, k) in keys if ch == "hook"}
            pages = [r.body for r in rx.accepted if r.path == "/pd"]
            by_event = {
                (
                    p["dedup_key"],
                    p["event_action"],
                    p.get("payload", {}).get("custom_details", {}).get("key"),
                )
                for p in pages
            }
            assert len(by_event) == 3  # trigger, update (a trigger again), resolve
            assert len({p["dedup_key"] for p in pages}) == 1
            # Exactly one message was sent twice: the one the kill interrupted.
            assert len(rx.accepted) == ROWS + 1
            resent = sum(n - 1 for n in hooks.values()) + len(pages) - len(by_event)
            assert resent == 1
