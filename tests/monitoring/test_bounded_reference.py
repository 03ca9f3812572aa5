"""A version's reference stays small at any history length: bounded drift states and a
sketched iid profile, whose advisory checks still run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from chronoguard.forecasting import frozen_backtest, make_forecaster
from chronoguard.monitoring import build_reference, iid_drift_checks
from chronoguard.monitoring.reference import IID_SKETCH_POINTS
from chronoguard.registry import VersionReference
from tests.helpers import small_config


def daily_fleet(n_series: int, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2000-01-01", periods=days, freq="D")
    weekly = 5.0 * np.sin(2 * np.pi * np.arange(days) / 7)
    return pd.concat(
        [
            pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": 50 + weekly + rng.normal(size=days)})
            for i in range(n_series)
        ],
        ignore_index=True,
    )


def stored_per_series(days: int) -> tuple[float, VersionReference]:
    data = daily_fleet(2, days)
    cfg = small_config(
        data={"freq": "D", "season_length": 7},
        model={"name": "SeasonalNaive"},
        forecast={"horizon": 7},
        training={"initial_window": days},
    )
    model = make_forecaster("SeasonalNaive", season_length=7, freq="D").fit(data)
    ref = build_reference(
        model, data, frozen_backtest(model, data, h=7, n_windows=2), cfg, freq="D"
    )
    # As the registry writes it (mlflow.log_dict: indent=2).
    return len(json.dumps(ref.to_dict(), indent=2, default=str)) / 2, ref


def test_the_stored_reference_per_series_stops_growing_with_the_history() -> None:
    short, _ = stored_per_series(1_200)
    long, ref = stored_per_series(4_000)
    assert long < 50_000
    assert long < 1.02 * short  # past what it keeps, more history costs no bytes
    iid = ref.iid_profile
    assert iid is not None
    s = iid.numeric[iid.columns[0]]
    assert s.sketch and s.n == 4_000
    assert iid.sorted_sample(iid.columns[0]).shape == (IID_SKETCH_POINTS,)
    window = daily_fleet(2, 4_030).groupby("unique_id").tail(30)
    results = iid_drift_checks(ref, window)
    assert {r.method for r in results} == {"ks", "psi", "wasserstein_normed"}
    assert all(r.advisory for r in results)
    ks = [r for r in results if r.method == "ks"]
    assert all(0 < r.details["max_error"] <= 1 / IID_SKETCH_POINTS for r in ks)
