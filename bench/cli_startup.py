"""Start-up time of the ``chronoguard`` command: ``--help``, ``--version``, ``import chronoguard.config``.

Every run is a fresh process, started as a user starts it: the ``chronoguard`` console script
installed next to this Python (``python -m chronoguard`` where there is none). Method: wall
clock (``perf_counter``) around ``subprocess.run``, one untimed warm-up run of each case first
(the target is for a warm disk cache), then the median of N runs (``--quick``: fewer). The
target is one second for each case; the slowest run is reported too, because a shared machine
has outliers.

The last line of output is one JSON object: ``help_s``, ``version_s``, ``import_config_s``
(medians, seconds), ``target_s``, the runs and the slowest run of each case.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0


def chronoguard_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m chronoguard``."""
    script = Path(sys.executable).with_name("chronoguard")
    if script.exists():
        return [str(script)]
    found = shutil.which("chronoguard")
    return [found] if found else [sys.executable, "-m", "chronoguard"]


def time_runs(cmd: list[str], runs: int) -> list[float]:
    """Wall time of ``runs`` fresh processes of ``cmd`` after one untimed warm-up run."""
    subprocess.run(cmd, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 runs per case instead of --runs")
    ap.add_argument("--runs", type=int, default=11, help="runs per case (default 11)")
    args = ap.parse_args(argv)
    runs = 3 if args.quick else args.runs
    cli = chronoguard_command()
    cases = {
        "help": [*cli, "--help"],
        "version": [*cli, "--version"],
        "import_config": [sys.executable, "-c", "import chronoguard.config"],
    }
    print(f"{' '.join(cli)}: {runs} runs per case after one warm-up run", flush=True)
    medians: dict[str, float] = {}
    slowest: dict[str, float] = {}
    for name, cmd in cases.items():
        times = time_runs(cmd, runs)
        medians[f"{name}_s"] = round(statistics.median(times), 3)
        slowest[f"{name}_s"] = round(max(times), 3)
        print(
            f"{name:<14} median {statistics.median(times):6.3f} s  "
            f"min {min(times):6.3f} s  max {max(times):6.3f} s",
            flush=True,
        )
    result = {
        **medians,
        "target_s": TARGET_S,
        "runs": runs,
        "max_s": slowest,
        "targets_met": {f"{key}<={TARGET_S}": value <= TARGET_S for key, value in medians.items()},
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
