"""Approvals in the loop: a critical series whose challenger passes the gate waits for two
approvers, neither the author, and deploys (with its watch) when the second approves.

Two monthly series (real seat-belt data, ``south`` shocked by -30 % at a known month, tier
``critical``) are replayed cycle by cycle until ``south``'s challenger is held; every test
works on its own copy of that workspace.
"""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.config import parse_config
from chronoguard.lifecycle import Workspace, init_workspace, open_workspace
from chronoguard.lifecycle.approvals import (
    VoteOutcome,
    expire_approvals,
    held_series,
    pending_approvals,
    vote,
)
from chronoguard.lifecycle.fleet import VersionCache, deploy_series
from chronoguard.orchestration import run_cycle
from chronoguard.store import ApprovalConflictError, ApprovalError, ApprovalRequest
from tests.helpers import small_config
from tests.orchestration.test_cycle import fleet, timeline

AUTHOR = "chronoguard cycle"
HOURS = 24.0 * 365 * 50  # the replay's clock is the data's: requests must outlive cycles


def data() -> pd.DataFrame:
    df = fleet()
    return df[df["unique_id"].isin(["north", "south"])].reset_index(drop=True)


def config(tier: str = "critical", **approvals: object) -> object:
    raw = small_config(
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={"validation_window": 3, "margin": 0.05, "max_mase": 5.0},
        retraining={"k": 2, "n": 3, "cooldown": 2},
    ).to_dict()
    raw["groups"] = [{"name": "south", "match": "south", "tier": tier}]
    raw["approvals"] = {"expires_after_hours": HOURS, **approvals}
    return parse_config(raw)


def run_until_held(ws: Workspace, df: pd.DataFrame, start: int = 131) -> pd.Timestamp | None:
    """Run cycles from timeline index ``start`` until one holds a series; its time."""
    cache = VersionCache(ws)
    for now in timeline(df)[start:]:
        out = run_cycle(ws, df, freq="MS", now=now, cache=cache)
        if any(r.as_of == now.to_pydatetime() for r in pending_approvals(ws)):
            return now
        if "south" in out.promoted and out.challenger_version != "1":  # not the first model
            return None
    return None


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.Timestamp]:
    ws_dir = tmp_path_factory.mktemp("approvals") / "ws"
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        now = run_until_held(ws, data())
    assert now is not None, "south's challenger was never held"
    return ws_dir, now


@pytest.fixture
def ws(held: tuple[Path, pd.Timestamp], tmp_path: Path) -> Workspace:
    """A copy of the held workspace, opened."""
    target = tmp_path / "ws"
    shutil.copytree(held[0], target)
    opened = open_workspace(target)
    yield opened  # type: ignore[misc]
    opened.close()


def the_request(ws: Workspace) -> ApprovalRequest:
    (r,) = pending_approvals(ws)
    return r


def hours_after(r: ApprovalRequest, h: float) -> pd.Timestamp:
    return pd.Timestamp(r.requested_at) + pd.Timedelta(hours=h)


def south_decision(ws: Workspace, r: ApprovalRequest) -> object:
    (d,) = ws.store.list_series_decisions(
        ws.model_name, unique_id="south", ds_from=r.as_of, ds_to=r.as_of
    )
    return d


def test_held_series_follow_the_configured_policy() -> None:
    cfg = parse_config({"approvals": {"policy": {"high": "one", "critical": "auto"}}})
    tiers = {"a": "critical", "b": "high", "c": None, "d": "low"}
    assert held_series(cfg.approvals, tiers) == {"b": "high"}
    assert cfg.approvals.policy["standard"] == "auto"


def test_a_critical_series_that_passes_the_gate_waits(
    ws: Workspace, held: tuple[Path, pd.Timestamp]
) -> None:
    now = held[1]
    r = the_request(ws)
    assert (r.series, r.tier, r.policy, r.required_approvals) == (
        ("south",),
        "critical",
        "four_eyes",
        2,
    )
    assert r.author == AUTHOR and r.as_of == now.to_pydatetime()
    assert r.expires_at == r.requested_at + timedelta(hours=HOURS)
    d = south_decision(ws, r)
    assert d.outcome == "awaiting_approval" and d.challenger_version == r.version  # type: ignore[attr-defined]
    assert ws.store.get_deployment(ws.model_name).versions == {"north": "1", "south": "1"}
    assert ws.store.get_version(ws.model_name, r.version).status == "validated"  # type: ignore[union-attr]
    assert [e.action for e in ws.store.audit_log(entity=f"approval:{r.id}")] == ["request_approval"]


