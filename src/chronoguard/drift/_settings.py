"""Settings of :class:`~chronoguard.drift._calibrated.CalibratedDriftTest` and small helpers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.drift._sequential import TAIL_PROBS, log_tail
from chronoguard.drift.reference_state import MonitoringCalibration, ReferenceState
from chronoguard.drift.types import DriftInputError

ALTERNATIVES = ("two-sided", "greater", "less")
METHODS = ("auto", "prewhiten", "ess", "bootstrap")
TRANSFORMS = ("auto", "log", "none")


def check_settings(params: dict[str, Any]) -> None:
    """Validate :class:`CalibratedDriftTest` settings; name every bad one and the allowed values."""
    cfg = SimpleNamespace(**params)
    problems = []
    if cfg.alternative not in ALTERNATIVES:
        problems.append(f"alternative={cfg.alternative!r} (use one of {ALTERNATIVES})")
    if cfg.method not in METHODS:
        problems.append(f"method={cfg.method!r} (use one of {METHODS})")
    if cfg.transform not in TRANSFORMS:
        problems.append(f"transform={cfg.transform!r} (use one of {TRANSFORMS})")
    for name in ("alpha", "false_alarm_rate"):
        v = getattr(cfg, name)
        if not (isinstance(v, int | float) and 0 < v < 1):
            problems.append(f"{name}={v!r} (a probability in (0, 1))")
    if not (cfg.shift == "auto" or (isinstance(cfg.shift, int | float) and cfg.shift > 0)):
        problems.append(f"shift={cfg.shift!r} ('auto' or a positive number of standard deviations)")
    if not (isinstance(cfg.horizon, int) and cfg.horizon >= 1):
        problems.append(f"horizon={cfg.horizon!r} (a positive number of checks)")
    p = cfg.persistence
    if not (isinstance(p, tuple | list) and len(p) == 2 and 1 <= int(p[0]) <= int(p[1])):
        problems.append(f"persistence={p!r} (a pair (k, n) with 1 <= k <= n)")
    if cfg.scale_ratio is not None and not (
        isinstance(cfg.scale_ratio, int | float) and cfg.scale_ratio > 1
    ):
        problems.append(f"scale_ratio={cfg.scale_ratio!r} (a sd ratio > 1, or None)")
    if cfg.window is not None and not (isinstance(cfg.window, int) and cfg.window >= 1):
        problems.append(f"window={cfg.window!r} (a positive number of periods, or None)")
    if cfg.max_order is not None and not (isinstance(cfg.max_order, int) and cfg.max_order >= 0):
        problems.append(f"max_order={cfg.max_order!r} (a non-negative integer or None)")
    for name in ("n_boot", "n_sim", "n_sim_window"):
        v = getattr(cfg, name)
        if not (isinstance(v, int) and v >= (0 if name == "n_boot" else 100)):
            problems.append(f"{name}={v!r} (an integer, >= 100 for simulations)")
    if problems:
        raise DriftInputError("invalid CalibratedDriftTest settings: " + "; ".join(problems))


PARAMS = (
    "season_length",
    "transform",
    "max_order",
    "fourier_terms",
    "alpha",
    "alternative",
    "method",
    "shift",
    "horizon",
    "false_alarm_rate",
    "persistence",
    "window",
    "scale_ratio",
    "n_boot",
    "n_sim",
    "n_sim_window",
    "random_state",
)


def tail_pvalue(stat: float, cal: MonitoringCalibration) -> float:
    """p-value from the stored null tail, exact at the threshold (p < budget iff stat > h),
    extrapolated beyond the stored tail (:func:`~chronoguard.drift._sequential.log_tail`)."""
    probs = np.append(TAIL_PROBS, cal.false_alarm_rate)
    quants = np.append(np.asarray(cal.tail), cal.threshold)
    order = np.argsort(quants, kind="stable")
    q = np.maximum.accumulate(quants[order])
    logp = np.minimum.accumulate(np.log(probs[order]))
    if stat <= q[0]:
        return 1.0
    p = float(np.exp(log_tail(stat, q, logp)))
    # Keep the decision and the p-value consistent at the threshold.
    if stat > cal.threshold:
        p = min(p, np.nextafter(cal.false_alarm_rate, 0.0))
    else:
        p = max(p, cal.false_alarm_rate)
    return p


def grid_ds(state: ReferenceState, position: float) -> Any:
    """Timestamp of a grid position (the reference's origin plus that many periods)."""
    if state.origin is None or state.freq is None:
        return None
    return pd.Timestamp(state.origin) + int(position) * pd.tseries.frequencies.to_offset(state.freq)
