"""Running the cycle: one production cycle at a given time, replays of history, schedules."""

from chronoguard.orchestration.cycle import CycleOutcome, run_cycle
from chronoguard.orchestration.replay import replay
from chronoguard.orchestration.schedule import LoadedData, due_cycles, run_schedule

__all__ = ["CycleOutcome", "LoadedData", "due_cycles", "replay", "run_cycle", "run_schedule"]
