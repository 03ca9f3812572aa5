"""Top-level batch functions for the executor tests (a worker process imports them by name)."""

from __future__ import annotations

import os
import time


def squares(batch: list[int]) -> list[int]:
    """The squares of a batch; the first batches sleep longest, so they finish last."""
    time.sleep(0.05 * max(0, 4 - batch[0]))
    return [x * x for x in batch]


def fail_on_seven(batch: list[int]) -> list[int]:
    if 7 in batch:
        raise ValueError(f"bad value 7 in {batch}")
    return batch


def pid(batch: list[int]) -> int:
    return os.getpid()
