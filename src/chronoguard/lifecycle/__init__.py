"""The governed loop: train → validate → promote / roll back, and serving."""

from chronoguard.lifecycle.deploy import CHAMPION, AliasChange, move_alias
from chronoguard.lifecycle.fleet import (
    SeriesGate,
    VersionCache,
    deploy_series,
    gate_series,
    reconcile,
    rollback_series,
)
from chronoguard.lifecycle.gate import rolling_forecasts
from chronoguard.lifecycle.serve import forecast_from, serve_forecasts
from chronoguard.lifecycle.train import (
    TrainedVersion,
    new_forecaster,
    train_version,
    training_window,
)
from chronoguard.lifecycle.workspace import CONFIG_FILE, Workspace, init_workspace, open_workspace

__all__ = [
    "CHAMPION",
    "CONFIG_FILE",
    "AliasChange",
    "SeriesGate",
    "TrainedVersion",
    "VersionCache",
    "Workspace",
    "deploy_series",
    "forecast_from",
    "gate_series",
    "init_workspace",
    "move_alias",
    "new_forecaster",
    "open_workspace",
    "reconcile",
    "rollback_series",
    "rolling_forecasts",
    "serve_forecasts",
    "train_version",
    "training_window",
]
