"""Helpers that move between long data frames and per-series numpy arrays.

Forecasters work on one series at a time with numpy arrays; these helpers are the only place
that knows the long format (``unique_id``, ``ds``, ``y`` + exogenous columns).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick

from chronoguard.errors import DataContractError

ID, DS, Y = "unique_id", "ds", "y"
RESERVED = (ID, DS, Y)


@dataclass(frozen=True)
class SeriesIndex:
    """Where each series sits in a frame sorted by ``unique_id, ds``."""

    ids: list[str]
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _ids(df: pd.DataFrame) -> np.ndarray:
    # The contract says str; casting here means integer ids from a CSV still key dicts consistently.
    return df[ID].astype(str).to_numpy()


def series_index(df: pd.DataFrame) -> SeriesIndex:
    """Locate the contiguous row block of every series (the frame must be sorted)."""
    ids = _ids(df)
    if ids.size == 0:
        return SeriesIndex([], np.empty(0, dtype=int), np.empty(0, dtype=int))
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [ids.size]])
    return SeriesIndex([str(u) for u in ids[starts]], starts, ends)


def check_frame(
    df: object,
    *,
    what: str,
    exog: Sequence[str] = (),
    require_y: bool = True,
    require_sorted: bool = True,
) -> SeriesIndex:
    """Check the parts of the data contract a forecaster relies on and index the series.

    Full validation happens once in ``chronoguard.data``; this is the cheap safety net that keeps
    a forecaster from silently fitting garbage (unsorted rows, NaN targets, absent exog columns).

    Parameters
    ----------
    df : object
        The frame to check.
    what : str
        How to name the frame in error messages ("training frame", "history"...).
    exog : sequence of str
        Exogenous columns that must be present, numeric and finite.
    require_y : bool
        Whether the target column ``y`` must be present.
    require_sorted : bool
        Whether rows must be sorted by ``unique_id, ds`` (frames that are only looked up, like
        ``X_future``, need not be).

    Returns
    -------
    SeriesIndex
        The row block of each series.

    Raises
    ------
    DataContractError
        Listing every problem found.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataContractError([f"expected a pandas DataFrame, got {type(df).__name__}"], what)
    required = [ID, DS, *([Y] if require_y else []), *exog]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataContractError(
            [f"missing column(s) {missing}; the frame has {list(df.columns)}"], what
        )
    problems: list[str] = []
    if df.empty:
        problems.append("the frame has no rows")
    if not pd.api.types.is_datetime64_any_dtype(df[DS]):
        problems.append(f"column 'ds' must be datetime64, got {df[DS].dtype}")
    for col in [*([Y] if require_y else []), *exog]:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            problems.append(f"column {col!r} must be numeric, got {df[col].dtype}")
            continue
        bad = ~np.isfinite(df[col].to_numpy(dtype=float))
        if bad.any():
            first = _ids(df)[np.flatnonzero(bad)[0]]
            problems.append(
                f"column {col!r} has {int(bad.sum())} NaN or infinite value(s) "
                f"(first in series {first!r})"
            )
    if problems:
        raise DataContractError(problems, what)
    index = series_index(df)
    if not require_sorted:
        return index
    if len(set(index.ids)) != len(index):
        problems.append("rows of a series are not contiguous: sort the frame by unique_id, ds")
    else:
        ds = df[DS].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        step_ok = np.diff(ds) > 0
        step_ok[index.starts[1:] - 1] = True  # a new series may start at any time
        if not step_ok.all():
            bad_ids = sorted({str(u) for u in _ids(df)[1:][~step_ok]})
            problems.append(
                f"timestamps are not strictly increasing within series {bad_ids[:5]}: "
                "sort by unique_id, ds and remove duplicates"
            )
    if problems:
        raise DataContractError(problems, what)
    return index


def infer_freq(df: pd.DataFrame, index: SeriesIndex) -> str:
    """Infer the one pandas frequency alias shared by all series, or explain why not."""
    found: set[str] = set()
    ds = df[DS]
    for start, end in zip(index.starts, index.ends, strict=True):
        if end - start >= 3:
            freq = pd.infer_freq(pd.DatetimeIndex(ds.iloc[start:end]))
            found.add(str(freq))
    if len(found) == 1 and "None" not in found:
        return found.pop()
    raise DataContractError(
        [
            "cannot infer one frequency for all series "
            f"(found {sorted(found) or 'none'}); pass freq='MS', 'D', '30min'..."
        ],
        "training frame",
    )


def future_dates(origin: pd.Timestamp, h: int, freq: str) -> pd.DatetimeIndex:
    """The ``h`` timestamps after ``origin`` at frequency ``freq``."""
    return pd.date_range(origin + to_offset(freq), periods=h, freq=freq)


def periods_between(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> int:
    """Signed number of ``freq`` periods from ``start`` to ``end`` (both on the grid)."""
    offset = to_offset(freq)
    if isinstance(offset, Tick):
        return int((end - start) // pd.Timedelta(offset))
    if end >= start:
        return len(pd.date_range(start, end, freq=offset)) - 1
    return -(len(pd.date_range(end, start, freq=offset)) - 1)


def take_exog(
    frame: pd.DataFrame | None,
    exog: Sequence[str],
    ids: Sequence[str],
    dates: Sequence[pd.DatetimeIndex],
    what: str,
) -> list[np.ndarray]:
    """Pick the exogenous rows of each series at the requested timestamps.

    Extra rows in ``frame`` (other series, later dates) are allowed, so a caller can pass a whole
    future calendar; a missing or duplicated row is an error naming the series.
    """
    if frame is None:
        raise DataContractError(
            [
                f"X_future is required: the model was fitted with exogenous columns {list(exog)}; "
                "pass a frame with unique_id, ds and these columns for every forecast timestamp"
            ],
            what,
        )
    check_frame(frame, what=what, exog=exog, require_y=False, require_sorted=False)
    sizes = [len(d) for d in dates]
    keys = pd.DataFrame(
        {
            ID: np.repeat(np.asarray(ids, dtype=object), sizes),
            DS: np.concatenate([d.to_numpy(dtype="datetime64[ns]") for d in dates])
            if dates
            else np.empty(0, dtype="datetime64[ns]"),
        }
    )
    sub = pd.DataFrame(
        {
            ID: frame[ID].astype(str).to_numpy(dtype=object),
            DS: frame[DS].to_numpy(dtype="datetime64[ns]"),
        }
    )
    for col in exog:
        sub[col] = frame[col].to_numpy(dtype=float)
    merged = keys.merge(sub, on=[ID, DS], how="left", indicator=True)
    problems: list[str] = []
    if len(merged) != len(keys):
        problems.append("duplicate (unique_id, ds) rows")
    absent = merged[merged["_merge"] == "left_only"]
    for uid, rows in absent.groupby(ID, sort=False):
        problems.append(
            f"series {uid!r} has no row for {len(rows)} forecast timestamp(s), "
            f"first {rows[DS].iloc[0]}"
        )
    if problems:
        raise DataContractError(problems, what)
    values = merged[list(exog)].to_numpy(dtype=float)
    bounds = np.cumsum([0, *sizes])
    return [values[a:b] for a, b in itertools.pairwise(bounds)]
