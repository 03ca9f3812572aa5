"""Forecasters backed by statsforecast models: AutoETS, AutoARIMA, MSTL, SeasonalNaive, Naive.

Each series gets its own statsforecast model object. After fitting, the model's arrays that are
as long as the series (fitted values, residuals, the ETS state path) are dropped, so that a
pickled forecaster holds parameters and the last state only.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsforecast.ets import forward_ets
from statsforecast.models import AutoARIMA as _SFAutoARIMA
from statsforecast.models import AutoETS as _SFAutoETS
from statsforecast.mstl import mstl as _mstl

from chronoguard.forecasting._errors import InvalidParameterError
from chronoguard.forecasting._series import (
    NaiveSeries,
    SeriesForecast,
    SeriesModel,
    fit_naive,
    statsforecast_levels,
)
from chronoguard.forecasting.base import Forecaster

__all__ = ["MSTL", "AutoARIMA", "AutoETS", "Naive", "SeasonalNaive"]

# Keys of a fitted statsforecast ETS model that forecasting and ``forward_ets`` read.
_ETS_KEYS = ("components", "m", "par", "sigma2", "n_params", "nstate", "distribution", "method")


@dataclass
class ETSSeries:
    """A fitted ETS model of one series: parameters, initial state and last state."""

    model: _SFAutoETS

    def predict(self, h: int, X_future: np.ndarray | None, levels: Sequence[int]) -> SeriesForecast:
        """Forecast from the last training state."""
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
        """Run the ETS recursion over ``y`` from the fitted initial state, then forecast.

        The initial seasonal state belongs to the first training timestamp; when ``y`` starts
        ``offset`` periods later it is rotated to the matching phase. statsforecast's own
        ``forward`` re-estimates ``sigma2`` from the new residuals: here it stays frozen, so the
        intervals keep the fitted uncertainty.
        """
        fitted = self.model.model_
        state = self._run(y, offset)
        state["sigma2"] = fitted["sigma2"]
        state["distribution"] = fitted.get("distribution", "normal")
        moved = self.model.new()
        moved.model_ = state
        return SeriesForecast.from_statsforecast(
            moved.predict(h=h, level=statsforecast_levels(levels)), levels
        )

    def fitted(self, y: np.ndarray, X: np.ndarray | None, offset: int) -> np.ndarray:
        """The recursion's one-step forecasts over ``y`` (statsforecast's fitted values).

        The forecast of ``y[0]`` comes from the fitted initial state.
        """
        return np.asarray(self._run(y, offset)["fitted"], dtype=float)

    def _run(self, y: np.ndarray, offset: int) -> dict[str, Any]:
        """statsforecast's ETS recursion over ``y`` from the fitted initial state."""
        fitted = self.model.model_
        par = np.array(fitted["par"], dtype=float)
        components = str(fitted["components"])
        m = int(fitted["m"])
        if components[2] != "N" and m > 1:
            first_season = 4 + 1 + (components[1] != "N")  # alpha..phi, level, trend
            par[first_season:] = np.roll(par[first_season:], offset % m)
        state: dict[str, Any] = forward_ets({**fitted, "par": par, "fit": None}, y.astype(float))
        return state


