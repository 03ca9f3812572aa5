"""The data contract: long format ``unique_id, ds, y`` plus exogenous columns.

Validation happens once, at the door, and names every problem it finds. Nothing is dropped
or repaired silently: a frame either passes whole, or :class:`DataContractError` lists every
problem with the rows it concerns and how to fix them.

Time is tz-naive UTC throughout: timestamps with a UTC offset (``Z``, ``+11:00``, offsets
that change across a DST change) are converted to UTC and kept tz-naive, and day-first dates
(``dd/mm/yyyy``) are read day-first only when a value proves it (see
:mod:`chronoguard.data._timestamps`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.data._timestamps import naive_utc_timestamp, parse_timestamps, to_naive_utc
from chronoguard.errors import DataContractError

REQUIRED_COLUMNS = ("unique_id", "ds", "y")
_MAX_EXAMPLES = 3


@dataclass(frozen=True)
class ValidatedFrame:
    """A frame that passed the contract, with what validation learned about it."""

    df: pd.DataFrame
    freq: str
    series_ids: tuple[str, ...]
    exog: tuple[str, ...]
    #: Future inputs: rows with an empty ``y`` after a series' last observation
    #: (``unique_id``, ``ds`` and the exogenous columns), split out of ``df`` when
    #: :func:`validate_frame` is asked to accept them; ``None`` otherwise.
    future: pd.DataFrame | None = None

    @property
    def n_series(self) -> int:
        return len(self.series_ids)


def load_frame(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a frame; ``ds`` is parsed as a timestamp.

    Timestamps with a UTC offset (``2020-01-01T00:00:00Z``, ``...+11:00``, mixed offsets as
    across a DST change) are converted to UTC and kept tz-naive, as chronoguard is tz-naive
    UTC throughout. Day-first dates (``dd/mm/yyyy``, ``dd.mm.yyyy``) are read day-first when
    some day is above 12; when no value tells day-first from month-first, ``ds`` is left as
    text and :func:`validate_frame` refuses it, naming an example and the fix (ISO 8601).

    The frame is not validated here: pass it to :func:`validate_frame`.
    """
    p = Path(path)
    if not p.exists():
        raise DataContractError([f"file not found: {p}; check the path"], source=str(p))
    suffixes = "".join(p.suffixes).lower()
    try:
        if suffixes.endswith(".parquet") or suffixes.endswith(".pq"):
            df = pd.read_parquet(p)
        elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(p)
        else:
            raise DataContractError(
                [f"unsupported file type '{p.suffix}'; use .csv, .csv.gz or .parquet"],
                source=str(p),
            )
    except DataContractError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types; name the file either way
        raise DataContractError([f"cannot read {p.name}: {exc}"], source=str(p)) from exc
    if "ds" in df.columns:
        parsed = parse_timestamps(df["ds"]).values
        # Keep unparseable or ambiguous values visible: validation reports them (by row,
        # with the fix) instead of failing here on the first one.
        if parsed is not None:
            df["ds"] = parsed
    if "unique_id" in df.columns:
        df["unique_id"] = df["unique_id"].astype(str)
    return df


def _rows(index: pd.Index) -> str:
    shown = ", ".join(str(i) for i in list(index[:_MAX_EXAMPLES]))
    more = f" and {len(index) - _MAX_EXAMPLES} more" if len(index) > _MAX_EXAMPLES else ""
    return f"rows {shown}{more}"


def infer_frequency(df: pd.DataFrame) -> str | None:
    """The pandas frequency alias shared by every series, or ``None`` if it cannot be told."""
    freqs: set[str] = set()
    for _, g in df.groupby("unique_id", sort=False):
        if len(g) < 3:
            continue
        f = pd.infer_freq(pd.DatetimeIndex(g["ds"]))
        if f is None:
            return None
        freqs.add(f)
    if len(freqs) != 1:
        return None
    return freqs.pop()


