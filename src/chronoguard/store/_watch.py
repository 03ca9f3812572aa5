"""Watches: a promoted challenger under prospective, paired comparison with the version
it replaced.

The gate compares a challenger with its champion on recent data the challenger was fitted
to; a watch checks the promotion on data neither model had seen. While a watch is open the
replaced version keeps forecasting the series in shadow; when the watch closes, the
challenger is confirmed, or the series is rolled back to the replaced version.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._deploy import required
from chronoguard.store._governance import check_value
from chronoguard.store._models import WatchRow
from chronoguard.store._records import Watch, WatchClose, WatchKind, WatchStatus


def _to_watch(row: WatchRow) -> Watch:
    return Watch(
        model_name=row.model_name,
        unique_id=row.unique_id,
        opened_at=row.opened_at,
        version=row.version,
        previous_version=row.previous_version,
        periods=row.periods,
        kind=row.kind,
        status=row.status,
        closed_at=row.closed_at,
        challenger_error=row.challenger_error,
        previous_error=row.previous_error,
        n_pairs=row.n_pairs,
        reason=row.reason,
    )


def _error(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise StoreError(f"{what} must be a finite number >= 0 or None, got {value!r}")
    return v


def open_watches(session: Session, watches: Sequence[Watch]) -> list[Watch]:
    """Open each watch that is new; returns those opened.

    A watch with the same (model_name, unique_id, opened_at) as a stored one is skipped when
    its version and previous version agree (a resumed step repeats its writes) and refused
    when they differ.
    """
    opened = []
    seen: set[tuple[str, str, datetime]] = set()
    for i, w in enumerate(watches):
        if not isinstance(w, Watch):
            raise StoreError(f"watch {i} is {type(w).__name__}, not a Watch")
        key = (
            required(w.model_name, "model_name"),
            required(w.unique_id, "unique_id"),
            to_utc_naive(w.opened_at, "opened_at"),
        )
        if key in seen:
            raise StoreError(f"watch {i} repeats series {key[1]!r} opened at {key[2]}")
        seen.add(key)
        if not isinstance(w.periods, int) or isinstance(w.periods, bool) or w.periods < 1:
            raise StoreError(f"watch {i}: periods must be an integer >= 1, got {w.periods!r}")
        if w.status != WatchStatus.OPEN.value:
            raise StoreError(f"watch {i}: a watch is opened with status 'open', not {w.status!r}")
        kind = check_value(w.kind, WatchKind, f"watch {i}: kind")
        row = session.get(WatchRow, key)
        if row is not None:
            if (row.version, row.previous_version, row.periods, row.kind) != (
                w.version,
                w.previous_version,
                w.periods,
                kind,
            ):
                raise StoreError(
                    f"series {key[1]!r} already has a {row.kind} watch opened at {key[2]} on "
                    f"version {row.version} (against {row.previous_version}, {row.periods} "
                    f"periods); it is not opened again as a {kind} watch on {w.version} "
                    f"(against {w.previous_version}, {w.periods} periods)"
                )
            continue
        row = WatchRow(
            model_name=key[0],
            unique_id=key[1],
            opened_at=key[2],
            version=required(w.version, "version"),
            previous_version=required(w.previous_version, "previous_version"),
            periods=w.periods,
            kind=kind,
            status=WatchStatus.OPEN.value,
            closed_at=None,
            challenger_error=None,
            previous_error=None,
            n_pairs=None,
            reason=None,
        )
        session.add(row)
        opened.append(row)
    session.flush(opened)
    return [_to_watch(r) for r in opened]


def close_watches(session: Session, model_name: str, closes: Sequence[WatchClose]) -> list[Watch]:
    """Close open watches ``confirmed`` or ``rolled_back``; returns those that changed.

    Closing a closed watch again with the same verdict is a no-op (a resumed step); with
    another verdict it is refused.
    """
    changed = []
    for i, c in enumerate(closes):
        if not isinstance(c, WatchClose):
            raise StoreError(f"close {i} is {type(c).__name__}, not a WatchClose")
        status = check_value(c.status, WatchStatus, "watch status")
        if status == WatchStatus.OPEN.value:
            raise StoreError(
                "a watch is closed confirmed, rolled_back, superseded, promoted or rejected, "
                "not 'open'"
            )
        key = (model_name, c.unique_id, to_utc_naive(c.opened_at, "opened_at"))
        row = session.get(WatchRow, key)
        if row is None:
            raise StoreError(
                f"cg_watches has no watch of series {c.unique_id!r} opened at {key[2]}"
            )
        if row.status != WatchStatus.OPEN.value:
            if row.status == status:
                continue
            raise StoreError(
                f"the watch of series {c.unique_id!r} opened at {key[2]} was already closed "
                f"{row.status!r} at {row.closed_at}; it cannot be closed {status!r} as well"
            )
        if c.n_pairs < 0:
            raise StoreError(f"close {i}: n_pairs must be >= 0, got {c.n_pairs}")
        row.status = status
        row.closed_at = to_utc_naive(c.closed_at, "closed_at")
        row.challenger_error = _error(c.challenger_error, "challenger_error")
        row.previous_error = _error(c.previous_error, "previous_error")
        row.n_pairs = int(c.n_pairs)
        row.reason = required(c.reason, "reason")
        changed.append(row)
    session.flush(changed)
    return [_to_watch(r) for r in changed]


def list_watches(
    session: Session,
    model_name: str,
    *,
    status: str | None = None,
    unique_id: str | Sequence[str] | None = None,
    closed_at: datetime | None = None,
) -> list[Watch]:
    query = select(WatchRow).where(WatchRow.model_name == model_name)
    if closed_at is not None:
        query = query.where(WatchRow.closed_at == closed_at)
    if status is not None:
        query = query.where(WatchRow.status == check_value(status, WatchStatus, "watch status"))
    if unique_id is not None:
        ids = [unique_id] if isinstance(unique_id, str) else list(unique_id)
        query = query.where(WatchRow.unique_id.in_(ids))
    query = query.order_by(WatchRow.opened_at, WatchRow.unique_id)
    return [_to_watch(r) for r in session.scalars(query)]
