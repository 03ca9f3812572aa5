"""A cycle killed (SIGKILL) right after any of its MLflow or store writes, then run again,
reaches exactly the state of a cycle that was never interrupted, on SQLite and PostgreSQL.

The cycle under test retrains one series, gates it, promotes it and serves the next
forecasts: it makes every kind of write of a retrain and a promotion (MLflow run, logged
model, model version and its tags; the store's ledger, decisions, statuses, deployment,
watches and forecasts). The champion alias stays where it is (it follows the version that
serves most series), so no alias write happens here.

Each kill starts from a copy of the same prepared workspace at a new path (the copies'
MLflow databases still name the prepared workspace's artifact folder, where every new run
gets a folder of its own; a new path also keeps MLflow's per-URI engine cache from reading
a replaced file). On PostgreSQL each copy also gets a copy of the prepared store in a
schema of its own. The killed cycle runs in a child process, the resumed one in this
process.

The children are forked from one helper process that imported chronoguard, MLflow and the
write counters once: each child is still a process of its own that opens the workspace,
runs the cycle and dies by SIGKILL, but does not pay the imports (most of its time) again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, MetaData, text

from chronoguard.config import RolloutConfig
from chronoguard.errors import WorkspaceBusyError
from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from chronoguard.store import Store
from tests.helpers import readline_within
from tests.orchestration.test_cycle import config, fleet, state, timeline

TARGET = pd.Timestamp("1981-10-01")  # the shocked series' retrain that passes the gate
STORE_URL = "CHRONOGUARD_STORE_URL"
TIMEOUT = 600

# The write counters: every writing method of the store and of MLflow's client appends
# its name to ``calls`` when it returns, and the process kills itself (SIGKILL) right after
# the ``kill_at``-th (0: only count), among the calls ``counting()`` admits. Shared with
# the service's crash test (tests/serving/test_service_crash.py).
WRITE_COUNTERS = r"""
import os, signal
from mlflow.tracking import MlflowClient
from chronoguard.store import Store
calls = []
kill_at = 0
READS = ("get_", "list_", "last_", "current_", "verify", "audit_log", "lock", "transaction",
         "close", "alias_history", "version_history", "deployment_history",
         "series_check_history", "search_")
WRITES = ("create_", "log_", "set_", "update_", "delete_", "transition_", "record_",
          "finalize_")

def counting():  # which calls count: every one (the service's test counts its actions')
    return True

def wrap(cls, name, label):
    fn = getattr(cls, name)
    def wrapped(*a, **k):
        out = fn(*a, **k)
        if not counting():
            return out
        calls.append(label + "." + name)
        if kill_at and len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(cls, name, wrapped)

# Public and private: MLflow registers a model version through `_create_model_version`
# and logs a model through `_create_logged_model`.
for name in list(vars(MlflowClient)):
    if name.lstrip("_").startswith(WRITES) and callable(vars(MlflowClient)[name]):
        wrap(MlflowClient, name, "mlflow")
names = {
    name
    for klass in Store.__mro__
    for name, member in vars(klass).items()
    if callable(member) and not name.startswith(("_", *READS)) and name != "open"
}
for name in sorted(names):
    wrap(Store, name, "store")
"""

# The helper process: wraps every writing method of the store and of MLflow's client so
# that a child kills itself right after the k-th such call returns (k = 0: only count
# them), then forks one child per request read from stdin (a JSON line: workspace, k, the
# store URL or null for the workspace's own SQLite file, where to write the calls and the
# child's output) and answers each with the child's exit code once it has ended.
SERVER = (
    r"""
import json, os, signal, sys
import pandas as pd
from chronoguard.lifecycle import open_workspace
from chronoguard.orchestration import run_cycle

data_path, now = sys.argv[1], pd.Timestamp(sys.argv[2])
data = pd.read_pickle(data_path)
"""
    + WRITE_COUNTERS
    + r"""

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        break
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
else:
    sys.exit(0)

# The child: its output goes to its own file, then it runs the cycle and ends like any
# process (an uncaught error exits 1 with its traceback).
out = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(out, 1)
os.dup2(out, 2)
os.close(out)
if job["store_url"] is None:
    os.environ.pop("CHRONOGUARD_STORE_URL", None)
else:
    os.environ["CHRONOGUARD_STORE_URL"] = job["store_url"]
