"""A promotion or a rollback (the operations `chronoguard promote` / `rollback` and the
HTTP service's routes call) killed (SIGKILL) right after any of its MLflow or store writes,
then run again by the operator: the store, MLflow's champion alias and what the service
serves (the store's deployment) agree, and equal a run that was never interrupted.

The workspace: version 1 serves three series; version 2 (a different model) is registered.
The promotion moves every series to version 2 and so moves the champion alias; the
rollback moves them back. The killed action runs in a forked child of the cycle crash
test's helper process (tests/orchestration/test_cycle_crash.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import open_workspace, train_version, training_window
from chronoguard.lifecycle.access import Principal
from chronoguard.lifecycle.operations import promote, rollback
from tests.orchestration.test_cycle_crash import Killer
from tests.serving.support import MODEL, build_workspace, config, fleet

AT = pd.Timestamp("2026-01-05 09:00")


def agreed(root: Path) -> dict[str, object]:
    with open_workspace(root) as ws:
        moves = [
            (m.unique_id, m.version, m.previous_version, m.by, m.reason)
            for m in ws.store.deployment_history(MODEL)
        ]
        return {
            "deployment": dict(ws.store.get_deployment(MODEL).versions),
            "moves": moves,
            "statuses": sorted((v.version, v.status) for v in ws.store.list_versions(MODEL)),
            "alias_store": ws.store.current_alias(MODEL, "champion"),
            "alias_mlflow": ws.registry.get_alias(MODEL, "champion"),
            "audit_ok": ws.store.verify_audit_chain().ok,
        }


@pytest.mark.slow
@pytest.mark.parametrize("action", ["promote", "rollback"])
def test_an_action_killed_after_any_write_is_repaired_by_running_it_again(
    action: str, tmp_path: Path
) -> None:
    base = build_workspace(tmp_path / "base").root
    built_data = fleet()
    with open_workspace(base) as ws:
        origin = pd.Timestamp(sorted(built_data["ds"].unique())[131])
        known = built_data[built_data["ds"] <= origin]
        trained = train_version(
            training_window(known, origin, 132),
            config("Naive"),
            ws.registry,
            freq="MS",
            now=origin,
            trigger="test",
        )
        assert trained.version.version == "2"
        if action == "rollback":  # a rollback needs a promotion to undo
            promote(ws, "2", caller=Principal("ops", "operator"), reason="before", at=AT)
    job = {"caller": "ops", "role": "operator", "at": str(AT), "version": "2"}
    data = tmp_path / "unused.pkl"
    built_data.to_pickle(data)
    killer = Killer(data, tmp_path / "logs")

    def again(root: Path) -> None:  # the operator runs the command again
        with open_workspace(root) as ws:
            caller = Principal("ops", "operator")
            if action == "promote":
                promote(ws, "2", caller=caller, reason="the crash test", at=AT)
            else:
                rollback(ws, caller=caller, reason="the crash test", at=AT)

    try:
        clean = tmp_path / "clean"
        shutil.copytree(base, clean)
        res = killer.run(clean, 0, None, action=action, **job)
        assert res.returncode == 0, res.output[-3000:]
        assert res.calls, "the action wrote nothing"
        assert any(c.startswith("mlflow.") for c in res.calls), res.calls  # the alias moves
        assert sum(c.startswith("store.") for c in res.calls) >= 2, res.calls
        expected = agreed(clean)
        assert expected["alias_store"] == expected["alias_mlflow"]
        assert set(expected["deployment"].values()) == {"2" if action == "promote" else "1"}
        failures = []
        for k in range(1, len(res.calls) + 1):
            target = tmp_path / f"killed-{k}"
            shutil.copytree(base, target)
            killed = killer.run(target, k, None, action=action, **job)
            assert killed.returncode == -9, (k, res.calls[k - 1], killed.output[-2000:])
            again(target)
            got = agreed(target)
            if got != expected:
                failures.append(
                    (
                        k,
                        res.calls[k - 1],
                        {key: got[key] for key in got if got[key] != expected[key]},
                    )
                )
            shutil.rmtree(target)
        assert not failures, failures
    finally:
        killer.close()
