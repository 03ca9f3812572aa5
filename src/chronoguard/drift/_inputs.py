"""Validation at the door of the dependence-aware checks: values, timestamps, positions."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from chronoguard.drift.seasonal import infer_frequency, positions_since
from chronoguard.drift.types import DriftInputError

FloatArray = npt.NDArray[np.float64]


def as_values(
    x: Any,
    ds: Any = None,
    *,
    what: str,
    feature: str = "y",
    unique_id: str | None = None,
) -> tuple[FloatArray, pd.DatetimeIndex | None]:
    """Values (float, 1-D) and timestamps of ``x``: array, list, Series or long-format frame."""
    if isinstance(x, pd.DataFrame):
        frame = x
        if unique_id is not None:
            if "unique_id" not in frame.columns:
                raise DriftInputError(
                    f"the {what} frame has no 'unique_id' column to select {unique_id!r}"
                )
            frame = frame[frame["unique_id"].astype(str) == str(unique_id)]
        elif "unique_id" in frame.columns and frame["unique_id"].nunique() > 1:
            raise DriftInputError(
                f"the {what} frame holds {frame['unique_id'].nunique()} series; pass unique_id= "
                "to choose one (a check compares one series × feature at a time)"
            )
        if feature not in frame.columns:
            raise DriftInputError(
                f"the {what} frame has no column {feature!r} (columns: {list(frame.columns)}); "
                "pass feature= naming the column to check"
            )
        if ds is None and "ds" in frame.columns:
            ds = frame["ds"]
        x = frame[feature]
    if isinstance(x, pd.Series):
        if ds is None and isinstance(x.index, pd.DatetimeIndex):
            ds = x.index
        x = x.to_numpy()
    try:
        values = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DriftInputError(
            f"the {what} must be numeric; could not convert it to floats ({exc})"
        ) from exc
    if values.ndim != 1:
        raise DriftInputError(f"the {what} must be one series (1-D); got shape {values.shape}")
    if values.size == 0:
        raise DriftInputError(f"the {what} is empty")
    if np.isinf(values).any():
        raise DriftInputError(
            f"the {what} has {int(np.isinf(values).sum())} infinite value(s); drop or fix them "
            "(a data-quality problem, not drift)"
        )
    idx: pd.DatetimeIndex | None = None
    if isinstance(ds, pd.DatetimeIndex):
        idx = ds
        if len(idx) != values.size:
            raise DriftInputError(
                f"the {what} has {values.size} values but {len(idx)} timestamps; they must match"
            )
    elif ds is not None:
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(ds)))
        except (TypeError, ValueError) as exc:
            raise DriftInputError(f"the {what} timestamps (ds) are not dates: {exc}") from exc
        if len(idx) != values.size:
            raise DriftInputError(
                f"the {what} has {values.size} values but {len(idx)} timestamps; they must match"
            )
    return values, idx


def reference_values(
    x: Any, ds: Any, freq: str | None, *, feature: str = "y", unique_id: str | None = None
) -> tuple[FloatArray, str | None, pd.Timestamp | None]:
    """Validated reference values, its frequency and first timestamp (None without ``ds``)."""
    values, idx = as_values(x, ds, what="reference", feature=feature, unique_id=unique_id)
    bad = ~np.isfinite(values)
    if bad.any():
        where = np.flatnonzero(bad)[:5].tolist()
        raise DriftInputError(
            f"the reference has {int(bad.sum())} missing value(s) (first at positions {where}); "
            "a reference must be complete: fill the gaps or start it after them"
        )
    if idx is None:
        return values, freq, None
    if freq is None:
        freq = infer_frequency(idx, what="reference")
    pos = positions_since(idx, idx[0], freq)
    if not np.array_equal(pos, np.arange(values.size)):
        raise DriftInputError(
            f"the reference timestamps are not a complete {freq} calendar (missing or "
            "duplicated periods); fill the gaps first"
        )
    return values, freq, idx[0]


def place_current(
    values: FloatArray,
    idx: pd.DatetimeIndex | None,
    *,
    n_ref: int,
    freq: str | None,
    origin: str | None,
    start: int | None,
    memo: dict[Any, Any] | None = None,
) -> tuple[FloatArray, FloatArray, bool, list[str]]:
    """Current values on a complete grid of positions, whether they continue the reference.

    Returns ``(values, positions, contiguous, notes)``; periods missing inside the window
    come back as NaN, so the filter skips them instead of joining distant values. ``memo``
    keeps the positions of timestamps already placed (a fleet's series share them).
    """
    notes: list[str] = []
    if idx is not None and origin is not None and freq is not None:
        if start is not None:
            raise DriftInputError("pass either ds= or start=, not both")
        stamps = idx.as_unit("ns").asi8
        key = (origin, freq, stamps.tobytes())
        if memo is not None and key in memo:
            pos = memo[key]
        else:
            if (stamps == np.iinfo(np.int64).min).any() or not bool(np.all(np.diff(stamps) > 0)):
                raise DriftInputError(
                    "the current timestamps are unsorted or duplicated; sort them and drop "
                    "duplicates"
                )
            pos = positions_since(idx, pd.Timestamp(origin), freq)
            if memo is not None:
                memo[key] = pos
    else:
        if idx is not None:
            notes.append(
                "the reference was fitted without timestamps: assumed the current values "
                "directly follow it (fit with ds= to place them by date)"
            )
        first = n_ref if start is None else int(start)
        pos = first + np.arange(values.size, dtype=np.int64)
    if pos.size > 1 and np.any(np.diff(pos) <= 0):
        raise DriftInputError("the current positions must increase strictly")
    grid = np.arange(pos[0], pos[-1] + 1, dtype=np.int64)
    full = np.full(grid.size, np.nan)
    full[pos - pos[0]] = values
    if grid.size > values.size:
        notes.append(f"{grid.size - values.size} missing period(s) inside the current window")
    if not np.isfinite(full).any():
        raise DriftInputError("the current window has no finite value to check")
    return full, grid.astype(np.float64), bool(grid[0] == n_ref), notes


def transform_values(values: FloatArray, transform: str, floor: float | None) -> FloatArray:
    """Apply the reference's transform; under ``log`` values below ``floor`` are floored.

    A zero or negative value in a series whose reference was strictly positive is itself a
    large change; flooring it at half the smallest reference value keeps it visible (a very
    low log value) without producing ``-inf``.
    """
    if transform == "none":
        return values
    with np.errstate(invalid="ignore"):
        return np.log(
            np.where(
                np.isnan(values), np.nan, np.maximum(values, floor if floor is not None else 1e-300)
            )
        )