kill_at = job["kill_at"]
action = job.get("action", "cycle")
with open_workspace(job["ws_dir"]) as ws:
    if action == "cycle":
        run_cycle(ws, data, freq="MS", now=now)
    else:  # a governance action, as the CLI and the HTTP service run it
        from chronoguard.lifecycle import operations
        from chronoguard.lifecycle.access import Principal

        caller = Principal(job["caller"], job["role"])
        at = pd.Timestamp(job["at"])
        selection = operations.Selection.of(job.get("series"), job.get("group"))
        if action == "promote":
            operations.promote(ws, job["version"], caller=caller, selection=selection,
                               reason="the crash test", at=at)
        elif action == "rollback":
            operations.rollback(ws, caller=caller, selection=selection,
                                reason="the crash test", at=at)
        else:
            raise SystemExit(f"unknown action {action!r}")
with open(job["calls"], "w") as f:
    json.dump(calls, f)
"""
)


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    calls: list[str] | None


class Killer:
    """The helper process (see ``SERVER``); ``run`` forks one child and waits for it."""

    def __init__(self, data: Path, logs: Path, now: pd.Timestamp = TARGET) -> None:
        self.logs = logs
        logs.mkdir()
        self._stderr = (logs / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(data), str(now)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def run(self, ws_dir: Path, kill_at: int, store_url: str | None, **action: object) -> Run:
        """Run the cycle (or ``action``: ``action="promote"`` with ``version``, ``caller``,
        ``role``, ``at`` and optionally ``series``/``group``; or ``"rollback"``) in a
        forked child that kills itself after its ``kill_at``-th write."""
        log, calls = self.logs / f"{ws_dir.name}.log", self.logs / f"{ws_dir.name}.json"
        job = {
            "ws_dir": str(ws_dir),
            "kill_at": kill_at,
            "store_url": store_url,
            "log": str(log),
            "calls": str(calls),
            **action,
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = readline_within(self.proc.stdout, TIMEOUT)
        if not line.strip():
            self.close()
            server = (self.logs / "server.log").read_text()[-3000:]
            pytest.fail(f"the helper process gave no exit code for {job}:\n{server}")
        return Run(
            int(line),
            log.read_text() if log.exists() else "",
            json.loads(calls.read_text()) if calls.exists() else None,
        )

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


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
            "audit_ok": ws.store.verify_audit_chain().ok,
            "watches": [
                (w.unique_id, w.opened_at, w.version, w.previous_version, w.kind, w.status)
                for w in ws.store.list_watches(m)
            ],
        }
    return s


def copy_schema(admin: Engine, source: str, target: str, target_url: str) -> None:
    """The store in schema ``source`` copied into the empty schema ``target``: its tables,
    indexes, triggers and sequences made by the migrations, then every row (parents before
    children) and every sequence's position."""
    Store.open(target_url).close()
    tables = MetaData()
    with admin.begin() as conn:
        tables.reflect(conn, schema=source)
        for table in tables.sorted_tables:
            if table.name == "chronoguard_schema_version":  # written by the migration
                continue
            cols = ", ".join(f'"{c.name}"' for c in table.columns)
            conn.execute(
                text(
                    f'INSERT INTO "{target}"."{table.name}" ({cols}) '
                    f'SELECT {cols} FROM "{source}"."{table.name}"'
                )
            )
        sequences = conn.execute(
            text(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = :s"
            ),
            {"s": source},
        ).scalars()
        for seq in list(sequences):
            last, called = conn.execute(
                text(f'SELECT last_value, is_called FROM "{source}"."{seq}"')
            ).one()
            conn.execute(
                text("SELECT setval(:seq, :value, :called)"),
                {"seq": f'"{target}"."{seq}"', "value": last, "called": called},
            )


