"""Forecasting: the Forecaster contract, its backends, splits, backtests and metrics.

Every forecaster takes long frames (``unique_id``, ``ds``, ``y`` + exogenous columns), fits one
model per series and keeps only parameters and state, so that it pickles small.

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

from chronoguard.forecasting._errors import (
    InvalidParameterError,
    LeakageError,
    ModelFitError,
    UndefinedMetricError,
)
from chronoguard.forecasting.backtest import BacktestResult, backtest, check_no_leakage
from chronoguard.forecasting.base import Forecaster, interval_columns
from chronoguard.forecasting.factory import MODEL_NAMES, make_forecaster
from chronoguard.forecasting.metrics import coverage, mae, mase, rmse, scale_mase, smape
from chronoguard.forecasting.sarimax import SARIMAX
from chronoguard.forecasting.splits import rolling_origins, temporal_split
from chronoguard.forecasting.statsforecast_models import AutoARIMA, AutoETS, Naive, SeasonalNaive

__all__ = [
    "MODEL_NAMES",
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
