"""Shared fixtures. Backends: every test taking ``store_url`` runs on SQLite and PostgreSQL.

The PostgreSQL server is named by ``CHRONOGUARD_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). If it cannot be reached the
PostgreSQL half is skipped, unless ``CHRONOGUARD_REQUIRE_PG=1`` (CI), then it fails.
Each PostgreSQL test gets a fresh schema (``cg_test_<random>``), selected through the
URL's ``options=-csearch_path=...``, and dropped afterwards, so parallel runs never meet.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from chronoguard.store import Store

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get("CHRONOGUARD_TEST_PG_URL", PG_DEFAULT_URL)


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL without a schema (for tests of ``Store.open(schema=...)``)."""
    return pg_base_url()


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An engine on the test server, for creating and dropping per-test schemas."""
    engine = create_engine(pg_base_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        shown = make_url(pg_base_url()).render_as_string(hide_password=True)
        message = f"PostgreSQL at {shown} is unreachable: {exc.orig}"
        if os.environ.get("CHRONOGUARD_REQUIRE_PG") == "1":
            pytest.fail(message + " (CHRONOGUARD_REQUIRE_PG=1)")
        pytest.skip(message)
    yield engine
    engine.dispose()


def pg_schema_url(schema: str) -> str:
    """The URL of ``schema`` on the test server (every connection's ``search_path``)."""
    url = make_url(pg_base_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_pg_schema(admin: Engine) -> Iterator[str]:
    """Create a fresh, empty schema on the test server; drop it at the end of the block."""
    schema = f"cg_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def pg_schema(pg_admin: Engine) -> Iterator[str]:
    """A fresh, empty schema on the test server, dropped after the test."""
    with fresh_pg_schema(pg_admin) as schema:
        yield schema


@dataclass(frozen=True)
class PgSchema:
    name: str
    url: str


class PgSchemas:
    """Fresh schemas on demand, for a fixture wider than one test (a module's replay) or a
    test that needs several databases (one per copy of a workspace)."""

    def __init__(self, admin: Engine) -> None:
        self.admin = admin

    @contextmanager
    def fresh(self) -> Iterator[PgSchema]:
        """A fresh, empty schema and its URL, dropped at the end of the block."""
        with fresh_pg_schema(self.admin) as schema:
            yield PgSchema(schema, pg_schema_url(schema))


@pytest.fixture(scope="session")
def pg_schemas(pg_admin: Engine) -> PgSchemas:
    """Makes schemas like ``pg_schema`` does, at any scope (skips or fails like it)."""
    return PgSchemas(pg_admin)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'state.db'}"
    return pg_schema_url(request.getfixturevalue("pg_schema"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    s = Store.open(store_url)
    yield s
    s.close()


@pytest.fixture
def raw_engine(store_url: str) -> Iterator[Engine]:
    """A plain engine on the same database, for what the store API must not allow."""
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
