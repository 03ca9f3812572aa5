"""A cycle killed (SIGKILL) right after any of its MLflow or store writes, then run again,
reaches exactly the state of a cycle that was never interrupted.

The cycle under test retrains one series, gates it, promotes it and moves the MLflow alias:
every kind of write the loop makes. Each kill starts from a copy of the same prepared
workspace at a new path (the copies' MLflow databases still name the prepared workspace's
artifact folder, where every new run gets a folder of its own; a new path also keeps
MLflow's per-URI engine cache from reading a replaced file). The killed cycle runs in a
child process, the resumed one in this process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.orchestration.test_cycle import config, fleet, state, timeline

TARGET = pd.Timestamp("1981-10-01")  # the shocked series' retrain that passes the gate

# Run in a child: wrap every writing method of the store and of MLflow's client so the
# process kills itself right after the k-th such call returns (k = 0: only count them).
CHILD = r"""
import json, os, signal, sys
import pandas as pd
from mlflow.tracking import MlflowClient
from chronoguard.store import Store
from chronoguard.lifecycle import open_workspace
from chronoguard.orchestration import run_cycle

ws_dir, data_path, now, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
calls = []
READS = ("get_", "list_", "last_", "current_", "verify", "audit_log", "lock", "transaction",
         "close", "alias_history", "version_history", "deployment_history",
         "series_check_history", "search_")
WRITES = ("create_", "log_", "set_", "update_", "delete_", "transition_", "record_")

def wrap(cls, name, label):
    fn = getattr(cls, name)
    def wrapped(*a, **k):
        out = fn(*a, **k)
        calls.append(label + "." + name)
        if kill_at and len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(cls, name, wrapped)

for name in list(vars(MlflowClient)):
    if name.startswith(WRITES):
        wrap(MlflowClient, name, "mlflow")
names = {
    name
    for klass in Store.__mro__
    for name, member in vars(klass).items()
    if callable(member) and not name.startswith(("_", *READS)) and name != "open"
}
for name in sorted(names):
    wrap(Store, name, "store")

data = pd.read_pickle(data_path)
with open_workspace(ws_dir) as ws:
    run_cycle(ws, data, freq="MS", now=pd.Timestamp(now))
print(json.dumps(calls))
"""


def child(ws_dir: Path, data: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(ws_dir), str(data), str(TARGET), str(kill_at)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def full_state(ws_dir: Path) -> dict[str, object]:
    s = state(ws_dir)
    with open_workspace(ws_dir) as ws:
        m = ws.model_name
        cycles = [(c.now, c.status, c.stage, dict(c.summary)) for c in ws.store.list_cycles(m)]
        intents = [(i.kind, i.key, i.status) for i in ws.store.open_intents(m)]
        runs = ws.registry._client.search_runs([ws.registry._experiment_id])
        s |= {
            "cycles": cycles,
            "open_intents": intents,
            "alias": (ws.registry.get_alias(m, "champion"), ws.store.current_alias(m, "champion")),
            "running": [r.info.run_id for r in runs if r.info.status == "RUNNING"],
            "audit_ok": ws.store.verify_audit_chain() is None,
        }
    return s


def copy_of(base: Path, name: str) -> Path:
    target = base.parent / name
    shutil.copytree(base, target)
    return target


@pytest.mark.slow
def test_a_cycle_killed_after_any_write_resumes_to_the_uninterrupted_state(
    tmp_path: Path,
) -> None:
    df = fleet()
    data = tmp_path / "fleet.pkl"
    df.to_pickle(data)
    base = tmp_path / "base"
    with init_workspace(base, config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            if now >= TARGET:
                break
            run_cycle(ws, df, freq="MS", now=now, cache=cache)

    ws_dir = copy_of(base, "uninterrupted")
    res = child(ws_dir, data, 0)
    assert res.returncode == 0, res.stderr
    calls = json.loads(res.stdout.strip().splitlines()[-1])
    expected = full_state(ws_dir)
    assert expected["open_intents"] == [] and expected["running"] == []
    alias = expected["alias"]
    assert isinstance(alias, tuple) and alias[0] == alias[1]
    decisions = expected["decisions"]
    assert isinstance(decisions, list)
    promoted = [d for d in decisions if d[0] == TARGET and d[5] == "promoted"]
    assert promoted, "the target cycle must promote a retrained series"
    assert any(c.startswith("mlflow.") for c in calls) and any(
        c.startswith("store.") for c in calls
    )

    failures = []
    for k in range(1, len(calls) + 1):
        ws_dir = copy_of(base, f"killed-{k}")
        killed = child(ws_dir, data, k)
        assert killed.returncode == -9, (k, calls[k - 1], killed.stderr[-2000:])
        with open_workspace(ws_dir) as ws:
            run_cycle(ws, df, freq="MS", now=TARGET)
        got = full_state(ws_dir)
        if got != expected:
            diff = [key for key in expected if got.get(key) != expected[key]]
            failures.append((k, calls[k - 1], diff))
        shutil.rmtree(ws_dir)
    assert not failures, failures
