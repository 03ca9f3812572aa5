from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from chronoguard import __version__
from chronoguard.errors import RegistryError, UnknownVersionError
from chronoguard.forecasting import make_forecaster
from chronoguard.registry import (
    BacktestReference,
    ErrorReference,
    Lineage,
    ModelRegistry,
    SeriesReference,
    VersionReference,
    fingerprint_frame,
)
from tests.helpers import seatbelts

REFERENCE = VersionReference(
    season_length=12,
    freq="MS",
    features=("y",),
    series={
        "uk_drivers_ksi": SeriesReference(
            n_train=96,
            train_end=pd.Timestamp("1976-12-01"),
            mase_scale=150.0,
            backtest=BacktestReference(horizons=(1,), mae=(90.0,), mase=(0.6,), n=(2,)),
            one_step=ErrorReference(n=36, mean=-2.0, sd=120.0, mae=95.0),
            drift={},
        )
    },
)


def lineage(df: pd.DataFrame, parent: str | None, trigger: str) -> Lineage:
    return Lineage(
        model_name="m",
        forecaster="SeasonalNaive",
        train_start=str(df["ds"].min()),
        train_end=str(df["ds"].max()),
        n_series=1,
        n_rows=len(df),
        data_fingerprint=fingerprint_frame(df),
        chronoguard_version=__version__,
        parent_version=parent,
        trigger=trigger,
        trained_at=str(df["ds"].max()),
    )


def test_round_trip_versions_aliases_lineage(tmp_path: Path) -> None:
    reg = ModelRegistry.for_workspace(tmp_path)
    a, b = seatbelts("1976-12-01"), seatbelts("1979-12-01")
    fa = make_forecaster("SeasonalNaive", season_length=12, freq="MS").fit(a)
    fb = make_forecaster("SeasonalNaive", season_length=12, freq="MS").fit(b)
    v1 = reg.log_version(
        "m",
        fa,
        lineage=lineage(a, None, "initial"),
        params={"h": 12},
        metrics={"backtest_mase": 0.9},
        reference=REFERENCE,
        artifacts={"notes": {"k": [1, 2]}},
    )
    v2 = reg.log_version(
        "m", fb, lineage=lineage(b, "1", "drift"), params={"h": 12}, metrics={"backtest_mase": 0.8}
    )
    assert (v1.version, v2.version) == ("1", "2")
    reg.set_alias("m", "champion", "2")
    reg.set_alias("m", "challenger", "1")
    assert reg.resolve("m", "champion") == "2"
    got = reg.get_version("m", "2")
    assert got.lineage.parent_version == "1" and got.lineage.trigger == "drift"
    assert got.lineage.data_fingerprint == fingerprint_frame(b)
    assert got.lineage.train_end.startswith("1979-12-01")
    assert got.metrics["backtest_mase"] == pytest.approx(0.8)
    assert "champion" in got.aliases
    # any version or alias loads for inference, and forecasts like the object that was logged
    one = reg.load("m", "1")
    champ = reg.load("m", "champion")
    pd.testing.assert_frame_equal(one.forecaster.predict(12), fa.predict(12))
    pd.testing.assert_frame_equal(champ.forecaster.predict(12), fb.predict(12))
    assert one.reference == REFERENCE  # typed, parsed at load
    assert one.artifacts == {"notes": {"k": [1, 2]}}  # other JSON artifacts as they were
    with pytest.raises(RegistryError, match="version 2 of 'm' carries no reference profile"):
        _ = champ.reference
    assert [(v.version, v.aliases) for v in reg.list_versions("m")] == [
        ("1", ("challenger",)),
        ("2", ("champion",)),
    ]
    # a new registry object on the same workspace sees the same state
    assert ModelRegistry.for_workspace(tmp_path).resolve("m", "challenger") == "1"


def test_unknown_version_and_alias_name_the_problem(tmp_path: Path) -> None:
    reg = ModelRegistry.for_workspace(tmp_path)
    with pytest.raises(UnknownVersionError, match="no version 7"):
        reg.get_version("m", "7")
    df = seatbelts("1976-12-01")
    f = make_forecaster("SeasonalNaive", season_length=12, freq="MS").fit(df)
    reg.log_version("m", f, lineage=lineage(df, None, "initial"), params={}, metrics={})
    with pytest.raises(UnknownVersionError, match=r"no version 7; known versions: 1"):
        reg.load("m", "7")
    with pytest.raises(UnknownVersionError, match="no alias 'champion'"):
        reg.load("m", "champion")
    with pytest.raises(UnknownVersionError):
        reg.set_alias("m", "champion", "9")


def test_fingerprint_changes_with_any_value() -> None:
    df = seatbelts("1976-12-01")
    other = df.copy()
    other.loc[10, "y"] += 1
    assert fingerprint_frame(df) != fingerprint_frame(other)
    assert fingerprint_frame(df) == fingerprint_frame(df.copy().reset_index(drop=True))


def test_logged_model_is_small(tmp_path: Path) -> None:
    df = seatbelts()
    f = make_forecaster("AutoETS", season_length=12, freq="MS").fit(df)
    assert len(pickle.dumps(f)) < 200_000
