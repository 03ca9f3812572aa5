from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chronoguard.config import MonitoringConfig
from chronoguard.drift import DriftKind
from chronoguard.monitoring import performance_checks, quality_checks
from chronoguard.registry import (
    BacktestReference,
    ErrorReference,
    SeriesReference,
    VersionReference,
)

SD = 10.0


def reference(one_step: ErrorReference | None = None) -> VersionReference:
    """One series ``a`` with a one-step spread of ``SD`` and a backtest without error counts."""
    series = SeriesReference(
        n_train=96,
        train_end=pd.Timestamp("2019-12-01"),
        mase_scale=8.0,
        backtest=BacktestReference(horizons=(1, 2), mae=(8.0, 9.0), mase=(1.0, 1.125)),
        one_step=one_step or ErrorReference(n=36, mean=0.0, sd=SD, mae=SD * np.sqrt(2 / np.pi)),
        drift={},
    )
    return VersionReference(season_length=12, freq="MS", features=("y",), series={"a": series})


def served_and_actuals(
    errors: np.ndarray, start: str = "2020-01-01"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ds = pd.date_range(start, periods=len(errors), freq="MS")
    yhat = np.full(len(errors), 100.0)
    served = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": ds,
            "horizon": 1,
            "yhat": yhat,
            "yhat_lo": yhat - 1.96 * SD,
            "yhat_hi": yhat + 1.96 * SD,
            "level": 95,
        }
    )
    actuals = pd.DataFrame({"unique_id": "a", "ds": ds, "y": yhat + errors})
    return served, actuals


def by_method(results: list) -> dict:
    return {r.method: r for r in results}


@pytest.mark.parametrize("m", [5, 36])
def test_performance_checks_hold_their_level_with_an_estimated_spread(m: int) -> None:
    """Under no change each error check fires at its level, also when the reference spread
    comes from only a few training errors (as on weekly or daily training windows)."""
    rng = np.random.default_rng(m)
    cfg = MonitoringConfig(alpha=0.05)
    fired = {"mase_ratio_chi2": 0, "bias_z": 0, "latest_error_z": 0}
    as_if_known = 0
    n = 2000
    for _ in range(n):
        sd = float(np.std(rng.normal(0, SD, size=m), ddof=1))
        ref = reference(ErrorReference(n=m, mean=0.0, sd=sd, mae=sd * 0.8))
        errors = rng.normal(0, SD, size=6)
        served, actuals = served_and_actuals(errors)
        for r in performance_checks(ref, served, actuals, monitoring=cfg):
            if r.method in fired:
                fired[r.method] += r.drift
        as_if_known += abs(errors[-1] / sd) > stats.norm.ppf(0.975)
    for method, count in fired.items():
        assert abs(count / n - 0.05) < 0.015, (method, count / n)
    if m == 5:  # the spread taken as exact: about twice the level
        assert as_if_known / n > 0.08


def test_a_level_shift_is_seen_by_every_error_check() -> None:
    errors = np.array([1.0, -2.0, 0.5, -40.0, -35.0, -38.0])
    served, actuals = served_and_actuals(errors)
    got = by_method(
        performance_checks(reference(), served, actuals, monitoring=MonitoringConfig(alpha=0.01))
    )
    assert got["latest_error_z"].drift and got["latest_error_z"].kind == DriftKind.CONCEPT
    assert got["bias_z"].drift and got["bias_z"].statistic < 0
    assert got["mase_ratio_chi2"].drift and got["mase_ratio_chi2"].kind == DriftKind.PERFORMANCE
    assert got["mase_ratio_chi2"].statistic > 2  # recent MASE (19.4 / 8) over the reference (~1.0)
    assert got["interval_coverage"].statistic == 0.5


def test_decay_is_one_sided_smaller_errors_never_fire() -> None:
    served, actuals = served_and_actuals(np.zeros(6))
    got = by_method(
        performance_checks(reference(), served, actuals, monitoring=MonitoringConfig(alpha=0.05))
    )
    assert not got["mase_ratio_chi2"].drift


def test_quality_reports_gaps_and_stale_feeds_as_their_own_kind() -> None:
    ds = pd.date_range("2020-01-01", periods=6, freq="MS").delete(2)
    window = pd.DataFrame({"unique_id": "a", "ds": ds, "y": 1.0})
    got = by_method(
        quality_checks(window, now=pd.Timestamp("2020-08-01"), freq="MS", features=["y"])
    )
    assert got["contract"].drift and "gaps" in got["contract"].details["problems"]
    assert got["staleness"].drift and got["staleness"].statistic == 2
    assert {r.kind for r in got.values()} == {DriftKind.QUALITY}


def test_a_constant_feature_is_left_to_quality_checks_not_profiled() -> None:
    from chronoguard.forecasting import backtest, make_forecaster
    from chronoguard.monitoring import build_reference
    from tests.helpers import seatbelts, small_config

    df = seatbelts("1976-12-01").assign(flat=1.0)
    cfg = small_config(data={"exog": ["flat"]}, model={"name": "SARIMAX"})
    model = make_forecaster("SARIMAX", season_length=12, freq="MS", exog=["flat"]).fit(df)
    bt = backtest(
        make_forecaster("SARIMAX", season_length=12, freq="MS", exog=["flat"]), df, h=6, n_windows=1
    )
    ref = build_reference(model, df, bt, cfg, freq="MS")
    series = ref.series["uk_drivers_ksi"]
    assert set(series.drift) == {"y"}
    assert "flat" in series.drift_skipped


def test_one_step_errors_are_the_served_models_errors_period_by_period() -> None:
    """The baseline errors equal ``y - predict(1, history=<rows before>)`` at each period."""
    from chronoguard.data import load_dataset
    from chronoguard.forecasting import AutoETS
    from chronoguard.monitoring import one_step_errors

    one = load_dataset("seatbelts").iloc[:120]
    two = one.assign(unique_id="b", y=one["y"] * 1.5 + 40.0)
    data = pd.concat([one.assign(unique_id="a"), two], ignore_index=True)
    data = data[["unique_id", "ds", "y"]]
    model = AutoETS(season_length=12, level=[]).fit(data)
    errors = one_step_errors(model, data, n_last=6)
    assert len(errors) == 12 and set(errors["unique_id"]) == {"a", "b"}
    for t in np.sort(data["ds"].unique())[-6:]:
        fc = model.predict(1, history=data[data["ds"] < t])
        actual = data[data["ds"] == t].merge(fc, on=["unique_id", "ds"])
        got = errors[errors["ds"] == t].merge(actual, on=["unique_id", "ds"])
        assert len(got) == 2
        np.testing.assert_allclose(got["error"], got["y"] - got["yhat"], rtol=1e-9)
