"""Numeric core of sequential monitoring: CUSUM paths on innovations and their calibration.

Pure numpy, vectorised over series (and over simulated paths); no pandas, no validation.

The level statistic is Page's CUSUM (Page 1954) written as a likelihood ratio for the
*whitened image* of a level shift. A shift of ``delta`` in an AR(p) series appears in the
innovations as ``delta * w_a`` at age ``a`` since the shift (``w_0 = 1``,
``w_a = 1 - phi_1 - ... - phi_a``, then ``c = 1 - sum(phi)``; see
:func:`~chronoguard.drift._prewhiten.step_weights`). Writing the log-likelihood ratio of a
shift that started ``a`` steps ago as a sum of per-step terms

    l_a(z) = d w_a z - (d w_a)^2 / 2        (z standardised innovation, d design shift / sigma)

gives a recursion over ``p + 1`` ages: one state per young age and one for all ages ``>= p``
(they share the weight ``c``), so the statistic ``max over start times of the LLR`` is
updated in O(p) per step. With ``p = 0`` it is exactly Page's CUSUM with reference value
``k = d / 2``. The first-step term is what keeps power on persistent series: there the
steady weight ``c`` is small and a plain CUSUM on innovations (the classical oracle) sees
little, while the jump at the change is fully visible (Lai 1995 and Lai & Shan 1999 on
likelihood-ratio detection of changes in ARX models).

A second CUSUM watches the scale: the log-likelihood ratio of an innovation sd ratio ``r``
(Hawkins & Olwell 1998, §6). The monitored statistic is the larger of the two; both are in
nats, so one threshold serves both.

On series without a jump state the innovations are winsorised at ``WINSOR`` sds before
either CUSUM sees them (Huber's psi, Huber 1964), in monitoring and in the null alike; see
:data:`WINSOR`.

Thresholds are not textbook constants: :func:`null_statistics` simulates the monitoring
scheme itself under the null (standardised innovations resampled, smoothed, from the
reference's own residual innovations; or Gaussian), including the
uncertainty of the estimated mean and seasonal profile, and the threshold is a quantile of
the simulated path maxima.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Standardised innovations are winsorised at this many sds before a CUSUM sees them, on
#: series whose level CUSUM has no jump state (see ``_engine.innovation_limits``). One
#: innovation beyond the range of the reference's own innovations is where a resampled
#: null knows nothing: its tail beyond the pool's largest value is only the smoothing
#: kernel's. On heavy-tailed series (Student t with 5 df, phi = 0.5, 600 series, nominal
#: 0.05 over 90 daily checks) raw innovations gave 0.135 false alarms, and the threshold
#: raised against their outliers cost power: 0.098 of 1 sd shifts found within 14 days.
#: Winsorised at 3 sds: 0.057 false alarms and 0.182 of the shifts. On Gaussian series the
#: cut changes neither (0.052 against 0.055, 0.177 against 0.175). A level shift moves
#: the bulk of the innovations, which winsorising keeps; a variance change still pushes
#: more of them to the limits.
WINSOR = 3.0


def level_llr_paths(
    z: FloatArray, weights: FloatArray, d: FloatArray, sign: float = 1.0
) -> FloatArray:
    """One-sided level CUSUM path ``(..., T)`` for standardised innovations ``z (..., T)``.

    ``weights`` ``(..., A)`` is the whitened step by age (last entry = steady weight) and
    ``d`` ``(...)`` the design shift in innovation sds; ``sign=-1`` watches decreases.
    NaN innovations (gaps) contribute nothing and age the states.
    """
    zt_all = np.moveaxis(z, -1, 0)  # time first: each step reads one contiguous slab
    valid = np.isfinite(zt_all)
    zt_all = np.where(valid, zt_all, 0.0)
    a = weights.shape[-1]
    dw = [np.broadcast_to((sign * d) * weights[..., j], zt_all.shape[1:]) for j in range(a)]
    half = [0.5 * x**2 for x in dw]
    states = [np.full(zt_all.shape[1:], -np.inf) for _ in range(a)]
    out = np.empty(zt_all.shape)
    for t in range(zt_all.shape[0]):
        zt = zt_all[t]
        ok = valid[t]
        inc = [np.where(ok, dw[j] * zt - half[j], 0.0) for j in range(a)]
        if a == 1:
            states[0] = np.maximum(states[0], 0.0) + inc[0]
        else:
            old = np.maximum(states[a - 2], states[a - 1]) + inc[a - 1]
            for j in range(a - 2, 0, -1):
                states[j] = states[j - 1] + inc[j]
            states[0] = inc[0]
            states[a - 1] = old
        best = states[0]
        for j in range(1, a):
            best = np.maximum(best, states[j])
        out[t] = np.maximum(best, 0.0)
    return np.moveaxis(out, 0, -1)


def scale_llr_path(z: FloatArray, ratio: float) -> FloatArray:
    """CUSUM path of the log-likelihood ratio of an innovation sd ``ratio`` (> 1: increase)."""
    coef = 0.5 * (1.0 - 1.0 / ratio**2)
    lr = np.log(ratio)
    zt_all = np.moveaxis(z, -1, 0)
    inc_all = np.where(np.isfinite(zt_all), coef * np.nan_to_num(zt_all) ** 2 - lr, 0.0)
    s = np.zeros(zt_all.shape[1:])
    out = np.empty(zt_all.shape)
    for t in range(zt_all.shape[0]):
        s = np.maximum(0.0, s + inc_all[t])
        out[t] = s
    return np.moveaxis(out, 0, -1)


def monitor_paths(
    z: FloatArray,
    weights: FloatArray,
    d: FloatArray,
    *,
    alternative: str,
    scale_ratio: float | None,
    window: int | None = None,
) -> FloatArray:
    """The monitored statistic ``(..., T)``: max of the level CUSUM(s) and the scale CUSUM.

    With ``window`` each check looks only at the last ``window`` innovations (the CUSUMs
    restart at the window's start), as a check scheduled on "the last 12 months" does.
    """
    if window is not None and window < z.shape[-1]:
        pad = np.full((*z.shape[:-1], window - 1), np.nan)
        win = np.lib.stride_tricks.sliding_window_view(
            np.concatenate([pad, z], axis=-1), window, axis=-1
        )
        g = monitor_paths(
            win,
            weights[..., None, :],
            d[..., None],
            alternative=alternative,
            scale_ratio=scale_ratio,
        )
        return np.asarray(g[..., -1])
    if alternative == "greater":
        g = level_llr_paths(z, weights, d, 1.0)
    elif alternative == "less":
        g = level_llr_paths(z, weights, d, -1.0)
    else:
        g = np.maximum(level_llr_paths(z, weights, d, 1.0), level_llr_paths(z, weights, d, -1.0))
    if scale_ratio is not None:
        g = np.maximum(g, scale_llr_path(z, scale_ratio))
    return g


def persistent_level(g: FloatArray, k: int, n: int) -> FloatArray:
    """Per time, the ``k``-th largest of the last ``n`` values of ``g`` along the last axis.

    ``persistent_level(g)[t] > h`` exactly when at least ``k`` of the last ``n`` checks had
    ``g > h``: a k-of-n persistence rule becomes one threshold on this path, so it can be
    calibrated by a quantile like any statistic. The first ``n - 1`` checks see a shorter
    history (missing checks count as no alarm).
    """
    if k == 1 and n == 1:
        return g
    pad = np.full((*g.shape[:-1], n - 1), -np.inf)
    win = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, g], axis=-1), n, axis=-1)
    return np.sort(win, axis=-1)[..., n - k]


def stationary_bootstrap_draws(
    pool: FloatArray,
    valid: npt.NDArray[np.bool_],
    shape: tuple[int, int],
    mean_block: float,
    rng: np.random.Generator,
    smooth: bool = True,
) -> FloatArray:
    """Draws ``(n_sim, S, T)`` from each row of ``pool`` ``(S, n)`` by the stationary bootstrap.

    Politis & Romano (1994): blocks of geometric length (mean ``mean_block``) starting at
    uniform positions, wrapping within each series' valid values, so leftover dependence
    in the innovations is kept. With ``smooth`` a small Gaussian jitter (Silverman's
    bandwidth) is added and the draw rescaled to unit variance, so that the tails are
    not capped at the most extreme reference innovation.
    """
    n_sim, t_len = shape
    s = pool.shape[0]
    # Compact each row's valid values to the front so that indices are contiguous.
    counts = valid.sum(axis=1)
    order = np.argsort(~valid, axis=1, kind="stable")
    compact = np.take_along_axis(pool, order, axis=1)
    cnt = np.maximum(counts, 1)[None, :]
    idx = np.floor(rng.random((n_sim, s)) * cnt).astype(np.int64)
    out = np.empty((t_len, n_sim, s))
    p_new = 1.0 / max(mean_block, 1.0)
    rows = np.arange(s)[None, None, :]
    # The index recursion (a fresh start with probability p_new, else the next position)
    # is solved in closed form over blocks of steps: the index at t is the start drawn at
    # the last jump, moved on by the steps since. The uniforms are drawn block by block in
    # time order, the same stream as one draw per step; blocks bound the memory.
    step = max(1, 1_000_000 // max(n_sim * s, 1))
    if t_len:
        out[0] = compact[rows[0], idx]
    if p_new >= 1.0 and t_len > 1:
        # Independent draws (the null's default): every step is a fresh start.
        u = rng.random((t_len - 1, n_sim, s))
        fresh = np.minimum(np.floor(u * cnt).astype(np.int64), cnt - 1)
        out[1:] = compact[rows, fresh]
        t_len = 0  # nothing left for the blocks below
    for lo in range(1, t_len, step):
        hi = min(t_len, lo + step)
        u = rng.random((hi - lo, n_sim, s))
        jump = u < p_new
        # One uniform serves both the jump decision and the fresh start (rescaled).
        fresh = np.minimum(np.floor(u / p_new * cnt).astype(np.int64), cnt - 1)
        ages = np.arange(1, hi - lo + 1)[:, None, None]
        last = np.maximum.accumulate(np.where(jump, ages, 0), axis=0)  # 0: no jump in block
        begin = np.where(
            last > 0, np.take_along_axis(fresh, np.maximum(last - 1, 0), axis=0), idx[None]
        )
        block = (begin + (ages - last)) % cnt
        out[lo:hi] = compact[rows, block]
        idx = block[-1]
    out = np.moveaxis(out, 0, -1)
    if smooth:
        bw = 1.06 * np.maximum(counts, 2) ** -0.2  # Silverman, for unit-variance data
        out = (out + bw[None, :, None] * rng.standard_normal(out.shape)) / np.sqrt(1.0 + bw**2)[
            None, :, None
        ]
    return out


@dataclass
class NullModel:
    """What the null simulation needs about ``S`` fitted series (leading axis ``S``).

    ``pool``/``pool_valid``: standardised reference innovations to resample (None:
    Gaussian); ``mean_block`` their mean block length (1: independent draws, see
    :func:`simulate_null`). ``regressors`` ``(S, T, k)``: the whitened mean/seasonal
    regressors at the monitored positions divided by the innovation sd; ``beta_chol`` ``(S, k, k)``: Cholesky
    factor of the GLS covariance of their coefficients; ``frequencies`` ``(k,)``: each
    regressor's frequency in cycles per step (NaN for seasonal dummies). ``dof``: degrees
    of freedom of the innovation sd. ``phi``, ``phi_chol`` ``(S, p, p)`` and ``start`` (last
    ``p`` standardised deseasonalised reference values, most recent last): the AR filter,
    the Cholesky factor of its estimation covariance and where the series starts from.
    """

    pool: FloatArray | None = None
    pool_valid: npt.NDArray[np.bool_] | None = None
    mean_block: float = 1.0
    regressors: FloatArray | None = None
    beta_chol: FloatArray | None = None
    frequencies: FloatArray | None = None
    dof: FloatArray | None = None
    phi: FloatArray | None = None
    phi_chol: FloatArray | None = None
    start: FloatArray | None = None


def simulate_null(
    model: NullModel, lo: int, hi: int, n_sim: int, t_len: int, rng: np.random.Generator
) -> FloatArray:
    """Standardised innovations ``(n_sim, hi - lo, t_len)`` as a plug-in filter would see them.

    Innovations come from the reference pool (or are Gaussian). The pool holds residual
    innovations of a fitted model, which are smaller and less wandering than the true ones,
    so two corrections keep the null from being too narrow (measured on 1,500 simulated
    AR(1) series with phi = 0.5 and a yearly season learnt from one year, nominal 0.05 over
    90 daily checks: 0.068 false alarms uncorrected, 0.054 corrected):

    * each series' pool is centred and rescaled to unit mean square before it is drawn
      from: a residual's variance is ``dof / n`` of the innovation's (the modified
      residuals of Davison & Hinkley 1997, §6.2.3), and the sd's own sampling error is
      added below;
    * draws are independent by default (``mean_block`` 1) rather than in blocks. The pool's
      serial correlation is mostly an artefact of the fit: the seasonal regressors absorb
      low-frequency noise, and the bias-corrected filter is more persistent than the
      residuals it whitens, which leaves them slightly negatively correlated. Blocks would
      copy that artefact into the null and shrink a CUSUM's long-run variance; the AR order
      (by BIC) is what carries the genuine dependence.

    The estimation errors of a model fitted on a finite reference are added,
    since each makes monitored innovations less well-behaved than the reference's own
    residuals and, over a long horizon, a CUSUM accumulates them into false alarms:

    * the AR coefficients: the truth is drawn around the estimate (:func:`_draw_truth`)
      and the series generated by it is whitened with the estimate (:func:`_filter_error`);
    * the mean and seasonal profile: one draw per path of the coefficient error, whose sd
      is rescaled to the drawn truth (a coefficient at frequency f has a variance
      proportional to the noise spectrum at f, Grenander 1954), so a more persistent truth
      also means a less certain reference level;
    * the innovation sd: its sampling error rescales the whole path.
    """
    s = hi - lo
    if model.pool is None:
        z = rng.standard_normal((n_sim, s, t_len))
    else:
        assert model.pool_valid is not None
        valid = model.pool_valid[lo:hi]
        z = stationary_bootstrap_draws(
            standardise_pool(model.pool[lo:hi], valid), valid, (n_sim, t_len), model.mean_block, rng
        )
    truth = None
    if (
        model.phi is not None
        and model.phi_chol is not None
        and model.start is not None
        and model.phi.shape[1]
    ):
        phi = model.phi[lo:hi]
        truth = _draw_truth(phi, model.phi_chol[lo:hi], n_sim, rng)
        z = z - _filter_error(z, phi, truth, model.start[lo:hi])
    if model.regressors is not None and model.beta_chol is not None:
        reg = model.regressors[lo:hi, :t_len]
        k = reg.shape[-1]
        dbeta = np.einsum(
            "sjk,isk->isj", model.beta_chol[lo:hi], rng.standard_normal((n_sim, s, k))
        )
        if truth is not None and model.frequencies is not None and model.phi is not None:
            dbeta = dbeta * _spectral_ratio(model.phi[lo:hi], truth, model.frequencies)
        z = z + np.einsum("isk,stk->ist", dbeta, reg)
    if model.dof is not None:
        nu = model.dof[lo:hi][None, :, None]
        z = z / np.sqrt(rng.chisquare(nu, size=(n_sim, s, 1)) / nu)
    return z


def standardise_pool(pool: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Each row's valid values centred and scaled to unit mean square (others untouched)."""
    cnt = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    x = np.where(valid, pool, 0.0)
    mean = x.sum(axis=1, keepdims=True) / cnt
    c = np.where(valid, x - mean, 0.0)
    rms = np.sqrt((c**2).sum(axis=1, keepdims=True) / cnt)
    out = np.where(valid, c / np.where(rms > 0, rms, 1.0), pool)
    return np.asarray(out, dtype=np.float64)


def _spectral_ratio(phi: FloatArray, truth: FloatArray, freqs: FloatArray) -> FloatArray:
    """``|A_est(f)| / |A_true(f)|`` per path and regressor ``(n_sim, S, k)`` (1 for NaN ``f``).

    ``A(f) = 1 - sum_j phi_j exp(-2 pi i f j)``; the ratio is the factor by which the sd of
    a coefficient at frequency ``f`` grows when the truth is ``truth`` instead of ``phi``.
    Capped at 10 to keep a near-unit-root draw from dominating.
    """
    f = np.nan_to_num(freqs, nan=0.0)
    lags = np.arange(1, phi.shape[-1] + 1)
    ph = np.exp(-2j * np.pi * f[:, None] * lags[None, :])  # (k, p)
    a_est = np.abs(1.0 - np.einsum("sp,kp->sk", phi, ph))[None]
    a_true = np.abs(1.0 - np.einsum("isp,kp->isk", truth, ph))
    r = np.minimum(a_est / np.maximum(a_true, 1e-3), 10.0)
    return np.where(np.isnan(freqs)[None, None, :], 1.0, r)


def null_statistics(
    model: NullModel,
    *,
    weights: FloatArray,
    d: FloatArray,
    horizon: int,
    alternative: str,
    scale_ratio: float | None,
    persistence: tuple[int, int],
    n_sim: int,
    rng: np.random.Generator,
    window: int | None = None,
    limits: FloatArray | None = None,
    chunk: int = 64,
) -> FloatArray:
    """Maximum over ``horizon`` checks of the monitored statistic under the null ``(S, n_sim)``.

    The null innovations come from :func:`simulate_null`; the monitored statistic and the
    persistence rule are applied exactly as in monitoring (``limits`` ``(S,)``: where each
    series' innovations are winsorised, ``inf`` for none), so the quantile of these maxima
    is the threshold that gives the wanted false-alarm probability over the horizon.
    """
    s = weights.shape[0]
    out = np.empty((s, n_sim))
    k, n = persistence
    for lo in range(0, s, chunk):
        hi = min(s, lo + chunk)
        z = simulate_null(model, lo, hi, n_sim, horizon, rng)
        if limits is not None:
            z = winsorise(z, limits[None, lo:hi, None])
        # Ages beyond the largest AR order in the chunk share the steady weight: drop them.
        a = last_change(weights[lo:hi]) + 1
        g = monitor_paths(
            z,
            weights[None, lo:hi, :a],
            d[None, lo:hi],
            alternative=alternative,
            scale_ratio=scale_ratio,
            window=window,
        )
        out[lo:hi] = persistent_level(g, k, n).max(axis=-1).T
    return out


def winsorise(z: FloatArray, limits: FloatArray | float) -> FloatArray:
    """``z`` clipped to ``[-limits, limits]`` (NaN kept; ``inf`` leaves values unchanged)."""
    return np.asarray(np.clip(z, -np.asarray(limits), np.asarray(limits)), dtype=np.float64)


def _draw_truth(
    phi: FloatArray, chol: FloatArray, n_sim: int, rng: np.random.Generator
) -> FloatArray:
    """AR coefficients ``(n_sim, S, p)`` drawn around the estimate ``phi`` (truth ~ estimate).

    Drawing the truth around the estimate, rather than the estimate around a fixed truth,
    matters for persistent series: a true coefficient a little above the estimate makes
    the series much more persistent. Draws are shrunk to keep the sum of absolute
    coefficients below 0.995 (stationarity for AR(1), a cheap guard for higher orders).
    """
    dphi = np.einsum("sjk,isk->isj", chol, rng.standard_normal((n_sim, *phi.shape)))
    true = phi[None] - dphi
    tot = np.abs(true).sum(axis=-1, keepdims=True)
    return np.where(tot > 0.995, true * (0.995 / np.maximum(tot, 1e-12)), true)


def _filter_error(
    eps: FloatArray, phi: FloatArray, truth: FloatArray, start: FloatArray
) -> FloatArray:
    """``sum_j (phi_j - truth_j) v_{t-j}``: what the estimated filter leaves in innovations.

    ``v`` follows the true model ``truth`` ``(n_sim, S, p)``, driven by ``eps``
    ``(n_sim, S, T)`` from ``start``, and is whitened with the estimate ``phi``.
    """
    n_sim, s, t_len = eps.shape
    p = phi.shape[1]
    dphi = phi[None] - truth
    hist = [np.broadcast_to(start[:, p - 1 - j], (n_sim, s)).copy() for j in range(p)]  # v_{t-1-j}
    err = np.empty(eps.shape)
    for t in range(t_len):
        acc = np.zeros((n_sim, s))
        pred = np.zeros((n_sim, s))
        for j in range(p):
            acc += dphi[..., j] * hist[j]
            pred += truth[..., j] * hist[j]
        err[..., t] = acc
        hist = [pred + eps[..., t], *hist[:-1]]
    return err


def last_change(weights: FloatArray) -> int:
    """Largest age at which any row's weight still differs from its next one."""
    if weights.shape[1] < 2:
        return 0
    diff = np.abs(np.diff(weights, axis=1)) > 0
    cols = np.nonzero(diff.any(axis=0))[0]
    return int(cols.max()) + 1 if cols.size else 0


#: Upper-tail probabilities at which the null distribution is stored (for p-values).
TAIL_PROBS = np.array(
    [
        0.5,
        0.3,
        0.2,
        0.15,
        0.1,
        0.08,
        0.06,
        0.05,
        0.04,
        0.03,
        0.02,
        0.015,
        0.01,
        0.007,
        0.005,
        0.003,
        0.002,
        0.001,
    ]
)


def tail_quantiles(null_max: FloatArray) -> FloatArray:
    """Quantiles of the null maxima at ``1 - TAIL_PROBS`` ``(S, len(TAIL_PROBS))``."""
    return np.quantile(null_max, 1.0 - TAIL_PROBS, axis=-1).T


def pvalue_from_tail(stat: FloatArray, quantiles: FloatArray) -> FloatArray:
    """Upper-tail p-value of ``stat`` by log-linear interpolation in the stored tail.

    Below the stored median the p-value is reported as 1 (nothing to see). Beyond the most
    extreme stored quantile the tail is extrapolated (:func:`log_tail`), so p-values resolve
    below the smallest stored probability and a fleet-wide Benjamini–Hochberg can pass them.
    """
    stat = np.atleast_1d(np.asarray(stat, dtype=np.float64))
    q = np.atleast_2d(quantiles)
    logp = np.log(TAIL_PROBS)
    out = np.empty(stat.shape)
    for i in range(stat.shape[0]):
        qi = np.maximum.accumulate(q[i])
        if stat[i] <= qi[0]:
            out[i] = 1.0 if stat[i] < qi[0] else TAIL_PROBS[0]
        else:
            out[i] = float(np.exp(log_tail(float(stat[i]), qi, logp)))
    return out


#: The stored tail probabilities from which the slope of the extrapolated tail is taken.
_SLOPE_FROM = 0.01


def log_tail(stat: float, quants: FloatArray, logp: FloatArray) -> float:
    """``log P(max > stat)`` from a tail stored as increasing quantiles ``quants`` at
    decreasing log-probabilities ``logp``: log-linear interpolation inside, and beyond the
    last quantile a straight line in ``log p`` with the slope of the stored tail from
    probability 0.01 on.

    The null maximum of a CUSUM has an exponential upper tail, ``P(max > h) ≈ C e^{-θh}``
    (Siegmund 1985, *Sequential Analysis*, ch. II), so ``log p`` is linear in ``h`` far out;
    a simulation of a few thousand paths stores the tail down to 0.001 only, and a p-value
    floored there can never pass Benjamini–Hochberg across more than ``alpha / 0.001``
    series. Without a usable slope (a flat stored tail) the smallest stored probability is
    kept.
    """
    last = float(quants[-1])
    if stat <= last:
        return float(np.interp(stat, quants, logp))
    ref = np.flatnonzero(np.exp(logp) <= _SLOPE_FROM * (1 + 1e-12))
    j = int(ref[0]) if ref.size else 0
    run = last - float(quants[j])
    if not run > 0:
        return float(logp[-1])
    slope = (float(logp[-1]) - float(logp[j])) / run
    return float(max(logp[-1] + slope * (stat - last), np.log(np.finfo(float).tiny)))
