"""MLflow model registry: log, register, aliases, lineage, load by version or alias, and the
typed reference profile each version carries.

The MLflow part is imported on first use of a name that needs it, so the reference types
(which training workers and monitoring import) do not pull MLflow into every process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chronoguard.registry.lineage import Lineage, fingerprint_frame
from chronoguard.registry.version_reference import (
    PROFILE_FORMAT,
    BacktestReference,
    ErrorReference,
    SeriesReference,
    VersionReference,
)

if TYPE_CHECKING:
    from chronoguard.registry.mlflow_registry import (
        ALIASES,
        PIP_REQUIREMENTS,
        LoadedModel,
        ModelRegistry,
        ModelVersion,
    )

_MLFLOW = ("ALIASES", "PIP_REQUIREMENTS", "LoadedModel", "ModelRegistry", "ModelVersion")


def __getattr__(name: str) -> Any:
    if name not in _MLFLOW:
        raise AttributeError(f"module 'chronoguard.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module("chronoguard.registry.mlflow_registry"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALIASES",
    "PIP_REQUIREMENTS",
    "PROFILE_FORMAT",
    "BacktestReference",
    "ErrorReference",
    "Lineage",
    "LoadedModel",
    "ModelRegistry",
    "ModelVersion",
    "SeriesReference",
    "VersionReference",
    "fingerprint_frame",
]
