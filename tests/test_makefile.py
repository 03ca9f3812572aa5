"""The Makefile's everyday targets, as `make -n` (a dry run) says they would run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*targets: str, **variables: str) -> list[str]:
    # -o install: the venv counts as up to date, so only the target's own recipe is shown.
    res = subprocess.run(
        ["make", "-n", "-o", "install", *targets, *(f"{k}={v}" for k, v in variables.items())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


@pytest.mark.parametrize(
    ("target", "var"), [("demo", "WORKSPACE"), ("demo-fleet", "FLEET_WORKSPACE")]
)
def test_the_demo_replaces_its_workspace_so_it_runs_again(target: str, var: str) -> None:
    lines = dry_run(target, **{var: "some-ws"})
    removal = next(
        i for i, line in enumerate(lines) if line.startswith("rm -rf") and "some-ws" in line
    )
    replay = next(i for i, line in enumerate(lines) if "chronoguard demo" in line)
    assert removal < replay and "some-ws" in lines[replay]


def test_clean_keeps_the_venv_and_distclean_removes_it() -> None:
    clean = "\n".join(dry_run("clean", VENV="the-venv", WORKSPACE="ws1", FLEET_WORKSPACE="ws2"))
    assert "the-venv" not in clean
    for removed in ("ws1", "ws2", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build"):
        assert removed in clean
    distclean = dry_run("distclean", VENV="the-venv")
    assert any(line.startswith("rm -rf") and "the-venv" in line for line in distclean)
    assert "ws1" in "\n".join(dry_run("distclean", WORKSPACE="ws1"))  # it cleans first


def test_the_demo_never_removes_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    res = subprocess.run(
        ["make", "-o", "install", "demo", f"WORKSPACE={keep}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    assert "not a chronoguard workspace" in res.stderr
    assert (keep / "notes.txt").read_text() == "mine"
