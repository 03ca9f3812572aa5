"""chronoguard keeps time-series forecasting models healthy in production: it versions
every model, watches data, forecasts and errors for drift, and retrains, validates,
promotes and rolls back under governance.

What to import for what
-----------------------
From a notebook or a script, one object per workspace (``help(chronoguard.Workspace)``)::

    from chronoguard import Workspace, load_dataset
    ws = Workspace.open("my-workspace")          # or Workspace.init(path, config)
    fc = ws.forecast(df, h=12)                   # a DataFrame: unique_id, ds, yhat, ...
    ws.cycle(df); ws.monitor(df); ws.retrain(df) # the production cycle and its steps
    ws.promote("3"); ws.rollback()               # need a token (CHRONOGUARD_TOKEN)
    ws.alerts(); ws.decisions(); ws.audit(); ws.verify_audit()

Data in the long format (``unique_id``, ``ds``, ``y``, exogenous columns):
``load_frame``, ``validate_frame``, ``load_dataset`` (bundled real data). Configuration:
``parse_config``, ``load_config`` (the workspace's ``chronoguard.toml``). Every error is a
``chronoguard.ChronoguardError`` (its kinds are in ``chronoguard.errors``).

The building blocks, each in its own package: ``chronoguard.data``,
``chronoguard.forecasting`` (models, backtests), ``chronoguard.registry`` (MLflow),
``chronoguard.store`` (the state store), ``chronoguard.drift``, ``chronoguard.monitoring``,
``chronoguard.policy``, ``chronoguard.alerts``, ``chronoguard.lifecycle`` (train, gate,
deploy, promote, roll back), ``chronoguard.orchestration`` (the cycle, replays, schedules),
``chronoguard.serving`` (HTTP), ``chronoguard.dashboard`` (reports). Their main names
(``run_cycle``, ``train_version``, ``Store``, ``ChronoguardConfig`` ...) are importable
from ``chronoguard`` too. Heavy parts (MLflow, statsforecast) load on first use, so
``import chronoguard`` stays quick.

>>> import chronoguard
>>> df = chronoguard.load_dataset("seatbelts")
>>> chronoguard.validate_frame(df).freq
'MS'
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

# Importable from here, documented in chronoguard.errors (see __dir__).
from chronoguard.errors import (  # noqa: F401
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
    "Workspace": "chronoguard.api",
    "MonitorResult": "chronoguard.api",
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

#: The notebook-facing names (``help(chronoguard)`` documents these). Every other public
#: name of the building blocks above stays importable from here, and is documented in its
#: own package.
__all__ = [
    "Workspace",
    "__version__",
    "load_config",
    "load_dataset",
    "load_frame",
    "parse_config",
    "validate_frame",
]
_ERRORS = [
    "ChronoguardError",
    "ConfigError",
    "DataContractError",
    "UnknownModelError",
    "UnknownVersionError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chronoguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_ERRORS, *_LAZY})
