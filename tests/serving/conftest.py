"""The serving tests' store backends: each module that asks for ``backend`` runs twice, on
its workspace's own SQLite file and on a fresh PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

STORE_URL = "CHRONOGUARD_STORE_URL"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def backend(request: pytest.FixtureRequest) -> Iterator[object]:
    """The store backend of the module's workspace: its own SQLite file, or a fresh
    PostgreSQL schema named by CHRONOGUARD_STORE_URL while the module runs (``None`` for
    SQLite, else the conftest's schema factory, for a second workspace of its own)."""
    if request.param == "sqlite":
        yield None
        return
    schemas = request.getfixturevalue("pg_schemas")
    with schemas.fresh() as pg, pytest.MonkeyPatch.context() as mp:
        mp.setenv(STORE_URL, pg.url)
        yield schemas
