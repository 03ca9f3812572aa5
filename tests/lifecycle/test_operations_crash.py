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

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.errors import WorkspaceBusyError
from chronoguard.lifecycle import open_workspace
from chronoguard.lifecycle.access import Principal
from chronoguard.lifecycle.operations import promote, rollback
from tests.orchestration.test_cycle_crash import Copies, Killer
from tests.serving.support import MODEL, build_workspace, fleet, train_naive_version

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


def resume_after_kill(root: Path, again: Callable[[Path], None]) -> None:
    """Run ``again`` once the killed process's lock is free: at once on SQLite (the kernel
    drops a dead process's flock), on PostgreSQL when the server has seen its connection
    close (within milliseconds)."""
    deadline = time.monotonic() + 5.0
    while True:
        try:
            again(root)
            return
        except WorkspaceBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@pytest.mark.parametrize("action", ["promote", "rollback"])
def test_an_action_killed_after_any_write_is_repaired_by_running_it_again(
    action: str,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schemas = request.getfixturevalue("pg_schemas") if backend == "postgresql" else None
    base = tmp_path / "base"
    copies = Copies(base, schemas, monkeypatch)
    built_data = fleet()
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
        with copies.prepared():
            built = build_workspace(base)
            assert train_naive_version(built) == "2"
            if action == "rollback":  # a rollback needs a promotion to undo
                with open_workspace(base) as ws:
                    promote(ws, "2", caller=Principal("ops", "operator"), reason="before", at=AT)
            with copies.copy("clean") as (clean, url):
                res = killer.run(clean, 0, url, action=action, **job)
                assert res.returncode == 0, res.output[-3000:]
                assert res.calls, "the action wrote nothing"
                assert any(c.startswith("mlflow.") for c in res.calls), res.calls  # the alias
                assert sum(c.startswith("store.") for c in res.calls) >= 2, res.calls
                copies.use(url)
                expected = agreed(clean)
            assert expected["alias_store"] == expected["alias_mlflow"]
            assert set(expected["deployment"].values()) == {"2" if action == "promote" else "1"}
            failures = []
            for k in range(1, len(res.calls) + 1):
                with copies.copy(f"killed-{k}") as (target, url):
                    killed = killer.run(target, k, url, action=action, **job)
                    assert killed.returncode == -9, (k, res.calls[k - 1], killed.output[-2000:])
                    copies.use(url)
                    resume_after_kill(target, again)
                    got = agreed(target)
                if got != expected:
                    diff = {key: got[key] for key in got if got[key] != expected[key]}
                    failures.append((k, res.calls[k - 1], diff))
            assert not failures, failures
    finally:
        killer.close()
