"""The production cycle as a Prefect 3 flow, served on a schedule at the data's frequency.

An optional extra (``pip install 'chronoguard[prefect]'``), the production alternative to
``chronoguard schedule``. The flow holds no loop of its own: each flow run is one call of
:func:`~chronoguard.orchestration.run_cycle`, so a run repeated for the same time changes
nothing and a run that stopped half-way resumes, as every other caller of the cycle. Prefect
adds the schedule, the record of runs and their logs, and retries where a deployment asks
for them.

>>> from chronoguard.orchestration.prefect_flow import cycle_schedule
>>> cycle_schedule("MS").cron
'0 0 1 * *'
>>> cycle_schedule("D").interval
datetime.timedelta(days=1)

Serve it (blocks, running the flow at the start of every period)::

    from chronoguard.orchestration.prefect_flow import serve_cycle
    serve_cycle("ws", "history.csv")
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from chronoguard.compute import MissingExtraError
from chronoguard.errors import ChronoguardError

try:
    from prefect import flow
    from prefect.schedules import Cron, Interval, Schedule
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError(
        "the Prefect flow of the cycle needs Prefect 3, which is not installed: "
        "pip install 'chronoguard[prefect]'"
    ) from exc

from chronoguard.config import load_config
from chronoguard.data import ValidatedFrame, load_frame, validate_frame
from chronoguard.lifecycle import CONFIG_FILE, open_workspace
from chronoguard.orchestration.cycle import CycleOutcome, run_cycle
from chronoguard.orchestration.schedule import due_cycles

FLOW_NAME = "chronoguard-cycle"
ACTOR = "chronoguard prefect flow"
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# Calendar anchor of interval schedules: runs fall on the data's grid (midnight, whole hours).
_ANCHOR = dt.datetime(2000, 1, 1)


def _load(workspace: Path, data: str) -> ValidatedFrame:
    cfg = load_config(workspace / CONFIG_FILE)
    return validate_frame(
        load_frame(data), freq=cfg.data.freq, exog=cfg.data.exog or [], source=str(data)
    )


def _clock() -> pd.Timestamp:
    """The flow run's scheduled time (the wall clock for a run started by hand), naive UTC
    as the CLI reads it. The flow is an edge: the only place here that reads a clock."""
    from prefect.runtime import flow_run

    at = flow_run.scheduled_start_time
    stamp = pd.Timestamp(at) if at is not None else pd.Timestamp.now(tz="UTC")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


@flow(name=FLOW_NAME, description="One production cycle of a chronoguard workspace.")
def cycle_flow(workspace: str, data: str, now: str | None = None, by: str = ACTOR) -> CycleOutcome:
    """Run one production cycle of ``workspace`` on the data file ``data``.

    ``now`` is the cycle's time, a timestamp of the data; by default the latest timestamp
    of the data that has arrived by the run's scheduled time. A Dask scheduler that does not
    answer fails before the cycle writes anything (:func:`run_cycle` checks it first).
    """
    ws_dir = Path(workspace)
    checked = _load(ws_dir, data)
    clock = _clock()
    if now is not None:
        t = pd.Timestamp(now)
    else:
        arrived = due_cycles(
            checked.df["ds"].unique(), last_cycle=None, first=None, clock_now=clock
        )
        if not arrived:
            raise ChronoguardError(
                f"no timestamp of {data} has arrived by {clock} (the data starts at "
                f"{checked.df['ds'].min()}); pass now= or wait for the data"
            )
        t = arrived[-1]
    with open_workspace(ws_dir) as ws:
        # run_cycle connects to a Dask scheduler first, so one that does not answer fails
        # before the cycle writes anything.
        return run_cycle(ws, checked.df, freq=checked.freq, now=t, by=by, recorded_at=clock)


def cycle_schedule(freq: str, *, timezone: str = "UTC") -> Schedule:
    """When the cycle runs: at the start of every period of the data's frequency ``freq``.

    Fixed periods (days, hours, minutes) become an interval anchored at midnight; month,
    quarter and year starts and weekly data a cron schedule. Other frequencies (month
    ends, business days, multiples of calendar periods) have no faithful cron: pass a
    schedule of your own to :func:`cycle_deployment`.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    step: pd.Timedelta | None = None
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset)
    elif isinstance(offset, pd.offsets.Day):  # not a Tick from pandas 3 on
        step = pd.Timedelta(days=offset.n)
    if step is not None:
        return Interval(step.to_pytimedelta(), anchor_date=_ANCHOR, timezone=timezone)
    base, _, anchor = offset.name.partition("-")
    cron: str | None = None
    if offset.n == 1 and base == "MS":
        cron = "0 0 1 * *"
    elif offset.n == 1 and base == "QS":
        first = int(getattr(offset, "startingMonth", 1))
        cron = f"0 0 1 {','.join(str((first - 1 + 3 * k) % 12 + 1) for k in range(4))} *"
    elif offset.n == 1 and base in ("YS", "AS"):
        cron = f"0 0 1 {int(getattr(offset, 'month', 1))} *"
    elif offset.n == 1 and base == "W" and anchor in _WEEKDAYS:
        cron = f"0 0 * * {(_WEEKDAYS.index(anchor) + 1) % 7}"
    if cron is None:
        raise ChronoguardError(
            f"no schedule follows frequency {freq!r} faithfully; pass your own, e.g. "
            "cycle_deployment(..., schedule=prefect.schedules.Cron('0 6 * * *'))"
        )
    return Cron(cron, timezone=timezone)


def _freq(workspace: Path, data: str) -> str:
    return _load(workspace, data).freq


def cycle_deployment(
    workspace: str | Path,
    data: str | Path,
    *,
    name: str = FLOW_NAME,
    schedule: Schedule | None = None,
) -> Any:
    """A Prefect deployment of :func:`cycle_flow` for ``workspace`` and ``data``, on
    ``schedule`` (default: :func:`cycle_schedule` at the data's frequency).

    Returns Prefect's ``RunnerDeployment``; serve it with ``prefect.serve(...)`` or
    :func:`serve_cycle`.
    """
    ws_dir = Path(workspace).resolve()
    path = str(Path(data).resolve())
    return cycle_flow.to_deployment(
        name=name,
        parameters={"workspace": str(ws_dir), "data": path},
        schedule=schedule or cycle_schedule(_freq(ws_dir, path)),
    )


def serve_cycle(
    workspace: str | Path,
    data: str | Path,
    *,
    name: str = FLOW_NAME,
    schedule: Schedule | None = None,
) -> None:
    """Serve the cycle of ``workspace`` on a schedule at the data's frequency: blocks, and
    runs :func:`cycle_flow` whenever a period starts, until stopped."""
    from prefect import serve

    serve(cycle_deployment(workspace, data, name=name, schedule=schedule))
