"""The command line, run as a user runs it: a subprocess of ``python -m chronoguard``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.data import dataset_path

TIMEOUT = 600


def cg(
    *args: str | Path, cwd: Path | None = None, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # tables unwrapped, as on a wide terminal
    if token is not None:
        env["CHRONOGUARD_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "chronoguard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
    )


def first_token(ws: Path) -> str:
    """The workspace's first token (an admin), created by `chronoguard token create`."""
    res = cg("token", "create", "root", "--role", "admin", "--workspace", ws)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def new_token(ws: Path, admin: str, name: str, role: str) -> str:
    res = cg("token", "create", name, "--role", role, "--workspace", ws, token=admin)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def write_config(path: Path, **model: str) -> Path:
    name = model.get("name", "AutoETS")
    path.write_text(
        f"""
[data]
freq = "MS"
season_length = 12

[model]
name = "{name}"
registered_name = "uk"

[forecast]
horizon = 6

[training]
initial_window = 96
"""
    )
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    ws = tmp_path_factory.mktemp("demo") / "ws"
    res = cg("demo", "--workspace", ws)
    assert res.returncode == 0, res.stdout + res.stderr
    return ws, json.loads((ws / "summary.json").read_text())


@pytest.mark.slow
def test_demo_summary_has_the_promised_fields(demo: tuple[Path, dict]) -> None:
    _ws, s = demo
    for a in s["alerts"]:
        assert {"ds", "unique_id", "kind", "statistic", "p_value", "threshold"} <= set(a)
    for r in s["retrains"]:
        assert {"ds", "trigger", "version", "outcome", "challenger_error", "champion_error"} <= set(
            r
        )
        assert r["outcome"] in ("promoted", "rejected")
    assert all({"ds", "version"} <= set(c) for c in s["champion_history"])
    assert s["mae"] > 0 and s["mase"] > 0
    assert Path(s["report"]).exists() and Path(s["report"]).stat().st_size > 10_000


@pytest.mark.slow
def test_demo_detects_the_seat_belt_law_and_governs_retraining(demo: tuple[Path, dict]) -> None:
    _, s = demo
    law = pd.Timestamp("1983-02-01")
    after = [pd.Timestamp(a["ds"]) for a in s["alerts"] if pd.Timestamp(a["ds"]) >= law]
    assert after and min(after) <= law + pd.DateOffset(months=3), s["alerts"]
    before = [a for a in s["alerts"] if pd.Timestamp(a["ds"]) < law]
    assert len(before) <= 3, before  # 72 monthly checks before the law: no alert storm
    assert len(s["retrains"]) >= 1
    promoted = [r for r in s["retrains"] if r["outcome"] == "promoted"]
    assert promoted
    for r in s["retrains"]:  # a challenger that lost is never promoted
        if r["challenger_error"] >= r["champion_error"]:
            assert r["outcome"] == "rejected"
    assert s["champion_history"][-1]["version"] == promoted[-1]["version"] == s["champion"]


@pytest.mark.slow
def test_registry_after_demo_has_lineage_and_old_versions_forecast(
    demo: tuple[Path, dict], tmp_path: Path
) -> None:
    ws, s = demo
    from chronoguard.registry import ModelRegistry

    reg = ModelRegistry.for_workspace(ws)
    versions = reg.list_versions("uk-drivers-ksi")
    assert len(versions) >= 2
    assert reg.resolve("uk-drivers-ksi", "champion") == s["champion"]
    for v in versions:
        lin = v.lineage
        assert len(lin.data_fingerprint) == 64 and lin.train_start and lin.train_end and lin.trigger
        assert lin.chronoguard_version
        if v.version != "1":
            assert lin.parent_version
    out = tmp_path / "fc.csv"
    res = cg(
        "forecast",
        "--workspace",
        ws,
        "--data",
        dataset_path("seatbelts"),
        "--version",
        "1",
        "--output",
        out,
    )
    assert res.returncode == 0, res.stderr
    fc = pd.read_csv(out)
    assert len(fc) == 12 and fc["ds"].iloc[0] == "1985-01-01"
    res = cg("versions", "--workspace", ws)
    assert res.returncode == 0 and "champion" in res.stdout


def test_duplicate_timestamps_fail_clearly_and_write_nothing(tmp_path: Path) -> None:
    df = pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y"]]
    bad = pd.concat([df, df.iloc[[100]]]).sort_values("ds")
    bad.to_csv(tmp_path / "bad.csv", index=False)
    ws = tmp_path / "ws"
    res = cg(
        "replay",
        "--data",
        tmp_path / "bad.csv",
        "--config",
        write_config(tmp_path / "c.toml"),
        "--workspace",
        ws,
    )
    assert res.returncode == 2
    assert "duplicate timestamps" in res.stderr and "bad.csv" in res.stderr
    assert not ws.exists()


def test_unknown_model_name_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    res = cg(
        "replay",
        "--data",
        dataset_path("seatbelts"),
        "--config",
        write_config(tmp_path / "c.toml", name="Prophet"),
        "--workspace",
        ws,
    )
    assert res.returncode == 2
    assert "unknown model name 'Prophet'" in res.stderr and "AutoETS" in res.stderr
    assert not ws.exists()
    res = cg("init", "--workspace", ws, "--config", tmp_path / "c.toml")
    assert res.returncode == 2 and not ws.exists()


