"""The reference a model version carries: typed, versioned, JSON-safe.

Training a version computes its reference (what later checks compare against;
:func:`chronoguard.monitoring.build_reference`) and the registry logs it with the version
as the artifact ``reference_profile.json``. :meth:`ModelRegistry.load
<chronoguard.registry.ModelRegistry.load>` parses it once into a :class:`VersionReference`,
so every reader gets attributes, never string keys.

The stored layout is format :data:`PROFILE_FORMAT`. Format 1 grew keys over time; a format-1
profile written before a key existed loads with that key's "not recorded" value (no
prediction reference, no error counts, no iid profile), exactly as the checks treated it
before. ``to_dict`` writes what ``from_dict`` reads, so ``from_dict(to_dict())`` gives the
same JSON back, NaN included.

>>> ref = VersionReference(
...     season_length=12, freq="MS", features=("y",),
...     series={"a": SeriesReference(
...         n_train=60, train_end=pd.Timestamp("1983-09-01"), mase_scale=148.1,
...         backtest=BacktestReference(horizons=(1, 2), mae=(87.0, 103.0),
...                                    mase=(0.59, 0.70), n=(3, 3)),
...         one_step=ErrorReference(n=36, mean=-23.2, sd=126.2, mae=97.2), drift={})})
>>> VersionReference.from_dict(ref.to_dict()).series["a"].train_end
Timestamp('1983-09-01 00:00:00')
>>> ref.for_series(["b"]).series
{}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import pandas as pd

from chronoguard.drift import DriftInputError, ReferenceProfile, ReferenceState
from chronoguard.errors import ReferenceFormatError

#: The layout of the stored reference. Bumped when a key is renamed, removed or changes
#: meaning; :meth:`VersionReference.from_dict` reads this format and refuses others.
PROFILE_FORMAT = 1
#: Formats this chronoguard reads.
READABLE_FORMATS = (1,)


@dataclass(frozen=True)
class ErrorReference:
    """One-step-ahead errors of the version over the last periods of its training data,
    parameters frozen: the baseline of the step-1 performance and bias checks.

    ``n`` is how many errors the spread was estimated from (0: not recorded, in profiles
    older than the count; the checks then treat the spread as known). ``sd`` is NaN when
    fewer than two errors were available.
    """

    n: int
    mean: float
    sd: float
    mae: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "mae": self.mae}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ErrorReference:
        return cls(
            n=int(d.get("n", 0)), mean=float(d["mean"]), sd=float(d["sd"]), mae=float(d["mae"])
        )


@dataclass(frozen=True)
class BacktestReference:
    """The version's rolling-origin backtest, per horizon: mean absolute error, MASE and the
    count of errors each is the mean of (``n`` is ``None`` in profiles older than the count).
    """

    horizons: tuple[int, ...]
    mae: tuple[float, ...]
    mase: tuple[float, ...]
    n: tuple[int, ...] | None = None

    def _at(self, h: int) -> int:
        # A step beyond the backtest's horizons reads the last one.
        return self.horizons.index(h) if h in self.horizons else -1

    def mae_at(self, h: int) -> float:
        """MAE at step ``h`` (the last step if beyond)."""
        return self.mae[self._at(h)]

    def mase_at(self, h: int) -> float:
        """MASE at step ``h`` (the last step if beyond)."""
        return self.mase[self._at(h)]

    def n_at(self, h: int) -> int:
        """Count of backtest errors at step ``h`` (the last step if beyond); 0 when the
        profile does not record counts."""
        return 0 if self.n is None else self.n[self._at(h)]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "horizons": list(self.horizons),
            "mae": list(self.mae),
            "mase": list(self.mase),
        }
        if self.n is not None:
            d["n"] = list(self.n)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BacktestReference:
        n = d.get("n")
        return cls(
            horizons=tuple(int(h) for h in d["horizons"]),
            mae=tuple(float(v) for v in d["mae"]),
            mase=tuple(float(v) for v in d["mase"]),
            n=None if n is None else tuple(int(v) for v in n),
        )


@dataclass(frozen=True)
class SeriesReference:
    """The reference of one series of a version.

    ``drift`` holds the drift engine's fitted state for the target and each exogenous
    feature it could model; the others are named in ``drift_skipped`` with the reason (a
    constant feature is left to the data-quality checks). ``prediction`` holds the state of
    the model's one-step forecasts over the training window (``yhat_h1``), after
    ``prediction_burn_in`` leading forecasts; empty, with ``prediction_burn_in`` ``None``,
    in profiles older than the prediction-drift check.
    """

    n_train: int
    train_end: pd.Timestamp
    mase_scale: float
    backtest: BacktestReference
    one_step: ErrorReference
    drift: Mapping[str, ReferenceState]
    drift_skipped: Mapping[str, str] = field(default_factory=dict)
    prediction: Mapping[str, ReferenceState] = field(default_factory=dict)
    prediction_skipped: Mapping[str, str] = field(default_factory=dict)
    prediction_burn_in: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "n_train": self.n_train,
            "train_end": str(self.train_end),
            "mase_scale": self.mase_scale,
            "backtest": self.backtest.to_dict(),
            "one_step": self.one_step.to_dict(),
            "drift": {f: s.to_dict() for f, s in self.drift.items()},
            "drift_skipped": dict(self.drift_skipped),
            "prediction": {f: s.to_dict() for f, s in self.prediction.items()},
            "prediction_skipped": dict(self.prediction_skipped),
        }
        if self.prediction_burn_in is not None:
            d["prediction_burn_in"] = self.prediction_burn_in
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SeriesReference:
        burn = d.get("prediction_burn_in")
        return cls(
            n_train=int(d["n_train"]),
            train_end=pd.Timestamp(d["train_end"]),
            mase_scale=float(d["mase_scale"]),
            backtest=BacktestReference.from_dict(d["backtest"]),
            one_step=ErrorReference.from_dict(d["one_step"]),
            drift=_states(d["drift"], "drift"),
            drift_skipped={str(f): str(why) for f, why in d.get("drift_skipped", {}).items()},
            prediction=_states(d.get("prediction") or {}, "prediction"),
            prediction_skipped={
                str(f): str(why) for f, why in d.get("prediction_skipped", {}).items()
            },
            prediction_burn_in=None if burn is None else int(burn),
        )


@dataclass(frozen=True)
class VersionReference:
    """Everything the checks of a version compare against, per series, computed once at
    training time (see :func:`chronoguard.monitoring.build_reference`).

    ``features`` are the drift-checked columns (the target first, then the exogenous
    features), ``series`` the per-series references in the order of the training data, and
    ``iid_profile`` the sorted samples and bins of the training values for the classic iid
    tests (``None`` in profiles older than those tests, which are then skipped).
    """

    FORMAT: ClassVar[int] = PROFILE_FORMAT

    season_length: int
    freq: str
    features: tuple[str, ...]
    series: Mapping[str, SeriesReference]
    iid_profile: ReferenceProfile | None = None

    def for_series(self, ids: Iterable[str]) -> VersionReference:
        """The same reference cut to the series ``ids`` (in this reference's order; ids it
        does not hold are left out). The iid profile is shared, not cut."""
        keep = {str(u) for u in ids}
        return replace(self, series={u: s for u, s in self.series.items() if u in keep})

    def to_dict(self) -> dict[str, Any]:
        """The stored layout (format :data:`PROFILE_FORMAT`): plain JSON types; NaN where a
        statistic is undefined (``json`` writes and reads it)."""
        d: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "season_length": self.season_length,
            "freq": self.freq,
            "features": list(self.features),
            "series": {u: s.to_dict() for u, s in self.series.items()},
        }
        if self.iid_profile is not None:
            d["iid_profile"] = self.iid_profile.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VersionReference:
        """Read a stored reference (any format in :data:`READABLE_FORMATS`).

        Raises :class:`~chronoguard.errors.ReferenceFormatError` for another format, naming
        it and the fix, and for a reference that is incomplete or corrupt.
        """
        got = d.get("format") if isinstance(d, Mapping) else type(d).__name__
        if type(got) is not int or got not in READABLE_FORMATS:
            fix = (
                "upgrade chronoguard to a version that reads it, or re-train the version"
                if isinstance(got, int) and got > PROFILE_FORMAT
                else "re-train the version with this chronoguard (`chronoguard retrain`)"
            )
            raise ReferenceFormatError(
                f"reference profile format {got!r} is not one this chronoguard reads "
                f"({', '.join(map(str, READABLE_FORMATS))}): {fix}"
            )
        try:
            iid = d.get("iid_profile")
            return cls(
                season_length=int(d["season_length"]),
                freq=str(d["freq"]),
                features=tuple(str(f) for f in d["features"]),
                series={str(u): _series(u, s) for u, s in d["series"].items()},
                iid_profile=None if iid is None else ReferenceProfile.from_dict(iid),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ReferenceFormatError(
                f"reference profile (format {got}) is incomplete or corrupt ({exc!r}): "
                "re-train the version"
            ) from exc
        except DriftInputError as exc:
            raise ReferenceFormatError(
                f"reference profile (format {got}): {exc}; re-train the version"
            ) from exc


def _series(uid: str, d: Mapping[str, Any]) -> SeriesReference:
    try:
        return SeriesReference.from_dict(d)
    except DriftInputError as exc:
        raise DriftInputError(f"series {uid!r}: {exc}") from exc


def _states(d: Mapping[str, Any], what: str) -> dict[str, ReferenceState]:
    out: dict[str, ReferenceState] = {}
    for feature, state in d.items():
        try:
            out[str(feature)] = ReferenceState.from_dict(state)
        except DriftInputError as exc:
            raise DriftInputError(f"{what} state of {feature!r}: {exc}") from exc
    return out


__all__ = [
    "PROFILE_FORMAT",
    "READABLE_FORMATS",
    "BacktestReference",
    "ErrorReference",
    "SeriesReference",
    "VersionReference",
]
