"""Bulk tables: forecasts served, actuals, monitoring results.

Functions here take an open :class:`~sqlalchemy.orm.Session` inside the caller's
transaction; :class:`chronoguard.store.Store` owns transactions, locking and the audit row.
Writes are one executemany-style ``INSERT`` per call, because a forecast run or a batch
of actuals is thousands of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import ColumnElement, Select, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import (
    column_to_utc_naive,
    finite_float,
    float_column,
    int_column,
    json_ready,
    optional_float,
    require_columns,
    str_column,
    to_utc_naive,
)
from chronoguard.store._models import ActualRow, ForecastRow, MonitoringResultRow, table_of
from chronoguard.store._records import (
    SHADOW_ALIAS,
    ActualsWrite,
    ForecastRecord,
    MonitoringResult,
    ResultKind,
)

FORECAST_COLUMNS = [
    "id",
    "unique_id",
    "origin",
    "ds",
    "horizon",
    "yhat",
    "yhat_lo",
    "yhat_hi",
    "level",
    "model_name",
    "version",
    "alias",
    "created_at",
]
ACTUAL_COLUMNS = ["unique_id", "ds", "y", "received_at"]
MONITORING_COLUMNS = [
    "id",
    "run_id",
    "ds",
    "unique_id",
    "feature",
    "kind",
    "method",
    "statistic",
    "p_value",
    "threshold",
    "decision",
    "severity",
    "version",
    "details",
]
# Above this many series, narrowing the duplicate lookup with an IN list costs more than
# it saves (and meets bind-parameter limits); the time window alone is used instead.
_MAX_IN = 500
_SHOWN = 5  # conflicting keys quoted in an error message


# --- shared helpers -------------------------------------------------------------------


def as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def where_range(
    column: InstrumentedAttribute[Any], lo: Any, hi: Any, what: str
) -> list[ColumnElement[bool]]:
    """Inclusive bounds on a timestamp column; either end may be open (``None``)."""
    out: list[ColumnElement[bool]] = []
    if lo is not None:
        out.append(column >= to_utc_naive(lo, f"{what}_from"))
    if hi is not None:
        out.append(column <= to_utc_naive(hi, f"{what}_to"))
    return out


def _frame(rows: Sequence[Any], columns: list[str], datetimes: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for c in datetimes:
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[ns]")
    return frame


def _fmt_key(key: tuple[Any, ...]) -> str:
    return "(" + ", ".join(str(k) if isinstance(k, datetime) else repr(k) for k in key) + ")"


# --- forecasts ------------------------------------------------------------------------


def forecast_frame(
    forecasts: pd.DataFrame | Sequence[ForecastRecord], defaults: dict[str, Any]
) -> pd.DataFrame:
    """One input frame from records or a frame, with constant columns filled in."""
    if isinstance(forecasts, pd.DataFrame):
        frame = forecasts
    else:
        frame = pd.DataFrame([asdict(r) for r in forecasts], columns=FORECAST_COLUMNS)
    for column, value in defaults.items():
        if value is None:
            continue
        if column in frame.columns:
            raise StoreError(
                f"forecasts: {column!r} is given both as a column and as an argument; pass it once"
            )
        frame = frame.assign(**{column: value})
    return frame


def forecast_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Validated row dicts for ``cg_forecasts``; refuses bad intervals and duplicates."""
    what = "forecasts"
    require_columns(
        frame,
        ["unique_id", "origin", "ds", "horizon", "yhat", "model_name", "version", "alias"],
        what,
    )
    if "created_at" not in frame.columns:
        raise StoreError(
            "forecasts: no 'created_at' column and no created_at= argument; the store never "
            "reads the wall clock, pass the time the forecasts were made"
        )
    n = len(frame)
    none: list[Any] = [None] * n
    cols: dict[str, list[Any]] = {
        "unique_id": str_column(frame, "unique_id", what),
        "origin": column_to_utc_naive(frame["origin"], "origin"),
        "ds": column_to_utc_naive(frame["ds"], "ds"),
        "horizon": int_column(frame, "horizon", what, nullable=False),
        "yhat": float_column(frame, "yhat", what, nullable=False),
        "yhat_lo": float_column(frame, "yhat_lo", what, nullable=True)
        if "yhat_lo" in frame
        else none,
        "yhat_hi": float_column(frame, "yhat_hi", what, nullable=True)
        if "yhat_hi" in frame
        else none,
        "level": int_column(frame, "level", what, nullable=True) if "level" in frame else none,
        "model_name": str_column(frame, "model_name", what),
        "version": str_column(frame, "version", what),
        "alias": str_column(frame, "alias", what),
        "created_at": column_to_utc_naive(frame["created_at"], "created_at"),
    }
    names = list(cols)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*cols.values(), strict=True)]
    seen: set[tuple[Any, ...]] = set()
    for i, r in enumerate(rows):
        interval = (r["yhat_lo"], r["yhat_hi"], r["level"])
        if any(v is None for v in interval) and any(v is not None for v in interval):
            raise StoreError(
                f"forecasts row {i} (unique_id={r['unique_id']!r}, ds={r['ds']}): give "
                "yhat_lo, yhat_hi and level together, or none of them"
            )
        if r["level"] is not None and not (0 < r["level"] < 100):
            raise StoreError(f"forecasts row {i}: level must be in (0, 100), got {r['level']}")
        if r["yhat_lo"] is not None and r["yhat_lo"] > r["yhat_hi"]:
            raise StoreError(
                f"forecasts row {i} (unique_id={r['unique_id']!r}, ds={r['ds']}): "
                f"yhat_lo {r['yhat_lo']} is above yhat_hi {r['yhat_hi']}"
            )
        key = (r["unique_id"], r["origin"], r["ds"], r["version"])
        if key in seen:
            raise StoreError(
                f"forecasts: the key (unique_id, origin, ds, version) = {_fmt_key(key)} "
                "appears twice in this batch; a forecast is recorded once"
            )
        seen.add(key)
    return rows


