from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.data import DATASETS, find_problems, load_dataset, load_frame, validate_frame
from chronoguard.errors import DataContractError


def frame(n: int = 24, uid: str = "a", freq: str = "MS") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": uid,
            "ds": pd.date_range("2020-01-01", periods=n, freq=freq),
            "y": np.arange(n, dtype=float),
        }
    )


def test_valid_frame_passes_and_infers_frequency() -> None:
    df = pd.concat([frame(uid="a"), frame(uid="b")], ignore_index=True)
    v = validate_frame(df)
    assert v.freq == "MS"
    assert v.series_ids == ("a", "b")
    assert len(v.df) == len(df)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_bundled_datasets_pass_the_contract(name: str) -> None:
    v = validate_frame(load_dataset(name))
    assert v.n_series == (304 if name == "tourism" else 1)  # tourism is a panel
    assert len(v.df) > 50


def test_every_problem_is_named_at_once() -> None:
    df = frame(12)
    df.loc[3, "y"] = np.nan
    df.loc[5, "y"] = np.inf
    df = pd.concat([df, df.iloc[[7]]], ignore_index=True)  # a duplicate timestamp
    with pytest.raises(DataContractError) as info:
        validate_frame(df, source="x.csv")
    text = str(info.value)
    assert "NaN at rows 3" in text
    assert "infinite at rows 5" in text
    assert "duplicate timestamps" in text and "rows 12" in text
    assert "x.csv" in text
    assert "not sorted" in text  # the appended duplicate is also out of order
    assert len(info.value.problems) == 4


def test_missing_columns() -> None:
    with pytest.raises(DataContractError, match=r"missing column\(s\) \['y'\]"):
        validate_frame(frame().drop(columns="y"))


def test_unsorted_timestamps_are_reported_not_repaired() -> None:
    df = frame(12).iloc[::-1].reset_index(drop=True)
    problems, _ = find_problems(df)
    assert any("not sorted" in p for p in problems)


def test_gaps_are_listed_with_the_missing_periods() -> None:
    df = frame(24).drop(index=[5, 6]).reset_index(drop=True)
    with pytest.raises(DataContractError, match=r"gaps in series .*2 missing, first \['2020-06-01"):
        validate_frame(df, freq="MS")


def test_irregular_frequency_without_freq() -> None:
    df = frame(24).drop(index=[5]).reset_index(drop=True)
    with pytest.raises(DataContractError, match="irregular or unknown frequency"):
        validate_frame(df)


def test_wrong_dtypes() -> None:
    df = frame(6)
    df["y"] = df["y"].astype(str) + " units"
    df["ds"] = ["not a date"] * 6
    with pytest.raises(DataContractError, match="column ds has dtype"):
        validate_frame(df)


def test_text_target() -> None:
    df = frame(6)
    df["y"] = df["y"].astype(str) + " units"
    with pytest.raises(DataContractError, match="column y has dtype object"):
        validate_frame(df)


def test_future_timestamps_against_injected_clock() -> None:
    with pytest.raises(DataContractError, match="after the current time"):
        validate_frame(frame(12), now=pd.Timestamp("2020-06-15"))


def test_load_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    df = frame(12)
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        got = load_frame(tmp_path / name)
        pd.testing.assert_frame_equal(validate_frame(got).df, validate_frame(df).df)


def test_load_unknown_file_type_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataContractError, match="unsupported file type"):
        load_frame(tmp_path / "d.xlsx")
    with pytest.raises(DataContractError, match="file not found"):
        load_frame(tmp_path / "nope.csv")


def test_validation_does_not_modify_the_input() -> None:
    df = frame(12)
    before = df.copy()
    validate_frame(df)
    pd.testing.assert_frame_equal(df, before)
