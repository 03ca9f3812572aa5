"""Bytes a model version stores per series, as a function of the series' history length.

Run ``python bench/reference_size.py`` (about 10 minutes on 2 shared cores, most of it
AutoETS on 20,000 half-hours) or ``--quick`` (under a minute). The last line of output is
one JSON object.

Design
------
* Series: an AR(1) (phi 0.5, innovation sd 1) around a sine season of amplitude 5, level 50
  (every value positive, so the drift references use their log transform as on real
  demand data), in two shapes: daily with a weekly season (``season_length`` 7, freq
  ``D``, horizon 14) and half-hourly with a daily one (48, ``30min``, horizon 48, the
  drift engine's 48 seasonal dummies: its largest design at these frequencies).
* History lengths: 100, 730, 2,000, 5,000 and 20,000 points (``--quick``: up to 5,000); a
  length shorter than the configuration's training minimum is left out and named.
* Models: AutoETS (the default) and SeasonalNaive, each fitted on ``SERIES`` series of the
  same shape, backtested with the frozen rolling origins training uses (3 windows), and
  profiled by :func:`chronoguard.monitoring.build_reference` as ``train_version`` does.
* Bytes, per series (the totals divided by the number of series):

  - ``reference``: the reference exactly as the registry writes it
    (``mlflow.log_dict``: ``json.dump(indent=2, default=str)``), split into its drift
    states (``drift``), the prediction-drift state (``prediction``), the advisory iid
    profile (``iid``) and the rest (backtest per horizon, one-step errors, keys);
  - ``model``: the pickled forecaster as MLflow's pyfunc stores it (``python_model.pkl``
    written by ``mlflow.pyfunc.save_model`` for the registry's ``ForecasterModel``);
  - ``total``: the two. MLflow's fixed files per version (``MLmodel``, environment files)
    and the backtest table (horizon × windows rows, not history) are not per-series
    history costs; ``bench/fleet_cycle.py`` measures a whole version's artifacts.

The target (issue "Everyday use", item 7): at most 50,000 bytes per series at any history
length. ``max_total_bytes_per_series`` is the largest ``total`` over every case, and
``grows`` says, per model × shape, whether its longest history stored more than 5 % above
what 2,000 points stored (``None`` where it was not measured beyond 2,000): a bounded
reference stops growing once the history is longer than what it keeps (1,000 innovations
per drift state, a 512-point sketch per iid column). What remains can vary by a few hundred
bytes, not with the length itself: the AR order a longer reference supports (at most 10
coefficients) and notes on the fit. Raw samples would add about 10 bytes a point, 30 kB
from 2,000 to 5,000 points. The series have no exogenous inputs;
each monitored input adds its own drift state and iid column, about the target's
(``max_bytes_per_extra_feature``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

TARGET_BYTES = 50_000
LENGTHS = (100, 730, 2_000, 5_000, 20_000)
QUICK_LENGTHS = (100, 730, 2_000, 5_000)
#: From this length on the stored size must stay flat (see ``grows``), to this ratio.
SATURATED_FROM = 2_000
GROWTH_TOLERANCE = 1.05
MODELS = ("AutoETS", "SeasonalNaive")
QUICK_MODELS = ("SeasonalNaive", "AutoETS")
SERIES = 2
QUICK_SERIES = 1
BACKTEST_WINDOWS = 3


@dataclass(frozen=True)
class Shape:
    """A frequency and its season, as a user configures them."""

    name: str
    freq: str
    season_length: int
    horizon: int


SHAPES = (Shape("daily", "D", 7, 14), Shape("half_hourly", "30min", 48, 48))


def make_series(n_series: int, length: int, shape: Shape, seed: int = 0) -> pd.DataFrame:
    """``n_series`` positive seasonal AR(1) series of ``length`` points, long format."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, 1.0, size=(n_series, length))
    u = np.empty_like(e)
    u[:, 0] = e[:, 0] / np.sqrt(1 - 0.5**2)
    for t in range(1, length):  # the AR recursion: each point needs the one before
        u[:, t] = 0.5 * u[:, t - 1] + e[:, t]
    phase = rng.uniform(0, 2 * np.pi, size=(n_series, 1))
    season = 5.0 * np.sin(2 * np.pi * np.arange(length) / shape.season_length + phase)
    y = 50.0 + season + u
    ds = pd.date_range("2000-01-01", periods=length, freq=shape.freq)
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_series)], length),
            "ds": np.tile(ds.to_numpy(), n_series),
            "y": y.ravel(),
        }
    )


def make_config(model: str, shape: Shape, length: int) -> Any:
    from chronoguard.config import parse_config

    return parse_config(
        {
            "data": {"freq": shape.freq, "season_length": shape.season_length},
            "model": {"name": model},
            "forecast": {"horizon": shape.horizon},
            "training": {"initial_window": length, "backtest_windows": BACKTEST_WINDOWS},
        }
    )


def stored_reference_bytes(payload: Any) -> int:
    """Bytes of ``payload`` as the registry writes a reference (``mlflow.log_dict``)."""
    return len(json.dumps(payload, indent=2, default=str).encode())


