"""Exogenous regressors: AutoARIMA and SARIMAX use them; the others refuse them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from chronoguard.errors import DataContractError
from chronoguard.forecasting import (
    SARIMAX,
    AutoARIMA,
    AutoETS,
    Forecaster,
    InvalidParameterError,
    Naive,
    mae,
)

Split = Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]
H = 8


def exog_models(exog: list[str], season_length: int) -> list[Forecaster]:
    return [
        AutoARIMA(season_length=season_length, exog=exog, max_p=1, max_q=1, max_P=1, max_Q=1),
        SARIMAX(season_length=season_length, exog=exog, trend="c"),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["AutoARIMA", "SARIMAX"])
def test_forecasts_follow_the_exogenous_driver(
    index: int, exog_frame: pd.DataFrame, split_last: Split
) -> None:
    train, test = split_last(exog_frame, H)
    model = exog_models(["x"], 1)[index].fit(train)
    fc = model.predict(H, X_future=test[["unique_id", "ds", "x"]])
    baseline = Naive().forecast(train, H)
    assert mae(test["y"], fc["yhat"]) < 0.25 * mae(test["y"], baseline["yhat"])


@pytest.mark.parametrize("index", [0, 1], ids=["AutoARIMA", "SARIMAX"])
def test_seatbelt_law_lowers_the_forecast(index: int, seatbelts: pd.DataFrame) -> None:
    # The 1983 seatbelt law cut drivers killed or seriously injured by about 300 a month.
    model = exog_models(["law"], 12)[index].fit(seatbelts)
    future = pd.date_range("1985-01-01", periods=3, freq="MS")
    without = model.predict(
        3, X_future=pd.DataFrame({"unique_id": "uk_drivers_ksi", "ds": future, "law": 0.0})
    )
    with_law = model.predict(
        3, X_future=pd.DataFrame({"unique_id": "uk_drivers_ksi", "ds": future, "law": 1.0})
    )
    effect = without["yhat"] - with_law["yhat"]
    assert (effect > 150).all() and (effect < 600).all()


@pytest.mark.parametrize("index", [0, 1], ids=["AutoARIMA", "SARIMAX"])
def test_missing_x_future_is_a_clear_error(
    index: int, exog_frame: pd.DataFrame, split_last: Split
) -> None:
    train, test = split_last(exog_frame, H)
    model = exog_models(["x"], 1)[index].fit(train)
    with pytest.raises(DataContractError, match=r"X_future is required.*\['x'\]"):
        model.predict(H)
    incomplete = test[["unique_id", "ds", "x"]].drop(index=test.index[-1])
    with pytest.raises(DataContractError, match="series 'b' has no row for 1 forecast"):
        model.predict(H, X_future=incomplete)
    with pytest.raises(DataContractError, match="missing column"):
        model.predict(H, X_future=test[["unique_id", "ds"]])


def test_x_future_may_hold_extra_rows(exog_frame: pd.DataFrame, split_last: Split) -> None:
    train, test = split_last(exog_frame, H)
    model = SARIMAX(exog=["x"], trend="c").fit(train)
    exact = model.predict(3, X_future=test[["unique_id", "ds", "x"]])
    shuffled = test.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(model.predict(3, X_future=shuffled), exact)


def test_history_with_exog(exog_frame: pd.DataFrame, split_last: Split) -> None:
    rest, test = split_last(exog_frame, 4)
    train, _ = split_last(rest, 12)
    model = SARIMAX(exog=["x"], trend="c").fit(train)
    fc = model.predict(4, X_future=test, history=rest)
    assert fc["ds"].min() == test["ds"].min()
    assert mae(test["y"], fc["yhat"]) < 1.5
    with pytest.raises(DataContractError, match="missing column"):
        model.predict(4, X_future=test, history=rest.drop(columns="x"))


def test_models_without_exog_support_refuse_exog(exog_frame: pd.DataFrame) -> None:
    model = AutoETS(exog=["x"])  # __init__ only stores
    with pytest.raises(InvalidParameterError, match="AutoETS does not use exogenous"):
        model.fit(exog_frame)


def test_models_without_exog_ignore_x_future(exog_frame: pd.DataFrame) -> None:
    model = Naive().fit(exog_frame)
    pd.testing.assert_frame_equal(model.predict(2, X_future=exog_frame), model.predict(2))


def test_exog_column_missing_from_training_frame(exog_frame: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match="missing column"):
        SARIMAX(exog=["price"]).fit(exog_frame)
