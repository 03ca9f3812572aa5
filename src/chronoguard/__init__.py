"""chronoguard: keeps time-series forecasting models healthy in production.

The Python API mirrors the command line. Heavy parts (MLflow, statsforecast) are imported
on first use of the name that needs them, so ``import chronoguard`` stays quick.

>>> import chronoguard
>>> df = chronoguard.load_dataset("seatbelts")
>>> chronoguard.validate_frame(df).freq
'MS'
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from chronoguard.errors import (
    ChronoguardError,
    ConfigError,
    DataContractError,
    UnknownModelError,
    UnknownVersionError,
)

try:
    __version__ = version("chronoguard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

# public name -> module that defines it (imported lazily)
_LAZY = {
    "ChronoguardConfig": "chronoguard.config",
    "load_config": "chronoguard.config",
    "parse_config": "chronoguard.config",
    "load_frame": "chronoguard.data",
    "validate_frame": "chronoguard.data",
    "load_dataset": "chronoguard.data",
    "make_forecaster": "chronoguard.forecasting",
    "backtest": "chronoguard.forecasting",
    "ModelRegistry": "chronoguard.registry",
    "Store": "chronoguard.store",
    "init_workspace": "chronoguard.lifecycle",
    "open_workspace": "chronoguard.lifecycle",
    "train_version": "chronoguard.lifecycle",
    "gate_series": "chronoguard.lifecycle",
    "deploy_series": "chronoguard.lifecycle",
    "rollback_series": "chronoguard.lifecycle",
    "run_cycle": "chronoguard.orchestration",
    "serve_forecasts": "chronoguard.lifecycle",
    "run_monitoring": "chronoguard.monitoring",
    "replay": "chronoguard.orchestration.replay",
}

__all__ = [
    "ChronoguardConfig",
    "ChronoguardError",
    "ConfigError",
    "DataContractError",
    "ModelRegistry",
    "Store",
    "UnknownModelError",
    "UnknownVersionError",
    "__version__",
    "backtest",
    "deploy_series",
    "gate_series",
    "init_workspace",
    "load_config",
    "load_dataset",
    "load_frame",
    "make_forecaster",
    "open_workspace",
    "parse_config",
    "replay",
    "rollback_series",
    "run_cycle",
    "run_monitoring",
    "serve_forecasts",
    "train_version",
    "validate_frame",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chronoguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
