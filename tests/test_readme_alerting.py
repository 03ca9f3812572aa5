"""The README's walk-through of a shock seen on the dashboard, by email and on the pager,
run as a new user would run it: its shell block, whole, in an empty folder, with the
installed `chronoguard`, real processes (the CLI, the HTTP service, curl) and real local
receivers (aiosmtpd for the mail, an HTTP server standing in for PagerDuty's Events API).

What the block shows is then checked against what the receivers kept and the workspace's
store: one email and one PagerDuty trigger for the shock's cycle, naming every series that
alerted (at least five of group north's six, together) and the group incident, none of
group south (of another tier); the dashboard
showed the incident; the episode resolved in the next cycle with a resolve under the same
``dedup_key``; `/metrics` gave the last cycle's wall-clock duration.
"""

from __future__ import annotations

import email
import json
import re
import shutil
from email import policy
from pathlib import Path

import pytest

from chronoguard.lifecycle import open_workspace
from tests.readme_blocks import readme_block, run_block

PORTS = ("8766", "8025", "8787")  # the service, the mail server, the PagerDuty stand-in
NORTH = [f"north-{i}" for i in range(1, 7)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_the_readme_alerting_walkthrough_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("aiosmtpd")
    done = run_block(readme_block("tests/test_readme_alerting.py"), tmp_path, port=PORTS)
    out = done.stdout
    assert done.returncode == 0, (out[-4000:], done.stderr[-4000:])
    lines = out.splitlines()

    # One email by April's cycle, the shock's: the dashboard showed the group incident.
    assert "001.eml" in lines and "002.eml" not in lines, out[-3000:]
    [incident] = [x for x in lines if " series in group north " in x and "Subject" not in x]
    moved = re.match(
        r"(\d) of 6 series in group north dropped \d+–\d+ % in the same month", incident
    )
    assert moved is not None and int(moved.group(1)) >= 5, incident  # an incident needs 5

    # PagerDuty: one trigger, then a resolve under the same dedup_key.
    events = [json.loads(x) for x in (tmp_path / "pagerduty.jsonl").read_text().splitlines()]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"], events
    assert events[0]["dedup_key"] == events[1]["dedup_key"]
    monkeypatch.setenv("PD_ROUTING_KEY", "local-test-routing-key")  # the config names it
    with open_workspace(tmp_path / "ws") as ws:
        episodes = ws.store.list_alert_episodes(ws.model_name)
        alerts = ws.store.list_alerts()
        outbox = ws.store.list_outbox()
    shocked = {a.unique_id for a in alerts if a.ds == episodes[0].opened_at}
    assert len(shocked) >= 5 and shocked <= set(NORTH), shocked  # together, in one cycle
    assert {a.unique_id for a in alerts} <= set(NORTH)  # no false alarm in the south
    details = json.dumps(events[0]["payload"], ensure_ascii=False)
    for uid in shocked:
        assert uid in details, (uid, details)
    assert "south-" not in details
    assert incident.rstrip(".") in details

    # The mail: the trigger, then the resolve; the first names every series that alerted.
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted((tmp_path / "mail").glob("*.eml"))
    ]
    assert len(mails) == 2, [m["Subject"] for m in mails]
    first = str(mails[0].get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "resolved" in str(mails[1]["Subject"]).lower(), mails[1]["Subject"]
    for uid in shocked:
        assert uid in first, uid
    assert "south-" not in first and incident.rstrip(".") in first

    # /metrics: the last cycle's duration, read from the ledger's two wall-clock times.
    durations = [x for x in lines if x.startswith("chronoguard_last_cycle_duration_seconds ")]
    assert len(durations) == 1 and float(durations[0].split()[1]) > 0, durations

    assert [e.status for e in episodes] == ["resolved"]
    assert all(o.sent_at is not None for o in outbox), outbox
