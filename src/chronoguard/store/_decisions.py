"""Per-series check history and per-series decisions, the two tables a cycle's decide step
reads and writes.

Both are written once per cycle and re-written identically when a cycle is re-run after a
crash, so a write compares what it is given with what is stored: identical rows are
skipped, a different row for a stored key is refused (history is not rewritten silently).
Each call is a few bulk statements whatever the number of series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import optional_float, optional_utc_naive, to_utc_naive
from chronoguard.store._deploy import required
from chronoguard.store._governance import check_value
from chronoguard.store._models import SeriesCheckRow, SeriesDecisionRow, table_of
from chronoguard.store._records import (
    DecisionAction,
    DecisionOutcome,
    DecisionOutcomeUpdate,
    SeriesCheck,
    SeriesDecision,
)
from chronoguard.store._series import _MAX_IN, _fmt_key, where_range

_SHOWN = 5  # offending keys quoted in an error message

DECISION_FIELDS = (
    "action",
    "trigger",
    "reason",
    "expected_loss",
    "retrain_cost",
    "cpu_seconds",
    "tier",
    "group",
)
GATE_FIELDS = (
    "outcome",
    "challenger_version",
    "champion_version",
    "challenger_error",
    "champion_error",
    "gate_reason",
)
_DECISION_COLUMNS = ("id", "model_name", "ds", "unique_id", *DECISION_FIELDS, *GATE_FIELDS)
# Outcomes the gate can set on a decision recorded as ``pending``.
_GATED = frozenset(
    {
        DecisionOutcome.PENDING.value,
        DecisionOutcome.PROMOTED.value,
        DecisionOutcome.REJECTED.value,
        DecisionOutcome.AWAITING_APPROVAL.value,
    }
)

Key = tuple[str, str, datetime]  # model_name, unique_id, ds


@dataclass(frozen=True, slots=True)
class WriteCount:
    """What a bulk idempotent write did."""

    inserted: int
    unchanged: int


def _more(n: int) -> str:
    return " …" if n > _SHOWN else ""


def _stored_rows(
    session: Session,
    columns: Sequence[Any],
    model_col: Any,
    uid_col: Any,
    ds_col: Any,
    keys: Iterable[Key],
) -> list[Any]:
    """Stored rows that may share a key with ``keys``: one query per model name, narrowed
    by the time window (and the series, when few)."""
    by_model: dict[str, list[Key]] = {}
    for k in keys:
        by_model.setdefault(k[0], []).append(k)
    out: list[Any] = []
    for model_name, ks in by_model.items():
        dss = [k[2] for k in ks]
        query = select(*columns).where(model_col == model_name, ds_col.between(min(dss), max(dss)))
        uids = sorted({k[1] for k in ks})
        if len(uids) <= _MAX_IN:
            query = query.where(uid_col.in_(uids))
        out.extend(session.execute(query).all())
    return out


# --- check history --------------------------------------------------------------------


def _check_row(check: SeriesCheck, index: int) -> dict[str, Any]:
    what = f"series check {index} ({check.unique_id!r} at {check.ds})"
    fired = check.fired
    if isinstance(fired, str) or not all(isinstance(k, str) and k for k in fired):
        raise StoreError(f"{what}: fired must be a set of non-empty kind names, got {fired!r}")
    return {
        "model_name": required(check.model_name, f"{what}: model_name"),
        "unique_id": required(check.unique_id, f"{what}: unique_id"),
        "ds": to_utc_naive(check.ds, f"{what}: ds"),
        "version": required(check.version, f"{what}: version"),
        "fired": sorted(set(fired)),
    }


def _check_key(row: Mapping[str, Any]) -> Key:
    return (row["model_name"], row["unique_id"], row["ds"])


def record_checks(
    session: Session, checks: Sequence[SeriesCheck]
) -> tuple[WriteCount, list[dict[str, Any]]]:
    """Insert new checks, skip identical ones, refuse changed ones; returns the count and
    the rows inserted."""
    batch: dict[Key, dict[str, Any]] = {}
    for i, check in enumerate(checks):
        row = _check_row(check, i)
        key = _check_key(row)
        if key in batch and batch[key] != row:
            raise StoreError(
                f"series checks: (model_name, unique_id, ds) = {_fmt_key(key)} appears twice "
                "in this batch with different content; a series is checked once per time"
            )
        batch[key] = row
    if not batch:
        return WriteCount(inserted=0, unchanged=0), []
    C = SeriesCheckRow
    stored = {
        (r.model_name, r.unique_id, r.ds): r
        for r in _stored_rows(
            session,
            [C.model_name, C.unique_id, C.ds, C.version, C.fired],
            C.model_name,
            C.unique_id,
            C.ds,
            batch,
        )
    }
    changed = [
        (k, stored[k], row)
        for k, row in batch.items()
        if k in stored
        and (stored[k].version != row["version"] or sorted(stored[k].fired) != row["fired"])
    ]
    if changed:
        shown = "; ".join(
            f"{_fmt_key(k)}: stored version={s.version!r} fired={sorted(s.fired)}, "
            f"given version={r['version']!r} fired={r['fired']}"
            for k, s, r in changed[:_SHOWN]
        )
        raise StoreError(
            f"cg_series_checks already holds a different check for {len(changed)} "
            f"(model_name, unique_id, ds) key(s): {shown}{_more(len(changed))}. A check is "
            "recorded once and never rewritten: a re-run of a cycle must give the same checks."
        )
    new = [row for k, row in batch.items() if k not in stored]
    if new:
        session.execute(insert(table_of(SeriesCheckRow)), new)
    return WriteCount(inserted=len(new), unchanged=len(batch) - len(new)), new


def check_history(
    session: Session,
    model_name: str,
    *,
    last_n: int,
    until: datetime | None,
    after: Mapping[str, datetime] | None,
) -> dict[str, list[SeriesCheck]]:
    if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
        raise StoreError(f"last_n must be a whole number of checks >= 1, got {last_n!r}")
    bound = optional_utc_naive(until, "until")
    since = {u: to_utc_naive(t, f"after[{u!r}]") for u, t in (after or {}).items()}
    C = SeriesCheckRow
    rank = func.row_number().over(partition_by=C.unique_id, order_by=C.ds.desc()).label("rank")
    inner = select(C.unique_id, C.ds, C.version, C.fired, rank).where(C.model_name == model_name)
    if bound is not None:
        inner = inner.where(C.ds <= bound)
    ranked = inner.subquery()
    query = (
        select(ranked.c.unique_id, ranked.c.ds, ranked.c.version, ranked.c.fired)
        .where(ranked.c.rank <= last_n)
        .order_by(ranked.c.unique_id, ranked.c.ds)
    )
    out: dict[str, list[SeriesCheck]] = {}
    for uid, ds, version, fired in session.execute(query):
        # ``after`` keeps a suffix in time of each series' checks, and the last n of a
        # suffix are the last n overall that fall in it: filtering the ranked rows here
        # gives exactly what filtering in SQL would, with no extra rows to fetch.
        if uid in since and ds <= since[uid]:
            continue
        out.setdefault(uid, []).append(
            SeriesCheck(
                model_name=model_name, unique_id=uid, ds=ds, version=version, fired=frozenset(fired)
            )
        )
    return out


# --- decisions ------------------------------------------------------------------------


def _opt_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{what} must be a string or None, got {value!r}")
    return value


def _gate_values(update_: DecisionOutcomeUpdate | SeriesDecision, what: str) -> dict[str, Any]:
    return {
        "outcome": check_value(update_.outcome, DecisionOutcome, f"{what}: outcome"),
        "challenger_version": _opt_str(update_.challenger_version, f"{what}: challenger_version"),
        "champion_version": _opt_str(update_.champion_version, f"{what}: champion_version"),
        "challenger_error": optional_float(update_.challenger_error, f"{what}: challenger_error"),
        "champion_error": optional_float(update_.champion_error, f"{what}: champion_error"),
        "gate_reason": _opt_str(update_.gate_reason, f"{what}: gate_reason"),
    }


def _decision_row(d: SeriesDecision, index: int) -> dict[str, Any]:
    what = f"series decision {index} ({d.unique_id!r} at {d.ds})"
    if not isinstance(d.trigger, str) or not isinstance(d.reason, str):
        raise StoreError(f"{what}: trigger and reason must be strings ('' when there is none)")
    return {
        "model_name": required(d.model_name, f"{what}: model_name"),
        "ds": to_utc_naive(d.ds, f"{what}: ds"),
        "unique_id": required(d.unique_id, f"{what}: unique_id"),
        "action": check_value(d.action, DecisionAction, f"{what}: action"),
        "trigger": d.trigger,
        "reason": d.reason,
        "expected_loss": optional_float(d.expected_loss, f"{what}: expected_loss"),
        "retrain_cost": optional_float(d.retrain_cost, f"{what}: retrain_cost"),
        "cpu_seconds": optional_float(d.cpu_seconds, f"{what}: cpu_seconds"),
        "tier": _opt_str(d.tier, f"{what}: tier"),
        "group": _opt_str(d.group, f"{what}: group"),
        **_gate_values(d, what),
    }


def _decision_key(row: Mapping[str, Any]) -> Key:
    return (row["model_name"], row["unique_id"], row["ds"])


def _differences(stored: Any, given: Mapping[str, Any]) -> list[str]:
    """Fields in which ``given`` differs from the stored row, as ``field: stored -> given``.

    A decision re-recorded as ``pending`` matches a stored row whose outcome the gate has
    set since, whatever the gate wrote into the gate fields: that is the same decision,
    recorded again as it was before the gate.
    """
    fields: tuple[str, ...] = DECISION_FIELDS
    if not (given["outcome"] == DecisionOutcome.PENDING.value and stored.outcome in _GATED):
        fields = (*DECISION_FIELDS, *GATE_FIELDS)
    return [
        f"{f}: stored {getattr(stored, f)!r}, given {given[f]!r}"
        for f in fields
        if getattr(stored, f) != given[f]
    ]


def record_decisions(
    session: Session, decisions: Sequence[SeriesDecision]
) -> tuple[WriteCount, list[dict[str, Any]]]:
    """Insert new decisions, skip identical ones, refuse changed ones; returns the count
    and the rows inserted."""
    batch: dict[Key, dict[str, Any]] = {}
    for i, d in enumerate(decisions):
        row = _decision_row(d, i)
        key = _decision_key(row)
        if key in batch and batch[key] != row:
            raise StoreError(
                f"series decisions: (model_name, unique_id, ds) = {_fmt_key(key)} appears "
                "twice in this batch with different content; a series is decided once per cycle"
            )
        batch[key] = row
    if not batch:
        return WriteCount(inserted=0, unchanged=0), []
    D = SeriesDecisionRow
    stored = {
        (r.model_name, r.unique_id, r.ds): r
        for r in _stored_rows(
            session,
            [getattr(D, c) for c in _DECISION_COLUMNS],
            D.model_name,
            D.unique_id,
            D.ds,
            batch,
        )
    }
    changed = [
        (k, diff)
        for k, row in batch.items()
        if k in stored and (diff := _differences(stored[k], row))
    ]
    if changed:
        shown = "; ".join(f"{_fmt_key(k)}: {', '.join(diff)}" for k, diff in changed[:_SHOWN])
        raise StoreError(
            f"cg_series_decisions already holds a different decision for {len(changed)} "
            f"(model_name, unique_id, ds) key(s): {shown}{_more(len(changed))}. A cycle's "
            "decisions are recorded once: a re-run of the cycle at the same time must decide "
            "the same; set the gate's verdict with set_decision_outcomes."
        )
    new = [row for k, row in batch.items() if k not in stored]
    if new:
        session.execute(insert(table_of(SeriesDecisionRow)), new)
    return WriteCount(inserted=len(new), unchanged=len(batch) - len(new)), new


def set_outcomes(
    session: Session,
    model_name: str,
    ds: datetime,
    outcomes: Mapping[str, DecisionOutcomeUpdate],
) -> Counter[str]:
    """Set the gate's verdict on the decisions of one cycle; returns the count per outcome."""
    updates = {
        uid: _gate_values(u, f"outcome of {uid!r}")
        for uid, u in outcomes.items()
        if isinstance(u, DecisionOutcomeUpdate)
    }
    if len(updates) != len(outcomes):
        bad = next(uid for uid, u in outcomes.items() if not isinstance(u, DecisionOutcomeUpdate))
        raise StoreError(
            f"set_decision_outcomes: the outcome of {bad!r} is a {type(outcomes[bad]).__name__}, "
            "not a DecisionOutcomeUpdate"
        )
    when = to_utc_naive(ds, "ds")
    D = SeriesDecisionRow
    query = select(D.unique_id, D.id).where(D.model_name == model_name, D.ds == when)
    uids = sorted(updates)
    if len(uids) <= _MAX_IN:
        query = query.where(D.unique_id.in_(uids))
    ids = {u: i for u, i in session.execute(query)}
    missing = [u for u in uids if u not in ids]
    if missing:
        shown = ", ".join(repr(u) for u in missing[:_SHOWN])
        raise StoreError(
            f"cg_series_decisions has no decision of {model_name!r} at {when} for "
            f"{len(missing)} series: {shown}{_more(len(missing))}. Record the decisions "
            "(record_series_decisions) before their outcomes; nothing was updated."
        )
    session.execute(update(SeriesDecisionRow), [{"id": ids[u], **v} for u, v in updates.items()])
    return Counter(v["outcome"] for v in updates.values())


