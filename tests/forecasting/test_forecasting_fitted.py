"""fitted_values: the one-step forecasts a served model makes over a history, parameters frozen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chronoguard.errors import NotFittedError
from chronoguard.forecasting import (
    SARIMAX,
    AutoARIMA,
    AutoETS,
    Forecaster,
    InvalidParameterError,
    Naive,
    SeasonalNaive,
)
from chronoguard.forecasting._series import InSampleForecasts


def one_step_by_predict(model: Forecaster, data: pd.DataFrame, rows: list[int]) -> list[float]:
    """``predict(1, history=<rows before>)`` of one series at the given row positions."""
    out = []
    for i in rows:
        t = data["ds"].iloc[i]
        x = data[data["ds"] == t][["unique_id", "ds", *model.exog_]] if model.exog_ else None
        fc = model.predict(1, X_future=x, history=data[data["ds"] < t])
        out.append(float(fc["yhat"].iloc[0]))
    return out


# The backends with a one-pass path, each on a frame short enough for the rolling method.
ONE_PASS = [
    ("AutoETS", lambda: AutoETS(season_length=12, level=[]), 144),
    ("SARIMAX", lambda: SARIMAX(season_length=12, exog=["PetrolPrice"], level=[]), 48),
    ("SeasonalNaive", lambda: SeasonalNaive(season_length=12, level=[]), 144),
    ("Naive", lambda: Naive(level=[]), 144),
]


@pytest.mark.parametrize(("name", "make", "n"), ONE_PASS, ids=[p[0] for p in ONE_PASS])
def test_one_pass_fitted_values_equal_the_rolling_one_step_forecasts(
    name: str, make, n: int, seatbelts: pd.DataFrame
) -> None:
    data = seatbelts.iloc[:n].reset_index(drop=True)
    model = make().fit(data)
    assert all(isinstance(m, InSampleForecasts) for m in model.models_.values())
    fast = model.fitted_values(data)
    rolling = model.fitted_values(data, method="rolling")
    both = fast["yhat"].notna() & rolling["yhat"].notna()
    assert both.sum() >= n - 13  # all but the start-up (a season for the seasonal naive)
    np.testing.assert_allclose(fast["yhat"][both], rolling["yhat"][both], rtol=1e-9)
    # ... and the rolling method is the public one-step forecast from the rows before.
    rows = [n // 2, n - 1]
    np.testing.assert_allclose(
        rolling["yhat"].iloc[rows], one_step_by_predict(model, data, rows), rtol=1e-12
    )


def test_arima_rolls_because_its_library_fitted_values_are_not_forecasts(
    seatbelts: pd.DataFrame,
) -> None:
    # statsforecast's ARIMA fitted values are y minus residuals divided by the filter's relative
    # prediction sd: seasons away from the one-step forecasts for a seasonal MA model.
    data = seatbelts.iloc[:96].reset_index(drop=True)
    model = AutoARIMA(season_length=12, level=[], max_p=1, max_q=1, max_P=1, max_Q=1).fit(data)
    series = model.models_["uk_drivers_ksi"]
    assert not isinstance(series, InSampleForecasts)
    got = model.fitted_values(data)
    rows = [30, 60, 95]
    np.testing.assert_allclose(got["yhat"].iloc[rows], one_step_by_predict(model, data, rows))
    # What a one-pass path over statsforecast's fitted values would have returned:
    library = series.model.forward(y=data["y"].to_numpy(float), h=1, fitted=True)
    assert np.nanmax(np.abs(library["fitted"][24:48] - got["yhat"].to_numpy()[24:48])) > 1.0


def test_rows_follow_the_data_and_the_start_up_is_nan(two_series: pd.DataFrame) -> None:
    data = two_series.groupby("unique_id", sort=False).head(40).reset_index(drop=True)
    model = SeasonalNaive(season_length=12, level=[]).fit(data)
    got = model.fitted_values(data)
    assert list(got.columns) == ["unique_id", "ds", "yhat"]
    assert got[["unique_id", "ds"]].equals(data[["unique_id", "ds"]].astype({"unique_id": str}))
    for _, g in got.groupby("unique_id"):
        assert g["yhat"].iloc[:12].isna().all() and g["yhat"].iloc[12:].notna().all()
    a = data[data["unique_id"] == "front_ksi"]["y"].to_numpy()
    np.testing.assert_array_equal(got["yhat"].iloc[12:40], a[:28])


def test_fitted_values_refuse_bad_calls(seatbelts: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        Naive().fitted_values(seatbelts)
    model = Naive(level=[]).fit(seatbelts[["unique_id", "ds", "y"]])
    with pytest.raises(InvalidParameterError, match="'auto' or 'rolling'"):
        model.fitted_values(seatbelts, method="fast")
