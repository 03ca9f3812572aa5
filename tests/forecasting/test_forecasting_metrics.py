"""Metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chronoguard.forecasting import (
    InvalidParameterError,
    UndefinedMetricError,
    coverage,
    mae,
    mase,
    rmse,
    scale_mase,
    smape,
)

Y = [10.0, 12.0, 8.0, 10.0]
YHAT = [11.0, 10.0, 8.0, 14.0]  # errors -1, 2, 0, -4


def test_mae() -> None:
    assert mae(Y, YHAT) == pytest.approx((1 + 2 + 0 + 4) / 4)


def test_rmse() -> None:
    assert rmse(Y, YHAT) == pytest.approx(math.sqrt((1 + 4 + 0 + 16) / 4))


def test_smape_on_the_0_to_200_scale() -> None:
    expected = 200 / 4 * (1 / 21 + 2 / 22 + 0 / 16 + 4 / 24)
    assert smape(Y, YHAT) == pytest.approx(expected)
    assert smape([1.0, -1.0], [-1.0, 1.0]) == pytest.approx(200.0)  # opposite signs: worst
    assert smape([5.0], [0.0]) == pytest.approx(200.0)
    assert smape([0.0, 4.0], [0.0, 4.0]) == 0.0  # 0/0 counts as a perfect forecast


def test_scale_mase_is_the_in_sample_seasonal_naive_error() -> None:
    train = [1.0, 5.0, 2.0, 6.0, 4.0, 7.0]
    # lag 2: |2-1|, |6-5|, |4-2|, |7-6| -> mean 1.25
    assert scale_mase(train, m=2) == pytest.approx(1.25)
    # lag 1: 4, 3, 4, 2, 3 -> mean 3.2
    assert scale_mase(train, m=1) == pytest.approx(3.2)


def test_scale_mase_falls_back_to_lag_one_for_short_series() -> None:
    assert scale_mase([1.0, 3.0, 4.0], m=12) == pytest.approx(1.5)


def test_scale_mase_zero_or_undefined_is_a_clear_error() -> None:
    with pytest.raises(UndefinedMetricError, match="scale is zero"):
        scale_mase([3.0, 3.0, 3.0])
    with pytest.raises(UndefinedMetricError, match=r"scale is zero.*lag 2"):
        scale_mase([1.0, 2.0, 1.0, 2.0], m=2)  # exactly periodic
    with pytest.raises(UndefinedMetricError, match="at least 2"):
        scale_mase([3.0], m=1)
    with pytest.raises(InvalidParameterError, match="m must be"):
        scale_mase([1.0, 2.0], m=0)


def test_mase_from_training_series_or_stored_scale() -> None:
    train = [1.0, 5.0, 2.0, 6.0, 4.0, 7.0]
    assert mase(Y, YHAT, train_y=train, m=2) == pytest.approx(1.75 / 1.25)
    assert mase(Y, YHAT, scale=1.25) == pytest.approx(1.4)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        mase(Y, YHAT)
    with pytest.raises(InvalidParameterError, match="exactly one"):
        mase(Y, YHAT, train_y=train, scale=1.0)
    with pytest.raises(UndefinedMetricError, match="finite and > 0"):
        mase(Y, YHAT, scale=0.0)


def test_coverage_counts_bounds_as_inside() -> None:
    y = [1.0, 2.0, 3.0, 4.0]
    lo = [0.0, 2.0, 3.5, 0.0]
    hi = [2.0, 3.0, 4.0, 3.9]
    assert coverage(y, lo, hi) == pytest.approx(0.5)


def test_inputs_are_checked() -> None:
    with pytest.raises(InvalidParameterError, match="same length"):
        mae([1.0, 2.0], [1.0])
    with pytest.raises(InvalidParameterError, match="yhat contains NaN"):
        rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(UndefinedMetricError, match="zero values"):
        smape([], [])
    assert isinstance(mae(np.array([1, 2]), np.array([2, 2])), float)
