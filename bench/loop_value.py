"""Does the retraining loop pay? Retraining policies against simple ones on real panels.

Run ``python bench/loop_value.py`` or ``--quick`` (30 series per panel, 10 of aus_retail, a
few origins; about 35 s on 2 cores; chronoguard's loop is skipped unless ``--policies`` names
it). The four simple policies on all three panels took 80 minutes on 2 cores shared with other
work (41,000 series-fits, half the time in aus_retail's 9,000 fits of 30-year monthly series);
chronoguard's own loop adds its replay on each panel (17 minutes on tourism). ``--panels``,
``--policies``, ``--series`` and ``--origins`` run less. The last line of output is one JSON
object; ``--out`` also receives the plot and a per-series table.

Design
------
* Model: chronoguard's AutoETS (``make_forecaster("AutoETS", season_length=m, freq=...,
  level=[80, 95])``) for every policy. A model serves an origin through
  ``predict(h, history=...)``: parameters frozen, state run over the data so far.
* Panels (``../shared/datasets``), each series on its own timeline, the origins its last
  points, forecasts truncated at the series end: tourism (quarterly, 20 origins, h = 8,
  season 4), aus_retail (monthly, 60 origins, h = 12, season 12), m3_monthly (the official
  18-month test: an origin at each test point, h = 18, season 12). Series whose data up to
  the first origin is not longer than two seasons are dropped and listed (two Tasmanian
  aus_retail series of 32 months).
* Policies, their cost counted in series-fits (one fit of one series = 1, the first fit
  included): ``never`` (fit at the first origin only), ``always`` (every origin), ``fixed``
  (every season), ``trigger`` (refit a series when its newest one-step residual exceeds 3 ×
  the median absolute in-sample one-step residual of its current fit, from the forecaster's
  ``fitted_values``), and ``default``, chronoguard's own loop (:func:`run_default_policy`).
  The simple policies share one set of fits (``chronoguard.forecasting.peers`` computes them for
  the bench and for ``chronoguard demo --fleet``, and says why that is exact).
  A fit that fails falls back to a seasonal naive model and is counted
  (``settings.<panel>.fallback_fits``; none on these panels).
* Score: MASE over every scored (origin, horizon) pair, each series scaled by the in-sample
  seasonal-naive MAE of its data up to the first origin; the panel's MASE is the mean over
  series of each series' mean scaled error. ``mase_rel_always`` = MASE / always's MASE − 1,
  ``refits_share`` = refits / always's refits.
* ``pareto_dominates``: default has no more error and no more refits than the policy, and
  is strictly better in one; ``within_half_percent_of_always_at_10pct``: default within
  0.5 % of always's MASE at no more than 10 % of its refits.
* Error-versus-compute curve: trigger at 2, 3, 4, 6 × the median and fixed every 1, 2, 4
  seasons, as (refits_share, mase_rel_always) points; plotted to ``--out`` (PNG).
* Speed: the fits run in a process pool (``--workers``, default 2) over batches of series;
  each worker loads numba's compiled ETS code before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import _loop_core as core
except ImportError:  # imported as bench.loop_value
    from bench import _loop_core as core  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT.parent.parent / "shared" / "datasets"
POLICIES = ("never", "always", "fixed", "trigger", "default")
SIMPLE = ("never", "always", "fixed", "trigger")
#: ``--quick``: series per panel and origins per panel.
QUICK = {"tourism": (30, 6), "aus_retail": (10, 3), "m3_monthly": (30, 4)}
NAMED = {
    "never": "never",
    "always": "always",
    "fixed": f"fixed_{core.FIXED_NAMED}",
    "trigger": f"trigger_{core.TRIGGER_NAMED:g}",
}


@dataclass(frozen=True)
class PolicyResult:
    """One policy on one panel: forecasts per series (panel order) and series-fits spent."""

    forecasts: tuple[np.ndarray, ...]
    refits: int
    detail: dict[str, Any] | None = None
    fallbacks: int = 0
    series_fits: tuple[int, ...] | None = None


# ------------------------------------------------------------------------- simple policies


def _init_worker() -> None:
    core.warm()


def _ready() -> int:
    time.sleep(0.3)  # long enough that every worker takes one of these tasks
    return os.getpid()


def start_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers have loaded the ETS code (not timed by the caller)."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)
    for f in [pool.submit(_ready) for _ in range(workers)]:
        f.result()
    return pool


def run_simple_policies(
    panels: list[core.Panel], pool: ProcessPoolExecutor | None, workers: int = 2
) -> dict[str, dict[str, PolicyResult]]:
    """Every schedule of :func:`bench._loop_core.policy_keys` on every panel.

    Without a pool the batches run in this process (the tests do).
    """
    jobs: list[tuple[str, core.Batch]] = []
    for panel in panels:
        size = max(1, math.ceil(len(panel) / (workers * 6)))
        jobs += [(panel.spec.name, b) for b in core.batches(panel, size)]
    # The biggest batches first, so that the last ones to finish are small.
    jobs.sort(key=lambda job: -sum(v.size for v in job[1].values) * job[1].n_origins)
    runs: dict[str, dict[str, core.SeriesRun]] = {p.spec.name: {} for p in panels}
    t0 = time.perf_counter()
    if pool is None:
        for name, b in jobs:
            runs[name].update({r.uid: r for r in core.run_batch(b)})
    else:
        futures = {pool.submit(core.run_batch, b): name for name, b in jobs}
        for done, fut in enumerate(as_completed(futures), 1):
            runs[futures[fut]].update({r.uid: r for r in fut.result()})
            print(
                f"  fits: batch {done}/{len(futures)} ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    out: dict[str, dict[str, PolicyResult]] = {}
    for panel in panels:
        collected = core.collect(panel, runs[panel.spec.name].values(), core.policy_keys())
        out[panel.spec.name] = {
            key: PolicyResult(
                run.forecasts, run.refits, fallbacks=run.fallbacks, series_fits=run.series_fits
            )
            for key, run in collected.items()
        }
    return out


# ---------------------------------------------------------------- chronoguard's own loop
# The hook for chronoguard's loop. It calls only replay(), init_workspace(), validate_frame(),
# the store's get_forecasts() and the registry's list_versions(), so that the loop's internals
# may change under it.


def replay_frame(panel: core.Panel) -> pd.DataFrame:
    """The panel on one calendar for the replay, every series ending on the panel's last date.

    The replay walks one timeline, so series that end earlier (M3's nominal calendars, two
    aus_retail series) are moved to end on the latest date; a model sees positions, not dates,
    so each series' own timeline is unchanged. Panels whose series all end together (tourism)
    keep their dates.
    """
    freq = panel.spec.freq
    end = max(panel.dates(i)[-1] for i in range(len(panel)))
    parts = []
    for i, uid in enumerate(panel.ids):
        y = panel.values[i]
        ds = pd.date_range(end=end, periods=y.size, freq=freq)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def default_config(panel: core.Panel) -> dict[str, Any]:
    """chronoguard's configuration for the panel: its defaults, the panel's shape, AutoETS.

    ``initial_window`` is the calendar up to the first origin. The gate's held-out window
    (6 periods by default) is shortened only when the panel has too few origins for it, and
    the training backtest keeps its 3 windows where the shortest challenger window (data up
    to the first origin minus the held-out window) holds them, fewer otherwise.
    """
    spec = panel.spec
    m, h = spec.season_length, spec.horizon
    calendar = max(v.size for v in panel.values)
    validation = min(6, panel.n_origins - 2)
    if validation < 1:
        raise ValueError(f"{spec.name}: the replay needs at least 3 origins, got {panel.n_origins}")
    shortest = min(panel.n_train(i) for i in range(len(panel))) - validation
    windows = min(3, (shortest - 2 * m - h) // h + 1)
    if windows < 1:
        raise ValueError(
            f"{spec.name}: the shortest series has {shortest} points for a challenger, fewer "
            f"than a backtest needs (2 seasons + horizon = {2 * m + h})"
        )
    return {
        "data": {"freq": spec.freq, "season_length": m},
        "model": {
            "name": "AutoETS",
            "registered_name": f"loop-value-{spec.name}",
            "levels": list(core.LEVELS),
        },
        "forecast": {"horizon": h},
        "training": {"initial_window": calendar - panel.n_origins, "backtest_windows": windows},
        "gate": {"validation_window": validation},
    }


def run_default_policy(
    panel: core.Panel,
    *,
    workdir: Path | None = None,
    cpu_seconds_per_cycle: float = 0.0,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> PolicyResult:
    """chronoguard's own loop on ``panel``: a replay, scored like every other policy.

    Runs :func:`chronoguard.orchestration.replay.replay` in a fresh workspace (under
    ``workdir``, else a temporary directory removed afterwards), reads the served forecasts
    back from the workspace's store and puts each on its (origin, horizon) cell.

    Refits count every series-fit the loop made, read from the registry: for each version,
    its series (the lineage's ``n_series``) × (1 model fit + ``backtest_windows`` backtest
    fits when the backtest refits; the default frozen backtest fits nothing). The gate
    compares challenger and champion with parameters frozen, so it fits nothing either. ``detail`` splits the count and gives the number of versions.
    """
    from chronoguard.config import parse_config
    from chronoguard.data import validate_frame
    from chronoguard.lifecycle import init_workspace
    from chronoguard.orchestration.replay import replay

    raw = default_config(panel)
    for section, values in (overrides or {}).items():
        raw[section] = {**raw.get(section, {}), **values}
    if cpu_seconds_per_cycle:
        raw["budget"] = {**raw.get("budget", {}), "cpu_seconds_per_cycle": cpu_seconds_per_cycle}
    cfg = parse_config(raw, source=f"loop_value {panel.spec.name}")
    frame = replay_frame(panel)
    checked = validate_frame(frame, freq=panel.spec.freq, source=panel.spec.name)
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="loop_value_", dir=workdir) as tmp,
        init_workspace(Path(tmp) / "workspace", cfg) as ws,
    ):
        replay(checked, ws, source=panel.spec.name)
        served = ws.store.get_forecasts(served_only=True)  # shadow forecasts were not served
        watches = ws.store.list_watches(ws.model_name)
        versions = ws.registry.list_versions(ws.model_name)
    seconds = time.perf_counter() - t0

    # A frozen backtest (the default) forecasts its origins with the fitted parameters and
    # fits nothing; a refit backtest fits once per window.
    refit = cfg.training.backtest == "refit"
    windows = int(raw["training"]["backtest_windows"]) if refit else 0
    model_fits = sum(int(v.lineage.n_series) for v in versions)
    cpu = [float(v.metrics["fit_cpu_seconds_per_series"]) for v in versions]
    forecasts = core.served_matrices(panel, frame, served)
    return PolicyResult(
        forecasts,
        model_fits * (1 + windows),
        {
            "versions": len(versions),
            "model_fits": model_fits,
            "backtest_fits": model_fits * windows,
            "watches": dict(Counter(w.status for w in watches)),
            "fit_cpu_seconds_per_series": round(float(np.median(cpu)), 6),
            "cpu_seconds_per_cycle": cpu_seconds_per_cycle,
            "seconds": round(seconds, 1),
        },
    )


# ----------------------------------------------------------------------------- summaries


def score(panel: core.Panel, results: dict[str, PolicyResult]) -> dict[str, dict[str, float]]:
    """MASE and refits of each policy, and both relative to ``always`` (which must be there)."""
    base = {key: (core.panel_mase(panel, r.forecasts), r.refits) for key, r in results.items()}
    mase_always, refits_always = base["always"]
    return {
        key: {
            "mase": round(mase, 6),
            "mase_rel_always": round(mase / mase_always - 1.0, 6),
            "refits": int(refits),
            "refits_share": round(refits / refits_always, 6),
        }
        for key, (mase, refits) in base.items()
    }


def series_table(panel: core.Panel, results: dict[str, PolicyResult]) -> pd.DataFrame:
    """Per series and policy: mean scaled error and series-fits (for looking into a result)."""
    parts = []
    for key, r in results.items():
        per_series = core.series_mase(panel, r.forecasts)
        fits = r.series_fits if r.series_fits is not None else (None,) * len(panel)
        parts.append(
            pd.DataFrame(
                {
                    "panel": panel.spec.name,
                    "unique_id": panel.ids,
                    "policy": key,
                    "mase": per_series,
                    "fits": fits,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def dominates(a: dict[str, float], b: dict[str, float]) -> bool:
    """``a`` has no more error and no more refits than ``b``, and strictly less of one."""
    no_worse = a["mase"] <= b["mase"] and a["refits"] <= b["refits"]
    return no_worse and (a["mase"] < b["mase"] or a["refits"] < b["refits"])


def pareto(scores: dict[str, dict[str, float]]) -> dict[str, bool | None]:
    """Whether default dominates fixed and trigger, and is near always at a tenth of its cost."""
    d = scores.get("default")
    if d is None:
        return dict.fromkeys(
            ("over_fixed", "over_trigger", "both", "within_half_percent_of_always_at_10pct")
        )
    over_fixed = dominates(d, scores[NAMED["fixed"]])
    over_trigger = dominates(d, scores[NAMED["trigger"]])
    return {
        "over_fixed": over_fixed,
        "over_trigger": over_trigger,
        "both": over_fixed and over_trigger,
        "within_half_percent_of_always_at_10pct": d["mase_rel_always"] <= 0.005
        and d["refits_share"] <= 0.10,
    }


def curve_points(scores: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The error-versus-compute points of one panel."""

    def point(key: str) -> dict[str, float]:
        return {k: scores[key][k] for k in ("refits_share", "mase_rel_always")}

    return {
        "trigger": [{"threshold": c, **point(f"trigger_{c:g}")} for c in core.TRIGGER_THRESHOLDS],
        "fixed": [{"seasons": s, **point(f"fixed_{s}")} for s in core.FIXED_SEASONS],
        "never": point("never"),
        "default": point("default") if "default" in scores else None,
        "default_budget": [
            {"series_per_cycle": float(key.removeprefix("default_budget_")), **point(key)}
            for key in sorted(
                (k for k in scores if k.startswith("default_budget_")),
                key=lambda k: float(k.removeprefix("default_budget_")),
            )
        ],
    }


