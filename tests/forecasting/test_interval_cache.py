"""statsforecast's interval quantiles are cached per set of levels; forecasts must not change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsforecast import utils as sf_utils

from chronoguard.forecasting import make_forecaster


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-01", periods=40, freq="D")
    return pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], 40),
            "ds": np.tile(ds, 3),
            "y": 50 + rng.normal(0, 3, 120).cumsum(),
        }
    )


def test_the_cache_wraps_statsforecast_and_returns_its_quantiles() -> None:
    cached = sf_utils._quantiles
    assert getattr(cached, "cached_by_chronoguard", False)
    for levels in ([80], [80, 95], np.array([50.0, 99.0])):
        first = cached(np.asarray(levels))
        again = cached(np.asarray(levels))
        np.testing.assert_array_equal(first, cached.original(np.asarray(levels)))
        again[:] = 0.0  # a caller that writes into the result does not poison the cache
        np.testing.assert_array_equal(cached(np.asarray(levels)), first)
    # Other distributions go to statsforecast every time.
    t5 = cached(np.asarray([95]), distribution="t", dist_params={"df": 5})
    np.testing.assert_array_equal(
        t5, cached.original(np.asarray([95]), distribution="t", dist_params={"df": 5})
    )


@pytest.mark.parametrize("model", ["SeasonalNaive", "AutoETS"])
def test_forecast_intervals_equal_those_without_the_cache(
    model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = _panel()
    fitted = make_forecaster(model, season_length=7, level=[80, 95]).fit(df)
    with_cache = fitted.predict(5, history=df)
    monkeypatch.setattr(sf_utils, "_quantiles", sf_utils._quantiles.original)
    without = fitted.predict(5, history=df)
    pd.testing.assert_frame_equal(with_cache, without)
    assert with_cache["yhat_lo_95"].lt(with_cache["yhat_lo_80"]).all()
