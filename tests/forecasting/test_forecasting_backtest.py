"""Splits, rolling-origin backtests and the leakage guard."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from chronoguard.errors import DataContractError, NotFittedError
from chronoguard.forecasting import (
    SARIMAX,
    BacktestResult,
    Forecaster,
    LeakageError,
    Naive,
    SeasonalNaive,
    backtest,
    check_no_leakage,
    coverage,
    frozen_backtest,
    mae,
    rmse,
    rolling_origins,
    scale_mase,
    smape,
    temporal_split,
)
from chronoguard.forecasting._series import SeriesModel, fit_naive


def _uneven() -> pd.DataFrame:
    """Two daily series of different lengths and end dates."""
    return pd.concat(
        [
            pd.DataFrame(
                {"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=30), "y": 1.0}
            ),
            pd.DataFrame(
                {"unique_id": "b", "ds": pd.date_range("2024-01-05", periods=20), "y": 2.0}
            ),
        ],
        ignore_index=True,
    )


# --------------------------------------------------------------------------- splits


def test_temporal_split_keeps_the_last_points_of_each_series() -> None:
    train, test = temporal_split(_uneven(), test_size=5)
    assert test.groupby("unique_id").size().tolist() == [5, 5]
    assert train.groupby("unique_id").size().tolist() == [25, 15]
    for uid in ("a", "b"):
        assert (
            train.loc[train.unique_id == uid, "ds"].max()
            < test.loc[test.unique_id == uid, "ds"].min()
        )


def test_temporal_split_rejects_series_without_training_part() -> None:
    with pytest.raises(DataContractError, match=r"\['b'\] have fewer than 21 points"):
        temporal_split(_uneven(), test_size=20)


@pytest.mark.parametrize(("h", "n_windows", "step"), [(3, 4, None), (5, 3, 2), (1, 6, 1)])
def test_rolling_origins_never_look_ahead(h: int, n_windows: int, step: int | None) -> None:
    df = _uneven()
    windows = list(rolling_origins(df, h=h, n_windows=n_windows, step=step))
    assert len(windows) == n_windows
    ends = {uid: part["ds"].max() for uid, part in df.groupby("unique_id")}
    previous: dict[str, pd.Timestamp] = {}
    for w, (train, test) in enumerate(windows):
        for uid in ("a", "b"):
            tr = train.loc[train.unique_id == uid, "ds"]
            te = test.loc[test.unique_id == uid, "ds"]
            assert tr.max() < te.min()  # no look-ahead
            assert len(te) == h
            assert (te.diff().dropna() == pd.Timedelta(days=1)).all()
            assert te.min() == tr.max() + pd.Timedelta(days=1)  # test starts right after
            assert tr.min() == df.loc[df.unique_id == uid, "ds"].min()  # expanding window
            if uid in previous:
                assert tr.max() - previous[uid] == pd.Timedelta(days=step or h)
            previous[uid] = tr.max()
            if w == n_windows - 1:
                assert te.max() == ends[uid]


def test_rolling_origins_reject_too_short_series() -> None:
    with pytest.raises(DataContractError, match=r"\['b'\].*3 window"):
        list(rolling_origins(_uneven(), h=7, n_windows=3))


# --------------------------------------------------------------------------- backtest


def test_backtest_forecast_frame_and_metrics(seatbelts: pd.DataFrame) -> None:
    df = seatbelts[["unique_id", "ds", "y"]]
    result = backtest(SeasonalNaive(season_length=12), df, h=6, n_windows=3, level=[80])
    assert isinstance(result, BacktestResult)
    fc = result.forecasts
    assert list(fc.columns) == [
        "unique_id",
        "cutoff",
        "ds",
        "horizon",
        "y",
        "yhat",
        "yhat_lo_80",
        "yhat_hi_80",
    ]
    assert len(fc) == 18
    assert fc["horizon"].tolist() == [1, 2, 3, 4, 5, 6] * 3
    assert (fc["ds"] > fc["cutoff"]).all()
    assert sorted(fc["cutoff"].unique()) == list(
        pd.to_datetime(["1983-06-01", "1983-12-01", "1984-06-01"])
    )

    # Seasonal naive: the forecast is the value 12 months before.
    lagged = df.set_index("ds")["y"]
    expected = [lagged[d - pd.DateOffset(months=12)] for d in fc["ds"]]
    np.testing.assert_allclose(fc["yhat"], expected)

    # Metrics agree with the metric functions applied to the frame.
    assert result.overall["mae"] == pytest.approx(mae(fc["y"], fc["yhat"]))
    assert result.overall["rmse"] == pytest.approx(rmse(fc["y"], fc["yhat"]))
    assert result.overall["smape"] == pytest.approx(smape(fc["y"], fc["yhat"]))
    assert result.overall["coverage_80"] == pytest.approx(
        coverage(fc["y"], fc["yhat_lo_80"], fc["yhat_hi_80"])
    )
    first = fc[fc["cutoff"] == fc["cutoff"].min()]
    scale = scale_mase(df.loc[df["ds"] <= first["cutoff"].iloc[0], "y"], 12)
    h1 = fc[fc["horizon"] == 1]
    assert result.by_horizon.loc[1, "mae"] == pytest.approx(mae(h1["y"], h1["yhat"]))
    assert list(result.by_horizon.index) == [1, 2, 3, 4, 5, 6]
    assert (result.by_horizon["n"] == 3).all()
    assert result.by_horizon.loc[1, "mase"] == pytest.approx(
        np.mean(
            [
                abs(row.y - row.yhat) / scale_mase(df.loc[df["ds"] <= row.cutoff, "y"], 12)
                for row in h1.itertuples()
            ]
        )
    )
    assert scale > 0
    assert result.model == "SeasonalNaive" and result.h == 6 and result.levels == (80,)


def test_backtest_refits_clones_and_leaves_the_given_model_unfitted(
    seatbelts: pd.DataFrame,
) -> None:
    model = Naive(level=[90])
    result = backtest(model, seatbelts[["unique_id", "ds", "y"]], h=3, n_windows=2)
    assert not hasattr(model, "models_")
    assert result.levels == (90,)
    # A factory works as well.
    again = backtest(
        lambda: Naive(level=[90]), seatbelts[["unique_id", "ds", "y"]], h=3, n_windows=2
    )
    pd.testing.assert_frame_equal(again.forecasts, result.forecasts)


def test_frozen_backtest_uses_the_refit_origins_without_fitting(seatbelts: pd.DataFrame) -> None:
    df = seatbelts[["unique_id", "ds", "y"]]
    # A seasonal naive forecast has no fitted parameters (only its interval width is fitted):
    # frozen and refit point forecasts coincide, origin by origin.
    fitted = SeasonalNaive(season_length=12, level=[80]).fit(df)
    frozen = frozen_backtest(fitted, df, h=6, n_windows=3)
    refit = backtest(SeasonalNaive(season_length=12), df, h=6, n_windows=3, level=[80])
    points = ["unique_id", "cutoff", "ds", "horizon", "y", "yhat"]
    assert list(frozen.forecasts.columns) == list(refit.forecasts.columns)
    pd.testing.assert_frame_equal(frozen.forecasts[points], refit.forecasts[points])
    cols = ["n", "mae", "rmse", "smape", "mase"]
    pd.testing.assert_frame_equal(frozen.by_horizon[cols], refit.by_horizon[cols])
    # The frozen intervals all have the width fitted on the whole series.
    width = frozen.forecasts["yhat_hi_80"] - frozen.forecasts["yhat_lo_80"]
    full = fitted.predict(6)
    np.testing.assert_allclose(
        width.to_numpy().reshape(3, 6), np.tile(full["yhat_hi_80"] - full["yhat_lo_80"], (3, 1))
    )


def test_frozen_backtest_conditions_each_origin_on_its_past_only(seatbelts: pd.DataFrame) -> None:
    from chronoguard.forecasting import AutoETS

    df = seatbelts[["unique_id", "ds", "y"]]
    fitted = AutoETS(season_length=12, level=[80]).fit(df)
    params = fitted.get_params()
    result = frozen_backtest(fitted, df, h=4, n_windows=2, step=6)
    assert fitted.get_params() == params  # nothing was refitted
    for cutoff, part in result.forecasts.groupby("cutoff"):
        expected = fitted.predict(4, history=df[df["ds"] <= cutoff])
        np.testing.assert_allclose(part["yhat"], expected["yhat"])
        assert (part["ds"] > cutoff).all()
    # Changing the data after an origin changes nothing at that origin.
    later = df.copy()
    last_cutoff = result.forecasts["cutoff"].max()
    later.loc[later["ds"] > last_cutoff, "y"] *= 3
    again = frozen_backtest(fitted, later, h=4, n_windows=2, step=6)
    np.testing.assert_allclose(again.forecasts["yhat"], result.forecasts["yhat"])
    assert not np.allclose(again.forecasts["y"], result.forecasts["y"])


def test_frozen_backtest_needs_a_fitted_model(seatbelts: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        frozen_backtest(Naive(), seatbelts[["unique_id", "ds", "y"]], h=3, n_windows=2)


def test_backtest_with_exog_hands_future_exog_without_target(seatbelts: pd.DataFrame) -> None:
    result = backtest(
        SARIMAX(season_length=12, exog=["law"], level=[95]), seatbelts, h=3, n_windows=2
    )
    assert len(result.forecasts) == 6
    assert result.overall["mase"] < 1.5


def test_backtest_mase_is_nan_for_a_constant_training_series() -> None:
    df = pd.DataFrame(
        {"unique_id": "flat", "ds": pd.date_range("2024-01-01", periods=12), "y": 3.0}
    )
    result = backtest(Naive(), df, h=2, n_windows=2)
    assert np.isnan(result.overall["mase"])
    assert result.overall["mae"] == 0.0


# --------------------------------------------------------------------------- leakage guard

# A shared reference to the full data: what a leaky model might close over.
FULL: dict[str, pd.DataFrame] = {}


class _Recorder:
    """Collects what the forecasters under test were given."""

    fit_frames: ClassVar[list[pd.DataFrame]] = []
    x_futures: ClassVar[list[pd.DataFrame | None]] = []


class RecordingNaive(Forecaster):
    """An honest naive model that records what backtest hands it."""

    supports_exog = True

    def fit(self, df: pd.DataFrame) -> RecordingNaive:
        _Recorder.fit_frames.append(df.copy())
        return super().fit(df)

    def predict(
        self, h: int, X_future: pd.DataFrame | None = None, history: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        _Recorder.x_futures.append(None if X_future is None else X_future.copy())
        return super().predict(h, X_future=X_future, history=history)

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        return fit_naive(y, 1)


class PeekingForecaster(RecordingNaive):
    """Leaky: trains on the shared full frame instead of the frame it is given."""

    def fit(self, df: pd.DataFrame) -> PeekingForecaster:
        full = FULL["df"]
        return super().fit(full[full["unique_id"].isin(df["unique_id"])].reset_index(drop=True))


class InSampleForecaster(RecordingNaive):
    """Leaky: returns values at the training timestamps (fitted values) as its forecasts."""

    def predict(
        self, h: int, X_future: pd.DataFrame | None = None, history: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        fc = super().predict(h, X_future=X_future, history=history)
        return fc.assign(ds=fc["ds"] - pd.DateOffset(months=h))


class OracleForecaster(RecordingNaive):
    """A cheater: answers with any actual y it can find for the requested timestamps.

    It remembers every (series, ds, y) it was fitted on and reads a ``y`` column in
    ``X_future`` if one is there; otherwise it falls back to the naive forecast.
    """

    def fit(self, df: pd.DataFrame) -> OracleForecaster:
        self.memory_ = {
            (u, d): y for u, d, y in zip(df["unique_id"], df["ds"], df["y"], strict=True)
        }
        return super().fit(df)

    def predict(
        self, h: int, X_future: pd.DataFrame | None = None, history: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        fc = super().predict(h, X_future=X_future, history=history)
        memory = dict(self.memory_)
        if X_future is not None and "y" in X_future:
            memory.update(
                zip(
                    zip(X_future["unique_id"], X_future["ds"], strict=True),
                    X_future["y"],
                    strict=True,
                )
            )
        found = [memory.get((u, d)) for u, d in zip(fc["unique_id"], fc["ds"], strict=True)]
        return fc.assign(
            yhat=[f if f is not None else y for f, y in zip(found, fc["yhat"], strict=True)]
        )


@pytest.fixture
def monthly(seatbelts: pd.DataFrame) -> pd.DataFrame:
    df = seatbelts[["unique_id", "ds", "y", "law"]].copy()
    FULL["df"] = df
    _Recorder.fit_frames.clear()
    _Recorder.x_futures.clear()
    return df


def test_backtest_gives_each_fit_only_data_up_to_the_cutoff(monthly: pd.DataFrame) -> None:
    result = backtest(RecordingNaive(exog=["law"]), monthly, h=6, n_windows=4)
    cutoffs = sorted(result.forecasts["cutoff"].unique())
    assert len(_Recorder.fit_frames) == 4
    for frame, x_future, cutoff in zip(
        _Recorder.fit_frames, _Recorder.x_futures, cutoffs, strict=True
    ):
        assert frame["ds"].max() == cutoff
        first_test = result.forecasts.loc[result.forecasts["cutoff"] == cutoff, "ds"].min()
        assert frame["ds"].max() < first_test
        assert x_future is not None and "y" not in x_future.columns
        assert x_future["ds"].min() == first_test


def test_a_model_that_trains_on_a_shared_full_frame_is_caught(monthly: pd.DataFrame) -> None:
    with pytest.raises(LeakageError, match="used data it was not given"):
        backtest(PeekingForecaster(), monthly, h=6, n_windows=2)


def test_in_sample_values_returned_as_forecasts_are_caught(monthly: pd.DataFrame) -> None:
    with pytest.raises(LeakageError, match="in-sample values are not forecasts"):
        backtest(InSampleForecaster(), monthly, h=6, n_windows=2)


def test_a_cheating_model_gains_nothing_from_what_backtest_gives_it(monthly: pd.DataFrame) -> None:
    # The oracle really cheats when it can: handed the actuals, its error is zero...
    train, test = temporal_split(monthly, test_size=6)
    oracle = OracleForecaster(exog=["law"]).fit(train)
    leaky = oracle.predict(6, X_future=test[["unique_id", "ds", "law", "y"]])
    assert mae(test["y"], leaky["yhat"]) == 0.0
    # ...which is exactly what the guard refuses to hand over,
    with pytest.raises(LeakageError, match="target column 'y'"):
        check_no_leakage(train, test, test[["unique_id", "ds", "law", "y"]])
    # ...and through backtest it can do no better than the naive model it falls back to.
    cheat = backtest(OracleForecaster(exog=["law"]), monthly, h=6, n_windows=3)
    honest = backtest(Naive(), monthly, h=6, n_windows=3)
    assert cheat.overall["mae"] > 0
    pd.testing.assert_series_equal(cheat.overall, honest.overall, check_names=False)


def test_guard_rejects_a_training_frame_that_reaches_the_test_period(monthly: pd.DataFrame) -> None:
    train, test = temporal_split(monthly, test_size=6)
    leaky_train = pd.concat([train, test.iloc[:1]], ignore_index=True)
    with pytest.raises(LeakageError, match="at or after its first test timestamp"):
        check_no_leakage(leaky_train, test)
    check_no_leakage(train, test, test[["unique_id", "ds", "law"]])  # the honest split passes


def test_guard_rejects_x_future_rows_outside_the_test_period(monthly: pd.DataFrame) -> None:
    train, test = temporal_split(monthly, test_size=6)
    with pytest.raises(LeakageError, match="outside the test period"):
        check_no_leakage(train, test, monthly[["unique_id", "ds", "law"]])


def test_guard_rejects_series_without_training_data(monthly: pd.DataFrame) -> None:
    train, test = temporal_split(monthly, test_size=6)
    with pytest.raises(LeakageError, match="no training data"):
        check_no_leakage(train, test.assign(unique_id="other"))


def test_backtest_rejects_what_is_not_a_forecaster(monthly: pd.DataFrame) -> None:
    from chronoguard.forecasting import InvalidParameterError

    bad: Any = "SeasonalNaive"
    with pytest.raises(InvalidParameterError, match="Forecaster"):
        backtest(bad, monthly, h=3)
