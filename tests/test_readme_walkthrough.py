"""The README's walk-through from `chronoguard serve` to a canary, an approval and a rollback,
run as a new user would run it: its shell block, whole, in an empty folder, with the
installed `chronoguard` and real processes (the CLI, the HTTP service, curl).

What the block shows is then checked in its workspace: east went out as a canary, served
under the alias ``canary``, and stood; south (tier critical) ran a shadow trial, waited for
two approvers, was deployed by the second vote over HTTP, and went back with its group's
rollback; the keyed audit chain is intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chronoguard.lifecycle import open_workspace
from tests.readme_blocks import readme_block, run_block

PORT = "8765"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    done = run_block(readme_block("tests/test_readme_walkthrough.py"), tmp_path, port=PORT)
    out = done.stdout
    assert done.returncode == 0, (out[-4000:], done.stderr[-4000:])
    served = [json.loads(line) for line in out.splitlines() if line.startswith('{"model"')]
    east, south = served[0], served[1]
    assert (east["unique_id"], east["alias"], east["version"]) == ("east", "canary", "2")
    assert (south["unique_id"], south["alias"], south["version"]) == ("south", "champion", "1")
    assert "audit chain ok" in out, out[-2000:]

    with open_workspace(tmp_path / "ws") as ws:
        m = ws.model_name
        watches = {(w.unique_id, w.kind, w.version): w for w in ws.store.list_watches(m)}
        (request,) = ws.store.list_approvals(m, status=None)
        moves = [(x.unique_id, x.version, x.by) for x in ws.store.deployment_history(m)]
        verdict = ws.store.verify_audit_chain()
    canary = watches[("east", "canary", "2")]
    assert canary.status == "confirmed" and "the canary stands" in str(canary.reason)
    assert watches[("south", "shadow", request.version)].status == "promoted"
    assert request.status == "approved" and tuple(request.series) == ("south",)
    # The second vote deployed south, the group's rollback took it back, each by its caller.
    south = [(v, by) for u, v, by in moves if u == "south"]
    assert south[-2:] == [(request.version, "bea"), ("1", "root")], south
    assert verdict.ok, verdict