def find_problems(
    df: pd.DataFrame,
    *,
    freq: str | None = None,
    exog: tuple[str, ...] | list[str] | None = None,
    now: pd.Timestamp | None = None,
    require_target: bool = True,
    future_inputs: bool = False,
) -> tuple[list[str], str | None]:
    """Every contract problem of ``df``, and the frequency (given or inferred).

    This never raises for bad data; :func:`validate_frame` raises with the list.
    ``require_target=False`` checks future exogenous frames, which carry no ``y``.
    ``future_inputs=True`` accepts rows with an empty ``y`` after each series' last
    observed ``y`` as future inputs, when ``exog`` names the columns they carry (see
    :func:`future_input_rows`); an empty ``y`` inside a series' history stays an error.
    """
    problems: list[str] = []
    future_mask = np.zeros(len(df), dtype=bool)  # rows accepted as future inputs
    if "ds" in df.columns and isinstance(df["ds"].dtype, pd.DatetimeTZDtype):
        df = df.assign(ds=to_naive_utc(df["ds"]))  # a new frame: the input is not modified
    if now is not None:
        now = naive_utc_timestamp(pd.Timestamp(now))
    required = REQUIRED_COLUMNS if require_target else ("unique_id", "ds")
    missing = [c for c in required if c not in df.columns]
    if missing:
        problems.append(
            f"missing column(s) {missing}; the contract is long format with columns "
            f"unique_id, ds, y (+ exogenous); rename your columns"
        )
        return problems, freq
    if df.empty:
        problems.append("the frame has no rows; pass at least one observation per series")
        return problems, freq
    if exog:
        absent = [c for c in exog if c not in df.columns]
        if absent:
            problems.append(f"exogenous column(s) {absent} named in the config are missing")
    if not pd.api.types.is_datetime64_any_dtype(df["ds"]):
        parsed = parse_timestamps(df["ds"])
        if parsed.problem is not None:
            problems.append(parsed.problem)
            return problems, freq
        bad = parsed.unparseable
        detail = f" ({_rows(bad)} cannot be parsed)" if len(bad) else ""
        problems.append(
            f"column ds has dtype {df['ds'].dtype}, expected timestamps{detail}; "
            "write ISO dates such as 1983-02-01 or 2012-01-01 00:30:00"
        )
        return problems, freq
    if df["ds"].isna().any():
        problems.append(f"column ds has missing timestamps at {_rows(df.index[df['ds'].isna()])}")
    if df["unique_id"].isna().any():
        problems.append(f"column unique_id is empty at {_rows(df.index[df['unique_id'].isna()])}")
    if require_target:
        if not pd.api.types.is_numeric_dtype(df["y"]) or pd.api.types.is_bool_dtype(df["y"]):
            problems.append(
                f"column y has dtype {df['y'].dtype}, expected numbers; remove text such as "
                "thousands separators or units"
            )
        else:
            y = df["y"].to_numpy(dtype=float)
            trailing = future_input_rows(df)
            accepted = trailing if (future_inputs and exog) else np.zeros(len(df), dtype=bool)
            nan = df.index[np.isnan(y) & ~accepted]
            if len(nan):
                hint = ""
                if trailing[np.isnan(y)].any() and not accepted.any():
                    hint = (
                        "; rows with an empty y after a series' last observation are future "
                        "inputs, read only for a model with exogenous columns (data.exog), "
                        "and this "
                        + ("reading of the data does not take them" if exog else "model has none")
                    )
                problems.append(
                    f"target y is NaN at {_rows(nan)} ({len(nan)} rows); fill or remove "
                    f"them explicitly before loading{hint}"
                )
            future_mask = accepted
            inf = df.index[np.isinf(y)]
            if len(inf):
                problems.append(f"target y is infinite at {_rows(inf)} ({len(inf)} rows)")
    for col in exog or ():
        if col in df.columns and not pd.api.types.is_numeric_dtype(df[col]):
            problems.append(
                f"exogenous column {col} has dtype {df[col].dtype}; only numeric features "
                "are supported by the forecasting backends: encode it as numbers"
            )
        elif col in df.columns and df[col].isna().any():
            problems.append(
                f"exogenous column {col} has missing values at {_rows(df.index[df[col].isna()])}"
            )
    if df["ds"].isna().any() or df["unique_id"].isna().any():
        return problems, freq

    dup = df.index[df.duplicated(["unique_id", "ds"], keep="first")]
    if len(dup):
        problems.append(
            f"duplicate timestamps within a series at {_rows(dup)} ({len(dup)} rows); "
            "each (unique_id, ds) must appear once: aggregate or remove the duplicates"
        )
    unsorted = _unsorted_series(df)
    if unsorted:
        problems.append(
            f"timestamps are not sorted within series {unsorted[:_MAX_EXAMPLES]}"
            f"{' and more' if len(unsorted) > _MAX_EXAMPLES else ''}; sort by unique_id, ds"
        )
    if now is not None:
        # Future inputs lie after the current time by nature.
        future = df.index[(df["ds"] > now).to_numpy() & ~future_mask]
        if len(future):
            problems.append(f"timestamps after the current time {now} at {_rows(future)}")

    if dup.size or unsorted:
        return problems, freq
    if freq is None:
        freq = infer_frequency(df)
        if freq is None:
            problems.append(
                "irregular or unknown frequency: the timestamps of some series do not "
                "follow one regular frequency; set `freq` in the config (e.g. 'MS', 'D', "
                "'30min') to have the gaps listed"
            )
            return problems, None
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        problems.append(f"unknown frequency '{freq}'; use a pandas alias such as MS, D, h, 30min")
        return problems, None
    gaps: list[str] = []
    off_grid: list[str] = []
    suspects = _series_off_calendar(df, offset)
    for uid, g in df[df["unique_id"].isin(suspects)].groupby("unique_id", sort=False):
        ds = pd.DatetimeIndex(g["ds"])
        expected = pd.date_range(ds[0], ds[-1], freq=offset)
        if len(expected) != len(ds) or not expected.equals(ds):
            extra = ds.difference(expected)
            if len(extra):
                off_grid.append(f"{uid}: {[str(t) for t in extra[:_MAX_EXAMPLES]]}")
            missing_ts = expected.difference(ds)
            if len(missing_ts):
                gaps.append(
                    f"{uid}: {len(missing_ts)} missing, first "
                    f"{[str(t) for t in missing_ts[:_MAX_EXAMPLES]]}"
                )
    if off_grid:
        problems.append(
            f"timestamps off the '{freq}' grid in series {off_grid[:_MAX_EXAMPLES]}; "
            "check the frequency or align the timestamps"
        )
    if gaps:
        problems.append(
            f"gaps in series {gaps[:_MAX_EXAMPLES]}; add the missing periods "
            "(with a value) — chronoguard does not fill them for you"
        )
    return problems, freq