def test_one_approval_is_not_enough_and_the_author_cannot_approve(ws: Workspace) -> None:
    r = the_request(ws)
    t = hours_after(r, 1)
    audit = len(ws.store.audit_log())
    with pytest.raises(ApprovalError, match="'chronoguard cycle' is the author"):
        vote(ws, r.id, by=AUTHOR, vote="approve", at=t)
    assert len(ws.store.audit_log()) == audit
    out = vote(ws, r.id, by="ana", vote="approve", reason="looked at the plot", at=t)
    assert out.request.status == "pending" and out.moves == ()
    assert out.request.missing_approvals == 1
    with pytest.raises(ApprovalError, match="already voted approve"):
        vote(ws, r.id, by="Ana", vote="approve", at=t)
    assert ws.store.get_deployment(ws.model_name).versions["south"] == "1"
    assert south_decision(ws, r).outcome == "awaiting_approval"  # type: ignore[attr-defined]


def test_two_distinct_approvers_deploy_it_and_open_its_watch(ws: Workspace) -> None:
    r = the_request(ws)
    vote(ws, r.id, by="ana", vote="approve", at=hours_after(r, 1))
    out = vote(ws, r.id, by="bo", vote="approve", reason="fine", at=hours_after(r, 2))
    assert out.request.status == "approved" and out.deployed == ("south",)
    assert out.watches_opened == 1
    m = ws.model_name
    assert ws.store.get_deployment(m).versions == {"north": "1", "south": r.version}
    (move,) = [x for x in ws.store.deployment_history(m, "south") if x.version == r.version]
    assert move.by == "bo" and move.batch == f"approval {r.id}"
    assert "approved by ana, bo: fine" in move.reason
    assert move.at == r.as_of  # data time: the series serves from the next cycle
    (w,) = ws.store.list_watches(m, status="open", unique_id="south")
    assert (w.version, w.previous_version) == (r.version, "1")
    d = south_decision(ws, r)
    assert d.outcome == "promoted"  # type: ignore[attr-defined]
    assert "approval request" in (d.gate_reason or "")  # type: ignore[attr-defined]
    assert ws.store.get_version(m, r.version).status == "champion"  # type: ignore[union-attr]
    assert ws.store.verify_audit_chain().ok
    with pytest.raises(ApprovalConflictError, match="already approved"):
        vote(ws, r.id, by="cy", vote="approve", at=hours_after(r, 3))
    # The next cycle serves south with the approved version, and the replaced one in shadow.
    df = data()
    nxt = timeline(df)[timeline(df).get_loc(pd.Timestamp(r.as_of)) + 1]
    run_cycle(ws, df, freq="MS", now=nxt)
    fc = ws.store.get_forecasts(unique_id="south", origin_from=nxt, origin_to=nxt)
    assert set(zip(fc["version"], fc["alias"], strict=True)) == {
        (r.version, "champion"),
        ("1", "shadow"),
    }


def test_a_reject_closes_it_and_nothing_deploys(ws: Workspace) -> None:
    r = the_request(ws)
    vote(ws, r.id, by="ana", vote="approve", at=hours_after(r, 1))
    with pytest.raises(ApprovalError, match="a reject vote needs a reason"):
        vote(ws, r.id, by="bo", vote="reject", at=hours_after(r, 2))
    out = vote(ws, r.id, by="bo", vote="reject", reason="holiday effect", at=hours_after(r, 2))
    assert out.request.status == "rejected" and out.moves == ()
    assert out.request.closed_reason == "rejected by bo: holiday effect"
    assert ws.store.get_deployment(ws.model_name).versions["south"] == "1"
    d = south_decision(ws, r)
    assert d.outcome == "rejected" and "holiday effect" in d.gate_reason  # type: ignore[attr-defined]
    assert ws.store.get_version(ws.model_name, r.version).status == "rejected"  # type: ignore[union-attr]
    with pytest.raises(ApprovalConflictError, match="already rejected"):
        vote(ws, r.id, by="cy", vote="approve", at=hours_after(r, 3))


def test_an_expired_request_never_deploys(ws: Workspace) -> None:
    r = the_request(ws)
    assert expire_approvals(ws, hours_after(r, HOURS - 1)) == []
    vote(ws, r.id, by="ana", vote="approve", at=hours_after(r, 1))
    with pytest.raises(ApprovalConflictError, match="already expired"):
        vote(ws, r.id, by="bo", vote="approve", at=hours_after(r, HOURS + 1))
    after = ws.store.get_approval(r.id)
    assert after is not None and after.status == "expired"
    assert ws.store.get_deployment(ws.model_name).versions["south"] == "1"
    assert south_decision(ws, r).outcome == "rejected"  # type: ignore[attr-defined]
    assert pending_approvals(ws) == []


