"""The service itself killed (SIGKILL) at every stage move it makes over HTTP: right after
each MLflow or store write of a promotion, of the approval that deploys a held series, and
of a rollback. The service is started again, the operator sends the same request again,
and the store, MLflow's champion alias, the approval requests and what the restarted
service serves equal a run that was never interrupted; on SQLite and on PostgreSQL.

The fleet's groups are the governance test's: ``coast`` (north, west; deployed at once)
and ``south`` (tier high: a promotion waits for one approver). The killed service runs in
a child forked from one helper process that imported chronoguard, uvicorn and the write
counters of the cycle's crash test once; its writes are counted only while it runs a
governance action, so the background poll's reads never shift the kill points.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pandas as pd
import pytest

from chronoguard.config import ApprovalsConfig, GroupConfig
from chronoguard.lifecycle import open_workspace
from chronoguard.lifecycle.access import Principal
from chronoguard.lifecycle.operations import cast_vote, promote
from chronoguard.serving import create_app
from tests.helpers import readline_within
from tests.orchestration.test_cycle_crash import WRITE_COUNTERS, Copies
from tests.serving.support import (
    MODEL,
    SERIES,
    Built,
    build_workspace,
    config,
    free_port,
    running,
    train_naive_version,
    wait_ready,
)

TIMEOUT = 120.0
# The moves before the one under test, at the service's clock (an approval expires 72 hours
# after it was requested, by that clock).
AT = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")

# The helper process: the write counters, counting only inside a governance action the
# app runs; then one forked child per job read from stdin (a JSON line), which serves the
# workspace on the job's port until it is killed (by itself at its kill_at-th write, or by
# the test with SIGTERM), and the child's exit code written back.
HELPER = (
    WRITE_COUNTERS
    + r"""
import json, sys, threading
import uvicorn
import chronoguard.serving._app as app_module
from chronoguard.serving import create_app

acting = set()
job = None

def counting():
    return threading.get_ident() in acting

def counted(fn):
    def action(*a, **k):
        acting.add(threading.get_ident())
        try:
            return fn(*a, **k)
        finally:
            acting.discard(threading.get_ident())
            with open(job["calls"], "w") as f:
                json.dump(calls, f)
    return action

for name in ("promote", "rollback", "cast_vote"):
    setattr(app_module, name, counted(getattr(app_module, name)))

for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        break
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), flush=True)
else:
    sys.exit(0)

out = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(out, 1)
os.dup2(out, 2)
os.close(out)
if job["store_url"] is None:
    os.environ.pop("CHRONOGUARD_STORE_URL", None)
else:
    os.environ["CHRONOGUARD_STORE_URL"] = job["store_url"]
kill_at = job["kill_at"]
uvicorn.run(create_app(job["ws_dir"], poll_interval=0.1), host="127.0.0.1",
            port=job["port"], log_level="warning")
