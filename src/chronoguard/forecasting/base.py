"""The Forecaster contract that every backend follows.

The contract is scikit-learn's estimator contract applied to many time series at once:

* ``__init__`` only stores its keyword arguments, unchanged, under their own names;
* :meth:`Forecaster.fit` validates the frame, fits one model per series and stores the learned
  state in attributes with a trailing underscore;
* :meth:`Forecaster.predict` forecasts from the end of training, or, given ``history``, from the
  end of that history with the fitted parameters frozen (how a served model uses actuals that
  arrived after it was trained).

A backend implements one method, :meth:`Forecaster._fit_series`, that fits one series given as
numpy arrays and returns a small :class:`~chronoguard.forecasting._series.SeriesModel`.
"""

from __future__ import annotations

import abc
import inspect
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from chronoguard.errors import DataContractError, NotFittedError
from chronoguard.forecasting._errors import InvalidParameterError, ModelFitError
from chronoguard.forecasting._frames import (
    DS,
    ID,
    RESERVED,
    SeriesIndex,
    Y,
    check_frame,
    future_dates,
    infer_freq,
    periods_between,
    take_exog,
)
from chronoguard.forecasting._series import (
    InSampleForecasts,
    SeriesForecast,
    SeriesModel,
    fit_fallback,
)

__all__ = ["Forecaster", "interval_columns"]


def interval_columns(level: int) -> tuple[str, str]:
    """Names of the lower and upper interval columns for one level, e.g. ``yhat_lo_80``."""
    return f"yhat_lo_{level}", f"yhat_hi_{level}"


