"""A gap in the data does not silence the drift check for the rest of the run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from chronoguard.config import MonitoringConfig
from chronoguard.drift import fit_reference_state
from chronoguard.monitoring import data_drift_checks
from chronoguard.monitoring.reference import drift_settings
from chronoguard.registry import (
    BacktestReference,
    ErrorReference,
    SeriesReference,
    VersionReference,
)


def test_the_data_drift_check_runs_through_a_gap_and_finds_a_later_shift() -> None:
    rng = np.random.default_rng(0)
    n, after = 96, 36
    ds = pd.date_range("2000-01-01", periods=n + after, freq="MS")
    y = 100 + 10 * np.sin(2 * np.pi * np.arange(n + after) / 12) + rng.normal(0, 2, n + after)
    y[n + 20 :] -= 12  # a level shift of 6 noise sds, 20 months after the reference
    settings = drift_settings("MS", 12, MonitoringConfig())
    state = fit_reference_state(y[:n], ds=ds[:n], freq="MS", **settings)
    series = SeriesReference(
        n_train=n,
        train_end=ds[n - 1],
        mase_scale=1.0,
        backtest=BacktestReference(horizons=(1,), mae=(1.0,), mase=(1.0,), n=(1,)),
        one_step=ErrorReference(n=12, mean=0.0, sd=2.0, mae=1.6),
        drift={"y": state},
    )
    reference = VersionReference(season_length=12, freq="MS", features=("y",), series={"a": series})
    rows = pd.DataFrame({"unique_id": "a", "ds": ds[n:], "y": y[n:]})
    rows = rows.drop(index=rows.index[5:8])  # three months never arrive
    seen = []
    for end in range(10, len(rows) + 1):
        (r,) = data_drift_checks(reference, rows.iloc[:end])
        seen.append((rows["ds"].iloc[end - 1], r.drift))
        if end == 10:  # the gap is inside the check's window, and said so
            assert any("missing" in note for note in r.notes), r.notes
    before = [d for t, d in seen if t < ds[n + 20]]
    later = [d for t, d in seen if t >= ds[n + 23]]
    assert not any(before)
    assert later and all(later)


def test_quality_names_the_series_with_a_gap_and_only_it() -> None:
    from chronoguard.monitoring import quality_checks

    ds = pd.date_range("2020-01-01", periods=6, freq="MS")
    window = pd.concat(
        [
            pd.DataFrame({"unique_id": "a", "ds": ds, "y": 1.0}),
            pd.DataFrame({"unique_id": "b", "ds": ds.delete(2), "y": 2.0}),
            pd.DataFrame({"unique_id": "c", "ds": ds[:4], "y": 3.0}),
        ],
        ignore_index=True,
    )
    got = {
        (r.unique_id, r.method): r
        for r in quality_checks(window, now=ds[-1], freq="MS", features=["y"])
    }
    assert not got[("a", "contract")].drift and not got[("c", "contract")].drift
    assert got[("b", "contract")].drift and "gaps" in got[("b", "contract")].details["problems"]
    assert [got[(u, "staleness")].statistic for u in "abc"] == [0.0, 0.0, 2.0]
    clean = quality_checks(
        window[window["unique_id"] != "b"], now=ds[-1], freq="MS", features=["y"]
    )
    assert not any(r.drift for r in clean if r.method == "contract")
