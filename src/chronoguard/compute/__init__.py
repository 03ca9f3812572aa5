"""Fan-out of per-series work in batches: in this process, local processes or a Dask cluster.

Work goes out in batches of series (:func:`in_batches`), never one task per series. An
:class:`Executor` maps a top-level function over the batches and returns the results in
order, so where the work ran never changes what it computed:

* :class:`SerialExecutor`: in this process;
* :class:`ProcessExecutor`: local processes (the default of ``[compute]``); one batch runs
  in this process, without starting a pool;
* :class:`DaskExecutor`: a Dask cluster by its scheduler's address (``pip install
  'chronoguard[dask]'``); a scheduler that does not answer fails before any work starts.
"""

from chronoguard.compute._batches import in_batches
from chronoguard.compute._errors import ComputeUnavailableError, MissingExtraError
from chronoguard.compute._executors import (
    BACKENDS,
    AnyExecutor,
    Backend,
    DaskExecutor,
    Executor,
    ProcessExecutor,
    ReportingExecutor,
    SerialExecutor,
    available_cpus,
    open_executor,
)

__all__ = [
    "BACKENDS",
    "AnyExecutor",
    "Backend",
    "ComputeUnavailableError",
    "DaskExecutor",
    "Executor",
    "MissingExtraError",
    "ProcessExecutor",
    "ReportingExecutor",
    "SerialExecutor",
    "available_cpus",
    "in_batches",
    "open_executor",
]
