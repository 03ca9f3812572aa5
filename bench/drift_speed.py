"""Speed, memory and agreement of chronoguard's batch drift test against Evidently and scipy.

Workload (seeded): a numeric reference of 1,000,000 rows × 50 columns and a current window of
50,000 × 50 (``--quick``: 100,000 × 10 and 5,000 × 10), half of the current columns shifted.
Method: normed Wasserstein (Wasserstein-1 / reference std), Evidently's "wasserstein" stat
test, through Evidently's ``DataDriftPreset(method="wasserstein")``.

Contenders, all in this one process on the same pre-built inputs:

* chronoguard, profile: ``wasserstein_test(profile, current)`` with a ``ReferenceProfile``
  built beforehand (untimed) — the production case, where training stored the profile;
* chronoguard, cold: ``ReferenceProfile.build(reference)`` + the check, both timed;
* Evidently: ``Report([DataDriftPreset(method="wasserstein")]).run(current, reference)``;
* scipy: a loop of ``scipy.stats.wasserstein_distance(ref[:, j], cur[:, j]) / std``.

Timing: wall clock (``perf_counter``), median of several runs for the fast contenders, one
run for the slow ones. Memory: peak *extra* memory during the call, from ``tracemalloc``
in a separate run (tracing slows Python code, so never in the timed run). Why tracemalloc
and not RSS: ``ru_maxrss`` is a process-lifetime high-water mark that cannot be reset
between contenders in one process, and the inputs (and the untimed profile) dominate it.
tracemalloc sees every numpy/pandas buffer (numpy reports its data allocations to it) and
all Python objects, for both sides alike; inputs built before tracing starts are not
counted, for either side. The stored profile is an input of the profile case (as the
reference frame is Evidently's); its size is reported separately.

The last line of output is one JSON object (ratios: Evidently / chronoguard).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from chronoguard.drift import ReferenceProfile, wasserstein_test

TARGETS = {
    "ratio_profile": 50.0,
    "ratio_cold": 10.0,
    "memory_ratio": 3.0,
    "max_abs_stat_diff": 1e-9,
}


def make_data(n: int, m: int, k: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cols = [f"f{j:02d}" for j in range(k)]
    scale = rng.uniform(0.5, 20.0, size=k)
    offset = rng.uniform(-100.0, 100.0, size=k)
    ref = rng.standard_normal((n, k)) * scale + offset
    cur = rng.standard_normal((m, k)) * scale + offset
    cur[:, ::2] += 0.3 * scale[::2]  # every other column drifts
    return pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_mb(fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del out
    return (peak - base) / 1e6


def run_evidently(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, float]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(ref.columns))
    report = Report([DataDriftPreset(method="wasserstein")])
    snap = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    values = {}
    for metric in snap.dict()["metrics"]:
        cfg = metric.get("config", {})
        if cfg.get("type", "").endswith("ValueDrift"):
            values[cfg["column"]] = float(metric["value"])
    return values


def run_scipy(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, float]:
    out = {}
    for c in ref.columns:
        r = ref[c].to_numpy()
        out[c] = stats.wasserstein_distance(r, cur[c].to_numpy()) / max(float(np.std(r)), 0.001)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100,000 × 10 vs 5,000 × 10")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--no-evidently", action="store_true", help="skip Evidently even if installed")
    args = ap.parse_args(argv)
    n, m, k = (100_000, 5_000, 10) if args.quick else (1_000_000, 50_000, 50)
    reps_fast, reps_cold = (7, 3) if args.quick else (5, 3)

    ref, cur = make_data(n, m, k, args.seed)
    print(f"reference {n:,} × {k}, current {m:,} × {k}, normed Wasserstein", flush=True)

    def cg_check(profile: ReferenceProfile) -> dict[str, float]:
        return {r.feature: r.statistic for r in wasserstein_test(profile, cur)}

    def cg_cold() -> dict[str, float]:
        return cg_check(ReferenceProfile.build(ref))

    profile = ReferenceProfile.build(ref)  # untimed: stored at training time
    profile_mb = sum(b.sorted.nbytes for b in profile.blocks) / 1e6
    t_profile, cg_stats = timed(lambda: cg_check(profile), reps_fast)
    t_cold, _ = timed(cg_cold, reps_cold)
    m_profile = peak_mb(lambda: cg_check(profile))
    m_cold = peak_mb(cg_cold)
    print(f"chronoguard  profile check {t_profile:8.3f} s  peak {m_profile:8.1f} MB", flush=True)
    print(f"chronoguard  cold          {t_cold:8.3f} s  peak {m_cold:8.1f} MB", flush=True)
    print(f"             (stored profile {profile_mb:.1f} MB, untimed input)", flush=True)

    t_scipy, scipy_stats = timed(lambda: run_scipy(ref, cur), 1)
    m_scipy = peak_mb(lambda: run_scipy(ref, cur))
    diff_scipy = max(abs(cg_stats[c] - scipy_stats[c]) for c in ref.columns)
    print(f"scipy loop                 {t_scipy:8.3f} s  peak {m_scipy:8.1f} MB", flush=True)

    result: dict[str, Any] = {
        "quick": args.quick,
        "shape": {"reference": [n, k], "current": [m, k]},
        "method": "wasserstein (normed)",
        "seconds": {
            "chronoguard_profile": round(t_profile, 4),
            "chronoguard_cold": round(t_cold, 4),
            "scipy_loop": round(t_scipy, 4),
        },
        "peak_mb": {
            "chronoguard_profile": round(m_profile, 1),
            "chronoguard_cold": round(m_cold, 1),
            "scipy_loop": round(m_scipy, 1),
        },
        "profile_mb": round(profile_mb, 1),
        "ratio_profile_vs_scipy": round(t_scipy / t_profile, 1),
        "ratio_cold_vs_scipy": round(t_scipy / t_cold, 1),
        "max_abs_stat_diff_scipy": diff_scipy,
    }

    evidently_version = None
    if not args.no_evidently:
        try:
            import evidently

            evidently_version = evidently.__version__
        except ImportError:
            evidently_version = None
    if evidently_version is None:
        why = "skipped (--no-evidently)" if args.no_evidently else "not installed"
        print(f"Evidently {why}: compared with scipy only", flush=True)
        result.update(
            evidently=why,
            ratio_profile=None,
            ratio_cold=None,
            memory_ratio=None,
            max_abs_stat_diff=diff_scipy,
            max_abs_stat_diff_against="scipy",
        )
    else:
        t_ev, ev_stats = timed(lambda: run_evidently(ref, cur), 1)
        m_ev = peak_mb(lambda: run_evidently(ref, cur))
        diff_ev = max(abs(cg_stats[c] - ev_stats[c]) for c in ref.columns)
        print(
            f"Evidently {evidently_version:8s}         {t_ev:8.3f} s  peak {m_ev:8.1f} MB",
            flush=True,
        )
        result["seconds"]["evidently"] = round(t_ev, 4)
        result["peak_mb"]["evidently"] = round(m_ev, 1)
        result.update(
            evidently=evidently_version,
            ratio_profile=round(t_ev / t_profile, 1),
            ratio_cold=round(t_ev / t_cold, 1),
            memory_ratio=round(m_ev / m_profile, 1),
            memory_ratio_cold=round(m_ev / m_cold, 2),
            max_abs_stat_diff=diff_ev,
            max_abs_stat_diff_against="evidently",
        )
        result["targets_met"] = {
            "ratio_profile>=50": result["ratio_profile"] >= TARGETS["ratio_profile"],
            "ratio_cold>=10": result["ratio_cold"] >= TARGETS["ratio_cold"],
            "memory_ratio>=3": result["memory_ratio"] >= TARGETS["memory_ratio"],
            "memory_ratio_cold>=3": result["memory_ratio_cold"] >= TARGETS["memory_ratio"],
            "max_abs_stat_diff<=1e-9": diff_ev <= TARGETS["max_abs_stat_diff"],
        }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
