"""The keyed audit chain (HMAC-SHA256 with a key outside the database) and the tables it
covers: what a forger with write access to the database, but not the key, cannot hide."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, text

from chronoguard.errors import StoreError
from chronoguard.store import Store
from chronoguard.store._audit import entry_hash
from chronoguard.store._convert import canonical_json

KEY = bytes(range(32))
AT = datetime(2024, 5, 1, 12)


@pytest.fixture
def keyed(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url, audit_key=KEY)
    yield s
    s.close()


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER cg_audit_log_append_only ON cg_audit_log"))
        else:
            conn.execute(text("DROP TRIGGER cg_audit_log_no_update"))
            conn.execute(text("DROP TRIGGER cg_audit_log_no_delete"))


def _history(store: Store) -> None:
    """Alias moves, status changes and deployment moves, each with its audit row."""
    for v in ("1", "2"):
        store.record_alias_move("demand", "champion", v, by="ana", reason="promote", at=AT)
        store.set_version_status("demand", v, "champion", at=AT, by="ana", reason="promote")
        store.deploy("demand", {"s1": v, "s2": v}, by="ana", reason="promote", at=AT)


def _plain_rehash(engine: Engine, from_id: int, until: int | None = None, **change: str) -> None:
    """Edit row ``from_id`` and recompute every hash from it on, as a forger without the
    key would: with the plain SHA-256 of the old scheme."""
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT id, at, actor, action, entity, payload, prev_hash, as_of, recorded_at "
                "FROM cg_audit_log ORDER BY id"
            )
        ).all()
        prev = None
        for r in rows:
            if until is not None and r.id > until:
                break
            if r.id < from_id:
                prev = conn.execute(
                    text("SELECT hash FROM cg_audit_log WHERE id = :i"), {"i": r.id}
                ).scalar_one()
                continue
            payload = (
                r.payload if isinstance(r.payload, dict) else __import__("json").loads(r.payload)
            )
            at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(r.at)
            actor = change.get("actor", r.actor) if r.id == from_id else r.actor

            def when(t: object) -> datetime | None:
                return t if t is None or isinstance(t, datetime) else datetime.fromisoformat(str(t))

            h = entry_hash(
                as_of=when(r.as_of),
                recorded_at=when(r.recorded_at),
                id=r.id,
                at=at,
                actor=actor,
                action=r.action,
                entity=r.entity,
                payload=payload,
                prev_hash=prev or "0" * 64,
            )
            conn.execute(
                text("UPDATE cg_audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                {"a": actor, "p": prev or "0" * 64, "h": h, "i": r.id},
            )
            prev = h


def test_a_keyed_chain_verifies_and_counts_its_rows(keyed: Store) -> None:
    _history(keyed)
    verdict = keyed.verify_audit_chain()
    assert verdict.ok and verdict.rows_checked == verdict.keyed_rows == 6
    assert str(verdict) == "audit chain ok: 6 rows checked"
    # the hash is the HMAC of the row's canonical content, not its plain SHA-256
    row = keyed.audit_log()[0]
    plain = entry_hash(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        payload=row.payload,
        prev_hash=row.prev_hash,
    )
    assert row.hash != plain


def test_a_forged_row_with_a_plain_sha256_is_detected(keyed: Store, raw_engine: Engine) -> None:
    _history(keyed)
    last = keyed.audit_log()[-1]
    forged = {
        "id": last.id + 1,
        "at": AT,
        "actor": "ceo",
        "action": "move_alias",
        "entity": "alias:demand@champion",
        "payload": {"from": "2", "to": "1", "reason": "trust me"},
        "prev_hash": last.hash,
    }
    digest = entry_hash(**forged)  # type: ignore[arg-type]
    with raw_engine.begin() as conn:  # INSERT is not refused by the triggers
        conn.execute(
            text(
                "INSERT INTO cg_audit_log (id, at, actor, action, entity, payload, prev_hash, hash) "
                "VALUES (:id, :at, :actor, :action, :entity, :payload, :prev_hash, :hash)"
            ),
            {**forged, "payload": canonical_json(forged["payload"]), "hash": digest},
        )
    verdict = keyed.verify_audit_chain()
    assert not verdict.ok and verdict.broken_id == last.id + 1
    assert "plain SHA-256 after keyed rows" in (verdict.reason or "")
    # and the store refuses to write after it rather than hide it
    with pytest.raises(StoreError, match="is not keyed with this store's audit key"):
        keyed.audit("note", "x", {}, by="ana", at=AT)


def test_rows_edited_and_rehashed_without_the_key_are_detected(
    keyed: Store, raw_engine: Engine
) -> None:
    _history(keyed)
    _drop_triggers(raw_engine)
    _plain_rehash(raw_engine, 3, actor="mallory")
    verdict = keyed.verify_audit_chain()
    assert not verdict.ok and verdict.broken_id == 3, verdict


def test_a_whole_chain_rebuilt_without_the_key_is_detected(
    keyed: Store, raw_engine: Engine
) -> None:
    _history(keyed)
    _drop_triggers(raw_engine)
    _plain_rehash(raw_engine, 1, actor="mallory")
    verdict = keyed.verify_audit_chain()
    assert not verdict.ok and "no row is keyed" in (verdict.reason or ""), verdict


def test_a_wrong_key_neither_verifies_nor_writes(keyed: Store, store_url: str) -> None:
    _history(keyed)
    with Store.open(store_url, audit_key=b"x" * 32) as other:
        verdict = other.verify_audit_chain()
        assert not verdict.ok and verdict.broken_id == 1
        assert "not the HMAC of its content with the audit key" in (verdict.reason or "")
        with pytest.raises(StoreError, match="the key is not this store's"):
            other.audit("note", "x", {}, by="ana", at=AT)


def test_rows_written_before_the_key_still_verify_once_sealed(
    store_url: str, raw_engine: Engine
) -> None:
    """Old chains are not rewritten: their rows keep their plain hashes, and one keyed
    row (the seal) commits to all of them; after it every row must be keyed."""
    with Store.open(store_url) as old:
        _history(old)
        old_hashes = [e.hash for e in old.audit_log()]
    with Store.open(store_url, audit_key=KEY) as store:
        with pytest.raises(StoreError, match="never sealed"):
            store.audit("note", "x", {}, by="ana", at=AT)
        seal = store.seal_audit_chain()
        assert seal is not None and seal.action == "seal_audit_chain" and seal.id == 7
        assert seal.payload == {"legacy_rows": 6, "legacy_head": old_hashes[-1]}
        assert store.seal_audit_chain() is None  # once
        store.record_alias_move("demand", "champion", "3", by="ana", reason="x", at=AT)
        assert [e.hash for e in store.audit_log()][:6] == old_hashes
        verdict = store.verify_audit_chain()
        assert verdict.ok and verdict.rows_checked == 8 and verdict.keyed_rows == 2
        assert str(verdict) == "audit chain ok: 8 rows checked, 6 written before the key"
    # an old row edited and rehashed (plain) behind the seal: the seal's link breaks
    _drop_triggers(raw_engine)
    _plain_rehash(raw_engine, 2, until=6, actor="mallory")
    with Store.open(store_url, audit_key=KEY) as store:
        verdict = store.verify_audit_chain()
        assert not verdict.ok and verdict.broken_id == 7
        assert "a row before it was rewritten" in str(verdict)


@pytest.mark.parametrize(
    ("table", "statement", "named"),
    [
        (
            "cg_deployment_moves",
            "UPDATE cg_deployment_moves SET version = '9' WHERE id = 3",
            "cg_deployment_moves id 3 differs from audit row 6",
        ),
        (
            "cg_alias_history",
            "UPDATE cg_alias_history SET version = '9' WHERE id = 1",
            "cg_alias_history id 1 differs from audit row 1",
        ),
        (
            "cg_version_status_history",
            "UPDATE cg_version_status_history SET to_status = 'retired' WHERE id = 2",
            "cg_version_status_history id 2 differs from audit row 5",
        ),
        (
            "cg_deployment_moves",
            "DELETE FROM cg_deployment_moves WHERE id = 1",
            "cg_deployment_moves id 1 differs from audit row 3",
        ),
        (
            "cg_alias_history",
            "INSERT INTO cg_alias_history (model_name, alias, version, previous_version, "
            "moved_at, moved_by, reason) VALUES ('demand', 'champion', '1', '2', "
            "'2024-05-01 12:00:00', 'ceo', 'backdoor')",
            "cg_alias_history id 3 is covered by no audit row",
        ),
        (
            "cg_model_versions",
            "UPDATE cg_model_versions SET status = 'retired' WHERE version = '2'",
            "cg_model_versions demand/2 has status 'retired'",
        ),
    ],
)
def test_an_edit_of_a_table_that_decides_a_rollback_is_named(
    keyed: Store, raw_engine: Engine, table: str, statement: str, named: str
) -> None:
    _history(keyed)
    assert keyed.verify_audit_chain().ok
    with raw_engine.begin() as conn:
        if "DELETE FROM cg_deployment_moves" in statement:
            conn.execute(text("UPDATE cg_deployments SET move_id = 2 WHERE move_id = 1"))
        conn.execute(text(statement))
    verdict = keyed.verify_audit_chain()
    assert not verdict.ok and named in (verdict.reason or ""), verdict
    assert table in str(verdict)


def test_a_current_deployment_changed_behind_the_chain_is_named(
    keyed: Store, raw_engine: Engine
) -> None:
    _history(keyed)
    with raw_engine.begin() as conn:
        conn.execute(text("UPDATE cg_deployments SET version = '1' WHERE unique_id = 's2'"))
    verdict = keyed.verify_audit_chain()
    assert not verdict.ok and verdict.broken_id is None
    assert "cg_deployments demand/s2 (version 1) differs from its last move" in str(verdict)


def test_a_fleet_deploy_carries_a_bounded_number_of_digests(
    keyed: Store, raw_engine: Engine
) -> None:
    moves = keyed.deploy("m", {f"s{i:04d}": "1" for i in range(1000)}, by="ana", reason="r", at=AT)
    (entry,) = keyed.audit_log(action="deploy")
    (cover,) = entry.payload["covers"]
    assert cover["chunk"] == 16 and len(cover["digests"]) == 63
    assert keyed.verify_audit_chain().ok
    with raw_engine.begin() as conn:
        conn.execute(
            text("UPDATE cg_deployment_moves SET reason = 'x' WHERE id = :i"), {"i": moves[20].id}
        )
    assert "cg_deployment_moves ids 17–32 (one or more of them) differs" in str(
        keyed.verify_audit_chain()
    )
