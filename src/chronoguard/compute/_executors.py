"""Executors: map a function over batches in this process, in local processes, or on Dask.

Every executor has the same one method, :meth:`Executor.map`, which returns the results in
the order of the batches, so a caller's result does not depend on where the work ran. The
function must be a top-level function of an importable module and its batches and results
picklable: local processes are started with ``spawn`` (no inherited threads or locks, the
same on every platform), and Dask workers import the function by name.

An error in a batch is raised as it is, with a note naming the batch (``in batch 2 of 5
(series s010 … s019)``); the batches not yet started are cancelled.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal, Protocol, Self, TypeVar

from chronoguard.compute._errors import ComputeUnavailableError, MissingExtraError

T = TypeVar("T")
R = TypeVar("R")

Backend = Literal["serial", "processes", "dask"]
BACKENDS: tuple[Backend, ...] = ("serial", "processes", "dask")


class Executor(Protocol):
    """Runs a function over batches of work and returns the results in order."""

    def map(
        self,
        fn: Callable[[T], R],
        batches: Sequence[T],
        *,
        labels: Sequence[str] | None = None,
        on_done: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        """``[fn(b) for b in batches]``, wherever the executor runs them.

        ``labels`` (one per batch) name the batches in the note added to an error;
        ``on_done(done, total)`` is called in this process as the results come back, in
        order, for a progress display.
        """
        ...


def _name_batch(
    exc: BaseException, i: int, n: int, labels: Sequence[str] | None, where: str
) -> None:
    label = f" ({labels[i]})" if labels is not None and i < len(labels) else ""
    exc.add_note(f"in batch {i + 1} of {n}{label}, run {where}")


class _Closing:
    """Context-manager support for executors that hold workers."""

    def close(self) -> None:
        """Release the executor's workers (nothing for executors that hold none)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(_Closing):
    """Runs every batch in this process, one after the other.

    >>> SerialExecutor().map(len, [[1, 2], [3]])
    [2, 1]
    """

    def map(
        self,
        fn: Callable[[T], R],
        batches: Sequence[T],
        *,
        labels: Sequence[str] | None = None,
        on_done: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        out: list[R] = []
        for i, batch in enumerate(batches):
            try:
                out.append(fn(batch))
            except Exception as exc:
                _name_batch(exc, i, len(batches), labels, "in this process")
                raise
            if on_done is not None:
                on_done(i + 1, len(batches))
        return out

    def __repr__(self) -> str:
        return "SerialExecutor()"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class ProcessExecutor(_Closing):
    """Runs batches in a pool of local processes (``concurrent.futures``, ``spawn``).

    The pool starts at the first :meth:`map` with more than one batch and lives until
    :meth:`close`. One batch, one worker, or a process that may not start children (a
    daemon) runs in this process instead: starting interpreters would cost more than it
    saves, and the results are the same.

    Parameters
    ----------
    workers
        Processes in the pool; ``0`` or ``None``: one per available CPU.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    @property
    def n_workers(self) -> int:
        return self.workers if self.workers else available_cpus()

    def map(
        self,
        fn: Callable[[T], R],
        batches: Sequence[T],
        *,
        labels: Sequence[str] | None = None,
        on_done: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        n = len(batches)
        if n <= 1 or self.n_workers <= 1 or multiprocessing.current_process().daemon:
            return SerialExecutor().map(fn, batches, labels=labels, on_done=on_done)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.n_workers, mp_context=multiprocessing.get_context("spawn")
            )
        out: list[R] = []
        try:
            futures: list[Future[R]] = [self._pool.submit(fn, b) for b in batches]
            for i, f in enumerate(futures):
                try:
                    out.append(f.result())
                except BrokenProcessPool:
                    raise
                except Exception as exc:
                    for rest in futures[i + 1 :]:
                        rest.cancel()
                    _name_batch(exc, i, n, labels, f"in a local process pool of {self.n_workers}")
                    raise
                if on_done is not None:
                    on_done(i + 1, n)
        except BrokenProcessPool as exc:
            # A worker died. The usual cause: a script without an entry-point guard, which
            # every spawned worker imports again and which then starts a pool of its own.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise ComputeUnavailableError(
                "a local worker process died before it returned its batch ("
                f"{exc}). If chronoguard runs from a script, put the script's code under "
                '`if __name__ == "__main__":` (each worker process imports the script '
                "again); otherwise look for a worker killed for memory. Or set "
                '[compute] backend = "serial" to run in this process'
            ) from exc
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers!r})"


class DaskExecutor(_Closing):
    """Runs batches on a Dask cluster, given its scheduler's address.

    The client connects when the executor is made, so a scheduler that does not answer
    within ``timeout`` seconds fails at once, before any work starts, with a
    :class:`ComputeUnavailableError` naming the address and the fix. Batches are scattered
    to the workers first (one task per batch, the data sent directly, not in the graph).
    The workers need chronoguard installed, the same version as here.
    """

    def __init__(self, address: str, *, timeout: float = 10.0) -> None:
        self.address = address
        self.timeout = timeout
        try:
            from distributed import Client
        except ImportError as exc:
            raise MissingExtraError(
                f'compute.backend = "dask" (scheduler {address}) needs Dask\'s distributed '
                "package, which is not installed: pip install 'chronoguard[dask]'"
            ) from exc
        try:
            self._client: Any = Client(address, timeout=timeout, set_as_default=False)
        except ValueError as exc:
            raise ComputeUnavailableError(
                f"compute.address = {address!r} is not a Dask scheduler's address ({exc}); "
                'give it as "tcp://host:port", e.g. "tcp://10.0.0.5:8786"'
            ) from None
        except (OSError, TimeoutError) as exc:
            raise ComputeUnavailableError(
                f"the Dask scheduler at {address} did not answer within {timeout:g} s "
                f"({exc}); start it there (`dask scheduler`, and workers with `dask worker "
                f"{address}`), correct compute.address in chronoguard.toml, or set "
                'compute.backend = "processes" to run on this machine'
            ) from None

    def map(
        self,
        fn: Callable[[T], R],
        batches: Sequence[T],
        *,
        labels: Sequence[str] | None = None,
        on_done: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        n = len(batches)
        if n == 0:
            return []
        data = self._client.scatter(list(batches), hash=False)
        futures = self._client.map(fn, data, pure=False)
        out: list[R] = []
        for i, f in enumerate(futures):
            try:
                out.append(f.result())
            except Exception as exc:
                self._client.cancel(futures[i + 1 :])
                _name_batch(exc, i, n, labels, f"on the Dask cluster at {self.address}")
                if isinstance(exc, ImportError):
                    exc.add_note(
                        "the Dask workers need chronoguard installed, the same version as "
                        "the client"
                    )
                raise
            if on_done is not None:
                on_done(i + 1, n)
        return out

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r})"


AnyExecutor = SerialExecutor | ProcessExecutor | DaskExecutor


class ReportingExecutor:
    """An executor that also reports each finished batch to ``report(done, total)``.

    For callers that hand an executor to code that maps without a progress callback of
    its own (the reference profile of a training): the work and its results are the inner
    executor's, unchanged.
    """

    def __init__(self, inner: Executor, report: Callable[[int, int], None]) -> None:
        self.inner = inner
        self.report = report

    def map(
        self,
        fn: Callable[[T], R],
        batches: Sequence[T],
        *,
        labels: Sequence[str] | None = None,
        on_done: Callable[[int, int], None] | None = None,
    ) -> list[R]:
        def done(i: int, n: int) -> None:
            self.report(i, n)
            if on_done is not None:
                on_done(i, n)

        return self.inner.map(fn, batches, labels=labels, on_done=done)

    def __repr__(self) -> str:
        return f"ReportingExecutor({self.inner!r})"


@contextmanager
def open_executor(
    backend: Backend,
    *,
    workers: int | None = None,
    address: str | None = None,
    timeout: float = 10.0,
) -> Iterator[AnyExecutor]:
    """The executor of ``backend``, closed on exit.

    ``"dask"`` connects to ``address`` here, so a scheduler that does not answer fails
    before the caller does anything.

    >>> with open_executor("serial") as ex:
    ...     ex.map(sum, [[1, 2], [3, 4]])
    [3, 7]
    """
    ex: AnyExecutor
    if backend == "serial":
        ex = SerialExecutor()
    elif backend == "processes":
        # One pool per worker count for the whole process, started at its first use with
        # more than one batch and kept: a replay or a scheduler trains many times, and
        # starting interpreters that import the scientific stack costs seconds each time.
        yield _shared_pool(workers)
        return
    elif backend == "dask":
        if not address:
            raise ComputeUnavailableError(
                'compute.backend = "dask" needs compute.address, the scheduler\'s address '
                '(e.g. address = "tcp://10.0.0.5:8786")'
            )
        ex = DaskExecutor(address, timeout=timeout)
    else:
        raise ComputeUnavailableError(
            f"unknown compute backend {backend!r}; use one of {', '.join(BACKENDS)}"
        )
    try:
        yield ex
    finally:
        ex.close()


_POOLS: dict[int | None, ProcessExecutor] = {}


def _shared_pool(workers: int | None) -> ProcessExecutor:
    """The process's :class:`ProcessExecutor` with ``workers`` processes, shut down when the
    interpreter exits."""
    key = workers or None
    if key not in _POOLS:
        if not _POOLS:
            atexit.register(_close_pools)
        _POOLS[key] = ProcessExecutor(key)
    return _POOLS[key]


def _close_pools() -> None:
    for pool in _POOLS.values():
        pool.close()
    _POOLS.clear()
