"""Panels and retraining schedules of ``bench/loop_value.py``: its real panels and the curve.

The computation (the shared per-(series, origin) fits, the schedules, the scoring) lives in
:mod:`chronoguard.forecasting.peers`, which ``chronoguard demo --fleet`` uses too; this module
holds what only the bench needs: the three real panels, how their CSV files are read, and
the policies of its error-versus-compute curve. The command line, the process pool,
chronoguard's own loop and the plot live in ``bench/loop_value.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import chronoguard.forecasting.peers as peers
from chronoguard.forecasting import Forecaster
from chronoguard.forecasting.peers import (
    Batch,
    Panel,
    SeriesRun,
    always_schedule,
    collect,
    fixed_schedule,
    n_fits,
    never_schedule,
    panel_mase,
    run_batch,
    scaled_errors,
    series_mase,
    served_matrices,
    trigger_schedule,
)

LEVELS = (80, 95)
#: Thresholds (× the fit's median absolute in-sample one-step residual) on the error curve.
TRIGGER_THRESHOLDS = (2.0, 3.0, 4.0, 6.0)
#: Fixed schedules on the error curve, in seasons between refits.
FIXED_SEASONS = (1, 2, 4)
#: The thresholds of the policies reported by name: ``trigger`` and ``fixed``.
TRIGGER_NAMED, FIXED_NAMED = 3.0, 1
#: Every schedule the bench evaluates, and the model each of them fits.
CURVE = peers.PeerPolicies(fixed_seasons=FIXED_SEASONS, trigger_thresholds=TRIGGER_THRESHOLDS)
MODEL = peers.PeerModel("AutoETS", LEVELS, fallback=True)

__all__ = [
    "CURVE",
    "FIXED_NAMED",
    "FIXED_SEASONS",
    "LEVELS",
    "MODEL",
    "PANELS",
    "TRIGGER_NAMED",
    "TRIGGER_THRESHOLDS",
    "Batch",
    "Panel",
    "PanelSpec",
    "SeriesRun",
    "always_schedule",
    "batches",
    "collect",
    "fixed_schedule",
    "load_panel",
    "n_fits",
    "never_schedule",
    "new_forecaster",
    "panel_mase",
    "policy_keys",
    "run_batch",
    "scaled_errors",
    "schedules",
    "series_mase",
    "served_matrices",
    "trigger_schedule",
    "warm",
]


@dataclass(frozen=True)
class PanelSpec:
    """How one real panel is benchmarked: its file and origins besides its shape."""

    name: str
    file: str
    freq: str
    season_length: int
    horizon: int
    n_origins: int


PANELS: dict[str, PanelSpec] = {
    spec.name: spec
    for spec in (
        PanelSpec("tourism", "tourism.csv", "QS", 4, 8, 20),
        PanelSpec("aus_retail", "aus_retail.csv", "MS", 12, 12, 60),
        # The official M3 test: the last 18 points of each series; an origin at each of them.
        PanelSpec("m3_monthly", "m3_monthly.csv", "MS", 12, 18, 18),
    )
}


def load_panel(spec: PanelSpec, data_dir: Path) -> Panel:
    """Read one panel from ``data_dir``; series too short for a seasonal fit are dropped.

    A series is kept when its data up to the first origin is longer than two seasons. For M3
    the ``split`` column must mark exactly the last ``n_origins`` points of each series as the
    test period.
    """
    df = pd.read_csv(data_dir / spec.file, parse_dates=["ds"])
    df["unique_id"] = df["unique_id"].astype(str)
    df = df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    ids, values, starts, dropped = [], [], [], []
    for uid, g in df.groupby("unique_id", sort=True):
        if "split" in g:
            test = (g["split"] == "test").to_numpy()
            if test.sum() != spec.n_origins or not test[-spec.n_origins :].all():
                raise ValueError(
                    f"{spec.file}: series {uid!r} does not end with exactly "
                    f"{spec.n_origins} test points"
                )
        y = g["y"].to_numpy(dtype=float)
        if y.size - spec.n_origins <= 2 * spec.season_length:
            dropped.append(str(uid))
            continue
        expected = pd.date_range(g["ds"].iloc[0], periods=y.size, freq=spec.freq)
        if not expected.equals(pd.DatetimeIndex(g["ds"])):
            raise ValueError(f"{spec.file}: series {uid!r} is not regular at freq {spec.freq}")
        ids.append(str(uid))
        values.append(y)
        starts.append(pd.Timestamp(g["ds"].iloc[0]))
    return Panel(spec, tuple(ids), tuple(values), tuple(starts), spec.n_origins, tuple(dropped))


def policy_keys() -> list[str]:
    """Every schedule the bench evaluates: the named policies and the curve's points."""
    return list(CURVE.keys())


def schedules(residuals: np.ndarray, n_train: int, season_length: int) -> dict[str, np.ndarray]:
    """Every policy's schedule for one series (see :func:`policy_keys`)."""
    return peers.schedules(residuals, n_train, season_length, CURVE)


def batches(panel: Panel, size: int) -> list[Batch]:
    """The panel cut into consecutive batches of ``size`` series, every curve policy each."""
    return peers.batches(panel, size, MODEL, CURVE)


def new_forecaster(spec: peers.PanelSpecLike) -> Forecaster:
    """The benchmarked model, as every policy uses it."""
    return MODEL.new(spec)


def warm() -> None:
    """Compile (or load from numba's cache) the ETS code paths once in this process."""
    peers.warm(MODEL)
