"""`chronoguard audit show` lists entries in the order they happened, with both times: the
real time of the action (``recorded``) and the data time it concerns (``as of``).

Cycles of a replay (data times of 1980–81, recorded by a clock the test gives, one hour
before and one hour after the real time) with a manual `train` and `promote` between them
at the command line (the wall clock): the manual entries are listed between the cycles',
not after them as a listing by data time would."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.cli.test_cli_access import Cli
from tests.helpers import grant
from tests.orchestration.test_cycle import config, fleet, timeline
from tests.store.test_audit_times import TickingClock


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def test_a_manual_promote_between_replay_cycles_is_listed_between_them(
    cli: Cli, tmp_path: Path
) -> None:
    df = fleet()
    data = tmp_path / "fleet.csv"
    df.to_csv(data, index=False)
    tl = timeline(df)
    root = tmp_path / "ws"
    real = datetime.now(UTC).replace(tzinfo=None)  # a test may read the clock
    before = TickingClock(real - timedelta(hours=1))
    with init_workspace(root, config(), clock=before) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in tl[131:133]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
        token = grant(ws.store, "olga")
        cycles_before = ws.store.audit_log()[-1].id
    code, out, err = cli(
        "train", "-w", root, "-d", data, "--until", str(tl[132].date()), token=token
    )
    assert code == 0, err
    code, out, err = cli("promote", "2", "-w", root, "--reason", "checked", token=token)
    assert code == 0, err
    with open_workspace(root, clock=TickingClock(real + timedelta(hours=1))) as ws:
        manual = [e for e in ws.store.audit_log() if e.id > cycles_before]
        run_cycle(ws, df, freq="MS", now=tl[133], cache=VersionCache(ws))
        log = ws.store.audit_log()
        assert ws.store.verify_audit_chain().ok
    # Listed as they happened: the chain's order, the manual entries between the cycles'.
    assert [e.id for e in log] == sorted(e.id for e in log)
    assert all(a.recorded_at <= b.recorded_at for a, b in itertools.pairwise(log))  # type: ignore[operator]
    assert manual and {e.actor for e in manual} == {"olga"}
    assert all(abs(e.recorded_at - real) < timedelta(minutes=30) for e in manual)  # type: ignore[operator]
    after = [e for e in log if e.id > manual[-1].id]
    assert after and all(e.recorded_at > real + timedelta(hours=1) for e in after)  # type: ignore[operator]
    # ... while the cycles' entries concern their data times.
    assert {e.as_of for e in after if e.action == "begin_cycle"} == {tl[133].to_pydatetime()}
    assert max(e.as_of for e in log if e.as_of is not None and e.actor != "olga") < real
    # A promotion by hand concerns no data time: its entries' as_of is empty.
    promoted = [e for e in manual if e.payload.get("reason") == "checked"]
    assert promoted and {e.action for e in promoted} >= {"deploy"}
    assert all(e.as_of is None for e in promoted), [(e.action, e.as_of) for e in promoted]
    # The command shows both times, newest last.
    code, out, err = cli("audit", "show", "-w", root, "--last", "500", token=token)
    assert code == 0, err
    assert "recorded" in out and "as of" in out
    shown = [int(line.split("│")[1]) for line in out.splitlines() if line.startswith("│ ")]
    assert shown == [e.id for e in log][-len(shown) :]
    row = next(line for line in out.splitlines() if line.startswith(f"│ {after[0].id} "))
    assert str(pd.Timestamp(after[0].recorded_at))[:19] in row
    assert str(pd.Timestamp(after[0].as_of))[:19] in row
