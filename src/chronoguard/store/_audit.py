"""The hash-chained audit log: appending a row and verifying the chain.

Each row's ``hash`` is ``HMAC-SHA256(key, canonical_json({id, at, as_of, recorded_at,
actor, action, entity, payload, prev_hash}))`` with the workspace's audit key, kept outside
the database, and ``prev_hash`` is the previous row's ``hash`` (``GENESIS`` for the first
row). Without the key nobody can write a row, or rebuild the hashes of edited rows, that
verifies.

Each row carries two times: ``as_of``, the data time the action concerns (``None`` when it
has none), and ``recorded_at``, the real time it happened, which the caller passes in (the
store's clock, given by the edge that opened it; core logic never reads one). Rows written
before both times were kept (migration ``r0010_audit_times``) have neither: their content
is hashed without the two keys, as it was written, and their ``at`` is read as both times.

A store opened without a key (a library user's in-memory store, a chain written before
keys existed) writes and checks the plain ``sha256`` of the same text. Such *legacy* rows
stay as they were written (the log is append-only, even for a migration): with a key, rows
before the first keyed row verify by the plain hash, and the first keyed row commits to all
of them through its ``prev_hash``; after it, every row must be keyed. Truncating the tail
cannot be seen from the chain alone; compare the head (``chronoguard audit show``) with a
copy kept elsewhere for that.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store import _coverage
from chronoguard.store._convert import canonical_json, json_ready, to_utc_naive
from chronoguard.store._models import AuditRow
from chronoguard.store._records import AuditEntry, AuditVerdict

GENESIS = "0" * 64
_VERIFY_BATCH = 1000


def _iso(t: datetime) -> str:
    # Fixed precision so a value read back from either backend renders identically.
    return t.isoformat(timespec="microseconds")


def _content(
    *,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    prev_hash: str,
    as_of: datetime | None = None,
    recorded_at: datetime | None = None,
) -> bytes:
    content: dict[str, Any] = {
        "id": id,
        "at": _iso(at),
        "actor": actor,
        "action": action,
        "entity": entity,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    if recorded_at is not None:  # a row with both times (rows from before have neither)
        content["as_of"] = None if as_of is None else _iso(as_of)
        content["recorded_at"] = _iso(recorded_at)
    return canonical_json(content).encode("utf-8")


def entry_hash(
    *,
    id: int,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    prev_hash: str,
    key: bytes | None = None,
    as_of: datetime | None = None,
    recorded_at: datetime | None = None,
) -> str:
    """HMAC-SHA256 (hex) of the canonical JSON of one audit row with ``key``; without a
    key, the plain SHA-256 of the legacy scheme. ``recorded_at=None`` hashes a row from
    before both times were kept (``as_of`` is then not part of the content)."""
    text = _content(
        id=id,
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        payload=payload,
        prev_hash=prev_hash,
        as_of=as_of,
        recorded_at=recorded_at,
    )
    if key is None:
        return hashlib.sha256(text).hexdigest()
    return hmac.new(key, text, hashlib.sha256).hexdigest()


def _row_hash(row: Any, key: bytes | None) -> str:
    return entry_hash(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        payload=row.payload,
        prev_hash=row.prev_hash,
        key=key,
        as_of=row.as_of,
        recorded_at=row.recorded_at,
    )


def to_entry(row: AuditRow) -> AuditEntry:
    legacy = row.recorded_at is None  # written before both times were kept: ``at`` is both
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        payload=row.payload,
        prev_hash=row.prev_hash,
        hash=row.hash,
        as_of=row.at if legacy else row.as_of,
        recorded_at=row.at if legacy else row.recorded_at,
    )


def append(
    session: Session,
    *,
    as_of: Any,
    recorded_at: Any,
    actor: str,
    action: str,
    entity: str,
    payload: dict[str, Any],
    key: bytes | None = None,
    sealing: bool = False,
) -> AuditEntry:
    """Add one audit row to the session's transaction, chained to the current last row.

    ``as_of`` is the data time the action concerns (``None``: none), ``recorded_at`` the
    real time of the action, given by the caller; the row's ``at`` is ``recorded_at``.

    The caller holds the store's write lock (``BEGIN IMMEDIATE`` on SQLite, a table lock
    on PostgreSQL), so no other writer can append between reading the tail and writing.
    With a key, the tail must be keyed with it (only ``sealing`` may follow a plain row):
    a row appended with the wrong key, or after a chain rebuilt without the key, would
    hide the break.
    """
    last = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1)).first()
    if last is None:
        new_id, prev = 1, GENESIS
    else:
        new_id, prev = last.id + 1, last.hash
        if key is not None and not (
            hmac.compare_digest(last.hash, _row_hash(last, key))
            or (sealing and hmac.compare_digest(last.hash, _row_hash(last, None)))
        ):
            raise StoreError(
                f"the last audit row (id {last.id}) is not keyed with this store's audit key, "
                "so nothing was written: the key is not this store's (check "
                "CHRONOGUARD_AUDIT_KEY_FILE), the row was changed, or the chain was written "
                "before keying and never sealed; run `chronoguard audit verify`"
            )
    clean_payload = json_ready(payload)
    when = to_utc_naive(recorded_at, "audit recorded_at")
    data_time = None if as_of is None else to_utc_naive(as_of, "audit as_of")
    digest = entry_hash(
        id=new_id,
        at=when,
        actor=actor,
        action=action,
        entity=entity,
        payload=clean_payload,
        prev_hash=prev,
        key=key,
        as_of=data_time,
        recorded_at=when,
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
        as_of=data_time,
        recorded_at=when,
    )
    session.add(row)
    session.flush([row])
    return to_entry(row)


def seal(session: Session, key: bytes, *, recorded_at: datetime | None = None) -> AuditEntry | None:
    """Append the first keyed row after a chain of plain rows, committing to all of them
    (their head is in its payload and its ``prev_hash``); ``None`` when there is nothing
    to seal (an empty chain, or one already keyed). It is recorded at ``recorded_at``, or
    without one at the last plain row's time, so no clock is read here; it concerns no
    data time."""
    last = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1)).first()
    if last is None or hmac.compare_digest(last.hash, _row_hash(last, key)):
        return None
    return append(
        session,
        as_of=None,
        recorded_at=recorded_at if recorded_at is not None else (last.recorded_at or last.at),
        actor="chronoguard",
        action="seal_audit_chain",
        entity="cg_audit_log",
        payload={"legacy_rows": last.id, "legacy_head": last.hash},
        key=key,
        sealing=True,
    )


def _row_verdict(
    row: AuditRow, *, expected_id: int, prev_hash: str, key: bytes | None, keyed_seen: bool
) -> tuple[str | None, bool]:
    """Why ``row`` breaks the chain (or ``None``), and whether it is keyed."""
    # A gap in ids means a row was deleted even if the rows around it were re-chained by
    # hand; ids are assigned densely by ``append``.
    if row.id != expected_id:
        return f"ids skip from {expected_id - 1} to {row.id}: a row was deleted", False
    if row.prev_hash != prev_hash:
        return "its prev_hash is not the previous row's hash: a row before it was rewritten", False
    plain = hmac.compare_digest(row.hash, _row_hash(row, None))
    if key is None:
        if plain:
            return None, False
        return (
            "its hash does not match its content (edited, or keyed: verify with the "
            "workspace's audit key)",
            False,
        )
    if hmac.compare_digest(row.hash, _row_hash(row, key)):
        return None, True
    if plain and keyed_seen:
        return (
            "it carries a plain SHA-256 after keyed rows: it was written without the audit "
            "key (forged, or rebuilt after an edit)",
            False,
        )
    if plain:
        return None, False
    return (
        "its hash is not the HMAC of its content with the audit key: edited, forged "
        "without the key, or the key is not this workspace's",
        False,
    )


def verify(session: Session, key: bytes | None) -> AuditVerdict:
    """Walk the chain in id order, then check the tables its rows cover (see
    :mod:`chronoguard.store._coverage`); the first break found, or an ok verdict."""
    prev_hash = GENESIS
    expected_id = 1
    after = 0
    checked = keyed = 0
    covers = _coverage.Covered()
    while True:
        rows = session.scalars(
            select(AuditRow).where(AuditRow.id > after).order_by(AuditRow.id).limit(_VERIFY_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            why, is_keyed = _row_verdict(
                row, expected_id=expected_id, prev_hash=prev_hash, key=key, keyed_seen=keyed > 0
            )
            if why is not None:
                return AuditVerdict(
                    ok=False, rows_checked=checked, keyed_rows=keyed, broken_id=row.id, reason=why
                )
            checked += 1
            keyed += is_keyed
            covers.add(row.id, row.payload)
            prev_hash = row.hash
            expected_id = row.id + 1
        after = rows[-1].id
        # Verification reads many rows; forget them so memory stays flat on long logs.
        for row in rows:
            session.expunge(row)
    if key is not None and checked and not keyed:
        return AuditVerdict(
            ok=False,
            rows_checked=checked,
            keyed_rows=0,
            broken_id=checked,
            reason=(
                "no row is keyed with the audit key, yet a keyed store seals a plain chain "
                "before writing to it: the chain was rebuilt without the key (or the key "
                "is not this workspace's)"
            ),
        )
    broken = _coverage.check(session, covers)
    if broken is not None:
        audit_id, why = broken
        return AuditVerdict(
            ok=False, rows_checked=checked, keyed_rows=keyed, broken_id=audit_id, reason=why
        )
    return AuditVerdict(ok=True, rows_checked=checked, keyed_rows=keyed)
