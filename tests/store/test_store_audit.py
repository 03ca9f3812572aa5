"""The audit log (one row per change, hash-chained, append-only) and atomic transactions."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from chronoguard.errors import StoreError
from chronoguard.store import ForecastRecord, Store

AT = datetime(2024, 5, 1, 12)


def _governance_unit(store: Store, version: str) -> None:
    """What a promotion writes: alias move + status change + retrain record."""
    store.record_alias_move("demand", "champion", version, by="ana", reason="promote", at=AT)
    store.set_version_status("demand", version, "champion", at=AT, by="ana", reason="promote")
    store.record_retrain(
        ds=AT,
        model_name="demand",
        trigger="schedule",
        challenger_version=version,
        champion_version=None,
        challenger_error=0.5,
        champion_error=None,
        outcome="promoted",
        reason="first",
    )


def _write_some(store: Store) -> None:
    store.audit("approve", "model_version:demand/1", {"note": "ok"}, by="ana", at=AT)
    frame = pd.DataFrame({"unique_id": ["a", "b"], "ds": [AT, AT], "y": [1.0, 2.0]})
    store.record_actuals(frame, received_at=AT)
    _governance_unit(store, "1")


def _counts(engine: Engine) -> dict[str, int]:
    tables = ["cg_alias_history", "cg_model_versions", "cg_version_status_history"]
    tables += ["cg_retrain_decisions", "cg_audit_log", "cg_forecasts"]
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def _drop_audit_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER cg_audit_log_append_only ON cg_audit_log"))
        else:
            conn.execute(text("DROP TRIGGER cg_audit_log_no_update"))
            conn.execute(text("DROP TRIGGER cg_audit_log_no_delete"))


def test_every_write_appends_one_chained_audit_row(store: Store) -> None:
    _write_some(store)
    log = store.audit_log()
    assert [e.action for e in log] == [
        "approve",
        "record_actuals",
        "move_alias",
        "set_version_status",
        "record_retrain",
    ]
    assert [e.id for e in log] == [1, 2, 3, 4, 5]
    assert log[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(log))
    assert log[0].payload == {"note": "ok"} and log[0].actor == "ana" and log[0].at == AT
    assert log[2].entity == "alias:demand@champion"
    covers = log[2].payload.pop("covers")
    assert log[2].payload == {"from": None, "to": "1", "reason": "promote"}
    assert [(c["table"], c["first"], c["last"]) for c in covers] == [("cg_alias_history", 1, 1)]
    assert store.verify_audit_chain().ok


def test_transaction_commits_every_write_together(store: Store, raw_engine: Engine) -> None:
    with store.transaction():
        _governance_unit(store, "1")
        # Reads inside the unit see its own writes.
        assert store.current_alias("demand", "champion") == "1"
    counts = _counts(raw_engine)
    assert counts["cg_alias_history"] == counts["cg_retrain_decisions"] == 1
    assert counts["cg_audit_log"] == 3
    assert store.verify_audit_chain().ok


def test_exception_mid_transaction_writes_nothing(store: Store, raw_engine: Engine) -> None:
    before = _counts(raw_engine)
    with pytest.raises(RuntimeError, match="approval missing"), store.transaction():
        _governance_unit(store, "1")
        store.record_forecasts(
            [
                ForecastRecord(
                    unique_id="s",
                    origin=AT,
                    ds=AT,
                    horizon=1,
                    yhat=1.0,
                    model_name="demand",
                    version="1",
                    alias="champion",
                    created_at=AT,
                )
            ]
        )
        raise RuntimeError("approval missing")
    assert _counts(raw_engine) == before  # no rows AND no audit rows
    assert store.current_alias("demand", "champion") is None
    assert store.audit_log() == []


def test_a_failed_call_dooms_the_transaction_even_if_caught(
    store: Store, raw_engine: Engine
) -> None:
    before = _counts(raw_engine)
    with pytest.raises(StoreError, match="nothing in it was written"), store.transaction():
        store.record_alias_move("demand", "champion", "1", by="ana", reason="x", at=AT)
        with pytest.raises(StoreError):
            store.set_version_status("demand", "1", "not-a-status", at=AT, by="ana", reason="x")
    assert _counts(raw_engine) == before


def test_audit_rows_cannot_be_updated_or_deleted(store: Store, raw_engine: Engine) -> None:
    _write_some(store)
    for statement in ("UPDATE cg_audit_log SET actor = 'mallory'", "DELETE FROM cg_audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), raw_engine.begin() as conn:
            conn.execute(text(statement))
    assert len(store.audit_log()) == 5
    assert {e.actor for e in store.audit_log()} == {"ana", "chronoguard"}
    assert not hasattr(store, "delete_audit") and not hasattr(store, "update_audit")


def test_tampered_payload_is_detected(store: Store, raw_engine: Engine) -> None:
    _write_some(store)
    _drop_audit_triggers(raw_engine)
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE cg_audit_log SET actor = 'mallory' WHERE id = 3"))
    assert store.verify_audit_chain().broken_id == 3


def test_rehashed_row_still_breaks_the_chain_at_the_next_row(
    store: Store, raw_engine: Engine
) -> None:
    """A forger who recomputes the tampered row's own hash breaks its successor's link."""
    from chronoguard.store._audit import entry_hash

    _write_some(store)
    _drop_audit_triggers(raw_engine)
    row = store.audit_log()[1]
    forged = entry_hash(
        id=row.id,
        at=row.at,
        as_of=row.as_of,
        recorded_at=row.recorded_at,
        actor="mallory",
        action=row.action,
        entity=row.entity,
        payload=row.payload,
        prev_hash=row.prev_hash,
    )
    with raw_engine.begin() as conn:
        conn.execute(
            text("UPDATE cg_audit_log SET actor = 'mallory', hash = :h WHERE id = :id"),
            {"h": forged, "id": row.id},
        )
    assert store.verify_audit_chain().broken_id == row.id + 1


def test_deleted_row_is_detected(store: Store, raw_engine: Engine) -> None:
    _write_some(store)
    _drop_audit_triggers(raw_engine)
    with raw_engine.begin() as conn:
        conn.execute(text("DELETE FROM cg_audit_log WHERE id = 2"))
    assert store.verify_audit_chain().broken_id == 3


def test_audit_payload_round_trips_exactly(store: Store) -> None:
    payload = {"b": [1, 2.5, None, True], "a": {"nested": "é", "t": AT}, "x": 1e-7, "big": 2**53}
    entry = store.audit("note", "test", payload, by="ana", at=AT)
    assert store.audit_log() == [entry]
    assert entry.payload["a"] == {"nested": "é", "t": "2024-05-01T12:00:00"}
    assert store.verify_audit_chain().ok


def test_chain_continues_across_store_reopen(store_url: str) -> None:
    with Store.open(store_url) as first:
        first.audit("a", "e", {}, by="x", at=AT)
    with Store.open(store_url) as second:
        second.audit("b", "e", {}, by="x", at=AT)
        log = second.audit_log()
        assert [e.id for e in log] == [1, 2] and log[1].prev_hash == log[0].hash
        assert second.verify_audit_chain().ok


def test_a_failing_audit_append_undoes_the_write_it_audits(
    store: Store, raw_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The data row and its audit row share one transaction: no audit, no data."""
    from chronoguard.store import _audit

    def refuse(*args: object, **kwargs: object) -> None:
        raise StoreError("audit unavailable")

    monkeypatch.setattr(_audit, "append", refuse)
    frame = pd.DataFrame({"unique_id": ["a"], "ds": [AT], "y": [1.0]})
    with pytest.raises(StoreError, match="audit unavailable"):
        store.record_actuals(frame, received_at=AT)
    with pytest.raises(StoreError, match="audit unavailable"):
        store.record_alias_move("demand", "champion", "1", by="ana", reason="x", at=AT)
    monkeypatch.undo()
    assert store.get_actuals().empty
    assert store.current_alias("demand", "champion") is None


def test_concurrent_writers_keep_one_valid_chain(store: Store, store_url: str) -> None:
    """Writers in several threads append without losing rows or forking the chain: the
    write lock serialises them."""
    n_threads, per_thread = 4, 15
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            # Even threads share the fixture's Store (its pool serves them), odd ones open
            # their own, like a second process would.
            mine = store if k % 2 == 0 else Store.open(store_url, migrate=False)
            for i in range(per_thread):
                mine.record_alias_move(
                    "demand", f"alias{k}", str(i), by=f"w{k}", reason="load", at=AT
                )
            if mine is not store:
                mine.close()
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)  # a lock bug shows as a hang; fail instead of waiting forever
    assert not any(t.is_alive() for t in threads), "writers deadlocked"
    assert errors == []
    log = store.audit_log()
    assert [e.id for e in log] == list(range(1, n_threads * per_thread + 1))
    assert store.verify_audit_chain().ok
    for k in range(n_threads):
        history = store.alias_history("demand", f"alias{k}")
        assert [m.previous_version for m in history] == [None, *map(str, range(per_thread - 1))]