def insert_forecasts(
    session: Session, rows: list[dict[str, Any]], *, skip_stored: bool = False
) -> list[dict[str, Any]]:
    """Insert after checking, in the same transaction, that none is stored already (or,
    with ``skip_stored``, dropping those that are); returns the rows inserted."""
    versions = sorted({r["version"] for r in rows})
    uids = sorted({r["unique_id"] for r in rows})
    origins = [r["origin"] for r in rows]
    query = select(
        ForecastRow.unique_id, ForecastRow.origin, ForecastRow.ds, ForecastRow.version
    ).where(
        ForecastRow.version.in_(versions), ForecastRow.origin.between(min(origins), max(origins))
    )
    if len(uids) <= _MAX_IN:
        query = query.where(ForecastRow.unique_id.in_(uids))
    stored = {tuple(k) for k in session.execute(query)}
    if skip_stored:
        rows = [
            r for r in rows if (r["unique_id"], r["origin"], r["ds"], r["version"]) not in stored
        ]
        if rows:
            session.execute(insert(table_of(ForecastRow)), rows)
        return rows
    clash = [
        k for r in rows if (k := (r["unique_id"], r["origin"], r["ds"], r["version"])) in stored
    ]
    if clash:
        shown = ", ".join(_fmt_key(k) for k in clash[:_SHOWN])
        raise StoreError(
            f"cg_forecasts already holds {len(clash)} of these forecasts, key (unique_id, "
            f"origin, ds, version) = {shown}{' …' if len(clash) > _SHOWN else ''}. A served "
            "forecast is recorded once: drop the rows already stored, or pass "
            "if_exists='skip' to leave them as they are."
        )
    session.execute(insert(table_of(ForecastRow)), rows)
    return rows


