"""Alembic environment of the chronoguard store.

Users never see this file: :func:`chronoguard.store._migrate.upgrade` builds the Alembic
configuration in code and hands over an open connection in
``config.attributes["connection"]``. A developer writing a new revision can still run
``alembic -x url=sqlite:///dev.db revision --autogenerate -m "..."`` with a throw-away
``alembic.ini`` whose ``script_location`` points here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from chronoguard.store._models import Base

VERSION_TABLE = "chronoguard_schema_version"

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Our own version table: MLflow keeps its ``alembic_version`` in the same
        # database in many deployments, and the two must not overwrite each other.
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("pass a database with `alembic -x url=...` or sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("the chronoguard store does not support offline (SQL script) migrations")
    run_migrations_online()


# Alembic installs ``context.config`` only while it runs this script; importing the module
# anywhere else (doctest collection, an IDE) must do nothing.
if hasattr(context, "config"):
    main()
