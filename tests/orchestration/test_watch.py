"""The watch: each promotion is judged on data neither version had seen, against the version
it replaced, by a sequential comparison looked at every cycle: rolled back as soon as the
challenger is worse, confirmed as soon as it is better, standing when the watch runs out.

Two monthly series (real seat-belt data, one of them shocked by -30 % at a known month) are
replayed cycle by cycle with watches of at most 6 periods that decide from 6 targets on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.lifecycle.watch import (
    ROLLBACK_REASON,
    SHADOW,
    close_and_roll_back,
    review_watches,
    watch_test,
)
from chronoguard.monitoring import PairedDecision, paired_sequential
from chronoguard.orchestration import run_cycle
from chronoguard.store import Watch, WatchClose
from tests.helpers import seatbelts, small_config
from tests.orchestration.test_cycle import SHOCK, timeline

WATCH = 6
MIN_TARGETS = 6


def config() -> object:
    return small_config(
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={
            "validation_window": 3,
            "margin": 0.05,
            "max_mase": 5.0,
            "watch_periods": WATCH,
            "watch_min_targets": MIN_TARGETS,
        },
        retraining={"k": 2, "n": 3, "cooldown": 2},
    )


def data() -> pd.DataFrame:
    """Two of the cycle tests' series, north and south (shocked by -30 % from March 1981),
    continued to December 1982 (the seat-belt law of February 1983 is left out), so that
    watches opened after the shock can run their course."""
    base = seatbelts(until="1982-12-01")
    parts = []
    for uid, scale in (("north", 1.0), ("south", 0.6)):
        g = base.assign(unique_id=uid, y=base["y"] * scale)
        if uid == "south":
            g.loc[g["ds"] >= SHOCK, "y"] *= 0.7
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws_dir = tmp_path_factory.mktemp("watch") / "ws"
    df = data()
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
    return ws_dir


def _recompute(
    fc: pd.DataFrame, actuals: pd.DataFrame, w: Watch, until: object
) -> tuple[float, float, int, list[float]]:
    """MAEs, pair count and per-target mean loss differences up to ``until``, row by row."""
    mine = fc[(fc["unique_id"] == w.unique_id) & (fc["origin"] >= w.opened_at)]
    mine = mine[mine["ds"] <= until]
    served = mine[(mine["version"] == w.version) & (mine["alias"] != SHADOW)]
    shadow = mine[(mine["version"] == w.previous_version) & (mine["alias"] == SHADOW)]
    errs_c, errs_p = [], []
    by_target: dict[pd.Timestamp, list[float]] = {}
    y = actuals[actuals["unique_id"] == w.unique_id].set_index("ds")["y"]
    for row in served.itertuples():
        twin = shadow[(shadow["origin"] == row.origin) & (shadow["ds"] == row.ds)]
        if len(twin) and row.ds in y.index:
            errs_c.append(abs(y[row.ds] - row.yhat))
            errs_p.append(abs(y[row.ds] - twin["yhat"].iloc[0]))
            by_target.setdefault(row.ds, []).append(errs_c[-1] - errs_p[-1])
    d = [float(np.mean(v)) for _, v in sorted(by_target.items())]
    return float(np.mean(errs_c)), float(np.mean(errs_p)), len(errs_c), d


def test_each_promotion_is_watched_and_judged_on_paired_forecasts(watched: Path) -> None:
    with open_workspace(watched) as ws:
        m = ws.model_name
        watches = ws.store.list_watches(m)
        moves = ws.store.deployment_history(m)
        fc = ws.store.get_forecasts()
        actuals = ws.store.get_actuals()
        decisions = ws.store.list_series_decisions(m, action="retrain")
    promoted = [d for d in decisions if d.outcome == "promoted" and d.champion_version]
    assert promoted, "the shocked series was never promoted"
    # One watch per promotion that replaced a version, opened at the promotion.
    assert sorted((w.unique_id, w.opened_at, w.version) for w in watches) == sorted(
        (d.unique_id, d.ds, d.challenger_version) for d in promoted
    )
    judged = [w for w in watches if w.status in ("confirmed", "rolled_back")]
    assert judged, "no watch ended within the replay"
    with open_workspace(watched) as ws:
        test = watch_test(ws.config)
    assert test.min_targets == MIN_TARGETS
    for w in judged:
        ch, pv, n, d = _recompute(fc, actuals, w, w.closed_at)
        assert n == w.n_pairs and n > 0
        assert w.challenger_error == pytest.approx(ch) and w.previous_error == pytest.approx(pv)
        verdict = paired_sequential(d, settings=test).decision
        ran_out = pd.Timestamp(w.closed_at) == pd.Timestamp(w.opened_at) + pd.DateOffset(
            months=w.periods
        )
        if w.status == "rolled_back":
            assert verdict == PairedDecision.WORSE, w
        else:
            assert verdict == PairedDecision.BETTER or (
                verdict == PairedDecision.CONTINUE and ran_out
            ), w
        # It closed at the first cycle that decided: a month earlier it had not.
        before = pd.Timestamp(w.closed_at) - pd.DateOffset(months=1)
        if before > pd.Timestamp(w.opened_at):
            *_, d_before = _recompute(fc, actuals, w, before)
            assert paired_sequential(d_before, settings=test).decision == (
                PairedDecision.CONTINUE
            ), w
        back = [
            x
            for x in moves
            if x.unique_id == w.unique_id and x.at == w.closed_at and x.reason == ROLLBACK_REASON
        ]
        assert [(x.previous_version, x.version) for x in back] == (
            [(w.version, w.previous_version)] if w.status == "rolled_back" else []
        )
    # Shadow forecasts come from the replaced version, only while its watch is open, and
    # never mix with what was served.
    shadows = fc[fc["alias"] == SHADOW]
    assert len(shadows)
    for row in shadows.itertuples():
        assert any(
            w.unique_id == row.unique_id
            and w.previous_version == row.version
            and w.opened_at <= row.origin
            and (w.closed_at is None or row.origin < w.closed_at)
            for w in watches
        ), row
    served = fc[fc["alias"] != SHADOW]
    assert not served.duplicated(["unique_id", "origin", "ds"]).any()


def test_the_watch_rolls_back_a_challenger_that_did_worse(watched: Path) -> None:
    df = data()
    tl = timeline(df)
    t_last = tl[-1]
    with open_workspace(watched) as ws:
        m = ws.model_name
        current = ws.store.get_deployment(m).versions["south"]
        assert current != "1"
        # Close what the replay left open, so that only this watch is judged.
        still = ws.store.list_watches(m, status="open")
        ws.store.close_watches(
            m,
            [
                WatchClose(
                    unique_id=w.unique_id,
                    opened_at=w.opened_at,
                    status="superseded",
                    closed_at=t_last.to_pydatetime(),
                    challenger_error=None,
                    previous_error=None,
                    n_pairs=0,
                    reason="closed by the test",
                )
                for w in still
            ],
            at=t_last.to_pydatetime(),
        )
        # A month after the data ends, the watched version and the replaced one (in shadow)
        # forecast six months ahead; the replaced one forecasts exactly what arrives, the
        # watched one is about 100 off.
        t0 = t_last + pd.DateOffset(months=1)
        n_targets = 24
        targets = pd.date_range(t0 + pd.DateOffset(months=1), periods=n_targets, freq="MS")
        y = 1000.0 + 10.0 * np.arange(n_targets)
        noise = np.random.default_rng(3).normal(0.0, 20.0, size=n_targets)
        rows = pd.DataFrame(
            {
                "unique_id": "south",
                "ds": targets,
                "origin": t0,
                "horizon": np.arange(1, n_targets + 1),
                "model_name": m,
                "created_at": t0,
            }
        )
        ws.store.record_forecasts(
            pd.concat(
                [
                    rows.assign(yhat=y - 100.0 + noise, version=current, alias="champion"),
                    rows.assign(yhat=y, version="1", alias=SHADOW),
                ],
                ignore_index=True,
            )
        )
        ws.store.record_actuals(
            pd.DataFrame({"unique_id": "south", "ds": targets, "y": y}), received_at=t0
        )
        ws.store.open_watches(
            [
                Watch(
                    model_name=m,
                    unique_id="south",
                    opened_at=t0.to_pydatetime(),
                    version=current,
                    previous_version="1",
                    periods=n_targets,
                )
            ],
            at=t0.to_pydatetime(),
        )
        shown = subprocess.run(
            [sys.executable, "-m", "chronoguard", "deployment", "--workspace", str(watched)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert shown.returncode == 0, shown.stderr
        assert "watches and trials (1 open)" in shown.stdout and "south" in shown.stdout
        deployment = ws.store.get_deployment(m)
        # The first target count at which the comparison, computed here, calls it worse.
        d = np.abs(100.0 - noise)
        test = watch_test(ws.config)
        first = next(
            k
            for k in range(1, n_targets + 1)
            if paired_sequential(d[:k], settings=test).decision == PairedDecision.WORSE
        )
        assert MIN_TARGETS <= first < n_targets
        # Until then the watch goes on, cycle after cycle; then it rolls back at once.
        for t in targets[: first - 1]:
            review = review_watches(ws, now=t, freq="MS", deployment=deployment)
            assert (review.closes, review.back, review.forward) == ([], {}, {})
        t2 = targets[first - 1]
        review = review_watches(ws, now=t2, freq="MS", deployment=deployment)
        closes, back = review.closes, review.back
        assert back == {"south": "1"}
        (verdict,) = closes
        assert verdict.status == "rolled_back" and verdict.n_pairs == first
        assert verdict.previous_error == 0.0 and verdict.challenger_error > 50
        assert "worse" in verdict.reason and "back to version 1" in verdict.reason
        close_and_roll_back(ws, review, now=t2, by="test", at=t2)
        assert ws.store.get_deployment(m).versions["south"] == "1"
        last = ws.store.deployment_history(m, "south")[-1]
        assert (last.previous_version, last.version, last.reason) == (
            current,
            "1",
            ROLLBACK_REASON,
        )
        assert ws.store.list_watches(m, unique_id="south")[-1].status == "rolled_back"
        # The MLflow alias names the version serving the most series (a tie: the newest).
        served_by = list(ws.store.get_deployment(m).versions.values())
        lead = max(set(served_by), key=lambda v: (served_by.count(v), int(v)))
        assert ws.registry.get_alias(m, "champion") == lead