def select_forecasts(
    *,
    unique_id: str | Sequence[str] | None,
    version: str | Sequence[str] | None,
    model_name: str | None,
    alias: str | None,
    origin_from: Any,
    origin_to: Any,
    ds_from: Any,
    ds_to: Any,
    served_only: bool = False,
) -> Select[Any]:
    F = ForecastRow
    query = select(*(getattr(F, c) for c in FORECAST_COLUMNS))
    if served_only:
        query = query.where(F.alias != SHADOW_ALIAS)
    if (uids := as_list(unique_id)) is not None:
        query = query.where(F.unique_id.in_(uids))
    if (versions := as_list(version)) is not None:
        query = query.where(F.version.in_(versions))
    if model_name is not None:
        query = query.where(F.model_name == model_name)
    if alias is not None:
        query = query.where(F.alias == alias)
    query = query.where(*where_range(F.origin, origin_from, origin_to, "origin"))
    query = query.where(*where_range(F.ds, ds_from, ds_to, "ds"))
    return query.order_by(F.unique_id, F.version, F.origin, F.ds)


def forecasts_frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = _frame(rows, FORECAST_COLUMNS, ["origin", "ds", "created_at"])
    frame["level"] = frame["level"].astype("Int64")
    for c in ("yhat", "yhat_lo", "yhat_hi"):
        frame[c] = frame[c].astype("float64")
    return frame.astype({"id": "int64", "horizon": "int64"})


# --- actuals --------------------------------------------------------------------------


def write_actuals(
    session: Session, frame: pd.DataFrame, received_at: datetime, *, revise: bool
) -> tuple[ActualsWrite, list[dict[str, Any]]]:
    """Insert new actuals, skip identical re-sends, refuse or apply revisions.

    Returns the summary and the list of revisions (for the audit row).
    """
    what = "actuals"
    require_columns(frame, ["unique_id", "ds", "y"], what)
    uids = str_column(frame, "unique_id", what)
    dss = column_to_utc_naive(frame["ds"], "ds")
    ys = cast(list[float], float_column(frame, "y", what, nullable=False))
    batch: dict[tuple[str, datetime], float] = {}
    for uid, ds, y in zip(uids, dss, ys, strict=True):
        key = (uid, ds)
        if key in batch and batch[key] != y:
            raise StoreError(
                f"actuals: (unique_id, ds) = {_fmt_key(key)} appears twice in this batch with "
                f"different y ({batch[key]} and {y}); send one value per timestamp"
            )
        batch[key] = y
    if not batch:
        return ActualsWrite(inserted=0, unchanged=0, revised=0), []

    query = select(ActualRow.unique_id, ActualRow.ds, ActualRow.y).where(
        ActualRow.ds.between(min(dss), max(dss))
    )
    distinct = sorted(set(uids))
    if len(distinct) <= _MAX_IN:
        query = query.where(ActualRow.unique_id.in_(distinct))
    stored = {
        (r.unique_id, r.ds): r.y for r in session.execute(query) if (r.unique_id, r.ds) in batch
    }

    new = [k for k in batch if k not in stored]
    changed = [k for k in batch if k in stored and stored[k] != batch[k]]
    unchanged = len(batch) - len(new) - len(changed)
    if changed and not revise:
        shown = "; ".join(
            f"{_fmt_key(k)}: stored y={stored[k]!r}, got y={batch[k]!r}" for k in changed[:_SHOWN]
        )
        raise StoreError(
            f"cg_actuals already holds a different y for {len(changed)} (unique_id, ds) "
            f"key(s): {shown}{' …' if len(changed) > _SHOWN else ''}. Actuals are not revised "
            "silently: pass revise=True to overwrite them (each revision is audited)."
        )
    if new:
        session.execute(
            insert(table_of(ActualRow)),
            [
                {"unique_id": u, "ds": d, "y": batch[(u, d)], "received_at": received_at}
                for u, d in new
            ],
        )
    revisions: list[dict[str, Any]] = []
    if changed:
        session.execute(
            update(ActualRow),
            [
                {"unique_id": u, "ds": d, "y": batch[(u, d)], "received_at": received_at}
                for u, d in changed
            ],
        )
        revisions = [
            {"unique_id": u, "ds": d, "old_y": stored[(u, d)], "new_y": batch[(u, d)]}
            for u, d in changed
        ]
    summary = ActualsWrite(inserted=len(new), unchanged=unchanged, revised=len(changed))
    return summary, revisions


