"""Rollout stages on a replay: shadow trials and canaries, judged by the watch's sequential
paired comparison every cycle.

The data and gate are the watch tests' (two monthly series, ``south`` shocked by -30 %);
only ``[rollout]`` differs. ``stage = "shadow"``: a passing challenger never serves until
its trial promotes it. ``stage = "canary"`` with ``canary_share = 0.5``: ``south`` (hash
fraction 0.18) is a canary, ``north`` (0.86) is not.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.lifecycle.rollout import CANARY_ALIAS, canary_fraction, canary_series
from chronoguard.lifecycle.watch import SHADOW, _paired, watch_test
from chronoguard.monitoring import PairedDecision
from chronoguard.orchestration import run_cycle
from tests.orchestration.test_cycle import timeline
from tests.orchestration.test_watch import config, data


def replay(root: Path, rollout: dict[str, object], **extra: object) -> Path:
    cfg = config().model_copy(  # type: ignore[attr-defined]
        update={"rollout": config().rollout.model_copy(update=rollout), **extra}  # type: ignore[attr-defined]
    )
    df = data()
    with init_workspace(root, cfg) as ws:
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
    return root


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(tmp_path_factory.mktemp("shadow") / "ws", {"stage": "shadow"})


@pytest.fixture(scope="module")
def canaried(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(
        tmp_path_factory.mktemp("canary") / "ws", {"stage": "canary", "canary_share": 0.5}
    )


def test_canaries_are_a_deterministic_share() -> None:
    assert canary_series(["north", "south"], 0.5) == ["south"]
    assert canary_fraction("south") < 0.5 <= canary_fraction("north")
    ids = [f"s{i}" for i in range(4000)]
    assert abs(len(canary_series(ids, 0.25)) / 4000 - 0.25) < 0.03
    assert set(canary_series(ids, 0.1)) <= set(canary_series(ids, 0.25))


def test_a_shadow_trial_never_serves_until_it_is_promoted(shadowed: Path) -> None:
    with open_workspace(shadowed) as ws:
        m = ws.model_name
        watches = ws.store.list_watches(m)
        moves = ws.store.deployment_history(m)
        fc = ws.store.get_forecasts()
        actuals = ws.store.get_actuals()
        decisions = ws.store.list_series_decisions(m, action="retrain")
        test = watch_test(ws.config)
        statuses = {v.version: v.status for v in ws.store.list_versions(m)}
    trials = [w for w in watches if w.kind == "shadow"]
    assert trials, "no challenger went to a shadow trial"
    assert {w.kind for w in watches} == {"shadow"}  # nothing else at this stage
    closed = [w for w in trials if w.status != "open"]
    assert {w.status for w in closed} <= {"promoted", "rejected", "superseded"}
    assert any(w.status == "promoted" for w in closed), "no trial promoted its challenger"
    # A series on trial is not retrained again: its trials follow one another, never overlap.
    for u in {w.unique_id for w in trials}:
        mine = sorted((w for w in trials if w.unique_id == u), key=lambda w: w.opened_at)
        for a, b in itertools.pairwise(mine):
            assert a.closed_at is not None and b.opened_at >= a.closed_at, (a, b)
    assert {w.status for w in closed} <= {"promoted", "rejected"}
    for w in trials:
        mine = fc[(fc["unique_id"] == w.unique_id) & (fc["version"] == w.version)]
        end = pd.Timestamp(w.closed_at) if w.closed_at is not None else pd.Timestamp.max
        during = mine[(mine["origin"] >= w.opened_at) & (mine["origin"] < end)]
        # While on trial the challenger forecast every origin, in shadow only.
        assert len(during) and (during["alias"] == SHADOW).all(), w
        moved = [x for x in moves if x.unique_id == w.unique_id and x.version == w.version]
        decision = next(d for d in decisions if d.unique_id == w.unique_id and d.ds == w.opened_at)
        if w.status == "promoted":
            assert [x.at for x in moved] == [w.closed_at], w  # served from the close on
            assert moved[0].reason == "promoted from its shadow trial"
            assert decision.outcome == "promoted"
        else:
            assert moved == [], w  # a rejected or open trial never served
            assert not (mine["alias"] != SHADOW).any()
            if w.status == "rejected":
                assert decision.outcome == "rejected"
                assert "never served" in (w.reason or "")
            if w.status == "open":
                assert decision.outcome == "pending"
        if w.status in ("promoted", "rejected"):
            pe = _paired(fc, actuals, w, w.closed_at, test)
            assert pe.n_pairs == w.n_pairs
            assert w.challenger_error == pytest.approx(pe.challenger_mae)
            v = pe.verdict
            ran_out = pd.Timestamp(w.closed_at) == pd.Timestamp(w.opened_at) + pd.DateOffset(
                months=w.periods
            )
            if w.status == "rejected":
                assert v is not None and v.decision == PairedDecision.WORSE
            else:
                assert v is None or v.decision == PairedDecision.BETTER or ran_out
    rejected_only = {w.version for w in trials if w.status == "rejected"} - {
        w.version for w in trials if w.status != "rejected"
    }
    for v in rejected_only:
        assert statuses[v] == "rejected"


def test_a_canary_serves_its_share_at_once_under_its_alias(canaried: Path) -> None:
    with open_workspace(canaried) as ws:
        m = ws.model_name
        watches = ws.store.list_watches(m)
        fc = ws.store.get_forecasts()
        moves = ws.store.deployment_history(m)
    canaries = [w for w in watches if w.kind == "canary"]
    assert canaries, "the shocked series never went out as a canary"
    assert {w.unique_id for w in canaries} == {"south"}
    assert all(w.kind == "shadow" for w in watches if w.unique_id == "north")
    for w in canaries:
        # Deployed at the trial's start, served under the alias canary while it is open.
        assert any(
            x.unique_id == "south" and x.version == w.version and x.at == w.opened_at for x in moves
        )
        end = pd.Timestamp(w.closed_at) if w.closed_at is not None else pd.Timestamp.max
        mine = fc[(fc["unique_id"] == "south") & (fc["version"] == w.version)]
        during = mine[(mine["origin"] >= w.opened_at) & (mine["origin"] < end)]
        assert len(during) and set(during["alias"]) == {CANARY_ALIAS}, w
        champ = fc[
            (fc["unique_id"] == "south")
            & (fc["version"] == w.previous_version)
            & (fc["origin"] >= w.opened_at)
            & (fc["origin"] < end)
        ]
        assert len(champ) and set(champ["alias"]) == {SHADOW}  # the champion in shadow
        assert w.status in ("open", "confirmed", "rolled_back", "superseded")
    assert any(w.status == "confirmed" for w in canaries), "no canary stood its watch"
    with open_workspace(canaried) as ws:
        final = ws.store.get_deployment(ws.model_name).versions["south"]
        status = ws.store.get_version(ws.model_name, final).status
    last = max(canaries, key=lambda w: w.opened_at)
    if last.version == final and last.status == "confirmed":
        assert status == "champion"  # its canaries stood: it is the champion now


def test_a_held_tier_runs_its_trial_then_waits_for_approval(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from chronoguard.config import ApprovalsConfig, GroupConfig

    root = replay(
        tmp_path_factory.mktemp("held") / "ws",
        {"stage": "canary", "canary_share": 1.0},
        groups=[GroupConfig(name="south", match="south", tier="high")],
        approvals=ApprovalsConfig(policy={"high": "one"}),
    )
    with open_workspace(root) as ws:
        m = ws.model_name
        watches = [w for w in ws.store.list_watches(m) if w.unique_id == "south"]
        requests = ws.store.list_approvals(m)
        moves = [x for x in ws.store.deployment_history(m) if x.unique_id == "south"]
    assert watches and {w.kind for w in watches} == {"shadow"}  # held: never a canary
    promoted = [w for w in watches if w.status == "promoted"]
    assert promoted, "no trial of the held series promoted its challenger"
    # Every trial that promoted opened an approval request instead of deploying.
    assert {(r.version, tuple(r.series)) for r in requests} >= {
        (w.version, ("south",)) for w in promoted
    }
    assert [x.version for x in moves] == ["1"]  # nobody approved: south never moved
