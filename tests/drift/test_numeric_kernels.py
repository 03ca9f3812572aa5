"""The fast numeric kernels of the drift engine agree with their plain definitions.

Each reference below is the textbook form the kernel replaces (``np.linalg.lstsq``, the AR
recursion written step by step, the stationary bootstrap drawn one step at a time), so a
change of arithmetic that moves results beyond rounding fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

from chronoguard.drift._prewhiten import SharedDesign, least_squares_operator, simulate_ar
from chronoguard.drift._sequential import stationary_bootstrap_draws
from chronoguard.drift.seasonal import SeasonalDesign


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_least_squares_operator_matches_lstsq_on_random_designs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(150, 9)) * rng.uniform(0.1, 10.0, size=9)
    y = rng.normal(size=(40, 150))
    got = y @ least_squares_operator(x).T
    want = np.linalg.lstsq(x, y.T, rcond=None)[0].T
    assert _relative(got, want) < 1e-10


def test_least_squares_operator_matches_lstsq_on_a_seasonal_design() -> None:
    design, _ = SeasonalDesign.for_reference((7.0, 365.25), 400, fourier_terms=3)
    x = design.matrix(np.arange(400))
    y = np.random.default_rng(3).normal(size=(25, 400)) + 10.0
    got = y @ least_squares_operator(x).T
    assert _relative(got, np.linalg.lstsq(x, y.T, rcond=None)[0].T) < 1e-10
    assert SharedDesign(x, 2).ols.shape == (x.shape[1], 400)


def test_least_squares_operator_keeps_the_minimum_norm_answer_when_rank_deficient() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(120, 6))
    x[:, 4] = x[:, 1] - 2.0 * x[:, 2]  # exact collinearity: rank 5
    x[:, 5] = 0.0  # a column that never varies from zero
    y = rng.normal(size=(30, 120))
    got = y @ least_squares_operator(x).T
    want = np.linalg.lstsq(x, y.T, rcond=None)[0].T
    assert np.linalg.matrix_rank(x) == 4
    assert _relative(got, want) < 1e-10
    assert np.abs(got[:, 5]).max() == 0.0


def _simulate_ar_by_steps(
    phi: np.ndarray, sigma: np.ndarray, n: int, reps: int, rng: np.random.Generator, burn: int
) -> np.ndarray:
    s, p = phi.shape
    e = rng.standard_normal((reps, s, n + burn)) * sigma[None, :, None]
    out = np.empty_like(e)
    for t in range(n + burn):
        acc = e[..., t].copy()
        for j in range(min(p, t)):
            acc += phi[None, :, j] * out[..., t - 1 - j]
        out[..., t] = acc
    return out[..., burn:]


@pytest.mark.parametrize("p", [0, 1, 2, 4])
def test_simulate_ar_matches_the_recursion(p: int) -> None:
    rng = np.random.default_rng(10 + p)
    phi = rng.uniform(-0.25, 0.25, size=(6, p))
    if p:
        phi[2, -1] = 0.0  # a lower-order series padded with a zero lag
    sigma = rng.uniform(0.5, 3.0, size=6)
    got = simulate_ar(phi, sigma, 80, 9, np.random.default_rng(7), burn=30)
    want = _simulate_ar_by_steps(phi, sigma, 80, 9, np.random.default_rng(7), burn=30)
    assert got.shape == (9, 6, 80)
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()


def _bootstrap_by_steps(
    pool: np.ndarray,
    valid: np.ndarray,
    shape: tuple[int, int],
    mean_block: float,
    rng: np.random.Generator,
) -> np.ndarray:
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
    bw = 1.06 * np.maximum(counts, 2) ** -0.2
    return (out + bw[None, :, None] * rng.standard_normal(out.shape)) / np.sqrt(1.0 + bw**2)[
        None, :, None
    ]


@pytest.mark.parametrize("mean_block", [1.0, 2.5, 40.0])
@pytest.mark.parametrize("t_len", [0, 1, 2, 90, 700])
def test_stationary_bootstrap_draws_equal_the_step_by_step_draws(
    mean_block: float, t_len: int
) -> None:
    rng = np.random.default_rng(5)
    pool = rng.normal(size=(5, 60))
    valid = rng.random((5, 60)) > 0.3
    valid[3] = False  # a series with no valid innovation
    pool[~valid] = np.nan
    got = stationary_bootstrap_draws(
        pool, valid, (300, t_len), mean_block, np.random.default_rng(9)
    )
    want = _bootstrap_by_steps(pool, valid, (300, t_len), mean_block, np.random.default_rng(9))
    assert got.shape == (300, 5, t_len)
    np.testing.assert_array_equal(got, want)
