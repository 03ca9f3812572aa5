"""Progress of long work: each fitted series and each finished batch is reported, in order,
wherever the batches ran; the results are the same with or without a listener."""

from __future__ import annotations

import pandas as pd
import pytest

from chronoguard.compute import ProcessExecutor, ReportingExecutor, SerialExecutor
from chronoguard.forecasting import make_forecaster
from tests.compute.work import squares
from tests.helpers import seatbelts

BATCHES = [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


@pytest.mark.parametrize("kind", ["serial", "processes"])
def test_each_finished_batch_is_reported_in_order(kind: str) -> None:
    heard: list[tuple[int, int]] = []
    with SerialExecutor() if kind == "serial" else ProcessExecutor(2) as ex:
        out = ex.map(squares, BATCHES, on_done=lambda i, n: heard.append((i, n)))
    assert out == [[x * x for x in b] for b in BATCHES]
    assert heard == [(i, 5) for i in range(1, 6)]


def test_a_reporting_executor_reports_and_passes_its_callers_listener_on() -> None:
    mine: list[int] = []
    theirs: list[int] = []
    ex = ReportingExecutor(SerialExecutor(), lambda i, n: mine.append(i))
    assert ex.map(squares, BATCHES, on_done=lambda i, n: theirs.append(i)) == SerialExecutor().map(
        squares, BATCHES
    )
    assert mine == theirs == [1, 2, 3, 4, 5]


def test_fit_reports_every_series_and_fits_the_same() -> None:
    one = seatbelts()
    df = pd.concat([one.assign(unique_id=f"s{i}") for i in range(3)], ignore_index=True)
    heard: list[tuple[int, int]] = []
    model = make_forecaster("SeasonalNaive", season_length=12)
    with_bar = model.clone().fit(df, progress=lambda i, n: heard.append((i, n)))
    assert heard == [(1, 3), (2, 3), (3, 3)]
    pd.testing.assert_frame_equal(with_bar.predict(6), model.fit(df).predict(6))


def test_training_reports_its_fits_and_profiles(tmp_path: object) -> None:
    from pathlib import Path

    from chronoguard.lifecycle import init_workspace, train_version
    from tests.helpers import small_config

    heard: list[tuple[str, int, int]] = []
    with init_workspace(Path(str(tmp_path)) / "ws", small_config()) as ws:
        train_version(
            seatbelts(until="1980-12-01"),
            ws.config,
            ws.registry,
            freq="MS",
            now=pd.Timestamp("1980-12-01"),
            trigger="test",
            progress=lambda stage, i, n: heard.append((stage, i, n)),
        )
    assert heard[0] == ("fitting", 1, 1)
    assert ("profiling", 1, 1) in heard
