"""The cycle as a Prefect 3 flow, run against Prefect's own ephemeral server: a flow run is
one call of the cycle, and stores what a direct call stores."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

import pytest

# Prefect reads its settings from the environment: its home in a temporary folder, and
# nothing that reaches the network (analytics, telemetry, the UI's assets).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "false")

from prefect.testing.utilities import prefect_test_harness

from chronoguard.compute import ComputeUnavailableError
from chronoguard.config import ComputeConfig
from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import CycleOutcome, run_cycle
from chronoguard.orchestration.prefect_flow import (
    cycle_deployment,
    cycle_flow,
    cycle_schedule,
)
from tests.orchestration.test_cycle import config, fleet, state, timeline


@pytest.fixture
def prefect_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    return home


@pytest.mark.slow
def test_two_flow_runs_store_what_two_direct_cycles_store(
    tmp_path: Path, prefect_home: Path
) -> None:
    df = fleet()
    csv = tmp_path / "fleet.csv"
    df.to_csv(csv, index=False)
    times = timeline(df)[131:133]
    with init_workspace(tmp_path / "direct", config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        direct = [run_cycle(ws, df, freq="MS", now=t, cache=cache) for t in times]
    with init_workspace(tmp_path / "flow", config()):  # type: ignore[arg-type]
        pass
    with prefect_test_harness(server_startup_timeout=120):
        runs = [
            cycle_flow(str(tmp_path / "flow"), str(csv), now=str(t), return_state=True)
            for t in times
        ]
    assert all(r.is_completed() for r in runs), [r.message for r in runs]
    outcomes = [r.result() for r in runs]
    assert all(isinstance(o, CycleOutcome) for o in outcomes)
    assert outcomes == direct  # compares what the cycles did, not when they were recorded
    assert outcomes[0].retrained == ("north", "south", "west")  # the first trains them all
    assert state(tmp_path / "flow") == state(tmp_path / "direct")


def test_the_schedule_follows_the_data_frequency(tmp_path: Path, prefect_home: Path) -> None:
    assert cycle_schedule("MS").cron == "0 0 1 * *"
    assert cycle_schedule("QS").cron == "0 0 1 1,4,7,10 *"
    assert cycle_schedule("YS").cron == "0 0 1 1 *"
    assert cycle_schedule("W-SUN").cron == "0 0 * * 0"
    assert cycle_schedule("W-MON").cron == "0 0 * * 1"
    assert cycle_schedule("D").interval == dt.timedelta(days=1)
    assert cycle_schedule("h").interval == dt.timedelta(hours=1)
    with pytest.raises(ChronoguardError, match="ME"):
        cycle_schedule("ME")
    csv = tmp_path / "fleet.csv"
    fleet().to_csv(csv, index=False)
    with init_workspace(tmp_path / "ws", config()):  # type: ignore[arg-type]
        pass
    deployment = cycle_deployment(tmp_path / "ws", csv)  # no server needed to build one
    assert deployment.parameters == {
        "workspace": str((tmp_path / "ws").resolve()),
        "data": str(csv.resolve()),
    }
    (sched,) = deployment.schedules
    assert sched.schedule.cron == "0 0 1 * *"


def test_a_dask_address_that_does_not_answer_fails_before_the_cycle_writes(
    tmp_path: Path, prefect_home: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    df = fleet()
    csv = tmp_path / "fleet.csv"
    df.to_csv(csv, index=False)
    cfg = config().model_copy(  # type: ignore[attr-defined]
        update={"compute": ComputeConfig(backend="dask", address=address, connect_timeout=0.5)}
    )
    with init_workspace(tmp_path / "ws", cfg):
        pass
    # the flow's own function, without the engine: what each flow run calls
    with pytest.raises(ComputeUnavailableError, match=address):
        cycle_flow.fn(str(tmp_path / "ws"), str(csv), now=str(timeline(df)[131]))
    with open_workspace(tmp_path / "ws") as ws:
        assert ws.store.list_cycles(ws.model_name) == []
        assert ws.registry.list_versions(ws.model_name) == []
