"""The built-in scheduler: run the production cycle on a clock, at the data's frequency.

The embedded default for scheduling (a Prefect deployment replaces it in production). At
each tick it reloads the data, finds the timestamps of the data's grid that have arrived
(``ds <= clock()``) and have had no cycle yet, runs one cycle for each, oldest first (a
scheduler that was down catches up), then sleeps until the next period is due. The clock
and the sleep are passed in, so a test drives it with a simulated clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.lifecycle import Workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration.cycle import CycleOutcome, run_cycle

ACTOR = "chronoguard schedule"


@dataclass(frozen=True)
class LoadedData:
    """What the scheduler needs from a load of the data: the frame and its frequency."""

    df: pd.DataFrame
    freq: str
    #: For a model with exogenous inputs, their values beyond the history (see
    #: :func:`~chronoguard.orchestration.run_cycle`'s ``future``).
    future: pd.DataFrame | None = None


def due_cycles(
    timestamps: np.ndarray | pd.DatetimeIndex,
    *,
    last_cycle: pd.Timestamp | None,
    first: pd.Timestamp | None,
    clock_now: pd.Timestamp,
) -> list[pd.Timestamp]:
    """Timestamps of the data that have arrived by ``clock_now`` and still need a cycle.

    Without any cycle yet, the first is ``first`` (the end of the initial training window)
    when given, else the latest arrived timestamp.
    """
    ts = pd.DatetimeIndex(np.sort(pd.unique(np.asarray(timestamps))))
    arrived = ts[ts <= clock_now]
    if last_cycle is None:
        if first is not None:
            return [t for t in arrived if t >= first]
        return [arrived[-1]] if len(arrived) else []
    return list(arrived[arrived > last_cycle])


def next_due(last: pd.Timestamp, freq: str) -> pd.Timestamp:
    """When the next period after ``last`` is due."""
    return pd.Timestamp(last) + pd.tseries.frequencies.to_offset(freq)


def run_schedule(
    ws: Workspace,
    load: Callable[[], LoadedData],
    *,
    clock: Callable[[], pd.Timestamp],
    sleep: Callable[[float], None],
    poll_seconds: float = 60.0,
    max_ticks: int | None = None,
    on_cycle: Callable[[CycleOutcome], None] | None = None,
) -> list[CycleOutcome]:
    """Run cycles as their periods arrive; returns the outcomes of the cycles it ran.

    Each tick reloads the data with ``load`` and runs the cycles :func:`due_cycles` names,
    with ``recorded_at`` the clock's time. Between ticks it sleeps until the next period is
    due, or ``poll_seconds`` when the data has not reached it yet. ``max_ticks`` stops it
    (``None`` runs until interrupted).
    """
    cache = VersionCache(ws)
    ran: list[CycleOutcome] = []
    ticks = 0
    first_window = ws.config.training.initial_window
    while max_ticks is None or ticks < max_ticks:
        ticks += 1
        data = load()
        now = pd.Timestamp(clock())
        last = ws.store.last_cycle(ws.model_name)
        ts = np.sort(data.df["ds"].unique())
        first = pd.Timestamp(ts[first_window - 1]) if len(ts) >= first_window else None
        for t in due_cycles(
            ts,
            last_cycle=None if last is None else pd.Timestamp(last.now),
            first=first,
            clock_now=now,
        ):
            outcome = run_cycle(
                ws,
                data.df,
                freq=data.freq,
                now=t,
                by=ACTOR,
                recorded_at=now,
                cache=cache,
                future=data.future,
            )
            ran.append(outcome)
            if on_cycle is not None:
                on_cycle(outcome)
        last = ws.store.last_cycle(ws.model_name)
        wait = poll_seconds
        if last is not None:
            until = next_due(pd.Timestamp(last.now), data.freq) - pd.Timestamp(clock())
            # Due later: sleep until then (at most a poll). Due already but not in the data
            # yet (a late feed): poll.
            if until.total_seconds() > 0:
                wait = min(until.total_seconds(), poll_seconds)
        if max_ticks is None or ticks < max_ticks:
            sleep(wait)
    return ran
