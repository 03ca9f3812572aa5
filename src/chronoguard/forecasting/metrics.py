"""Forecast accuracy metrics as pure numpy functions.

Each takes array-likes of equal shape and returns a float; NaN inputs are rejected rather than
silently skipped, because a NaN actual usually means a join went wrong upstream.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from chronoguard.forecasting._errors import InvalidParameterError, UndefinedMetricError

__all__ = ["coverage", "mae", "mase", "rmse", "scale_mase", "smape"]


def _arrays(*values: ArrayLike, names: tuple[str, ...]) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=float).ravel() for v in values]
    sizes = {a.size for a in arrays}
    if len(sizes) != 1:
        shapes = ", ".join(f"{n}={a.size}" for n, a in zip(names, arrays, strict=True))
        raise InvalidParameterError(f"inputs must have the same length, got {shapes}")
    if arrays[0].size == 0:
        raise UndefinedMetricError("cannot compute a metric over zero values")
    for name, array in zip(names, arrays, strict=True):
        if not np.isfinite(array).all():
            raise InvalidParameterError(f"{name} contains NaN or infinite values")
    return arrays


def mae(y: ArrayLike, yhat: ArrayLike) -> float:
    """Mean absolute error.

    Examples
    --------
    >>> mae([1, 2, 3], [2, 2, 5])
    1.0
    """
    actual, pred = _arrays(y, yhat, names=("y", "yhat"))
    return float(np.mean(np.abs(actual - pred)))


def rmse(y: ArrayLike, yhat: ArrayLike) -> float:
    """Root mean squared error.

    Examples
    --------
    >>> rmse([1, 2, 3], [2, 2, 5])
    1.2909944487358056
    """
    actual, pred = _arrays(y, yhat, names=("y", "yhat"))
    return float(np.sqrt(np.mean((actual - pred) ** 2)))


def smape(y: ArrayLike, yhat: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, on a 0-200 scale.

    ``200 / n * sum(|y - yhat| / (|y| + |yhat|))``: 0 is perfect, 200 the worst (opposite
    signs, or one of the two is zero). A term where both ``y`` and ``yhat`` are zero counts as
    0, a perfect forecast, instead of 0/0.

    Examples
    --------
    >>> smape([100, 0], [110, 0])
    4.761904761904762
    """
    actual, pred = _arrays(y, yhat, names=("y", "yhat"))
    denominator = np.abs(actual) + np.abs(pred)
    ratio = np.divide(
        np.abs(actual - pred), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(200.0 * np.mean(ratio))


def scale_mase(train_y: ArrayLike, m: int = 1) -> float:
    """MASE scale: in-sample mean absolute error of the seasonal naive forecast.

    ``mean(|y[t] - y[t - m]|)`` over the training series. When the series has ``m`` points or
    fewer, the lag-1 (naive) error is used instead. Monitoring stores this number with a model
    version, so later MASE values are comparable without the training data.

    Parameters
    ----------
    train_y : array-like
        The training series, oldest first.
    m : int, default 1
        Season length.

    Raises
    ------
    UndefinedMetricError
        If the series has fewer than 2 points, or the scale is zero (a constant series, or
        exactly periodic with period ``m``): MASE would divide by zero.

    Examples
    --------
    >>> scale_mase([1, 3, 2, 5, 4, 6], m=2)
    1.5
    """
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise InvalidParameterError(f"m must be an integer >= 1, got {m!r}")
    (series,) = _arrays(train_y, names=("train_y",))
    lag = m if series.size > m else 1
    if series.size <= lag:
        raise UndefinedMetricError(
            f"the MASE scale needs at least 2 training points, got {series.size}"
        )
    scale = float(np.mean(np.abs(series[lag:] - series[:-lag])))
    if scale == 0.0:
        raise UndefinedMetricError(
            f"the MASE scale is zero: the training series does not change at lag {lag}; "
            "use MAE or RMSE for this series"
        )
    return scale


def mase(
    y: ArrayLike,
    yhat: ArrayLike,
    train_y: ArrayLike | None = None,
    m: int = 1,
    *,
    scale: float | None = None,
) -> float:
    """Mean absolute scaled error: MAE divided by the seasonal naive in-sample MAE.

    Give either the training series ``train_y`` (and season length ``m``), or a precomputed
    ``scale`` from :func:`scale_mase`. Below 1 the forecast beats the in-sample seasonal naive.

    Examples
    --------
    >>> mase([7, 8], [4, 8], train_y=[1, 3, 2, 5, 4, 6], m=2)
    1.0
    >>> mase([7, 8], [4, 8], scale=3.0)
    0.5
    """
    if (train_y is None) == (scale is None):
        raise InvalidParameterError("mase needs exactly one of train_y and scale")
    if train_y is not None:
        scale = scale_mase(train_y, m)
    elif scale is None or not np.isfinite(scale) or scale <= 0:
        raise UndefinedMetricError(f"the MASE scale must be finite and > 0, got {scale!r}")
    return mae(y, yhat) / scale


def coverage(y: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    """Share of actuals inside their prediction interval, bounds included.

    Examples
    --------
    >>> coverage([1, 5, 10], [0, 0, 0], [2, 4, 10])
    0.6666666666666666
    """
    actual, lower, upper = _arrays(y, lo, hi, names=("y", "lo", "hi"))
    return float(np.mean((actual >= lower) & (actual <= upper)))
