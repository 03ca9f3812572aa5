"""Run the README's walk-throughs as a new user would: a marked shell block, whole, in an
empty folder, with the installed `chronoguard` and real processes (the CLI, the HTTP
service, curl).

A block is the first ```bash fence after its marker line, ``<!-- walkthrough:
tests/test_x.py runs this block -->``, so the README names the test that keeps it honest.
The only change made to the script is its ports, each replaced by a free one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.serving.support import free_port

README = Path(__file__).resolve().parents[1] / "README.md"


def marker(test_file: str) -> str:
    """The README line that marks the block ``test_file`` (``tests/…py``) runs."""
    return f"<!-- walkthrough: {test_file} runs this block -->"


def readme_block(test_file: str) -> str:
    """The bash block after the marker naming ``test_file``; fails when either is missing."""
    text = README.read_text()
    mark = marker(test_file)
    assert mark in text, f"the README lost its walk-through marker {mark!r}"
    block = re.search(r"```bash\n(.*?)```", text[text.index(mark) :], re.S)
    assert block is not None, f"no bash block after the marker {mark!r}"
    return block.group(1)


def run_block(
    script: str, cwd: Path, *, port: str | tuple[str, ...], timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``bash -euo pipefail`` in ``cwd``, its ``port`` (or each of
    several: a server and the local receivers it talks to) replaced by a free one, without
    the caller's ``CHRONOGUARD_*`` variables and with this interpreter's scripts
    (``chronoguard``, ``python``) first on the PATH."""
    for p in (port,) if isinstance(port, str) else port:
        assert script.count(p) >= 2, f"the block does not use port {p} at both its ends"
        script = script.replace(p, str(free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHRONOGUARD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
