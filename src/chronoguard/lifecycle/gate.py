"""The validation gate: a challenger must beat the champion on a held-out recent window.

Both models keep their fitted parameters frozen and are conditioned on the same history at
each origin of the window (the way a served model uses actuals as they arrive), so the
comparison is fair and free of look-ahead: the challenger was trained on data that ends
before the window starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.config import GateConfig
from chronoguard.forecasting import Forecaster
from chronoguard.forecasting.metrics import mae, rmse, scale_mase, smape
from chronoguard.lifecycle.serve import history_for


@dataclass(frozen=True)
class GateResult:
    """The gate's decision and the numbers behind it."""

    passed: bool
    metric: str
    challenger_error: float
    champion_error: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    reason: str


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


def score(fc: pd.DataFrame, history: pd.DataFrame, metric: str, season_length: int) -> float:
    """Mean of the per-series metric; MASE scales each series by its own history."""
    values = []
    for uid, g in fc.groupby("unique_id", sort=False):
        y, yhat = g["y"].to_numpy(float), g["yhat"].to_numpy(float)
        if metric == "mase":
            train = history.loc[history["unique_id"] == uid, "y"].to_numpy(float)
            values.append(mae(y, yhat) / scale_mase(train, season_length))
        elif metric == "mae":
            values.append(mae(y, yhat))
        elif metric == "rmse":
            values.append(rmse(y, yhat))
        else:
            values.append(smape(y, yhat))
    return float(np.mean(values))


def validation_gate(
    challenger: Forecaster,
    champion: Forecaster,
    data: pd.DataFrame,
    *,
    window_start: pd.Timestamp,
    horizon: int,
    season_length: int,
    gate: GateConfig,
) -> GateResult:
    """Compare challenger and champion on ``ds >= window_start``.

    Passes only if the challenger's error is at most ``(1 - margin)`` times the champion's
    (it must win by the margin, not tie) and at most the absolute threshold ``max_mase``
    when the metric is MASE.
    """
    hist = data[data["ds"] < window_start]
    ch = score(
        rolling_forecasts(challenger, data, window_start, horizon), hist, gate.metric, season_length
    )
    cp = score(
        rolling_forecasts(champion, data, window_start, horizon), hist, gate.metric, season_length
    )
    end = pd.Timestamp(data["ds"].max())
    needed = cp * (1 - gate.margin)
    reasons = []
    if not ch <= needed:
        reasons.append(
            f"challenger {gate.metric} {ch:.3f} does not beat champion {cp:.3f} by the "
            f"{gate.margin:.0%} margin (needs ≤ {needed:.3f})"
        )
    if gate.metric == "mase" and not ch <= gate.max_mase:
        reasons.append(f"challenger MASE {ch:.3f} is above the business threshold {gate.max_mase}")
    passed = not reasons
    reason = (
        f"challenger {gate.metric} {ch:.3f} vs champion {cp:.3f}: better by "
        f"{1 - ch / cp:.1%} (margin {gate.margin:.0%})"
        if passed
        else "; ".join(reasons)
    )
    return GateResult(passed, gate.metric, ch, cp, pd.Timestamp(window_start), end, reason)
