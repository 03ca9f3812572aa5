"""Serving a version's forecasts: future inputs of exogenous models, new series (a fallback
model or an error naming them), and the horizon the cycle shortens where inputs end.

Real models on the seatbelts data: SARIMAX with the petrol price and the seatbelt law as
inputs, and SeasonalNaive on three series cut from it."""

from __future__ import annotations

import pandas as pd
import pytest

from chronoguard.data import load_dataset, validate_frame
from chronoguard.errors import DataContractError
from chronoguard.forecasting import SARIMAX, SeasonalNaive
from chronoguard.lifecycle.serve import (
    NewSeriesError,
    fallback_forecaster,
    forecast_from,
    forecast_series,
)
from tests.helpers import small_config

EXOG = ["PetrolPrice", "law"]
H = 6


@pytest.fixture(scope="module")
def seat() -> pd.DataFrame:
    df = load_dataset("seatbelts")[["unique_id", "ds", "y", *EXOG]]
    return validate_frame(df, exog=EXOG).df


@pytest.fixture(scope="module")
def sarimax(seat: pd.DataFrame) -> SARIMAX:
    return SARIMAX(season_length=12, exog=EXOG, level=[80]).fit(seat.iloc[:180])


def test_future_inputs_drive_the_forecast(seat: pd.DataFrame, sarimax: SARIMAX) -> None:
    history, ahead = seat.iloc[:180], seat.iloc[180 : 180 + H]
    out = forecast_series(
        sarimax,
        history,
        origin=history["ds"].max(),
        horizon=H,
        future=ahead[["unique_id", "ds", *EXOG]],
    )
    assert list(out.frame["ds"]) == list(ahead["ds"]) and out.horizon == H
    assert out.fallback.empty and out.new_series == ()
    # The law (1 from February 1983) lowers the forecast against the same inputs without it.
    without = forecast_series(
        sarimax,
        history,
        origin=history["ds"].max(),
        horizon=H,
        future=ahead[["unique_id", "ds", *EXOG]].assign(law=0.0),
    )
    assert (without.frame["yhat"].to_numpy() - out.frame["yhat"].to_numpy() > 100).all()
    # The same inputs as rows of the data after the origin give the same forecast.
    same = forecast_from(sarimax, seat.iloc[: 180 + H], origin=history["ds"].max(), horizon=H)
    pd.testing.assert_frame_equal(same, out.frame)


def test_missing_future_rows_are_named(seat: pd.DataFrame, sarimax: SARIMAX) -> None:
    history, ahead = seat.iloc[:180], seat.iloc[180 : 180 + 4]
    with pytest.raises(DataContractError) as info:
        forecast_series(
            sarimax,
            history,
            origin=history["ds"].max(),
            horizon=H,
            future=ahead,
            on_missing="error",
        )
    text = str(info.value)
    assert "'uk_drivers_ksi' at 1984-05-01, 1984-06-01" in text and "--horizon" in text
    # The cycle's mode shortens the horizon to the inputs there are, down to nothing.
    short = forecast_from(sarimax, seat.iloc[:184], origin=history["ds"].max(), horizon=H)
    assert len(short) == 4
    none = forecast_from(sarimax, history, origin=history["ds"].max(), horizon=H)
    assert none.empty
    with pytest.raises(DataContractError, match=r"no column\(s\) \['law'\]"):
        forecast_series(
            sarimax,
            history,
            origin=history["ds"].max(),
            horizon=H,
            future=ahead.drop(columns="law"),
        )


def fleet(ids: list[str], until: int = 120) -> pd.DataFrame:
    y = load_dataset("seatbelts")[["unique_id", "ds", "y"]].iloc[:until]
    parts = [y.assign(unique_id=u, y=y["y"] * (1 + 0.1 * i)) for i, u in enumerate(ids)]
    return pd.concat(parts, ignore_index=True)


def test_a_new_series_is_an_error_or_forecast_by_the_fallback() -> None:
    model = SeasonalNaive(season_length=12, level=[80]).fit(fleet(["a", "b", "c"]))
    data = fleet(["a", "b", "c", "d"])
    origin = data["ds"].max()
    with pytest.raises(NewSeriesError) as info:
        forecast_series(model, data, origin=origin, horizon=H)
    assert "1 series have no model in this version: 'd'" in str(info.value)
    assert "forecast.fallback_model" in str(info.value)

    cfg = small_config(forecast={"fallback_model": "Naive"})
    fallback = fallback_forecaster(cfg, "MS")
    assert fallback is not None
    out = forecast_series(model, data, origin=origin, horizon=H, fallback=fallback)
    assert sorted(out.frame["unique_id"].unique()) == ["a", "b", "c"]
    assert out.new_series == ("d",) and out.fallback_model == "Naive"
    last_d = data.loc[data["unique_id"] == "d", "y"].iloc[-1]
    assert (out.fallback["yhat"] == last_d).all() and len(out.fallback) == H
    assert fallback_forecaster(small_config(), "MS") is None


def test_contract_accepts_future_inputs_only_after_the_history(seat: pd.DataFrame) -> None:
    df = seat.iloc[:186].copy()
    df.loc[180:, "y"] = float("nan")
    checked = validate_frame(df, exog=EXOG, future_inputs=True)
    assert len(checked.df) == 180 and checked.df["y"].notna().all()
    assert checked.future is not None and list(checked.future.columns) == ["unique_id", "ds", *EXOG]
    assert list(checked.future["ds"]) == list(seat["ds"].iloc[180:186])
    # Without exogenous columns the same rows are refused, naming why.
    with pytest.raises(DataContractError, match="this model has none"):
        validate_frame(df[["unique_id", "ds", "y"]], exog=[], future_inputs=True)
    # An empty y inside the history stays an error.
    df.loc[10, "y"] = float("nan")
    with pytest.raises(DataContractError, match=r"target y is NaN at rows 10 \(1 rows\)"):
        validate_frame(df, exog=EXOG, future_inputs=True)
