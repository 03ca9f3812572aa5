"""The forecasters by name, as plain data: checking a name imports no backend.

The configuration validates ``model.name`` against :data:`MODEL_NAMES` when it is imported by
every command, and the backends are heavy (statsforecast compiles with numba, statsmodels pulls
in scipy: seconds per process). This table is the one list of models: the factory builds its
classes from it and the package exports them lazily through it.
"""

from __future__ import annotations

#: Model name (the class name) -> the module that defines that class.
MODEL_MODULES: dict[str, str] = {
    "AutoARIMA": "chronoguard.forecasting.statsforecast_models",
    "AutoETS": "chronoguard.forecasting.statsforecast_models",
    "MSTL": "chronoguard.forecasting.statsforecast_models",
    "Naive": "chronoguard.forecasting.statsforecast_models",
    "SARIMAX": "chronoguard.forecasting.sarimax",
    "SeasonalNaive": "chronoguard.forecasting.statsforecast_models",
}

#: Names accepted by :func:`~chronoguard.forecasting.make_forecaster`, sorted.
MODEL_NAMES: tuple[str, ...] = tuple(sorted(MODEL_MODULES))
