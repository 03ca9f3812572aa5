"""The README's half-hourly walk-through ("Using it on your data"), run as a new user would
run it: its shell block, whole, in an empty folder, with the installed `chronoguard`.

Victoria's demand every 30 minutes with its temperature, timestamps in UTC with a `Z`:
`init --data` infers the frequency and the daily and weekly seasons and proposes MSTL; an
ARIMA on temperature and Fourier terms is trained by the first cycle, which serves a day
ahead from the temperatures of `--future`; a day later `schedule` runs a cycle per
half-hour, each serving a day ahead. What the block printed and what the workspace holds
are checked against each other and against what the README says the block shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.data import load_dataset
from chronoguard.lifecycle import open_workspace
from tests.readme_blocks import readme_block, run_block

FIRST = pd.Timestamp("2014-02-19 23:30")
DAY = pd.date_range("2014-02-20 00:00", periods=48, freq="30min")


@pytest.mark.slow
def test_the_readme_half_hourly_walkthrough(tmp_path: Path) -> None:
    script = readme_block("tests/test_readme_half_hourly.py")
    done = run_block(script, tmp_path, port=())
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, (out[-4000:], err[-4000:])
    # The timestamps were written with a Z: UTC, as the contract keeps them.
    assert pd.read_csv(tmp_path / "demand.csv")["ds"].iloc[0] == "2014-01-01T00:00:00Z"

    # init --data: 30-minute data, a day and a week of seasons, MSTL.
    assert "inferred from demand.csv: freq 30min, seasons [48, 336] → model MSTL, horizon 48" in out
    plain = (tmp_path / "plain" / "chronoguard.toml").read_text()
    assert re.search(r'^name = "MSTL"', plain, re.M)

    # The first cycle trained the ARIMA and served the 48 half-hours of 20 February from
    # the temperatures of weather.csv; forecast wrote the same.
    assert f"cycle demand at {FIRST}: 1 series; no check due" in out
    assert "48 forecasts served" in out and "note:" not in err
    nxt = pd.read_csv(tmp_path / "next-day.csv", parse_dates=["ds"])
    assert list(nxt["ds"]) == list(DAY) and nxt["yhat"].notna().all()

    log = (tmp_path / "cycles.log").read_text().splitlines()
    times = [pd.Timestamp(re.match(r"cycle demand at (.+?): ", x).group(1)) for x in log]  # type: ignore[union-attr]
    assert times == list(DAY)
    assert all(x.endswith("; 48 forecasts served") and "checked" in x for x in log)

    with open_workspace(tmp_path / "ws") as ws:
        m = ws.model_name
        (version,) = ws.registry.list_versions(m)
        forecasts = ws.store.get_forecasts()
        actuals = ws.store.get_actuals()
        cycles = ws.store.list_cycles(m)
        decisions = ws.store.list_series_decisions(m)
    assert version.lineage.forecaster == "AutoARIMA"
    assert [pd.Timestamp(c.now) for c in cycles] == [FIRST, *DAY]
    first = forecasts[forecasts["origin"] == FIRST].sort_values("ds")
    assert list(first["ds"]) == list(DAY)
    assert first["yhat"].to_numpy() == pytest.approx(nxt["yhat"].to_numpy(), rel=1e-9)
    # Every cycle of the day served a full day ahead, its last inputs from weather-2.csv.
    per_origin = forecasts[forecasts["alias"] == "champion"].groupby("origin").size()
    assert (per_origin == 48).all() and len(per_origin) == 49
    last = forecasts[forecasts["origin"] == DAY[-1]]
    assert last["ds"].max() == pd.Timestamp("2014-02-21 23:30")
    # The actuals recorded are the dataset's, in UTC.
    truth = load_dataset("vic_elec").set_index("ds")["y"]
    got = actuals.set_index("ds")["y"]
    assert got.index.max() == DAY[-1]
    assert got.to_numpy() == pytest.approx(truth.loc[got.index].to_numpy())
    # The decisions of the day: kept, each with why.
    assert "decisions (49, newest 3)" in out
    assert len([d for d in decisions if d.action == "keep"]) == 48
    assert (tmp_path / "report.html").stat().st_size > 10_000
