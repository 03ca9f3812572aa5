"""Shared data and model settings for the forecasting tests.

Real data: the UK Seatbelts series (monthly, 1969-1984, 192 points). Models use small search
spaces so the whole folder stays fast; the contract does not depend on the search size.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

SEATBELTS = Path("/work/shared/datasets/seatbelts.csv")

# Constructor parameters per model name for the contract tests (monthly data).
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "AutoARIMA": {"season_length": 12, "max_p": 1, "max_q": 1, "max_P": 1, "max_Q": 1},
    "AutoETS": {"season_length": 12},
    "MSTL": {"season_length": 12},
    "Naive": {"season_length": 12},
    "SARIMAX": {"season_length": 12},
    "SeasonalNaive": {"season_length": 12},
}


def _load_seatbelts() -> pd.DataFrame:
    """The seatbelts frame with ``y`` and its exogenous columns as floats."""
    df = pd.read_csv(SEATBELTS, parse_dates=["ds"])
    value_columns = [c for c in df.columns if c not in ("unique_id", "ds")]
    df[value_columns] = df[value_columns].astype(float)
    return df


@pytest.fixture(scope="session")
def seatbelts() -> pd.DataFrame:
    """One series: UK car drivers killed or seriously injured, with exogenous columns."""
    return _load_seatbelts()


@pytest.fixture(scope="session")
def two_series() -> pd.DataFrame:
    """Two monthly series from the seatbelts data (drivers KSI and front passengers KSI)."""
    df = _load_seatbelts()
    drivers = df[["unique_id", "ds", "y"]]
    front = pd.DataFrame({"unique_id": "front_ksi", "ds": df["ds"], "y": df["front"]})
    return pd.concat([front, drivers], ignore_index=True)


def _synthetic_exog(n: int = 72, seed: int = 0) -> pd.DataFrame:
    """Two monthly series: a level, an exogenous effect and AR(1) noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for uid, effect in (("a", 5.0), ("b", -3.0)):
        x = rng.normal(0.0, 1.0, n)
        noise = np.zeros(n)
        for t in range(1, n):
            noise[t] = 0.5 * noise[t - 1] + rng.normal(0.0, 0.3)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                    "y": 50.0 + effect * x + noise,
                    "x": x,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _split_last(df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    position = df.groupby("unique_id").cumcount(ascending=False)
    return df[position >= h].reset_index(drop=True), df[position < h].reset_index(drop=True)


@pytest.fixture(scope="session")
def exog_frame() -> pd.DataFrame:
    """Two synthetic series (72 months) driven by an exogenous column ``x``."""
    return _synthetic_exog()


@pytest.fixture(scope="session")
def split_last() -> Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]:
    """A function splitting a frame into train and the last ``h`` rows of each series."""
    return _split_last


@pytest.fixture(scope="session")
def fast_params() -> dict[str, dict[str, Any]]:
    """Constructor parameters per model name for monthly data, with small search spaces."""
    return {name: dict(params) for name, params in FAST_PARAMS.items()}