def plot_curves(curves: dict[str, dict[str, Any]], path: Path) -> None:
    """One panel of error against compute per data set, written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    def min_share(c: dict[str, Any]) -> float:
        pts = [*c["trigger"], *c["fixed"], c["never"], *c["default_budget"]]
        return float(min(p["refits_share"] for p in pts))

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (name, c) in zip(axes[0], curves.items(), strict=True):
        for kind, label, marker in (("trigger", "threshold", "o-"), ("fixed", "seasons", "s--")):
            pts = c[kind]
            xs = [p["refits_share"] for p in pts]
            ys = [100 * p["mase_rel_always"] for p in pts]
            ax.plot(xs, ys, marker, label=f"{kind} ({label})")
            for p, x, y in zip(pts, xs, ys, strict=True):
                ax.annotate(f"{p[label]:g}", (x, y), textcoords="offset points", xytext=(4, 4))
        ax.plot(
            [c["never"]["refits_share"]], [100 * c["never"]["mase_rel_always"]], "kv", label="never"
        )
        ax.plot([1.0], [0.0], "k^", label="always")
        if c["default_budget"]:
            pts = [*c["default_budget"], {**c["default"], "series_per_cycle": "∞"}]
            xs = [p["refits_share"] for p in pts]
            ys = [100 * p["mase_rel_always"] for p in pts]
            ax.plot(xs, ys, "r:", label="default (budget: series per cycle)")
            for p, x, y in zip(pts, xs, ys, strict=True):
                ax.annotate(
                    f"{p['series_per_cycle']}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, -10),
                    color="r",
                )
        if c["default"] is not None:
            d = c["default"]
            ax.plot([d["refits_share"]], [100 * d["mase_rel_always"]], "r*", ms=12, label="default")
        ax.set_xscale("log")
        ticks = [t for t in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if t >= 0.5 * min_share(c)]
        ax.set_xticks(ticks, [f"{100 * t:g} %" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("refits / always's refits")
        ax.set_ylabel("MASE vs always (%)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------------ main


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--set SECTION.KEY=VALUE`` items as configuration sections; VALUE is read as JSON,
    else as text. Raises ValueError naming an item that is not of that form."""
    overrides: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not (sep and dot and section and name):
            raise ValueError(f"--set {item!r}: write SECTION.KEY=VALUE, e.g. gate.watch_periods=0")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        overrides.setdefault(section, {})[name] = parsed
    return overrides


