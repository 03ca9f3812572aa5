"""The hash-chained audit log: appending a row and verifying the chain.

Each row's ``hash`` is ``sha256(canonical_json({id, at, actor, action, entity, payload,
prev_hash}))`` and ``prev_hash`` is the previous row's ``hash`` (``GENESIS`` for the first
row). Changing, deleting or inserting a row in the middle breaks the chain at that row or
the next one. Truncating the tail cannot be seen from the chain alone; compare the head
(:meth:`Store.audit_log`'s last entry) with a copy kept elsewhere for that.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chronoguard.store._convert import canonical_json, json_ready, to_utc_naive
from chronoguard.store._models import AuditRow
from chronoguard.store._records import AuditEntry

GENESIS = "0" * 64
_VERIFY_BATCH = 1000


def entry_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of one audit row."""
    content = {
        "id": id,
        # Fixed precision so a value read back from either backend renders identically.
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "entity": entity,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def to_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def append(
    session: Session,
    *,
    at: Any,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
) -> AuditEntry:
    """Add one audit row to the session's transaction, chained to the current last row.

    The caller holds the store's write lock (``BEGIN IMMEDIATE`` on SQLite, a table lock
    on PostgreSQL), so no other writer can append between reading the tail and writing.
    """
    last = session.execute(
        select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
    ).first()
    new_id, prev = (1, GENESIS) if last is None else (last.id + 1, last.hash)
    clean_payload = json_ready(payload)
    when = to_utc_naive(at, "audit time")
    digest = entry_hash(
        id=new_id,
        at=when,
        actor=actor,
        action=action,
        entity=entity,
        payload=clean_payload,
        prev_hash=prev,
    )
    row = AuditRow(
        id=new_id,
        at=when,
        actor=actor,
        action=action,
        entity=entity,
        payload=clean_payload,
        prev_hash=prev,
        hash=digest,
    )
    session.add(row)
    session.flush([row])
    return to_entry(row)


def first_broken(session: Session) -> int | None:
    """Walk the chain in id order; the id of the first row that does not verify, or None."""
    prev_hash = GENESIS
    expected_id = 1
    after = 0
    while True:
        rows = session.scalars(
            select(AuditRow).where(AuditRow.id > after).order_by(AuditRow.id).limit(_VERIFY_BATCH)
        ).all()
        if not rows:
            return None
        for row in rows:
            recomputed = entry_hash(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                entity=row.entity,
                payload=row.payload,
                prev_hash=row.prev_hash,
            )
            # A gap in ids means a row was deleted even if the rows around it were
            # re-chained by hand; ids are assigned densely by ``append``.
            if row.id != expected_id:
                return row.id
            if row.prev_hash != prev_hash or row.hash != recomputed:
                return row.id
            prev_hash = row.hash
            expected_id = row.id + 1
        after = rows[-1].id
        # Verification reads many rows; forget them so memory stays flat on long logs.
        for row in rows:
            session.expunge(row)