class Forecaster(abc.ABC):
    """Forecasts many series in the long format (``unique_id``, ``ds``, ``y`` + exogenous).

    Parameters
    ----------
    season_length : int, default 1
        Number of periods in a season (12 for monthly data with a yearly cycle, 48 for
        half-hourly data with a daily cycle). 1 means no seasonality.
    level : sequence of int, default (80, 95)
        Prediction interval levels in percent, each strictly between 0 and 100. Each level L
        adds the columns ``yhat_lo_L`` and ``yhat_hi_L``. Empty: no intervals.
    freq : str or None, default None
        Pandas offset alias of the data ("MS", "D", "30min"...). None infers it at fit time.
    exog : sequence of str or None, default None
        Exogenous columns to use. Only forecasters with ``supports_exog`` accept them; then
        ``predict`` needs their future values in ``X_future``.
    fallback : bool, default False
        If a series cannot be fitted, forecast it with SeasonalNaive (naive when shorter than a
        season) and list it in ``fallbacks_``, instead of raising :class:`ModelFitError`.

    Attributes
    ----------
    models_ : dict of str to SeriesModel
        The fitted model of each series (parameters and last state only).
    series_ids_ : list of str
        The fitted series, in the order of the training frame.
    train_start_, train_end_ : pandas.Series
        First and last training timestamp of each series, indexed by ``unique_id``.
    freq_ : str
        The frequency used (given or inferred).
    exog_ : list of str
        The exogenous columns the models were fitted with.
    fallbacks_ : list of str
        Series forecast by the fallback model because their own fit failed.
    fit_warnings_ : dict of str to list of str
        Warnings the backend raised while fitting each series (convergence and the like),
        recorded rather than printed once per series.
    """

    supports_exog: ClassVar[bool] = False

    def __init__(
        self,
        *,
        season_length: int = 1,
        level: Sequence[int] = (80, 95),
        freq: str | None = None,
        exog: Sequence[str] | None = None,
        fallback: bool = False,
    ) -> None:
        self.season_length = season_length
        self.level = level
        self.freq = freq
        self.exog = exog
        self.fallback = fallback

    # ------------------------------------------------------------------ parameters

    @property
    def name(self) -> str:
        """The model name, as accepted by :func:`~chronoguard.forecasting.make_forecaster`."""
        return type(self).__name__

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters, e.g. to log them to MLflow or to clone.

        Returns
        -------
        dict
            ``{parameter name: value}`` for every ``__init__`` parameter.

        Examples
        --------
        >>> from chronoguard.forecasting import SeasonalNaive
        >>> SeasonalNaive(season_length=12).get_params()["season_length"]
        12
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def clone(self, **overrides: Any) -> Self:
        """Return a new, unfitted forecaster with the same parameters, some replaced."""
        unknown = sorted(set(overrides) - set(self._param_names()))
        if unknown:
            raise InvalidParameterError(
                f"{self.name} has no parameter(s) {unknown}; valid: {self._param_names()}"
            )
        return type(self)(**{**self.get_params(), **overrides})

    def __repr__(self) -> str:
        signature = inspect.signature(type(self).__init__)
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if signature.parameters[name].default is not value
            and signature.parameters[name].default != value
        ]
        return f"{self.name}({', '.join(changed)})"

    def _levels(self) -> list[int]:
        return sorted(set(self.level))

    def _check_params(self) -> None:
        """Check every constructor parameter; subclasses extend it for their own."""
        m = self.season_length
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise InvalidParameterError(
                f"{self.name}: season_length must be an integer >= 1, got {m!r}"
            )
        if isinstance(self.level, str | bytes) or not all(
            isinstance(lv, numbers.Integral) and not isinstance(lv, bool) and 0 < lv < 100
            for lv in self.level
        ):
            raise InvalidParameterError(
                f"{self.name}: level must be a sequence of integers in 1..99 (e.g. [80, 95]), "
                f"got {self.level!r}"
            )
        if self.freq is not None:
            try:
                to_offset(self.freq)
            except (ValueError, TypeError) as exc:
                raise InvalidParameterError(
                    f"{self.name}: freq={self.freq!r} is not a pandas offset alias "
                    "('MS', 'D', '30min'...)"
                ) from exc
        if self.exog is not None:
            if isinstance(self.exog, str) or not all(isinstance(c, str) for c in self.exog):
                raise InvalidParameterError(
                    f"{self.name}: exog must be a list of column names, got {self.exog!r}"
                )
            if self.exog and not self.supports_exog:
                raise InvalidParameterError(
                    f"{self.name} does not use exogenous columns (got exog={list(self.exog)}); "
                    "use AutoARIMA or SARIMAX (model.name in chronoguard.toml), or no "
                    "exogenous columns (data.exog = [] in chronoguard.toml; exog=None in Python)"
                )
            reserved = sorted(set(self.exog) & set(RESERVED))
            if reserved or len(set(self.exog)) != len(self.exog):
                raise InvalidParameterError(
                    f"{self.name}: exog must list distinct columns other than {list(RESERVED)}, "
                    f"got {list(self.exog)}"
                )
        if not isinstance(self.fallback, bool):
            raise InvalidParameterError(f"{self.name}: fallback must be True or False")

    # ------------------------------------------------------------------ backend hook

    @abc.abstractmethod
    def _fit_series(self, y: np.ndarray, X: np.ndarray | None) -> SeriesModel:
        """Fit one series; raise any exception if it cannot be fitted.

        Parameters
        ----------
        y : numpy.ndarray
            The target, shape (n,), float, finite.
        X : numpy.ndarray or None
            The exogenous values, shape (n, len(exog)), when ``exog`` is set.
        """

    # ------------------------------------------------------------------ fit / predict

    def fit(self, df: pd.DataFrame, *, progress: Callable[[int, int], None] | None = None) -> Self:
        """Fit one model per series of ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            Long frame with ``unique_id``, ``ds``, ``y`` and the ``exog`` columns, sorted by
            ``unique_id, ds``.
        progress : callable or None
            Called as ``progress(done, total)`` after each series is fitted, for a progress
            display (the command line's bar); it must not raise.

        Returns
        -------
        Forecaster
            ``self``, fitted.

        Raises
        ------
        InvalidParameterError
            If a constructor parameter is invalid.
        DataContractError
            If the frame breaks the data contract.
        ModelFitError
            If some series cannot be fitted and ``fallback`` is False (all are named).
        """
        self._check_params()
        exog = list(self.exog or [])
        index = check_frame(df, what="training frame", exog=exog)
        freq = self.freq if self.freq is not None else infer_freq(df, index)
        y_all = df[Y].to_numpy(dtype=float)
        X_all = df[exog].to_numpy(dtype=float) if exog else None
        ds = df[DS]

        models: dict[str, SeriesModel] = {}
        failures: dict[str, str] = {}
        fallbacks: list[str] = []
        fit_warnings: dict[str, list[str]] = {}
        total = len(index.ids)
        for done, (uid, start, end) in enumerate(
            zip(index.ids, index.starts, index.ends, strict=True), start=1
        ):
            y = y_all[start:end]
            X = X_all[start:end] if X_all is not None else None
            notes: list[str] = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    models[uid] = self._fit_series(y, X)
                except Exception as exc:  # one bad series must not hide the others
                    reason = f"{type(exc).__name__}: {exc}"
                    if not self.fallback:
                        failures[uid] = reason
                    else:
                        try:
                            models[uid] = fit_fallback(y, self.season_length)
                            fallbacks.append(uid)
                            notes.append(f"fell back to a naive model: {reason}")
                        except Exception as fallback_exc:
                            failures[uid] = f"{reason}; fallback failed too: {fallback_exc}"
            # Optimizers repeat the same message many times per series; keep each once.
            notes = list(dict.fromkeys([str(w.message) for w in caught] + notes))
            if notes:
                fit_warnings[uid] = notes
            if progress is not None:
                progress(done, total)
        if failures:
            raise ModelFitError(self.name, failures)

        self.models_ = models
        self.series_ids_ = list(index.ids)
        self.train_start_ = pd.Series(ds.iloc[index.starts].to_numpy(), index=index.ids)
        self.train_end_ = pd.Series(ds.iloc[index.ends - 1].to_numpy(), index=index.ids)
        self.freq_ = freq
        self.exog_ = exog
        self.fallbacks_ = fallbacks
        self.fit_warnings_ = fit_warnings
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError(
                f"This {self.name} is not fitted yet: call fit(df) before predict()."
            )

    def predict(
        self,
        h: int,
        X_future: pd.DataFrame | None = None,
        history: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Forecast ``h`` periods ahead.

        Parameters
        ----------
        h : int
            Number of periods to forecast.
        X_future : pandas.DataFrame or None
            ``unique_id``, ``ds`` and the ``exog`` columns for the ``h`` forecast timestamps of
            every series (extra rows are ignored). Required when the model uses exogenous
            columns, ignored otherwise.
        history : pandas.DataFrame or None
            Observations (``unique_id``, ``ds``, ``y`` and the ``exog`` columns) to condition
            on, typically the training data plus actuals that arrived since. The fitted
            parameters stay frozen; each model's state is recomputed from this history and the
            forecast starts after its last timestamp. Only the series in ``history`` are
            forecast. Give the whole history, not only the new actuals: ARIMA-type models
            rebuild their state from it and ETS runs its recursion from the fitted initial
            state. Without ``history``, forecasts start after the training end.

        Returns
        -------
        pandas.DataFrame
            ``unique_id``, ``ds``, ``yhat`` and ``yhat_lo_L``, ``yhat_hi_L`` for each level L,
            ``h`` rows per series.

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        DataContractError
            If ``X_future`` or ``history`` is missing, incomplete or malformed.
        """
        self._check_fitted()
        if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1:
            raise InvalidParameterError(f"h must be an integer >= 1, got {h!r}")
        h = int(h)
        levels = self._levels()

        if history is None:
            ids = list(self.series_ids_)
            origins = [pd.Timestamp(self.train_end_[uid]) for uid in ids]
            hist: list[tuple[np.ndarray, np.ndarray | None, int]] | None = None
        else:
            ids, origins, hist = self._read_history(history)

        # A fleet's series mostly share their origin: one calendar per distinct origin.
        calendars = {o: future_dates(o, h, self.freq_) for o in dict.fromkeys(origins)}
        dates = [calendars[o] for o in origins]
        X_futures: list[np.ndarray | None]
        if self.exog_:
            X_futures = list(take_exog(X_future, self.exog_, ids, dates, "X_future"))
        else:
            X_futures = [None] * len(ids)

        forecasts: list[SeriesForecast] = []
        for i, uid in enumerate(ids):
            model = self.models_[uid]
            if hist is None:
                fc = model.predict(h, X_futures[i], levels)
            else:
                y, X, offset = hist[i]
                try:
                    fc = model.forward(y, X, h, X_futures[i], levels, offset)
                except Exception as exc:  # name the series the history failed for
                    raise DataContractError(
                        [
                            f"series {uid!r}: cannot condition on its history ({y.size} points): {exc}"
                        ],
                        "history",
                    ) from exc
            forecasts.append(fc)
        return self._to_frame(ids, dates, forecasts, levels, h)

    def fitted_values(self, data: pd.DataFrame, *, method: str = "auto") -> pd.DataFrame:
        """One-step-ahead forecasts of every row of ``data``, parameters frozen.

        The forecast of row ``t`` is ``predict(1, history=<the rows before t>)``: what the
        served model would have forecast for that period. Over the training data these are
        the in-sample one-step forecasts.

        Parameters
        ----------
        data : pandas.DataFrame
            ``unique_id``, ``ds``, ``y`` and the ``exog`` columns, sorted by ``unique_id, ds``;
            as for ``predict(history=...)``, each series should start at its training start.
        method : {"auto", "rolling"}, default "auto"
            ``"auto"`` takes the backend's in-sample one-step forecasts from one pass of its
            recursion where they equal the rolling forecasts (ETS, SARIMAX, naive models) and
            rolls elsewhere; ``"rolling"`` calls the one-step forecast once per row (the
            history grows by one row each time, so the cost is quadratic in the length).

        Returns
        -------
        pandas.DataFrame
            ``unique_id``, ``ds``, ``yhat``, one row per row of ``data`` in its order.
            ``yhat`` is NaN where the model has no forecast: the first row, and for the
            rolling method every row whose history is shorter than the model accepts (a
            season for a seasonal naive, the differences of an ARIMA). The first forecasts of
            a filter (SARIMAX's diffuse start, ETS from its initial state) are returned as
            the model gives them: drop a burn-in where they matter.

        Raises
        ------
        NotFittedError
            If called before :meth:`fit`.
        DataContractError
            If ``data`` is malformed, or a series' model cannot forecast from its history.
        """
        self._check_fitted()
        if method not in ("auto", "rolling"):
            raise InvalidParameterError(
                f"fitted_values: method must be 'auto' or 'rolling', got {method!r}"
            )
        ids, _, hist = self._read_history(data)
        values: list[np.ndarray] = []
        for uid, (y, X, offset) in zip(ids, hist, strict=True):
            model = self.models_[uid]
            try:
                if method == "auto" and isinstance(model, InSampleForecasts):
                    yhat = model.fitted(y, X, offset)
                else:
                    yhat = _rolling_one_step(model, y, X, offset)
            except Exception as exc:  # name the series the forecasts failed for
                raise DataContractError(
                    [f"series {uid!r}: no one-step forecasts over its {y.size} points: {exc}"],
                    "fitted_values data",
                ) from exc
            if yhat.shape != y.shape:  # a backend bug must not shift rows between series
                raise RuntimeError(f"series {uid!r}: expected {y.size} forecasts, got {yhat.shape}")
            values.append(yhat)
        return pd.DataFrame(
            {
                ID: data[ID].astype(str).to_numpy(dtype=object),
                DS: data[DS].to_numpy(dtype="datetime64[ns]"),
                "yhat": np.concatenate(values) if values else np.empty(0),
            }
        )

    def _read_history(
        self, history: pd.DataFrame
    ) -> tuple[list[str], list[pd.Timestamp], list[tuple[np.ndarray, np.ndarray | None, int]]]:
        index: SeriesIndex = check_frame(history, what="history", exog=self.exog_)
        unknown = [uid for uid in index.ids if uid not in self.models_]
        if unknown:
            raise DataContractError(
                [f"series {unknown[:10]} were not fitted by this {self.name}; refit to add them"],
                "history",
            )
        y_all = history[Y].to_numpy(dtype=float)
        X_all = history[self.exog_].to_numpy(dtype=float) if self.exog_ else None
        ds = history[DS]
        stamps = ds.to_numpy(dtype="datetime64[ns]")
        trained = self.train_start_.to_dict()
        offsets: dict[tuple[pd.Timestamp, pd.Timestamp], int] = {}
        origins: list[pd.Timestamp] = []
        hist: list[tuple[np.ndarray, np.ndarray | None, int]] = []
        for uid, start, end in zip(index.ids, index.starts, index.ends, strict=True):
            key = (pd.Timestamp(trained[uid]), pd.Timestamp(stamps[start]))
            if key not in offsets:  # series that share their start share the offset
                offsets[key] = periods_between(key[0], key[1], self.freq_)
            X = X_all[start:end] if X_all is not None else None
            hist.append((y_all[start:end], X, offsets[key]))
            origins.append(pd.Timestamp(stamps[end - 1]))
        return list(index.ids), origins, hist

    @staticmethod
    def _to_frame(
        ids: list[str],
        dates: list[pd.DatetimeIndex],
        forecasts: list[SeriesForecast],
        levels: list[int],
        h: int,
    ) -> pd.DataFrame:
        for uid, fc in zip(ids, forecasts, strict=True):
            if fc.mean.shape != (h,):  # a backend bug must not shift rows between series
                raise RuntimeError(f"series {uid!r}: expected {h} forecasts, got {fc.mean.shape}")
        out = pd.DataFrame(
            {
                ID: np.repeat(np.asarray(ids, dtype=object), h),
                DS: np.concatenate([d.to_numpy(dtype="datetime64[ns]") for d in dates])
                if dates
                else np.empty(0, dtype="datetime64[ns]"),
                "yhat": np.concatenate([fc.mean for fc in forecasts]) if forecasts else np.empty(0),
            }
        )
        for i, level in enumerate(levels):
            lo, hi = interval_columns(level)
            out[lo] = np.concatenate([fc.lo[i] for fc in forecasts]) if forecasts else []
            out[hi] = np.concatenate([fc.hi[i] for fc in forecasts]) if forecasts else []
        return out

    def forecast(
        self, df: pd.DataFrame, h: int, X_future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Fit on ``df`` and forecast ``h`` periods after it; same as ``fit(df).predict(h)``.

        Examples
        --------
        >>> import pandas as pd
        >>> from chronoguard.forecasting import Naive
        >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=4,
        ...                    freq="D"), "y": [1.0, 2.0, 3.0, 4.0]})
        >>> Naive(level=[]).forecast(df, h=2)
          unique_id         ds  yhat
        0         a 2024-01-05   4.0
        1         a 2024-01-06   4.0
        """
        return self.fit(df).predict(h, X_future=X_future)


def _rolling_one_step(
    model: SeriesModel, y: np.ndarray, X: np.ndarray | None, offset: int
) -> np.ndarray:
    """``forward(y[:t], h=1)`` for every ``t``: the forecast ``predict(1, history=...)`` makes.

    Errors before the first forecast mean the history is still shorter than the model can
    condition on (statsforecast's ARIMA and the naive models raise a ValueError, its ETS an
    IndexError on a single point): those rows stay NaN. Once one forecast is made, any error
    propagates; a model that forecasts no row at all raises its last error.
    """
    out = np.full(y.size, np.nan)
    first_error: Exception | None = None
    started = False
    # Information criteria and variances of a history a few points longer than the model's
    # parameters divide by zero in statsforecast; the point forecast does not use them.
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, y.size):
            x_hist = None if X is None else X[:t]
            x_next = None if X is None else X[t : t + 1]
            if started:
                fc = model.forward(y[:t], x_hist, 1, x_next, [], offset)
            else:
                try:
                    fc = model.forward(y[:t], x_hist, 1, x_next, [], offset)
                except Exception as exc:  # the start-up: too short a history
                    first_error = exc
                    continue
                started = True
            out[t] = float(fc.mean[0])
    if not started and first_error is not None:
        raise first_error
    return out
