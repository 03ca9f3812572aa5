"""A workspace is a portable folder: copied, moved or restored, it loads every version.

MLflow records absolute artifact locations (where the workspace was when a version was
logged); the registry finds them below the workspace's own ``mlartifacts/`` instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.errors import ArtifactIntegrityError
from chronoguard.lifecycle import deploy_series, init_workspace, open_workspace, train_version
from tests.helpers import seatbelts, small_config

T = pd.Timestamp("1980-01-01")
CFG = small_config(model={"name": "SeasonalNaive"}, training={"backtest_windows": 1})
SERIES = "uk_drivers_ksi"


@pytest.fixture(autouse=True)
def _embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    # The embedded default: MLflow on SQLite and the state store inside the folder.
    for var in ("CHRONOGUARD_STORE_URL", "CHRONOGUARD_TRACKING_URI", "CHRONOGUARD_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def train_and_deploy(ws, until: str, i: int) -> str:  # type: ignore[no-untyped-def]
    tv = train_version(
        seatbelts(until), CFG, ws.registry, freq="MS", now=pd.Timestamp(until), trigger=f"t{i}"
    )
    version = str(tv.version.version)
    deploy_series(
        ws, {SERIES: version}, by="tester", reason=f"p{i}", at=T + pd.DateOffset(months=i)
    )
    return version


def forecasts(root: Path) -> dict[str, pd.DataFrame]:
    """Every version of the workspace at ``root``, loaded and forecasting."""
    with open_workspace(root) as ws:
        versions = ws.registry.list_versions(ws.model_name)
        assert versions
        return {
            v.version: ws.registry.load(ws.model_name, v.version).forecaster.predict(6)
            for v in versions
        }


def build(root: Path) -> dict[str, pd.DataFrame]:
    with init_workspace(root, CFG) as ws:
        assert [train_and_deploy(ws, u, i) for i, u in enumerate(("1976-12-01", "1978-12-01"))] == [
            "1",
            "2",
        ]
    return forecasts(root)


def assert_same(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert sorted(got) == sorted(expected)
    for version, frame in expected.items():
        pd.testing.assert_frame_equal(got[version], frame)


@pytest.mark.parametrize("original", ["deleted", "renamed"])
def test_a_copied_workspace_loads_every_version(tmp_path: Path, original: str) -> None:
    first = tmp_path / "first" / "ws"
    expected = build(first)
    copy = tmp_path / "elsewhere" / "restored-ws"
    shutil.copytree(first, copy)
    if original == "deleted":
        shutil.rmtree(first)
    else:
        first.rename(tmp_path / "first" / "old-ws")
    assert_same(forecasts(copy), expected)
    with open_workspace(copy) as ws:  # the lineage and the serving state came along too
        assert ws.registry.resolve(ws.model_name, "champion") == "2"
        assert {v.version: v.aliases for v in ws.registry.list_versions(ws.model_name)} == {
            "1": (),
            "2": ("champion",),
        }
        assert ws.store.verify_audit_chain().ok


def test_a_moved_workspace_keeps_new_versions_inside_itself(tmp_path: Path) -> None:
    first, second, third = (tmp_path / n / "ws" for n in ("a", "b c", "c"))
    expected = build(first)
    shutil.copytree(first, second)
    shutil.rmtree(first)
    with open_workspace(second) as ws:
        assert train_and_deploy(ws, "1979-12-01", 2) == "3"
    # Its artifacts went into the workspace, not to where it was first created.
    assert not first.exists()
    expected["3"] = forecasts(second)["3"]
    # ... so the workspace moves again, whole.
    shutil.copytree(second, third)
    shutil.rmtree(second)
    assert_same(forecasts(third), expected)


def test_a_tampered_copy_is_still_refused(tmp_path: Path) -> None:
    # Loading from the copy's own folder keeps the digest check: a changed byte is refused.
    first, copy = tmp_path / "a" / "ws", tmp_path / "b" / "ws"
    build(first)
    shutil.copytree(first, copy)
    shutil.rmtree(first)
    models = sorted((copy / "mlartifacts").rglob("python_model.pkl"))
    assert len(models) == 2
    for p in models:
        p.write_bytes(p.read_bytes() + b"\0")
    with open_workspace(copy) as ws, pytest.raises(ArtifactIntegrityError, match="do not match"):
        ws.registry.load(ws.model_name, "1")


def cg(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CHRONOGUARD_TOKEN"}
    env["COLUMNS"] = "200"  # tables unwrapped, as on a wide terminal
    return subprocess.run(
        [sys.executable, "-m", "chronoguard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_the_cli_forecasts_every_version_from_a_moved_workspace(tmp_path: Path) -> None:
    first, moved = tmp_path / "a" / "ws", tmp_path / "b" / "ws"
    build(first)
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    out = tmp_path / "fc.csv"
    data = tmp_path / "seat.csv"
    seatbelts("1978-12-01").to_csv(data, index=False)
    for version in ("1", "2"):
        res = cg(
            "forecast", "--workspace", moved, "--data", data, "--version", version, "--output", out
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert len(pd.read_csv(out)) == 6
