"""Forecasting: the Forecaster contract, its backends, splits, backtests and metrics.

Every forecaster takes long frames (``unique_id``, ``ds``, ``y`` + exogenous columns), fits one
model per series and keeps only parameters and state, so that it pickles small.

The backends are imported on first use of a name that needs them (statsforecast compiles with
numba, statsmodels pulls in scipy), so ``MODEL_NAMES`` and the errors come without them: the
configuration checks a model name, and the command line answers ``--help``, in a fraction of
a second.

Examples
--------
>>> import pandas as pd
>>> from chronoguard.forecasting import make_forecaster
>>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=8,
...                    freq="D"), "y": [1.0, 2, 1, 2, 1, 2, 1, 2]})
>>> model = make_forecaster("SeasonalNaive", season_length=2, level=[80]).fit(df)
>>> model.predict(h=2)[["ds", "yhat"]]
          ds  yhat
0 2024-01-09   1.0
1 2024-01-10   2.0
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from chronoguard.forecasting._errors import (
    InvalidParameterError,
    LeakageError,
    ModelFitError,
    UndefinedMetricError,
)
from chronoguard.forecasting._names import MODEL_MODULES, MODEL_NAMES

if TYPE_CHECKING:
    from chronoguard.forecasting.backtest import (
        BacktestResult,
        backtest,
        check_no_leakage,
        frozen_backtest,
    )
    from chronoguard.forecasting.base import Forecaster, interval_columns
    from chronoguard.forecasting.factory import make_forecaster
    from chronoguard.forecasting.metrics import coverage, mae, mase, rmse, scale_mase, smape
    from chronoguard.forecasting.sarimax import SARIMAX
    from chronoguard.forecasting.splits import rolling_origins, temporal_split
    from chronoguard.forecasting.statsforecast_models import (
        MSTL,
        AutoARIMA,
        AutoETS,
        Naive,
        SeasonalNaive,
    )

# public name -> module that defines it (imported on first use); the models come from the one
# table of names
_LAZY: dict[str, str] = {
    "BacktestResult": "chronoguard.forecasting.backtest",
    "backtest": "chronoguard.forecasting.backtest",
    "check_no_leakage": "chronoguard.forecasting.backtest",
    "frozen_backtest": "chronoguard.forecasting.backtest",
    "Forecaster": "chronoguard.forecasting.base",
    "interval_columns": "chronoguard.forecasting.base",
    "make_forecaster": "chronoguard.forecasting.factory",
    **dict.fromkeys(
        ("coverage", "mae", "mase", "rmse", "scale_mase", "smape"),
        "chronoguard.forecasting.metrics",
    ),
    **dict.fromkeys(("rolling_origins", "temporal_split"), "chronoguard.forecasting.splits"),
    **MODEL_MODULES,
}

__all__ = [
    "MODEL_NAMES",
    "MSTL",
    "SARIMAX",
    "AutoARIMA",
    "AutoETS",
    "BacktestResult",
    "Forecaster",
    "InvalidParameterError",
    "LeakageError",
    "ModelFitError",
    "Naive",
    "SeasonalNaive",
    "UndefinedMetricError",
    "backtest",
    "check_no_leakage",
    "coverage",
    "frozen_backtest",
    "interval_columns",
    "mae",
    "make_forecaster",
    "mase",
    "rmse",
    "rolling_origins",
    "scale_mase",
    "smape",
    "temporal_split",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """This package, with one guard for a lazy name that is also a submodule's name.

    The import system binds each submodule on its package once it has loaded: importing
    ``chronoguard.forecasting.backtest`` directly (a doctest runner does) would make the package's
    ``backtest`` the module rather than the function, for every later
    ``from chronoguard.forecasting import backtest``. The name keeps the function, as it does when
    the package imports everything eagerly.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and _LAZY.get(name) == value.__name__
            and hasattr(value, name)
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
