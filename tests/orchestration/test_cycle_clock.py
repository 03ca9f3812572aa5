"""The cycle ledger's two real times: a cycle begins at the real time its caller passes
(``recorded_at``, read at the edge) and finishes at a new reading of the workspace's clock,
so the ledger holds how long the cycle took; a workspace opened without a clock (a replay)
stamps both with the one time it is given."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from chronoguard.lifecycle import init_workspace
from chronoguard.orchestration import run_cycle
from tests.orchestration.test_cycle import config, fleet, timeline


class Ticking:
    """A clock that moves 7 seconds at every reading (the edge's wall clock, in a test)."""

    def __init__(self, start: datetime) -> None:
        self.t = start
        self.readings: list[datetime] = []

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=7)
        self.readings.append(self.t)
        return self.t


def test_a_cycle_finishes_at_a_new_reading_of_the_clock(tmp_path: Path) -> None:
    df = fleet()
    now = pd.Timestamp(timeline(df)[131])
    began = datetime(2030, 1, 1, 12, 0, 0)
    clock = Ticking(began)
    with init_workspace(tmp_path / "ws", config(), clock=clock) as ws:  # type: ignore[arg-type]
        run_cycle(ws, df, freq="MS", now=now, recorded_at=pd.Timestamp(began))
        [cycle] = ws.store.list_cycles(ws.model_name)
        assert cycle.started_at == began
        assert cycle.finished_at is not None and cycle.finished_at > began
        assert cycle.finished_at in clock.readings  # read from the clock, not computed
        # The cycle again at the same now changes nothing, its finish included.
        run_cycle(ws, df, freq="MS", now=now, recorded_at=pd.Timestamp(clock()))
        [again] = ws.store.list_cycles(ws.model_name)
        assert again.finished_at == cycle.finished_at


def test_without_a_clock_a_cycle_begins_and_finishes_at_the_time_given(tmp_path: Path) -> None:
    df = fleet()
    now = pd.Timestamp(timeline(df)[131])
    with init_workspace(tmp_path / "ws", config()) as ws:  # type: ignore[arg-type]
        run_cycle(ws, df, freq="MS", now=now)
        [cycle] = ws.store.list_cycles(ws.model_name)
        assert cycle.started_at == cycle.finished_at == now.to_pydatetime()
