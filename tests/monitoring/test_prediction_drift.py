"""Prediction drift: the served one-step forecasts against the version's own in-sample ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chronoguard.config import ChronoguardConfig, MonitoringConfig
from chronoguard.drift import DriftKind
from chronoguard.forecasting import Forecaster, backtest, make_forecaster
from chronoguard.monitoring import (
    build_reference,
    prediction_burn_in,
    prediction_drift_checks,
    run_monitoring,
)
from chronoguard.policy import CheckSummary, RetrainRule
from chronoguard.registry import VersionReference
from tests.helpers import seatbelts, small_config

N_TRAIN = 96
N_AFTER = 24


def driven_frame(jump: float) -> pd.DataFrame:
    """A monthly series driven by an input ``x``; after training, ``x`` moves by ``jump`` sds.

    The training part does not depend on ``jump``, so one fitted version serves both cases.
    """
    rng = np.random.default_rng(7)
    n = N_TRAIN + N_AFTER
    x = rng.normal(0.0, 1.0, n)
    x[N_TRAIN:] += jump
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.5 * noise[t - 1] + rng.normal(0.0, 20.0)
    season = 100.0 * np.sin(2 * np.pi * np.arange(n) / 12)
    return pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.date_range("2010-01-01", periods=n, freq="MS"),
            "y": 1000.0 + season + 60.0 * x + noise,
            "x": x,
        }
    )


def served_h1(model: Forecaster, data: pd.DataFrame, after: pd.Timestamp) -> pd.DataFrame:
    """The step-1 forecasts the version serves for the periods after ``after``.

    ``fitted_values`` gives each period's forecast from the rows before it, parameters frozen:
    the forecast served from the previous period's origin.
    """
    fc = model.fitted_values(data)
    fc = fc[fc["ds"] > after]
    return fc.assign(
        horizon=1, version="1", yhat_lo=np.nan, yhat_hi=np.nan, level=np.nan
    ).reset_index(drop=True)


@pytest.fixture(scope="module")
def driven() -> tuple[Forecaster, VersionReference, ChronoguardConfig]:
    """A SARIMAX using ``x``, trained on the first 96 months, with its reference profile."""
    cfg = small_config(data={"exog": ["x"]}, model={"name": "SARIMAX"})
    train = driven_frame(0.0).iloc[:N_TRAIN]
    make = lambda: make_forecaster("SARIMAX", season_length=12, freq="MS", exog=["x"])  # noqa: E731
    model = make().fit(train)
    bt = backtest(make(), train, h=6, n_windows=1)
    return model, build_reference(model, train, bt, cfg, freq="MS"), cfg


def checks_over_time(
    reference: VersionReference, served: pd.DataFrame, times: pd.Series
) -> list[bool]:
    out = []
    for now in times:
        results = prediction_drift_checks(reference, served, now=now, version="1")
        assert [r.feature for r in results] == ["yhat_h1"]
        out.append(results[0].drift)
    return out


def test_the_profile_holds_a_prediction_reference_after_the_burn_in(driven) -> None:
    _, ref, _ = driven
    series = ref.series["a"]
    assert set(series.prediction) == {"yhat_h1"}
    assert series.prediction_skipped == {}
    assert series.prediction_burn_in == 24
    assert series.prediction["yhat_h1"].n == N_TRAIN - 24
    assert prediction_burn_in(96, 12) == 24
    assert prediction_burn_in(30, 12) == 6  # short: two seasons are kept for the profile
    assert prediction_burn_in(20, 12) == 0


def test_stable_inputs_raise_no_prediction_drift(driven) -> None:
    model, ref, _ = driven
    data = driven_frame(0.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN - 1])
    assert not any(checks_over_time(ref, served, data["ds"].iloc[N_TRAIN:]))


def test_forecasts_that_follow_a_jump_of_their_input_raise_prediction_drift(driven) -> None:
    model, ref, _ = driven
    data = driven_frame(3.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN - 1])
    fired = checks_over_time(ref, served, data["ds"].iloc[N_TRAIN:])
    assert fired[-1] and sum(fired) >= N_AFTER // 2
    result = prediction_drift_checks(ref, served, now=data["ds"].iloc[-1], version="1")[0]
    assert result.kind == DriftKind.PREDICTION and result.unique_id == "a"
    assert result.method == "cusum_prewhitened"


def monitoring_report(
    ref: VersionReference, model: Forecaster, data: pd.DataFrame, served: pd.DataFrame
):
    now = data["ds"].iloc[-1]
    after = data[data["ds"] > data["ds"].iloc[N_TRAIN - 1]]
    return run_monitoring(
        ref,
        after.tail(6),
        served[served["ds"] > after["ds"].iloc[-7]],
        now=now,
        freq="MS",
        monitoring=MonitoringConfig(),
        version="1",
        since_reference=after,
        served_since_reference=served,
    )


def test_a_monitoring_run_reports_prediction_drift_and_the_rule_sees_it(driven) -> None:
    model, ref, cfg = driven
    data = driven_frame(3.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN - 1])
    report = monitoring_report(ref, model, data, served)
    kinds = {str(r.kind) for r in report.results}
    assert "prediction_drift" in report.fired_kinds and "prediction_drift" in kinds

    # Listed as a trigger, persistent prediction drift alone retrains; by default it does not.
    stamps = pd.date_range("2020-01-01", periods=3, freq="MS")
    history = [CheckSummary(t, frozenset({"prediction_drift"})) for t in stamps]
    listed = cfg.model_copy(
        update={
            "retraining": cfg.retraining.model_copy(
                update={"triggers": ["performance_decay", "prediction_drift"]}
            )
        }
    )
    for config, expected in ((cfg, False), (listed, True)):
        r = config.retraining
        rule = RetrainRule(tuple(r.triggers), k=r.k, n=r.n, cooldown=r.cooldown)
        decision = rule.decide(history, periods_since_retrain=99)
        assert decision.retrain is expected
        assert decision.trigger == ("prediction_drift 3/3" if expected else "")


def test_the_config_accepts_prediction_drift_as_a_trigger_but_not_by_default() -> None:
    cfg = small_config(retraining={"triggers": ["prediction_drift"]})
    assert cfg.retraining.triggers == ["prediction_drift"]
    assert "prediction_drift" not in small_config().retraining.triggers


def test_a_profile_without_a_prediction_reference_skips_the_check(driven) -> None:
    model, ref, _ = driven
    stored = ref.to_dict()
    for series in stored["series"].values():  # as written before the check existed
        for key in ("prediction", "prediction_skipped", "prediction_burn_in"):
            del series[key]
    old = VersionReference.from_dict(stored)
    assert old.series["a"].prediction == {} and old.series["a"].prediction_burn_in is None
    data = driven_frame(3.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN - 1])
    assert prediction_drift_checks(old, served, now=data["ds"].iloc[-1], version="1") == []
    report = monitoring_report(old, model, data, served)
    assert report.results and not any(r.kind == DriftKind.PREDICTION for r in report.results)


def test_no_step_one_forecasts_no_result(driven) -> None:
    model, ref, _ = driven
    data = driven_frame(3.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN - 1])
    now = data["ds"].iloc[-1]
    assert prediction_drift_checks(ref, served.assign(horizon=2), now=now, version="1") == []
    assert prediction_drift_checks(ref, served.iloc[:0], now=now, version="1") == []
    # Forecasts of another version are not this version's predictions.
    assert prediction_drift_checks(ref, served, now=now, version="2") == []
    # Forecasts for periods after ``now`` have not been served for an arrived period yet.
    assert prediction_drift_checks(ref, served, now=data["ds"].iloc[N_TRAIN - 1]) == []


def test_a_version_promoted_after_its_training_end_is_checked_from_its_first_forecasts(
    driven,
) -> None:
    # A challenger is trained on data ending before the gate's held-out window and serves
    # only after its promotion: its forecasts start some periods after its training end.
    model, ref, _ = driven
    data = driven_frame(3.0)
    served = served_h1(model, data, data["ds"].iloc[N_TRAIN + 5])
    first = prediction_drift_checks(ref, served.head(1), now=served["ds"].iloc[0])
    assert len(first) == 1 and first[0].details["checks"] == 1
    results = prediction_drift_checks(ref, served, now=data["ds"].iloc[-1], version="1")
    assert len(results) == 1 and results[0].drift


@pytest.fixture(scope="module")
def demo_champion() -> tuple[Forecaster, VersionReference, pd.DataFrame]:
    """AutoETS on the seat-belt series 1969-1976, as the demo's first champion; data to 1982."""
    cfg = small_config()
    df = seatbelts("1982-12-01")
    train = df[df["ds"] <= "1976-12-01"].reset_index(drop=True)
    make = lambda: make_forecaster("AutoETS", season_length=12, freq="MS")  # noqa: E731
    model = make().fit(train)
    ref = build_reference(model, train, backtest(make(), train, h=6, n_windows=1), cfg, freq="MS")
    return model, ref, df


def test_the_demo_champion_raises_no_prediction_drift_before_the_seat_belt_law(
    demo_champion,
) -> None:
    # The first forecasts of an ETS come from initial states fitted to the first observations
    # and fit them more closely than later ones; without the burn-in the reference's forecast
    # moves are too small and the checks of 1982 alarm.
    model, ref, df = demo_champion
    served = served_h1(model, df, pd.Timestamp("1976-12-01"))
    assert not any(checks_over_time(ref, served, served["ds"]))


def test_too_few_forecasts_after_a_gap_to_prewhiten_give_no_result_yet(demo_champion) -> None:
    # The ETS forecasts are persistent (an AR filter of order 1 or more): after a gap, the
    # first innovation needs more consecutive forecasts than the filter's order.
    model, ref, df = demo_champion
    assert len(ref.series["uk_drivers_ksi"].prediction["yhat_h1"].phi) >= 1
    served = served_h1(model, df, pd.Timestamp("1977-06-01"))
    assert prediction_drift_checks(ref, served.head(1), now=served["ds"].iloc[0]) == []
    later = prediction_drift_checks(ref, served.head(6), now=served["ds"].iloc[5])
    assert len(later) == 1 and later[0].details["checks"] >= 1