"""
)


class Services:
    """The helper process; ``start`` forks a service for one workspace copy."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        logs.mkdir()
        self._stderr = (logs / "helper.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HELPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = readline_within(self.proc.stdout, TIMEOUT)
        if not line.strip():
            helper = (self.logs / "helper.log").read_text()[-3000:]
            pytest.fail(f"the helper process gave no answer:\n{helper}")
        return line.strip()

    @contextmanager
    def start(
        self, ws_dir: Path, store_url: str | None, kill_at: int
    ) -> Iterator[tuple[str, Path, list[int]]]:
        """A service of ``ws_dir``, ready; yields its URL, the file of its counted calls and
        a list that receives its exit code once it has ended (SIGTERM if it still runs)."""
        port = free_port()
        job = {
            "ws_dir": str(ws_dir),
            "store_url": store_url,
            "kill_at": kill_at,
            "port": port,
            "log": str(self.logs / f"{ws_dir.name}.log"),
            "calls": str(self.logs / f"{ws_dir.name}.json"),
        }
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        pid = int(self._line())
        url = f"http://127.0.0.1:{port}"
        code: list[int] = []
        try:
            deadline = time.monotonic() + TIMEOUT
            with httpx.Client(base_url=url, timeout=5) as c:
                while True:
                    try:
                        if c.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        log = Path(job["log"]).read_text()[-3000:]
                        pytest.fail(f"the service did not get ready:\n{log}")
                    time.sleep(0.05)
            yield url, Path(job["calls"]), code
        finally:
            with suppress(ProcessLookupError):  # it killed itself
                os.kill(pid, signal.SIGTERM)
            code.append(int(self._line()))

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


def _config():  # type: ignore[no-untyped-def]
    return config().model_copy(
        update={
            "groups": [
                GroupConfig(name="coast", match="[nw]*", tier="standard"),
                GroupConfig(name="south", match="south", tier="high"),
            ],
            "approvals": ApprovalsConfig(policy={"high": "one"}),
        }
    )


def act(url: str, built: Built, action: str, request_id: int | None) -> httpx.Response:
    """The action's request, as the operator (or the approver) sends it."""
    path = {
        "promote": "/promote",
        "approve": f"/approvals/{request_id}/approve",
        "rollback": "/rollback",
    }[action]
    body = {
        "promote": {"version": "2", "reason": "the crash test"},
        "approve": {"reason": "looks right"},
        "rollback": {"reason": "the crash test"},
    }[action]
    role = "approver" if action == "approve" else "operator"
    with httpx.Client(base_url=url, timeout=60, headers=built.headers(role)) as c:
        return c.post(f"/v1/models/{MODEL}{path}", json=body)


def agreed(root: Path, url: str, built: Built) -> dict[str, object]:
    """What must agree after a restart: the store's deployment and its history, statuses,
    the champion alias in the store and in MLflow, the approval requests, the audit chain,
    and the version the service names as serving each series (its forecasts until the
    next cycle forecasts with it are the previous version's, and say so)."""
    with open_workspace(root) as ws:
        state: dict[str, object] = {
            "deployment": dict(ws.store.get_deployment(MODEL).versions),
            "moves": [
                (m.unique_id, m.version, m.previous_version, m.by, m.reason)
                for m in ws.store.deployment_history(MODEL)
            ],
            "statuses": sorted((v.version, v.status) for v in ws.store.list_versions(MODEL)),
            "alias_store": ws.store.current_alias(MODEL, "champion"),
            "alias_mlflow": ws.registry.get_alias(MODEL, "champion"),
            # Without their ids: a request whose transaction died with the service is made
            # again by the retry, and PostgreSQL never hands out a sequence's number twice.
            "approvals": [
                (r.status, r.version, tuple(r.series), r.author)
                for r in ws.store.list_approvals(MODEL, status=None)
            ],
            "audit_ok": ws.store.verify_audit_chain().ok,
        }
    with httpx.Client(base_url=url, timeout=30, headers=built.headers("viewer")) as c:
        wait_ready(c)
        state["served"] = {
            u: c.get(f"/v1/models/{MODEL}/series/{u}/forecast").json()["deployed_version"]
            for u in SERIES
        }
    return state


def retry(url: str, built: Built, action: str, request_id: int | None) -> None:
    """The operator sends the request again once the restarted service can act (a killed
    service's workspace lock is free at once on SQLite, within milliseconds on PostgreSQL).
    A vote on a request the killed service already closed is a clear conflict (409)."""
    with httpx.Client(base_url=url, timeout=30) as c:
        wait_ready(c)
    deadline = time.monotonic() + 10
    while True:
        r = act(url, built, action, request_id)
        if r.status_code == 200:
            return
        if action == "approve" and r.json().get("error") == "approval_conflict":
            return
        busy = r.status_code == 409 and r.json().get("error") == "workspace_busy"
        if busy and time.monotonic() < deadline:
            time.sleep(0.05)
            continue
        raise AssertionError(f"the retried {action} failed: {r.status_code} {r.text}")


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@pytest.mark.parametrize("action", ["promote", "approve", "rollback"])
def test_the_service_killed_at_any_write_of_a_stage_move_agrees_after_a_restart(
    action: str,
    backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schemas = request.getfixturevalue("pg_schemas") if backend == "postgresql" else None
    base = tmp_path / "base"
    copies = Copies(base, schemas, monkeypatch)
    services = Services(tmp_path / "logs")
    request_id: int | None = None
    ops, boss = Principal("ops", "operator"), Principal("approver", "approver")
    try:
        with copies.prepared():
            built = build_workspace(base, _config())
            assert train_naive_version(built) == "2"
            with open_workspace(base) as ws:
                if action != "promote":  # the moves before the one under test
                    out = promote(ws, "2", caller=ops, reason="before", at=AT)
                    (req,) = out.requests
                    request_id = req.id
                if action == "rollback":
                    cast_vote(ws, request_id, caller=boss, choice="approve", reason="ok", at=AT)
            with (
                copies.copy("clean") as (clean, url),
                services.start(clean, url, 0) as (service, calls_file, _),
            ):
                r = act(service, built, action, request_id)
                assert r.status_code == 200, r.text
                calls = json.loads(calls_file.read_text())
                copies.use(url)
                expected = agreed(clean, service, built)
            assert calls and any(c.startswith("store.") for c in calls), calls
            if action != "approve":  # the champion alias follows most of the fleet
                assert any(c.startswith("mlflow.") for c in calls), calls
            assert expected["alias_store"] == expected["alias_mlflow"]
            served = expected["served"]
            assert served == expected["deployment"], expected
            want = {
                "promote": {"north": "2", "south": "1", "west": "2"},  # south waits
                "approve": dict.fromkeys(SERIES, "2"),
                "rollback": dict.fromkeys(SERIES, "1"),
            }
            assert served == want[action]

            failures = []
            for k in range(1, len(calls) + 1):
                with copies.copy(f"killed-{k}") as (target, url):
                    with (
                        services.start(target, url, k) as (service, _, code),
                        pytest.raises(httpx.TransportError),
                    ):
                        act(service, built, action, request_id)
                    assert code == [-9], (k, calls[k - 1], code)
                    copies.use(url)
                    with running(create_app(target, poll_interval=0.1)) as restarted:
                        retry(restarted, built, action, request_id)
                        got = agreed(target, restarted, built)
                if got != expected:
                    diff = {
                        key: (got[key], expected[key]) for key in got if got[key] != expected[key]
                    }
                    failures.append((k, calls[k - 1], diff))
            assert not failures, failures
    finally:
        services.close()
