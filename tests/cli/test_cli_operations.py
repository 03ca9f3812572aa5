"""`chronoguard promote` and `rollback` with a group, at the command line: the same
operations as the HTTP service (chronoguard.lifecycle.operations), the tier's approval
policy followed by a promotion by hand, and a group's series rolled back in one command.

The fleet: ``coast`` (north, west; tier standard) and ``south`` (tier high, policy one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chronoguard.config import ApprovalsConfig, GroupConfig
from chronoguard.lifecycle import open_workspace, train_version, training_window
from tests.cli.test_cli_access import Cli, one_line
from tests.serving.support import MODEL, Built, build_workspace, config


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    cfg = config().model_copy(
        update={
            "groups": [
                GroupConfig(name="coast", match="[nw]*", tier="standard"),
                GroupConfig(name="south", match="south", tier="high"),
            ],
            "approvals": ApprovalsConfig(policy={"high": "one"}),
        }
    )
    built = build_workspace(tmp_path_factory.mktemp("ops") / "ws", cfg)
    with open_workspace(built.root) as ws:
        known = built.data[built.data["ds"] <= built.origin]
        window = training_window(known, built.origin, 132)
        train_version(
            window, config("Naive"), ws.registry, freq="MS", now=built.origin, trigger="test"
        )
    return built


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def versions(root: Path) -> dict[str, str]:
    with open_workspace(root) as ws:
        return dict(ws.store.get_deployment(MODEL).versions)


def test_promote_holds_a_tier_and_rollback_takes_a_group(cli: Cli, built: Built) -> None:
    ws, op = built.root, built.tokens["operator"]
    code, out, err = cli("promote", "-w", ws, "2", "--reason", "by hand", token=op)
    assert code == 0, err
    assert "deployed v2 to 2 series (from v1)" in out
    assert "approval request 1: 1 series of tier high wait for 1 approval(s) (one)" in out
    assert versions(ws) == {"north": "2", "south": "1", "west": "2"}

    code, out, err = cli("approve", "-w", ws, "1", token=built.tokens["approver"])
    assert code == 0, err
    assert versions(ws) == dict.fromkeys(("north", "south", "west"), "2")

    code, out, err = cli("rollback", "-w", ws, "--group", "coast", "--reason", "storm", token=op)
    assert code == 0, err
    assert "rolled back 2 series: v2 → v1" in out
    assert versions(ws) == {"north": "1", "south": "2", "west": "1"}
    with open_workspace(ws) as w:
        last = w.store.deployment_history(MODEL, ["west"])[-1]
    assert (last.by, last.reason) == ("operator", "rollback: storm")

    code, _, err = cli("rollback", "-w", ws, "--group", "atlantis", token=op)
    assert code == 2
    assert "no group 'atlantis'" in one_line(err) and "coast, south" in err
    code, _, err = cli("rollback", "-w", ws, "--group", "coast", "--series", "north", token=op)
    assert code == 2 and "not both" in one_line(err)
    code, _, err = cli("rollback", "-w", ws, "--group", "south", token=built.tokens["viewer"])
    assert code == 2 and "this needs operator" in one_line(err)
    assert versions(ws) == {"north": "1", "south": "2", "west": "1"}
