"""A real Dask cluster for the compute tests: two worker processes on this machine."""

from __future__ import annotations

from collections.abc import Iterator

import distributed
import pytest


@pytest.fixture(scope="session")
def dask_address() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address
