"""The Forecaster contract, checked on every model that make_forecaster knows."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chronoguard.errors import DataContractError, NotFittedError
from chronoguard.forecasting import MODEL_NAMES, Forecaster, make_forecaster

H = 6
LEVELS = (80, 95)
COLUMNS = ["unique_id", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]

Split = Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]


@pytest.fixture(scope="module")
def train(two_series: pd.DataFrame, split_last: Split) -> pd.DataFrame:
    """Both series up to 1982-12 (168 months); the last 24 months are held back."""
    return split_last(two_series, 24)[0]


@pytest.fixture(scope="module")
def history(two_series: pd.DataFrame, split_last: Split) -> pd.DataFrame:
    """Training data plus 12 months of actuals that arrived after training (to 1983-12)."""
    return split_last(two_series, 12)[0]


@pytest.fixture(scope="module")
def fitted(
    train: pd.DataFrame, fast_params: dict[str, dict[str, Any]]
) -> Callable[[str], Forecaster]:
    """Fit each model once per module, on demand."""
    cache: dict[str, Forecaster] = {}

    def get(name: str) -> Forecaster:
        if name not in cache:
            cache[name] = make_forecaster(name, **fast_params[name]).fit(train)
        return cache[name]

    return get


models = pytest.mark.parametrize("name", MODEL_NAMES)


@models
def test_fit_then_predict_equals_forecast(
    name: str, fitted: Callable[[str], Forecaster], train: pd.DataFrame, fast_params: dict
) -> None:
    in_one_go = make_forecaster(name, **fast_params[name]).forecast(train, h=H)
    pd.testing.assert_frame_equal(fitted(name).predict(H), in_one_go)


@models
def test_predict_before_fit_raises_naming_the_class(name: str, fast_params: dict) -> None:
    with pytest.raises(NotFittedError, match=name):
        make_forecaster(name, **fast_params[name]).predict(H)


@models
def test_output_columns_lengths_and_dates_continue_training(
    name: str, fitted: Callable[[str], Forecaster], train: pd.DataFrame
) -> None:
    fc = fitted(name).predict(H)
    assert list(fc.columns) == COLUMNS
    assert fc["unique_id"].tolist() == ["front_ksi"] * H + ["uk_drivers_ksi"] * H
    for uid, part in fc.groupby("unique_id"):
        last = train.loc[train["unique_id"] == uid, "ds"].max()
        expected = pd.date_range(last, periods=H + 1, freq="MS")[1:]
        assert part["ds"].tolist() == expected.tolist()
    assert np.isfinite(fc[COLUMNS[2:]].to_numpy()).all()


@models
def test_intervals_are_ordered(name: str, fitted: Callable[[str], Forecaster]) -> None:
    fc = fitted(name).predict(H)
    ordered = ["yhat_lo_95", "yhat_lo_80", "yhat", "yhat_hi_80", "yhat_hi_95"]
    values = fc[ordered].to_numpy()
    assert (np.diff(values, axis=1) >= -1e-9).all()
    assert (fc["yhat_hi_95"] - fc["yhat_lo_95"] > 0).all()


@models
def test_pickle_round_trip_gives_identical_forecasts(
    name: str, fitted: Callable[[str], Forecaster], history: pd.DataFrame
) -> None:
    model = fitted(name)
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(restored.predict(H), model.predict(H))
    pd.testing.assert_frame_equal(
        restored.predict(H, history=history), model.predict(H, history=history)
    )


@models
def test_pickle_is_small(name: str, seatbelts: pd.DataFrame, fast_params: dict) -> None:
    # A statsmodels results object for this 192-point series pickles to about 20 MB.
    model = make_forecaster(name, **fast_params[name]).fit(seatbelts[["unique_id", "ds", "y"]])
    assert len(pickle.dumps(model)) < 200_000


@models
def test_history_moves_the_origin_and_changes_the_forecast(
    name: str, fitted: Callable[[str], Forecaster], history: pd.DataFrame
) -> None:
    model = fitted(name)
    from_history = model.predict(H, history=history)
    for uid, part in from_history.groupby("unique_id"):
        last = history.loc[history["unique_id"] == uid, "ds"].max()
        assert part["ds"].iloc[0] == last + pd.offsets.MonthBegin(1)
    assert not np.allclose(from_history["yhat"], model.predict(H)["yhat"])


@models
def test_history_equal_to_training_reproduces_predict(
    name: str, fitted: Callable[[str], Forecaster], train: pd.DataFrame
) -> None:
    # Frozen parameters + the same observations = the same state, so the same forecast.
    model = fitted(name)
    pd.testing.assert_frame_equal(model.predict(H, history=train), model.predict(H), rtol=1e-6)


@models
def test_predict_with_history_keeps_the_fitted_state(
    name: str, fitted: Callable[[str], Forecaster], history: pd.DataFrame
) -> None:
    model = fitted(name)
    before = pickle.dumps(model.models_)
    model.predict(H, history=history)
    assert pickle.dumps(model.models_) == before


@models
def test_history_forecasts_only_its_series(
    name: str, fitted: Callable[[str], Forecaster], history: pd.DataFrame
) -> None:
    one = history[history["unique_id"] == "front_ksi"]
    fc = fitted(name).predict(H, history=one)
    assert fc["unique_id"].unique().tolist() == ["front_ksi"]


@models
def test_history_with_an_unknown_series_is_rejected(
    name: str, fitted: Callable[[str], Forecaster], history: pd.DataFrame
) -> None:
    stranger = history[history["unique_id"] == "front_ksi"].assign(unique_id="rear_ksi")
    with pytest.raises(DataContractError, match="rear_ksi"):
        fitted(name).predict(H, history=stranger)


@models
def test_get_params_rebuilds_an_equal_unfitted_model(
    name: str, fitted: Callable[[str], Forecaster]
) -> None:
    model = fitted(name)
    params = model.get_params()
    rebuilt = make_forecaster(model.name, **params)
    assert rebuilt.get_params() == params
    assert not hasattr(rebuilt, "models_")
    assert not hasattr(model.clone(), "models_")
    assert model.clone(level=[50]).level == [50]
    assert repr(rebuilt).startswith(f"{name}(")


@models
def test_fitted_attributes(
    name: str, fitted: Callable[[str], Forecaster], train: pd.DataFrame
) -> None:
    model = fitted(name)
    assert model.series_ids_ == ["front_ksi", "uk_drivers_ksi"]
    assert model.freq_ == "MS"
    assert model.fallbacks_ == []
    assert (model.train_end_ == pd.Timestamp("1982-12-01")).all()
    assert (model.train_start_ == pd.Timestamp("1969-01-01")).all()
