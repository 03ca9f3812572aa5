"""Rolling forecasts over a held-out recent window: what the validation gate compares.

Both models keep their fitted parameters frozen and are conditioned on the same history at
each origin of the window (the way a served model uses actuals as they arrive), so the
comparison is fair and free of look-ahead: the challenger was trained on data that ends
before the window starts. The gate itself, series by series, is
:func:`chronoguard.lifecycle.fleet.gate_series`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from chronoguard.forecasting import Forecaster
from chronoguard.lifecycle.serve import history_for


def rolling_forecasts(
    forecaster: Forecaster,
    data: pd.DataFrame,
    window_start: pd.Timestamp,
    horizon: int,
) -> pd.DataFrame:
    """Forecasts for every ``ds >= window_start`` from every origin inside the window.

    The model sees only rows with ``ds <= origin`` at each origin (its parameters are not
    refitted). Returns ``unique_id, origin, ds, horizon, y, yhat``.
    """
    timeline = np.sort(data["ds"].unique())
    in_window = timeline[timeline >= np.datetime64(window_start)]
    if len(in_window) == 0:
        raise ValueError(f"no data at or after the validation window start {window_start}")
    first = int(np.searchsorted(timeline, in_window[0]))
    exog = list(forecaster.exog_)  # only the features the model was fitted with
    rows = []
    for pos in range(first - 1, len(timeline) - 1):
        origin = pd.Timestamp(timeline[pos])
        hh = min(horizon, len(timeline) - 1 - pos)
        history = history_for(forecaster, data, origin)
        future = data[(data["ds"] > origin) & (data["ds"] <= pd.Timestamp(timeline[pos + hh]))]
        x_future = future[["unique_id", "ds", *exog]] if exog else None
        fc = forecaster.predict(hh, X_future=x_future, history=history)
        fc = fc.merge(future[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
        fc["origin"] = origin
        fc["horizon"] = fc.groupby("unique_id").cumcount() + 1
        rows.append(fc[["unique_id", "origin", "ds", "horizon", "y", "yhat"]])
    return pd.concat(rows, ignore_index=True)
