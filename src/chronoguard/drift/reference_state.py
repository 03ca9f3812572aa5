"""The fitted reference of a dependence-aware drift check, small and JSON-safe.

A :class:`ReferenceState` is what a model version stores at training time for each series ×
feature it monitors: the seasonal profile, the pre-whitening filter, the innovation scale,
a capped sample of reference innovations and the calibrated threshold of the sequential
check. A monitoring run rebuilds the check from it without re-reading training data. A
daily series with one reference year weighs about 15 kB as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from chronoguard.drift._engine import Fitted
from chronoguard.drift.seasonal import SeasonalDesign
from chronoguard.drift.types import DriftInputError

FloatArray = npt.NDArray[np.float64]

#: Bumped when the stored layout or the meaning of a stored value changes; ``from_dict``
#: refuses other versions, except those listed in ``_RECALIBRATE``.
STATE_FORMAT = 2
#: Earlier formats whose fit is still valid but whose calibrated threshold is not: format 1
#: thresholds were simulated for a statistic on raw innovations, before they were winsorised
#: (:data:`chronoguard.drift._sequential.WINSOR`). They load without their calibration,
#: which is simulated again, deterministically, on first use.
_RECALIBRATE = (1,)
#: At most this many reference innovations (and deseasonalised values) are stored.
MAX_STORED = 2000


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
    cov_beta: tuple[tuple[float, ...], ...]
    phi: tuple[float, ...]
    cov_phi: tuple[tuple[float, ...], ...]
    sigma: float
    dof: float
    sd_u: float
    tail: tuple[float, ...]
    innovations: tuple[float, ...]  # standardised, time order, at most MAX_STORED
    deseasonalised: tuple[float, ...]  # u = y - x'beta, time order, at most MAX_STORED
    calibration: MonitoringCalibration | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ conversion
    def fitted(self) -> Fitted:
        """The engine's one-series :class:`~chronoguard.drift._engine.Fitted`."""
        k = self.design.n_columns
        p = len(self.phi)
        return Fitted(
            self.design,
            self.n,
            np.asarray(self.beta, dtype=np.float64)[None],
            np.asarray(self.cov_beta, dtype=np.float64).reshape(1, k, k),
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
        """Row 0 of ``f`` with the reference's deseasonalised values ``resid``."""
        innov = f.pool[0]
        innov = innov[np.isfinite(innov)][-MAX_STORED:]
        return cls(
            n=f.n,
            freq=freq,
            origin=origin,
            transform=transform,
            log_floor=log_floor,
            design=f.design,
            beta=tuple(float(v) for v in f.beta[0]),
            cov_beta=tuple(tuple(float(v) for v in r) for r in f.cov_beta[0]),
            phi=tuple(float(v) for v in f.phi[0]),
            cov_phi=tuple(tuple(float(v) for v in r) for r in f.cov_phi[0]),
            sigma=float(f.sigma[0]),
            dof=float(f.dof[0]),
            sd_u=float(f.sd_u[0]),
            tail=tuple(float(v) for v in f.tail[0]),
            innovations=tuple(float(v) for v in innov),
            deseasonalised=tuple(
                float(v) for v in np.asarray(resid, dtype=np.float64)[-MAX_STORED:]
            ),
            notes=tuple(notes),
        )

    def with_calibration(self, cal: MonitoringCalibration) -> ReferenceState:
        return replace(self, calibration=cal)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (plain lists, floats, strings; NaN never occurs)."""
        d: dict[str, Any] = {
            "format": STATE_FORMAT,
            "n": self.n,
            "freq": self.freq,
            "origin": self.origin,
            "transform": self.transform,
            "log_floor": self.log_floor,
            "design": self.design.to_dict(),
            "beta": list(self.beta),
            "cov_beta": [list(r) for r in self.cov_beta],
            "phi": list(self.phi),
            "cov_phi": [list(r) for r in self.cov_phi],
            "sigma": self.sigma,
            "dof": self.dof,
            "sd_u": self.sd_u,
            "tail": list(self.tail),
            "innovations": list(self.innovations),
            "deseasonalised": list(self.deseasonalised),
            "notes": list(self.notes),
            "calibration": None,
        }
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
        """Rebuild a state stored by :meth:`to_dict`."""
        if not isinstance(d, dict) or d.get("format") not in (STATE_FORMAT, *_RECALIBRATE):
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise DriftInputError(
                f"reference state format {got!r} is not {STATE_FORMAT}: refit the reference "
                "with this chronoguard version (fit_reference_state)"
            )
        try:
            cal = d.get("calibration") if d["format"] == STATE_FORMAT else None
            return cls(
                n=int(d["n"]),
                freq=d["freq"],
                origin=d["origin"],
                transform=str(d["transform"]),
                log_floor=None if d["log_floor"] is None else float(d["log_floor"]),
                design=SeasonalDesign.from_dict(d["design"]),
                beta=tuple(float(v) for v in d["beta"]),
                cov_beta=tuple(tuple(float(v) for v in r) for r in d["cov_beta"]),
                phi=tuple(float(v) for v in d["phi"]),
                cov_phi=tuple(tuple(float(v) for v in r) for r in d["cov_phi"]),
                sigma=float(d["sigma"]),
                dof=float(d["dof"]),
                sd_u=float(d["sd_u"]),
                tail=tuple(float(v) for v in d["tail"]),
                innovations=tuple(float(v) for v in d["innovations"]),
                deseasonalised=tuple(float(v) for v in d["deseasonalised"]),
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
