"""chronoguard: keeps time-series forecasting models healthy in production."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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

__all__ = [
    "ChronoguardError",
    "ConfigError",
    "DataContractError",
    "UnknownModelError",
    "UnknownVersionError",
    "__version__",
]
