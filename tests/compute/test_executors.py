"""Executors return results in the order of the batches, wherever they ran, and an error
in a batch comes back as it was raised, with the batch named."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chronoguard.compute import (
    ComputeUnavailableError,
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    in_batches,
    open_executor,
)
from tests.compute.work import fail_on_seven, pid, squares

BATCHES = [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


@pytest.fixture(params=["serial", "processes", "dask"])
def executor(request: pytest.FixtureRequest) -> Iterator[object]:
    if request.param == "serial":
        yield SerialExecutor()
    elif request.param == "processes":
        with ProcessExecutor(2) as ex:
            yield ex
    else:
        with DaskExecutor(request.getfixturevalue("dask_address"), timeout=10) as ex:
            yield ex


def test_results_come_back_in_the_order_of_the_batches(executor) -> None:
    # the first batches sleep longest, so on two workers they finish after later ones
    assert executor.map(squares, BATCHES) == [[x * x for x in b] for b in BATCHES]
    assert executor.map(squares, []) == []


def test_an_error_in_a_batch_is_raised_as_it_was_with_the_batch_named(executor) -> None:
    labels = [f"series {b[0]} … {b[-1]}" for b in BATCHES]
    with pytest.raises(ValueError, match=r"bad value 7 in \[6, 7\]") as info:
        executor.map(fail_on_seven, BATCHES, labels=labels)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "in batch 4 of 5 (series 6 … 7)" in notes, notes


def test_one_batch_runs_in_this_process_and_more_run_in_the_pool() -> None:
    with ProcessExecutor(2) as ex:
        assert ex.map(pid, [[1]]) == [os.getpid()]  # no pool started for one batch
        pids = ex.map(pid, [[1], [2], [3], [4]])
    assert os.getpid() not in pids
    with ProcessExecutor(1) as one:
        assert one.map(pid, [[1], [2]]) == [os.getpid()] * 2


def test_batches_keep_order_and_are_as_even_as_possible() -> None:
    ids = [f"s{i:03d}" for i in range(110)]
    parts = in_batches(ids, 50)
    assert [len(p) for p in parts] == [37, 37, 36]
    assert [x for p in parts for x in p] == ids
    assert in_batches(ids[:3], 50) == [ids[:3]]
    assert [len(p) for p in in_batches(ids[:7], 1)] == [1] * 7
    with pytest.raises(ValueError, match="at least 1"):
        in_batches(ids, 0)


def _port_nobody_listens_on() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_dask_address_that_does_not_answer_names_it_and_the_fix() -> None:
    address = f"tcp://127.0.0.1:{_port_nobody_listens_on()}"
    t0 = time.perf_counter()
    with (
        pytest.raises(ComputeUnavailableError) as info,
        open_executor("dask", address=address, timeout=0.5),
    ):
        pytest.fail("the executor opened on an address that does not answer")
    assert time.perf_counter() - t0 < 10
    message = str(info.value)
    assert address in message
    assert "did not answer within 0.5 s" in message
    assert "compute.address" in message and 'compute.backend = "processes"' in message


def test_a_dask_address_that_is_not_an_address_is_refused_clearly() -> None:
    with pytest.raises(ComputeUnavailableError, match="'not-an-address' is not a Dask scheduler"):
        DaskExecutor("not-an-address", timeout=0.5)


def test_dask_without_an_address_is_refused() -> None:
    with (
        pytest.raises(ComputeUnavailableError, match=r"needs compute\.address"),
        open_executor("dask"),
    ):
        pass


def test_a_script_without_an_entry_point_guard_gets_the_fix_not_a_broken_pool(
    tmp_path: Path,
) -> None:
    """Each spawned worker imports the script again; unguarded, it starts a pool of its own
    and dies. The script's user is told to guard it (or to run serial)."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from chronoguard.compute import ProcessExecutor\n"
        "from tests.compute.work import squares\n"
        "with ProcessExecutor(2) as ex:\n"
        "    print(ex.map(squares, [[1], [2]]))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300
    )
    assert res.returncode != 0
    assert "ComputeUnavailableError" in res.stderr
    assert 'if __name__ == "__main__":' in res.stderr and 'backend = "serial"' in res.stderr
    guarded = tmp_path / "guarded.py"
    guarded.write_text(
        "from chronoguard.compute import ProcessExecutor\n"
        "from tests.compute.work import squares\n"
        "if __name__ == '__main__':\n"
        "    with ProcessExecutor(2) as ex:\n"
        "        print(ex.map(squares, [[1], [2]]))\n"
    )
    ok = subprocess.run(
        [sys.executable, str(guarded)], capture_output=True, text=True, env=env, timeout=300
    )
    assert ok.returncode == 0 and ok.stdout.strip() == "[[1], [4]]", ok.stderr
