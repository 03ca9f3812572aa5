"""How chronoguard's production cycle scales with the size of the fleet.

Run ``python bench/fleet_cycle.py`` (N = 100, 1,000 and 10,000 series) or ``--quick``
(N = 100 and 1,000, few cycles); ``--sizes 100,5000`` chooses N. The last line of output is
one JSON object. ``--quick`` takes about 13 minutes on 2 shared cores, not one: the
bootstrap trains every series and its drift references (about 0.5 s a series) dominate.
``--profile PREFIX`` writes a cProfile of each cycle.

Design
------
* Fleet: N daily series, each an AR(1) (phi 0.6) around a weekly season, level 100, so
  every value is positive. 2 % of the series (at least one) get a level shift of
  ``SHIFT_SDS`` stationary sds at a known day inside the monitored period: the day after
  the steady cycle.
* Model: ``SeasonalNaive`` with season length 7 (cheap, so what is timed is the cycle's own
  overhead: store, registry, monitoring, decisions), horizon 7, initial window 120 days,
  validation window 7, 2 backtest windows; the retraining rule and monitoring as defaulted.
* Cycles, each :func:`chronoguard.orchestration.run_cycle` on a fresh workspace (SQLite
  store and embedded MLflow, the workspace defaults) with one ``VersionCache`` across
  cycles, as a replay runs them: the bootstrap at the end of the initial window (train,
  backtest, register, deploy to every series, serve), one steady cycle (the day before the
  shift: records actuals, checks, decides, serves; no retrain expected), then daily
  decision cycles from the shift day until a cycle retrains (the rule's k of n has fired)
  or ``--max-cycles`` have run. Every cycle's time is reported; ``decision`` is the cycle
  that retrained (or the last one run if none did).
* Stage times: the cycle's step functions (``check_fleet``, ``decide_fleet``,
  ``retrain_families``, ``serve_fleet``, ``train_version``) are wrapped with a timer for the
  run, so each cycle's time splits by step; ``retrain_s`` is the retrain-and-gate time of
  the batch (``retrain_families``: train and backtest the chosen series, gate, deploy; one
  batch per model) and the
  bootstrap's ``train_version`` of all N series (the "retrain and backtest of N series").
* Memory: peak RSS of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the whole
  process, Python and native, including the imported libraries). Each N runs in its own
  child process so the peaks do not carry over from one N to the next (``--in-process``
  runs them in this process, as the test does; the peaks are then cumulative).
* ``deployment_load_s``: ``ws.store.get_deployment(model)`` after the cycles, best of 3,
  on a workspace opened again (and the registry load of the serving version, cold, for
  reference). ``list_versions_s``: the versions listed by the store and by the registry;
  ``resolve_series_s``: one series' deployment history (which version serves it, since when).
* ``bytes_per_series``: version 1's files under ``mlartifacts/`` (its run's artifacts and
  its logged model) divided by N, and the store's bytes per series after the cycles run
  (SQLite's ``dbstat`` per table, divided by N; the state file's size when ``dbstat`` is not
  compiled in); the store grows with every cycle, so ``store_per_cycle`` divides by them.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
START = pd.Timestamp("2025-01-01")
INITIAL_WINDOW = 120
HORIZON = 7
SEASON = 7
SHIFT_SHARE = 0.02
SHIFT_SDS = 3.0
PHI = 0.6
SIGMA = 4.0
MODEL = "bench-fleet"
#: Daily decision cycles after the steady one, at most (full run / ``--quick``).
MAX_CYCLES = 8
QUICK_MAX_CYCLES = 4
TARGETS = {
    "decision_cycle_10000_s": 60.0,
    "decision_cycle_10000_peak_mb": 4096.0,
    "retrain_backtest_1000_s": 300.0,
    "bytes_per_series": 50_000,
    "deployment_load_s": 2.0,
}
STEPS = ("train_version", "check_fleet", "decide_fleet", "retrain_families", "serve_fleet")


@dataclass(frozen=True)
class Fleet:
    """The synthetic panel and what was injected into it."""

    df: pd.DataFrame
    shifted: tuple[str, ...]
    shift_day: pd.Timestamp
    bootstrap: pd.Timestamp


def make_fleet(n: int, n_cycles: int, seed: int = 0, shift_sds: float = SHIFT_SDS) -> Fleet:
    """``n`` daily series long enough for the bootstrap and ``n_cycles`` later cycles; the
    shifted series move by ``shift_sds`` stationary sds of the AR(1) at the shift day."""
    rng = np.random.default_rng(seed)
    days = INITIAL_WINDOW + n_cycles + 1
    season = 10.0 * np.sin(2 * np.pi * np.arange(SEASON) / SEASON)
    season = season[np.arange(days) % SEASON] * rng.uniform(0.5, 1.5, size=(n, 1))
    eps = rng.normal(0.0, SIGMA, size=(n, days))
    ar = np.empty((n, days))
    ar[:, 0] = eps[:, 0] / np.sqrt(1 - PHI**2)
    for t in range(1, days):  # an AR(1) recursion: each day needs the one before
        ar[:, t] = PHI * ar[:, t - 1] + eps[:, t]
    y = 100.0 + season + ar
    bootstrap = INITIAL_WINDOW - 1
    shift_at = bootstrap + 2  # after the bootstrap and the steady cycle
    n_shift = max(1, round(SHIFT_SHARE * n))
    shifted = np.sort(rng.choice(n, size=n_shift, replace=False))
    y[shifted, shift_at:] += shift_sds * SIGMA / np.sqrt(1 - PHI**2)
    width = len(str(n - 1))
    ids = np.array([f"s{i:0{width}d}" for i in range(n)])
    ds = pd.date_range(START, periods=days, freq="D")
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, days),
            "ds": np.tile(ds.values, n),
            "y": np.maximum(y, 1.0).ravel(),
        }
    )
    return Fleet(df, tuple(ids[shifted]), ds[shift_at], ds[bootstrap])


def make_config() -> Any:
    from chronoguard.config import parse_config

    return parse_config(
        {
            "data": {"freq": "D", "season_length": SEASON},
            "model": {"name": "SeasonalNaive", "registered_name": MODEL},
            "forecast": {"horizon": HORIZON},
            "training": {"initial_window": INITIAL_WINDOW, "backtest_windows": 2},
            "gate": {"validation_window": 7, "margin": 0.05, "max_mase": 5.0},
        }
    )


class StepTimer:
    """Wall time spent in the cycle module's step functions, per cycle."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        from chronoguard.orchestration import cycle, steps

        # run_cycle calls the steps through its own module; the steps call train_version
        # through theirs.
        where = {name: steps if name == "train_version" else cycle for name in STEPS}
        originals = {name: getattr(where[name], name) for name in STEPS}

        def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    dt = time.perf_counter() - t0
                    self.current[name] = self.current.get(name, 0.0) + dt

            return wrapper

        for name, fn in originals.items():
            setattr(where[name], name, timed(name, fn))
        try:
            yield
        finally:
            for name, fn in originals.items():
                setattr(where[name], name, fn)

    def take(self) -> dict[str, float]:
        out, self.current = {k: round(v, 3) for k, v in self.current.items()}, {}
        return out


