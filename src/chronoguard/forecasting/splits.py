"""Temporal train/test splits, per series, with no look-ahead.

Positions are counted from the end of each series, so series of different lengths or end dates
are split the same way: the test part is always a series' most recent points.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np
import pandas as pd

from chronoguard.errors import DataContractError
from chronoguard.forecasting._errors import InvalidParameterError
from chronoguard.forecasting._frames import check_frame

__all__ = ["rolling_origins", "temporal_split"]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _positions(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row from the start of its series, and its series' length."""
    index = check_frame(df, what="frame to split", require_y=False)
    lengths = index.ends - index.starts
    sizes = np.repeat(lengths, lengths)
    position = np.arange(len(df)) - np.repeat(index.starts, lengths)
    return position, sizes


def _too_short(df: pd.DataFrame, sizes: np.ndarray, needed: int, why: str) -> None:
    short = sizes < needed
    if short.any():
        ids = sorted(set(df["unique_id"].astype(str).to_numpy()[short]))
        raise DataContractError(
            [f"series {ids[:10]} have fewer than {needed} points, needed for {why}"],
            "frame to split",
        )


def temporal_split(df: pd.DataFrame, test_size: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each series into its last ``test_size`` points (test) and the rest (train).

    Parameters
    ----------
    df : pandas.DataFrame
        Long frame sorted by ``unique_id, ds``.
    test_size : int
        Number of test points per series.

    Returns
    -------
    train, test : pandas.DataFrame
        Row subsets of ``df`` (original index kept).

    Raises
    ------
    DataContractError
        If a series has no more than ``test_size`` points (its train part would be empty).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": ["a"] * 4 + ["b"] * 3,
    ...                    "ds": list(pd.date_range("2024-01-01", periods=4)) +
    ...                          list(pd.date_range("2024-01-01", periods=3)),
    ...                    "y": range(7)})
    >>> train, test = temporal_split(df, test_size=1)
    >>> test["y"].tolist()
    [3, 6]
    """
    test_size = _positive_int("test_size", test_size)
    position, sizes = _positions(df)
    _too_short(df, sizes, test_size + 1, f"a train part before {test_size} test points")
    is_test = position >= sizes - test_size
    return df[~is_test], df[is_test]


def rolling_origins(
    df: pd.DataFrame, h: int, n_windows: int = 1, step: int | None = None
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Yield ``(train, test)`` for each forecast origin, oldest first.

    Window ``w`` (0-based) of a series of length ``n`` tests the ``h`` points at positions
    ``[c, c + h)`` with ``c = n - h - (n_windows - 1 - w) * step`` and trains on the positions
    before ``c``. The last window tests the last ``h`` points. Train never contains a timestamp
    at or after the first test timestamp of its series.

    Parameters
    ----------
    df : pandas.DataFrame
        Long frame sorted by ``unique_id, ds``.
    h : int
        Forecast horizon (test points per series and window).
    n_windows : int, default 1
        Number of origins.
    step : int or None, default None
        Periods between consecutive origins; defaults to ``h`` (test windows do not overlap).

    Raises
    ------
    DataContractError
        If a series is too short to keep at least one training point in the first window.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=6),
    ...                    "y": range(6)})
    >>> [(len(tr), te["y"].tolist()) for tr, te in rolling_origins(df, h=2, n_windows=2)]
    [(2, [2, 3]), (4, [4, 5])]
    """
    h = _positive_int("h", h)
    n_windows = _positive_int("n_windows", n_windows)
    step = h if step is None else _positive_int("step", step)
    position, sizes = _positions(df)
    back = (n_windows - 1) * step
    _too_short(df, sizes, h + back + 1, f"{n_windows} window(s) of h={h} every {step} periods")
    for w in range(n_windows):
        cutoff = sizes - h - (n_windows - 1 - w) * step
        is_train = position < cutoff
        is_test = (position >= cutoff) & (position < cutoff + h)
        yield df[is_train], df[is_test]
