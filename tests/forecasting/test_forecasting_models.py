"""Backend-specific behaviour, parameter checks, fallback and warnings."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.statespace.sarimax import SARIMAX as StatsmodelsSARIMAX

from chronoguard.errors import DataContractError
from chronoguard.forecasting import (
    SARIMAX,
    AutoARIMA,
    AutoETS,
    Forecaster,
    InvalidParameterError,
    ModelFitError,
    Naive,
    SeasonalNaive,
)
from chronoguard.forecasting._series import NaiveSeries, SeriesModel, fit_naive

Split = Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]


def test_sarimax_forecast_equals_statsmodels_get_forecast(seatbelts: pd.DataFrame) -> None:
    # The stored state reproduces statsmodels' own forecast from the full results object.
    train = seatbelts.iloc[:180]
    future = seatbelts.iloc[180:192]
    results = StatsmodelsSARIMAX(
        train["y"].to_numpy(),
        exog=train[["law"]].to_numpy(),
        order=(1, 0, 0),
        seasonal_order=(0, 1, 1, 12),
        concentrate_scale=True,  # as chronoguard fits it
    ).fit(disp=False)
    expected = results.get_forecast(12, exog=future[["law"]].to_numpy())
    model = SARIMAX(season_length=12, exog=["law"], level=[80]).fit(train)
    fc = model.predict(12, X_future=future)
    np.testing.assert_allclose(fc["yhat"], expected.predicted_mean, rtol=1e-7)
    np.testing.assert_allclose(fc["yhat_lo_80"], expected.conf_int(alpha=0.2)[:, 0], rtol=1e-7)
    assert len(pickle.dumps(results)) > 100 * len(pickle.dumps(model))


def test_sarimax_history_equals_statsmodels_apply_with_frozen_scale(
    seatbelts: pd.DataFrame,
) -> None:
    # statsmodels' results.apply re-filters new data with fixed coefficients but re-estimates
    # the scale; chronoguard keeps the fitted scale, so only the interval widths differ.
    train = seatbelts.iloc[:150]
    history = seatbelts.iloc[:180]
    results = StatsmodelsSARIMAX(
        train["y"].to_numpy(),
        order=(1, 0, 0),
        seasonal_order=(0, 1, 1, 12),
        concentrate_scale=True,
    ).fit(disp=False)
    applied = results.apply(history["y"].to_numpy()).get_forecast(6)
    model = SARIMAX(season_length=12, level=[95]).fit(train[["unique_id", "ds", "y"]])
    fc = model.predict(6, history=history[["unique_id", "ds", "y"]])
    np.testing.assert_allclose(fc["yhat"], applied.predicted_mean, rtol=1e-7)
    variance = applied.var_pred_mean / results.apply(history["y"].to_numpy()).scale * results.scale
    half_width = fc["yhat_hi_95"] - fc["yhat"]
    np.testing.assert_allclose(half_width, 1.959963984540054 * np.sqrt(variance), rtol=1e-6)


def test_sarimax_without_season_ignores_seasonal_order(seatbelts: pd.DataFrame) -> None:
    model = SARIMAX(order=(1, 1, 1)).fit(seatbelts.iloc[:60])
    spec = model.models_["uk_drivers_ksi"].spec  # type: ignore[attr-defined]
    assert spec.seasonal_order == (0, 0, 0, 0)


def test_ets_history_starting_later_is_phase_aligned(seatbelts: pd.DataFrame) -> None:
    # The initial seasonal state is rotated to the history's first month; without the
    # rotation a history starting 5 months later is off by about 80%.
    df = seatbelts[["unique_id", "ds", "y"]]
    model = AutoETS(season_length=12).fit(df.iloc[:168])
    full = model.predict(12, history=df.iloc[:180])["yhat"].to_numpy()
    for start in (5, 41):
        late = model.predict(12, history=df.iloc[start:180])["yhat"].to_numpy()
        np.testing.assert_allclose(late, full, rtol=0.01)


def test_ets_history_keeps_the_fitted_interval_width(seatbelts: pd.DataFrame) -> None:
    # sigma2 is a fitted parameter: conditioning on a history must not re-estimate it.
    df = seatbelts[["unique_id", "ds", "y"]]
    model = AutoETS(season_length=12, model="AAA", level=[80]).fit(df.iloc[:168])
    plain = model.predict(3)
    moved = model.predict(3, history=df.iloc[:180])
    np.testing.assert_allclose(
        (moved["yhat_hi_80"] - moved["yhat"]).to_numpy(),
        (plain["yhat_hi_80"] - plain["yhat"]).to_numpy(),
        rtol=1e-9,
    )


def test_seasonal_naive_repeats_last_season_and_history() -> None:
    ds = pd.date_range("2024-01-01", periods=9, freq="D")
    df = pd.DataFrame({"unique_id": "s", "ds": ds, "y": [1.0, 2, 3, 1, 2, 4, 1, 2, 3]})
    model = SeasonalNaive(season_length=3, level=[]).fit(df)
    assert model.predict(4)["yhat"].tolist() == [1.0, 2.0, 3.0, 1.0]
    history = pd.concat(
        [df, pd.DataFrame({"unique_id": "s", "ds": [ds[-1] + pd.Timedelta(days=1)], "y": [9.0]})]
    )
    assert model.predict(3, history=history)["yhat"].tolist() == [2.0, 3.0, 9.0]
    assert Naive(level=[]).fit(df).predict(2)["yhat"].tolist() == [3.0, 3.0]


class _Picky(Forecaster):
    """Fails on series whose first value is negative; warns on every fit."""

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        warnings.warn("optimizer did not converge", RuntimeWarning, stacklevel=2)
        if y[0] < 0:
            raise ValueError("negative start")
        return fit_naive(y, 1)


def _frame(ids: Sequence[str], n: int = 20, negative: Sequence[str] = ()) -> pd.DataFrame:
    frames = []
    for uid in ids:
        y = np.arange(n, dtype=float) + 1.0
        if uid in negative:
            y[0] = -1.0
        frames.append(
            pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2020-01-01", periods=n), "y": y})
        )
    return pd.concat(frames, ignore_index=True)


def test_fit_failure_names_every_failing_series() -> None:
    df = _frame(["a", "b", "c"], negative=["a", "c"])
    with pytest.raises(ModelFitError, match=r"failed to fit 2 series") as info:
        _Picky().fit(df)
    assert set(info.value.series) == {"a", "c"}
    assert "negative start" in str(info.value) and "fallback=True" in str(info.value)


def test_fallback_forecasts_failing_series_and_records_them() -> None:
    df = _frame(["a", "b"], negative=["b"])
    model = _Picky(fallback=True).fit(df)
    assert model.fallbacks_ == ["b"]
    assert isinstance(model.models_["b"], NaiveSeries)
    assert len(model.predict(3)) == 6
    assert any("fell back" in w for w in model.fit_warnings_["b"])


def test_backend_warnings_are_recorded_per_series_not_raised() -> None:
    model = _Picky().fit(_frame(["a", "b"]))
    assert model.fit_warnings_ == {
        "a": ["optimizer did not converge"],
        "b": ["optimizer did not converge"],
    }


def test_sarimax_fallback_on_a_too_short_series(two_series: pd.DataFrame) -> None:
    short = pd.DataFrame(
        {"unique_id": "tiny", "ds": pd.date_range("1984-01-01", periods=8, freq="MS"), "y": 5.0}
    )
    df = pd.concat([two_series.iloc[:60], short], ignore_index=True)
    with pytest.raises(ModelFitError, match=r"'tiny'.*needs at least 14 points"):
        SARIMAX(season_length=12).fit(df)
    model = SARIMAX(season_length=12, fallback=True).fit(df)
    assert model.fallbacks_ == ["tiny"]
    fc = model.predict(2)
    assert fc.loc[fc["unique_id"] == "tiny", "yhat"].tolist() == [5.0, 5.0]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Naive(season_length=0), "season_length must be an integer >= 1"),
        (Naive(level=[0, 80]), "level must be a sequence of integers in 1..99"),
        (Naive(level=[80.5]), "level must be"),
        (Naive(freq="fortnightly"), "not a pandas offset alias"),
        (AutoARIMA(exog=["y"]), "other than"),
        (AutoARIMA(exog="x"), "exog must be a list"),
        (AutoARIMA(max_p=-1), "max_p must be an integer >= 0"),
        (AutoETS(model="XYZ"), "AutoETS: model must be 3 letters"),
        (SARIMAX(order=(1, 0)), r"order must be \(p, d, q\)"),
        (SARIMAX(trend="quadratic"), "trend must be"),
    ],
)
def test_invalid_parameters_are_named_at_fit_time(
    model: Forecaster, message: str, two_series: pd.DataFrame
) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        model.fit(two_series)


def test_data_contract_problems_are_reported(two_series: pd.DataFrame) -> None:
    with pytest.raises(DataContractError, match="not contiguous"):
        Naive().fit(two_series.sort_values("ds"))
    broken = two_series.copy()
    broken.loc[3, "y"] = np.nan
    with pytest.raises(DataContractError, match=r"NaN or infinite.*front_ksi"):
        Naive().fit(broken)
    with pytest.raises(DataContractError, match="missing column"):
        Naive().fit(two_series.drop(columns="y"))
    duplicated = pd.concat([two_series.iloc[:3], two_series.iloc[2:5]], ignore_index=True)
    with pytest.raises(DataContractError, match="strictly increasing"):
        Naive().fit(duplicated)


def test_frequency_is_inferred_or_must_be_given(two_series: pd.DataFrame) -> None:
    assert Naive().fit(two_series).freq_ == "MS"
    irregular = two_series.iloc[[0, 1, 3, 4, 9]]
    with pytest.raises(DataContractError, match="pass freq="):
        Naive().fit(irregular)
    assert Naive(freq="MS").fit(irregular).freq_ == "MS"


def test_sub_daily_frequency() -> None:
    ds = pd.date_range("2024-01-01", periods=96, freq="30min")
    rng = np.random.default_rng(1)
    y = 10 + np.sin(np.arange(96) * 2 * np.pi / 48) + rng.normal(0, 0.1, 96)
    df = pd.DataFrame({"unique_id": "sensor", "ds": ds, "y": y})
    model = AutoETS(season_length=48).fit(df)
    fc = model.predict(3, history=df.iloc[5:])
    assert fc["ds"].tolist() == list(pd.date_range(ds[-1], periods=4, freq="30min")[1:])