def test_unknown_version_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cfg = write_config(tmp_path / "c.toml", name="SeasonalNaive")
    assert cg("init", "--workspace", ws, "--config", cfg).returncode == 0
    admin = first_token(ws)
    small = tmp_path / "d.csv"
    pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y"]].head(100).to_csv(
        small, index=False
    )
    res = cg("train", "--workspace", ws, "--data", small, token=admin)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "fc.csv"
    res = cg("forecast", "--workspace", ws, "--data", small, "--version", "99", "--output", out)
    assert res.returncode == 2
    assert "no version 99" in res.stderr and "known versions: 1" in res.stderr
    assert not out.exists()
    res = cg("promote", "--workspace", ws, "7", token=admin)
    assert res.returncode == 2 and "no version 7" in res.stderr


def test_commands_without_a_workspace_say_how_to_create_one(tmp_path: Path) -> None:
    res = cg("versions", "--workspace", tmp_path / "nothing")
    assert res.returncode == 2 and "chronoguard init" in res.stderr
    assert not (tmp_path / "nothing").exists()


def test_every_command_has_help() -> None:
    for cmd in (
        "init",
        "train",
        "forecast",
        "monitor",
        "retrain",
        "promote",
        "rollback",
        "versions",
        "cycle",
        "schedule",
        "deployment",
        "replay",
        "demo",
        "decisions",
        "alerts list",
        "alerts ack",
    ):
        res = cg(*cmd.split(), "--help")
        assert res.returncode == 0 and "--workspace" in res.stdout, cmd


def test_operator_workflow_train_forecast_monitor_retrain_promote_rollback(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    cfg = write_config(tmp_path / "c.toml", name="AutoETS")
    seat = pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y"]]
    early, late = tmp_path / "early.csv", tmp_path / "late.csv"
    seat[seat["ds"] <= "1982-12-01"].to_csv(early, index=False)
    seat.to_csv(late, index=False)
    # Forecasts recorded at two origins give two one-step errors by 1983-06: the error
    # checks need at least two that share no shock (one origin's steps all do).
    feb = tmp_path / "feb.csv"
    seat[seat["ds"] <= "1983-02-01"].to_csv(feb, index=False)
    assert cg("init", "--workspace", ws, "--config", cfg).returncode == 0
    admin = first_token(ws)
    alice = new_token(ws, admin, "alice", "operator")
    bob = new_token(ws, admin, "bob", "operator")
    res = cg("train", "--workspace", ws, "--data", early, "--until", "1980-12-01", token=alice)
    assert res.returncode == 0 and "version 1" in res.stdout and "deployed" in res.stdout, (
        res.stderr
    )
    res = cg("forecast", "--workspace", ws, "--data", early, "--record", token=alice)
    assert res.returncode == 0, res.stderr
    res = cg("forecast", "--workspace", ws, "--data", feb, "--record", token=alice)
    assert res.returncode == 0, res.stderr
    res = cg("monitor", "--workspace", ws, "--data", late, "--now", "1983-06-01", token=alice)
    from chronoguard.lifecycle import open_workspace

    with open_workspace(ws) as w:
        stored = w.store.get_monitoring_results(ds_from="1983-06-01", ds_to="1983-06-01")
    alerting = [
        r for r in stored.itertuples() if r.decision and not (r.details or {}).get("advisory")
    ]
    # Exit 3 exactly when a check that alerts fired (documented for schedulers).
    assert res.returncode == (3 if alerting else 0), res.stderr
    assert "performance_decay" in res.stdout and "data_quality" in res.stdout
    res = cg("retrain", "--workspace", ws, "--data", late, "--reason", "law change", token=alice)
    assert res.returncode == 0, res.stderr
    assert "challenger v2" in res.stdout and ("promoted" in res.stdout or "rejected" in res.stdout)
    res = cg(
        "promote",
        "--workspace",
        ws,
        "2",
        "--reason",
        "planning approved",
        token=alice,
    )
    assert res.returncode == 0, res.stderr
    assert "deployed v2 to 1 series (from v1)" in res.stdout or "already serves" in res.stdout
    res = cg("rollback", "--workspace", ws, "--reason", "bad week", token=bob)
    assert res.returncode == 0 and "rolled back 1 series: v2 → v1" in res.stdout, res.stderr
    res = cg("deployment", "--workspace", ws, "--series", "uk_drivers_ksi")
    assert res.returncode == 0 and "rollback: bad week" in res.stdout, res.stderr
    from chronoguard.lifecycle import open_workspace

    with open_workspace(ws) as opened:
        store = opened.store
        moves = store.alias_history("uk", "champion")
        assert [m.version for m in moves][-2:] == ["2", "1"]
        assert moves[-1].moved_by == "bob" and moves[-1].reason == "rollback: bad week"
        assert store.list_retrains("uk")[0].trigger == "law change"
        assert len(store.get_monitoring_results()) > 0
        assert store.verify_audit_chain().ok
