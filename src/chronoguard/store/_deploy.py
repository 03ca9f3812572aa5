"""Deployments: which version serves which series, and every move with its history.

``cg_deployments`` holds the current version of each series (one row per series, read in
one query when a cycle starts); ``cg_deployment_moves`` appends one row per series whose
version changes. A fleet is thousands of series moved at once, so a move is a handful of
bulk statements, never a query per series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store import _coverage
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._models import DeploymentMoveRow, DeploymentRow, table_of
from chronoguard.store._records import Deployment, DeploymentMove
from chronoguard.store._series import _MAX_IN, as_list

_SHOWN = 5  # offending series quoted in an error message


def required(value: object, what: str) -> str:
    """``value`` if it is a non-empty string, else a StoreError naming ``what``."""
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _check_assignments(assignments: Mapping[str, str]) -> None:
    bad = [
        (u, v)
        for u, v in assignments.items()
        if not (isinstance(u, str) and u.strip() and isinstance(v, str) and v.strip())
    ]
    if bad:
        shown = ", ".join(f"{u!r}: {v!r}" for u, v in bad[:_SHOWN])
        raise StoreError(
            f"deploy: {len(bad)} assignment(s) are not a non-empty series id mapped to a "
            f"non-empty version string: {shown}{' …' if len(bad) > _SHOWN else ''}"
        )


def _current(session: Session, model_name: str, uids: list[str]) -> dict[str, str]:
    query = select(DeploymentRow.unique_id, DeploymentRow.version).where(
        DeploymentRow.model_name == model_name
    )
    if len(uids) <= _MAX_IN:
        query = query.where(DeploymentRow.unique_id.in_(uids))
    return {u: v for u, v in session.execute(query)}


def deploy(
    session: Session,
    model_name: str,
    assignments: Mapping[str, str],
    *,
    by: str,
    reason: str,
    at: datetime,
    batch: str | None,
) -> tuple[list[DeploymentMove], int]:
    """Move every series whose version changes; returns the moves and the no-op count.

    The caller holds the store's write lock, so the current versions read here cannot
    change before the writes below.
    """
    required(model_name, "model_name")
    required(by, "by")
    if batch is not None:
        required(batch, "batch")
    _check_assignments(assignments)
    when = to_utc_naive(at, "at")
    current = _current(session, model_name, list(assignments))
    changes = [(u, v, current.get(u)) for u, v in assignments.items() if current.get(u) != v]
    if not changes:
        return [], len(assignments)
    move_rows = [
        {
            "model_name": model_name,
            "unique_id": u,
            "version": v,
            "previous_version": prev,
            "at": when,
            "by": by,
            "reason": reason,
            "batch": batch,
        }
        for u, v, prev in changes
    ]
    # A plain executemany, then the new ids read back in one query: INSERT … RETURNING
    # for many rows costs 4x more on psycopg (SQLAlchemy sends it as 1,000-row statements
    # the driver must parse) and row by row on SQLite when ids must come back in order.
    # Under the write lock no other store call inserts moves, and ids only grow, so the
    # rows above the previous maximum are this call's.
    M = DeploymentMoveRow
    before = session.scalar(select(func.coalesce(func.max(M.id), 0)))
    session.execute(insert(table_of(M)), move_rows)
    id_of = {
        u: i
        for i, u in session.execute(
            select(M.id, M.unique_id).where(M.id > before, M.model_name == model_name)
        )
    }
    if len(id_of) != len(changes):
        raise StoreError(
            f"cg_deployment_moves gained {len(id_of)} rows of {model_name!r} for {len(changes)} "
            "moves: something wrote deployment moves without the store; nothing was written"
        )
    ids = [id_of[u] for u, _, _ in changes]
    new: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for (u, v, prev), move_id in zip(changes, ids, strict=True):
        row = {"model_name": model_name, "unique_id": u, "version": v, "since": when}
        (new if prev is None else moved).append({**row, "move_id": move_id})
    if new:
        session.execute(insert(table_of(DeploymentRow)), new)
    if moved:
        # ORM bulk UPDATE by primary key: one executemany.
        session.execute(update(DeploymentRow), moved)
    moves = [
        DeploymentMove(
            id=i,
            model_name=model_name,
            unique_id=u,
            version=v,
            previous_version=prev,
            at=when,
            by=by,
            reason=reason,
            batch=batch,
        )
        for (u, v, prev), i in zip(changes, ids, strict=True)
    ]
    return moves, len(assignments) - len(changes)


def audit_payload(
    moves: Sequence[DeploymentMove], unchanged: int, *, batch: str | None, reason: str
) -> dict[str, Any]:
    """One audit row for a whole deploy: counts, not the series (a fleet is 10,000)."""
    to = Counter(m.version for m in moves)
    from_ = Counter(m.previous_version or "" for m in moves)
    return {
        "batch": batch,
        "reason": reason,
        "moved": len(moves),
        "unchanged": unchanged,
        "to": dict(sorted(to.items())),
        # "" counts series deployed for the first time.
        "from": dict(sorted(from_.items())),
    }


def cover(session: Session, moves: Sequence[DeploymentMove]) -> dict[str, Any]:
    """The audit ``covers`` entry of a deploy's moves (consecutive ids under the lock)."""
    ids = [m.id for m in moves]
    first, last = min(ids), max(ids)
    if last - first + 1 != len(ids):
        raise StoreError(
            f"cg_deployment_moves ids {first}–{last} of one deploy are not consecutive: "
            "something wrote deployment moves without the store; nothing was written"
        )
    return _coverage.cover(session, table_of(DeploymentMoveRow), first, last)


def get_deployment(session: Session, model_name: str) -> Deployment:
    rows = session.execute(
        select(DeploymentRow.unique_id, DeploymentRow.version, DeploymentRow.since).where(
            DeploymentRow.model_name == model_name
        )
    ).all()
    return Deployment(
        model_name=model_name,
        versions={u: v for u, v, _ in rows},
        since={u: s for u, _, s in rows},
    )


def _to_move(row: Any) -> DeploymentMove:
    return DeploymentMove(
        id=row.id,
        model_name=row.model_name,
        unique_id=row.unique_id,
        version=row.version,
        previous_version=row.previous_version,
        at=row.at,
        by=row.by,
        reason=row.reason,
        batch=row.batch,
    )


def history(
    session: Session, model_name: str, unique_id: str | Sequence[str] | None
) -> list[DeploymentMove]:
    M = DeploymentMoveRow
    query = select(
        M.id,
        M.model_name,
        M.unique_id,
        M.version,
        M.previous_version,
        M.at,
        M.by,
        M.reason,
        M.batch,
    ).where(M.model_name == model_name)
    uids = as_list(unique_id)
    if uids is not None and len(uids) <= _MAX_IN:
        query = query.where(M.unique_id.in_(uids))
    # Ids, not times, order the moves: a replay records moves at past times.
    rows = session.execute(query.order_by(M.id)).all()
    if uids is not None and len(uids) > _MAX_IN:
        wanted = set(uids)
        rows = [r for r in rows if r.unique_id in wanted]
    return [_to_move(r) for r in rows]
