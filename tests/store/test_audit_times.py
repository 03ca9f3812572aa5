"""Audit entries with two times: ``as_of`` (the data time an action concerns) and
``recorded_at`` (the real time it happened, from the clock the store was opened with),
listed by ``recorded_at`` then id, both covered by the keyed chain; and a chain written
before r0010_audit_times, upgraded, still verifies. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from chronoguard.store import Store
from chronoguard.store._audit import GENESIS, entry_hash
from chronoguard.store._convert import canonical_json
from chronoguard.store._engine import make_engine, parse_url
from chronoguard.store._migrate import upgrade

KEY = bytes(range(32))
REAL = datetime(2026, 3, 2, 9, 0)


class TickingClock:
    """A real clock for tests: each reading is one second after the previous one."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER cg_audit_log_append_only ON cg_audit_log"))
        else:
            conn.execute(text("DROP TRIGGER cg_audit_log_no_update"))
            conn.execute(text("DROP TRIGGER cg_audit_log_no_delete"))


def test_entries_carry_both_times_and_are_listed_as_they_happened(
    store_url: str, raw_engine: Engine
) -> None:
    clock = TickingClock(REAL)
    with Store.open(store_url, audit_key=KEY, clock=clock) as store:
        # A replay's cycles stamp data times of 1981; a manual promotion between them
        # concerns the day it was made.
        store.deploy("m", {"s": "1"}, by="cycle", reason="first", at=datetime(1981, 1, 1))
        store.deploy("m", {"s": "2"}, by="ana", reason="manual", at=REAL)
        store.deploy("m", {"s": "3"}, by="cycle", reason="retrain", at=datetime(1981, 2, 1))
        store.create_token("ops", "operator", "0" * 64, by="ana", at=REAL)
        log = store.audit_log()
        assert [e.id for e in log] == sorted(e.id for e in log)
        recorded = [e.recorded_at for e in log]
        assert recorded == [REAL + timedelta(seconds=i) for i in range(1, 5)]
        assert [e.as_of for e in log] == [datetime(1981, 1, 1), REAL, datetime(1981, 2, 1), None]
        assert [e.at for e in log] == recorded
        # The newest ones by the same order.
        assert [e.id for e in store.audit_log(last=2)] == [log[-2].id, log[-1].id]
        assert store.verify_audit_chain().ok
    # Both times are hashed: an edited recorded_at (or as_of) breaks the chain at its row.
    _drop_triggers(raw_engine)
    with raw_engine.begin() as conn:
        conn.execute(
            text("UPDATE cg_audit_log SET recorded_at = :t WHERE id = 2"),
            {"t": REAL + timedelta(days=1)},
        )
    with Store.open(store_url, audit_key=KEY) as store:
        verdict = store.verify_audit_chain()
        assert not verdict.ok and verdict.broken_id == 2
    with raw_engine.begin() as conn:
        conn.execute(
            text("UPDATE cg_audit_log SET recorded_at = :t, as_of = NULL WHERE id = 2"),
            {"t": REAL + timedelta(seconds=2)},
        )
    with Store.open(store_url, audit_key=KEY) as store:
        assert store.verify_audit_chain().broken_id == 2


def test_listing_orders_by_recorded_at_even_against_the_ids(store_url: str) -> None:
    """A replay records the clock its caller gives: rows written with an earlier clock
    after later ones are listed by that time (then id), while the chain stays in id order."""
    with Store.open(store_url, audit_key=KEY, clock=lambda: REAL) as store:
        store.deploy("m", {"s": "1"}, by="a", reason="x", at=datetime(1981, 1, 1))
    with Store.open(store_url, audit_key=KEY, clock=lambda: REAL - timedelta(hours=1)) as store:
        store.deploy("m", {"s": "2"}, by="a", reason="y", at=datetime(1981, 2, 1))
        store.deploy("m", {"s": "3"}, by="a", reason="z", at=datetime(1981, 3, 1))
        assert [e.id for e in store.audit_log()] == [2, 3, 1]
        assert store.verify_audit_chain().ok


@pytest.mark.parametrize("start", ["r0008_watch_kinds", "r0009_alert_outbox"])
def test_a_chain_from_before_both_times_still_verifies_after_the_upgrade(
    store_url: str, start: str
) -> None:
    engine = make_engine(parse_url(store_url), schema=None)
    try:
        upgrade(engine, start)
        # Keyed rows as chronoguard wrote them then: one time ``at`` (the data's time for
        # a cycle, the wall clock for a manual promotion), hashed without the new keys.
        prev = GENESIS
        old = [
            (datetime(1981, 1, 1), "cycle", "deploy"),
            (REAL, "ana", "promote"),
            (datetime(1981, 2, 1), "cycle", "deploy"),
        ]
        with engine.begin() as conn:
            for i, (at, actor, action) in enumerate(old, start=1):
                row = {
                    "id": i,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "entity": "deployment:m",
                    "payload": {"n": i},
                    "prev_hash": prev,
                }
                digest = entry_hash(**row, key=KEY)  # type: ignore[arg-type]
                conn.execute(
                    text(
                        "INSERT INTO cg_audit_log (id, at, actor, action, entity, payload, "
                        "prev_hash, hash) VALUES (:id, :at, :actor, :action, :entity, "
                        ":payload, :prev_hash, :hash)"
                    ),
                    {**row, "payload": canonical_json(row["payload"]), "hash": digest},
                )
                prev = digest
    finally:
        engine.dispose()
    clock = TickingClock(REAL + timedelta(days=1))
    with Store.open(store_url, audit_key=KEY, clock=clock) as store:  # migrates to r0010
        assert store.schema_revision() == "r0010_audit_times"
        store.deploy("m", {"s": "4"}, by="cycle", reason="next", at=datetime(1981, 3, 1))
        verdict = store.verify_audit_chain()
        assert verdict.ok and verdict.rows_checked == 4 and verdict.keyed_rows == 4
        log = store.audit_log()
        # Old rows read their one time as both; they sort by it, before the new row.
        assert [e.id for e in log] == [1, 3, 2, 4]
        assert [(e.as_of, e.recorded_at) for e in log[:3]] == [
            (datetime(1981, 1, 1), datetime(1981, 1, 1)),
            (datetime(1981, 2, 1), datetime(1981, 2, 1)),
            (REAL, REAL),
        ]
        assert log[3].as_of == datetime(1981, 3, 1)
        assert log[3].recorded_at == REAL + timedelta(days=1, seconds=1)
