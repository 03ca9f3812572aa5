"""Workspace locks: one cycle, promotion or rollback at a time on one store.

A lock must be released when its holder dies, however it dies (``kill -9``, a power cut,
an OOM kill), with no timeout to wait out. So the lock is never a row: a row written by
a process killed with SIGKILL stays behind, and whoever comes next cannot tell a dead
holder from a slow one without a lease and a clock. Each backend instead uses a lock
the operating system or the database server drops with the process:

- SQLite file: ``flock`` on a sidecar file ``<db>.<name>.lock``; the kernel releases it
  when the last descriptor of the holder closes, which process exit does.
- PostgreSQL: a session advisory lock held on a dedicated connection; the server
  releases it when that connection ends, which the holder's death does.
- In-memory SQLite (``sqlite://``): the database lives in one process, so a lock of that
  process (one per store instance) is enough.

Who holds a lock (free text from the caller, and since when) is written next to it only
for the busy message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError

from chronoguard.errors import StoreError, WorkspaceBusyError
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._models import LockHolderRow
from chronoguard.store._session import map_errors

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_INFO_BYTES = 64 * 1024


def _busy(name: str, where: str, holder: str | None, since: object) -> WorkspaceBusyError:
    who = (
        f"held by {holder} since {since}"
        if holder
        else "held by a process that has not recorded itself yet"
    )
    return WorkspaceBusyError(
        f"the workspace lock {name!r} of the store at {where} is {who}. Wait for it to "
        "finish, or if that process is gone, run the command again: the lock is released "
        "when its process dies."
    )


class LocalLocks:
    """Process-local locks of one in-memory store."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: dict[str, tuple[str, datetime]] = {}

    @contextmanager
    def hold(self, name: str, holder: str, when: datetime, where: str) -> Iterator[None]:
        with self._mutex:
            if name in self._held:
                raise _busy(name, where, *self._held[name])
            self._held[name] = (holder, when)
        try:
            yield
        finally:
            with self._mutex:
                del self._held[name]


def lock_file(database: str, name: str) -> Path:
    """The sidecar file of lock ``name`` of the SQLite database at ``database``."""
    db = Path(database).resolve()
    return db.with_name(f"{db.name}.{name}.lock")


@contextmanager
def _hold_file(path: Path, name: str, holder: str, when: datetime, where: str) -> Iterator[None]:
    # Imported here so the store still imports where fcntl does not exist (Windows).
    import fcntl

    # The file is never deleted: unlinking a lock file races with a process that opened it
    # just before, which would then lock an orphan inode while a third locks a new file.
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot open the lock file {path} of the workspace lock {name!r}: {exc}; the "
            "workspace folder must be writable"
        ) from exc
    try:
        # flock (not fcntl's POSIX record locks): it conflicts between two descriptors of
        # the same process too, so a second acquisition here is refused like any other.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            info = json.loads(os.pread(fd, _INFO_BYTES, 0).decode("utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        os.close(fd)
        raise _busy(name, where, info.get("holder"), info.get("acquired_at")) from None
    except OSError as exc:
        os.close(fd)
        raise StoreError(
            f"cannot take the workspace lock {name!r} on {path}: {exc}; the workspace needs "
            "a local filesystem that supports file locks"
        ) from exc
    try:
        info_text = json.dumps({"holder": holder, "acquired_at": str(when)})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info_text.encode("utf-8"), 0)
        yield
    finally:
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def advisory_key(schema: str, name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` from the schema and lock name."""
    digest = hashlib.sha256(f"chronoguard.lock\0{schema}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _release_pg(conn: Connection, name: str, key: int) -> None:
    try:
        conn.execute(delete(LockHolderRow).where(LockHolderRow.name == name))
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    except SQLAlchemyError:
        # Ending the session releases its advisory locks; a connection that cannot even
        # unlock is not handed back to the pool still holding one.
        conn.invalidate()


@contextmanager
def _hold_pg(engine: Engine, name: str, holder: str, when: datetime, where: str) -> Iterator[None]:
    what = f"taking the workspace lock {name!r}"
    with map_errors(what):
        # Autocommit: the connection sits idle for the whole cycle, and an open transaction
        # there would hold back vacuum (or be ended by idle_in_transaction_session_timeout,
        # taking the lock with it).
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    row: Any = None
    try:
        with map_errors(what):
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            key = advisory_key(str(schema), name)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            if not got:
                row = conn.execute(
                    select(LockHolderRow.holder, LockHolderRow.acquired_at).where(
                        LockHolderRow.name == name
                    )
                ).first()
        if not got:
            raise _busy(name, where, *(row or (None, None)))
        try:
            with map_errors(what):
                upsert = pg_insert(LockHolderRow).values(name=name, holder=holder, acquired_at=when)
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=[LockHolderRow.name],
                        set_={"holder": holder, "acquired_at": when},
                    )
                )
            yield
        finally:
            _release_pg(conn, name, key)
    finally:
        conn.close()


def hold(
    engine: Engine,
    local: LocalLocks,
    name: str,
    *,
    holder: str,
    at: datetime,
    where: str,
) -> AbstractContextManager[None]:
    """Validate, then pick the lock of the backend (see the module docstring)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise StoreError(
            f"lock name {name!r} must be 1-100 letters, digits, '_', '.' or '-', starting "
            "with a letter or digit (it names a file next to the database)"
        )
    if not isinstance(holder, str) or not holder.strip():
        raise StoreError(
            f"holder must say who takes the lock (e.g. 'cycle pid 123 on host x'), got {holder!r}"
        )
    when = to_utc_naive(at, "at")
    if engine.dialect.name == "postgresql":
        return _hold_pg(engine, name, holder, when, where)
    database = engine.url.database
    if database in (None, "", ":memory:"):
        return local.hold(name, holder, when, where)
    assert database is not None
    return _hold_file(lock_file(database, name), name, holder, when, where)
