"""MLflow model registry: log, register, aliases, lineage, load by version or alias."""

from chronoguard.registry.lineage import Lineage, fingerprint_frame
from chronoguard.registry.mlflow_registry import (
    ALIASES,
    PIP_REQUIREMENTS,
    LoadedModel,
    ModelRegistry,
    ModelVersion,
)

__all__ = [
    "ALIASES",
    "PIP_REQUIREMENTS",
    "Lineage",
    "LoadedModel",
    "ModelRegistry",
    "ModelVersion",
    "fingerprint_frame",
]