def select_actuals(
    *, unique_id: str | Sequence[str] | None, ds_from: Any, ds_to: Any
) -> Select[Any]:
    query = select(*(getattr(ActualRow, c) for c in ACTUAL_COLUMNS))
    if (uids := as_list(unique_id)) is not None:
        query = query.where(ActualRow.unique_id.in_(uids))
    query = query.where(*where_range(ActualRow.ds, ds_from, ds_to, "ds"))
    return query.order_by(ActualRow.unique_id, ActualRow.ds)


def actuals_frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = _frame(rows, ACTUAL_COLUMNS, ["ds", "received_at"])
    frame["y"] = frame["y"].astype("float64")
    return frame


# --- monitoring results ---------------------------------------------------------------


def check_kind(kind: str, what: str) -> str:
    allowed = [k.value for k in ResultKind]
    value = str(kind.value) if isinstance(kind, ResultKind) else str(kind)
    if value not in allowed:
        raise StoreError(f"{what}: kind {kind!r} is not one of {allowed}")
    return value


def monitoring_rows(
    run_id: str, ds: datetime, results: Sequence[MonitoringResult]
) -> list[dict[str, Any]]:
    rows = []
    for i, r in enumerate(results):
        what = f"monitoring result {i} ({r.method} on {r.feature!r} of {r.unique_id!r})"
        rows.append(
            {
                "run_id": run_id,
                "ds": ds,
                "unique_id": r.unique_id,
                "feature": r.feature,
                "kind": check_kind(r.kind, what),
                "method": r.method,
                "statistic": finite_float(r.statistic, f"{what}: statistic"),
                "p_value": optional_float(r.p_value, f"{what}: p_value"),
                "threshold": finite_float(r.threshold, f"{what}: threshold"),
                "decision": bool(r.decision),
                "severity": str(r.severity),
                "version": r.version,
                "details": json_ready(r.details, f"{what}: details"),
            }
        )
    return rows


def insert_monitoring(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(table_of(MonitoringResultRow)), rows)


def select_monitoring(
    *,
    run_id: str | None,
    unique_id: str | Sequence[str] | None,
    kind: str | None,
    version: str | None,
    decision: bool | None,
    ds_from: Any,
    ds_to: Any,
    method: str | Sequence[str] | None = None,
) -> Select[Any]:
    M = MonitoringResultRow
    query = select(*(getattr(M, c) for c in MONITORING_COLUMNS))
    if run_id is not None:
        query = query.where(M.run_id == run_id)
    if (uids := as_list(unique_id)) is not None:
        query = query.where(M.unique_id.in_(uids))
    if kind is not None:
        query = query.where(M.kind == check_kind(kind, "get_monitoring_results"))
    if (methods := as_list(method)) is not None:
        query = query.where(M.method.in_(methods))
    if version is not None:
        query = query.where(M.version == version)
    if decision is not None:
        query = query.where(M.decision == decision)
    query = query.where(*where_range(M.ds, ds_from, ds_to, "ds"))
    return query.order_by(M.ds, M.id)


def monitoring_frame(rows: Sequence[Any]) -> pd.DataFrame:
    frame = _frame(rows, MONITORING_COLUMNS, ["ds"])
    for c in ("statistic", "p_value", "threshold"):
        frame[c] = frame[c].astype("float64")
    return frame.astype({"id": "int64", "decision": "bool"})
