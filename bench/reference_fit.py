"""Seconds per series of fitting a drift reference (the bulk of training a version's reference).

Workload (seeded): daily series of 120 days, AR(1) noise with coefficients from -0.2 to 0.9
around a weekly season, fitted with the daily preset (``CalibratedDriftTest.daily()``), one
``fit_reference_state`` per series as ``monitoring.reference.build_reference`` calls it (twice
per series: target and one-step forecasts).

Contenders, in this one process on the same series: the current engine, and the previous
kernels (``np.linalg.lstsq`` per fit, the AR simulation and the stationary bootstrap as
Python loops over time steps) patched in for a subsample, with the largest difference of
the calibrated thresholds between the two. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

from chronoguard.drift import CalibratedDriftTest, _prewhiten, _sequential, fit_reference_state


def make_series(n_series: int, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_series):
        phi = -0.2 + 1.1 * (i % 12) / 11
        e = rng.normal(size=n + 50)
        u = np.zeros(n + 50)
        for t in range(1, n + 50):
            u[t] = phi * u[t - 1] + e[t]
        out.append(100.0 + 10.0 * np.sin(2 * np.pi * np.arange(n) / 7) + 5.0 * u[50:])
    return out


def _legacy_simulate_ar(phi, sigma, n, reps, rng, burn=200):  # type: ignore[no-untyped-def]
    s, p = phi.shape
    e = rng.standard_normal((reps, s, n + burn)) * sigma[None, :, None]
    out = np.empty_like(e)
    for t in range(n + burn):
        acc = e[..., t].copy()
        for j in range(min(p, t)):
            acc += phi[None, :, j] * out[..., t - 1 - j]
        out[..., t] = acc
    return out[..., burn:]


def _legacy_bootstrap(pool, valid, shape, mean_block, rng, smooth=True):  # type: ignore[no-untyped-def]
    n_sim, t_len = shape
    s = pool.shape[0]
    counts = valid.sum(axis=1)
    order = np.argsort(~valid, axis=1, kind="stable")
    compact = np.take_along_axis(pool, order, axis=1)
    cnt = np.maximum(counts, 1)[None, :]
    idx = np.floor(rng.random((n_sim, s)) * cnt).astype(np.int64)
    out = np.empty((t_len, n_sim, s))
    p_new = 1.0 / max(mean_block, 1.0)
    rows = np.arange(s)[None, :]
    for t in range(t_len):
        if t:
            u = rng.random((n_sim, s))
            fresh = np.floor(u / p_new * cnt).astype(np.int64)
            idx = np.where(u < p_new, np.minimum(fresh, cnt - 1), (idx + 1) % cnt)
        out[t] = compact[rows, idx]
    out = np.moveaxis(out, 0, -1)
    if smooth:
        bw = 1.06 * np.maximum(counts, 2) ** -0.2
        out = (out + bw[None, :, None] * rng.standard_normal(out.shape)) / np.sqrt(1.0 + bw**2)[
            None, :, None
        ]
    return out


def _legacy_ols(x: np.ndarray) -> np.ndarray:
    """An operator whose product is computed by ``np.linalg.lstsq``, as the engine did."""

    class _Lstsq:
        __array_ufunc__ = None  # numpy defers `y @ op` to __rmatmul__
        T = property(lambda self: self)

        def __rmatmul__(self, y: np.ndarray) -> np.ndarray:
            return np.asarray(np.linalg.lstsq(x, y.T, rcond=None)[0].T)

    return _Lstsq()  # type: ignore[return-value]


@contextmanager
def legacy_kernels() -> Iterator[None]:
    saved = (
        _prewhiten.simulate_ar,
        _prewhiten.least_squares_operator,
        _sequential.stationary_bootstrap_draws,
    )
    _prewhiten.simulate_ar = _legacy_simulate_ar
    _prewhiten.least_squares_operator = _legacy_ols
    _sequential.stationary_bootstrap_draws = _legacy_bootstrap
    try:
        yield
    finally:
        (
            _prewhiten.simulate_ar,
            _prewhiten.least_squares_operator,
            _sequential.stationary_bootstrap_draws,
        ) = saved


def fit_all(series: list[np.ndarray], ds: pd.DatetimeIndex) -> tuple[float, list[float]]:
    settings = CalibratedDriftTest.daily().get_params()
    t0 = time.perf_counter()
    thresholds = []
    for y in series:
        state = fit_reference_state(y, ds=ds, freq="D", **settings)
        assert state.calibration is not None
        thresholds.append(state.calibration.threshold)
    return (time.perf_counter() - t0) / len(series), thresholds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--legacy-series", type=int, default=24, help="subsample for the old kernels")
    ap.add_argument("--days", type=int, default=120)
    args = ap.parse_args()
    ds = pd.date_range("2023-01-01", periods=args.days, freq="D")
    result: dict[str, object] = {"days": args.days, "fits_per_series_in_build_reference": 2}
    for n_series in args.series:
        per, _ = fit_all(make_series(n_series, args.days, seed=n_series), ds)
        result[f"seconds_per_fit_{n_series}"] = round(per, 5)
        result[f"build_reference_drift_seconds_{n_series}"] = round(2 * per * n_series, 1)
        print(f"{n_series} series: {per:.4f} s per fit", flush=True)
    sub = make_series(args.legacy_series, args.days, seed=1)
    new_per, new_thr = fit_all(sub, ds)
    with legacy_kernels():
        old_per, old_thr = fit_all(sub, ds)
    result["legacy_subsample"] = args.legacy_series
    result["seconds_per_fit_new"] = round(new_per, 5)
    result["seconds_per_fit_legacy"] = round(old_per, 5)
    result["speedup"] = round(old_per / new_per, 2)
    result["max_rel_threshold_diff"] = float(
        np.max(np.abs(np.array(new_thr) - np.array(old_thr)) / np.abs(np.array(old_thr)))
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