def model_bytes(forecaster: Any) -> int:
    """Bytes of the forecaster as the registry's MLflow pyfunc model stores it: the size of
    ``python_model.pkl`` written by ``mlflow.pyfunc.save_model`` (what ``log_model`` writes,
    without a tracking server)."""
    import mlflow

    from chronoguard.registry.mlflow_registry import PIP_REQUIREMENTS, ForecasterModel

    quiet = logging.getLogger("mlflow")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its cloudpickle caution and signature notice, every call
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model"
            mlflow.pyfunc.save_model(
                str(path),
                python_model=ForecasterModel(forecaster),
                pip_requirements=PIP_REQUIREMENTS,
            )
            return (path / "python_model.pkl").stat().st_size
    finally:
        quiet.setLevel(level)


def minimum_length(shape: Shape) -> int:
    """The training minimum of the bench's configuration for ``shape``."""
    from chronoguard.config import parse_config

    cfg = parse_config(
        {
            "data": {"freq": shape.freq, "season_length": shape.season_length},
            "forecast": {"horizon": shape.horizon},
            "training": {"initial_window": 100_000, "backtest_windows": BACKTEST_WINDOWS},
        }
    )
    return int(cfg.training_minimum())


def measure(model: str, shape: Shape, length: int, n_series: int) -> dict[str, Any]:
    """Fit, backtest and profile ``n_series`` series; the bytes stored per series."""
    from chronoguard.compute import SerialExecutor
    from chronoguard.forecasting import frozen_backtest
    from chronoguard.lifecycle.train import new_forecaster
    from chronoguard.monitoring import build_reference

    cfg = make_config(model, shape, length)
    df = make_series(n_series, length, shape)
    t0 = time.perf_counter()
    forecaster = new_forecaster(cfg, shape.freq).fit(df)
    bt = frozen_backtest(forecaster, df, h=shape.horizon, n_windows=BACKTEST_WINDOWS)
    ref = build_reference(forecaster, df, bt, cfg, freq=shape.freq, executor=SerialExecutor())
    seconds = time.perf_counter() - t0
    d = ref.to_dict()
    total = stored_reference_bytes(d)
    drift = sum(stored_reference_bytes(s["drift"]) for s in d["series"].values())
    prediction = sum(stored_reference_bytes(s["prediction"]) for s in d["series"].values())
    iid = stored_reference_bytes(d.get("iid_profile"))
    mod = model_bytes(forecaster)
    per = {
        "reference": total / n_series,
        "drift": drift / n_series,
        "prediction": prediction / n_series,
        "iid": iid / n_series,
        "other": (total - drift - prediction - iid) / n_series,
        "model": mod / n_series,
    }
    per["total"] = per["reference"] + per["model"]
    return {
        "model": model,
        "shape": shape.name,
        "length": length,
        "series": n_series,
        "seconds": round(seconds, 2),
        "bytes_per_series": {k: round(v) for k, v in per.items()},
    }


def summarize(rows: Sequence[dict[str, Any]], skipped: Sequence[dict[str, Any]]) -> dict[str, Any]:
    table: dict[str, dict[str, dict[str, int]]] = {}
    for r in rows:
        cell = table.setdefault(r["model"], {}).setdefault(r["shape"], {})
        cell[str(r["length"])] = r["bytes_per_series"]["total"]
    worst = max(rows, key=lambda r: r["bytes_per_series"]["total"])

    def grows(cells: dict[str, int]) -> bool | None:
        longest = max(cells, key=int)
        base = cells.get(str(SATURATED_FROM))
        if base is None or int(longest) <= SATURATED_FROM:
            return None
        return cells[longest] > GROWTH_TOLERANCE * base

    growth = {
        f"{m}/{s}": grows(cells) for m, shapes in table.items() for s, cells in shapes.items()
    }
    return {
        "bench": "reference_size",
        "target_bytes_per_series": TARGET_BYTES,
        "max_total_bytes_per_series": worst["bytes_per_series"]["total"],
        "max_case": {k: worst[k] for k in ("model", "shape", "length")},
        # What one more monitored input (an exogenous feature) adds: its drift state and
        # its iid column, measured here on the target's (one feature per series).
        "max_bytes_per_extra_feature": max(
            r["bytes_per_series"]["drift"] + r["bytes_per_series"]["iid"] for r in rows
        ),
        "meets_target": worst["bytes_per_series"]["total"] <= TARGET_BYTES,
        "total_bytes_per_series": table,
        "grows": growth,
        "cases": list(rows),
        "skipped": list(skipped),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="lengths up to 5,000, one series each")
    p.add_argument("--lengths", help="comma-separated history lengths, e.g. 730,20000")
    args = p.parse_args(argv)
    lengths = (
        tuple(int(x) for x in args.lengths.split(","))
        if args.lengths
        else QUICK_LENGTHS
        if args.quick
        else LENGTHS
    )
    models = QUICK_MODELS if args.quick else MODELS
    n_series = QUICK_SERIES if args.quick else SERIES
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for shape in SHAPES:
        need = minimum_length(shape)
        for model in models:
            for length in lengths:
                if length < need:
                    skipped.append(
                        {"model": model, "shape": shape.name, "length": length, "minimum": need}
                    )
                    continue
                # Fitting AutoETS dominates the time (about 10 s a series at 5,000 half-hours)
                # and its own share of the bytes, the model, does not depend on the length
                # (parameters and the last state): --quick profiles it on short daily series.
                if args.quick and model == "AutoETS" and (shape.season_length > 7 or length > 730):
                    continue
                r = measure(model, shape, length, n_series)
                print(
                    f"{model:14s} {shape.name:11s} n={length:6d}: "
                    f"{r['bytes_per_series']} ({r['seconds']}s)",
                    file=sys.stderr,
                )
                rows.append(r)
    out = summarize(rows, skipped)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
