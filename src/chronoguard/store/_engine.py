"""Engines for the two supported backends: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from chronoguard.errors import StoreError

# How long a SQLite writer waits for another process's write lock before failing.
BUSY_TIMEOUT_MS = 30_000
# Execution option read by the SQLite ``begin`` hook: writers start with BEGIN IMMEDIATE.
BEGIN_MODE = "chronoguard_sqlite_begin"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def parse_url(url: str | Path) -> URL:
    """A SQLAlchemy URL; a filesystem path (no ``://``) means a SQLite file."""
    if isinstance(url, Path) or "://" not in url:
        return URL.create("sqlite", database=str(Path(url).expanduser().resolve()))
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse the store URL {url!r}: {exc}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"the store supports SQLite and PostgreSQL, not {parsed.get_backend_name()!r} "
            f"({parsed.render_as_string(hide_password=True)}); use sqlite:///path/state.db "
            "or postgresql+psycopg://user@host/db"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Bare ``postgresql://`` means psycopg2 to SQLAlchemy; chronoguard ships psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: URL, *, schema: str | None) -> Engine:
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise StoreError(f"schema={schema!r} is for PostgreSQL; SQLite has no schemas")
        return _sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(
                f"schema {schema!r} is not a plain identifier (letters, digits, underscore)"
            )
        # Every connection resolves unqualified names in ``schema``: tables, the Alembic
        # version table and the audit trigger function all live there.
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _set_wal(cursor: Any) -> None:
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {}
    if memory:
        # One shared connection, or every pooled connection would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        assert url.database is not None
        folder = Path(url.database).parent
        if not folder.is_dir():
            raise StoreError(
                f"the folder of the SQLite store {url.database} does not exist; create the "
                "workspace first (`chronoguard init`)"
            )
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (it skips it for SELECT and DDL, which
        # breaks atomic migrations); the ``begin`` hook below emits it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not memory:
            # WAL lets the dashboard read while a monitoring run writes. WAL is stored in
            # the file, so only the first connection switches; switching needs a lock that
            # SQLite does not wait for (no busy handler), so concurrent first opens retry.
            _set_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads, then
        # writes, fails at once with "database is locked" when another writer committed
        # in between, whatever the busy timeout.
        mode = conn.get_execution_options().get(BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, whose transactions start with the write lock on SQLite."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{BEGIN_MODE: "IMMEDIATE"})
    return engine
