"""Batched engine of dependence-aware inference: many series, one design, plain arrays.

:class:`~chronoguard.drift.inference.CalibratedDriftTest` wraps this for one series with
validation, timestamps and typed results; ``bench/drift_calibration.py`` calls it directly
for thousands of simulated series at once. Same arithmetic in both (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from chronoguard.drift._prewhiten import fit_regression_ar, step_weights, whiten
from chronoguard.drift._sequential import (
    WINSOR,
    NullModel,
    last_change,
    monitor_paths,
    null_statistics,
    persistent_level,
    simulate_null,
    stationary_bootstrap_draws,
    tail_quantiles,
    winsorise,
)
from chronoguard.drift.seasonal import SeasonalDesign

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Fitted:
    """Fitted reference models of ``S`` series that share a seasonal design (leading axis S)."""

    design: SeasonalDesign
    n: int  # reference length (positions 0..n-1)
    beta: FloatArray  # (S, k)
    cov_beta: FloatArray  # (S, k, k)
    phi: FloatArray  # (S, p)
    cov_phi: FloatArray  # (S, p, p)
    sigma: FloatArray  # (S,)
    dof: FloatArray  # (S,)
    sd_u: FloatArray  # (S,) marginal sd of the deseasonalised reference
    tail: FloatArray  # (S, p) last p deseasonalised reference values, most recent last
    pool: FloatArray  # (S, n_pool) standardised reference innovations (NaN = unused)

    @property
    def p(self) -> int:
        return int(self.phi.shape[1])

    def take(self, idx: npt.ArrayLike) -> Fitted:
        """The fits of the series ``idx`` (for chunked work)."""
        i = np.atleast_1d(np.asarray(idx))
        return Fitted(
            self.design,
            self.n,
            self.beta[i],
            self.cov_beta[i],
            self.phi[i],
            self.cov_phi[i],
            self.sigma[i],
            self.dof[i],
            self.sd_u[i],
            self.tail[i],
            self.pool[i],
        )


def fit(
    y: FloatArray,
    design: SeasonalDesign,
    *,
    max_order: int,
    n_boot: int,
    rng: np.random.Generator,
) -> Fitted:
    """Fit the reference model (mean, seasonal profile, bias-corrected AR filter) of each row."""
    n = y.shape[1]
    x = design.matrix(np.arange(n))
    f = fit_regression_ar(y, x, max_order=max_order, n_boot=n_boot, rng=rng)
    p = f.phi.shape[1]
    pool = f.innovations / f.sigma[:, None]
    tail = f.resid[:, n - p :] if p else np.zeros((y.shape[0], 0))
    return Fitted(
        design,
        n,
        f.beta,
        f.cov_beta,
        f.phi,
        f.cov_phi,
        f.sigma,
        f.dof,
        f.resid.std(axis=1),
        tail,
        pool,
    )


def deseasonalise(f: Fitted, y: FloatArray, positions: FloatArray) -> FloatArray:
    """``u = y - x' beta`` at ``positions`` with the reference's mean and seasonal profile."""
    return y - f.beta @ f.design.matrix(positions).T


def innovations(f: Fitted, u: FloatArray, contiguous: bool) -> FloatArray:
    """Standardised innovations ``(S, m)`` of deseasonalised current values ``u``.

    The reference's filter is applied unchanged (Box–Jenkins pre-whitening). When the
    window starts right after the reference its first innovations use the reference's
    last values as lags; otherwise the first ``p`` values only serve as lags (NaN).
    """
    p = f.p
    if contiguous and p:
        full = np.concatenate([f.tail, u], axis=1)
        e = whiten(full, f.phi)[:, p:]
    else:
        e = whiten(u, f.phi)
    return e / f.sigma[:, None]


#: Bounds of the automatic design shift, in marginal sds of the deseasonalised series.
AUTO_SHIFT = (1.0, 2.0)


def design_shift(f: Fitted, shift: float | str) -> FloatArray:
    """The level shift ``(S,)``, in marginal sds, that the sequential check is tuned to.

    ``"auto"`` tunes the steady part of the whitened shift to one innovation sd, the
    reference value of the classical CUSUM (``k = 0.5``), within 1 to 2 marginal sds: for
    white noise that is a 1 sd shift; for moderately persistent series (phi = 0.5) about
    1.7 sds, since a small shift barely shows in their innovations within two weeks; very
    persistent series are capped at 2 sds, where the jump at the change carries the signal.
    (Measured on the calibration benchmark: a fixed 1 sd design loses about 15 % of the
    detections within 14 days at phi = 0.5, and the cap at 2 rather than 1.5 keeps more
    power when the reference's seasonal profile is uncertain.)
    """
    if isinstance(shift, str):
        c = np.maximum(1.0 - f.phi.sum(axis=1), 0.05)
        return np.clip(f.sigma / (c * f.sd_u), *AUTO_SHIFT)
    return np.full(f.sigma.shape, float(shift))


#: The sequential check watches the jump of a level shift (its first whitened innovation)
#: only on series at least this persistent (``sum(phi)``); below, every age carries the
#: steady weight and the check is Page's CUSUM on the innovations.
JUMP_MIN_PERSISTENCE = 0.65


def has_jump_state(f: Fitted) -> npt.NDArray[np.bool_]:
    """Which series ``(S,)`` are persistent enough for the level CUSUM's jump state."""
    return np.asarray(f.phi.sum(axis=1) >= JUMP_MIN_PERSISTENCE)


def monitor_weights(f: Fitted) -> FloatArray:
    """Weights by age of the level CUSUM ``(S, A)``, ``A <= p + 1``: the whitened step, or its
    steady part.

    The likelihood ratio of a shift's whitened image (:func:`step_weights`) keeps one state
    per young age, and the maximum over them raises the threshold for the same false-alarm
    budget. The jump at the change is ``1 / c`` times the steady weight ``c = 1 - sum(phi)``,
    so it pays for that only on persistent series. With the true parameters and the design
    shift (40,000 simulated AR(1) series per case, shift at day 10-70 of 90), the share of
    shifts found within 14 days, jump-aware against steady-weight: at phi = 0.5, 0.208
    against 0.224 for 1 sd and 0.895 against 0.902 for 2 sd; at 0.6, 0.143 against 0.161 and
    0.801 against 0.809; at 0.7, 0.112 against 0.124 and 0.717 against 0.695; at 0.9, 0.149
    against 0.056 and 0.886 against 0.341. The cut lies where the two cross.
    """
    w = step_weights(f.phi)
    steady = ~has_jump_state(f)
    w[steady] = w[steady][:, -1:]
    # Ages past the last change of weight share one state: the same path with fewer states
    # (all of them when every series is steady, which leaves Page's CUSUM).
    return w[:, : last_change(w) + 1]


def innovation_limits(f: Fitted) -> FloatArray:
    """Where each series' standardised innovations are winsorised before the CUSUMs ``(S,)``.

    At :data:`~chronoguard.drift._sequential.WINSOR` sds on series whose level CUSUM uses
    steady weights only; not at all (``inf``) where it watches the jump of a shift
    (:func:`monitor_weights`): there the jump, several innovation sds in one step, is the
    signal, and cutting it at 3 sds took the 2 sd shifts found within 14 days at phi = 0.9
    from 0.82 to 0.24. On such series an outlier and a jump look alike for one step, so on
    heavy-tailed persistent series the check alarms more often than its budget (0.17
    against 0.05 with Student t innovations, 5 df, at phi = 0.9); docs/drift.md says so.
    """
    return np.where(has_jump_state(f), np.inf, WINSOR)


#: Below this p-value of D'Agostino's kurtosis test the reference innovations of a series
#: with a jump state are reported as heavy-tailed (:func:`heavy_tail_notes`).
HEAVY_TAIL_P = 0.01


def heavy_tail_notes(f: Fitted) -> list[str | None]:
    """Per series, a note when the calibration is known to run over budget, else None.

    On series with a jump state (:func:`monitor_weights`) the innovations are not
    winsorised (:func:`innovation_limits`), so one innovation beyond the largest of the
    reference's, which a heavy-tailed series produces every few months, looks like the
    jump of a level shift, and the resampled null cannot know how often that happens
    (docs/drift.md, "Outliers"). D'Agostino's one-sided kurtosis test (Anscombe & Glynn
    1983, ``scipy.stats.kurtosistest``) on the reference innovations finds such series:
    on 400 simulated AR(1) series each, at the 0.01 level it flagged 0.5-1.3 % of Gaussian
    ones (phi 0.7 and 0.9) and 85-96 % of those with Student t innovations (5 df).
    """
    out: list[str | None] = []
    persistence = f.phi.sum(axis=1)
    jump = has_jump_state(f)
    for i in range(f.pool.shape[0]):
        pool = f.pool[i][np.isfinite(f.pool[i])]
        if not jump[i] or pool.size < 20:
            out.append(None)
            continue
        test = stats.kurtosistest(pool, alternative="greater")
        if not test.pvalue < HEAVY_TAIL_P:
            out.append(None)
            continue
        kurt = float(stats.kurtosis(pool, fisher=False))
        out.append(
            f"the reference's innovations are heavier-tailed than Gaussian (kurtosis {kurt:.1f}, "
            f"p = {float(test.pvalue):.2g}) on a persistent series (sum of AR coefficients "
            f"{float(persistence[i]):.2f}): here the sequential check watches the one-step jump "
            "of a level shift, one large innovation looks like it, and such series alarm more "
            "often than the false-alarm budget (0.18 for 0.05 on simulated AR(1) series with "
            "phi = 0.9 and Student t innovations, 5 df); confirm an alarm before acting on it, "
            "or monitor a transform with lighter-tailed noise (transform='log' where the noise "
            "is multiplicative)"
        )
    return out


def shift_in_innovations(f: Fitted, shift: float | str) -> FloatArray:
    """The design level shift (see :func:`design_shift`) in innovation sds."""
    return design_shift(f, shift) * f.sd_u / f.sigma


def null_model(
    f: Fitted, positions: FloatArray, contiguous: bool, mean_block: float = NullModel.mean_block
) -> NullModel:
    """The :class:`NullModel` for monitoring the series at ``positions``."""
    p = f.p
    pos = np.asarray(positions, dtype=np.float64)
    xw = f.design.matrix(pos)[None] - sum(
        (f.phi[:, j, None, None] * f.design.matrix(pos - j - 1)[None] for j in range(p)),
        start=np.zeros((1, pos.size, f.design.n_columns)),
    )
    k = f.design.n_columns
    scale = np.maximum(np.diagonal(f.cov_beta, axis1=1, axis2=2).max(axis=1), 1e-300)
    chol = np.linalg.cholesky(f.cov_beta + 1e-12 * scale[:, None, None] * np.eye(k))
    if p:
        pchol = np.asarray(np.linalg.cholesky(f.cov_phi + 1e-12 * np.eye(p)), dtype=np.float64)
        start = f.tail / f.sigma[:, None] if contiguous else np.zeros((f.phi.shape[0], p))
    else:
        pchol = np.zeros((f.phi.shape[0], 0, 0))
        start = np.zeros((f.phi.shape[0], 0))
    return NullModel(
        pool=f.pool,
        pool_valid=np.isfinite(f.pool),
        mean_block=mean_block,
        regressors=xw / f.sigma[:, None, None],
        beta_chol=chol,
        frequencies=f.design.frequencies(),
        dof=f.dof,
        phi=f.phi,
        phi_chol=pchol,
        start=start,
    )


def calibrate(
    f: Fitted,
    *,
    shift: float | str,
    horizon: int,
    false_alarm_rate: float,
    alternative: str,
    persistence: tuple[int, int],
    scale_ratio: float | None,
    n_sim: int,
    rng: np.random.Generator,
    window: int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Threshold ``(S,)`` and stored null tail ``(S, L)`` for monitoring ``horizon`` checks.

    The threshold is the ``1 - false_alarm_rate`` quantile of the simulated maxima of the
    monitored statistic over the horizon, so that a series without change raises at least
    one alarm in ``horizon`` checks with that probability.
    """
    positions = np.arange(f.n, f.n + horizon, dtype=np.float64)
    null_max = null_statistics(
        null_model(f, positions, contiguous=True),
        weights=monitor_weights(f),
        d=shift_in_innovations(f, shift),
        horizon=horizon,
        alternative=alternative,
        scale_ratio=effective_scale_ratio(alternative, scale_ratio),
        persistence=persistence,
        n_sim=n_sim,
        rng=rng,
        window=window,
        limits=innovation_limits(f),
    )
    h = np.quantile(null_max, 1.0 - false_alarm_rate, axis=1)
    return h, tail_quantiles(null_max)


def effective_scale_ratio(alternative: str, scale_ratio: float | None) -> float | None:
    """The scale CUSUM runs in two-sided checks only.

    Its statistic, the squared innovation, also grows under a level shift in either
    direction; in a one-sided check that would turn a harmless drop into an alarm.
    """
    return scale_ratio if alternative == "two-sided" else None


def monitor(
    f: Fitted,
    z: FloatArray,
    *,
    shift: float | str,
    alternative: str,
    persistence: tuple[int, int],
    scale_ratio: float | None,
    window: int | None = None,
) -> FloatArray:
    """The persistent monitored statistic path ``(S, m)``; an alarm is ``path > threshold``."""
    g = monitor_paths(
        winsorise(z, innovation_limits(f)[:, None]),
        monitor_weights(f),
        shift_in_innovations(f, shift),
        alternative=alternative,
        scale_ratio=effective_scale_ratio(alternative, scale_ratio),
        window=window,
    )
    return persistent_level(g, *persistence)


# --------------------------------------------------------------------------------------
# one check of a whole window
# --------------------------------------------------------------------------------------


def level_weights(f: Fitted, m: int, contiguous: bool) -> FloatArray:
    """GLS weights ``(S, m)`` of a level shift present from the window's start.

    The whitened image of a shift at the window start (:func:`step_weights` by age); when
    the window does not continue the reference its first ``p`` values are only lags, and
    every usable innovation carries the steady weight.
    """
    w = step_weights(f.phi)
    ages = np.minimum(np.arange(m), f.p)
    g = w[:, ages]
    if not contiguous:
        g = np.broadcast_to(w[:, -1:], g.shape).copy()
    return g


def _window_stats(
    z: FloatArray, g: FloatArray, phases: list[npt.NDArray[np.int64]]
) -> dict[str, FloatArray]:
    """Level (GLS sum), scale (mean square) and per-season pattern statistics of ``z``."""
    ok = np.isfinite(z)
    zz = np.where(ok, z, 0.0)
    cnt = np.maximum(ok.sum(axis=-1), 1)
    mean = zz.sum(axis=-1) / cnt
    out = {
        "level": (g * zz).sum(axis=-1),
        # Spread around the window's own mean: a level shift must not read as more spread.
        "scale": (np.where(ok, zz - mean[..., None], 0.0) ** 2).sum(axis=-1)
        / np.maximum(cnt - 1, 1),
    }
    for i, ph in enumerate(phases):
        n_pos = int(ph.max()) + 1
        onehot = (ph[:, None] == np.arange(n_pos)[None, :]).astype(np.float64)  # (m, P)
        sums = zz @ onehot
        counts = ok.astype(np.float64) @ onehot
        dev = np.where(counts > 0, sums / np.maximum(counts, 1) - mean[..., None], 0.0)
        out[f"pattern{i}"] = (counts * dev**2).sum(axis=-1)
    return out


def _scaled_chi2_sf(x: FloatArray, mean: FloatArray, var: FloatArray) -> FloatArray:
    """Upper tail of ``x`` under a scaled chi-square matched to ``mean`` and ``var``.

    Satterthwaite (1946): ``a chi2_nu`` with ``a nu = mean`` and ``2 a² nu = var``.
    """
    var = np.maximum(var, 1e-12)
    a = var / (2.0 * mean)
    nu = 2.0 * mean**2 / var
    return np.asarray(stats.chi2.sf(x / a, nu))


def _scaled_chi2_cdf(x: FloatArray, mean: FloatArray, var: FloatArray) -> FloatArray:
    var = np.maximum(var, 1e-12)
    a = var / (2.0 * mean)
    nu = 2.0 * mean**2 / var
    return np.asarray(stats.chi2.cdf(x / a, nu))


def window_test(
    f: Fitted,
    z: FloatArray,
    positions: FloatArray,
    *,
    contiguous: bool,
    alternative: str,
    n_sim: int,
    rng: np.random.Generator,
) -> dict[str, FloatArray]:
    """p-values of the components of one reference-vs-window check ``{name: (S,)}``.

    * ``level``: GLS test of a level shift over the window on the innovations; its null sd
      and kurtosis are simulated with every estimation effect (:func:`simulate_null`),
      then Student-t tails.
    * ``scale``: variance of the innovations around their own mean against a scaled
      chi-square matched to its simulated null mean and variance (upper tail, or both
      tails when two-sided).
    * ``pattern<i>``: between-position variation of the innovations for each short season
      (the weekly profile in daily data), scaled chi-square as above; two-sided only.
    * ``shape``: two-sample Kolmogorov–Smirnov of current vs reference innovations, each
      standardised by its own mean and sd (the shape beyond level and spread); close to
      independent after pre-whitening; two-sided only.
    """
    s, m = z.shape
    g = level_weights(f, m, contiguous)
    phases: list[npt.NDArray[np.int64]] = []
    if alternative == "two-sided":
        for period, kind in zip(f.design.periods, f.design.kinds, strict=True):
            if kind == "dummy" and m >= 2 * period:
                phases.append(np.mod(np.rint(positions), round(period)).astype(np.int64))
    obs = _window_stats(z, g, phases)
    # Missing innovations in the observed window are missing in the simulated ones too.
    mask = np.isfinite(z)
    nm = null_model(f, positions, contiguous)
    sim: dict[str, list[FloatArray]] = {k: [] for k in obs}
    chunk = max(1, 20000 // max(n_sim, 1))
    for lo in range(0, s, chunk):
        hi = min(s, lo + chunk)
        zs = simulate_null(nm, lo, hi, n_sim, m, rng)
        zs = np.where(mask[None, lo:hi], zs, np.nan)
        st = _window_stats(zs, g[None, lo:hi], phases)
        for k_, v in st.items():
            sim[k_].append(v)
    null = {k_: np.concatenate(v, axis=1) for k_, v in sim.items()}  # (n_sim, S)
    out: dict[str, FloatArray] = {}
    lvl = null["level"]
    lvl_mean, lvl_sd = lvl.mean(axis=0), lvl.std(axis=0)
    zl = (obs["level"] - lvl_mean) / np.maximum(lvl_sd, 1e-12)
    # The null of the level statistic is a scale mixture of normals (the reference's level
    # error has a random, persistence-dependent variance), so its tails are heavier than
    # normal. A Student t with the simulated kurtosis keeps them (moment matching).
    centred = (lvl - lvl_mean) / np.maximum(lvl_sd, 1e-12)
    excess = np.maximum((centred**4).mean(axis=0) - 3.0, 1e-3)
    nu = 4.0 + 6.0 / excess
    tl = zl * np.sqrt(nu / (nu - 2.0))
    if alternative == "greater":
        out["level"] = stats.t.sf(tl, nu)
    elif alternative == "less":
        out["level"] = stats.t.cdf(tl, nu)
    else:
        out["level"] = 2.0 * stats.t.sf(np.abs(tl), nu)
    out["level_z"] = zl
    sm, sv = null["scale"].mean(axis=0), null["scale"].var(axis=0)
    upper = _scaled_chi2_sf(obs["scale"], sm, sv)
    if alternative == "two-sided":
        out["scale"] = np.minimum(
            1.0, 2.0 * np.minimum(upper, _scaled_chi2_cdf(obs["scale"], sm, sv))
        )
    else:
        out["scale"] = upper
    out["scale_ratio"] = obs["scale"] / sm
    for i in range(len(phases)):
        key = f"pattern{i}"
        out[key] = _scaled_chi2_sf(obs[key], null[key].mean(axis=0), null[key].var(axis=0))
    if alternative == "two-sided":
        ks = np.ones(s)
        for i in range(s):
            cur = z[i][np.isfinite(z[i])]
            ref = f.pool[i][np.isfinite(f.pool[i])]
            if cur.size >= 5 and ref.size >= 5 and cur.std() > 0 and ref.std() > 0:
                # Shape only: level and spread have their own components, and the current
                # innovations carry the reference profile's estimation error as an offset
                # that a raw KS would mistake for a change.
                ks[i] = stats.ks_2samp(
                    (cur - cur.mean()) / cur.std(), (ref - ref.mean()) / ref.std()
                ).pvalue
        out["shape"] = ks
    return out


COMPONENTS = ("level", "scale", "shape")


def component_weights(names: list[str]) -> dict[str, float]:
    """Shares of the level ``alpha`` per component (weighted Bonferroni; they sum to 1).

    The level test gets twice the share of each other component: a level shift is the
    change monitoring exists for, and the shape test (KS after removing level and spread)
    is conservative and rarely the only one to fire.
    """
    raw = {k: (2.0 if k == "level" else 1.0) for k in names}
    tot = sum(raw.values())
    return {k: v / tot for k, v in raw.items()}


def combine(pvals: dict[str, FloatArray]) -> tuple[FloatArray, list[str]]:
    """Weighted Bonferroni combination of the component p-values: ``min(1, min p_i / w_i)``.

    Bonferroni rather than Fisher: the components target different changes (level, spread,
    weekly pattern, shape), one of them is usually the whole signal, and Bonferroni keeps
    the family-wise level whatever their dependence (Holm 1979 for weights).
    """
    names = [k for k in pvals if k in COMPONENTS or k.startswith("pattern")]
    w = component_weights(names)
    mat = np.stack([pvals[k] / w[k] for k in names])
    return np.minimum(1.0, mat.min(axis=0)), names


# --------------------------------------------------------------------------------------
# alternatives kept for comparison: effective sample size and block bootstrap
# --------------------------------------------------------------------------------------


def effective_fraction(phi: FloatArray, sigma: float, sd_u: float) -> float:
    """``n_eff / n`` for the mean of an AR(p) series: ``(1 - sum phi)² var(u) / sigma²``.

    The ratio of the marginal variance to the long-run variance; equals
    ``(1 - rho) / (1 + rho)`` for AR(1). Clipped to (0, 1].
    """
    frac = (1.0 - float(np.sum(phi))) ** 2 * sd_u**2 / max(sigma**2, 1e-300)
    return float(min(1.0, max(frac, 1e-6)))


def ess_test(
    u_ref: FloatArray, u_cur: FloatArray, frac: float, alternative: str
) -> dict[str, float]:
    """Mean and KS tests on deseasonalised values with effective sample sizes.

    Assumes AR-type dependence summarised by one variance-inflation factor and a
    reference profile known exactly. For the mean this is the classical correction; for
    KS it is a heuristic (the dependent-data KS limit has a different covariance), which
    is why it is not the default.
    """
    cur = u_cur[np.isfinite(u_cur)]
    n_e = max(2.0, frac * u_ref.size)
    m_e = max(1.0, frac * cur.size)
    sd = float(np.std(u_ref, ddof=1))
    zstat = (cur.mean() - u_ref.mean()) / (sd * np.sqrt(1.0 / n_e + 1.0 / m_e))
    if alternative == "greater":
        p_mean = float(stats.norm.sf(zstat))
    elif alternative == "less":
        p_mean = float(stats.norm.cdf(zstat))
    else:
        p_mean = float(2 * stats.norm.sf(abs(zstat)))
    d = float(stats.ks_2samp(u_ref, cur).statistic)
    en = n_e * m_e / (n_e + m_e)
    p_ks = float(stats.kstwobign.sf(d * np.sqrt(en))) if alternative == "two-sided" else 1.0
    return {"mean": p_mean, "ks": p_ks, "mean_z": float(zstat), "ks_d": d, "n_eff_fraction": frac}


def _ks_rows(a: FloatArray, b: FloatArray) -> FloatArray:
    """Two-sample KS distance per row of ``a`` ``(B, n)`` and ``b`` ``(B, m)``."""
    a = np.sort(a, axis=1)
    b = np.sort(b, axis=1)
    pooled = np.concatenate([a, b], axis=1)
    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        fa = np.searchsorted(a[i], pooled[i], side="right") / a.shape[1]
        fb = np.searchsorted(b[i], pooled[i], side="right") / b.shape[1]
        out[i] = np.abs(fa - fb).max()
    return out


def bootstrap_test(
    u_ref: FloatArray, u_cur: FloatArray, mean_block: float, n_boot: int, rng: np.random.Generator
) -> dict[str, float]:
    """KS distance with a null from stationary-bootstrap (reference, window) pairs.

    Both members of each pair are drawn from the reference (Politis & Romano 1994), so
    the null carries the reference's dependence and the sampling noise of a reference of
    the same length. Assumes stationarity after seasonal adjustment and blocks longer than
    the dependence.
    """
    cur = u_cur[np.isfinite(u_cur)]
    n, m = u_ref.size, cur.size
    obs = float(_ks_rows(u_ref[None], cur[None])[0])
    pool = u_ref[None]
    valid = np.ones_like(pool, dtype=bool)
    ref_b = stationary_bootstrap_draws(pool, valid, (n_boot, n), mean_block, rng, smooth=False)[
        :, 0
    ]
    cur_b = stationary_bootstrap_draws(pool, valid, (n_boot, m), mean_block, rng, smooth=False)[
        :, 0
    ]
    null = _ks_rows(ref_b, cur_b)
    return {
        "ks": float((1 + np.sum(null >= obs)) / (n_boot + 1)),
        "ks_d": obs,
        "mean_block": mean_block,
    }