@dataclass
class CycleTiming:
    kind: str
    now: str
    seconds: float
    checked: bool
    alerts: int
    retrained: int
    promoted: int
    shifted_retrained: int
    steps: dict[str, float] = field(default_factory=dict)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _version_artifacts(root: Path, tracking_uri: str, version: str) -> int:
    """Bytes under ``mlartifacts/`` of ``version``: its run's artifacts and its logged model."""
    import mlflow

    art = root / "mlartifacts"
    mv = mlflow.MlflowClient(tracking_uri=tracking_uri).get_model_version(MODEL, version)
    dirs = [art / str(mv.run_id)]
    src = str(mv.source)
    if src.startswith("models:/"):  # MLflow 3: the logged model lives under models/<id>
        dirs.append(art / "models" / src[len("models:/") :].strip("/"))
    return sum(_dir_bytes(d) for d in dirs if d.is_dir())


def _store_bytes(db: Path) -> dict[str, int]:
    """Bytes per table of the SQLite state file (``dbstat``), or the whole file."""
    if not db.exists():
        return {}
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        return {str(n): int(b) for n, b in rows}
    except sqlite3.OperationalError:
        return {"<file>": db.stat().st_size}
    finally:
        con.close()


def _rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb / 1024.0


def run_size(
    n: int, *, max_cycles: int, workdir: Path, seed: int = 0, profile: Path | None = None
) -> dict[str, Any]:
    """Bootstrap, one steady cycle and decision cycles on a fresh ``n``-series workspace.

    With ``profile``, each cycle runs under cProfile and its statistics are written to
    ``<profile>-<n>-<kind>-<date>.pstats``.
    """
    from chronoguard.data import validate_frame
    from chronoguard.lifecycle import init_workspace, open_workspace
    from chronoguard.lifecycle.fleet import VersionCache
    from chronoguard.orchestration import run_cycle

    rss_start = _rss_mb()
    t0 = time.perf_counter()
    fleet = make_fleet(n, max_cycles + 1, seed)
    df = validate_frame(fleet.df, freq="D").df
    make_s = time.perf_counter() - t0
    root = workdir / f"ws-{n}"
    shifted = set(fleet.shifted)
    timer = StepTimer()
    cycles: list[CycleTiming] = []
    days = [fleet.bootstrap + pd.Timedelta(days=i) for i in range(max_cycles + 2)]
    with init_workspace(root, make_config()) as ws, timer.installed():
        cache = VersionCache(ws)
        for i, now in enumerate(days):
            kind = "bootstrap" if i == 0 else "steady" if i == 1 else "decision"
            prof = cProfile.Profile() if profile is not None else None
            t = time.perf_counter()
            if prof is not None:
                prof.enable()
            out = run_cycle(ws, df, freq="D", now=now, cache=cache)
            if prof is not None:
                prof.disable()
            dt = time.perf_counter() - t
            if prof is not None and profile is not None:
                prof.dump_stats(f"{profile}-{n}-{kind}-{now.date()}.pstats")
            cycles.append(
                CycleTiming(
                    kind=kind,
                    now=str(now.date()),
                    seconds=round(dt, 3),
                    checked=out.checked,
                    alerts=out.alerts_raised,
                    retrained=0 if i == 0 else len(out.retrained),
                    promoted=0 if i == 0 else len(out.promoted),
                    shifted_retrained=len(shifted & set(out.retrained)) if i else 0,
                    steps=timer.take(),
                )
            )
            print(f"N={n} {kind} {now.date()}: {dt:.2f}s {cycles[-1].steps}", file=sys.stderr)
            if kind == "decision" and out.retrained:
                break
    peak = _rss_mb()
    with open_workspace(root) as ws:
        loads = []
        for _ in range(3):
            t = time.perf_counter()
            dep = ws.store.get_deployment(ws.model_name)
            loads.append(time.perf_counter() - t)
        assert len(dep) == n, (len(dep), n)
        # Listing the versions (store and registry) and resolving one series.
        t = time.perf_counter()
        listed = ws.store.list_versions(ws.model_name), ws.registry.list_versions(ws.model_name)
        list_versions = time.perf_counter() - t
        assert listed[0] and listed[1]
        one = sorted(dep.versions)[n // 2]
        t = time.perf_counter()
        history = ws.store.deployment_history(ws.model_name, one)
        resolve_one = time.perf_counter() - t
        assert history[-1].version == dep.version_of(one)
        t = time.perf_counter()
        ws.registry.load(ws.model_name, "1")
        registry_load = time.perf_counter() - t
        art = _version_artifacts(ws.root, ws.registry.tracking_uri, "1")
    tables = _store_bytes(root / "state.db")
    decision = next((c for c in cycles if c.kind == "decision" and c.retrained), cycles[-1])
    boot = cycles[0]
    return {
        "n": n,
        "make_data_s": round(make_s, 3),
        "cycles": [c.__dict__ for c in cycles],
        "bootstrap_s": boot.seconds,
        "steady_s": cycles[1].seconds if len(cycles) > 1 else None,
        "decision_s": decision.seconds if len(cycles) > 2 else None,
        "decision_retrained": decision.retrained,
        "shifted": len(shifted),
        "shifted_retrained": sum(c.shifted_retrained for c in cycles),
        "retrain_s": decision.steps.get("retrain_families"),
        "bootstrap_train_s": boot.steps.get("train_version"),
        "peak_mb": round(peak, 1),
        "rss_before_mb": round(rss_start, 1),
        "deployment_load_s": round(min(loads), 4),
        "registry_load_s": round(registry_load, 3),
        "list_versions_s": round(list_versions, 4),
        "resolve_series_s": round(resolve_one, 4),
        "artifact_bytes_per_series": round(art / n, 1),
        "store_bytes_per_series": round(sum(tables.values()) / n, 1),
        "store_tables": dict(sorted(tables.items(), key=lambda kv: -kv[1])[:8]),
    }


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's JSON object from the per-size results."""

    def per(key: str) -> dict[str, Any]:
        return {str(r["n"]): r[key] for r in results}

    def scaled(key: str, r: dict[str, Any]) -> float | None:
        v = r[key]
        return None if v is None else round(v / r["n"] * 1000, 3)

    by_n = {r["n"]: r for r in results}
    big, mid = by_n.get(10_000), by_n.get(1_000)
    headline = {
        # The decision cycle (checks, decisions, the retrain of the chosen batch, serving).
        "cycle_s_10k": big["decision_s"] if big else None,
        "peak_mb_10k": big["peak_mb"] if big else None,
        # The bootstrap's training of all 1,000 series: fit, backtest and references.
        "retrain_s_1k": mid["bootstrap_train_s"] if mid else None,
        # Model and reference: the version's artifacts per series.
        "model_and_reference_bytes_per_series": max(
            r["artifact_bytes_per_series"] for r in results
        ),
        "deployment_load_s_max": max(r["deployment_load_s"] for r in results),
    }
    checks = {
        "cycle_s_10k": (headline["cycle_s_10k"], TARGETS["decision_cycle_10000_s"]),
        "peak_mb_10k": (headline["peak_mb_10k"], TARGETS["decision_cycle_10000_peak_mb"]),
        "retrain_s_1k": (headline["retrain_s_1k"], TARGETS["retrain_backtest_1000_s"]),
        "model_and_reference_bytes_per_series": (
            headline["model_and_reference_bytes_per_series"],
            TARGETS["bytes_per_series"],
        ),
        "deployment_load_s_max": (headline["deployment_load_s_max"], TARGETS["deployment_load_s"]),
    }
    return {
        **headline,
        "meets_targets": {k: None if v is None else v <= t for k, (v, t) in checks.items()},
        "cycle_s": {
            str(r["n"]): {
                "bootstrap": r["bootstrap_s"],
                "steady": r["steady_s"],
                "decision": r["decision_s"],
                "all": [c["seconds"] for c in r["cycles"]],
            }
            for r in results
        },
        "peak_mb": per("peak_mb"),
        "peak_mb_measure": "ru_maxrss of the process running the size (Python and native)",
        "deployment_load_s": per("deployment_load_s"),
        "list_versions_s": per("list_versions_s"),
        "resolve_series_s": per("resolve_series_s"),
        "registry_load_s": per("registry_load_s"),
        "bytes_per_series": {
            str(r["n"]): {
                "artifacts": r["artifact_bytes_per_series"],
                "store": r["store_bytes_per_series"],
                "total": round(r["artifact_bytes_per_series"] + r["store_bytes_per_series"], 1),
                "store_per_cycle": round(r["store_bytes_per_series"] / len(r["cycles"]), 1),
            }
            for r in results
        },
        "retrain_s": {
            str(r["n"]): {
                "batch_series": r["decision_retrained"],
                "retrain_gate_s": r["retrain_s"],
                "bootstrap_train_backtest_s": r["bootstrap_train_s"],
            }
            for r in results
        },
        "scaling": {
            str(r["n"]): {
                "bootstrap_ms_per_series": scaled("bootstrap_s", r),
                "steady_ms_per_series": scaled("steady_s", r),
                "decision_ms_per_series": scaled("decision_s", r),
            }
            for r in results
        },
        "detail": {
            str(r["n"]): {
                k: r[k] for k in ("cycles", "shifted", "shifted_retrained", "store_tables")
            }
            for r in results
        },
        "targets": TARGETS,
    }


def _child(n: int, max_cycles: int, workdir: Path, profile: Path | None) -> dict[str, Any]:
    """Run one size in a fresh interpreter, so its peak RSS is its own."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        str(n),
        "--max-cycles",
        str(max_cycles),
        "--workdir",
        str(workdir),
        *(["--profile", str(profile)] if profile is not None else []),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the N={n} run failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="N = 100 and 1,000, few cycles")
    p.add_argument("--sizes", help="comma-separated N, e.g. 100,1000,10000")
    p.add_argument("--max-cycles", type=int, help="decision cycles after the steady one, at most")
    p.add_argument("--in-process", action="store_true", help="run every N in this process")
    p.add_argument("--workdir", type=Path, help="where the workspaces go (default: a temp dir)")
    p.add_argument("--profile", type=Path, help="cProfile each cycle into PROFILE-<n>-*.pstats")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    max_cycles = args.max_cycles or (QUICK_MAX_CYCLES if args.quick else MAX_CYCLES)
    if args.one is not None:
        assert args.workdir is not None
        r = run_size(args.one, max_cycles=max_cycles, workdir=args.workdir, profile=args.profile)
        print(json.dumps(r))
        return r
    sizes = (
        tuple(int(s) for s in args.sizes.split(","))
        if args.sizes
        else QUICK_SIZES
        if args.quick
        else SIZES
    )
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-cycle-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        results = [
            run_size(n, max_cycles=max_cycles, workdir=workdir, profile=args.profile)
            if args.in_process
            else _child(n, max_cycles, workdir, args.profile)
            for n in sizes
        ]
    out = summarize(results)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    main()
