"""The tables that decide a rollback, covered by the audit chain.

Alias moves (``cg_alias_history``), version status changes (``cg_version_status_history``)
and deployment moves (``cg_deployment_moves``) are written with their audit row in one
transaction; that row's payload carries ``covers``: the ids written and digests of their
content (one per row, or one per chunk of consecutive rows when a fleet moves thousands,
at most :data:`MAX_DIGESTS` per audit row). The audit row is keyed, so nobody without the
key can change a digest; :func:`check` recomputes them from the tables' current contents
and names the first row edited, deleted or inserted behind the chain's back. The two
tables of current state (``cg_deployments``, ``cg_model_versions``) must agree with the
covered history they summarise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from chronoguard.store._convert import canonical_json, json_ready
from chronoguard.store._models import (
    AliasMoveRow,
    DeploymentMoveRow,
    DeploymentRow,
    ModelVersionRow,
    StatusChangeRow,
    table_of,
)

MAX_DIGESTS = 64
COVERED: dict[str, Table] = {
    t.name: t for t in map(table_of, (AliasMoveRow, StatusChangeRow, DeploymentMoveRow))
}


def _render(value: Any) -> Any:
    if isinstance(value, datetime):
        # Fixed precision so a value read back from either backend renders identically.
        return value.isoformat(timespec="microseconds")
    return json_ready(value)


def _digest(rows: Sequence[Any], columns: Sequence[str]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(canonical_json([_render(getattr(row, c)) for c in columns]).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:32]


def _chunks(table: Table, rows: Sequence[Any], first: int, chunk: int, n: int) -> list[str]:
    columns = [c.name for c in table.columns]
    groups: list[list[Any]] = [[] for _ in range(n)]
    for row in rows:
        i = (row.id - first) // chunk
        if 0 <= i < n:
            groups[i].append(row)
    return [_digest(g, columns) for g in groups]


def _read(session: Session, table: Table, first: int, last: int) -> Sequence[Any]:
    return session.execute(
        select(table).where(table.c.id >= first, table.c.id <= last).order_by(table.c.id)
    ).all()


def cover(session: Session, table: Table, first: int, last: int) -> dict[str, Any]:
    """The ``covers`` entry of rows ``first..last`` of ``table`` (written in this
    transaction, read back so they render as verification will read them)."""
    count = last - first + 1
    chunk = max(1, math.ceil(count / MAX_DIGESTS))
    n = math.ceil(count / chunk)
    digests = _chunks(table, _read(session, table, first, last), first, chunk, n)
    return {"table": table.name, "first": first, "last": last, "chunk": chunk, "digests": digests}


@dataclass
class _Span:
    audit_id: int
    first: int
    last: int
    chunk: int
    digests: list[str]


@dataclass
class Covered:
    """The spans of covered rows met while walking the chain."""

    spans: dict[str, list[_Span]] = field(default_factory=dict)
    malformed: int | None = None

    def add(self, audit_id: int, payload: Any) -> None:
        entries = payload.get("covers") if isinstance(payload, dict) else None
        if entries is None:
            return
        try:
            for e in entries:
                span = _Span(
                    audit_id, int(e["first"]), int(e["last"]), int(e["chunk"]), list(e["digests"])
                )
                if e["table"] not in COVERED or span.chunk < 1:
                    raise ValueError(e["table"])
                self.spans.setdefault(e["table"], []).append(span)
        except (KeyError, TypeError, ValueError):
            if self.malformed is None:
                self.malformed = audit_id


def _ids(first: int, last: int, chunk: int, i: int) -> str:
    a = first + i * chunk
    b = min(last, a + chunk - 1)
    return f"id {a}" if a == b else f"ids {a}–{b} (one or more of them)"


def _check_spans(session: Session, name: str, spans: list[_Span]) -> tuple[int | None, str] | None:
    table = COVERED[name]
    for s in spans:
        got = _chunks(
            table, _read(session, table, s.first, s.last), s.first, s.chunk, len(s.digests)
        )
        for i, (want, have) in enumerate(zip(s.digests, got, strict=True)):
            if want != have:
                return s.audit_id, (
                    f"{name} {_ids(s.first, s.last, s.chunk, i)} differs from audit row "
                    f"{s.audit_id} (edited, deleted or rewritten behind the chain's back)"
                )
    # A row inserted behind the chain: an id after the first covered one that no audit row
    # covers. Rows before it were written before coverage existed.
    ordered = sorted((s.first, s.last) for s in spans)
    start = ordered[0][0]
    j = 0
    for (row_id,) in session.execute(
        select(table.c.id).where(table.c.id >= start).order_by(table.c.id)
    ):
        while j < len(ordered) and ordered[j][1] < row_id:
            j += 1
        if j == len(ordered) or row_id < ordered[j][0]:
            return None, (
                f"{name} id {row_id} is covered by no audit row: it was written behind the "
                "chain's back"
            )
    return None


def _check_current(session: Session) -> str | None:
    D, M = DeploymentRow, DeploymentMoveRow
    latest = (
        select(M.model_name, M.unique_id, func.max(M.id).label("id"))
        .group_by(M.model_name, M.unique_id)
        .subquery()
    )
    bad = session.execute(
        select(D.model_name, D.unique_id, D.version, D.move_id, M.version.label("moved_to"))
        .join(M, M.id == D.move_id, isouter=True)
        .join(
            latest,
            (latest.c.model_name == D.model_name) & (latest.c.unique_id == D.unique_id),
            isouter=True,
        )
        .where(
            (M.id.is_(None))
            | (M.version != D.version)
            | (M.model_name != D.model_name)
            | (M.unique_id != D.unique_id)
            | (latest.c.id != D.move_id)
        )
        .order_by(D.model_name, D.unique_id)
        .limit(1)
    ).first()
    if bad is not None:
        return (
            f"cg_deployments {bad.model_name}/{bad.unique_id} (version {bad.version}) differs "
            f"from its last move in cg_deployment_moves (id {bad.move_id}, version "
            f"{bad.moved_to}): what serves was changed behind the chain's back"
        )
    V, C = ModelVersionRow, StatusChangeRow
    last_change = (
        select(C.model_name, C.version, func.max(C.id).label("id"))
        .group_by(C.model_name, C.version)
        .subquery()
    )
    stale = session.execute(
        select(V.model_name, V.version, V.status, C.to_status, C.id)
        .join(
            last_change,
            (last_change.c.model_name == V.model_name) & (last_change.c.version == V.version),
            isouter=True,
        )
        .join(C, C.id == last_change.c.id, isouter=True)
        .where(C.id.is_(None) | (C.to_status != V.status))
        .order_by(V.model_name, V.version)
        .limit(1)
    ).first()
    if stale is not None:
        return (
            f"cg_model_versions {stale.model_name}/{stale.version} has status "
            f"{stale.status!r}, but its last change in cg_version_status_history (id "
            f"{stale.id}) set {stale.to_status!r}: the status was changed behind the chain's "
            "back"
        )
    return None


def check(session: Session, covered: Covered) -> tuple[int | None, str] | None:
    """The audit row and the reason of the first covered table that disagrees, or ``None``."""
    if covered.malformed is not None:
        return covered.malformed, "its payload's covers entry is malformed"
    for name in COVERED:
        spans = covered.spans.get(name)
        if spans:
            broken = _check_spans(session, name, spans)
            if broken is not None:
                return broken
    why = _check_current(session)
    return None if why is None else (None, why)
