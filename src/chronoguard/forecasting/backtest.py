"""Rolling-origin backtests with a leakage guard.

At every origin the forecaster is refitted from scratch on the data up to that origin and asked
for the next ``h`` periods. The guard checks, window by window, what the model is given and what
it reports back, and raises :class:`LeakageError` rather than publishing optimistic errors:

* the training frame ends strictly before the first test timestamp of every series;
* ``X_future`` carries no target column and only the test timestamps;
* the fitted model reports a training end (``train_end_``) no later than the cutoff, which
  catches a model that trained on data it was not given (a shared frame, a global cache);
* the forecasts start after the cutoff (in-sample fitted values are not forecasts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.errors import DataContractError
from chronoguard.forecasting._errors import InvalidParameterError, LeakageError
from chronoguard.forecasting._errors import UndefinedMetricError as _Undefined
from chronoguard.forecasting._frames import DS, ID, Y
from chronoguard.forecasting.base import Forecaster, interval_columns
from chronoguard.forecasting.metrics import coverage, mae, rmse, scale_mase, smape
from chronoguard.forecasting.splits import rolling_origins

__all__ = ["BacktestResult", "backtest", "check_no_leakage", "frozen_backtest"]

ForecasterSource = Forecaster | Callable[[], Forecaster]


@dataclass(frozen=True)
class BacktestResult:
    """Forecasts and errors of a rolling-origin backtest.

    Attributes
    ----------
    model : str
        Name of the forecaster.
    h : int
        Horizon.
    levels : tuple of int
        Interval levels evaluated.
    forecasts : pandas.DataFrame
        One row per series, origin and horizon step: ``unique_id``, ``cutoff`` (last training
        timestamp), ``ds``, ``horizon`` (1..h), ``y``, ``yhat``, ``yhat_lo_L``, ``yhat_hi_L``.
    by_horizon : pandas.DataFrame
        Indexed by ``horizon``: ``n``, ``mae``, ``rmse``, ``smape`` (0-200), ``mase`` and
        ``coverage_L`` per level. ``mase`` skips windows whose training series has a zero
        scale (constant series) and is NaN if all do.
    overall : pandas.Series
        The same metrics over all forecasts.
    """

    model: str
    h: int
    levels: tuple[int, ...]
    forecasts: pd.DataFrame
    by_horizon: pd.DataFrame
    overall: pd.Series


def check_no_leakage(
    train: pd.DataFrame, test: pd.DataFrame, X_future: pd.DataFrame | None = None
) -> None:
    """Raise if a backtest window would show the model anything from its test period.

    Parameters
    ----------
    train : pandas.DataFrame
        What the model is fitted on.
    test : pandas.DataFrame
        What it is evaluated against.
    X_future : pandas.DataFrame or None
        What ``predict`` receives about the test period.

    Raises
    ------
    LeakageError
        Naming the series and the offending timestamps or column.
    """
    train_end = train.groupby(train[ID].astype(str), sort=False)[DS].max()
    test_start = test.groupby(test[ID].astype(str), sort=False)[DS].min()
    missing = sorted(set(test_start.index) - set(train_end.index))
    if missing:
        raise LeakageError(f"series {missing[:10]} are tested but have no training data")
    overlap = train_end[test_start.index] >= test_start
    if overlap.any():
        uid = overlap[overlap].index[0]
        raise LeakageError(
            f"the training frame of series {uid!r} reaches {train_end[uid]}, at or after its "
            f"first test timestamp {test_start[uid]} ({int(overlap.sum())} series affected)"
        )
    if X_future is None:
        return
    if Y in X_future.columns:
        raise LeakageError(
            "X_future contains the target column 'y': the model would see the actuals it "
            "is evaluated against"
        )
    keys = pd.MultiIndex.from_arrays([test[ID].astype(str), test[DS]])
    given = pd.MultiIndex.from_arrays([X_future[ID].astype(str), X_future[DS]])
    extra = ~given.isin(keys)
    if extra.any():
        uid, ds = given[extra][0]
        raise LeakageError(
            f"X_future has {int(extra.sum())} row(s) outside the test period, e.g. series "
            f"{uid!r} at {ds}"
        )


def _new_model(source: ForecasterSource, level: Sequence[int] | None) -> Forecaster:
    if isinstance(source, Forecaster):
        model = source.clone()  # never fit (or mutate) the caller's instance
    elif callable(source):
        model = source()
        if not isinstance(model, Forecaster):
            raise InvalidParameterError(
                f"the forecaster factory returned {type(model).__name__}, not a Forecaster"
            )
    else:
        raise InvalidParameterError(
            f"backtest needs a Forecaster or a function returning one, got {type(source).__name__}"
        )
    return model if level is None else model.clone(level=level)


def _scales(train: pd.DataFrame, m: int) -> pd.Series:
    """MASE scale of each training series; NaN where it is undefined."""
    scales = {}
    for uid, y in train.groupby(train[ID].astype(str), sort=False)[Y]:
        try:
            scales[uid] = scale_mase(y.to_numpy(dtype=float), m)
        except _Undefined:
            scales[uid] = np.nan
    return pd.Series(scales, dtype=float)


def _metrics(frame: pd.DataFrame, levels: Sequence[int]) -> dict[str, float]:
    y = frame[Y].to_numpy(dtype=float)
    yhat = frame["yhat"].to_numpy(dtype=float)
    scaled = (np.abs(y - yhat) / frame["_scale"].to_numpy(dtype=float))[
        np.isfinite(frame["_scale"].to_numpy(dtype=float))
    ]
    row = {
        "n": float(len(frame)),
        "mae": mae(y, yhat),
        "rmse": rmse(y, yhat),
        "smape": smape(y, yhat),
        "mase": float(scaled.mean()) if scaled.size else np.nan,
    }
    for level in levels:
        lo, hi = interval_columns(level)
        row[f"coverage_{level}"] = coverage(y, frame[lo], frame[hi])
    return row


def _run_window(
    model: Forecaster, train: pd.DataFrame, test: pd.DataFrame, h: int, m: int
) -> pd.DataFrame:
    exog = list(model.exog or [])
    X_future = test[[ID, DS, *exog]].reset_index(drop=True) if exog else None
    check_no_leakage(train, test, X_future)
    cutoff = train.groupby(train[ID].astype(str), sort=False)[DS].max()

    model.fit(train.reset_index(drop=True))
    fitted_end = model.train_end_.reindex(cutoff.index)
    late = fitted_end > cutoff
    if late.any():
        uid = late[late].index[0]
        raise LeakageError(
            f"{model.name} reports training data up to {fitted_end[uid]} for series {uid!r}, "
            f"after the window cutoff {cutoff[uid]}: it used data it was not given"
        )
    return _score_window(model, model.predict(h, X_future=X_future), train, test, cutoff, m)


def _frozen_window(
    model: Forecaster, train: pd.DataFrame, test: pd.DataFrame, h: int, m: int
) -> pd.DataFrame:
    """One origin of a frozen backtest: the fitted model conditioned on ``train`` only."""
    exog = list(model.exog_ or [])
    X_future = test[[ID, DS, *exog]].reset_index(drop=True) if exog else None
    check_no_leakage(train, test, X_future)
    cutoff = train.groupby(train[ID].astype(str), sort=False)[DS].max()
    fc = model.predict(h, X_future=X_future, history=train.reset_index(drop=True))
    return _score_window(model, fc, train, test, cutoff, m)


def _score_window(
    model: Forecaster,
    fc: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    cutoff: pd.Series,
    m: int,
) -> pd.DataFrame:
    fc_cutoff = fc[ID].map(cutoff)
    early = fc[DS] <= fc_cutoff
    if early.any():
        row = fc[early].iloc[0]
        raise LeakageError(
            f"{model.name} returned a forecast for {row[DS]} in series {row[ID]!r}, at or "
            f"before the cutoff {fc_cutoff[early].iloc[0]}: in-sample values are not forecasts"
        )
    actual = pd.DataFrame(
        {ID: test[ID].astype(str).to_numpy(), DS: test[DS].to_numpy(), Y: test[Y]}
    )
    out = fc.merge(actual, on=[ID, DS], how="inner")
    if len(out) != len(test):
        raise DataContractError(
            [f"{model.name} forecast {len(out)} of the {len(test)} test timestamps"], "backtest"
        )
    out["cutoff"] = out[ID].map(cutoff).to_numpy()
    out["horizon"] = out.groupby(ID, sort=False).cumcount() + 1
    out["_scale"] = out[ID].map(_scales(train, m)).to_numpy(dtype=float)
    intervals = [c for c in fc.columns if c not in (ID, DS, "yhat")]
    return out[[ID, "cutoff", DS, "horizon", Y, "yhat", *intervals, "_scale"]]


def _result(
    windows: list[pd.DataFrame], name: str, h: int, levels: tuple[int, ...]
) -> BacktestResult:
    frame = pd.concat(windows, ignore_index=True)
    frame = frame.sort_values([ID, "cutoff", "horizon"], kind="stable", ignore_index=True)
    by_horizon = pd.DataFrame(
        [_metrics(part, levels) for _, part in frame.groupby("horizon", sort=True)],
        index=pd.Index(range(1, h + 1), name="horizon"),
    )
    by_horizon["n"] = by_horizon["n"].astype(int)
    overall = pd.Series(_metrics(frame, levels), name=name)
    return BacktestResult(
        model=name,
        h=h,
        levels=levels,
        forecasts=frame.drop(columns="_scale"),
        by_horizon=by_horizon,
        overall=overall,
    )


def frozen_backtest(
    fitted: Forecaster,
    df: pd.DataFrame,
    h: int,
    n_windows: int = 3,
    step: int | None = None,
) -> BacktestResult:
    """Rolling origins with the parameters of ``fitted`` frozen: no refit at any origin.

    At each origin the fitted model is conditioned on the data up to the origin only (its
    state is recomputed from that history, see :meth:`Forecaster.predict`) and forecasts the
    next ``h`` points. Its parameters were estimated on all of ``df``, the test points
    included, so these errors are in-sample for the parameters (a model with a handful of
    smoothing parameters on long series gains little from that) and cost no fits; the refit
    :func:`backtest` is the out-of-sample one and costs one fit per origin. It uses the same
    origins as :func:`backtest`.

    Raises
    ------
    NotFittedError
        If ``fitted`` has not been fitted.
    """
    fitted._check_fitted()
    m = int(fitted.season_length)
    levels = tuple(sorted(set(fitted.level)))
    windows = [
        _frozen_window(fitted, train, test, h, m)
        for train, test in rolling_origins(df, h, n_windows, step)
    ]
    return _result(windows, fitted.name, h, levels)


def backtest(
    forecaster: ForecasterSource,
    df: pd.DataFrame,
    h: int,
    n_windows: int = 3,
    step: int | None = None,
    level: Sequence[int] | None = None,
) -> BacktestResult:
    """Evaluate a forecaster on rolling origins, refitting at each origin.

    Parameters
    ----------
    forecaster : Forecaster or callable
        A forecaster (cloned at every origin, never fitted itself) or a function without
        arguments that returns a new one.
    df : pandas.DataFrame
        Long frame with ``unique_id``, ``ds``, ``y`` and any exogenous columns the forecaster
        uses. Exogenous values of the test periods are handed to ``predict`` as if known in
        advance (calendar features, planned prices).
    h : int
        Horizon.
    n_windows : int, default 3
        Number of origins; the last window tests the last ``h`` points of each series.
    step : int or None, default None
        Periods between origins (default ``h``).
    level : sequence of int or None, default None
        Interval levels to evaluate; None keeps the forecaster's own.

    Returns
    -------
    BacktestResult

    Raises
    ------
    LeakageError
        If a window would let the model see its test period (see the module docstring).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from chronoguard.forecasting import SeasonalNaive
    >>> df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=36,
    ...                    freq="MS"), "y": np.tile(np.arange(12.0), 3)})
    >>> result = backtest(SeasonalNaive(season_length=12), df, h=6, n_windows=2)
    >>> float(result.overall["mae"]), len(result.forecasts)
    (0.0, 12)
    """
    probe = _new_model(forecaster, level)
    m = int(probe.season_length)
    levels = tuple(sorted(set(probe.level)))
    windows = []
    for train, test in rolling_origins(df, h, n_windows, step):
        windows.append(_run_window(_new_model(forecaster, level), train, test, h, m))
    return _result(windows, probe.name, h, levels)
