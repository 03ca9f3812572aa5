"""The per-series layer under every forecaster: one fitted model of one series.

A :class:`~chronoguard.forecasting.base.Forecaster` handles frames and many series; each of its
series is a small object that follows :class:`SeriesModel`. That object holds only what it needs
to forecast (parameters and the last state), never the training data, so that a pickled
forecaster stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from statsforecast.models import Naive as _SFNaive
from statsforecast.models import SeasonalNaive as _SFSeasonalNaive


def _cache_interval_quantiles() -> None:
    """Compute statsforecast's interval quantiles once per set of levels.

    statsforecast builds a scipy frozen distribution for every interval forecast it makes
    (1.4 ms of the 2 ms a seasonal-naive forecast of one series takes, measured serving
    1,000 series), although the quantiles depend only on the levels and the error
    distribution. A fleet serves thousands of series a cycle, so its helper is wrapped here
    with a cache of the quantiles of the standard normal; other distributions (fitted
    parameters) and a statsforecast without that helper are left as they are.
    """
    from statsforecast import utils as sf_utils

    original = getattr(sf_utils, "_quantiles", None)
    if original is None or getattr(original, "cached_by_chronoguard", False):
        return
    cache: dict[tuple[tuple[int, ...], bytes], np.ndarray] = {}

    def quantiles(level: Any, distribution: str = "normal", dist_params: Any = None) -> Any:
        if distribution != "normal" or dist_params:
            return original(level, distribution=distribution, dist_params=dist_params)
        lv = np.asarray(level, dtype=float)
        key = (lv.shape, lv.tobytes())
        if key not in cache:
            cache[key] = np.asarray(original(level, distribution="normal"))
        return cache[key].copy()

    quantiles.cached_by_chronoguard = True  # type: ignore[attr-defined]
    quantiles.original = original  # type: ignore[attr-defined]
    sf_utils._quantiles = quantiles


_cache_interval_quantiles()


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series: the mean and one (lo, hi) row per interval level."""

    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def from_statsforecast(cls, result: dict[str, Any], levels: Sequence[int]) -> SeriesForecast:
        """Convert the ``{"mean", "lo-80", "hi-80", ...}`` dict that statsforecast returns."""
        mean = np.asarray(result["mean"], dtype=float)
        lo = np.array([np.asarray(result[f"lo-{lv}"], dtype=float) for lv in levels])
        hi = np.array([np.asarray(result[f"hi-{lv}"], dtype=float) for lv in levels])
        return cls(mean, lo.reshape(len(levels), mean.size), hi.reshape(len(levels), mean.size))


class SeriesModel(Protocol):
    """A fitted model of one series, with frozen parameters."""

    def predict(self, h: int, X_future: np.ndarray | None, levels: Sequence[int]) -> SeriesForecast:
        """Forecast ``h`` steps after the end of the training series."""
        ...

    def forward(
        self,
        y: np.ndarray,
        X: np.ndarray | None,
        h: int,
        X_future: np.ndarray | None,
        levels: Sequence[int],
        offset: int,
    ) -> SeriesForecast:
        """Condition the state on ``y`` (parameters frozen) and forecast ``h`` steps after it.

        ``offset`` is the number of periods from the first training timestamp to ``y[0]``, for
        models whose state depends on the position in time (seasonal phase, trend).
        """
        ...


@runtime_checkable
class InSampleForecasts(Protocol):
    """A series model whose backend gives its one-step forecasts over a history in one pass.

    Implemented only where that pass equals, point by point, the forecast of
    :meth:`SeriesModel.forward` with ``h=1`` on the points before (parameters frozen).
    """

    def fitted(self, y: np.ndarray, X: np.ndarray | None, offset: int) -> np.ndarray:
        """One-step forecast of every point of ``y`` from the points before it.

        NaN where the model has no forecast (before its first season, for a seasonal naive).
        ``offset`` is as in :meth:`SeriesModel.forward`.
        """
        ...


def statsforecast_levels(levels: Sequence[int]) -> list[int] | None:
    # statsforecast treats an empty list differently from None (it still builds interval keys).
    return list(levels) if levels else None


@dataclass
class NaiveSeries:
    """Naive (``season_length == 1``) or seasonal naive model of one series.

    Stores the fitted statsforecast model stripped to the last season of values and the residual
    standard deviation; conditioning on a history swaps the last season for the history's and
    keeps ``sigma`` frozen (statsforecast's own ``forward`` would re-estimate it).
    """

    model: _SFNaive | _SFSeasonalNaive
    season_length: int

    def predict(self, h: int, X_future: np.ndarray | None, levels: Sequence[int]) -> SeriesForecast:
        """Repeat the last observed season."""
        return SeriesForecast.from_statsforecast(
            self.model.predict(h=h, level=statsforecast_levels(levels)), levels
        )

    def forward(
        self,
        y: np.ndarray,
        X: np.ndarray | None,
        h: int,
        X_future: np.ndarray | None,
        levels: Sequence[int],
        offset: int,
    ) -> SeriesForecast:
        """Repeat the last season of ``y`` with the fitted ``sigma``."""
        if y.size < self.season_length:
            raise ValueError(
                f"the history has {y.size} points, fewer than season_length={self.season_length}"
            )
        moved = self.model.new()
        moved.model_ = {**self.model.model_, "mean": y[-self.season_length :].astype(float)}
        return SeriesForecast.from_statsforecast(
            moved.predict(h=h, level=statsforecast_levels(levels)), levels
        )

    def fitted(self, y: np.ndarray, X: np.ndarray | None, offset: int) -> np.ndarray:
        """statsforecast's in-sample fitted values: ``y[t - season_length]``, NaN before."""
        return np.asarray(self.model.forward(y=y.astype(float), h=1, fitted=True)["fitted"], float)


def fit_naive(y: np.ndarray, season_length: int) -> NaiveSeries:
    """Fit a seasonal naive model (a naive one when ``season_length == 1``).

    Raises
    ------
    ValueError
        If the series is too short to estimate the residual spread.
    """
    if season_length > 1:
        if y.size <= season_length:
            raise ValueError(
                f"SeasonalNaive needs more than season_length={season_length} points, got {y.size}"
            )
        model: _SFNaive | _SFSeasonalNaive = _SFSeasonalNaive(season_length=season_length)
    else:
        if y.size < 2:
            raise ValueError(f"Naive needs at least 2 points, got {y.size}")
        model = _SFNaive()
    model.fit(y.astype(float))
    # The fitted values and residuals are as long as the series: drop them, they are not needed.
    stripped: dict[str, Any] = {"mean": model.model_["mean"], "sigma": float(model.model_["sigma"])}
    model.model_ = stripped
    return NaiveSeries(model, season_length)


def fit_fallback(y: np.ndarray, season_length: int) -> NaiveSeries:
    """Fit the fallback model: seasonal naive, or naive when the series is shorter than a season."""
    if season_length > 1 and y.size > season_length:
        return fit_naive(y, season_length)
    return fit_naive(y, 1)
