"""Conversions at the store's edge: timestamps, JSON payloads, input frames."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.errors import StoreError


def to_utc_naive(value: Any, what: str) -> datetime:
    """A naive UTC ``datetime`` at microsecond precision (what both backends can store).

    Aware timestamps are converted to UTC; naive ones are taken as they are.
    """
    if type(value) is datetime and value.tzinfo is None:
        # The common case, already what the store keeps (a plain datetime has no
        # nanoseconds); pandas costs ~0.1 ms a call, which a 10,000-series write pays per row.
        return value
    if value is None:
        raise StoreError(f"{what} is missing; pass a timestamp")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not a timestamp: {value!r}") from exc
    if ts is pd.NaT:
        raise StoreError(f"{what} is NaT; pass a timestamp")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    # Databases keep microseconds; flooring first keeps pandas from warning about
    # discarded nanoseconds.
    return ts.floor("us").to_pydatetime()


def optional_utc_naive(value: Any, what: str) -> datetime | None:
    return None if value is None else to_utc_naive(value, what)


def column_to_utc_naive(values: pd.Series, what: str) -> list[datetime]:
    """Vectorised :func:`to_utc_naive` for a frame column."""
    try:
        ts = pd.to_datetime(values)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"column {what!r} does not hold timestamps: {exc}") from exc
    if ts.isna().any():
        first = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise StoreError(f"column {what!r} has a missing timestamp at row {first}")
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return [t.to_pydatetime() for t in ts.dt.floor("us")]


def optional_float(value: Any, what: str) -> float | None:
    """``None`` for a missing value (``None`` or NaN); otherwise a finite float."""
    if value is None:
        return None
    x = float(value)
    if math.isnan(x):
        return None
    if math.isinf(x):
        raise StoreError(f"{what} is infinite ({x}); the store keeps finite numbers only")
    return x


def finite_float(value: Any, what: str) -> float:
    """A finite float; NaN and infinity are refused because SQLite stores NaN as NULL."""
    x = optional_float(value, what)
    if x is None:
        raise StoreError(f"{what} is missing (None or NaN); the store needs a finite number")
    return x


def json_ready(value: Any, path: str = "payload") -> Any:
    """A deep copy of ``value`` made only of JSON types, ready to be hashed and stored.

    numpy scalars become Python numbers, timestamps ISO strings, enums their values,
    tuples lists. Non-finite floats become ``None`` because JSON has no NaN (PostgreSQL
    refuses it) — the one lossy step, chosen so a monitoring detail never breaks a write.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return json_ready(value.value, path)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if math.isfinite(x) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [json_ready(v, f"{path}[{i}]") for i, v in enumerate(value.tolist())]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StoreError(f"{path} has a non-string key {k!r}; JSON keys are strings")
            out[k] = json_ready(v, f"{path}.{k}")
        return out
    if isinstance(value, Sequence):
        return [json_ready(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise StoreError(
        f"{path} holds a {type(value).__name__}, which cannot be stored as JSON; "
        "pass numbers, strings, booleans, lists or dicts"
    )


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def require_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise StoreError(
            f"{what} frame is missing column(s) {missing}; it has {list(frame.columns)}"
        )


def str_column(frame: pd.DataFrame, column: str, what: str) -> list[str]:
    values = frame[column]
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise StoreError(f"{what}: column {column!r} is missing a value at row {first}")
    return [str(v) for v in values]


def float_column(
    frame: pd.DataFrame, column: str, what: str, *, nullable: bool
) -> list[float | None]:
    try:
        arr = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: column {column!r} is not numeric: {exc}") from exc
    if np.isinf(arr).any():
        first = int(np.flatnonzero(np.isinf(arr))[0])
        raise StoreError(f"{what}: column {column!r} is infinite at row {first}")
    nan = np.isnan(arr)
    if nan.any() and not nullable:
        first = int(np.flatnonzero(nan)[0])
        raise StoreError(
            f"{what}: column {column!r} is NaN at row {first}; the store needs a finite number"
        )
    return [None if m else float(x) for x, m in zip(arr, nan, strict=True)]


def int_column(frame: pd.DataFrame, column: str, what: str, *, nullable: bool) -> list[int | None]:
    floats = float_column(frame, column, what, nullable=nullable)
    out: list[int | None] = []
    for i, x in enumerate(floats):
        if x is not None and not x.is_integer():
            raise StoreError(f"{what}: column {column!r} is not a whole number at row {i}: {x}")
        out.append(None if x is None else int(x))
    return out
