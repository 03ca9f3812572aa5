"""A cycle whose per-series work fans out to local processes stores exactly what the serial
cycle stores: decisions, versions and their references, deployments and forecasts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.config import ChronoguardConfig
from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.helpers import small_config
from tests.orchestration.test_cycle import fleet, state, timeline


def config(**compute: object) -> ChronoguardConfig:
    # A retrain of every series at the second cycle (scheduled every period), so the
    # fan-out runs in the bootstrap and in a retrain of the batch.
    return small_config(
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={"validation_window": 3, "margin": 0.05, "max_mase": 5.0},
        retraining={"triggers": ["performance_decay", "schedule"], "schedule_every": 1},
        compute=compute,
    )


def run(ws_dir: Path, cfg: ChronoguardConfig, df: pd.DataFrame) -> None:
    with init_workspace(ws_dir, cfg) as ws:
        cache = VersionCache(ws)
        for now in timeline(df)[131:133]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)


def references(ws_dir: Path) -> dict[str, str]:
    with open_workspace(ws_dir) as ws:
        cache = VersionCache(ws)
        return {
            v.version: json.dumps(cache.get(v.version).reference.to_dict())
            for v in ws.registry.list_versions(ws.model_name)
        }


@pytest.mark.slow
def test_a_cycle_in_local_processes_stores_what_the_serial_cycle_stores(
    tmp_path: Path,
) -> None:
    df = fleet()
    run(tmp_path / "serial", config(backend="serial"), df)
    run(tmp_path / "pool", config(backend="processes", workers=2, batch_size=1), df)
    serial, pool = state(tmp_path / "serial"), state(tmp_path / "pool")
    retrains = [d for d in serial["decisions"] if d[2] == "retrain"]  # type: ignore[union-attr]
    assert {d[3] for d in retrains} == {"initial", "schedule"}, retrains
    assert len([d for d in retrains if d[3] == "schedule"]) == 3  # a batch of three series
    assert pool == serial
    refs = references(tmp_path / "serial")
    assert len(refs) == 2
    assert references(tmp_path / "pool") == refs


def test_a_cycle_on_a_dask_address_that_does_not_answer_writes_nothing(tmp_path: Path) -> None:
    import socket

    from chronoguard.compute import ComputeUnavailableError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    df = fleet()
    cfg = config(backend="dask", address=address, connect_timeout=0.5)
    with init_workspace(tmp_path / "ws", cfg) as ws:
        with pytest.raises(ComputeUnavailableError, match=address):
            run_cycle(ws, df, freq="MS", now=timeline(df)[131])
        assert ws.store.list_cycles(ws.model_name) == []
        assert ws.store.get_actuals().empty
        assert ws.registry.list_versions(ws.model_name) == []