def _to_decision(row: Any) -> SeriesDecision:
    return SeriesDecision(**{c: getattr(row, c) for c in _DECISION_COLUMNS})


def list_decisions(
    session: Session,
    model_name: str,
    *,
    unique_id: str | Sequence[str] | None,
    ds_from: Any,
    ds_to: Any,
    action: str | None,
) -> list[SeriesDecision]:
    D = SeriesDecisionRow
    query = select(*(getattr(D, c) for c in _DECISION_COLUMNS)).where(D.model_name == model_name)
    if unique_id is not None:
        uids = [unique_id] if isinstance(unique_id, str) else [str(u) for u in unique_id]
        query = query.where(D.unique_id.in_(uids))
    if action is not None:
        query = query.where(D.action == check_value(action, DecisionAction, "action"))
    query = query.where(*where_range(D.ds, ds_from, ds_to, "ds"))
    return [_to_decision(r) for r in session.execute(query.order_by(D.ds, D.unique_id))]


def latest_decisions(session: Session, model_name: str) -> dict[str, SeriesDecision]:
    D = SeriesDecisionRow
    last = (
        select(D.unique_id.label("u"), func.max(D.ds).label("ds"))
        .where(D.model_name == model_name)
        .group_by(D.unique_id)
        .subquery()
    )
    query = (
        select(*(getattr(D, c) for c in _DECISION_COLUMNS))
        .join(last, (D.unique_id == last.c.u) & (D.ds == last.c.ds))
        .where(D.model_name == model_name)
        .order_by(D.unique_id)
    )
    return {r.unique_id: _to_decision(r) for r in session.execute(query)}


def last_retrains(session: Session, model_name: str, until: Any) -> dict[str, datetime]:
    D = SeriesDecisionRow
    query = select(D.unique_id, func.max(D.ds)).where(
        D.model_name == model_name, D.action == DecisionAction.RETRAIN.value
    )
    if until is not None:
        query = query.where(D.ds <= to_utc_naive(until, "until"))
    return {u: ds for u, ds in session.execute(query.group_by(D.unique_id))}