@dataclass
class ARIMASeries:
    """A fitted (Auto)ARIMA model of one series: coefficients and the Kalman filter state.

    It has no one-pass ``fitted``: statsforecast's ARIMA fitted values are ``y`` minus
    residuals divided by the filter's relative prediction sd (R's ``arima`` convention), so
    they differ from the one-step forecasts until that sd settles at 1, which takes several
    seasons for a seasonal MA term near -1.
    """

    model: _SFAutoARIMA

    def predict(self, h: int, X_future: np.ndarray | None, levels: Sequence[int]) -> SeriesForecast:
        """Forecast from the filter state at the end of training."""
        return SeriesForecast.from_statsforecast(
            self.model.predict(h=h, X=X_future, level=statsforecast_levels(levels)), levels
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
        """Re-run the Kalman filter over ``y`` with the fitted coefficients, then forecast.

        ``offset`` is not needed: differencing makes the state independent of the start, and a
        drift term is re-based on the history by statsforecast.

        statsforecast regresses on the exogenous inputs again here, with the coefficients
        fixed, and warns each time when their design matrix is rank-deficient (Fourier terms
        beside a constant, say). The fit heard that once and kept it in ``fit_warnings_``;
        repeated at every forecast and every rolling step it would only bury the output.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The design matrix is rank-deficient")
            out = self.model.forward(
                y=y.astype(float), h=h, X=X, X_future=X_future, level=statsforecast_levels(levels)
            )
        return SeriesForecast.from_statsforecast(out, levels)


class AutoETS(Forecaster):
    """Exponential smoothing state space model, chosen per series by AICc (statsforecast).

    Parameters
    ----------
    season_length, level, freq, exog, fallback
        See :class:`~chronoguard.forecasting.Forecaster`.
    model : str, default "ZZZ"
        Error, trend and season types, each "A" (additive), "M" (multiplicative), "N" (none,
        not for error) or "Z" (choose).
    damped : bool or None, default None
        Whether the trend is damped; None chooses.

    Notes
    -----
    With ``history``, the recursion runs from the fitted initial state over the history; give
    the series from its training start for an exact continuation. A history that starts later
    gets the seasonal initial state rotated to its phase, and its first errors are larger
    until the level adapts.
    """

    supports_exog = False

    def __init__(
        self,
        *,
        season_length: int = 1,
        level: Sequence[int] = (80, 95),
        freq: str | None = None,
        exog: Sequence[str] | None = None,
        fallback: bool = False,
        model: str = "ZZZ",
        damped: bool | None = None,
    ) -> None:
        super().__init__(
            season_length=season_length, level=level, freq=freq, exog=exog, fallback=fallback
        )
        self.model = model
        self.damped = damped

    def _check_params(self) -> None:
        super()._check_params()
        spec = self.model
        if (
            not isinstance(spec, str)
            or len(spec) != 3
            or spec[0] not in "AMZ"
            or spec[1] not in "ANMZ"
            or spec[2] not in "ANMZ"
        ):
            raise InvalidParameterError(
                f"AutoETS: model must be 3 letters (error in A/M/Z, trend and season in "
                f"A/N/M/Z), e.g. 'ZZZ' or 'AAA'; got {spec!r}"
            )
        if self.damped not in (None, True, False):
            raise InvalidParameterError("AutoETS: damped must be None, True or False")

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        return _fit_ets(y, self.season_length, self.model, self.damped)


def _fit_ets(y: np.ndarray, season_length: int, spec: str, damped: bool | None) -> ETSSeries:
    """Fit statsforecast's AutoETS to ``y`` and strip it to parameters and the last state."""
    model = _SFAutoETS(season_length=season_length, model=spec, damped=damped)
    model.fit(y)
    fitted = model.model_
    stripped = {key: fitted[key] for key in _ETS_KEYS if key in fitted}
    stripped["states"] = np.array(fitted["states"][-1:], dtype=float)
    # forecast_ets copies these into its output, so the keys must exist; empty is enough.
    stripped["residuals"] = np.empty(0)
    stripped["fitted"] = np.empty(0)
    stripped["fit"] = None
    model.model_ = stripped
    return ETSSeries(model)


class AutoARIMA(Forecaster):
    """ARIMA model chosen per series by a stepwise AICc search (statsforecast), with exogenous.

    Parameters
    ----------
    season_length, level, freq, exog, fallback
        See :class:`~chronoguard.forecasting.Forecaster`.
    d, D : int or None, default None
        Orders of first and seasonal differencing; None chooses by unit-root tests.
    max_p, max_q, max_P, max_Q : int
        Largest AR, MA, seasonal AR and seasonal MA orders searched (5, 5, 2, 2).
    seasonal : bool, default True
        Whether seasonal terms are considered.
    approximation : bool, default False
        Use conditional sums of squares during the search (faster for long series).

    Notes
    -----
    The fitted model keeps the training series (and exogenous values) because statsforecast's
    forecast reads them; everything else is parameters and the filter state.
    """

    supports_exog = True

    def __init__(
        self,
        *,
        season_length: int = 1,
        level: Sequence[int] = (80, 95),
        freq: str | None = None,
        exog: Sequence[str] | None = None,
        fallback: bool = False,
        d: int | None = None,
        D: int | None = None,
        max_p: int = 5,
        max_q: int = 5,
        max_P: int = 2,
        max_Q: int = 2,
        seasonal: bool = True,
        approximation: bool = False,
    ) -> None:
        super().__init__(
            season_length=season_length, level=level, freq=freq, exog=exog, fallback=fallback
        )
        self.d = d
        self.D = D
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.seasonal = seasonal
        self.approximation = approximation

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("d", "D"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InvalidParameterError(
                    f"AutoARIMA: {name} must be None or an integer >= 0, got {value!r}"
                )
        for name in ("max_p", "max_q", "max_P", "max_Q"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise InvalidParameterError(
                    f"AutoARIMA: {name} must be an integer >= 0, got {value!r}"
                )

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        model = _SFAutoARIMA(
            season_length=self.season_length,
            d=self.d,
            D=self.D,
            max_p=self.max_p,
            max_q=self.max_q,
            max_P=self.max_P,
            max_Q=self.max_Q,
            seasonal=self.seasonal,
            approximation=self.approximation,
        )
        model.fit(y, X)
        # Residuals are as long as the series and only returned, never read, by the forecast.
        model.model_["residuals"] = np.empty(0)
        return ARIMASeries(model)


def _seasonal_sum(profiles: Sequence[np.ndarray], n_train: int, start: int, n: int) -> np.ndarray:
    """Sum of the seasonal profiles at positions ``start .. start + n - 1`` from the training
    start; each profile is the season that ended at position ``n_train``."""
    total = np.zeros(n)
    positions = start + np.arange(n) - n_train
    for profile in profiles:
        total += profile[positions % profile.size]
    return total


@dataclass
class MSTLSeries:
    """A fitted MSTL model of one series: one seasonal profile per season and a trend model.

    The profiles are the last season of each seasonal component of the decomposition at the
    end of training; ``n_train`` places them in time, so a history that starts ``offset``
    periods after the training start is deseasonalised in its own phase. Conditioning on a
    history keeps the profiles and the trend model's parameters frozen and runs the trend's
    recursion over the deseasonalised history: a forecast never re-decomposes the data.
    """

    trend: ETSSeries | ARIMASeries
    profiles: tuple[np.ndarray, ...]
    n_train: int

    def _seasonal(self, start: int, n: int) -> np.ndarray:
        return _seasonal_sum(self.profiles, self.n_train, start, n)

    @staticmethod
    def _shift(fc: SeriesForecast, seasonal: np.ndarray) -> SeriesForecast:
        return SeriesForecast(fc.mean + seasonal, fc.lo + seasonal, fc.hi + seasonal)

    def predict(self, h: int, X_future: np.ndarray | None, levels: Sequence[int]) -> SeriesForecast:
        """The trend model's forecast from the end of training plus the seasonal profiles."""
        return self._shift(self.trend.predict(h, None, levels), self._seasonal(self.n_train, h))

    def forward(
        self,
        y: np.ndarray,
        X: np.ndarray | None,
        h: int,
        X_future: np.ndarray | None,
        levels: Sequence[int],
        offset: int,
    ) -> SeriesForecast:
        """Deseasonalise ``y`` with the frozen profiles, condition the trend on it, forecast."""
        adjusted = y.astype(float) - self._seasonal(offset, y.size)
        fc = self.trend.forward(adjusted, None, h, None, levels, 0)
        return self._shift(fc, self._seasonal(offset + y.size, h))


@dataclass
class MSTLETSSeries(MSTLSeries):
    """An MSTL model whose trend is ETS: its one-step forecasts come from one pass."""

    trend: ETSSeries

    def fitted(self, y: np.ndarray, X: np.ndarray | None, offset: int) -> np.ndarray:
        """The ETS recursion's one-step forecasts over the deseasonalised ``y``, reseasonalised.

        Equal, point by point, to ``forward(y[:t], h=1)``: the profiles are frozen, so the
        deseasonalised prefix is the prefix of the deseasonalised series.
        """
        seasonal = self._seasonal(offset, y.size)
        return self.trend.fitted(y.astype(float) - seasonal, None, 0) + seasonal


MSTL_TRENDS: tuple[str, ...] = ("AutoETS", "AutoARIMA")


class MSTL(Forecaster):
    """Several seasons at once: MSTL decomposition (statsforecast), a trend model on the rest.

    Each series is decomposed by STL into one seasonal component per season length (48 and
    336 for half-hourly data with a daily and a weekly cycle; 24 and 168 for hourly data) and
    a deseasonalised remainder; a non-seasonal ``trend`` model (AutoETS or AutoARIMA)
    forecasts the remainder, and each season repeats its last profile. The prediction
    intervals are the trend model's, shifted by the seasonal profiles.

    Parameters
    ----------
    season_length, level, freq, exog, fallback
        See :class:`~chronoguard.forecasting.Forecaster`. ``season_length`` (the data's main
        season, used by the fallback model) is the only season when ``season_lengths`` is
        not given.
    season_lengths : sequence of int or None, default None
        The season lengths to decompose, each at least 2, e.g. ``[48, 336]``. A series needs
        at least two of the longest season.
    trend : {"AutoETS", "AutoARIMA"}, default "AutoETS"
        The model of the deseasonalised series (non-seasonal ETS chosen by AICc, or a
        non-seasonal ARIMA chosen by a stepwise search).

    Notes
    -----
    statsforecast's MSTL keeps the whole decomposition (five arrays as long as the series);
    here a fitted series keeps one season of each seasonal component and the trend model's
    parameters and state. Conditioning on a history deseasonalises it with those frozen
    profiles rather than decomposing it again, so forecasts of the served model change only
    with the data, not with a new decomposition.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(14 * 24)
    >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=t.size,
    ...                    freq="h"), "y": 10 + np.sin(2 * np.pi * t / 24) + 0.5 * (t % 168 < 24)})
    >>> model = MSTL(season_lengths=[24, 168], level=[80]).fit(df)
    >>> list(model.predict(h=3).columns)
    ['unique_id', 'ds', 'yhat', 'yhat_lo_80', 'yhat_hi_80']
    """

    supports_exog = False

    def __init__(
        self,
        *,
        season_length: int = 1,
        level: Sequence[int] = (80, 95),
        freq: str | None = None,
        exog: Sequence[str] | None = None,
        fallback: bool = False,
        season_lengths: Sequence[int] | None = None,
        trend: str = "AutoETS",
    ) -> None:
        super().__init__(
            season_length=season_length, level=level, freq=freq, exog=exog, fallback=fallback
        )
        self.season_lengths = season_lengths
        self.trend = trend

    def _seasons(self) -> list[int]:
        given = self.season_lengths
        return sorted({int(m) for m in given}) if given is not None else [int(self.season_length)]

    def _check_params(self) -> None:
        super()._check_params()
        given = self.season_lengths
        if given is not None and (
            isinstance(given, str | bytes)
            or not given
            or not all(
                isinstance(m, numbers.Integral) and not isinstance(m, bool) and m >= 2
                for m in given
            )
        ):
            raise InvalidParameterError(
                f"MSTL: season_lengths must be a non-empty list of integers >= 2, e.g. "
                f"[48, 336] for half-hourly data; got {given!r}"
            )
        if given is None and self.season_length < 2:
            raise InvalidParameterError(
                "MSTL: needs a season; set season_lengths (e.g. [48, 336]) or season_length >= 2"
            )
        if self.trend not in MSTL_TRENDS:
            raise InvalidParameterError(
                f"MSTL: trend must be one of {', '.join(MSTL_TRENDS)}; got {self.trend!r}"
            )

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        seasons = self._seasons()
        if y.size < 2 * seasons[-1]:
            raise ValueError(
                f"MSTL needs at least two of its longest season ({seasons[-1]}), "
                f"{2 * seasons[-1]} points; got {y.size}"
            )
        y = y.astype(float)
        parts = _mstl(x=y, period=seasons)
        columns = ["seasonal"] if len(seasons) == 1 else [f"seasonal{m}" for m in seasons]
        profiles = tuple(
            np.array(parts[col].to_numpy(dtype=float)[-m:])
            for col, m in zip(columns, seasons, strict=True)
        )
        # The trend is fitted on the series less the frozen profiles, not less the evolving
        # components: then conditioning on the training data gives back the fitted state,
        # and a served model's forecast depends only on what it stores.
        adjusted = y - _seasonal_sum(profiles, y.size, 0, y.size)
        if self.trend == "AutoETS":
            return MSTLETSSeries(_fit_ets(adjusted, 1, "ZZN", None), profiles, y.size)
        model = _SFAutoARIMA(season_length=1, seasonal=False)
        model.fit(adjusted)
        model.model_["residuals"] = np.empty(0)
        return MSTLSeries(ARIMASeries(model), profiles, y.size)


class SeasonalNaive(Forecaster):
    """Repeat the last observed season; the baseline every model must beat.

    Needs more than ``season_length`` points per series. Intervals assume the seasonal
    differences are normal with the spread seen in training.
    """

    supports_exog = False

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> NaiveSeries:
        return fit_naive(y, self.season_length)


class Naive(Forecaster):
    """Repeat the last observation (a random walk); ``season_length`` is ignored."""

    supports_exog = False

    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> NaiveSeries:
        return fit_naive(y, 1)
