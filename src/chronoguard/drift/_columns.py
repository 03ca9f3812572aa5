"""Input normalisation shared by reference profiles and the batch tests.

:func:`to_columns` turns an array, Series, wide or long DataFrame into validated blocks of
numeric columns (columns of equal length stored together, time order kept) and a map of
categorical columns, each named by a :class:`ColumnKey`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from chronoguard.drift import _core
from chronoguard.drift._core import FloatArray
from chronoguard.drift.types import DriftInputError


class ColumnKey(NamedTuple):
    """One tested column: a feature of one series (``unique_id`` is None for wide data)."""

    unique_id: str | None
    feature: str

    def label(self) -> str:
        return self.feature if self.unique_id is None else f"{self.unique_id}/{self.feature}"


@dataclass(slots=True)
class RawBlock:
    """Columns of equal length, as given (time order kept): ``data`` is ``(n, k)``."""

    keys: list[ColumnKey]
    data: FloatArray


@dataclass(slots=True)
class ColumnSet:
    numeric: list[RawBlock]
    categorical: dict[ColumnKey, np.ndarray]

    @property
    def numeric_keys(self) -> list[ColumnKey]:
        return [k for b in self.numeric for k in b.keys]


def _is_numeric(values: Any) -> bool:
    # Real numbers only (numpy or pandas nullable dtypes); bool and complex are not.
    dtype = getattr(values, "dtype", None)
    return (
        dtype is not None
        and pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )


def _check_numeric(block: RawBlock, what: str) -> None:
    if block.data.shape[0] == 0:
        names = ", ".join(k.label() for k in block.keys[:5])
        raise DriftInputError(
            f"{what} is empty for column(s) {names}: a drift test needs at least one "
            "observation per column; pass a non-empty window or leave the column out."
        )
    bad = ~_core.finite_columns(block.data)
    if bad.any():
        bad_names = [block.keys[j].label() for j in np.flatnonzero(bad)]
        more = len(bad_names) - 10
        shown = ", ".join(bad_names[:10]) + (f" (+{more} more)" if more > 0 else "")
        raise DriftInputError(
            f"{what} has NaN or infinite values in column(s) {shown}: drift tests compare "
            "distributions of finite values; drop or impute them first (chronoguard.data "
            "validation reports and quarantines such rows)."
        )


def _check_categorical(key: ColumnKey, values: np.ndarray, what: str) -> None:
    if values.size == 0:
        raise DriftInputError(
            f"{what} is empty for categorical column {key.label()}: pass a non-empty window."
        )
    if pd.isna(values).any():
        raise DriftInputError(
            f"{what} has missing values in categorical column {key.label()}: map them to an "
            "explicit category (e.g. 'missing') or drop them before testing."
        )


def to_columns(
    data: Any,
    *,
    features: list[str] | None = None,
    categorical: list[str] | None = None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    what: str = "data",
) -> ColumnSet:
    """Normalise an array, Series or (wide or long) DataFrame into validated column blocks.

    * 1-D array or Series: one column (named ``features[0]``, the Series name, or ``"y"``).
    * 2-D array: columns named ``features`` or ``x0, x1, …``.
    * DataFrame without ``id_col``: one column per frame column (``features`` selects).
    * DataFrame with ``id_col`` (the long data contract): one column per series × feature,
      rows in ``time_col`` order within each series.

    Non-numeric columns (and any named in ``categorical``) are categorical.
    """
    cat = set(categorical or [])
    if isinstance(data, pd.Series):
        name = features[0] if features else (str(data.name) if data.name is not None else "y")
        data = data.to_frame(name=name)
        features = [name]
    if isinstance(data, pd.DataFrame):
        return _frame_columns(data, features, cat, id_col, time_col, what)
    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise DriftInputError(
            f"{what} must be 1-D or 2-D (rows × columns), got an array of shape {arr.shape}."
        )
    if arr.ndim == 1:
        arr = arr[:, None]
        names = features or ["y"]
    else:
        names = features or [f"x{j}" for j in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise DriftInputError(
            f"{what} has {arr.shape[1]} column(s) but {len(names)} feature name(s) were given; "
            "pass one name per column."
        )
    keys = [ColumnKey(None, str(f)) for f in names]
    if _is_numeric(arr) and not cat:
        block = RawBlock(keys, np.asarray(arr, dtype=np.float64))
        _check_numeric(block, what)
        return ColumnSet([block], {})
    frame = pd.DataFrame({k.feature: arr[:, j] for j, k in enumerate(keys)})
    return _frame_columns(frame, [k.feature for k in keys], cat, id_col, time_col, what)


def _matrix(df: pd.DataFrame, cols: list[str], label: dict[str, Any]) -> FloatArray:
    # A frame of one float64 block hands out its buffer without a copy; selecting columns
    # (df[cols]) would copy it first — 400 MB for a 10^6 x 50 reference.
    sub = df if cols == list(label) else df[[label[c] for c in cols]]
    return np.asarray(sub.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _frame_columns(
    df: pd.DataFrame,
    features: list[str] | None,
    cat: set[str],
    id_col: str,
    time_col: str,
    what: str,
) -> ColumnSet:
    long = id_col in df.columns
    skip = {id_col, time_col} if long else set()
    label = {str(c): c for c in df.columns}  # results name columns by str(label)
    cols = [str(c) for c in (features or [c for c in label if c not in skip])]
    missing = [c for c in cols if c not in label]
    if missing:
        raise DriftInputError(
            f"{what} has no column(s) {missing}; it has {[str(c) for c in df.columns]}. "
            "Pass matching `features` or rename the columns."
        )
    num_cols = [c for c in cols if c not in cat and _is_numeric(df[label[c]])]
    cat_cols = [c for c in cols if c not in num_cols]
    numeric: list[RawBlock] = []
    categorical: dict[ColumnKey, np.ndarray] = {}
    if not long:
        if num_cols:
            block = RawBlock([ColumnKey(None, c) for c in num_cols], _matrix(df, num_cols, label))
            _check_numeric(block, what)
            numeric.append(block)
        for c in cat_cols:
            key = ColumnKey(None, c)
            categorical[key] = df[label[c]].to_numpy()
            _check_categorical(key, categorical[key], what)
        return ColumnSet(numeric, categorical)

    if time_col in df.columns:
        df = df.sort_values([id_col, time_col], kind="stable")
    by_len: dict[int, tuple[list[ColumnKey], list[np.ndarray]]] = {}
    values = _matrix(df, num_cols, label) if num_cols else None
    cat_values = {c: df[label[c]].to_numpy() for c in cat_cols}
    for uid, idx in df.groupby(id_col, sort=False).indices.items():
        sid = str(uid)
        if values is not None:
            keys, parts = by_len.setdefault(len(idx), ([], []))
            keys.extend(ColumnKey(sid, c) for c in num_cols)
            parts.append(values[idx])
        for c in cat_cols:
            key = ColumnKey(sid, c)
            categorical[key] = cat_values[c][idx]
            _check_categorical(key, categorical[key], what)
    for keys, parts in by_len.values():
        block = RawBlock(keys, np.concatenate(parts, axis=1))
        _check_numeric(block, what)
        numeric.append(block)
    return ColumnSet(numeric, categorical)


def value_counts(values: np.ndarray) -> dict[str, int]:
    """Counts of each category (values compared as strings, so 1 and "1" are one category)."""
    uniq, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
    return {str(u): int(c) for u, c in zip(uniq, counts, strict=True)}
