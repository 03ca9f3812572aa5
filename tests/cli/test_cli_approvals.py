"""``chronoguard approvals``, ``approve`` and ``reject``, run as a user runs them (a
subprocess of ``python -m chronoguard``) on a workspace where a critical series waits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.approvals import pending_approvals
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.cli.test_cli import cg
from tests.helpers import grant
from tests.lifecycle.test_approvals import config, data
from tests.orchestration.test_cycle import timeline

pytestmark = pytest.mark.slow  # every command is a fresh process that imports MLflow


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose south series waits for approval, requested on the real clock
    (the commands vote on it, and so read it, at the real time)."""
    ws_dir = tmp_path_factory.mktemp("cli-approvals") / "ws"
    df = data()
    with init_workspace(ws_dir, config(expires_after_hours=72.0)) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            real = pd.Timestamp.now("UTC").tz_localize(None)  # a test may read the clock
            run_cycle(ws, df, freq="MS", now=now, cache=cache, recorded_at=real)
            if pending_approvals(ws):
                break
        assert pending_approvals(ws), "south was never held"
        for name in ("ana", "bo", "cy"):
            (ws_dir / f"{name}.token").write_text(grant(ws.store, name, "approver"))
        (ws_dir / "ops.token").write_text(grant(ws.store, "ops", "operator"))
    return ws_dir


@pytest.fixture
def ws(held: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws"
    shutil.copytree(held, target)
    return target


def as_(ws: Path, name: str) -> str:
    """The secret of the token ``name`` the fixture made (approvers ana, bo, cy; operator
    ops)."""
    return (ws / f"{name}.token").read_text()


def one_error_line(res: object) -> str:
    err = res.stderr  # type: ignore[attr-defined]
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_approvals_lists_the_pending_request_and_only_approvers_vote(ws: Path) -> None:
    res = cg("approvals", "--workspace", ws)
    assert res.returncode == 0, res.stderr
    assert "south" in res.stdout and "four_eyes" in res.stdout and "0 of 2" in res.stdout
    res = cg("approve", "1", "--workspace", ws)
    assert res.returncode == 2 and "no token given" in one_error_line(res)
    res = cg("approve", "1", "--workspace", ws, token=as_(ws, "ops"))
    assert res.returncode == 2
    assert "token 'ops' has role operator; this needs approver" in one_error_line(res)
    res = cg("approve", "1", "--workspace", ws, "--by", "ana")
    assert res.returncode == 2 and "No such option: --by" in res.stderr
    res = cg("approve", "1", "-w", ws, "--reason", "plot checked", token=as_(ws, "ana"))
    assert res.returncode == 0, res.stderr
    assert "approve by ana recorded, 1 of 2 approvals; it waits for 1 more" in res.stdout
    res = cg("approve", "1", "--workspace", ws, token=as_(ws, "ana"))
    assert res.returncode == 2
    assert "'ana' already voted approve on approval request 1" in one_error_line(res)


def test_the_second_approver_deploys_and_a_third_vote_is_a_conflict(ws: Path) -> None:
    assert cg("approve", "1", "-w", ws, token=as_(ws, "ana")).returncode == 0
    res = cg("approve", "1", "-w", ws, "--reason", "fine", token=as_(ws, "bo"))
    assert res.returncode == 0, res.stderr
    assert "approved (approved by ana, bo: fine)" in res.stdout
    assert "now serves 1 series (south)" in res.stdout
    with open_workspace(ws) as w:
        (r,) = w.store.list_approvals(w.model_name)
        assert w.store.get_deployment(w.model_name).versions["south"] == r.version
    res = cg("approve", "1", "-w", ws, token=as_(ws, "cy"))
    assert res.returncode == 2
    assert "approval request 1 (version" in one_error_line(res)
    assert "is already approved" in res.stderr
    res = cg("approvals", "-w", ws, "--all")
    assert res.returncode == 0 and "approved by ana, bo" in res.stdout


def test_reject_needs_a_reason_and_closes_the_request(ws: Path) -> None:
    res = cg("reject", "1", "-w", ws, token=as_(ws, "bo"))
    assert res.returncode == 2 and "Missing option '--reason'" in res.stderr
    res = cg("reject", "1", "-w", ws, "--reason", "holiday effect", token=as_(ws, "bo"))
    assert res.returncode == 0, res.stderr
    assert "rejected: rejected by bo: holiday effect; nothing deployed" in res.stdout
    res = cg("reject", "7", "-w", ws, "--reason", "x", token=as_(ws, "bo"))
    assert res.returncode == 2
    assert "there is no approval request 7; `chronoguard approvals --all` lists them" in (
        one_error_line(res)
    )
    res = cg("approvals", "-w", ws)
    assert res.returncode == 0 and "no approval request is pending" in res.stdout
