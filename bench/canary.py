"""Canary analysis: wrong decisions and speed of the paired sequential test, checked every target.

Run ``python bench/canary.py`` (about 2.5 minutes on 2 cores: 500 streams of 2,000 targets in
each of 12 scenarios) or ``--quick`` (120 streams, about 30 s); ``--phis 0.9`` adds a stress
case.
Progress goes to stderr; the last line of stdout is one JSON object with every number.

Design
------
* Streams: at each target ``t`` the champion's forecast error ``e0_t`` and the challenger's
  ``e1_t = s (r e0_t + sqrt(1 - r^2) v_t)``, where ``e0`` and ``v`` are independent Gaussian
  AR(1) processes of marginal sd 1 and coefficient ``phi`` (errors that persist from one
  target to the next; ``--phis``, default 0 and 0.5), and ``r`` (``--corrs``, default 0.95
  and 0.5) is the correlation of the two versions' errors on the same target: two versions
  of one model share most of a target's surprise (0.95); two different models less (0.5). Losses are absolute errors and ``d_t = |e1_t| - |e0_t|``. The challenger's scale
  ``s`` is 1.00 (``equal``), 0.95 (``better``: its expected loss is exactly 5 % lower) or 1.05
  (``worse``, 5 % higher).
* Each stream runs for up to ``--targets`` targets (2,000), checked after every target from
  the test's ``min_targets`` on. ``--reps`` streams per scenario (500; 120 with
  ``--quick``); both methods see the same streams.
* ``sequential``: :func:`chronoguard.monitoring.paired_sequential` at its defaults
  (``alpha`` 0.05), called once on the whole stream: it is a pure function of the prefix and
  reports the first target at which it would have decided when checked after every target.
* ``mann_whitney``: the naive way, a two-sided Mann-Whitney test of the two loss samples
  (unpaired, as if independent) at the same ``alpha``, computed after every target from the
  same first target on; the first rejection decides (``better`` when the challenger's losses
  are the smaller). Its U statistic is updated target by target and its p-value is scipy's
  normal approximation with continuity correction; a subsample of checks is compared with
  ``scipy.stats.mannwhitneyu(..., method="asymptotic")`` in the same run
  (``mann_whitney_scipy_check``). ``mann_whitney_once`` is the same test at the last target
  only: a fixed-horizon test used once, for reference.
* Outcomes per scenario and method: for ``equal`` any decision is wrong; for ``better`` a
  ``worse`` decision is wrong and no decision within the targets is ``undecided`` (reported
  apart, not counted as wrong), and the other way round for ``worse``. ``wrong_share`` has a
  95 % Wilson interval. ``median_targets_to_decision`` is the median over all streams of the
  target at which the method decided, an undecided stream counted as never (``null`` when
  half or more are undecided); ``median_targets_among_decided`` is over decided streams.
* Target: ``wrong_share_max`` 0.05 for the sequential test in every scenario
  (``meets_target``); ``naive_inflated`` says whether Mann-Whitney checked every target
  exceeds it where the two versions are equal.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from typing import Any

import numpy as np
from scipy import stats

from chronoguard.monitoring import (
    PairedDecision,
    PairedSequentialTest,
    paired_bounds,
    paired_sequential,
)

SCALES = {"equal": 1.00, "better": 0.95, "worse": 1.05}
WRONG_SHARE_MAX = 0.05


def ar1(rng: np.random.Generator, reps: int, n: int, phi: float) -> np.ndarray:
    """``reps`` Gaussian AR(1) paths of length ``n``, marginal sd 1, started stationary."""
    eps = rng.normal(0.0, math.sqrt(1.0 - phi * phi), size=(reps, n))
    out = np.empty((reps, n))
    out[:, 0] = rng.normal(size=reps)
    for t in range(1, n):  # each error needs the one before
        out[:, t] = phi * out[:, t - 1] + eps[:, t]
    return out


def simulate(
    rng: np.random.Generator, reps: int, n: int, phi: float, corr: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Absolute errors of the champion and of the challenger on the same targets."""
    e0 = ar1(rng, reps, n, phi)
    v = ar1(rng, reps, n, phi)
    e1 = scale * (corr * e0 + math.sqrt(1.0 - corr * corr) * v)
    return np.abs(e1), np.abs(e0)


