"""Seasonal positions and regressors: compare like with like.

A drift check on a seasonal series must compare a December with Decembers and a Monday with
Mondays; comparing whole windows mixes seasons and flags the calendar, not a change. This
module turns timestamps into integer *positions* (steps since the start of the reference)
and positions into the regressors of the reference's seasonal mean:

* a season whose period is a small integer and that the reference covers at least twice
  (days of the week, months of the year with two or more years of reference) gets one
  dummy per position: the reference's own seasonal means, no shape assumed;
* a long or fractional period (the year in daily data, 365.25 days) gets a few Fourier
  pairs (Harvey's trigonometric seasonal; Hyndman & Athanasopoulos, *FPP3* §7.4). With a
  single reference year, dummies would copy that year's noise day by day into the
  expected value; three smooth harmonics estimate the yearly shape and average the noise
  away. The price is an assumption: the yearly pattern is smooth.

Nothing here reads data values; the functions are pure and cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from chronoguard.drift.types import DriftInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Integer periods up to this length get one dummy per position (when the reference covers
#: two cycles); longer ones get Fourier terms, which need far fewer parameters.
DUMMY_MAX_PERIOD = 60
#: Harmonics per Fourier season (capped at period / 2).
DEFAULT_FOURIER_TERMS = 3


def as_periods(
    season_length: float | int | tuple[float, ...] | list[float] | None,
) -> tuple[float, ...]:
    """Normalise ``season_length`` (``None``, one period or several) to a tuple of floats."""
    if season_length is None:
        return ()
    items = list(season_length) if isinstance(season_length, list | tuple) else [season_length]
    out: list[float] = []
    for p in items:
        if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
            raise DriftInputError(
                f"season_length={season_length!r}: each period must be a number of time steps "
                "(e.g. 7 for weekly in daily data, 12 for monthly data, 365.25 for yearly in "
                "daily data)"
            )
        if not math.isfinite(float(p)) or float(p) < 2:
            raise DriftInputError(
                f"season_length={season_length!r}: a period must be a finite number >= 2 "
                "(use None for a series without seasonality)"
            )
        if float(p) not in out:
            out.append(float(p))
    return tuple(out)


def default_seasons(freq: str | None, n_reference: int) -> tuple[float, ...]:
    """The seasons a series of frequency ``freq`` usually has, kept if the reference shows them.

    Daily: the week (7) and the year (365.25); sub-daily: the day and the week; monthly: 12;
    quarterly: 4; weekly: 52.18; business days: 5. A season is kept only when the
    reference covers at least one full cycle, since a pattern never seen cannot be
    estimated. ``None`` (no timestamps) means no seasons: say ``season_length`` instead.
    """
    if freq is None:
        return ()
    try:
        off = pd.tseries.frequencies.to_offset(freq)
    except ValueError as exc:
        raise DriftInputError(f"freq={freq!r} is not a pandas frequency alias") from exc
    name = off.name.upper()
    cands: tuple[float, ...]
    if isinstance(off, pd.offsets.Tick):
        seconds = pd.Timedelta(off).total_seconds()
        per_day = 86400.0 / seconds
        if abs(per_day - 1.0) < 1e-9:
            cands = (7.0, 365.25)
        elif per_day > 1 and abs(per_day - round(per_day)) < 1e-9:
            cands = (per_day, 7.0 * per_day)
        else:
            cands = ()
    elif name.startswith("B"):
        cands = (5.0,)
    elif name.startswith("W"):
        cands = (365.25 / 7.0,)
    elif name.startswith("M"):
        cands = (12.0,)
    elif name.startswith("Q"):
        cands = (4.0,)
    else:  # yearly and anything coarser
        cands = ()
    return tuple(p for p in cands if n_reference >= p - 1)


@dataclass(frozen=True, slots=True)
class SeasonalDesign:
    """Regressors of a series' mean: an intercept, then dummies or Fourier pairs per season.

    Build it with :meth:`for_reference`; ``matrix(positions)`` gives the same columns for
    any positions (reference or later), so the reference's seasonal profile is applied to
    the current window at the same season positions.
    """

    periods: tuple[float, ...] = ()
    kinds: tuple[str, ...] = ()  # "dummy" or "fourier", one per period
    terms: tuple[int, ...] = ()  # dummy: period - 1 columns; fourier: number of harmonics

    @classmethod
    def for_reference(
        cls,
        periods: tuple[float, ...],
        n_reference: int,
        *,
        fourier_terms: int = DEFAULT_FOURIER_TERMS,
    ) -> tuple[SeasonalDesign, list[str]]:
        """Choose dummies or Fourier terms per period; return the design and notes on skips."""
        kinds: list[str] = []
        terms: list[int] = []
        kept: list[float] = []
        notes: list[str] = []
        for p in periods:
            integer = abs(p - round(p)) < 1e-9
            if integer and p <= DUMMY_MAX_PERIOD and n_reference >= 2 * p:
                kept.append(p)
                kinds.append("dummy")
                terms.append(round(p) - 1)
            elif n_reference >= p - 1:
                kept.append(p)
                kinds.append("fourier")
                terms.append(max(1, min(int(fourier_terms), int(p // 2))))
                if n_reference < 2 * p - 1:
                    notes.append(
                        f"season {p:g} is learnt from one cycle ({n_reference} points): its "
                        "profile carries that cycle's noise, so small level shifts are found "
                        "later; a reference of two cycles or more recovers most of that power "
                        "(docs/drift.md, 'What a one-year reference allows')"
                    )
            else:
                notes.append(
                    f"season {p:g} skipped: the reference ({n_reference} points) is shorter "
                    "than one cycle, so its pattern cannot be estimated"
                )
        return cls(tuple(kept), tuple(kinds), tuple(terms)), notes

    @property
    def n_columns(self) -> int:
        """Number of regressors, the intercept included."""
        return 1 + sum(
            t if k == "dummy" else 2 * t for k, t in zip(self.kinds, self.terms, strict=True)
        )

    def matrix(self, positions: npt.ArrayLike) -> FloatArray:
        """Regressors ``(len(positions), n_columns)`` at integer time ``positions``."""
        pos = np.asarray(positions, dtype=np.float64)
        cols: list[FloatArray] = [np.ones_like(pos)]
        for p, kind, t in zip(self.periods, self.kinds, self.terms, strict=True):
            if kind == "dummy":
                phase = np.mod(np.rint(pos), round(p)).astype(np.int64)
                cols.extend((phase == j).astype(np.float64) for j in range(1, t + 1))
            else:
                ang = 2.0 * np.pi * pos / p
                for h in range(1, t + 1):
                    cols.append(np.sin(h * ang))
                    cols.append(np.cos(h * ang))
        return np.column_stack(cols)

    def frequencies(self) -> FloatArray:
        """Frequency (cycles per step) of each column: 0 for the intercept, ``h / period``
        for Fourier terms, NaN for dummies (which span all the season's frequencies)."""
        out: list[float] = [0.0]
        for p, kind, t in zip(self.periods, self.kinds, self.terms, strict=True):
            if kind == "dummy":
                out.extend([np.nan] * t)
            else:
                for h in range(1, t + 1):
                    out.extend([h / p, h / p])
        return np.asarray(out, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"periods": list(self.periods), "kinds": list(self.kinds), "terms": list(self.terms)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeasonalDesign:
        return cls(
            tuple(float(p) for p in d["periods"]),
            tuple(str(k) for k in d["kinds"]),
            tuple(int(t) for t in d["terms"]),
        )


# --------------------------------------------------------------------------------------
# timestamps -> positions
# --------------------------------------------------------------------------------------


def infer_frequency(ds: pd.DatetimeIndex, *, what: str = "reference") -> str:
    """The regular frequency of ``ds``; raises :class:`DriftInputError` when there is none."""
    if len(ds) < 3:
        raise DriftInputError(
            f"the {what} has {len(ds)} timestamp(s); at least 3 are needed to infer its "
            "frequency (pass freq= explicitly)"
        )
    if not ds.is_monotonic_increasing or ds.has_duplicates:
        raise DriftInputError(
            f"the {what} timestamps are unsorted or duplicated; sort them and drop duplicates"
        )
    freq = pd.infer_freq(ds)
    if freq is None:
        raise DriftInputError(
            f"the {what} timestamps have no regular frequency (first gaps: "
            f"{list(ds[1:4] - ds[:3])}); fill the calendar or pass freq= explicitly"
        )
    return str(freq)


def positions_since(ds: pd.DatetimeIndex, origin: pd.Timestamp, freq: str) -> IntArray:
    """Integer steps of ``freq`` from ``origin`` to each timestamp of ``ds``.

    Calendar frequencies (months, quarters, years, business days) are counted on the
    calendar, fixed ones (days, hours, minutes, weeks) by elapsed time. A timestamp that
    is not on the grid of ``origin`` raises :class:`DriftInputError`.
    """
    off = pd.tseries.frequencies.to_offset(freq)
    name = off.name.upper()
    n = int(getattr(off, "n", 1)) or 1
    # Integer arithmetic on the nanoseconds and month numbers (numpy, not pandas' index
    # arithmetic): this runs for every series × feature at every check.
    if isinstance(off, pd.offsets.Tick) or name.startswith("W"):
        step = (
            pd.Timedelta(days=7 * n) if name.startswith("W") else pd.Timedelta(off.nanos, unit="ns")
        )
        nanos = ds.as_unit("ns").asi8 - pd.Timestamp(origin).as_unit("ns").value
        steps = nanos.astype(np.float64) / float(step.value)
    elif name.startswith(("M", "Q", "Y", "A")):
        months = {"M": 1, "Q": 3}.get(name[0], 12) * n
        at = ds.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)
        o = (origin.year - 1970) * 12 + (origin.month - 1)
        steps = (at - o).astype(np.float64) / months
    elif name.startswith("B"):
        steps = (
            np.asarray(
                np.busday_count(origin.date(), ds.date.astype("datetime64[D]")), dtype=np.float64
            )
            / n
        )
    else:
        raise DriftInputError(f"freq={freq!r} is not supported for season positions")
    rounded = np.rint(steps)
    if np.any(np.abs(steps - rounded) > 1e-6):
        raise DriftInputError(
            f"some timestamps are not on the {freq} grid that starts at {origin}; "
            "align them to the reference calendar"
        )
    return rounded.astype(np.int64)