def _names(text: str, valid: tuple[str, ...], what: str, ap: argparse.ArgumentParser) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        ap.error(f"--{what}: unknown {unknown or 'empty list'}; choose from {', '.join(valid)}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="30 series per panel, a few origins; no default"
    )
    ap.add_argument("--panels", default=",".join(core.PANELS), help="comma-separated panels")
    ap.add_argument(
        "--policies",
        default=None,
        help=f"comma-separated, from {', '.join(POLICIES)} (default: all; --quick: all but "
        "default); always is computed in any case, as the reference",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "out", help="folder for the plot")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--series", type=int, default=None, help="series per panel (spread evenly)")
    ap.add_argument(
        "--origins",
        type=int,
        default=None,
        help="origins per panel (the last ones, at most the panel's)",
    )
    ap.add_argument(
        "--budgets",
        default="",
        help="comma-separated budgets, in series retrained per cycle, for the default "
        "policy's error-versus-compute curve (each priced at the CPU seconds per series "
        "its unbudgeted run measured; one more replay per budget)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change the default policy's configuration (repeatable), e.g. "
        "gate.watch_periods=0; VALUE is read as JSON, else as text",
    )
    args = ap.parse_args(argv)
    try:
        overrides = parse_overrides(args.set)
    except ValueError as exc:
        ap.error(str(exc))
    try:
        budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    except ValueError:
        ap.error(f"--budgets: {args.budgets!r} is not a comma-separated list of numbers")
    if any(not b > 0 for b in budgets):
        ap.error(f"--budgets must be numbers > 0, got {args.budgets!r}")
    panel_names = _names(args.panels, tuple(core.PANELS), "panels", ap)
    default_policies = ",".join(SIMPLE if args.quick else POLICIES)
    policies = _names(args.policies or default_policies, POLICIES, "policies", ap)
    if budgets and "default" not in policies:
        ap.error("--budgets needs the default policy: add default to --policies")
    for flag in ("workers", "series", "origins"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            ap.error(f"--{flag} must be at least 1, got {value}")

    panels = []
    for name in panel_names:
        panel = core.load_panel(core.PANELS[name], args.data_dir)
        n_series, n_origins = QUICK[name] if args.quick else (None, None)
        panel = panel.subset(args.series or n_series, args.origins or n_origins)
        panels.append(panel)
        print(
            f"{name}: {len(panel)} series, {panel.n_origins} origins, h={panel.spec.horizon}"
            + (f", dropped {list(panel.dropped)}" if panel.dropped else ""),
            file=sys.stderr,
            flush=True,
        )

    t_warm = time.perf_counter()
    pool = start_pool(args.workers)
    warm_seconds = time.perf_counter() - t_warm
    t0 = time.perf_counter()
    try:
        simple = run_simple_policies(panels, pool, args.workers)
    finally:
        pool.shutdown()
    simple_seconds = time.perf_counter() - t0

    out_panels: dict[str, Any] = {}
    pareto_out: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    tables: list[pd.DataFrame] = []
    for panel in panels:
        name = panel.spec.name
        results = dict(simple[name])
        detail = None
        if "default" in policies:
            print(f"{name}: chronoguard's replay ...", file=sys.stderr, flush=True)
            results["default"] = run_default_policy(panel, overrides=overrides)
            detail = results["default"].detail
            print(f"{name}: replay done {detail}", file=sys.stderr, flush=True)
            for b in budgets:
                cpu = b * float(detail["fit_cpu_seconds_per_series"])
                key = f"default_budget_{b:g}"
                results[key] = run_default_policy(
                    panel, cpu_seconds_per_cycle=cpu, overrides=overrides
                )
                print(f"{name}: {key} {results[key].detail}", file=sys.stderr, flush=True)
        scores = score(panel, results)
        tables.append(series_table(panel, results))
        named = {p: scores[NAMED.get(p, p)] for p in policies if p != "always"}
        out_panels[name] = {"always": scores["always"], **named}
        if detail is not None:
            out_panels[name]["default"] = {**out_panels[name]["default"], **detail}
        for b in budgets:
            key = f"default_budget_{b:g}"
            out_panels[name][key] = {**scores[key], **results[key].detail}
        pareto_out[name] = pareto(scores)
        curves[name] = curve_points(scores)
        settings[name] = {
            "n_series": len(panel),
            "n_origins": panel.n_origins,
            "horizon": panel.spec.horizon,
            "season_length": panel.spec.season_length,
            "dropped": list(panel.dropped),
            # (series, origin) fits that failed and fell back to a seasonal naive model
            "fallback_fits": simple[name]["always"].fallbacks,
        }
        if detail is not None:
            settings[name]["default_config"] = default_config(panel)
            settings[name]["overrides"] = overrides
        for p, s in out_panels[name].items():
            print(
                f"{name:11s} {p:8s} MASE {s['mase']:.4f} ({100 * s['mase_rel_always']:+.2f} %) "
                f"refits {s['refits']} ({100 * s['refits_share']:.1f} %)",
                file=sys.stderr,
                flush=True,
            )

    stem = "loop_value_quick" if args.quick else "loop_value"
    png, csv = args.out / f"{stem}.png", args.out / f"{stem}_series.csv"
    plot_curves(curves, png)
    pd.concat(tables, ignore_index=True).to_csv(csv, index=False)
    result = {
        "panels": out_panels,
        "pareto_dominates": pareto_out,
        "curve": {"png": str(png), "panels": curves},
        "series_csv": str(csv),
        "seconds": round(time.perf_counter() - t0, 1),
        "seconds_simple_policies": round(simple_seconds, 1),
        "seconds_warm": round(warm_seconds, 1),
        "quick": args.quick,
        "workers": args.workers,
        "settings": settings,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
