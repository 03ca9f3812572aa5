"""Timestamps read honestly: offsets to tz-naive UTC, day-first dates told apart or refused."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.data import find_problems, load_frame, validate_frame
from chronoguard.errors import DataContractError


@pytest.fixture(autouse=True)
def _no_warnings() -> Iterator[None]:
    # No pandas warning (FutureWarning on mixed offsets, format inference) may leak.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def csv(tmp_path: Path, stamps: list[str], name: str = "d.csv") -> Path:
    path = tmp_path / name
    rows = "".join(f"a,{ts},{i}\n" for i, ts in enumerate(stamps))
    path.write_text("unique_id,ds,y\n" + rows)
    return path


def naive(*stamps: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(s) for s in stamps]


def test_z_timestamps_are_utc_and_stay_naive(tmp_path: Path) -> None:
    days = [f"2020-01-0{d}T00:00:00Z" for d in range(1, 6)]
    df = load_frame(csv(tmp_path, days))
    assert str(df["ds"].dtype) == "datetime64[ns]"  # tz-naive, in UTC
    # the injected clock is naive: comparing with it used to raise a TypeError
    v = validate_frame(df, now=pd.Timestamp("2021-01-01"))
    assert v.freq == "D"
    assert list(v.df["ds"][:2]) == naive("2020-01-01", "2020-01-02")


def test_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    stamps = [f"2020-01-0{d}T00:00:00+11:00" for d in range(1, 6)]
    v = validate_frame(load_frame(csv(tmp_path, stamps)), now=pd.Timestamp("2021-01-01"))
    assert v.freq == "D"
    assert v.df["ds"].iloc[0] == pd.Timestamp("2019-12-31 13:00")


def test_mixed_offsets_across_a_dst_change_make_one_utc_grid(tmp_path: Path) -> None:
    # Europe/Berlin, 28 March 2021: 02:00 CET becomes 03:00 CEST; hourly readings.
    stamps = [
        "2021-03-28T00:00:00+01:00",
        "2021-03-28T01:00:00+01:00",
        "2021-03-28T03:00:00+02:00",
        "2021-03-28T04:00:00+02:00",
        "2021-03-28T05:00:00+02:00",
    ]
    v = validate_frame(load_frame(csv(tmp_path, stamps)))
    assert v.freq == "h"
    assert list(v.df["ds"]) == list(pd.date_range("2021-03-27 23:00", periods=5, freq="h"))


def test_tz_aware_frame_is_validated_as_naive_utc() -> None:
    ds = pd.date_range("2020-01-01", periods=6, freq="D", tz="Australia/Sydney")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": 1.0})
    v = validate_frame(df, now=pd.Timestamp("2021-01-01", tz="UTC"))
    assert str(v.df["ds"].dtype) == "datetime64[ns]"
    assert v.df["ds"].iloc[0] == pd.Timestamp("2019-12-31 13:00")
    assert isinstance(df["ds"].dtype, pd.DatetimeTZDtype)  # the input is not modified
    assert find_problems(df, now=pd.Timestamp("2020-01-03"))[0]  # future rows, no TypeError


@pytest.mark.parametrize("sep", ["/", "."])
def test_day_first_dates_are_read_day_first_when_a_day_proves_it(tmp_path: Path, sep: str) -> None:
    # 10/01 .. 14/01: read month-first, the first three would be October, November, December.
    stamps = [f"{d}{sep}01{sep}2020" for d in range(10, 15)]
    v = validate_frame(load_frame(csv(tmp_path, stamps)))
    assert v.freq == "D"
    assert list(v.df["ds"]) == list(pd.date_range("2020-01-10", periods=5, freq="D"))


def test_month_first_dates_are_read_month_first_when_a_day_proves_it(tmp_path: Path) -> None:
    stamps = [f"01/{d}/2020" for d in range(10, 15)]
    v = validate_frame(load_frame(csv(tmp_path, stamps)))
    assert list(v.df["ds"]) == list(pd.date_range("2020-01-10", periods=5, freq="D"))


def test_ambiguous_day_first_dates_are_refused_with_the_fix(tmp_path: Path) -> None:
    stamps = [f"01/{m:02d}/2020" for m in range(1, 7)]  # 1 Jan..1 Jun, or 1..6 Jan?
    df = load_frame(csv(tmp_path, stamps))
    assert df["ds"].tolist() == stamps  # not silently read either way
    with pytest.raises(DataContractError) as info:
        validate_frame(df, source="d.csv")
    (problem,) = info.value.problems
    assert "column ds" in problem
    assert "'01/02/2020'" in problem and "row 1" in problem
    assert "YYYY-MM-DD" in problem and "ISO 8601" in problem
    # the same answer for a frame that never went through load_frame
    raw = pd.DataFrame({"unique_id": "a", "ds": stamps, "y": 1.0})
    assert find_problems(raw)[0] == [problem]


def test_day_first_and_month_first_in_one_column_are_refused(tmp_path: Path) -> None:
    df = load_frame(csv(tmp_path, ["13/01/2020", "01/14/2020", "01/15/2020"]))
    with pytest.raises(DataContractError, match=r"mixes day-first and month-first.*YYYY-MM-DD"):
        validate_frame(df)


def test_offsets_mixed_with_naive_timestamps_are_refused(tmp_path: Path) -> None:
    df = load_frame(csv(tmp_path, ["2020-01-01 00:00", "2020-01-02T00:00:00Z"]))
    with pytest.raises(DataContractError, match=r"mixes timestamps with a UTC offset.*row 1"):
        validate_frame(df)


def test_unparseable_values_are_still_listed_by_row(tmp_path: Path) -> None:
    df = load_frame(csv(tmp_path, ["2020-01-01", "soon", "2020-01-03", "later"]))
    with pytest.raises(
        DataContractError, match=r"column ds has dtype .*rows 1, 3 cannot be parsed"
    ):
        validate_frame(df)