def mann_whitney_paths(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Mann-Whitney p-values of ``x[:, :t]`` against ``y[:, :t]`` for every
    ``t`` (column ``t - 1``; continuous data, so no ties), and the sign of ``U - mu``
    (negative: ``x`` tends to be smaller). scipy's asymptotic p-value, with continuity
    correction, from a U statistic updated target by target."""
    reps, n = x.shape
    u = np.zeros(reps)
    p = np.ones((reps, n))
    sign = np.zeros((reps, n))
    for t in range(n):
        # The new pairs: x_t against y_1..y_t, and x_1..x_{t-1} against y_t.
        u += (x[:, [t]] > y[:, : t + 1]).sum(axis=1) + (x[:, :t] > y[:, [t]]).sum(axis=1)
        m = t + 1
        mu = m * m / 2.0
        s = math.sqrt(m * m * (2 * m + 1) / 12.0)
        big = np.maximum(u, m * m - u)
        p[:, t] = np.clip(2.0 * stats.norm.sf((big - mu - 0.5) / s), 0.0, 1.0)
        sign[:, t] = np.sign(u - mu)
    return p, sign


def scipy_check(
    x: np.ndarray, y: np.ndarray, p: np.ndarray, rng: np.random.Generator, k: int
) -> dict[str, Any]:
    """``k`` of the fast p-values against scipy's, at random streams and targets."""
    rows = rng.integers(0, x.shape[0], size=k)
    cols = rng.integers(1, x.shape[1], size=k)
    diffs = [
        abs(
            float(stats.mannwhitneyu(x[i, : t + 1], y[i, : t + 1], method="asymptotic").pvalue)
            - float(p[i, t])
        )
        for i, t in zip(rows, cols, strict=True)
    ]
    return {"checks": k, "max_abs_p_diff": max(diffs)}


def first_decision(
    reject: np.ndarray, direction: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per stream: the first target (1-based; 0 = none) at which ``reject`` holds from
    target ``start`` on, and its ``direction`` there (-1 better, +1 worse, 0 none)."""
    r = reject.copy()
    r[:, : start - 1] = False
    any_ = r.any(axis=1)
    idx = np.argmax(r, axis=1)
    at = np.where(any_, idx + 1, 0)
    dirn = np.where(any_, direction[np.arange(r.shape[0]), idx], 0)
    return at, dirn.astype(int)


def plain_sd_decisions(
    d: np.ndarray, settings: PairedSequentialTest, chunk: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """The ablation: the same boundary with the plain sd of the differences instead of
    their long-run sd (what a normal-mixture sequence that ignores autocorrelation does)."""
    reps, n = d.shape
    t = np.arange(1, n + 1)
    reject = np.zeros((reps, n), dtype=bool)
    direction = np.zeros((reps, n))
    for i in range(0, reps, chunk):
        x = d[i : i + chunk]
        mean, half, sd = paired_bounds(x, settings=settings)
        xc = x - x[:, :1]
        cs, cs2 = np.cumsum(xc, axis=1), np.cumsum(xc * xc, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            plain = np.sqrt(np.maximum(cs2 - cs * cs / t, 0.0) / (t - 1))
            h = np.where(sd > 0, half * plain / sd, 0.0)
        reject[i : i + chunk] = np.abs(mean) > h
        direction[i : i + chunk] = np.sign(mean)
    return first_decision(reject, direction, settings.min_targets)


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    """95 % Wilson interval of a share ``k / n``."""
    if n == 0:
        return [0.0, 1.0]
    ph = k / n
    den = 1 + z * z / n
    mid = (ph + z * z / (2 * n)) / den
    half = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return [round(max(0.0, mid - half), 4), round(min(1.0, mid + half), 4)]


def outcomes(at: np.ndarray, dirn: np.ndarray, truth: str) -> dict[str, Any]:
    """Shares of wrong, correct and undecided streams and the targets to a decision."""
    reps = at.size
    decided = at > 0
    if truth == "equal":
        wrong = decided
    elif truth == "better":
        wrong = decided & (dirn > 0)
    else:
        wrong = decided & (dirn < 0)
    correct = decided & ~wrong
    times = np.where(decided, at, np.inf)
    med = float(np.median(times))
    return {
        "wrong_share": round(float(wrong.mean()), 4),
        "wrong_share_ci95": wilson(int(wrong.sum()), reps),
        "correct_share": round(float(correct.mean()), 4),
        "undecided_share": round(float((~decided).mean()), 4),
        "median_targets_to_decision": med if math.isfinite(med) else None,
        "median_targets_among_decided": float(np.median(at[decided])) if decided.any() else None,
    }


def run_scenario(
    phi: float, corr: float, truth: str, args: argparse.Namespace, rng: np.random.Generator
) -> dict[str, Any]:
    settings = PairedSequentialTest(alpha=args.alpha)
    ch, pv = simulate(rng, args.reps, args.targets, phi, corr, SCALES[truth])
    d = ch - pv
    seq_at = np.zeros(args.reps, dtype=int)
    seq_dir = np.zeros(args.reps, dtype=int)
    for i in range(args.reps):
        v = paired_sequential(d[i], settings=settings, champion_loss=pv[i])
        if v.decided_at is not None:
            seq_at[i] = v.decided_at
            seq_dir[i] = -1 if v.decision is PairedDecision.BETTER else 1
    abl_at, abl_dir = plain_sd_decisions(d, settings)
    p, sign = mann_whitney_paths(ch, pv)
    mw_at, mw_dir = first_decision(p < args.alpha, sign, settings.min_targets)
    once = p[:, -1] < args.alpha
    once_at = np.where(once, args.targets, 0)
    once_dir = np.where(once, sign[:, -1], 0).astype(int)
    return {
        "phi": phi,
        "corr": corr,
        "truth": truth,
        "challenger_scale": SCALES[truth],
        "sequential": outcomes(seq_at, seq_dir, truth),
        "sequential_plain_sd": outcomes(abl_at, abl_dir, truth),
        "mann_whitney": outcomes(mw_at, mw_dir, truth),
        "mann_whitney_once": outcomes(once_at, once_dir, truth),
        "_check": scipy_check(ch, pv, p, rng, args.scipy_checks),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="120 streams per scenario")
    ap.add_argument("--reps", type=int, default=None, help="streams per scenario")
    ap.add_argument("--targets", type=int, default=2000, help="targets per stream")
    ap.add_argument("--phis", default="0,0.5", help="AR(1) coefficients of the errors")
    ap.add_argument("--corrs", default="0.95,0.5", help="correlations of the two errors")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args(argv)
    if args.reps is None:
        args.reps = 120 if args.quick else 500
    args.scipy_checks = 20 if args.quick else 100
    phis = [float(v) for v in args.phis.split(",")]
    corrs = [float(v) for v in args.corrs.split(",")]
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    scenarios: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    for corr, phi, truth in itertools.product(corrs, phis, SCALES):
        t1 = time.perf_counter()
        key = f"corr={corr:g},phi={phi:g},{truth}"
        r = run_scenario(phi, corr, truth, args, rng)
        checks.append(r.pop("_check"))
        scenarios[key] = r
        sq, mw = r["sequential"], r["mann_whitney"]
        print(
            f"{key:28s} sequential wrong {sq['wrong_share']:.3f} undecided "
            f"{sq['undecided_share']:.3f} median {sq['median_targets_to_decision']} | "
            f"mann-whitney wrong {mw['wrong_share']:.3f} undecided "
            f"{mw['undecided_share']:.3f} median {mw['median_targets_to_decision']} "
            f"({time.perf_counter() - t1:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    worst = max(s["sequential"]["wrong_share"] for s in scenarios.values())
    naive = max(
        s["mann_whitney"]["wrong_share"] for s in scenarios.values() if s["truth"] == "equal"
    )
    check = {
        "checks": sum(c["checks"] for c in checks),
        "max_abs_p_diff": max(c["max_abs_p_diff"] for c in checks),
    }
    summary = {
        "scenarios": scenarios,
        "targets": {"wrong_share_max": WRONG_SHARE_MAX},
        "meets_target": bool(worst <= WRONG_SHARE_MAX),
        "sequential_wrong_share_max": worst,
        "naive_inflated": bool(naive > WRONG_SHARE_MAX),
        "mann_whitney_equal_wrong_share_max": naive,
        "mann_whitney_scipy_check": check,
        "settings": {
            "reps": args.reps,
            "targets": args.targets,
            "phis": phis,
            "corrs": corrs,
            "alpha": args.alpha,
            "min_targets": PairedSequentialTest().min_targets,
            "quick": bool(args.quick),
            "seed": args.seed,
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if check["max_abs_p_diff"] > 1e-9:
        print(f"Mann-Whitney p-values differ from scipy's: {check}", file=sys.stderr)
        print(json.dumps(summary))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
