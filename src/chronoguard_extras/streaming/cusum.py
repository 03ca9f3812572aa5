"""Two-sided CUSUM on pre-whitened, standardised values, its threshold set from a target ARL0."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Self

import numpy as np

from chronoguard.drift import _engine
from chronoguard.drift._sequential import monitor_paths, simulate_null, winsorise
from chronoguard.drift.seasonal import SeasonalDesign, as_periods
from chronoguard.drift.types import DriftInputError
from chronoguard_extras.streaming.base import StreamingDetector


class CUSUM(StreamingDetector):
    """Page's CUSUM for a level shift of a time series, calibrated on the series itself.

    The first ``reference_size`` values (or the series given to :meth:`fit`) are the
    reference: the detector fits their mean, seasonal profile and a bias-corrected AR
    filter, and from then on whitens and standardises each value before updating a
    two-sided likelihood-ratio CUSUM tuned to the whitened shape of a level shift (see
    :mod:`chronoguard.drift._sequential`). The threshold is not a textbook constant: it is
    set by simulation — innovations resampled from the reference's residual innovations,
    rescaled to unit variance, plus the estimation error of the fitted filter and profile
    (:func:`~chronoguard.drift._sequential.simulate_null`) — so that the
    in-control average run length is ``arl0``. After a detection the detector learns a
    new reference from the values that follow, as river's detectors restart.

    Parameters
    ----------
    arl0
        Target in-control average run length: the mean number of updates between false
        alarms on a series without change.
    shift
        Level shift the CUSUM is tuned to, in marginal sds (``"auto"``: 1 to 2).
    season_length
        Seasonal period(s) in updates, or None.
    reference_size
        Values learnt before monitoring starts (when :meth:`fit` was not called).
    max_order
        Largest AR order tried (BIC chooses).
    n_sim
        Simulated paths for the threshold.
    seed
        Seed of the simulation.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> e = rng.normal(size=1200)
    >>> x = np.zeros(1200)
    >>> for t in range(1, 1200):
    ...     x[t] = 0.7 * x[t - 1] + e[t]
    >>> x[800:] += 3.0
    >>> detector = CUSUM(arl0=1000, reference_size=300)
    >>> [i for i, v in enumerate(x) if detector.update(v).drift_detected][:1]
    [801]
    """

    def __init__(
        self,
        arl0: float = 500.0,
        shift: float | str = "auto",
        season_length: float | tuple[float, ...] | None = None,
        reference_size: int = 200,
        max_order: int = 5,
        n_sim: int = 500,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.arl0 = arl0
        self.shift = shift
        self.season_length = season_length
        self.reference_size = reference_size
        self.max_order = max_order
        self.n_sim = n_sim
        self.seed = seed
        self._reset()

    def _reset(self) -> None:
        self._drift_detected = False
        self._buffer: list[float] = []
        self._fitted: _engine.Fitted | None = None
        self._threshold = math.inf
        self._position = 0
        self._lags: deque[float] = deque()
        self._states = np.zeros((2, 0))
        self._weights = np.zeros(0)
        self._d = 0.0
        self._limit = math.inf
        self._statistic = 0.0
        self._n_fits = 0

    # ------------------------------------------------------------------ reference
    def fit(self, reference: Any) -> Self:
        """Learn the reference from ``reference`` (1-D, finite) and calibrate the threshold."""
        y = np.asarray(reference, dtype=np.float64)
        if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
            raise DriftInputError("CUSUM.fit needs a non-empty 1-D reference without NaN or inf")
        if not (isinstance(self.arl0, int | float) and self.arl0 > 1):
            raise DriftInputError(f"arl0={self.arl0!r}: the in-control run length must exceed 1")
        design, _ = SeasonalDesign.for_reference(as_periods(self.season_length), y.size)
        need = design.n_columns + 2 * self.max_order + 10
        if y.size < need:
            raise DriftInputError(
                f"CUSUM needs a reference of at least {need} values, got {y.size}"
            )
        rng = np.random.default_rng(self.seed + self._n_fits)
        f = _engine.fit(y[None], design, max_order=self.max_order, n_boot=100, rng=rng)
        self._fitted = f
        self._threshold = _threshold_for_arl(f, float(self.arl0), self.shift, self.n_sim, rng)
        self._position = y.size
        u = _engine.deseasonalise(f, y[None], np.arange(y.size, dtype=np.float64))[0]
        self._lags = deque(u[y.size - f.p :].tolist() if f.p else [], maxlen=max(f.p, 1))
        # Per-fit constants of the update: the level weights by age and the design shift.
        self._weights = _engine.monitor_weights(f)[0]
        self._d = float(_engine.shift_in_innovations(f, self.shift)[0])
        self._limit = float(_engine.innovation_limits(f)[0])
        self._states = np.full((2, self._weights.size), -np.inf)
        self._statistic = 0.0
        self._buffer = []
        self._n_fits += 1
        return self

    @property
    def threshold(self) -> float:
        """The calibrated threshold (infinite before the reference is learnt)."""
        return self._threshold

    @property
    def statistic(self) -> float:
        """The current CUSUM statistic."""
        return self._statistic

    # ------------------------------------------------------------------ updates
    def update(self, x: float) -> Self:
        v = self._check_x(x)
        if self._drift_detected:
            # Restart after a detection: what follows is the new reference.
            self._drift_detected = False
            self._fitted = None
            self._buffer = []
        if self._fitted is None:
            self._buffer.append(v)
            if len(self._buffer) >= self.reference_size:
                self.fit(self._buffer)
            return self
        f = self._fitted
        xrow = f.design.matrix(np.array([float(self._position)]))[0]
        u = v - float(f.beta[0] @ xrow)
        p = f.p
        e = u - float(np.dot(f.phi[0], list(reversed(self._lags)))) if p else u
        if p:
            self._lags.append(u)
        self._position += 1
        z = float(winsorise(np.array(e / float(f.sigma[0])), self._limit))
        w, d = self._weights, self._d
        best = 0.0
        for side, sign in enumerate((1.0, -1.0)):
            dw = sign * d * w
            inc = dw * z - 0.5 * dw**2
            s = self._states[side]
            new = np.empty_like(s)
            new[0] = inc[0]
            if s.size > 1:
                new[1:-1] = s[:-2] + inc[1:-1]
                new[-1] = max(s[-2], s[-1]) + inc[-1]
            else:
                new[0] = max(s[0], 0.0) + inc[0]
            self._states[side] = new
            best = max(best, float(new.max()))
        self._statistic = best
        self._drift_detected = best > self._threshold
        return self


def _threshold_for_arl(
    f: _engine.Fitted, arl0: float, shift: float | str, n_sim: int, rng: np.random.Generator
) -> float:
    """Threshold whose simulated in-control average run length is ``arl0``.

    Paths of length ``L = 3 arl0`` are simulated under the null (resampled reference
    innovations plus estimation error). For a threshold ``h`` the run
    length of a path is its first crossing; the ARL is estimated by the renewal-reward
    ratio ``E[min(RL, L)] / P(RL <= L)``, exact when run lengths are geometric (CUSUMs
    restart near zero, so they nearly are) and unbiased by the censoring at ``L``.
    Bisection on ``h`` follows, since the ARL grows with ``h``.
    """
    length = int(min(max(3 * arl0, 200), 20000))
    positions = np.arange(f.n, f.n + length, dtype=np.float64)
    z = simulate_null(_engine.null_model(f, positions, contiguous=True), 0, 1, n_sim, length, rng)[
        :, 0
    ]
    g = monitor_paths(
        winsorise(z, float(_engine.innovation_limits(f)[0])),
        _engine.monitor_weights(f)[0][None],
        _engine.shift_in_innovations(f, shift),
        alternative="two-sided",
        scale_ratio=None,
    )
    running = np.maximum.accumulate(g, axis=1)

    def arl(h: float) -> float:
        crossed = running > h
        hit = crossed[:, -1]
        rl = np.where(hit, crossed.argmax(axis=1) + 1, length)
        return float(rl.sum() / max(hit.sum(), 0.5))

    lo, hi = 0.0, float(np.max(running)) + 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if arl(mid) < arl0:
            lo = mid
        else:
            hi = mid
    return hi
