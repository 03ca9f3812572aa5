"""The sequential check of many series at once: the batched core behind every ``monitor``.

A fleet's cycle checks thousands of series × features, each against its own stored
reference. One check is a few dozen small numpy operations per period (the CUSUM
recursion of :mod:`chronoguard.drift._sequential`), so done one series at a time the
interpreter's overhead per operation is the cost, not the arithmetic. Here the checks
are grouped by what their arrays must share to be stacked: the seasonal design, the AR
order, the grid positions of the current values (so one design matrix serves the group)
and the calibrated settings of the statistic. Each group runs the engine once on an
``(S, T)`` stack. The engine's operations are row-wise, so every row equals the check of
that series alone (the tests compare them); :meth:`CalibratedDriftTest.monitor` is this
core with one check.

Written here rather than taken from a library: no drift library has a batched,
pre-whitened CUSUM with stored per-series calibrations, and the fleet cycle's time
target needs the batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from chronoguard.drift import _engine
from chronoguard.drift._inputs import as_values, place_current, transform_values
from chronoguard.drift._settings import grid_ds, tail_pvalue
from chronoguard.drift.alerting import severity_from_pvalue
from chronoguard.drift.reference_state import MonitoringCalibration, ReferenceState
from chronoguard.drift.types import DriftKind, DriftResult, InsufficientDataError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SequentialCheck:
    """One series × feature to check: its stored reference and every value since it.

    ``values`` (NaN marks a missing period) are placed by ``ds`` on the reference's
    calendar, or at ``start`` steps from the reference's first value, or right after the
    reference when neither is given, as in :func:`~chronoguard.drift.inference.drift_check`.
    """

    state: ReferenceState
    values: Any
    ds: Any = None
    start: int | None = None
    feature: str = "y"
    unique_id: str | None = None
    kind: DriftKind = DriftKind.DATA


@dataclass(frozen=True)
class _Placed:
    y: FloatArray  # transformed values on the complete grid
    pos: FloatArray  # grid positions
    contiguous: bool
    notes: list[str]
    timed: bool  # timestamps were given (first alarm is reported as a date)


def _place(check: SequentialCheck, memo: dict[Any, Any]) -> _Placed:
    st = check.state
    values, idx = as_values(
        check.values,
        check.ds,
        what="current window",
        feature=check.feature,
        unique_id=check.unique_id,
    )
    grid_vals, pos, contiguous, notes = place_current(
        values, idx, n_ref=st.n, freq=st.freq, origin=st.origin, start=check.start, memo=memo
    )
    y = transform_values(grid_vals, st.transform, st.log_floor)
    return _Placed(y, pos, contiguous, [*st.notes, *notes], idx is not None)


def _stacked(states: Sequence[ReferenceState]) -> _engine.Fitted:
    """The engine's fits of states that share a design and an AR order (no pool: a
    sequential check does not resample)."""
    first = states[0]
    k, p, s = first.design.n_columns, len(first.phi), len(states)
    return _engine.Fitted(
        first.design,
        first.n,
        np.array([st.beta for st in states], dtype=np.float64).reshape(s, k),
        np.zeros((s, k, k)),
        np.array([st.phi for st in states], dtype=np.float64).reshape(s, p),
        np.zeros((s, p, p)),
        np.array([st.sigma for st in states], dtype=np.float64),
        np.array([st.dof for st in states], dtype=np.float64),
        np.array([st.sd_u for st in states], dtype=np.float64),
        np.array([st.tail for st in states], dtype=np.float64).reshape(s, p),
        np.zeros((s, 0)),
    )


def _result(
    check: SequentialCheck,
    cal: MonitoringCalibration,
    placed: _Placed,
    path: FloatArray,
    n_checks: int,
) -> DriftResult:
    st = check.state
    notes = list(placed.notes)
    stat = float(path[-1])
    h = cal.threshold
    p = tail_pvalue(stat, cal)
    crossed = np.flatnonzero(path > h)
    first = int(crossed[0]) if crossed.size else None
    if n_checks > cal.horizon:
        notes.append(
            f"{n_checks} checks exceed the calibrated horizon of {cal.horizon}: the "
            "false-alarm budget is spent; refit or reset"
        )
    details: dict[str, Any] = {
        "cusum_threshold": h,
        "first_alarm_index": first,
        "first_alarm_ds": None
        if first is None or not placed.timed
        else str(grid_ds(st, placed.pos[first])),
        "max_statistic": float(np.max(path)),
        "checks": n_checks,
        "horizon": cal.horizon,
        "transform": st.transform,
        "ar_order": len(st.phi),
        "notes": notes,
    }
    return DriftResult(
        method="cusum_prewhitened",
        statistic=stat,
        p_value=p,
        threshold=cal.false_alarm_rate,
        drift=bool(stat > h),
        threshold_on="p_value",
        feature=check.feature,
        unique_id=check.unique_id,
        kind=check.kind,
        severity=severity_from_pvalue(p, cal.false_alarm_rate),
        details=details,
        notes=tuple(str(n) for n in notes),
    )


def monitor_checks(
    checks: Sequence[SequentialCheck],
    calibrations: Sequence[MonitoringCalibration],
    *,
    skip_insufficient: bool = False,
) -> list[DriftResult | None]:
    """The sequential check of each of ``checks`` under its calibration, in order.

    A check whose window yields no innovation (too few consecutive values after a gap to
    pre-whiten) raises :class:`InsufficientDataError`, or gives ``None`` with
    ``skip_insufficient``. Input errors raise as in a single check.
    """
    memo: dict[Any, Any] = {}
    placed = [_place(c, memo) for c in checks]
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (c, cal, pl) in enumerate(zip(checks, calibrations, placed, strict=True)):
        key = (
            c.state.design,
            len(c.state.phi),
            float(pl.pos[0]),
            int(pl.pos.size),
            pl.contiguous,
            cal.shift,
            cal.alternative,
            (int(cal.persistence[0]), int(cal.persistence[1])),
            cal.scale_ratio,
            cal.window,
        )
        groups.setdefault(key, []).append(i)
    out: list[DriftResult | None] = [None] * len(checks)
    for key, members in groups.items():
        _, _, _, _, contiguous, shift, alternative, persistence, scale_ratio, window = key
        f = _stacked([checks[i].state for i in members])
        y = np.stack([placed[i].y for i in members])
        u = _engine.deseasonalise(f, y, placed[members[0]].pos)
        z = _engine.innovations(f, u, contiguous)
        paths = _engine.monitor(
            f,
            z,
            shift=shift,
            alternative=alternative,
            persistence=persistence,
            scale_ratio=scale_ratio,
            window=window,
        )
        some = np.asarray(np.isfinite(z).any(axis=1))
        for row, i in enumerate(members):
            if not some[row]:
                if skip_insufficient:
                    continue
                raise InsufficientDataError(
                    "the current window yields no innovation: it needs more than "
                    f"{f.p} consecutive values when it does not directly follow the reference"
                )
            out[i] = _result(checks[i], calibrations[i], placed[i], paths[row], z.shape[1])
    return out
