from __future__ import annotations

import pandas as pd
import pytest

from chronoguard.config import GateConfig
from chronoguard.forecasting import make_forecaster
from chronoguard.lifecycle import rolling_forecasts
from chronoguard.lifecycle.fleet import SeriesGate, gate_series
from chronoguard.store import Deployment
from tests.helpers import seatbelts

WINDOW = pd.Timestamp("1982-07-01")
UID = "uk_drivers_ksi"
SERVED = Deployment(
    model_name="m", versions={UID: "1"}, since={UID: pd.Timestamp("1982-06-01").to_pydatetime()}
)


def validation_gate(challenger, champion, data, **kw) -> SeriesGate:  # type: ignore[no-untyped-def]
    """The per-series gate on a one-series fleet served by ``champion``."""
    return gate_series(challenger, {"1": champion}, SERVED, [UID], data, **kw)[UID]


def fitted(name: str, until: str = "1982-06-01"):
    return make_forecaster(name, season_length=12, freq="MS").fit(seatbelts(until))


def test_gate_rejects_a_worse_challenger() -> None:
    data = seatbelts("1982-12-01")
    champion, challenger = fitted("AutoETS"), fitted("Naive")
    res = validation_gate(
        challenger,
        champion,
        data,
        window_start=WINDOW,
        horizon=6,
        season_length=12,
        gate=GateConfig(validation_window=6, margin=0.05, max_mase=5.0),
    )
    assert not res.passed
    assert res.challenger_error > res.champion_error
    assert "does not beat champion" in res.reason


def test_gate_rejects_a_tie_because_of_the_margin() -> None:
    data = seatbelts("1982-12-01")
    model = fitted("AutoETS")
    res = validation_gate(
        model,
        model,
        data,
        window_start=WINDOW,
        horizon=6,
        season_length=12,
        gate=GateConfig(validation_window=6, margin=0.05, max_mase=5.0),
    )
    assert res.challenger_error == pytest.approx(res.champion_error)
    assert not res.passed


def test_gate_passes_a_better_challenger_and_enforces_the_business_threshold() -> None:
    data = seatbelts("1982-12-01")
    champion, challenger = fitted("Naive"), fitted("AutoETS")
    ok = validation_gate(
        challenger,
        champion,
        data,
        window_start=WINDOW,
        horizon=6,
        season_length=12,
        gate=GateConfig(validation_window=6, margin=0.05, max_mase=5.0),
    )
    assert ok.passed, ok.reason
    strict = validation_gate(
        challenger,
        champion,
        data,
        window_start=WINDOW,
        horizon=6,
        season_length=12,
        gate=GateConfig(validation_window=6, margin=0.05, max_mase=ok.challenger_error / 2),
    )
    assert not strict.passed and "business threshold" in strict.reason


def test_a_series_no_model_served_needs_only_the_business_threshold() -> None:
    data = seatbelts("1982-12-01")
    empty = Deployment(model_name="m", versions={}, since={})
    kw = {"window_start": WINDOW, "horizon": 6, "season_length": 12}
    res = gate_series(
        fitted("AutoETS"), {}, empty, [UID], data, gate=GateConfig(max_mase=5.0), **kw
    )[UID]
    assert res.passed and res.champion_error is None and "no model served" in res.reason
    res = gate_series(
        fitted("AutoETS"), {}, empty, [UID], data, gate=GateConfig(max_mase=0.01), **kw
    )[UID]
    assert not res.passed and "business threshold" in res.reason


def test_rolling_forecasts_never_see_the_target() -> None:
    data = seatbelts("1982-12-01")
    fc = rolling_forecasts(fitted("AutoETS"), data, WINDOW, horizon=3)
    assert (fc["ds"] > fc["origin"]).all()
    assert (fc["ds"] >= WINDOW).all()
    # changing an actual inside the window changes only forecasts made after it
    bumped = data.copy()
    bumped.loc[bumped["ds"] == pd.Timestamp("1982-09-01"), "y"] += 500
    fc2 = rolling_forecasts(fitted("AutoETS"), bumped, WINDOW, horizon=3)
    before = fc["origin"] < pd.Timestamp("1982-09-01")
    pd.testing.assert_series_equal(fc.loc[before, "yhat"], fc2.loc[before, "yhat"])
    assert not fc.loc[~before, "yhat"].equals(fc2.loc[~before, "yhat"])
