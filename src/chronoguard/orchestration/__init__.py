"""Running the cycle: replays of history (and, later, schedules and fan-out)."""
