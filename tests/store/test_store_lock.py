"""The workspace lock: one holder at a time across processes, released when the holder
dies (SIGKILL included), on a SQLite file, PostgreSQL and an in-memory store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chronoguard.errors import StoreError, WorkspaceBusyError
from chronoguard.store import Store
from chronoguard.store._lock import lock_file
from tests.helpers import readline_within

AT = datetime(2024, 5, 1, 12, 30)

# Opens the store, takes the lock, says so, then holds it until killed (or, with a
# fourth argument, tries once and prints what happened).
HOLDER = """
import sys, time
from datetime import datetime
from chronoguard.errors import WorkspaceBusyError
from chronoguard.store import Store

url, name, holder = sys.argv[1:4]
store = Store.open(url)
try:
    with store.lock(name, holder=holder, at=datetime(2024, 5, 1, 12, 30)):
        print("held", flush=True)
        if len(sys.argv) > 4:
            sys.exit(0)
        time.sleep(600)
except WorkspaceBusyError as exc:
    print("busy:", exc, flush=True)
"""


@contextmanager
def holder_process(url: str, name: str, holder: str) -> Iterator[subprocess.Popen[str]]:
    """A child process holding lock ``name``; killed (if still alive) on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, name, holder],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = readline_within(proc.stdout, 120)
        if line.strip() != "held":
            proc.kill()
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"the holder did not take the lock: {line!r}\n{err}")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def try_once(url: str, name: str) -> str:
    """What a separate process gets when it tries to take lock ``name``."""
    out = subprocess.run(
        [sys.executable, "-c", HOLDER, url, name, "second process", "once"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.strip()


def test_the_lock_is_exclusive_across_processes_and_dies_with_its_holder(
    store_url: str,
) -> None:
    Store.open(store_url).close()  # migrate first, so the child only opens
    url = store_url
    with (
        holder_process(url, "cycle-demand", "cycle pid 4242 on host x") as proc,
        Store.open(url) as store,
    ):
        with (
            pytest.raises(WorkspaceBusyError) as err,
            store.lock("cycle-demand", holder="me", at=AT),
        ):
            pytest.fail("took a lock another process holds")
        message = str(err.value)
        assert "'cycle-demand'" in message
        assert "held by cycle pid 4242 on host x since 2024-05-01 12:30:00" in message
        assert "wait for it to finish, or if that process is gone, run the command" in (
            message.lower()
        )
        # Another lock name is another lock.
        with store.lock("promote-demand", holder="me", at=AT):
            pass

        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        taken = _take_soon(store, "cycle-demand")
        assert taken < 5.0, f"the lock of a killed holder took {taken:.1f}s to free"
        # Held here now: a separate process is refused, naming this holder.
        with store.lock("cycle-demand", holder="cycle pid 7 on host y", at=AT):
            busy = try_once(url, "cycle-demand")
            assert busy.startswith("busy:") and "cycle pid 7 on host y" in busy
        # Released at the end of the block: the other process can take it.
        assert try_once(url, "cycle-demand") == "held"


def _take_soon(store: Store, name: str) -> float:
    """Seconds until ``name`` could be taken (a file lock frees as the holder is reaped;
    the PostgreSQL server frees an advisory lock when it sees the connection close,
    within milliseconds, so only a short wait is allowed and measured)."""
    start = time.monotonic()
    while True:
        try:
            with store.lock(name, holder="after the kill", at=AT):
                return time.monotonic() - start
        except WorkspaceBusyError:
            if time.monotonic() - start > 5.0:
                raise
            time.sleep(0.02)


def test_a_sqlite_file_lock_frees_at_once_after_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url).close()
    with holder_process(url, "cycle", "cycle pid 1 on host z") as proc, Store.open(url) as store:
        with pytest.raises(WorkspaceBusyError, match="cycle pid 1 on host z"):
            store.lock("cycle", holder="me", at=AT).__enter__()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # No wait at all: the kernel dropped the flock when the process died.
        with store.lock("cycle", holder="me", at=AT):
            pass
    sidecar = lock_file(str(tmp_path / "state.db"), "cycle")
    assert sidecar == tmp_path / "state.db.cycle.lock" and sidecar.exists()


def test_a_second_acquisition_in_the_same_process_is_refused(store_url: str) -> None:
    with Store.open(store_url) as store, Store.open(store_url) as other:
        with store.lock("cycle", holder="first", at=AT):
            for s in (store, other):  # same store object, or another one on the same database
                with (
                    pytest.raises(WorkspaceBusyError, match="held by first since"),
                    s.lock("cycle", holder="second", at=AT),
                ):
                    pass
        with other.lock("cycle", holder="second", at=AT):
            pass


def test_the_lock_is_released_when_the_block_raises(store_url: str) -> None:
    with Store.open(store_url) as store:
        with pytest.raises(RuntimeError), store.lock("cycle", holder="first", at=AT):
            raise RuntimeError("the cycle failed")
        with store.lock("cycle", holder="again", at=AT):
            pass


def test_store_writes_inside_a_held_lock(store_url: str) -> None:
    with Store.open(store_url) as store:
        with store.lock("cycle", holder="cycle", at=AT):
            store.deploy("demand", {"s1": "1"}, by="a", reason="r", at=AT)
            with store.transaction():
                store.begin_cycle("demand", AT, at=AT)
        assert store.get_deployment("demand").versions == {"s1": "1"}
        assert store.verify_audit_chain().ok


def test_the_file_lock_records_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with Store.open(db) as store:
        sidecar = tmp_path / "state.db.cycle.lock"
        with store.lock("cycle", holder="cycle pid 9", at=AT):
            info = json.loads(sidecar.read_text())
            assert info == {"holder": "cycle pid 9", "acquired_at": "2024-05-01 12:30:00"}
        assert sidecar.read_text() == ""  # released: nobody claims it


def test_in_memory_stores_lock_within_the_process() -> None:
    with Store.open("sqlite://") as store, Store.open("sqlite://") as other:
        with store.lock("cycle", holder="first", at=AT):
            with (
                pytest.raises(WorkspaceBusyError, match=r"'cycle' of the store at sqlite://"),
                store.lock("cycle", holder="second", at=AT),
            ):
                pass
            # Another in-memory store is another database, with its own locks.
            with other.lock("cycle", holder="elsewhere", at=AT):
                pass
        with store.lock("cycle", holder="again", at=AT):
            pass


def test_bad_lock_names_and_holders_are_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        for bad in ("", "../x", "a/b", "x" * 101, ".hidden"):
            with pytest.raises(StoreError, match="lock name"):
                store.lock(bad, holder="me", at=AT)
        with pytest.raises(StoreError, match="holder must say who takes the lock"):
            store.lock("cycle", holder=" ", at=AT)
    assert not any(p.name.endswith(".lock") for p in tmp_path.iterdir())


def test_an_unwritable_workspace_is_a_store_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "state.db") as store:
        sidecar = tmp_path / "state.db.cycle.lock"
        sidecar.mkdir()  # a folder where the lock file should be: it cannot be opened
        with pytest.raises(StoreError, match=r"cannot open the lock file .*state\.db\.cycle\.lock"):
            store.lock("cycle", holder="me", at=AT).__enter__()


@pytest.mark.postgres
def test_postgres_locks_of_two_schemas_are_independent(
    pg_url: str, pg_schema: str, pg_admin: Engine
) -> None:
    other = f"{pg_schema}_b"
    try:
        with (
            Store.open(pg_url, schema=pg_schema) as a,
            Store.open(pg_url, schema=other) as b,
            a.lock("cycle", holder="a", at=AT),
            b.lock("cycle", holder="b", at=AT),
            pytest.raises(WorkspaceBusyError, match="held by a since"),
        ):
            a.lock("cycle", holder="again", at=AT).__enter__()
    finally:
        with pg_admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{other}" CASCADE'))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_no_lock_file_is_left_open(tmp_path: Path) -> None:
    """Each acquisition closes its descriptor (a leak would hold the lock forever)."""
    with Store.open(tmp_path / "state.db") as store:
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            with store.lock("cycle", holder="me", at=AT):
                pass
            with (
                pytest.raises(WorkspaceBusyError),
                store.lock("cycle", holder="x", at=AT),
                store.lock("cycle", holder="y", at=AT),
            ):
                pass
        assert len(os.listdir("/proc/self/fd")) == before
