"""Start-up of the command line: light imports, ``--version``, and usage mistakes without tracebacks.

Speed itself is measured by bench/cli_startup.py; these tests check its structural cause (what
importing the CLI loads) and what a user sees, each in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

# Each of these costs a large share of a second (or several) to import; none is needed to parse
# the command line, print help or the version, or validate a configuration.
HEAVY = ("statsforecast", "numba", "mlflow", "statsmodels", "matplotlib", "sqlalchemy", "pandas")

TIMEOUT = 120


def loaded_after(statement: str) -> list[str]:
    """The HEAVY modules in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    probe = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert res.returncode == 0, res.stderr
    loaded: list[str] = json.loads(res.stdout.splitlines()[-1])
    return loaded


def cg(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # Wide and colourless, so that a message is neither wrapped nor split by colour codes.
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "chronoguard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


@pytest.mark.parametrize("module", ["chronoguard.cli", "chronoguard.config"])
def test_importing_leaves_the_heavy_libraries_out(module: str) -> None:
    assert loaded_after(f"import {module}") == []


def test_the_probe_sees_a_heavy_import() -> None:
    # The forecasting backends do need statsforecast: an empty answer above is not a blind probe.
    assert {"statsforecast", "pandas"} <= set(
        loaded_after("import chronoguard.forecasting.factory")
    )


def test_validating_a_model_name_needs_no_backend() -> None:
    statement = (
        "from chronoguard.config import parse_config\n"
        "assert parse_config({'model': {'name': 'SARIMAX'}}).model.name == 'SARIMAX'"
    )
    assert loaded_after(statement) == []


def test_version_prints_the_installed_version() -> None:
    res = cg("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"chronoguard {version('chronoguard')}\n"


@pytest.mark.parametrize(
    ("args", "hint", "message"),
    [
        (["trian"], "chronoguard --help", "No such command 'trian'. Did you mean 'train'"),
        (["train", "--workspace", "{ws}"], "chronoguard train --help", "Missing option '--data'"),
        (
            ["versions", "--workspace", "{ws}", "--bogus"],
            "chronoguard versions --help",
            "No such option: --bogus",
        ),
        (
            ["forecast", "--workspace", "{ws}", "--data", "{ws}.csv", "--horizon", "twelve"],
            "chronoguard forecast --help",
            "Invalid value for '--horizon'",
        ),
        (["--bogus"], "chronoguard --help", "No such option: --bogus"),
    ],
    ids=["misspelt-command", "missing-option", "unknown-option", "bad-value-type", "top-level"],
)
def test_usage_mistake_prints_usage_and_exits_2(
    tmp_path: Path, args: list[str], hint: str, message: str
) -> None:
    ws = tmp_path / "ws"
    res = cg(*(a.format(ws=ws) for a in args))
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith("Usage: chronoguard")
    assert f"Try '{hint}' for help." in res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stdout == ""
    assert not ws.exists()


def test_no_command_shows_the_help_and_exits_2() -> None:
    res = cg()
    assert res.returncode == 2
    assert "Usage: chronoguard" in res.stdout + res.stderr and "train" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_chronoguard_error_exits_2_with_its_message(tmp_path: Path) -> None:
    res = cg("versions", "--workspace", tmp_path / "nothing")
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and "chronoguard init --workspace" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
