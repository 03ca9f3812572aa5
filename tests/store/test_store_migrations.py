"""Opening the store: migrations from empty, refusing outdated or newer schemas, SQLite pragmas."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from chronoguard.errors import SchemaOutdatedError, StoreError
from chronoguard.store import Store
from chronoguard.store._engine import make_engine, parse_url
from chronoguard.store._migrate import VERSION_TABLE, downgrade, head_revision, upgrade
from chronoguard.store._models import Base

TABLES = {
    "cg_forecasts",
    "cg_actuals",
    "cg_monitoring_results",
    "cg_alerts",
    "cg_alias_history",
    "cg_model_versions",
    "cg_version_status_history",
    "cg_retrain_decisions",
    "cg_audit_log",
    "cg_deployments",
    "cg_deployment_moves",
    "cg_series_checks",
    "cg_series_decisions",
    "cg_cycles",
    "cg_intents",
    "cg_lock_holders",
    "cg_alert_episodes",
    "cg_alert_outbox",
}


def _engine(url: str) -> Engine:
    """The store's own engine setup (pragmas, BEGIN handling) without opening a Store."""
    return make_engine(parse_url(url), schema=None)


def test_open_migrates_an_empty_database_to_head(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert store.schema_revision() == head_revision() == "r0010_audit_times"
    engine = create_engine(store_url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert TABLES | {VERSION_TABLE} <= names
    # Our version table, not Alembic's default one, which MLflow may own in the same database.
    assert "alembic_version" not in names


def test_models_and_migrations_describe_the_same_schema(store: Store, raw_engine: Engine) -> None:
    with raw_engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_refuses_an_outdated_schema_without_migrate(store_url: str) -> None:
    engine = _engine(store_url)
    upgrade(engine, "r0001_initial")
    engine.dispose()
    with pytest.raises(SchemaOutdatedError) as err:
        Store.open(store_url, migrate=False)
    message = str(err.value)
    assert "'r0001_initial'" in message
    assert "'r0010_audit_times'" in message
    assert "run `chronoguard init`" in message


def test_refuses_an_empty_database_without_migrate(store_url: str) -> None:
    with pytest.raises(SchemaOutdatedError, match=r"revision none \(empty database\)"):
        Store.open(store_url, migrate=False)


def test_open_migrates_an_outdated_schema(store_url: str, raw_engine: Engine) -> None:
    engine = _engine(store_url)
    upgrade(engine, "r0001_initial")
    engine.dispose()
    with Store.open(store_url) as store:
        assert store.schema_revision() == head_revision()
    with Store.open(store_url, migrate=False) as store:
        assert store.schema_revision() == head_revision()


def test_downgrade_to_base_and_upgrade_again(store_url: str, raw_engine: Engine) -> None:
    Store.open(store_url).close()
    engine = _engine(store_url)
    downgrade(engine, "base")
    assert not TABLES & set(inspect(raw_engine).get_table_names())
    upgrade(engine)
    engine.dispose()
    assert set(inspect(raw_engine).get_table_names()) >= TABLES


def test_refuses_a_schema_from_a_newer_chronoguard(store_url: str, raw_engine: Engine) -> None:
    Store.open(store_url).close()
    with raw_engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'r9999_future'"))
    for migrate in (True, False):
        with pytest.raises(StoreError, match=r"'r9999_future'.*newer chronoguard"):
            Store.open(store_url, migrate=migrate)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store.open(path) as store:
        assert store.dialect == "sqlite"
        with store._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    # journal_mode=WAL is persistent: a fresh connection that set nothing still sees it.
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


def test_sqlite_store_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"does not exist.*chronoguard init"):
        Store.open(tmp_path / "no-such-workspace" / "state.db")


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(StoreError, match=r"SQLite and PostgreSQL, not 'mysql'"):
        Store.open("mysql://user@localhost/db")


def test_unreachable_postgres_is_a_store_error() -> None:
    # Port 1 refuses connections at once; the driver's error must not leak unwrapped.
    with pytest.raises(StoreError, match=r"opening the store at postgresql\+psycopg://"):
        Store.open("postgresql+psycopg://postgres@127.0.0.1:1/test")


@pytest.mark.postgres
def test_schema_argument_creates_and_uses_the_schema(pg_admin: Engine, pg_url: str) -> None:
    schema = f"cg_test_{uuid.uuid4().hex[:12]}"
    try:
        with Store.open(pg_url, schema=schema) as store:
            store.audit("note", "test", {}, by="t", at=datetime(2024, 1, 1))
        tables = set(inspect(pg_admin).get_table_names(schema=schema))
        assert TABLES | {VERSION_TABLE} <= tables
        # Nothing leaked into the default schema.
        assert "cg_audit_log" not in set(inspect(pg_admin).get_table_names(schema="public"))
    finally:
        with pg_admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def test_schema_argument_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="SQLite has no schemas"):
        Store.open(tmp_path / "state.db", schema="x")


def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    """A server and a scheduler starting together on an empty database must both succeed."""
    errors: list[BaseException] = []

    def first_open() -> None:
        try:
            Store.open(store_url).close()
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=first_open, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # a lock bug shows as a hang; fail instead of waiting forever
    assert not any(t.is_alive() for t in threads), "writers deadlocked"
    assert errors == []
    with Store.open(store_url, migrate=False) as store:
        assert store.schema_revision() == head_revision()


def test_watch_kinds_migrate_and_are_checked(store_url: str) -> None:
    engine = _engine(store_url)
    upgrade(engine, "r0007_decision_group")
    insert = (
        "INSERT INTO cg_watches (model_name, unique_id, opened_at, version, previous_version, "
        "periods, status{kind}) VALUES ('m', :u, :t, '2', '1', 6, :status{kind_value})"
    )
    with engine.begin() as conn:  # a watch from before kinds
        conn.execute(
            text(insert.format(kind="", kind_value="")),
            {"u": "old", "t": datetime(2020, 1, 1), "status": "open"},
        )
    upgrade(engine, "head")
    with engine.begin() as conn:
        kind = conn.execute(text("SELECT kind FROM cg_watches WHERE unique_id = 'old'")).scalar()
        assert kind == "watch"  # an existing watch is a post-promotion watch
        conn.execute(
            text(insert.format(kind=", kind", kind_value=", :kind")),
            {"u": "trial", "t": datetime(2020, 2, 1), "status": "promoted", "kind": "shadow"},
        )
    for status, kind in (("promoted", "bogus"), ("bogus", "shadow")):
        with pytest.raises(Exception, match=r"(?i)check"), engine.begin() as conn:
            conn.execute(
                text(insert.format(kind=", kind", kind_value=", :kind")),
                {
                    "u": f"bad-{status}-{kind}",
                    "t": datetime(2020, 3, 1),
                    "status": status,
                    "kind": kind,
                },
            )
    downgrade(engine, "r0007_decision_group")
    with engine.begin() as conn:
        cols = {c["name"] for c in inspect(conn).get_columns("cg_watches")}
    assert "kind" not in cols
    engine.dispose()
