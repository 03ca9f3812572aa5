from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chronoguard.errors import ChronoguardError, UnknownVersionError
from chronoguard.lifecycle import deploy_series, init_workspace, rollback_series, train_version
from tests.helpers import seatbelts, small_config

T = pd.Timestamp("1980-01-01")


@pytest.fixture
def ws(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch):
    # The workspace's state store on each backend: SQLite and the real PostgreSQL.
    monkeypatch.setenv("CHRONOGUARD_STORE_URL", store_url)
    cfg = small_config(model={"name": "SeasonalNaive"}, training={"backtest_windows": 1})
    with init_workspace(tmp_path / "ws", cfg) as w:
        for i, until in enumerate(("1976-12-01", "1977-12-01", "1978-12-01")):
            data = seatbelts(until)
            tv = train_version(
                data, cfg, w.registry, freq="MS", now=pd.Timestamp(until), trigger=f"t{i}"
            )
            deploy_series(
                w,
                {"uk_drivers_ksi": tv.version.version},
                by="tester",
                reason=f"p{i}",
                at=T + pd.DateOffset(months=i),
            )
        yield w


def test_rollback_restores_previous_champions_in_order(ws) -> None:
    assert ws.registry.get_alias(ws.model_name, "champion") == "3"
    (ch,) = rollback_series(
        ws, None, by="oncall", reason="bad week", at=T + pd.DateOffset(months=5)
    )
    assert (ch.previous_version, ch.version) == ("3", "2")
    assert ws.registry.get_alias(ws.model_name, "champion") == "2"
    (ch,) = rollback_series(
        ws, ["uk_drivers_ksi"], by="oncall", reason="still bad", at=T + pd.DateOffset(months=6)
    )
    assert ch.version == "1"  # not back to 3: it was rolled back from
    with pytest.raises(ChronoguardError, match="no earlier version"):
        rollback_series(ws, None, by="oncall", reason="again", at=T + pd.DateOffset(months=7))
    moves = ws.store.deployment_history(ws.model_name)
    assert [m.version for m in moves] == ["1", "2", "3", "2", "1"]
    history = ws.store.alias_history(ws.model_name, "champion")
    assert [m.version for m in history] == ["1", "2", "3", "2", "1"]
    assert history[-1].moved_by == "oncall" and history[-1].reason.startswith("rollback: still bad")
    statuses = {v.version: v.status for v in ws.store.list_versions(ws.model_name)}
    assert statuses == {"1": "champion", "2": "retired", "3": "retired"}
    assert ws.store.verify_audit_chain().ok


def test_deploying_an_unknown_version_changes_nothing(ws) -> None:
    before = ws.store.alias_history(ws.model_name, "champion")
    with pytest.raises(UnknownVersionError, match="no version 42"):
        deploy_series(ws, {"uk_drivers_ksi": "42"}, by="x", reason="y", at=T)
    assert ws.store.alias_history(ws.model_name, "champion") == before
    assert ws.store.get_deployment(ws.model_name).versions == {"uk_drivers_ksi": "3"}
    assert ws.registry.get_alias(ws.model_name, "champion") == "3"


def test_failed_store_write_leaves_the_alias_where_it_was(ws) -> None:
    # A real failure inside the store transaction (a status the schema refuses) must roll the
    # alias move back too.
    from chronoguard.lifecycle import move_alias

    with pytest.raises(ChronoguardError):
        move_alias(
            ws.registry,
            ws.store,
            ws.model_name,
            "champion",
            "1",
            by="x",
            reason="y",
            at=T,
            status="not-a-status",
        )
    assert ws.registry.get_alias(ws.model_name, "champion") == "3"
    assert [m.version for m in ws.store.alias_history(ws.model_name, "champion")] == ["1", "2", "3"]