def test_a_request_whose_series_moved_on_is_superseded(ws: Workspace) -> None:
    r = the_request(ws)
    vote(ws, r.id, by="ana", vote="approve", at=hours_after(r, 1))
    # Someone promotes the version by hand meanwhile: the request has nothing left to do.
    deploy_series(ws, {"south": r.version}, by="ops", reason="manual", at=pd.Timestamp(r.as_of))
    with pytest.raises(ApprovalConflictError, match="already superseded"):
        vote(ws, r.id, by="bo", vote="approve", at=hours_after(r, 2))
    after = ws.store.get_approval(r.id)
    assert after is not None and after.status == "superseded"
    assert "moved to version" in (after.closed_reason or "")


def test_a_newer_request_for_the_same_series_supersedes_the_older(ws: Workspace) -> None:
    old = the_request(ws)
    df = data()
    start = timeline(df).get_loc(pd.Timestamp(old.as_of)) + 1
    now = run_until_held(ws, df, start=int(start))
    assert now is not None, "south was not held again"
    new = the_request(ws)
    assert new.id != old.id and int(new.version) > int(old.version)
    before = ws.store.get_approval(old.id)
    assert before is not None and before.status == "superseded"
    assert f"version {new.version} of its series awaits approval" in (before.closed_reason or "")
    with pytest.raises(ApprovalConflictError, match="already superseded"):
        vote(ws, old.id, by="ana", vote="approve", at=hours_after(new, 1))


def test_two_last_approvals_at_once_exactly_one_deploys(ws: Workspace) -> None:
    r = the_request(ws)
    vote(ws, r.id, by="ana", vote="approve", at=hours_after(r, 1))
    voters = [open_workspace(ws.root) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[VoteOutcome | BaseException] = []

    def cast(w: Workspace, who: str) -> None:
        barrier.wait()
        try:
            results.append(vote(w, r.id, by=who, vote="approve", at=hours_after(r, 2)))
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [
        threading.Thread(target=cast, args=(w, who), daemon=True)
        for w, who in zip(voters, ("bo", "cy"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for w in voters:
        w.close()
    assert not any(t.is_alive() for t in threads)
    won = [x for x in results if isinstance(x, VoteOutcome)]
    lost = [x for x in results if not isinstance(x, VoteOutcome)]
    assert len(won) == 1 and len(lost) == 1, results
    assert won[0].deployed == ("south",)
    assert isinstance(lost[0], ApprovalConflictError) and "already approved" in str(lost[0])
    moves = [
        m for m in ws.store.deployment_history(ws.model_name, "south") if m.version == r.version
    ]
    assert len(moves) == 1
    assert len(ws.store.list_watches(ws.model_name, status="open", unique_id="south")) == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tier", "policy", "waits"),
    [("critical", "auto", False), ("high", "one", True)],
)
def test_the_policy_of_the_tier_decides_whether_it_waits(
    tmp_path: Path, tier: str, policy: str, waits: bool
) -> None:
    with init_workspace(tmp_path / "ws", config(tier, policy={tier: policy})) as w:  # type: ignore[arg-type]
        now = run_until_held(w, data())
        if not waits:
            assert now is None and pending_approvals(w) == []
            assert w.store.get_deployment(w.model_name).versions["south"] != "1"
            return
        assert now is not None
        r = the_request(w)
        assert (r.tier, r.policy, r.required_approvals) == (tier, "one", 1)
        out = vote(w, r.id, by="ana", vote="approve", at=hours_after(r, 1))
        assert out.request.status == "approved" and out.deployed == ("south",)


@pytest.mark.slow
@pytest.mark.postgres
def test_on_postgresql_two_last_approvals_at_once_exactly_one_deploys(
    tmp_path: Path, pg_schemas: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pg_schemas.fresh() as pg:  # type: ignore[attr-defined]
        monkeypatch.setenv("CHRONOGUARD_STORE_URL", pg.url)
        with init_workspace(tmp_path / "ws", config()) as w:  # type: ignore[arg-type]
            assert w.store.dialect == "postgresql"
            assert run_until_held(w, data()) is not None
            test_two_last_approvals_at_once_exactly_one_deploys(w)
            assert w.store.verify_audit_chain().ok
