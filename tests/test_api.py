"""The Python API (``chronoguard.Workspace``): a workspace built and run through it on the
seat-belt fleet (SQLite and PostgreSQL), its role checks, its reads, that it and the CLI
give the same answers, and that ``help(chronoguard)`` stays a short guide."""

from __future__ import annotations

import json
import pydoc
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import chronoguard
from chronoguard import Workspace
from chronoguard.api import MonitorResult
from chronoguard.lifecycle.access import AuthenticationError, PermissionDenied
from chronoguard.lifecycle.operations import PromotionOutcome
from chronoguard.orchestration import CycleOutcome
from chronoguard.orchestration.steps import BatchResult
from chronoguard.store import Alert, AuditEntry, SeriesDecision
from tests.cli.test_cli_access import Cli
from tests.helpers import grant
from tests.serving.support import (
    MODEL,
    ORIGIN_INDEX,
    SERIES,
    build_workspace,
    config,
    fleet,
    train_naive_version,
)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def _dates() -> list[pd.Timestamp]:
    return [pd.Timestamp(d) for d in sorted(fleet()["ds"].unique())]


@pytest.mark.slow
def test_a_workspace_built_and_run_through_the_facade(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHRONOGUARD_STORE_URL", store_url)
    monkeypatch.delenv("CHRONOGUARD_TOKEN", raising=False)
    df, dates = fleet(), _dates()
    origin = dates[ORIGIN_INDEX]
    root = tmp_path / "ws"
    with Workspace.init(root, config()) as ws:
        assert ws.versions() == [] and ws.model_name == MODEL
        op = grant(ws.inner.store, "ana", "operator")
        viewer = grant(ws.inner.store, "eve", "viewer")
    with pytest.raises(chronoguard.ChronoguardError, match="already a chronoguard workspace"):
        Workspace.init(root, config())

    # Without a token (argument or CHRONOGUARD_TOKEN) an action is refused, nothing written.
    with Workspace.open(root) as anon:
        with pytest.raises(AuthenticationError, match="no token given"):
            anon.cycle(df, now=origin)
        assert anon.inner.store.list_cycles(MODEL) == []
        assert anon.deployment().versions == {}

    with Workspace.open(root, token=op) as ws:
        first = ws.cycle(df, now=origin)
        assert isinstance(first, CycleOutcome)
        assert first.n_series == 3 and not first.already_done
        assert ws.deployment().versions == dict.fromkeys(SERIES, "1")
        assert ws.cycle(df, now=origin).already_done

        known = df[df["ds"] <= origin]
        fc = ws.forecast(known, h=2)
        assert sorted(fc["unique_id"].unique()) == list(SERIES)
        assert sorted(fc["ds"].unique()) == dates[ORIGIN_INDEX + 1 : ORIGIN_INDEX + 3]
        assert fc["yhat"].notna().all()
        with pytest.raises(chronoguard.ChronoguardError, match="h must be 1 or more"):
            ws.forecast(known, h=0)
        with pytest.raises(chronoguard.ChronoguardError, match="now 1900-01-01 00:00:00 is not"):
            ws.cycle(df, now="1900-01-01")

        assert ws.cycle(df, now=dates[ORIGIN_INDEX + 1]).checked
        t = dates[ORIGIN_INDEX + 2]
        checked = ws.monitor(df, now=t)
        assert isinstance(checked, MonitorResult) and checked.now == t
        assert set(checked.results["unique_id"]) == set(SERIES)
        assert {"advisory", "alerting"} <= set(checked.results.columns)
        stored = ws.inner.store.get_monitoring_results(ds_from=t, ds_to=t)
        assert len(checked.results) == len(stored) > 0
        assert checked.ok == (not (stored["decision"] & ~checked.results["advisory"]).any())
        assert len(ws.monitor(df, now=t).results) == len(stored)  # recorded once

        later = dates[ORIGIN_INDEX + 3]
        res = ws.retrain(df, series=["north"], reason="by hand", now=later)
        assert isinstance(res, BatchResult)
        assert res.version == "2" and set(res.gates) == {"north"}
        # a seasonal naive challenger forecasts as its champion does: not better by the margin
        assert res.rejected == ("north",) and ws.deployment().version_of("north") == "1"
        decided = ws.decisions(series=["north"], action="retrain")
        assert all(isinstance(d, SeriesDecision) for d in decided)
        assert [d.trigger for d in decided] == ["initial", "by hand"]  # the first cycle's too
        assert (decided[-1].ds, decided[-1].reason) == (later, "manual retrain by ana")
        assert [v.version for v in ws.versions()] == ["1", "2"]

    # promote and rollback: a viewer is refused and nothing moves; an operator moves series.
    with Workspace.open(root, token=viewer) as ws:
        before = ws.deployment().versions
        with pytest.raises(PermissionDenied, match="has role viewer"):
            ws.promote("2", series=["north"])
        with pytest.raises(PermissionDenied, match="has role viewer"):
            ws.rollback(series=["north"])
        assert ws.deployment().versions == before
        assert ws.audit(limit=1)  # a viewer reads
    monkeypatch.setenv("CHRONOGUARD_TOKEN", op)  # the token from the environment
    with Workspace.open(root) as ws:
        out = ws.promote("2", reason="trust it")  # the series it was trained on
        assert isinstance(out, PromotionOutcome)
        assert [(m.unique_id, m.version, m.by) for m in out.moves] == [("north", "2", "ana")]
        assert ws.deployment().versions == {"north": "2", "south": "1", "west": "1"}
        moves = ws.rollback(series=["north"], reason="not yet")
        assert [(m.unique_id, m.previous_version, m.version) for m in moves] == [
            ("north", "2", "1")
        ]
        assert ws.deployment().versions == dict.fromkeys(SERIES, "1")

        alerts = ws.alerts()
        assert all(isinstance(a, Alert) for a in alerts)
        assert ws.alerts(status="open") == [a for a in alerts if a.status == "open"]
        assert ws.approvals() == []
        rows = ws.audit(limit=5)
        assert len(rows) == 5 and all(isinstance(e, AuditEntry) for e in rows)
        assert [e.id for e in rows] == sorted(e.id for e in rows)
        assert rows[-1].actor == "ana"  # the rollback, by the token's name
        verdict = ws.verify_audit()
        assert verdict.ok, str(verdict)
        with pytest.raises(chronoguard.ChronoguardError, match="limit must be 1 or more"):
            ws.audit(limit=0)


@pytest.mark.slow
def test_the_facade_and_the_cli_give_the_same_results(cli: Cli, tmp_path: Path) -> None:
    built = build_workspace(tmp_path / "ws")
    data = tmp_path / "fleet.csv"
    known = built.data[built.data["ds"] <= built.origin]
    known.to_csv(data, index=False)

    # forecast: the same frame from the same inputs
    code, _, err = cli("forecast", "-w", built.root, "-d", data, "-o", tmp_path / "fc.csv")
    assert code == 0, err
    # (each row names the version that made it: text, as the deployment names versions)
    from_cli = pd.read_csv(tmp_path / "fc.csv", parse_dates=["ds"], dtype={"version": str})
    with Workspace.open(built.root) as ws:
        from_api = ws.forecast(known)
    pd.testing.assert_frame_equal(from_api.reset_index(drop=True), from_cli, check_dtype=False)

    # promote: the same moves, whichever way it is asked for
    v = train_naive_version(built)
    code, _, err = cli(
        "promote", v, "-w", built.root, "-s", "north", token=built.tokens["operator"]
    )
    assert code == 0, err
    with Workspace.open(built.root, token=built.tokens["operator"]) as ws:
        ws.promote(v, series=["south"])
        moves = {
            m.unique_id: (m.previous_version, m.version, m.by, m.reason)
            for m in ws.inner.store.deployment_history(MODEL, ["north", "south"])
            if m.version == v
        }
        assert moves == {u: ("1", v, "operator", "manual promotion") for u in ("north", "south")}
        from_api_decisions = ws.decisions()

    # decisions: what `chronoguard decisions --json` prints is what the facade returns
    code, out, err = cli("decisions", "-w", built.root, "--json", "--limit", "1000")
    assert code == 0, err
    printed = json.loads(out)["decisions"]
    assert [(d["unique_id"], d["action"], d["ds"]) for d in printed] == [
        (d.unique_id, d.action, d.ds.isoformat()) for d in reversed(from_api_decisions)
    ]


def test_the_example_workspace_cleans_up_after_itself() -> None:
    with Workspace.example() as ws:
        folder = ws.path
        assert folder.exists() and ws.caller("admin").name == "notebook"
        assert ws.deployment().versions == {"uk_drivers_ksi": "1"}
    assert not folder.exists()


def test_opening_a_folder_that_is_no_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(chronoguard.ChronoguardError, match="chronoguard init --workspace"):
        Workspace.open(tmp_path)


def test_help_of_the_package_is_a_short_guide() -> None:
    # 1,800 lines before the guide (every building block's class in full, pydantic's and the
    # exceptions' inherited methods included); most of what is left is Workspace itself.
    text = pydoc.render_doc(chronoguard, renderer=pydoc.plaintext)
    assert len(text.splitlines()) < 400
    assert "What to import for what" in text and "class Workspace" in text
    assert "model_validate" not in text  # no pydantic noise


def test_every_name_stays_importable_from_the_package() -> None:
    assert "Workspace" in chronoguard.__all__
    for name in dir(chronoguard):  # the names outside __all__ too, documented in their packages
        if not name.startswith("_"):
            assert getattr(chronoguard, name) is not None, name
    assert chronoguard.Workspace is Workspace
    assert chronoguard.Store.__module__.startswith("chronoguard.store")


def test_importing_the_package_leaves_the_facade_and_pandas_out() -> None:
    probe = "import sys, chronoguard; print([m for m in ('pandas', 'chronoguard.api') if m in sys.modules])"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


@pytest.mark.slow
def test_approve_and_reject_through_the_facade(tmp_path: Path) -> None:
    from chronoguard.lifecycle import init_workspace
    from chronoguard.lifecycle.approvals import pending_approvals
    from chronoguard.lifecycle.fleet import VersionCache
    from chronoguard.orchestration import run_cycle
    from tests.lifecycle.test_approvals import config as approvals_config
    from tests.lifecycle.test_approvals import data
    from tests.orchestration.test_cycle import timeline

    root, df = tmp_path / "ws", data()
    with init_workspace(root, approvals_config(expires_after_hours=72.0)) as inner:  # type: ignore[arg-type]
        cache = VersionCache(inner)
        for now in timeline(df)[131:]:
            real = pd.Timestamp.now("UTC").tz_localize(None)  # a test may read the clock
            run_cycle(inner, df, freq="MS", now=now, cache=cache, recorded_at=real)
            if pending_approvals(inner):
                break
        [request] = pending_approvals(inner)
        ana, bo = (grant(inner.store, n, "approver") for n in ("ana", "bo"))
        op = grant(inner.store, "ops", "operator")
    with (
        Workspace.open(root, token=op) as ws,
        pytest.raises(PermissionDenied, match="this needs approver"),
    ):
        ws.approve(request.id)
    with Workspace.open(root, token=ana) as ws:
        first = ws.approve(request.id, reason="plot checked")
        assert first.request.status == "pending" and first.deployed == ()
        assert [a.id for a in ws.approvals()] == [request.id]
    with Workspace.open(root, token=bo) as ws:
        second = ws.approve(request.id, reason="agreed")
        assert second.request.status == "approved"
        assert second.deployed == tuple(request.series)
        assert {u: ws.deployment().version_of(u) for u in request.series} == dict.fromkeys(
            request.series, request.version
        )
        with pytest.raises(chronoguard.ChronoguardError, match="approval request"):
            ws.reject(request.id, reason="too late")  # closed: a clear error, nothing moves
        assert ws.approvals() == []
    # Rolled back, then promoted again in the same cycle: the request of this version and
    # data time is closed, so the promotion is refused with the way out, nothing moved.
    with Workspace.open(root, token=op) as ws:
        ws.rollback(series=list(request.series), reason="second thoughts")
        before = ws.deployment().versions
        with pytest.raises(chronoguard.ChronoguardError, match=r"already closed .*run the next"):
            ws.promote(request.version, series=list(request.series))
        assert ws.deployment().versions == before and ws.approvals() == []
