"""The typed reference a version carries: exact JSON round trip, the stored format-1 layouts,
unknown formats refused, the registry's typed value; and check results stored with their
decision fields whole."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.config import MonitoringConfig
from chronoguard.drift import DriftKind, DriftResult, ReferenceState, Severity, fit_reference_state
from chronoguard.errors import ReferenceFormatError
from chronoguard.forecasting import frozen_backtest, make_forecaster
from chronoguard.lifecycle import init_workspace, train_version
from chronoguard.monitoring import (
    MonitoringReport,
    build_reference,
    data_drift_checks,
    performance_checks,
)
from chronoguard.monitoring.reference import drift_settings
from chronoguard.registry import (
    PROFILE_FORMAT,
    BacktestReference,
    ErrorReference,
    SeriesReference,
    VersionReference,
)
from chronoguard.store import Store
from tests.helpers import seatbelts, small_config
from tests.monitoring.test_checks import served_and_actuals


def stored(ref: VersionReference) -> str:
    """The text the registry writes (``mlflow.log_dict``: ``json.dump(indent=2, default=str)``)."""
    return json.dumps(ref.to_dict(), indent=2, default=str)


def reread(ref: VersionReference) -> VersionReference:
    return VersionReference.from_dict(json.loads(stored(ref)))


@pytest.fixture(scope="module")
def two_series() -> VersionReference:
    """The reference of a seasonal-naive version of two real series, one with an input."""
    one = seatbelts("1979-12-01")
    rng = np.random.default_rng(0)
    data = pd.concat(
        [one.assign(unique_id="b", y=one["y"] * 0.5 + rng.normal(0, 30, len(one))), one],
        ignore_index=True,
    ).assign(x=rng.normal(0, 1, 2 * len(one)))
    # The input is profiled for drift (the config names it); the model itself ignores it.
    cfg = small_config(model={"name": "SeasonalNaive"}, data={"exog": ["x"]})
    model = make_forecaster("SeasonalNaive", season_length=12, freq="MS").fit(data)
    bt = frozen_backtest(model, data, h=6, n_windows=2, step=6)
    return build_reference(model, data, bt, cfg, freq="MS")


def state(n: int = 96) -> ReferenceState:
    ds = pd.date_range("2000-01-01", periods=n, freq="MS")
    y = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 12) + np.random.default_rng(1).normal(0, 2, n)
    return fit_reference_state(y, ds=ds, freq="MS", **drift_settings("MS", 12, MonitoringConfig()))


# --------------------------------------------------------------------------------- round trip


def test_a_built_reference_is_typed_and_its_json_round_trips_exactly(two_series) -> None:
    ref = two_series
    assert list(ref.series) == ["b", "uk_drivers_ksi"]  # in the order of the data
    assert ref.features == ("y", "x") and ref.freq == "MS" and ref.season_length == 12
    s = ref.series["uk_drivers_ksi"]
    assert s.train_end == pd.Timestamp("1979-12-01") and isinstance(s.train_end, pd.Timestamp)
    assert isinstance(s.drift["y"], ReferenceState) and set(s.drift) == {"y", "x"}
    assert isinstance(s.prediction["yhat_h1"], ReferenceState)
    assert s.one_step.n > 1 and s.one_step.sd > 0 and s.backtest.n is not None
    assert ref.iid_profile is not None
    again = reread(ref)
    assert stored(again) == stored(ref)
    assert again.series["b"].one_step == ref.series["b"].one_step
    assert again.series["b"].backtest == ref.series["b"].backtest
    assert again.series["b"].train_end == ref.series["b"].train_end


def test_nan_and_none_round_trip() -> None:
    """One one-step error leaves its sd undefined (NaN); none leaves all three NaN; a series
    without backtest rows has empty horizons; a state without calibration, a profile without
    counts, prediction reference or iid profile keep their ``None``."""
    bare = replace(state(), calibration=None)
    one = SeriesReference(
        n_train=30,
        train_end=pd.Timestamp("2002-06-01"),
        mase_scale=2.5,
        backtest=BacktestReference(horizons=(1, 2), mae=(1.0, math.nan), mase=(0.4, math.nan)),
        one_step=ErrorReference(n=1, mean=0.3, sd=math.nan, mae=0.3),
        drift={"y": bare},
    )
    none = SeriesReference(
        n_train=24,
        train_end=pd.Timestamp("2001-12-01"),
        mase_scale=1.0,
        backtest=BacktestReference(horizons=(), mae=(), mase=(), n=()),
        one_step=ErrorReference(n=0, mean=math.nan, sd=math.nan, mae=math.nan),
        drift={},
        drift_skipped={"y": "constant"},
        prediction_skipped={"yhat_h1": "constant forecasts"},
        prediction_burn_in=0,
    )
    ref = VersionReference(
        season_length=12, freq="MS", features=("y",), series={"a": one, "z": none}
    )
    again = reread(ref)
    assert stored(again) == stored(ref)
    assert "NaN" in stored(ref)
    a, z = again.series["a"], again.series["z"]
    assert math.isnan(a.one_step.sd) and a.one_step.n == 1 and a.backtest.n is None
    assert a.drift["y"].calibration is None and a.prediction == {}
    assert a.prediction_burn_in is None and again.iid_profile is None
    assert math.isnan(z.one_step.mean) and z.backtest.horizons == () and z.prediction_burn_in == 0


def test_for_series_cuts_the_series_in_the_references_order(two_series) -> None:
    cut = two_series.for_series(["uk_drivers_ksi", "b", "not-served-by-it"])
    assert list(cut.series) == ["b", "uk_drivers_ksi"]
    only = two_series.for_series(["uk_drivers_ksi"])
    assert list(only.series) == ["uk_drivers_ksi"]
    assert only.series["uk_drivers_ksi"] is two_series.series["uk_drivers_ksi"]
    assert only.iid_profile is two_series.iid_profile and only.features == two_series.features
    assert list(two_series.series) == ["b", "uk_drivers_ksi"]  # the original is unchanged


# --------------------------------------------------------------------------------- stored formats


def format_1_as_written_now(drift_state: dict) -> dict:
    """A format-1 profile in the layout the builder writes today, spelt out by hand."""
    return {
        "format": 1,
        "season_length": 12,
        "freq": "MS",
        "features": ["y"],
        "series": {
            "a": {
                "n_train": 96,
                "train_end": "2007-12-01 00:00:00",
                "mase_scale": 8.0,
                "backtest": {
                    "horizons": [1, 2],
                    "mae": [8.0, 9.0],
                    "mase": [1.0, 1.125],
                    "n": [3, 3],
                },
                "one_step": {"n": 36, "mean": 0.0, "sd": 10.0, "mae": 7.978845608028654},
                "drift": {"y": drift_state},
                "drift_skipped": {},
                "prediction": {"yhat_h1": drift_state},
                "prediction_skipped": {},
                "prediction_burn_in": 24,
            }
        },
    }


def test_a_format_1_profile_as_written_now_loads_and_writes_back_the_same() -> None:
    d = format_1_as_written_now(state().to_dict())
    ref = VersionReference.from_dict(d)
    a = ref.series["a"]
    assert a.train_end == pd.Timestamp("2007-12-01") and a.backtest.n_at(2) == 3
    assert a.prediction_burn_in == 24 and a.drift["y"] == state()
    assert json.dumps(ref.to_dict()) == json.dumps(d)  # same keys, same order, same values
    assert ref.to_dict()["format"] == PROFILE_FORMAT == 1


def test_an_older_format_1_profile_loads_with_what_it_did_not_record() -> None:
    """Profiles written before the error counts, the prediction reference and the iid profile
    existed load; the checks treat the missing parts as before: the spread as known (normal
    and χ² instead of t and F), no prediction-drift check, no iid tests."""
    d = format_1_as_written_now(state().to_dict())
    s = d["series"]["a"]
    del s["backtest"]["n"], s["one_step"]["n"], s["drift_skipped"]
    del s["prediction"], s["prediction_skipped"], s["prediction_burn_in"]
    old = VersionReference.from_dict(d)
    a = old.series["a"]
    assert a.one_step.n == 0 and a.backtest.n is None and a.backtest.n_at(1) == 0
    assert a.prediction == {} and a.prediction_burn_in is None and old.iid_profile is None
    served, actuals = served_and_actuals(np.array([3.0, -5.0, 12.0, 4.0, -2.0, 25.0]))
    got = {
        r.method: r for r in performance_checks(old, served, actuals, monitoring=MonitoringConfig())
    }
    assert got["bias_z"].details["n"] == 6
    assert got["mase_ratio_chi2"].details["sd_df"] is None  # the known-spread tests
    assert stored(VersionReference.from_dict(json.loads(stored(old)))) == stored(old)


def test_a_format_1_state_inside_still_loads() -> None:
    """Drift states of the drift package's format 1 load (their threshold is recalibrated on
    first use by the drift package)."""
    s1 = {**state().to_dict(), "format": 1}
    ref = VersionReference.from_dict(format_1_as_written_now(s1))
    assert ref.series["a"].drift["y"].calibration is None
    rows = pd.DataFrame(
        {"unique_id": "a", "ds": pd.date_range("2008-01-01", periods=6, freq="MS"), "y": 100.0}
    )
    (r,) = data_drift_checks(ref, rows)
    assert r.method == "cusum_prewhitened"


@pytest.mark.parametrize(
    ("found", "fix"),
    [
        (2, "upgrade chronoguard"),
        (99, "upgrade chronoguard"),
        (0, "re-train"),
        (None, "re-train"),
        ("1", "re-train"),
        (True, "re-train"),
    ],
)
def test_an_unknown_format_is_refused_naming_it_and_the_fix(found: object, fix: str) -> None:
    d = {**format_1_as_written_now(state().to_dict()), "format": found}
    with pytest.raises(ReferenceFormatError, match=rf"format {found!r} .*{fix}"):
        VersionReference.from_dict(d)


def test_a_corrupt_profile_is_refused_with_the_fix() -> None:
    d = format_1_as_written_now(state().to_dict())
    del d["series"]["a"]["mase_scale"]
    with pytest.raises(ReferenceFormatError, match=r"incomplete or corrupt.*re-train"):
        VersionReference.from_dict(d)
    d = format_1_as_written_now({**state().to_dict(), "format": 7})
    with pytest.raises(ReferenceFormatError, match=r"series 'a'.*drift state of 'y'.*format 7"):
        VersionReference.from_dict(d)


# --------------------------------------------------------------------------------- registry


def test_the_registry_returns_the_typed_reference_of_a_trained_version(tmp_path: Path) -> None:
    cfg = small_config(model={"name": "SeasonalNaive"})
    data = seatbelts("1979-12-01")
    with init_workspace(tmp_path / "ws", cfg) as ws:
        trained = train_version(
            data, cfg, ws.registry, freq="MS", now=pd.Timestamp("1979-12-01"), trigger="initial"
        )
        loaded = ws.registry.load(ws.model_name, trained.version.version)
        assert isinstance(loaded.reference, VersionReference)
        assert stored(loaded.reference) == stored(trained.reference)
        assert "reference_profile" not in loaded.artifacts  # parsed once, kept typed only
        assert loaded.artifacts["lineage"]["trigger"] == "initial"
        assert loaded.reference.series["uk_drivers_ksi"].train_end == pd.Timestamp("1979-12-01")

        # A reference in a format this chronoguard does not read: the version and the fix.
        run = trained.version.run_id
        (path,) = (tmp_path / "ws" / "mlartifacts").glob(
            f"*{run}*/artifacts/reference_profile.json"
        )
        path.write_text(json.dumps({**trained.reference.to_dict(), "format": 2}))
        # As a newer chronoguard would have logged it: its digest recorded with it (without
        # that, the load refuses the edited file before reading it; tests/registry).
        ws.registry._record_digest(ws.model_name, "1", run)
        with pytest.raises(
            ReferenceFormatError, match=r"version 1 of 'test-model': .*format 2.*upgrade"
        ):
            ws.registry.load(ws.model_name, "1")


# --------------------------------------------------------------------------------- stored results


def test_a_stored_check_result_round_trips_its_decision_fields(store_url: str) -> None:
    notes = ("2 missing periods; the check skips them", "the budget is spent")
    results = [
        DriftResult(
            "cusum_prewhitened",
            7.8,
            0.004,
            0.01,
            True,
            threshold_on="p_value",
            unique_id="a",
            kind=DriftKind.DATA,
            severity=Severity.WARNING,
            details={"notes": list(notes), "first_alarm_ds": "1983-02-01", "checks": 4},
            q_value=0.012,
            alert=False,
            notes=notes,
        ),
        DriftResult(
            "ks", 0.9, 1e-6, 0.05, True, threshold_on="p_value", unique_id="a", advisory=True
        ),
        DriftResult("staleness", 0.0, None, 1.0, False, unique_id="b", kind=DriftKind.QUALITY),
        # A window test's notes are in its details only: kept beside the (empty) field.
        DriftResult(
            "prewhitened_window", 1.2, 0.3, 0.05, False, details={"notes": ["short window"]}
        ),
    ]
    report = MonitoringReport(now=pd.Timestamp("1983-02-01"), version="3", results=results)
    with Store.open(store_url) as store:
        store.record_monitoring_results("run-1", pd.Timestamp("1983-02-01"), report.records())
        rows = store.get_monitoring_results(run_id="run-1")
    assert list(rows["method"]) == [r.method for r in results]
    for r, d in zip(results, rows["details"], strict=True):
        assert isinstance(d["advisory"], bool) and isinstance(d["notes"], list)
        assert (d["advisory"], d["q_value"], d["alert"], tuple(d["notes"])) == (
            r.advisory,
            r.q_value,
            r.alert,
            r.notes,
        )
        assert d["threshold_on"] == r.threshold_on
    cusum, ks, stale, window = rows["details"]
    assert cusum["notes"] == list(notes) and cusum["checks"] == 4 and "detail_notes" not in cusum
    assert (cusum["advisory"], cusum["q_value"], cusum["alert"]) == (False, 0.012, False)
    assert ks["advisory"] is True and ks["q_value"] is None
    assert stale["q_value"] is None and stale["alert"] is None and stale["notes"] == []
    assert window["notes"] == [] and window["detail_notes"] == ["short window"]