def future_input_rows(df: pd.DataFrame) -> np.ndarray:
    """Which rows of ``df`` have an empty ``y`` after their series' last observed ``y``.

    Such rows are the *future inputs* of the contract: the exogenous values of periods to
    forecast (planned prices, a calendar), written after the history in the same file. A
    series with no observed ``y`` at all has no history, so none of its rows count.
    """
    y = pd.to_numeric(df["y"], errors="coerce").to_numpy(dtype=float)
    empty = np.isnan(y)
    if not empty.any():
        return empty
    observed = df["ds"].where(~empty)
    last = observed.groupby(df["unique_id"], sort=False).transform("max")
    return empty & (df["ds"] > last).to_numpy()


def validate_frame(
    df: pd.DataFrame,
    *,
    freq: str | None = None,
    exog: tuple[str, ...] | list[str] | None = None,
    now: pd.Timestamp | None = None,
    source: str | None = None,
    future_inputs: bool = False,
) -> ValidatedFrame:
    """Check ``df`` against the contract; raise :class:`DataContractError` naming every problem.

    A tz-aware ``ds`` is converted to UTC and returned tz-naive (chronoguard is tz-naive
    UTC throughout); a tz-aware ``now`` likewise.

    Parameters
    ----------
    df
        Long frame with ``unique_id``, ``ds``, ``y`` and optional exogenous columns.
    freq
        Expected pandas frequency alias; inferred when ``None``.
    exog
        Exogenous columns the caller needs; ``None`` means every extra column.
    now
        The injected current time: timestamps after it are an error.
    source
        Where the frame came from, for the error message.
    future_inputs
        Accept rows with an empty ``y`` after each series' last observation as future
        inputs (only when ``exog`` names the exogenous columns they carry): they are split
        out of ``df`` into :attr:`ValidatedFrame.future`. An empty ``y`` inside a series'
        history stays an error.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=4, freq="MS"),
    ...                    "y": [1.0, 2.0, 3.0, 4.0]})
    >>> validate_frame(df).freq
    'MS'
    """
    problems, found_freq = find_problems(
        df, freq=freq, exog=exog, now=now, future_inputs=future_inputs
    )
    if problems:
        raise DataContractError(problems, source=source)
    assert found_freq is not None
    extra = tuple(c for c in df.columns if c not in REQUIRED_COLUMNS)
    ex = tuple(exog) if exog is not None else extra
    out = df.copy()
    out["ds"] = to_naive_utc(out["ds"])
    out["unique_id"] = out["unique_id"].astype(str)
    future: pd.DataFrame | None = None
    if future_inputs and exog:
        ahead = future_input_rows(out)
        future = out.loc[ahead, ["unique_id", "ds", *ex]].reset_index(drop=True)
        out = out[~ahead]
    out["y"] = out["y"].astype(float)
    out = out.reset_index(drop=True)
    return ValidatedFrame(
        df=out,
        freq=found_freq,
        series_ids=tuple(pd.unique(out["unique_id"])),
        exog=ex,
        future=future,
    )


