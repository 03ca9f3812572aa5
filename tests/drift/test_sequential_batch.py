"""The batched sequential check equals the check of each series alone, result for result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chronoguard.drift import (
    InsufficientDataError,
    ReferenceState,
    SequentialCheck,
    drift_check,
    fit_reference_state,
    sequential_checks,
)

N_REF = 120
DS = pd.date_range("2025-01-01", periods=N_REF + 60, freq="D")


def _series(rng: np.random.Generator, i: int) -> np.ndarray:
    t = np.arange(DS.size)
    phi = (0.0, 0.3, 0.6, 0.85)[i % 4]
    e = rng.normal(0.0, 3.0, DS.size)
    ar = np.empty(DS.size)
    ar[0] = e[0]
    for k in range(1, DS.size):
        ar[k] = phi * ar[k - 1] + e[k]
    y = 100.0 + 8.0 * np.sin(2 * np.pi * t / 7) * (1 + i % 3) + ar
    if i % 5 == 0:
        y[N_REF + 25 :] += 12.0  # a shift inside the checked window
    return y


@pytest.fixture(scope="module")
def fleet() -> tuple[list[ReferenceState], list[np.ndarray]]:
    rng = np.random.default_rng(11)
    states, values = [], []
    for i in range(24):
        y = _series(rng, i)
        settings: dict[str, object] = {"horizon": 60, "false_alarm_rate": 0.05}
        if i % 6 == 1:
            settings["persistence"] = (2, 3)
        if i % 6 == 2:
            settings["window"] = 14
        if i % 6 == 3:
            settings["alternative"] = "greater"
        state = fit_reference_state(pd.Series(y[:N_REF], index=DS[:N_REF]), **settings)
        # Through JSON, as a version stores it.
        states.append(ReferenceState.from_dict(state.to_dict()))
        values.append(y[N_REF:])
    return states, values


def _alone(c: SequentialCheck) -> object:
    return drift_check(
        c.state,
        c.values,
        ds=c.ds,
        start=c.start,
        mode="sequential",
        feature=c.feature,
        unique_id=c.unique_id,
        kind=c.kind,
    )[0]


def test_each_result_equals_the_check_alone(
    fleet: tuple[list[ReferenceState], list[np.ndarray]],
) -> None:
    states, values = fleet
    checks = []
    for i, (st, v) in enumerate(zip(states, values, strict=True)):
        v = v.copy()
        ds = DS[N_REF:]
        if i % 4 == 1:
            v[10] = np.nan  # a missing value inside the window
        if i % 4 == 2:  # a window that starts later (a gap after the reference)
            v, ds = v[5:], ds[5:]
        if i % 4 == 3:  # placed by position instead of by date
            checks.append(SequentialCheck(st, v, start=N_REF, feature="x", unique_id=f"s{i}"))
            continue
        checks.append(SequentialCheck(st, v, ds=ds, feature="y", unique_id=f"s{i}"))
    batch = sequential_checks(checks)
    assert [_alone(c) for c in checks] == batch
    # The panel exercises what the grouping separates: several AR orders and settings,
    # and both outcomes.
    assert len({len(s.phi) for s in states}) >= 2
    assert {r.drift for r in batch if r is not None} == {True, False}


def test_a_window_without_innovations_raises_or_is_skipped(
    fleet: tuple[list[ReferenceState], list[np.ndarray]],
) -> None:
    states, values = fleet
    persistent = next(i for i, s in enumerate(states) if len(s.phi) >= 1)
    lone = SequentialCheck(
        states[persistent], values[persistent][30:31], ds=DS[N_REF + 30 : N_REF + 31]
    )
    fine = SequentialCheck(states[0], values[0], ds=DS[N_REF:])
    with pytest.raises(InsufficientDataError):
        sequential_checks([fine, lone])
    out = sequential_checks([fine, lone], skip_insufficient=True)
    assert out[1] is None and out[0] == _alone(fine)


def test_a_state_without_calibration_is_calibrated_as_alone(
    fleet: tuple[list[ReferenceState], list[np.ndarray]],
) -> None:
    states, values = fleet
    bare = ReferenceState.from_dict({**states[0].to_dict(), "calibration": None})
    check = SequentialCheck(bare, values[0], ds=DS[N_REF:])
    assert sequential_checks([check]) == [_alone(check)]
