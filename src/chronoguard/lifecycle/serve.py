"""Serving: the champion forecasts the next periods from all history up to the origin."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from chronoguard.forecasting import Forecaster
from chronoguard.store import Store


def history_for(forecaster: Forecaster, data: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Rows a model conditions on at ``origin``: from its own training start up to ``origin``.

    Models that run a recursion from a fitted initial state (ETS) must start it where it
    was fitted; earlier rows would feed the recursion data its initial state never saw.
    """
    starts = data["unique_id"].map(forecaster.train_start_)
    return data[(data["ds"] >= starts) & (data["ds"] <= origin)]


def forecast_from(
    forecaster: Forecaster, data: pd.DataFrame, *, origin: pd.Timestamp, horizon: int
) -> pd.DataFrame:
    """Forecast ``horizon`` periods after ``origin``, conditioning on rows with ``ds <= origin``.

    Exogenous columns for the forecast periods are taken from ``data`` (they are known in
    advance, as calendars and planned prices are); the horizon shrinks where ``data`` ends.
    """
    history = history_for(forecaster, data, origin)
    exog = list(forecaster.exog_)  # only the features the model was fitted with
    x_future = None
    h = horizon
    if exog:
        future = data[data["ds"] > origin]
        future = future.groupby("unique_id", sort=False).head(horizon)
        h = int(future.groupby("unique_id").size().min()) if len(future) else 0
        if h == 0:
            return pd.DataFrame(columns=["unique_id", "ds", "yhat"])
        x_future = future.groupby("unique_id", sort=False).head(h)[["unique_id", "ds", *exog]]
    return forecaster.predict(h, X_future=x_future, history=history)


def serve_forecasts(
    store: Store,
    forecaster: Forecaster,
    data: pd.DataFrame,
    *,
    origin: pd.Timestamp,
    horizon: int,
    model_name: str,
    version: str,
    alias: str = "champion",
    if_exists: Literal["error", "skip"] = "error",
) -> pd.DataFrame:
    """Forecast from ``origin`` and record what was served (widest interval level kept).

    ``if_exists="skip"`` keeps forecasts already recorded for the same series, origin, target
    and version as they are (a resumed cycle serves each series once).
    """
    fc = forecast_from(forecaster, data, origin=origin, horizon=horizon)
    if fc.empty:
        return fc
    fc = fc.copy()
    fc["origin"] = origin
    fc["horizon"] = fc.groupby("unique_id").cumcount() + 1
    levels = sorted(int(c.removeprefix("yhat_lo_")) for c in fc.columns if c.startswith("yhat_lo_"))
    if levels:
        lv = levels[-1]
        fc["yhat_lo"], fc["yhat_hi"], fc["level"] = fc[f"yhat_lo_{lv}"], fc[f"yhat_hi_{lv}"], lv
    fc["model_name"], fc["version"], fc["alias"], fc["created_at"] = (
        model_name,
        version,
        alias,
        origin,
    )
    store.record_forecasts(fc, if_exists=if_exists)
    return fc
