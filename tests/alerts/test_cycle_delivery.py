"""End to end on the bundled seat-belt data: the cycle queues its notifications with its
alerts, `chronoguard alerts outbox` lists what waits (and what fails), `alerts deliver`
sends it with retries, and `chronoguard cycle` delivers after the cycle.

The fleet is the cycle tests' three series, ``south`` shocked by -30 % from March 1981
and placed in a group of its own; the receiver is a real local HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.alerts import Notification
from chronoguard.config import parse_config
from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.alerts.receivers import HttpReceiver, http_receiver
from tests.cli.test_cli_access import Cli
from tests.helpers import grant
from tests.orchestration.test_cycle import config, fleet, timeline

UNTIL = pd.Timestamp("1981-07-01")


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as rx:
        yield rx


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, receiver: HttpReceiver
) -> tuple[Path, Path, str, pd.Timestamp]:
    root = tmp_path_factory.mktemp("delivery") / "ws"
    df = fleet()
    data = root.parent / "fleet.csv"
    df.to_csv(data, index=False)
    raw = config().to_dict()  # type: ignore[attr-defined]
    raw["groups"] = [{"name": "southern", "match": "south", "tier": "high"}]
    raw["alerting"] = {
        "cooldown_minutes": 0,
        "retry_initial_seconds": 0.5,
        "channels": [{"name": "hook", "kind": "webhook", "url": receiver.url + "/hook"}],
    }
    cfg = parse_config(raw)
    tl = timeline(df)
    with init_workspace(root, cfg) as ws:
        cache = VersionCache(ws)
        for now in tl[131:]:
            if now >= UNTIL:
                break
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
        token = grant(ws.store, "olga")
    return root, data, token, pd.Timestamp(tl[tl >= UNTIL][0])


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def test_the_cycle_queues_a_notification_for_every_alert_it_records(
    built: tuple[Path, Path, str, pd.Timestamp],
) -> None:
    ws_dir, _, _, _ = built
    with open_workspace(ws_dir) as ws:
        alerts = ws.store.list_alerts()
        queued = ws.store.list_outbox()
        episodes = ws.store.list_alert_episodes(ws.model_name)
    assert alerts, "the shock raised no alert"
    notes = [Notification.model_validate(q.payload) for q in queued]
    told = {s.alert_id for n in notes for s in n.series}
    assert {a.id for a in alerts} <= told
    # one notification per cycle at most, at the time of the alerts it announces
    assert len({n.at for n in notes}) == len(notes)
    assert {a.ds for a in alerts} <= {n.at for n in notes}
    assert {n.dedup_key for n in notes} == {e.dedup_key for e in episodes}
    south = [s for n in notes for s in n.series if s.unique_id == "south"]
    assert south and all(s.group == "southern" and s.tier == "high" for s in south)
    assert all(q.status == "pending" for q in queued)  # run_cycle itself sends nothing


def test_outbox_deliver_retry_and_the_cycle_command(
    cli: Cli, built: tuple[Path, Path, str, pd.Timestamp], receiver: HttpReceiver
) -> None:
    ws_dir, data, token, next_now = built
    code, out, err = cli("alerts", "outbox", "-w", ws_dir, "--json")
    assert code == 0, err
    pending = json.loads(out)
    assert pending["total"] >= 1
    assert all(n["status"] == "pending" and n["attempts"] == 0 for n in pending["notifications"])

    code, _, err = cli("alerts", "deliver", "-w", ws_dir)
    assert code == 2 and "no token given" in err  # refused, nothing sent
    assert receiver.requests == []

    receiver.fail = 1
    code, out, err = cli("alerts", "deliver", "-w", ws_dir, token=token)
    assert code == 1, err
    assert "1 failed" in out and "HTTP 500" in err
    code, out, _ = cli("alerts", "outbox", "-w", ws_dir, "--json")
    failing = [n for n in json.loads(out)["notifications"] if n["failing"]]
    assert len(failing) == 1 and "HTTP 500" in failing[0]["last_error"]

    time.sleep(1.0)  # the first retry waits 0.5 s of the wall clock the CLI reads
    code, out, err = cli("alerts", "deliver", "-w", ws_dir, "--json", token=token)
    assert code == 0, err
    assert json.loads(out)["sent"] == pending["total"]
    code, out, _ = cli("alerts", "outbox", "-w", ws_dir, "--json")
    assert json.loads(out)["total"] == 0
    keys = [r.headers["Idempotency-Key"] for r in receiver.accepted]
    assert sorted(keys) == sorted(n["key"] for n in pending["notifications"])

    # `chronoguard cycle` delivers what its cycle queued, at once.
    before = len(receiver.accepted)
    code, out, err = cli(
        "cycle", "-w", ws_dir, "-d", data, "--now", str(next_now.date()), token=token
    )
    assert code == 0, err
    assert "alerts delivered:" in out
    with open_workspace(ws_dir) as ws:
        assert ws.store.list_outbox(status="pending") == []
        sent_now = len(ws.store.list_outbox(status="sent")) - pending["total"]
    assert len(receiver.accepted) - before == sent_now
    code, out, _ = cli("alerts", "outbox", "-w", ws_dir, "--status", "all")
    assert code == 0 and "hook" in out


def test_the_schedule_delivers_after_each_cycle(
    cli: Cli, built: tuple[Path, Path, str, pd.Timestamp], receiver: HttpReceiver
) -> None:
    ws_dir, data, token, _ = built
    with open_workspace(ws_dir) as ws:
        done = len(ws.store.list_cycles(ws.model_name))
    code, out, err = cli("schedule", "-w", ws_dir, "-d", data, "--ticks", "1", token=token)
    assert code == 0, err
    with open_workspace(ws_dir) as ws:
        ran = len(ws.store.list_cycles(ws.model_name)) - done
        assert ws.store.list_outbox(status="pending") == []
        sent = {q.key for q in ws.store.list_outbox(status="sent")}
    assert ran >= 1
    assert out.count("alerts delivered:") == ran
    assert {r.headers["Idempotency-Key"] for r in receiver.accepted} == sent
