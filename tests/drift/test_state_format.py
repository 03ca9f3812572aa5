"""The stored reference state (format 3): bounded size at any reference length, an exact
round trip, the recomputed ``cov_beta`` equal to the fit's, and format 2 still read."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chronoguard.drift import _engine
from chronoguard.drift.inference import CalibratedDriftTest, ReferenceState, drift_check
from chronoguard.drift.reference_state import MAX_STORED, STATE_FORMAT, gls_covariance
from chronoguard.drift.seasonal import SeasonalDesign
from chronoguard.drift.types import DriftInputError


def ar1_daily(n: int, seed: int = 0, phi: float = 0.6) -> pd.Series:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n)
    u = np.empty(n)
    u[0] = e[0]
    for t in range(1, n):
        u[t] = phi * u[t - 1] + e[t]
    idx = pd.date_range("2001-01-01", periods=n, freq="D")
    weekly = np.array([2.0, 1.0, 0.0, 0.0, 0.5, -1.5, -2.0])
    return pd.Series(u + weekly[np.asarray(idx.dayofweek)], index=idx)


def stored(state: ReferenceState) -> str:
    """The text a model version stores (the registry writes JSON with ``indent=2``)."""
    return json.dumps(state.to_dict(), indent=2)


def fit(n: int, **kw: Any) -> tuple[CalibratedDriftTest, _engine.Fitted, np.ndarray]:
    """A fitted test on ``n`` daily points, and the engine's own fit of the same values
    (same seed, same design), with its deseasonalised values."""
    y = ar1_daily(n + 90)
    test = CalibratedDriftTest(
        season_length=(7,), transform="none", n_sim=200, n_sim_window=200, **kw
    ).fit(y[:n])
    design, _ = SeasonalDesign.for_reference((7.0,), n)
    values = y.to_numpy()[:n]
    f = _engine.fit(
        values[None],
        design,
        max_order=test.resolved_max_order(n),
        n_boot=test.n_boot,
        rng=np.random.default_rng(test.random_state),
    )
    resid = _engine.deseasonalise(f, values[None], np.arange(n, dtype=np.float64))[0]
    return test, f, resid


def test_a_state_is_bounded_at_any_reference_length() -> None:
    sizes = {}
    for n in (1_500, 6_000):
        test, _, _ = fit(n)
        state = test.state_
        assert len(state.innovations) == len(state.deseasonalised) == MAX_STORED
        sizes[n] = len(stored(state))
    # Four times the history, the same bytes (to the digits of ``n`` and of a few floats).
    assert abs(sizes[6_000] - sizes[1_500]) < 100
    assert sizes[6_000] < 14_000


def test_format_3_round_trips_exactly_and_checks_the_same() -> None:
    test, _, _ = fit(730)
    d = test.state_.to_dict()
    assert d["format"] == STATE_FORMAT == 3 and "cov_beta" not in d
    assert d["innovations"]["dtype"] == "<f4"  # stored as fitted: float32
    assert d["beta"]["dtype"] == "<f8"
    again = ReferenceState.from_dict(json.loads(stored(test.state_)))
    assert again == test.state_
    assert stored(again) == stored(test.state_)
    y = ar1_daily(820)[730:]
    routine = drift_check(again, y.to_numpy(), ds=y.index)[0]
    assert routine.statistic == test.monitor(y).statistic
    # The one-off window check resamples the stored innovations and uses the recomputed
    # cov_beta: a loaded state gives the fresh one's p-value exactly.
    loaded = CalibratedDriftTest.from_state(again, n_sim_window=200)
    assert loaded.test(y)[0].p_value == test.test(y)[0].p_value


@pytest.mark.parametrize(
    ("periods", "n", "n_boot"), [((7.0,), 730, 60), ((), 300, 0), ((48.0,), 2_000, 60)]
)
def test_the_recomputed_cov_beta_is_the_fits_bit_for_bit(
    periods: tuple[float, ...], n: int, n_boot: int
) -> None:
    rng = np.random.default_rng(5)
    e = rng.standard_normal(n)
    u = np.zeros(n)
    for t in range(1, n):
        u[t] = 0.7 * u[t - 1] + e[t]
    design, _ = SeasonalDesign.for_reference(periods, n)
    f = _engine.fit(u[None], design, max_order=5, n_boot=n_boot, rng=rng)
    got = gls_covariance(design, n, f.phi[0], float(f.sigma[0]))
    np.testing.assert_array_equal(got, f.cov_beta[0])


def format_2_as_written(test: CalibratedDriftTest, f: _engine.Fitted, resid: np.ndarray) -> dict:
    """A format-2 state as the previous release wrote it: every array a JSON list of full
    float64 values, ``cov_beta`` included, up to 2,000 innovations and deseasonalised values."""
    now = test.state_.to_dict()
    pool = f.pool[0][np.isfinite(f.pool[0])][-2000:]
    return {
        "format": 2,
        "n": now["n"],
        "freq": now["freq"],
        "origin": now["origin"],
        "transform": now["transform"],
        "log_floor": now["log_floor"],
        "design": now["design"],
        "beta": [float(v) for v in f.beta[0]],
        "cov_beta": [[float(v) for v in r] for r in f.cov_beta[0]],
        "phi": [float(v) for v in f.phi[0]],
        "cov_phi": [[float(v) for v in r] for r in f.cov_phi[0]],
        "sigma": float(f.sigma[0]),
        "dof": float(f.dof[0]),
        "sd_u": float(f.sd_u[0]),
        "tail": [float(v) for v in f.tail[0]],
        "innovations": [float(v) for v in pool],
        "deseasonalised": [float(v) for v in resid[-2000:]],
        "notes": now["notes"],
        "calibration": now["calibration"],
    }


def test_a_format_2_state_still_loads_with_its_calibration_and_checks_the_same() -> None:
    test, f, resid = fit(2_400)
    old = ReferenceState.from_dict(json.loads(json.dumps(format_2_as_written(test, f, resid))))
    assert old.calibration == test.state_.calibration  # format 2 thresholds stay valid
    assert len(old.innovations) == 2000  # what format 2 kept, read as it was
    assert old.innovations[-1] == float(f.pool[0][-1])  # full float64, not rounded
    np.testing.assert_array_equal(old.cov_beta, f.cov_beta[0])
    y = ar1_daily(2_490)[2_400:]
    assert drift_check(old, y.to_numpy(), ds=y.index)[0].statistic == test.monitor(y).statistic
    # Written again, it is format 3 and loses nothing: float64 values stay float64.
    d3 = old.to_dict()
    assert d3["format"] == 3 and d3["innovations"]["dtype"] == "<f8"
    assert ReferenceState.from_dict(json.loads(json.dumps(d3))) == old


def test_an_unknown_or_broken_state_is_refused_with_the_fix() -> None:
    test, _, _ = fit(400)
    d = test.state_.to_dict()
    with pytest.raises(DriftInputError, match=r"format 4 .*refit"):
        ReferenceState.from_dict({**d, "format": 4})
    broken = {**d, "innovations": {**d["innovations"], "b64": "not base64!"}}
    with pytest.raises(DriftInputError, match="incomplete or corrupt"):
        ReferenceState.from_dict(broken)


def test_the_deseasonalised_values_are_rebuilt_from_the_innovations() -> None:
    # AR(2) noise around a weekly profile: two starting values, a persistent filter.
    rng = np.random.default_rng(7)
    n = 2_500
    e = rng.standard_normal(n)
    u = np.zeros(n)
    for t in range(2, n):
        u[t] = 1.2 * u[t - 1] - 0.35 * u[t - 2] + e[t]
    y = pd.Series(u, index=pd.date_range("2001-01-01", periods=n, freq="D"))
    test = CalibratedDriftTest(season_length=(7,), transform="none", n_sim=100).fit(y)
    state = test.state_
    assert len(state.phi) >= 2 and state.deseasonalised_start is not None
    assert "deseasonalised" not in state.to_dict()  # stored as its starting values only
    design, _ = SeasonalDesign.for_reference((7.0,), n)
    values = np.asarray(y.to_numpy(), dtype=np.float64)
    f = _engine.fit(
        values[None],
        design,
        max_order=test.resolved_max_order(n),
        n_boot=test.n_boot,
        rng=np.random.default_rng(test.random_state),
    )
    resid = _engine.deseasonalise(f, values[None], np.arange(n, dtype=np.float64))[0]
    got = np.asarray(state.deseasonalised)
    assert got.size == MAX_STORED
    np.testing.assert_allclose(got, resid[-MAX_STORED:], rtol=0, atol=1e-5 * resid.std())
