"""Run the Alembic migrations shipped inside the package, without an ``alembic.ini``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text

from chronoguard.errors import SchemaOutdatedError, StoreError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Must match ``VERSION_TABLE`` in migrations/env.py (env.py is loaded by Alembic as a
# script, so it cannot be imported from here without running it).
VERSION_TABLE = "chronoguard_schema_version"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@cache
def head_revision() -> str:
    """The newest schema revision this chronoguard knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR}; the install is broken")
    return head


def known_revisions() -> set[str]:
    """Every revision id shipped with this chronoguard."""
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` in one transaction (PostgreSQL and SQLite both
    run DDL transactionally, so a failed migration leaves the schema as it was)."""
    _check_known(engine)
    cfg = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting at once (server and scheduler) would both create the
            # tables; the second waits here, then finds the schema current. SQLite gets
            # the same from BEGIN IMMEDIATE.
            conn.execute(
                text(
                    "SELECT pg_advisory_xact_lock(hashtext('chronoguard.migrate.' || current_schema()))"
                )
            )
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, revision)
        except CommandError as exc:
            raise StoreError(f"cannot migrate the store to {revision!r}: {exc}") from exc


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"`` drops everything)."""
    _check_known(engine)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        try:
            command.downgrade(cfg, revision)
        except CommandError as exc:
            raise StoreError(f"cannot migrate the store down to {revision!r}: {exc}") from exc


def _check_known(engine: Engine) -> str | None:
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"the store's schema is at revision {current!r}, which this chronoguard does not "
            f"know (newest known: {head_revision()!r}); it was written by a newer chronoguard. "
            "Upgrade chronoguard to use this store."
        )
    return current


def ensure_current(engine: Engine, where: str) -> None:
    """Refuse to run on a schema older than this chronoguard (``migrate=False``)."""
    current = _check_known(engine)
    head = head_revision()
    if current != head:
        shown = "none (empty database)" if current is None else repr(current)
        raise SchemaOutdatedError(
            f"the store at {where} has schema revision {shown}, but this chronoguard expects "
            f"{head!r}; run `chronoguard init` to migrate it."
        )
