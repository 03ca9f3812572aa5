"""The watch: each promotion is judged on data neither version had seen, against the version
it replaced, and rolled back when the challenger did worse.

Two monthly series (real seat-belt data, one of them shocked by -30 % at a known month) are
replayed cycle by cycle with a 3-period watch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.lifecycle.watch import (
    ROLLBACK_REASON,
    SHADOW,
    close_and_roll_back,
    review_watches,
)
from chronoguard.orchestration import run_cycle
from chronoguard.store import Watch, WatchClose
from tests.helpers import small_config
from tests.orchestration.test_cycle import fleet, timeline

WATCH = 3


def config() -> object:
    return small_config(
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={"validation_window": 3, "margin": 0.05, "max_mase": 5.0, "watch_periods": WATCH},
        retraining={"k": 2, "n": 3, "cooldown": 2},
    )


def data() -> pd.DataFrame:
    df = fleet()
    return df[df["unique_id"].isin(["north", "south"])].reset_index(drop=True)


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
    fc: pd.DataFrame, actuals: pd.DataFrame, w: Watch
) -> tuple[float, float, int, list[float]]:
    """MAEs, pair count and per-target mean loss differences, computed row by row."""
    mine = fc[(fc["unique_id"] == w.unique_id) & (fc["origin"] >= w.opened_at)]
    mine = mine[mine["ds"] <= w.closed_at]
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
    for w in judged:
        ch, pv, n, d = _recompute(fc, actuals, w)
        assert n == w.n_pairs and n > 0
        assert w.challenger_error == pytest.approx(ch) and w.previous_error == pytest.approx(pv)
        worse = stats.ttest_1samp(d, 0.0, alternative="greater").pvalue < 0.05
        assert (w.status == "rolled_back") == bool(worse), w
        assert pd.Timestamp(w.closed_at) == pd.Timestamp(w.opened_at) + pd.DateOffset(
            months=w.periods
        )
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
        fc = ws.store.get_forecasts(unique_id="south", origin_from=t_last, origin_to=t_last)
        served = fc[(fc["version"] == current) & (fc["alias"] != SHADOW)].sort_values("ds")
        assert len(served) == 3
        shadow = fc[(fc["version"] == "1") & (fc["alias"] == SHADOW)].sort_values("ds")
        if len(shadow):
            truth = shadow[["ds", "yhat"]].rename(columns={"yhat": "y"})
        else:
            # The replaced version forecasts exactly what arrives; the challenger is 100 off.
            truth = served[["ds", "yhat"]].assign(y=served["yhat"] + 100.0)[["ds", "y"]]
            ws.store.record_forecasts(
                served.assign(yhat=truth["y"].to_numpy(), version="1", alias=SHADOW).drop(
                    columns=["id"]
                )
            )
        arrived = truth.iloc[:2].assign(unique_id="south")
        ws.store.record_actuals(arrived[["unique_id", "ds", "y"]], received_at=t_last)
        ws.store.open_watches(
            [
                Watch(
                    model_name=m,
                    unique_id="south",
                    opened_at=t_last.to_pydatetime(),
                    version=current,
                    previous_version="1",
                    periods=2,
                )
            ],
            at=t_last.to_pydatetime(),
        )
        shown = subprocess.run(
            [sys.executable, "-m", "chronoguard", "deployment", "--workspace", str(watched)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert shown.returncode == 0, shown.stderr
        assert "watched promotions (1 open)" in shown.stdout and "south" in shown.stdout
        deployment = ws.store.get_deployment(m)
        t1 = pd.Timestamp(arrived["ds"].iloc[0])
        t2 = pd.Timestamp(arrived["ds"].iloc[1])
        # One period in, the watch is not over.
        assert review_watches(ws, now=t1, freq="MS", deployment=deployment) == ([], {})
        closes, back = review_watches(ws, now=t2, freq="MS", deployment=deployment)
        assert back == {"south": "1"}
        (verdict,) = closes
        assert verdict.status == "rolled_back" and verdict.n_pairs == 2  # from t_last
        assert verdict.previous_error == 0.0 and verdict.challenger_error > 0
        assert "back to version 1" in verdict.reason
        close_and_roll_back(ws, closes, back, now=t2, by="test", at=t2)
        assert ws.store.get_deployment(m).versions["south"] == "1"
        last = ws.store.deployment_history(m, "south")[-1]
        assert (last.previous_version, last.version, last.reason) == (
            current,
            "1",
            ROLLBACK_REASON,
        )
        assert ws.store.list_watches(m, unique_id="south")[-1].status == "rolled_back"
        assert ws.registry.get_alias(m, "champion") == "1"
