"""The fitted reference of a dependence-aware drift check, small and JSON-safe.

A :class:`ReferenceState` is what a model version stores at training time for each series ×
feature it monitors: the seasonal profile, the pre-whitening filter, the innovation scale,
a capped sample of reference innovations and the calibrated threshold of the sequential
check. A monitoring run rebuilds the check from it without re-reading training data.

Its size is bounded whatever the reference's length, and nothing in it is stored twice: at
most :data:`MAX_STORED` innovations are kept (float32, base64-encoded); the deseasonalised
values at the same times follow from them by the AR recursion and ``p`` stored starting
values; the GLS covariance of the seasonal coefficients, a function of the design, the
reference length, the filter and the innovation sd, is recomputed when a check needs it.
A state weighs about 7.5 kB as JSON for any history from 1,000 points up, daily or with a
half-hourly profile of 48 seasonal terms (``bench/reference_size.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import signal

from chronoguard.drift import _profile_io
from chronoguard.drift._engine import Fitted
from chronoguard.drift._prewhiten import SharedDesign
from chronoguard.drift.seasonal import SeasonalDesign
from chronoguard.drift.types import DriftInputError

FloatArray = npt.NDArray[np.float64]

#: Bumped when the stored layout or the meaning of a stored value changes; ``from_dict``
#: refuses other versions, except those listed in ``_READS``. Format 3 stores the arrays
#: that can be long (``beta``, ``cov_phi``, the innovations) as base64 (see :func:`_encode`),
#: the deseasonalised values as their ``p`` starting values (``deseasonalised_start``; see
#: :func:`rebuild_deseasonalised`) and no longer ``cov_beta`` (recomputed, see
#: :attr:`ReferenceState.cov_beta`); format 2 stored every array as a JSON list, those two
#: included, and loads unchanged in meaning.
STATE_FORMAT = 3
#: Earlier formats whose fit is still valid but whose calibrated threshold is not: format 1
#: thresholds were simulated for a statistic on raw innovations, before they were winsorised
#: (:data:`chronoguard.drift._sequential.WINSOR`). They load without their calibration,
#: which is simulated again, deterministically, on first use.
_RECALIBRATE = (1,)
#: Every format ``from_dict`` reads.
_READS = (STATE_FORMAT, 2, *_RECALIBRATE)
#: At most this many reference innovations (and deseasonalised values) are kept, the
#: most recent ones. They serve the resampled null of a recalibration or a one-off window
#: check and the alternative window tests; the stored threshold is calibrated at fit time on
#: every innovation of the reference. Format 2 kept 2,000.
MAX_STORED = 1000


@dataclass(frozen=True)
class MonitoringCalibration:
    """Settings and calibrated threshold of the sequential (CUSUM) check."""

    shift: float | str
    horizon: int
    false_alarm_rate: float
    alternative: str
    persistence: tuple[int, int]
    scale_ratio: float | None
    window: int | None
    threshold: float
    tail: tuple[float, ...]  # null quantiles at 1 - _sequential.TAIL_PROBS
    n_sim: int

    def settings(self) -> dict[str, Any]:
        return {
            "shift": self.shift,
            "horizon": self.horizon,
            "false_alarm_rate": self.false_alarm_rate,
            "alternative": self.alternative,
            "persistence": self.persistence,
            "scale_ratio": self.scale_ratio,
            "window": self.window,
        }


@dataclass(frozen=True)
class ReferenceState:
    """Everything a dependence-aware check needs about one reference series.

    Built by :func:`~chronoguard.drift.inference.fit_reference_state` (or
    :meth:`CalibratedDriftTest.fit <chronoguard.drift.inference.CalibratedDriftTest.fit>`);
    ``to_dict``/``from_dict`` give a JSON-safe round trip to store with a model version.
    Values are kept on the transformed scale (``transform`` is ``"log"`` or ``"none"``).
    """

    n: int
    freq: str | None
    origin: str | None  # ISO timestamp of the first reference point, when timestamps were given
    transform: str
    log_floor: float | None
    design: SeasonalDesign
    beta: tuple[float, ...]
    phi: tuple[float, ...]
    cov_phi: tuple[tuple[float, ...], ...]
    sigma: float
    dof: float
    sd_u: float
    tail: tuple[float, ...]
    innovations: tuple[float, ...]  # standardised, time order, at most MAX_STORED, float32
    deseasonalised: tuple[float, ...]  # u = y - x'beta, time order, at most MAX_STORED
    calibration: MonitoringCalibration | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The ``p`` deseasonalised values before the first stored innovation, from which
    #: ``deseasonalised`` is rebuilt (:func:`rebuild_deseasonalised`); ``None`` for a state
    #: read from format 1 or 2, whose deseasonalised values were stored as they were.
    deseasonalised_start: tuple[float, ...] | None = None

    @cached_property
    def cov_beta(self) -> FloatArray:
        """The GLS covariance ``(k, k)`` of ``beta``: ``sigma² (X̃'X̃)⁻¹`` of the filtered design.

        A function of the design, the reference length, the filter and ``sigma``, so it is
        recomputed from them (by the fit's own arithmetic, :func:`gls_covariance`) rather
        than stored: ``k²`` numbers per state (2,304 for a half-hourly daily profile) would
        outweigh the rest of it. Only a recalibration and a one-off window check read it;
        the routine sequential check does not.
        """
        return gls_covariance(self.design, self.n, np.asarray(self.phi), self.sigma)

    # ------------------------------------------------------------------ conversion
    def fitted(self) -> Fitted:
        """The engine's one-series :class:`~chronoguard.drift._engine.Fitted`."""
        p = len(self.phi)
        return Fitted(
            self.design,
            self.n,
            np.asarray(self.beta, dtype=np.float64)[None],
            self.cov_beta[None],
            np.asarray(self.phi, dtype=np.float64).reshape(1, p),
            np.asarray(self.cov_phi, dtype=np.float64).reshape(1, p, p),
            np.array([self.sigma]),
            np.array([self.dof]),
            np.array([self.sd_u]),
            np.asarray(self.tail, dtype=np.float64).reshape(1, p),
            np.asarray(self.innovations, dtype=np.float64)[None],
        )

    @classmethod
    def from_fitted(
        cls,
        f: Fitted,
        *,
        resid: FloatArray,
        freq: str | None,
        origin: str | None,
        transform: str,
        log_floor: float | None,
        notes: tuple[str, ...] = (),
    ) -> ReferenceState:
        """Row 0 of ``f`` with the reference's deseasonalised values ``resid``.

        The last :data:`MAX_STORED` innovations are kept, rounded to float32 (7 significant
        digits, far below their sampling noise), with the ``p`` deseasonalised values before
        them; the deseasonalised values at their times are rebuilt from both, so that the
        state in memory is exactly the one a later ``from_dict(to_dict())`` gives back.
        """
        pool = f.pool[0]
        # Innovations are missing only where the filter lacks lags: the first few points.
        kept = np.flatnonzero(np.isfinite(pool))[-MAX_STORED:]
        innov = _float32(pool[kept])
        phi = np.asarray(f.phi[0], dtype=np.float64)
        u = np.asarray(resid, dtype=np.float64)
        first = int(kept[0]) if kept.size else u.size
        p = phi.size
        # Lags before the series' start have a zero coefficient (the filter needs none of
        # them to produce the first innovation), so they start at zero.
        start = np.concatenate([np.zeros(max(0, p - first)), u[max(0, first - p) : first]])
        start_t = tuple(float(v) for v in start)
        sigma = float(f.sigma[0])
        return cls(
            n=f.n,
            freq=freq,
            origin=origin,
            transform=transform,
            log_floor=log_floor,
            design=f.design,
            beta=tuple(float(v) for v in f.beta[0]),
            phi=tuple(float(v) for v in f.phi[0]),
            cov_phi=tuple(tuple(float(v) for v in r) for r in f.cov_phi[0]),
            sigma=float(f.sigma[0]),
            dof=float(f.dof[0]),
            sd_u=float(f.sd_u[0]),
            tail=tuple(float(v) for v in f.tail[0]),
            innovations=innov,
            deseasonalised=rebuild_deseasonalised(innov, start_t, phi, sigma),
            notes=tuple(notes),
            deseasonalised_start=start_t,
        )

    def with_calibration(self, cal: MonitoringCalibration) -> ReferenceState:
        return replace(self, calibration=cal)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (lists, floats, strings and base64 arrays; NaN never occurs).

        ``beta``, ``cov_phi`` and ``innovations`` are base64 arrays (:func:`_encode`), so their
        size is the same whatever the JSON writer's indentation; the deseasonalised values
        are stored as their starting values (or, for a state read from format 1 or 2, as
        they were read).
        """
        d: dict[str, Any] = {
            "format": STATE_FORMAT,
            "n": self.n,
            "freq": self.freq,
            "origin": self.origin,
            "transform": self.transform,
            "log_floor": self.log_floor,
            "design": self.design.to_dict(),
            "beta": _encode(self.beta),
            "phi": list(self.phi),
            "cov_phi": _encode_matrix(self.cov_phi, len(self.phi)),
            "sigma": self.sigma,
            "dof": self.dof,
            "sd_u": self.sd_u,
            "tail": list(self.tail),
            "innovations": _encode(self.innovations),
            "notes": list(self.notes),
            "calibration": None,
        }
        if self.deseasonalised_start is not None:
            d["deseasonalised_start"] = list(self.deseasonalised_start)
        else:
            d["deseasonalised"] = _encode(self.deseasonalised)
        if self.calibration is not None:
            c = self.calibration
            d["calibration"] = {
                "shift": c.shift,
                "horizon": c.horizon,
                "false_alarm_rate": c.false_alarm_rate,
                "alternative": c.alternative,
                "persistence": list(c.persistence),
                "scale_ratio": c.scale_ratio,
                "window": c.window,
                "threshold": c.threshold,
                "tail": list(c.tail),
                "n_sim": c.n_sim,
            }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceState:
        """Rebuild a state stored by :meth:`to_dict` (format 3, or the earlier 2 and 1).

        An array may be a JSON list (formats 1 and 2) or a base64 array (format 3); the
        ``cov_beta`` that formats 1 and 2 stored is not read, since it is recomputed from
        the rest (:attr:`cov_beta`, equal to the stored one to rounding). Deseasonalised
        values are rebuilt from ``deseasonalised_start`` where it is stored, else read.
        """
        if not isinstance(d, dict) or d.get("format") not in _READS:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise DriftInputError(
                f"reference state format {got!r} is not {STATE_FORMAT}: refit the reference "
                "with this chronoguard version (fit_reference_state)"
            )
        try:
            cal = d.get("calibration") if d["format"] not in _RECALIBRATE else None
            innov = _decode(d["innovations"])
            phi = tuple(float(v) for v in d["phi"])
            start = d.get("deseasonalised_start")
            start_t = None if start is None else tuple(float(v) for v in start)
            deseasonalised = (
                _decode(d["deseasonalised"])
                if start_t is None
                else rebuild_deseasonalised(innov, start_t, np.asarray(phi), float(d["sigma"]))
            )
            return cls(
                n=int(d["n"]),
                freq=d["freq"],
                origin=d["origin"],
                transform=str(d["transform"]),
                log_floor=None if d["log_floor"] is None else float(d["log_floor"]),
                design=SeasonalDesign.from_dict(d["design"]),
                beta=_decode(d["beta"]),
                phi=phi,
                cov_phi=_decode_matrix(d["cov_phi"]),
                sigma=float(d["sigma"]),
                dof=float(d["dof"]),
                sd_u=float(d["sd_u"]),
                tail=tuple(float(v) for v in d["tail"]),
                innovations=innov,
                deseasonalised=deseasonalised,
                deseasonalised_start=start_t,
                notes=tuple(str(v) for v in d.get("notes", [])),
                calibration=None
                if cal is None
                else MonitoringCalibration(
                    shift=cal["shift"] if isinstance(cal["shift"], str) else float(cal["shift"]),
                    horizon=int(cal["horizon"]),
                    false_alarm_rate=float(cal["false_alarm_rate"]),
                    alternative=str(cal["alternative"]),
                    persistence=(int(cal["persistence"][0]), int(cal["persistence"][1])),
                    scale_ratio=None if cal["scale_ratio"] is None else float(cal["scale_ratio"]),
                    window=None if cal.get("window") is None else int(cal["window"]),
                    threshold=float(cal["threshold"]),
                    tail=tuple(float(v) for v in cal["tail"]),
                    n_sim=int(cal["n_sim"]),
                ),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DriftInputError(
                f"reference state is incomplete or corrupt ({exc!r}); refit it"
            ) from exc


def gls_covariance(design: SeasonalDesign, n: int, phi: FloatArray, sigma: float) -> FloatArray:
    """``sigma² (X̃'X̃)⁻¹`` of a reference of ``n`` points: the fit's ``cov_beta`` ``(k, k)``.

    The same arithmetic as :func:`~chronoguard.drift._prewhiten.fit_regression_ar` (the
    filtered Gram matrix of :class:`~chronoguard.drift._prewhiten.SharedDesign` on the rows
    from ``len(phi)`` on), so on one machine it gives the fitted value bit for bit.
    """
    x = design.matrix(np.arange(n))
    p = int(phi.shape[0])
    k = x.shape[1]
    # ``ols`` only serves the fit's first OLS step; the covariance needs the Gram matrix.
    shared = SharedDesign(x, p, ols=np.empty((k, 0)))
    _, gram = shared.gls(np.zeros((1, n)), phi.reshape(1, p))
    cov = np.linalg.inv(gram) * (np.array([sigma]) ** 2)[:, None, None]
    return np.asarray(cov[0], dtype=np.float64)


def rebuild_deseasonalised(
    innovations: tuple[float, ...], start: tuple[float, ...], phi: FloatArray, sigma: float
) -> tuple[float, ...]:
    """The deseasonalised values ``u`` at the times of the standardised ``innovations``.

    The inverse of pre-whitening, ``u_t = sigma z_t + phi_1 u_{t-1} + ... + phi_p u_{t-p}``,
    run from the ``p`` values ``start`` (oldest first) that precede the first innovation.
    With float32 innovations the values differ from the fit's by about ``1e-7`` of their
    sd (more on persistent filters, whose recursion accumulates the rounding: still far
    below the sampling noise of the tests that read them, ``method="ess"`` and
    ``"bootstrap"``).
    """
    z = np.asarray(innovations, dtype=np.float64) * float(sigma)
    p = int(phi.shape[0])
    if z.size == 0:
        return ()
    if p == 0:
        return tuple(float(v) for v in z)
    a = np.concatenate([[1.0], -np.asarray(phi, dtype=np.float64)])
    zi = signal.lfiltic([1.0], a, y=np.asarray(start, dtype=np.float64)[::-1])
    u, _ = signal.lfilter([1.0], a, z, zi=zi)
    return tuple(float(v) for v in u)


def _float32(values: FloatArray) -> tuple[float, ...]:
    """``values`` rounded to float32, as Python floats (exactly what :func:`_encode` keeps)."""
    return tuple(float(v) for v in np.asarray(values, dtype=np.float32))


def _encode(values: tuple[float, ...]) -> dict[str, Any]:
    """A base64 array: float32 when that holds ``values`` exactly (states fitted by this
    version, see :meth:`ReferenceState.from_fitted`), float64 otherwise (``beta``, and the
    innovations of a state read from format 2), so the round trip is always exact."""
    a = np.asarray(values, dtype=np.float64)
    single = a.astype(np.float32)
    exact = bool(np.array_equal(single.astype(np.float64), a))
    out: dict[str, Any] = _profile_io.encode_array(single if exact else a, None, "")
    return out


def _decode(v: Any) -> tuple[float, ...]:
    """A base64 array (format 3) or a JSON list (formats 1 and 2), as floats."""
    if isinstance(v, dict):
        arr = _profile_io.decode_array(v, None)
        if arr is None:
            raise ValueError("an array is missing")
        return tuple(float(x) for x in arr)
    return tuple(float(x) for x in v)


def _encode_matrix(rows: tuple[tuple[float, ...], ...], p: int) -> dict[str, Any]:
    """A ``(p, p)`` matrix as one base64 float64 array (exact)."""
    out: dict[str, Any] = _profile_io.encode_array(
        np.asarray(rows, dtype=np.float64).reshape(p, p), None, ""
    )
    return out


def _decode_matrix(v: Any) -> tuple[tuple[float, ...], ...]:
    """A base64 matrix (format 3) or nested JSON lists (formats 1 and 2)."""
    if isinstance(v, dict):
        arr = _profile_io.decode_array(v, None)
        if arr is None or arr.ndim != 2:
            raise ValueError("a matrix is missing or not 2-D")
        return tuple(tuple(float(x) for x in r) for r in arr)
    return tuple(tuple(float(x) for x in r) for r in v)