def validate_with_future(
    df: pd.DataFrame,
    *,
    freq: str | None,
    exog: tuple[str, ...] | list[str],
    future: pd.DataFrame | None = None,
    source: str = "data",
    future_source: str = "future",
) -> ValidatedFrame:
    """Check a history and its future inputs, as every command that forecasts reads them.

    For a model with exogenous columns (``exog``) the future inputs are either the rows
    of ``df`` with an empty ``y`` after each series' last observation or the frame
    ``future`` (:func:`validate_future_inputs`), never both; they are returned in
    :attr:`ValidatedFrame.future`, the history in :attr:`ValidatedFrame.df`. Without
    exogenous columns an empty ``y`` stays an error and ``future`` is refused.
    """
    checked = validate_frame(df, freq=freq, exog=exog, source=source, future_inputs=bool(exog))
    if future is None:
        return checked
    if checked.future is not None and len(checked.future):
        raise DataContractError(
            [
                f"future inputs are given twice: in {future_source} and as rows with an "
                f"empty y in {source}; keep one of them"
            ],
            source=source,
        )
    inputs = validate_future_inputs(future, exog=exog, freq=checked.freq, source=future_source)
    return replace(checked, future=inputs)


def validate_future_inputs(
    df: pd.DataFrame,
    *,
    exog: tuple[str, ...] | list[str],
    freq: str,
    source: str | None = None,
) -> pd.DataFrame:
    """Check a frame of future inputs: ``unique_id``, ``ds`` and exactly the ``exog``
    columns (a ``y`` column is allowed only if it is empty), one row per series and period.

    Returns the frame with ``unique_id``, ``ds`` and the ``exog`` columns, ``ds`` tz-naive
    UTC; raises :class:`DataContractError` naming every problem: columns the model does not
    know or needs, a model without exogenous columns, and the usual contract problems
    (timestamps, duplicates, missing or non-numeric values). Whether the rows cover every
    forecast period is checked by the forecast, which knows each series' last observation.
    """
    exog = list(exog)
    if not exog:
        raise DataContractError(
            [
                "future inputs were given, but the model uses no exogenous columns, so they "
                "would be ignored; leave them out, or train a version with data.exog set in "
                "chronoguard.toml"
            ],
            source=source,
        )
    problems: list[str] = []
    known = {"unique_id", "ds", "y", *exog}
    unknown = [c for c in df.columns if c not in known]
    if unknown:
        problems.append(
            f"column(s) {unknown} are not inputs of the model, which uses {exog}; remove "
            "them (or train a version that uses them)"
        )
    if "y" in df.columns and pd.to_numeric(df["y"], errors="coerce").notna().any():
        problems.append(
            "column y has values: future inputs carry no target; remove the column (or keep "
            "it empty)"
        )
    absent = [c for c in exog if c not in df.columns]
    if absent:
        problems.append(
            f"column(s) {absent} are missing: the model needs the future values of every "
            f"input it uses, {exog}"
        )
    found, _ = find_problems(
        df[[c for c in df.columns if c in known and c != "y"]],
        freq=freq,
        exog=[c for c in exog if c in df.columns],
        require_target=False,
    )
    problems.extend(found)
    if problems:
        raise DataContractError(problems, source=source)
    out = df[["unique_id", "ds", *exog]].copy()
    out["ds"] = to_naive_utc(out["ds"])
    out["unique_id"] = out["unique_id"].astype(str)
    return out.reset_index(drop=True)


