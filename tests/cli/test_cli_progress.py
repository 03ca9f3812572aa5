"""Progress bars of the command line: on stderr when it is a terminal, never elsewhere.

`chronoguard train` runs as a user runs it, once with stderr on a pseudo-terminal (the bar
is drawn there) and once with stderr a pipe (nothing is drawn; stdout is the same).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chronoguard.data import dataset_path

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")


def _cg(*args: object, env: dict[str, str], stderr: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronoguard", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[data]\nfreq = "MS"\nseason_length = 12\n[model]\nname = "SeasonalNaive"\n'
        "[forecast]\nhorizon = 6\n[training]\ninitial_window = 72\nbacktest_windows = 2\n"
    )
    ws = tmp_path / "ws"
    env = {**os.environ, "COLUMNS": "200"}
    assert _cg("init", "-w", ws, "-c", cfg, env=env, stderr=subprocess.PIPE).returncode == 0
    res = _cg(
        "token", "create", "root", "--role", "admin", "-w", ws, env=env, stderr=subprocess.PIPE
    )
    assert res.returncode == 0, res.stderr
    return ws, {**env, "CHRONOGUARD_TOKEN": res.stdout.strip()}


def test_train_draws_a_bar_on_a_terminal_and_nothing_on_a_pipe(
    workspace: tuple[Path, dict[str, str]],
) -> None:
    ws, env = workspace
    data = dataset_path("seatbelts")
    master, slave = os.openpty()
    try:
        on_tty = _cg("train", "-w", ws, "-d", data, env=env, stderr=slave)
        os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(master)
    assert on_tty.returncode == 0
    assert b"train" in drawn and b"fitting series" in drawn
    on_pipe = _cg("train", "-w", ws, "-d", data, env=env, stderr=subprocess.PIPE)
    assert on_pipe.returncode == 0, on_pipe.stderr
    assert "fitting" not in on_pipe.stderr and "━" not in on_pipe.stderr
    assert "fitting" not in on_pipe.stdout and "fitting" not in on_tty.stdout
