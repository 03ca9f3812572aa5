"""Watches of promoted challengers on both backends: opened once, closed once, listed, and
the migration that adds them."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, inspect

from chronoguard.errors import StoreError
from chronoguard.store import Store, Watch, WatchClose
from chronoguard.store._engine import make_engine, parse_url
from chronoguard.store._migrate import downgrade, upgrade

AT = datetime(2024, 6, 1, 6)
T0 = datetime(2024, 6, 1)


def _watch(uid: str, version: str = "2", previous: str = "1", periods: int = 3) -> Watch:
    return Watch(
        model_name="demand",
        unique_id=uid,
        opened_at=T0,
        version=version,
        previous_version=previous,
        periods=periods,
    )


def _close(uid: str, status: str, err: float = 1.0) -> WatchClose:
    return WatchClose(
        unique_id=uid,
        opened_at=T0,
        status=status,
        closed_at=datetime(2024, 9, 1),
        challenger_error=err,
        previous_error=2.0,
        n_pairs=6,
        reason="challenger MAE 1.0 vs previous 2.0 on 6 targets",
    )


def _fields(w: Watch) -> dict[str, object]:
    return {f: getattr(w, f) for f in Watch.__slots__}


def test_a_watch_opens_once_and_closes_once(store: Store) -> None:
    opened = store.open_watches([_watch("a"), _watch("b")], at=AT, by="cycle")
    assert [w.unique_id for w in opened] == ["a", "b"]
    assert all(w.status == "open" and w.closed_at is None for w in opened)
    # Repeating the same writes (a resumed step) changes nothing and writes no audit row.
    audit = len(store.audit_log())
    assert store.open_watches([_watch("a")], at=AT, by="cycle") == []
    assert len(store.audit_log()) == audit
    with pytest.raises(StoreError, match="already has a watch"):
        store.open_watches([_watch("a", version="3")], at=AT)

    changed = store.close_watches("demand", [_close("a", "rolled_back")], at=AT, by="cycle")
    assert [(w.unique_id, w.status, w.n_pairs) for w in changed] == [("a", "rolled_back", 6)]
    assert store.close_watches("demand", [_close("a", "rolled_back")], at=AT) == []
    with pytest.raises(StoreError, match="already closed 'rolled_back'"):
        store.close_watches("demand", [_close("a", "confirmed")], at=AT)

    assert [w.unique_id for w in store.list_watches("demand", status="open")] == ["b"]
    closed = store.list_watches("demand", unique_id="a")
    assert closed[0].challenger_error == 1.0 and closed[0].previous_error == 2.0
    assert closed[0].reason.startswith("challenger MAE")
    assert [w.unique_id for w in store.list_watches("demand", closed_at=datetime(2024, 9, 1))] == [
        "a"
    ]
    assert store.list_watches("demand", closed_at=datetime(2024, 9, 2)) == []
    actions = [e.action for e in store.audit_log()]
    assert actions.count("open_watches") == 1 and actions.count("close_watches") == 1
    assert store.verify_audit_chain().ok


def test_bad_watches_are_refused_and_nothing_is_written(store: Store) -> None:
    for bad, match in (
        (_watch("a", periods=0), "periods must be an integer >= 1"),
        (Watch(**{**_fields(_watch("a")), "status": "confirmed"}), "opened with status 'open'"),
        (_watch("a", previous=""), "previous_version"),
    ):
        with pytest.raises(StoreError, match=match):
            store.open_watches([_watch("ok"), bad], at=AT)
    with pytest.raises(StoreError, match="repeats series"):
        store.open_watches([_watch("a"), _watch("a")], at=AT)
    assert store.list_watches("demand") == []
    with pytest.raises(StoreError, match="has no watch"):
        store.close_watches("demand", [_close("zz", "confirmed")], at=AT)
    store.open_watches([_watch("a")], at=AT)
    with pytest.raises(StoreError, match="not 'open'"):
        store.close_watches("demand", [_close("a", "open")], at=AT)
    with pytest.raises(StoreError, match="finite number"):
        store.close_watches("demand", [_close("a", "confirmed", err=float("nan"))], at=AT)
    assert store.list_watches("demand")[0].status == "open"
    with pytest.raises(StoreError, match="watch status"):
        store.list_watches("demand", status="maybe")


def test_the_watch_migration_goes_down_and_up(store_url: str, raw_engine: Engine) -> None:
    engine = make_engine(parse_url(store_url), schema=None)
    try:
        upgrade(engine, "head")
        with Store.open(store_url) as store:
            store.open_watches([_watch("a")], at=AT)
        downgrade(engine, "r0003_fleet_cycle")
        assert "cg_watches" not in inspect(raw_engine).get_table_names()
        with Store.open(store_url) as store:
            assert store.list_watches("demand") == []
    finally:
        engine.dispose()