# The two per-series checks below run on every cycle over the whole fleet's window, so they
# are vectorised over the frame (one sort, no loop per series); the series they single out
# go through the detailed per-series report above.


def _group_order(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Series codes in order of first appearance, and the rows sorted by series (stably,
    so each series keeps its own row order), with their codes."""
    codes, _ = pd.factorize(df["unique_id"], sort=False)
    order = np.argsort(codes, kind="stable")
    return codes, order, codes[order]


def _unsorted_series(df: pd.DataFrame) -> list[str]:
    """Series whose timestamps do not increase (ties allowed), in order of appearance."""
    _, order, c = _group_order(df)
    t = df["ds"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[order]
    bad = (c[1:] == c[:-1]) & (t[1:] < t[:-1])
    if not bad.any():
        return []
    ids = df["unique_id"].to_numpy()[order][1:][bad]
    return [str(u) for u in pd.unique(ids)]


def _series_off_calendar(df: pd.DataFrame, offset: Any) -> set[str]:
    """Series that may have gaps or timestamps off the ``offset`` grid (a superset: the
    caller checks each in detail). Exact for fixed steps (days, hours, minutes), anchored
    weeks, and month, quarter and year starts; every series for other offsets."""
    ids = df["unique_id"].to_numpy()
    t = df["ds"].to_numpy(dtype="datetime64[ns]")
    name = offset.name
    n = int(getattr(offset, "n", 1))
    if isinstance(offset, pd.offsets.Tick):
        step = int(offset.nanos)
        ticks = t.astype(np.int64)
        if ((ticks - ticks.min()) % step != 0).any():
            return {str(u) for u in pd.unique(ids)}
        units = ticks // step
    elif name in ("MS", "QS-JAN", "YS-JAN") and n >= 1:
        months = {"MS": 1, "QS-JAN": 3, "YS-JAN": 12}[name] * n
        day_start = t.astype("datetime64[D]") == t
        month = t.astype("datetime64[M]")
        first_day = month.astype("datetime64[D]") == t.astype("datetime64[D]")
        whole = month.astype(np.int64)
        if not (day_start & first_day).all() or ((whole - whole.min()) % months != 0).any():
            return {str(u) for u in pd.unique(ids)}
        units = whole // months
    elif isinstance(offset, pd.offsets.Week) and getattr(offset, "weekday", None) is not None:
        weekday = int(getattr(offset, "weekday", 0))
        days = t.astype("datetime64[D]")
        d = days.astype(np.int64)
        # 1970-01-01 was a Thursday (weekday 3).
        if n < 1 or not (days == t).all() or ((d + 3) % 7 != weekday).any():
            return {str(u) for u in pd.unique(ids)}
        units = (d - d.min()) // (7 * n)
        if ((d - d.min()) % (7 * n) != 0).any():
            return {str(u) for u in pd.unique(ids)}
    else:
        return {str(u) for u in pd.unique(ids)}
    _, order, c = _group_order(df)
    u = units[order]
    same = c[1:] == c[:-1]
    # Sorted, duplicate-free series are on the calendar when each step is exactly one unit.
    jump = same & (u[1:] - u[:-1] != 1)
    return {str(x) for x in pd.unique(ids[order][1:][jump])}
