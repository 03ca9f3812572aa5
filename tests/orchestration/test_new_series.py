"""A series that starts late waits for enough history, then gets its own first model in the
cycle that can train it, and is served from then on; nothing aborts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chronoguard.lifecycle import init_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.lifecycle.train import training_minimum
from chronoguard.orchestration import run_cycle
from tests.orchestration.test_cycle import config, fleet, timeline

LATE_POINTS_AT_START = 20


def test_a_late_series_waits_then_gets_a_first_model(tmp_path: Path) -> None:
    df = fleet()
    tl = timeline(df)
    start = tl[131]
    late = df[df["unique_id"] == "west"].copy()
    late = late[late["ds"] > start - pd.DateOffset(months=LATE_POINTS_AT_START)]
    late["unique_id"] = "east"
    data = pd.concat([df[df["unique_id"] == "north"], late], ignore_index=True)
    cfg = config()
    needed = training_minimum(cfg)  # type: ignore[arg-type]
    assert needed > LATE_POINTS_AT_START
    first_model_at = start + pd.DateOffset(months=needed - LATE_POINTS_AT_START)
    with init_workspace(tmp_path / "ws", cfg) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in tl[131 : 131 + needed - LATE_POINTS_AT_START + 2]:
            out = run_cycle(ws, data, freq="MS", now=now, cache=cache)
            on = ws.store.get_deployment(ws.model_name).version_of("east")
            assert (on is not None) == (now >= first_model_at), (now, on)
            assert out.n_series == (2 if now >= first_model_at else 1)
        decisions = ws.store.list_series_decisions(ws.model_name, unique_id="east")
        served = ws.store.get_forecasts(unique_id="east")
    waits = [d for d in decisions if d.action == "wait"]
    assert [pd.Timestamp(d.ds) for d in waits] == [t for t in tl[131:] if t < first_model_at]
    assert f"{LATE_POINTS_AT_START} of the {needed} periods" in waits[0].reason
    (first,) = [d for d in decisions if d.action == "retrain"]
    assert pd.Timestamp(first.ds) == first_model_at
    assert first.trigger == "new_series" and first.outcome == "promoted"
    assert first.champion_version is None and first.challenger_version is not None
    assert pd.Timestamp(served["origin"].min()) == first_model_at


def test_a_first_cycle_without_any_series_long_enough_says_what_it_needs(
    tmp_path: Path,
) -> None:
    import pytest

    from chronoguard.errors import ChronoguardError

    df = fleet()
    start = timeline(df)[131]
    short = df[(df["unique_id"] == "west") & (df["ds"] > start - pd.DateOffset(months=10))]
    with init_workspace(tmp_path / "ws", config()) as ws:  # type: ignore[arg-type]
        with pytest.raises(ChronoguardError, match="the longest has 10"):
            run_cycle(ws, short.reset_index(drop=True), freq="MS", now=start)
        assert ws.store.get_deployment(ws.model_name).versions == {}
        assert ws.registry.list_versions(ws.model_name) == []
        assert ws.store.list_cycles(ws.model_name) == []  # nothing half-written
