"""The governed loop: train → validate → promote / roll back, and serving."""

from chronoguard.lifecycle.deploy import AliasChange, move_alias, promote, rollback, rollback_target
from chronoguard.lifecycle.gate import GateResult, rolling_forecasts, validation_gate
from chronoguard.lifecycle.retrain import RetrainResult, retrain
from chronoguard.lifecycle.serve import forecast_from, serve_forecasts
from chronoguard.lifecycle.train import (
    TrainedVersion,
    new_forecaster,
    train_version,
    training_window,
)
from chronoguard.lifecycle.workspace import CONFIG_FILE, Workspace, init_workspace, open_workspace

__all__ = [
    "CONFIG_FILE",
    "AliasChange",
    "GateResult",
    "RetrainResult",
    "TrainedVersion",
    "Workspace",
    "forecast_from",
    "init_workspace",
    "move_alias",
    "new_forecaster",
    "open_workspace",
    "promote",
    "retrain",
    "rollback",
    "rollback_target",
    "rolling_forecasts",
    "serve_forecasts",
    "train_version",
    "training_window",
    "validation_gate",
]
