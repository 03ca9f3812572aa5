"""The charts of the series page, from plain frames (no store, no clock).

Inputs are the frames the store returns for one series: actuals (``ds, y``), served
forecasts (``ds, horizon, yhat, yhat_lo, yhat_hi, level``) and monitoring results
(``ds, kind, method, feature, statistic, threshold``), plus the deployment moves to mark
and the forecasts served now. Output: :class:`SeriesCharts`, SVG strings and the interval
coverage they show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from chronoguard.dashboard.live import svg

COVERAGE_WINDOW = 12  # periods of the rolling interval coverage
MAX_LINES = 6  # horizons or drift checks drawn per chart
DRIFT_KINDS = ("data_drift", "concept_drift", "prediction_drift")
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")


@dataclass(frozen=True, slots=True)
class ServedPath:
    """The forecasts served now for the series, by step."""

    origin: datetime
    ds: Sequence[datetime]
    yhat: Sequence[float]
    yhat_lo: Sequence[float | None]
    yhat_hi: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class SeriesCharts:
    charts: tuple[str, ...]
    coverage: float | None  # share of one-step actuals inside their interval
    level: int | None  # the interval's nominal level, percent


def _dt(values: pd.Series) -> list[datetime]:
    return list(pd.DatetimeIndex(values).to_pydatetime())


def _floats(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def series_charts(
    actual: pd.DataFrame,
    forecasts: pd.DataFrame,
    monitoring: pd.DataFrame,
    *,
    moves: Sequence[tuple[datetime, str]] = (),
    served: ServedPath | None = None,
) -> SeriesCharts:
    """Actuals against forecasts, error per horizon, interval coverage and drift
    statistics over their thresholds (a chart is left out when it has nothing to show)."""
    rules = [svg.Rule(label, x=at, color="#2ca02c") for at, label in moves]
    lines = [svg.Line("actual", _dt(actual["ds"]), actual["y"].astype(float).tolist(), "#222222")]
    bands = []
    one = forecasts[forecasts["horizon"] == 1] if not forecasts.empty else forecasts
    if not one.empty:
        x = _dt(one["ds"])
        lines.append(svg.Line("forecast (1 step)", x, one["yhat"].astype(float).tolist()))
        bands.append(
            svg.Band(
                "interval",
                x,
                one["yhat_lo"].astype(float).tolist(),
                one["yhat_hi"].astype(float).tolist(),
            )
        )
    if served is not None:
        lines.append(
            svg.Line(
                f"served from {served.origin:%Y-%m-%d}",
                list(served.ds),
                list(served.yhat),
                "#d62728",
                dashed=True,
                dots=True,
            )
        )
        bands.append(
            svg.Band(
                "served interval",
                list(served.ds),
                _floats(served.yhat_lo),
                _floats(served.yhat_hi),
                "#fcbba1",
            )
        )
    charts = [svg.render(svg.Chart("Actuals and forecasts", lines, bands, rules))]

    coverage: float | None = None
    level: int | None = None
    if not forecasts.empty and not actual.empty:
        both = forecasts.merge(actual[["ds", "y"]], on="ds")
        err_lines = []
        for k, (h, g) in enumerate(both.groupby("horizon")):
            if k >= MAX_LINES:
                break
            g = g.drop_duplicates("ds", keep="last")
            err = (g["y"] - g["yhat"]).abs().astype(float).tolist()
            err_lines.append(svg.Line(f"h={h}", _dt(g["ds"]), err, _PALETTE[k]))
        charts.append(
            svg.render(
                svg.Chart("Absolute error per horizon", err_lines, y_label="|actual − forecast|")
            )
        )
        g1 = both[both["horizon"] == 1].dropna(subset=["yhat_lo", "yhat_hi"])
        if not g1.empty:
            inside = ((g1["y"] >= g1["yhat_lo"]) & (g1["y"] <= g1["yhat_hi"])).astype(float)
            rolling = inside.rolling(COVERAGE_WINDOW, min_periods=1).mean().tolist()
            levels = g1["level"].dropna()
            level = int(levels.iloc[0]) if not levels.empty else None
            coverage = float(inside.mean())
            nominal = [svg.Rule(f"nominal {level} %", y=level / 100)] if level else []
            charts.append(
                svg.render(
                    svg.Chart(
                        f"Interval coverage (1 step, rolling {COVERAGE_WINDOW})",
                        [svg.Line("covered", _dt(g1["ds"]), rolling, "#2ca02c")],
                        rules=nominal,
                    )
                )
            )

    if not monitoring.empty:
        drift = monitoring[monitoring["kind"].isin(DRIFT_KINDS)]
        drift_lines = []
        for k, ((method, feature), g) in enumerate(drift.groupby(["method", "feature"])):
            if k >= MAX_LINES:
                break
            thr = g["threshold"].astype(float).to_numpy()
            stat = g["statistic"].astype(float).to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(thr > 0, stat / thr, np.nan)
            drift_lines.append(
                svg.Line(
                    f"{method}:{feature}", _dt(g["ds"]), ratio.tolist(), _PALETTE[k], dots=True
                )
            )
        if drift_lines:
            charts.append(
                svg.render(
                    svg.Chart(
                        "Drift statistics / threshold (above 1: over it)",
                        drift_lines,
                        rules=[svg.Rule("threshold", y=1.0, color="#d62728")],
                    )
                )
            )
    return SeriesCharts(tuple(charts), coverage, level)


__all__ = ["SeriesCharts", "ServedPath", "series_charts"]
