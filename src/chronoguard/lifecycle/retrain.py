"""One governed retrain: train a challenger on held-out-free data, gate it, record, promote."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.errors import ChronoguardError
from chronoguard.forecasting import Forecaster
from chronoguard.lifecycle.deploy import promote
from chronoguard.lifecycle.gate import GateResult, validation_gate
from chronoguard.lifecycle.train import TrainedVersion, train_version, training_window
from chronoguard.lifecycle.workspace import Workspace


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain produced and what the gate decided."""

    challenger: TrainedVersion
    gate: GateResult
    outcome: str  # "promoted" or "rejected"; a passing challenger kept back is "rejected"
    window_start: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp


def retrain(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    freq: str,
    now: pd.Timestamp,
    trigger: str,
    champion: Forecaster,
    champion_version: str,
    by: str,
    promote_if_passed: bool = True,
) -> RetrainResult:
    """Train a challenger on data before a held-out recent window, gate it, and act.

    The challenger's training data ends ``gate.validation_window`` periods before ``now``;
    challenger and champion are compared on those periods (see
    :func:`~chronoguard.lifecycle.validation_gate`). The version's status, the retrain
    decision and (when it passes) the promotion are recorded in the store.
    """
    cfg = ws.config
    model = ws.model_name
    timeline = pd.DatetimeIndex(np.sort(data.loc[data["ds"] <= now, "ds"].unique()))
    v = cfg.gate.validation_window
    if len(timeline) <= v:
        raise ChronoguardError(
            f"only {len(timeline)} periods up to {now}, not more than gate.validation_window "
            f"({v}): nothing would be left to train the challenger on"
        )
    window_start, train_end = timeline[-v], timeline[-v - 1]
    train = training_window(data, train_end, cfg.training.retrain_window)
    trained = train_version(
        train,
        cfg,
        ws.registry,
        freq=freq,
        now=now,
        trigger=trigger,
        parent_version=champion_version,
    )
    version = trained.version.version
    ws.store.set_version_status(model, version, "candidate", at=now, by=by, reason=trigger)
    result = validation_gate(
        trained.forecaster,
        champion,
        data[data["ds"] <= now],
        window_start=window_start,
        horizon=min(cfg.forecast.horizon, v),
        season_length=cfg.data.season_length,
        gate=cfg.gate,
    )
    outcome = "promoted" if result.passed and promote_if_passed else "rejected"
    with ws.store.transaction():
        ws.store.set_version_status(
            model,
            version,
            "validated" if result.passed else "rejected",
            at=now,
            by=by,
            reason=result.reason,
        )
        ws.store.record_retrain(
            ds=now,
            model_name=model,
            trigger=trigger,
            challenger_version=version,
            champion_version=champion_version,
            challenger_error=result.challenger_error,
            champion_error=result.champion_error,
            outcome=outcome,
            reason=result.reason
            if promote_if_passed
            else f"kept back by the caller; {result.reason}",
        )
    if outcome == "promoted":
        promote(
            ws.registry,
            ws.store,
            model,
            version,
            by=by,
            reason=f"{trigger}; {result.reason}",
            at=now,
        )
    return RetrainResult(trained, result, outcome, window_start, train["ds"].min(), train_end)
