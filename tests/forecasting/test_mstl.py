"""MSTL: several seasons at once, on the bundled half-hourly Victoria electricity demand."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from chronoguard.data import load_dataset
from chronoguard.forecasting import (
    MODEL_NAMES,
    Forecaster,
    InvalidParameterError,
    ModelFitError,
    make_forecaster,
)
from chronoguard.forecasting.statsforecast_models import MSTLSeries

DAY, WEEK = 48, 336
SEASONS = [DAY, WEEK]


@pytest.fixture(scope="module")
def demand() -> pd.DataFrame:
    """Four weeks of half-hourly demand (MW), from the first timestamp of the data."""
    df = load_dataset("vic_elec")[["unique_id", "ds", "y"]]
    return df.iloc[: 4 * WEEK].reset_index(drop=True)


@pytest.fixture(scope="module")
def train(demand: pd.DataFrame) -> pd.DataFrame:
    """Three weeks: the least that holds two weeks with room to spare."""
    return demand.iloc[: 3 * WEEK]


@pytest.fixture(scope="module")
def fitted(train: pd.DataFrame) -> Forecaster:
    return make_forecaster(
        "MSTL", season_length=DAY, season_lengths=SEASONS, freq="30min", level=[80, 95]
    ).fit(train)


def _mae(fc: pd.DataFrame, actual: pd.DataFrame) -> float:
    return float(np.mean(np.abs(fc["yhat"].to_numpy() - actual["y"].to_numpy())))


def test_mstl_is_a_model_name() -> None:
    assert "MSTL" in MODEL_NAMES


def test_next_day_beats_the_seasonal_naive_by_far(
    fitted: Forecaster, train: pd.DataFrame, demand: pd.DataFrame
) -> None:
    nxt = demand.iloc[3 * WEEK : 3 * WEEK + DAY]
    fc = fitted.predict(DAY)
    assert list(fc["ds"]) == list(nxt["ds"])
    naive = make_forecaster("SeasonalNaive", season_length=DAY, freq="30min").fit(train)
    # Measured: 182 MW against 421 MW for yesterday's demand repeated.
    assert _mae(fc, nxt) < 0.6 * _mae(naive.predict(DAY), nxt)


def test_intervals_are_nested_and_cover_the_next_day(
    fitted: Forecaster, demand: pd.DataFrame
) -> None:
    nxt = demand.iloc[3 * WEEK : 3 * WEEK + DAY]["y"].to_numpy()
    fc = fitted.predict(DAY)
    lo95, lo80, mean, hi80, hi95 = (
        fc[c].to_numpy() for c in ("yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95")
    )
    assert np.all(lo95 < lo80) and np.all(lo80 < mean) and np.all(mean < hi80)
    assert np.all(hi80 < hi95)
    assert np.mean((nxt >= lo80) & (nxt <= hi80)) >= 0.8


def test_history_equal_to_training_reproduces_predict(
    fitted: Forecaster, train: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(fitted.predict(DAY, history=train), fitted.predict(DAY))


def test_history_moves_the_origin_with_the_seasons_in_phase(
    fitted: Forecaster, demand: pd.DataFrame
) -> None:
    # A day of actuals more, from a start half a week and a day after the training start:
    # the profiles must be read in the history's own phase.
    start = WEEK // 2 + DAY
    history = demand.iloc[start : 3 * WEEK + DAY]
    nxt = demand.iloc[3 * WEEK + DAY : 3 * WEEK + 2 * DAY]
    fc = fitted.predict(DAY, history=history)
    assert fc["ds"].iloc[0] == nxt["ds"].iloc[0]
    assert _mae(fc, nxt) < 0.1 * float(nxt["y"].mean())


def test_one_pass_fitted_values_equal_the_rolling_one_step_forecasts(
    demand: pd.DataFrame,
) -> None:
    short = demand.iloc[: 5 * DAY]
    model = make_forecaster("MSTL", season_lengths=[DAY], freq="30min", level=[]).fit(short)
    one_pass = model.fitted_values(short)["yhat"].to_numpy()
    rolling = model.fitted_values(short, method="rolling")["yhat"].to_numpy()
    # The rolling forecast has none from a single point (ETS needs two).
    np.testing.assert_allclose(one_pass[2:], rolling[2:], rtol=1e-9)


def test_a_fitted_series_stores_one_season_per_component_not_the_data(fitted: Forecaster) -> None:
    assert len(pickle.dumps(fitted)) < 20_000
    (series,) = fitted.models_.values()
    assert isinstance(series, MSTLSeries)
    assert [p.size for p in series.profiles] == SEASONS


def test_arima_trend(train: pd.DataFrame, demand: pd.DataFrame) -> None:
    nxt = demand.iloc[3 * WEEK : 3 * WEEK + DAY]
    model = make_forecaster(
        "MSTL", season_lengths=SEASONS, trend="AutoARIMA", freq="30min", level=[80]
    ).fit(train)
    assert _mae(model.predict(DAY), nxt) < 0.1 * float(nxt["y"].mean())
    pd.testing.assert_frame_equal(model.predict(DAY, history=train), model.predict(DAY))


def test_a_series_shorter_than_two_long_seasons_is_named(demand: pd.DataFrame) -> None:
    two = pd.concat(
        [demand.iloc[: 3 * WEEK], demand.iloc[:WEEK].assign(unique_id="short")],
        ignore_index=True,
    )
    with pytest.raises(ModelFitError, match=r"short.*two of its longest season \(336\)"):
        make_forecaster("MSTL", season_lengths=SEASONS, freq="30min").fit(two)
    # With fallback, the short series gets the seasonal naive model and is listed.
    model = make_forecaster("MSTL", season_lengths=SEASONS, freq="30min", fallback=True)
    assert model.fit(two).fallbacks_ == ["short"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"season_lengths": [1, 48]}, "season_lengths must be a non-empty list of integers >= 2"),
        ({"season_lengths": []}, "season_lengths must be a non-empty list"),
        ({"season_lengths": "48"}, "season_lengths must be a non-empty list"),
        ({"trend": "Prophet"}, "trend must be one of AutoETS, AutoARIMA"),
        ({"season_length": 1}, "MSTL: needs a season"),
    ],
)
def test_invalid_parameters_are_named(
    train: pd.DataFrame, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        make_forecaster("MSTL", **{"season_length": DAY, **params}).fit(train)
