"""Root cause, first version: group incidents and the inputs that moved with the error.

Two pure functions, values in and typed values out (no clock, no store):

* :func:`group_incidents` reads one cycle of a fleet: per series its group, whether it
  alerted, and its relative change (the latest actual against its forecast, or against
  the previous level). When many series of one group alerted and moved the same way, it
  returns one :class:`GroupIncident` whose :attr:`~GroupIncident.sentence` says so:
  "14 of 33 series in group North dropped 20–30 % in the same week". Alerts scattered over
  groups, too few in a group, or moves in both directions give none.
* :func:`inputs_moved_with_error` reads the check history of one series: its error signal
  per check and each exogenous input's drift statistic per check. It returns the inputs
  whose drift rose and fell with the error (:class:`InputMovement`, strongest first): data
  drift beside concept drift, the first place to look for the cause.

Examples
--------
>>> changes = [SeriesChange(f"n{i}", "North", True, -0.22 - i / 100) for i in range(6)]
>>> changes += [SeriesChange(f"n{i}", "North", False, 0.01) for i in range(6, 12)]
>>> changes += [SeriesChange("s1", "South", True, 0.4)]
>>> [i.sentence for i in group_incidents(changes, period="week")]
['6 of 12 series in group North dropped 20–30 % in the same week']
>>> moved = inputs_moved_with_error(
...     [1.0, 1.1, 2.5, 3.0, 3.2], {"price": [0.1, 0.2, 1.5, 2.0, 2.4], "temp": [1, 0, 1, 0, 1]}
... )
>>> [(m.feature, round(m.correlation, 2)) for m in moved]
[('price', 1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

#: Fewest co-moving alerted series that make a group incident.
MIN_SERIES = 5
#: Smallest share of a group's series that must move together.
MIN_SHARE = 0.2
#: Smallest relative change (a fraction) that counts as a move.
MIN_CHANGE = 0.05
#: The range of a group's change is rounded outward to this step (a fraction: 5 %).
RANGE_STEP = 0.05
#: Smallest rank correlation between an input's drift and the error that counts.
MIN_CORRELATION = 0.6
#: Fewest checks with both values before a correlation is computed.
MIN_POINTS = 4


_PERIODS = {"W": "week", "M": "month", "D": "day", "H": "hour", "h": "hour", "Q": "quarter"}
_PERIODS.update({"Y": "year", "A": "year", "B": "day", "T": "minute", "m": "minute"})


def period_word(freq: str | None) -> str:
    """The word for one period of ``freq`` ("MS" → "month"), "cycle" when unknown."""
    if not freq:
        return "cycle"
    letters = "".join(ch for ch in freq if ch.isalpha())
    return _PERIODS.get(letters[:1], "cycle") if letters else "cycle"


@dataclass(frozen=True, slots=True)
class SeriesChange:
    """One series in one cycle.

    Parameters
    ----------
    unique_id
        The series.
    group
        Its group (``None``: no group matched; such series never form an incident).
    alerted
        Whether it raised an alert in the cycle.
    change
        Its relative change as a fraction (``-0.25``: a quarter below the forecast or the
        previous level); ``None`` or NaN when unknown.
    """

    unique_id: str
    group: str | None
    alerted: bool
    change: float | None


@dataclass(frozen=True, slots=True)
class GroupIncident:
    """Many series of one group that alerted and moved the same way in one cycle.

    ``low`` and ``high`` are the size of the change as fractions (0.2 and 0.3 for
    "20–30 %"): the smallest and largest move of the series involved, rounded outward to
    :data:`RANGE_STEP`.
    """

    group: str
    n_moved: int
    n_series: int
    direction: Literal["dropped", "rose"]
    low: float
    high: float
    period: str
    unique_ids: tuple[str, ...]

    @property
    def sentence(self) -> str:
        """The incident in one sentence, for a page or a notification."""
        lo, hi = round(self.low * 100), round(self.high * 100)
        size = f"{lo} %" if lo == hi else f"{lo}–{hi} %"
        return (
            f"{self.n_moved} of {self.n_series} series in group {self.group} "
            f"{self.direction} {size} in the same {self.period}"
        )


@dataclass(frozen=True, slots=True)
class InputMovement:
    """An exogenous input whose drift moved with the series' error.

    ``correlation`` is the Spearman rank correlation between the input's drift statistic
    and the error over ``n_points`` checks; ``drifted`` says whether the input's drift
    check fired at the latest one.
    """

    feature: str
    correlation: float
    n_points: int
    drifted: bool


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _outward(value: float, step: float, up: bool) -> float:
    k = value / step
    # A tolerance keeps 0.3 at 0.3 (float division gives 5.999… or 6.000…1).
    k = math.ceil(k - 1e-9) if up else math.floor(k + 1e-9)
    return round(k * step, 10)


def group_incidents(
    changes: Iterable[SeriesChange],
    *,
    period: str = "cycle",
    min_series: int = MIN_SERIES,
    min_share: float = MIN_SHARE,
    min_change: float = MIN_CHANGE,
) -> list[GroupIncident]:
    """The group incidents of one cycle (largest first; ties by group name).

    In each group, the alerted series whose change is at least ``min_change`` are split
    by direction; the larger side (downwards on a tie) is an incident when it holds at
    least ``min_series`` series and at least ``min_share`` of the group, and is at least
    twice the other side (moves both ways are no common shock).

    Parameters
    ----------
    changes
        Every series of the cycle (the alerted and the others: the group's size counts
        them all).
    period
        The word for one cycle in the sentence ("week", "month", "day").
    """
    if min_series < 1 or not 0 <= min_share <= 1 or min_change < 0:
        raise ValueError(
            "group_incidents needs min_series >= 1, 0 <= min_share <= 1 and min_change >= 0; "
            f"got {min_series}, {min_share} and {min_change}"
        )
    members: dict[str, list[SeriesChange]] = {}
    for c in changes:
        if c.group is not None:
            members.setdefault(c.group, []).append(c)
    out: list[GroupIncident] = []
    for group, found in members.items():
        moved = [
            c
            for c in found
            if c.alerted
            and c.change is not None
            and _finite(c.change)
            and abs(c.change) >= min_change
        ]
        down = [c for c in moved if c.change is not None and c.change < 0]
        up = [c for c in moved if c.change is not None and c.change > 0]
        side, other, direction = (
            (down, up, "dropped") if len(down) >= len(up) else (up, down, "rose")
        )
        if len(side) < min_series or len(side) < min_share * len(found):
            continue
        if len(side) < 2 * len(other):
            continue
        sizes = [abs(float(c.change)) for c in side if c.change is not None]
        out.append(
            GroupIncident(
                group=group,
                n_moved=len(side),
                n_series=len(found),
                direction="dropped" if direction == "dropped" else "rose",
                low=_outward(min(sizes), RANGE_STEP, up=False),
                high=_outward(max(sizes), RANGE_STEP, up=True),
                period=period,
                unique_ids=tuple(sorted(c.unique_id for c in side)),
            )
        )
    return sorted(out, key=lambda i: (-i.n_moved, i.group))


def inputs_moved_with_error(
    error: Sequence[float],
    inputs: Mapping[str, Sequence[float]],
    *,
    drifted: Collection[str] = (),
    min_correlation: float = MIN_CORRELATION,
    min_points: int = MIN_POINTS,
) -> list[InputMovement]:
    """The inputs whose drift moved with the error of one series (strongest first).

    Parameters
    ----------
    error
        The series' error signal per check, oldest first (for example the ratio of its
        recent MASE to its reference's).
    inputs
        Per exogenous input, its drift statistic at the same checks (NaN where the check
        did not run); each sequence as long as ``error``.
    drifted
        The inputs whose drift check fired at the latest check: listed even when their
        history is too short for a correlation (with ``correlation`` NaN).
    min_correlation
        The smallest Spearman correlation that counts as moving together.
    """
    err = np.asarray(error, dtype=float)
    out: list[InputMovement] = []
    for feature, values in inputs.items():
        x = np.asarray(values, dtype=float)
        if x.shape != err.shape:
            raise ValueError(
                f"input {feature!r} has {x.size} values but the error has {err.size}; pass "
                "one drift statistic per check (NaN where it did not run)"
            )
        both = np.isfinite(x) & np.isfinite(err)
        n = int(both.sum())
        rho = math.nan
        # A constant side has no rank correlation (scipy warns and returns NaN).
        if n >= min_points and np.ptp(x[both]) > 0 and np.ptp(err[both]) > 0:
            rho = float(stats.spearmanr(x[both], err[both]).statistic)
        fired = feature in drifted
        if (math.isfinite(rho) and rho >= min_correlation) or fired:
            out.append(InputMovement(feature, rho, n, fired))
    return sorted(
        out,
        key=lambda m: (-(m.correlation if math.isfinite(m.correlation) else -2.0), m.feature),
    )


__all__ = [
    "MIN_CHANGE",
    "MIN_CORRELATION",
    "MIN_POINTS",
    "MIN_SERIES",
    "MIN_SHARE",
    "RANGE_STEP",
    "GroupIncident",
    "InputMovement",
    "SeriesChange",
    "group_incidents",
    "inputs_moved_with_error",
    "period_word",
]
