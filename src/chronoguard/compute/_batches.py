"""Splitting series into batches: the unit of work that goes out to a worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def in_batches(ids: Sequence[T], size: int) -> list[list[T]]:
    """``ids`` in consecutive batches of at most ``size``, as even as possible, order kept.

    One task per batch, never one per series: a task has a fixed cost (pickling, a round
    trip to the worker or the scheduler), and Dask and Prefect advise against graphs of
    many tiny tasks. The batches differ in length by at most one, so workers get even
    shares (110 series in batches of at most 50 are 37 + 37 + 36, not 50 + 50 + 10).

    >>> in_batches(["a", "b", "c", "d", "e"], 2)
    [['a', 'b'], ['c', 'd'], ['e']]
    >>> [len(b) for b in in_batches(list(range(110)), 50)]
    [37, 37, 36]
    >>> in_batches([], 50)
    []
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    n = len(ids)
    if n == 0:
        return []
    n_batches = -(-n // size)
    base, extra = divmod(n, n_batches)
    out: list[list[T]] = []
    start = 0
    for i in range(n_batches):
        stop = start + base + (1 if i < extra else 0)
        out.append(list(ids[start:stop]))
        start = stop
    return out