class Copies:
    """Copies of the prepared workspace, each with its own state: the workspace's SQLite
    file travels with the folder; on PostgreSQL each copy gets a schema of its own."""

    def __init__(self, base: Path, schemas: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.base = base
        self.schemas = schemas  # conftest's PgSchemas, or None for SQLite
        self.monkeypatch = monkeypatch
        self.base_schema: str | None = None

    @contextmanager
    def prepared(self) -> Iterator[None]:
        """The prepared workspace's store exists while the block runs."""
        if self.schemas is None:
            yield
            return
        with self.schemas.fresh() as pg:
            self.base_schema = pg.name
            self.use(pg.url)
            yield

    def use(self, store_url: str | None) -> None:
        """Point workspaces opened in this process at ``store_url`` (None: their folder)."""
        if store_url is None:
            self.monkeypatch.delenv(STORE_URL, raising=False)
        else:
            self.monkeypatch.setenv(STORE_URL, store_url)

    @contextmanager
    def copy(self, name: str) -> Iterator[tuple[Path, str | None]]:
        """A copy of the prepared workspace and its store URL, removed after the block."""
        target = self.base.parent / name
        shutil.copytree(self.base, target)
        try:
            if self.schemas is None:
                yield target, None
                return
            with self.schemas.fresh() as pg:
                assert self.base_schema is not None
                copy_schema(self.schemas.admin, self.base_schema, pg.name, pg.url)
                yield target, pg.url
        finally:
            shutil.rmtree(target)


def resume(ws_dir: Path, df: pd.DataFrame, target: pd.Timestamp = TARGET) -> None:
    """Run the target cycle again in this process, as soon as the killed cycle's lock is
    free: at once on SQLite (the kernel drops a dead process's flock); on PostgreSQL when
    the server has seen the killed connection close, within milliseconds."""
    with open_workspace(ws_dir) as ws:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with ws.lock(holder="the test, after the kill", at=target):
                    break
            except WorkspaceBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        run_cycle(ws, df, freq="MS", now=target)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "stage", "target"),
    [
        ("sqlite", "champion", TARGET),
        pytest.param("postgresql", "champion", TARGET, marks=pytest.mark.postgres),
        # The canary stage's moves: the challenger deployed as a canary, its watch, the
        # version's status and the forecasts under the alias canary. Its first promotion
        # is the shocked series' first passing retrain (after it, the series is on trial
        # and is not retrained again until the trial decides).
        ("sqlite", "canary", pd.Timestamp("1981-04-01")),
    ],
)
def test_a_cycle_killed_after_any_write_resumes_to_the_uninterrupted_state(
    backend: str,
    stage: str,
    target: pd.Timestamp,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schemas = request.getfixturevalue("pg_schemas") if backend == "postgresql" else None
    df = fleet()
    data = tmp_path / "fleet.pkl"
    df.to_pickle(data)
    base = tmp_path / "base"
    copies = Copies(base, schemas, monkeypatch)
    killer = Killer(data, tmp_path / "logs", now=target)
    try:
        with copies.prepared():
            cfg = config().model_copy(  # type: ignore[attr-defined]
                update={"rollout": RolloutConfig(stage=stage, canary_share=1.0)}
            )
            with init_workspace(base, cfg) as ws:
                cache = VersionCache(ws)
                for now in timeline(df)[131:]:
                    if now >= target:
                        break
                    run_cycle(ws, df, freq="MS", now=now, cache=cache)

            with copies.copy("uninterrupted") as (ws_dir, url):
                res = killer.run(ws_dir, 0, url)
                assert res.returncode == 0, res.output[-3000:]
                assert res.calls is not None
                calls = res.calls
                copies.use(url)
                expected = full_state(ws_dir)
            assert expected["open_intents"] == [] and expected["running"] == []
            alias = expected["alias"]
            assert isinstance(alias, tuple) and alias[0] == alias[1]
            decisions = expected["decisions"]
            assert isinstance(decisions, list)
            promoted = [d for d in decisions if d[0] == target and d[5] == "promoted"]
            assert promoted, "the target cycle must promote a retrained series"
            kinds = {w[4] for w in expected["watches"] if w[1] == target}  # type: ignore[union-attr]
            assert kinds == {"canary" if stage == "canary" else "watch"}, expected["watches"]
            assert any(c.startswith("mlflow.") for c in calls) and any(
                c.startswith("store.") for c in calls
            )
            # The writes that register the challenger are among the kill points.
            for write in ("create_run", "create_logged_model", "create_model_version"):
                assert any(c.startswith("mlflow.") and c.endswith(write) for c in calls), (
                    write,
                    calls,
                )

            failures = []
            for k in range(1, len(calls) + 1):
                with copies.copy(f"killed-{k}") as (ws_dir, url):
                    killed = killer.run(ws_dir, k, url)
                    assert killed.returncode == -9, (k, calls[k - 1], killed.output[-2000:])
                    copies.use(url)
                    resume(ws_dir, df, target)
                    got = full_state(ws_dir)
                if got != expected:
                    diff = [key for key in expected if got.get(key) != expected[key]]
                    failures.append((k, calls[k - 1], diff))
            assert not failures, failures
    finally:
        killer.close()
