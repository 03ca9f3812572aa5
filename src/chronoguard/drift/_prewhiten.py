"""Numeric core of dependence-aware inference: regression + AR fits and pre-whitening.

Pure numpy over many series at once (``y`` has shape ``(S, n)``, one row per series); no
pandas, no validation (``inference.py`` validates at the door). The model of a reference is

    y_t = x_t' beta + u_t,    u_t = phi_1 u_{t-1} + ... + phi_p u_{t-p} + e_t,

with ``x_t`` the intercept and seasonal regressors of :mod:`chronoguard.drift.seasonal` and
``e_t`` white noise. It is fitted by feasible GLS with Cochrane–Orcutt iterations: OLS for
``beta``, an AR order chosen by BIC on the residuals, then ``beta`` again on the filtered
(pre-whitened) data, whose errors are the innovations. The AR filter so estimated is the
Box–Jenkins pre-whitening filter (Box & Jenkins 1970, §11.2): applied unchanged to later
data it turns the dependent series back into (approximately) independent innovations, on
which classical tests and CUSUMs keep their nominal error rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class ARFit:
    """A fitted regression with AR errors for ``S`` series (arrays have leading axis ``S``)."""

    beta: FloatArray  # (S, k) mean and seasonal coefficients
    cov_beta: FloatArray  # (S, k, k) GLS covariance of beta
    phi: FloatArray  # (S, pmax) AR coefficients, zero beyond each series' order
    cov_phi: FloatArray  # (S, pmax, pmax) their least-squares covariance (zero outside order)
    order: IntArray  # (S,) chosen AR order
    sigma: FloatArray  # (S,) innovation standard deviation
    dof: FloatArray  # (S,) residual degrees of freedom of sigma
    resid: FloatArray  # (S, n) u = y - X beta
    innovations: FloatArray  # (S, n) e, NaN where the filter lacks lags


def lagged(x: FloatArray, lag: int) -> FloatArray:
    """``x`` shifted right by ``lag`` along the last axis, NaN-filled."""
    out = np.full_like(x, np.nan)
    if lag < x.shape[-1]:
        out[..., lag:] = x[..., : x.shape[-1] - lag]
    return out


def whiten(x: FloatArray, phi: FloatArray) -> FloatArray:
    """Apply the AR filter ``e_t = x_t - sum_j phi_j x_{t-j}`` along the last axis.

    ``x`` is ``(S, T)`` or ``(S, T, k)`` (then the filter runs along axis 1). A lag whose
    coefficient is exactly zero is not needed, so series of low order keep their early
    innovations; where a needed lag is missing (NaN or before the start) the result is NaN.
    """
    moved = x.ndim == 3
    a = np.moveaxis(x, 1, -1) if moved else x  # (S, k, T) or (S, T)
    out = a.copy()
    for j in range(phi.shape[1]):
        coef = phi[:, j]
        if not np.any(coef != 0.0):
            continue
        c = coef.reshape((-1,) + (1,) * (a.ndim - 1))
        term = c * lagged(a, j + 1)
        out = out - np.where(c != 0.0, term, 0.0)
    return np.moveaxis(out, -1, 1) if moved else out


def select_ar(
    u: FloatArray, max_order: int, criterion: str = "bic"
) -> tuple[FloatArray, IntArray, FloatArray]:
    """AR order (0..``max_order``), coefficients and their covariance per row of ``u``.

    Least squares; the covariance is ``s² (Z'Z)⁻¹`` of the chosen order.

    All orders are fitted on the same sample (rows from ``max_order`` on) so that their
    information criteria compare like with like; the Gram matrix of the lags is built once
    and each order solves its leading block (Lütkepohl 2005, §4.3).
    """
    s, n = u.shape
    pmax = int(max(0, min(max_order, n // 4)))
    phi = np.zeros((s, max(pmax, 1)))
    if pmax == 0:
        return phi[:, :0], np.zeros(s, dtype=np.int64), np.zeros((s, 0, 0))
    target = u[:, pmax:]
    lags = np.stack([u[:, pmax - j : n - j] for j in range(1, pmax + 1)], axis=-1)  # (S, N, pmax)
    nobs = target.shape[1]
    gram = np.einsum("snj,snk->sjk", lags, lags)
    cross = np.einsum("snj,sn->sj", lags, target)
    tss = np.einsum("sn,sn->s", target, target)
    penalty = np.log(nobs) if criterion == "bic" else 2.0
    best_ic = nobs * np.log(np.maximum(tss / nobs, 1e-300))
    best = np.zeros(s, dtype=np.int64)
    fits: list[tuple[FloatArray, FloatArray]] = [(np.zeros((s, 0)), np.zeros((s, 0, 0)))]
    for p in range(1, pmax + 1):
        g = gram[:, :p, :p] + 1e-12 * np.eye(p) * np.maximum(tss, 1e-300)[:, None, None] / nobs
        ginv = np.linalg.inv(g)
        b = np.einsum("sjk,sk->sj", ginv, cross[:, :p])
        rss = np.maximum(tss - np.einsum("sj,sj->s", b, cross[:, :p]), 1e-300)
        ic = nobs * np.log(rss / nobs) + penalty * p
        better = ic < best_ic
        best_ic = np.where(better, ic, best_ic)
        best = np.where(better, p, best)
        fits.append((b, ginv * (rss / max(nobs - p, 1))[:, None, None]))
    cov = np.zeros((s, pmax, pmax))
    for p in range(1, pmax + 1):
        rows = best == p
        phi[rows, :p] = fits[p][0][rows]
        cov[rows, :p, :p] = fits[p][1][rows]
    return phi[:, :pmax], best, cov


def fit_regression_ar(
    y: FloatArray,
    x: FloatArray,
    *,
    max_order: int,
    criterion: str = "bic",
    iterations: int = 2,
) -> ARFit:
    """Fit ``y = X beta + u``, ``u`` AR(p), to each row of ``y`` ``(S, n)`` with shared ``X``.

    Feasible GLS with Cochrane–Orcutt iterations (Cochrane & Orcutt 1949): OLS, then
    ``iterations`` rounds of (AR order and coefficients on the residuals by BIC, GLS for
    ``beta`` on the pre-whitened data). ``cov_beta`` is the GLS covariance
    ``sigma² (X̃'X̃)⁻¹`` of the filtered regressors, the uncertainty that a comparison
    against the reference's mean and seasonal profile must carry.
    """
    s, n = y.shape
    k = x.shape[1]
    beta = np.linalg.lstsq(x, y.T, rcond=None)[0].T  # (S, k)
    resid = y - beta @ x.T
    phi = np.zeros((s, 0))
    cov_phi = np.zeros((s, 0, 0))
    order = np.zeros(s, dtype=np.int64)
    xs = np.broadcast_to(x, (s, n, k))
    for _ in range(max(1, iterations)):
        phi, order, cov_phi = select_ar(resid, max_order, criterion)
        yw = whiten(y, phi)
        xw = whiten(np.ascontiguousarray(xs), phi)
        ok = np.isfinite(yw) & np.all(np.isfinite(xw), axis=-1)
        yw = np.where(ok, yw, 0.0)
        xw = np.where(ok[..., None], xw, 0.0)
        gram = np.einsum("snj,snk->sjk", xw, xw) + 1e-10 * np.eye(k)
        beta = np.linalg.solve(gram, np.einsum("snj,sn->sj", xw, yw)[..., None])[..., 0]
        resid = y - np.einsum("sk,nk->sn", beta, x)
    innov = whiten(resid, phi)
    used = np.isfinite(innov)
    nobs = used.sum(axis=1)
    dof = np.maximum(nobs - order - k, 1).astype(np.float64)
    sigma = np.sqrt(np.nansum(innov**2, axis=1) / dof)
    cov = np.linalg.inv(gram) * (sigma**2)[:, None, None]
    return ARFit(beta, cov, phi, cov_phi, order, sigma, dof, resid, innov)


def step_weights(phi: FloatArray) -> FloatArray:
    """Whitened image of a unit level shift, by age since the shift ``(S, pmax + 1)``.

    A level shift of size delta in ``u`` shows in the innovations as ``delta * w_a`` at age
    ``a`` with ``w_0 = 1`` and ``w_a = 1 - phi_1 - ... - phi_a``; from age ``p`` on it stays
    at ``c = 1 - sum(phi)``. For persistent series (``c`` small) the shift is only fully
    visible in the first innovation: the power loss every pre-whitened test (and an
    oracle CUSUM on the true innovations) shares.
    """
    s, pmax = phi.shape
    w = np.ones((s, pmax + 1))
    if pmax:
        w[:, 1:] = 1.0 - np.cumsum(phi, axis=1)
    return w

