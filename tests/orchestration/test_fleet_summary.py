"""The fleet part of a replay: its peers are fitted on the replay's own origins.

A budget too small for any retrain leaves the loop with its first version only, which is
``never`` exactly: the same fit on the same data, run forward with frozen parameters over the
same origins. So the loop and ``never`` must score the same, fit for fit.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from chronoguard.cli import FLEET_DEMO_CONFIG
from chronoguard.config import ChronoguardConfig, parse_config
from chronoguard.data import ValidatedFrame, load_dataset, validate_frame
from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import init_workspace
from chronoguard.orchestration import replay


def canberra(quarters: int, budget: float) -> tuple[ChronoguardConfig, ValidatedFrame]:
    raw = copy.deepcopy(FLEET_DEMO_CONFIG)
    raw["training"]["initial_window"] = 80 - quarters
    raw["budget"]["cpu_seconds_per_cycle"] = budget
    frame = load_dataset("tourism")
    frame = frame[frame["unique_id"].str.startswith("Canberra/")]
    return parse_config(raw), validate_frame(frame, freq="QS")


@pytest.mark.slow
def test_a_loop_that_never_retrains_scores_as_never(tmp_path: Path) -> None:
    cfg, checked = canberra(8, 1e-9)  # no fit costs less: every candidate is over budget
    with init_workspace(tmp_path / "ws", cfg) as ws:
        s = replay(checked, ws, source="canberra", peers=True)
    f = s["fleet"]
    loop, never = f["policies"]["chronoguard"], f["policies"]["never"]
    assert loop["refits"] == never["refits"] == 4
    assert loop["mase"] == pytest.approx(never["mase"], rel=1e-9)
    for c in f["budget_per_cycle"][1:]:
        assert c["retrained"] == 0 and c["cpu_charged"] == 0
        assert c["over_budget"] == c["candidates"]
    over = [d for d in f["decisions"] if d["action"] == "over_budget"]
    assert all("over budget at rank" in d["reason"] for d in over)
    assert f["cycles_over_budget"] == sum(c["over_budget"] > 0 for c in f["budget_per_cycle"])


def test_peers_need_every_series_over_the_whole_replay(tmp_path: Path) -> None:
    cfg, checked = canberra(8, 0.3)
    df = checked.df
    short = df[~((df["unique_id"] == "Canberra/ACT/Other") & (df["ds"] > "2016-01-01"))]
    with (
        init_workspace(tmp_path / "ws", cfg) as ws,
        pytest.raises(ChronoguardError, match=r"1 do not: Canberra/ACT/Other"),
    ):
        replay(validate_frame(short, freq="QS"), ws, source="short", peers=True)
