"""Reading the ``ds`` column honestly: time zones to UTC, day-first dates told apart.

chronoguard is tz-naive throughout, in UTC. A timestamp that carries a UTC offset (``Z``,
``+11:00``, or offsets that change within a column, as across a DST change) is converted
to UTC and then stored tz-naive; a timestamp without one is taken as it is. A column that
mixes both is refused, since the naive values' zone is unknown.

Dates written ``dd/mm/yyyy`` (or with ``.`` or ``-``) are read day-first when some value
proves it (a first field above 12), month-first when some value proves that (a second
field above 12), and refused when no value settles it: nothing is silently misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

# d/m/y (or m/d/y) with the year last; an optional time part follows after a space or T.
_DMY = r"^(\d{1,2})([./-])(\d{1,2})\2(?:\d{4}|\d{2})(?:$|[ T])"
# A time of day followed by a UTC offset: Z, UTC/GMT, +hh, +hhmm or +hh:mm.
_OFFSET = re.compile(
    r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)
_ISO_FIX = "write ISO 8601 dates YYYY-MM-DD (such as 2020-02-01, or 2020-02-01 00:30:00)"


@dataclass(frozen=True)
class ParsedTimestamps:
    """The outcome of :func:`parse_timestamps`.

    ``values`` is the column as tz-naive UTC timestamps when every value was read, else
    ``None``; ``problem`` then says why (``None`` when the trouble is only values that are
    not dates at all, listed in ``unparseable``, for the caller's own message).
    """

    values: pd.Series | None
    problem: str | None
    unparseable: pd.Index


def to_naive_utc(values: pd.Series) -> pd.Series:
    """A tz-aware timestamp column converted to UTC and made tz-naive (others unchanged)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values


def naive_utc_timestamp(ts: pd.Timestamp) -> pd.Timestamp:
    """A tz-aware timestamp in UTC, tz-naive; a naive one unchanged."""
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _has_offset(value: Any) -> bool:
    if isinstance(value, str):
        return _OFFSET.search(value) is not None
    return isinstance(value, datetime) and value.tzinfo is not None


def parse_timestamps(raw: pd.Series, column: str = "ds") -> ParsedTimestamps:
    """Read a column of timestamps (text, datetime objects or a datetime dtype).

    Returns tz-naive UTC values, or the problem that stops them being read without guessing.
    Missing values stay missing (``NaT``); the caller reports them.
    """
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return ParsedTimestamps(to_naive_utc(raw), None, pd.Index([]))
    mask = raw.notna().to_numpy()
    present = raw[mask]
    if not (pd.api.types.is_object_dtype(raw.dtype) or pd.api.types.is_string_dtype(raw.dtype)):
        # Numbers and the like: pandas' reading, as before (no zones, no day-first).
        parsed = to_naive_utc(pd.to_datetime(raw, errors="coerce", format="mixed"))
        bad = present.index[parsed[present.index].isna().to_numpy()]
        return ParsedTimestamps(None if len(bad) else parsed, None, bad)
    # Panels repeat the same timestamps across series: work on the distinct values.
    codes, distinct = pd.factorize(present)
    uniq = pd.Series([v.strip() if isinstance(v, str) else v for v in distinct], dtype=object)

    def shown(k: int) -> str:  # a distinct value, with the first row holding it
        return f"'{uniq[k]}', row {present.index[int(np.argmax(codes == k))]}"

    aware = uniq.map(_has_offset).astype(bool)
    if aware.any() and not aware.all():
        return ParsedTimestamps(
            None,
            f"column {column} mixes timestamps with a UTC offset (such as "
            f"{shown(int(np.flatnonzero(aware)[0]))}) and without one (such as "
            f"{shown(int(np.flatnonzero(~aware)[0]))}), so the zone of the second kind is "
            "unknown; give every timestamp its offset (they are converted to UTC) or none",
            pd.Index([]),
        )

    dayfirst = False
    is_text = uniq.map(lambda v: isinstance(v, str)).astype(bool)
    dmy = uniq[is_text].astype(str).str.extract(_DMY).dropna()
    if len(dmy):
        first, second = dmy[0].astype(int), dmy[2].astype(int)
        day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
        if day_first and month_first:
            a, b = int(first[first > 12].index[0]), int(second[second > 12].index[0])
            return ParsedTimestamps(
                None,
                f"column {column} mixes day-first and month-first dates (such as "
                f"{shown(a)}, and {shown(b)}); {_ISO_FIX}",
                pd.Index([]),
            )
        differ = first != second
        if not day_first and not month_first and differ.any():
            k = int(differ[differ].index[0])
            f, m = int(first[k]), int(second[k])
            return ParsedTimestamps(
                None,
                f"column {column} has dates such as {shown(k)} that read either day-first "
                f"(day {f}, month {m}) or month-first (month {f}, day {m}), and no value has "
                f"a day above 12 to tell which; {_ISO_FIX}",
                pd.Index([]),
            )
        dayfirst = day_first

    parsed = pd.to_datetime(uniq, errors="coerce", format="mixed", dayfirst=dayfirst, utc=True)
    per_value = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    out = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[mask] = per_value[codes]
    bad = present.index[np.isnat(out[mask])]
    return ParsedTimestamps(
        None if len(bad) else pd.Series(out, index=raw.index, name=raw.name), None, bad
    )
