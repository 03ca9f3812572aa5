"""The :class:`CalibratedDriftTest` estimator (see :mod:`chronoguard.drift.inference`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chronoguard.drift import _engine
from chronoguard.drift._inputs import as_values, place_current, reference_values, transform_values
from chronoguard.drift._sequential_batch import SequentialCheck, monitor_checks
from chronoguard.drift._settings import PARAMS, check_settings
from chronoguard.drift.alerting import severity_from_pvalue
from chronoguard.drift.reference_state import MonitoringCalibration, ReferenceState
from chronoguard.drift.seasonal import SeasonalDesign, as_periods, default_seasons
from chronoguard.drift.types import DriftInputError, DriftKind, DriftResult, InsufficientDataError
from chronoguard.errors import NotFittedError


class CalibratedDriftTest:
    """Drift checks for one time series that stay calibrated under dependence and seasons.

    ``__init__`` only stores the settings; :meth:`fit` learns the reference (seasonal profile,
    bias-corrected AR pre-whitening filter, innovation scale) and calibrates the sequential
    threshold; :meth:`test` compares a window, :meth:`monitor` runs the scheduled check.

    Parameters
    ----------
    season_length
        ``"auto"`` (from the timestamps' frequency: week and year for daily data, 12 for
        monthly...), ``None``, one period or a tuple of periods, in time steps.
    transform
        ``"auto"`` (log when every reference value is > 0: changes of positive quantities
        are relative, and multiplicative seasons become additive), ``"log"`` or ``"none"``.
    max_order
        Largest AR order considered (BIC chooses); default ``min(10, n // 10)``.
    fourier_terms
        Harmonics for long seasons such as the year in daily data.
    alpha
        Level of the window check.
    alternative
        ``"two-sided"``, ``"greater"`` (only increases matter, e.g. errors) or ``"less"``.
        One-sided checks watch the level in that direction (and, in the window check, the
        spread going up); they skip the shape and pattern tests, which have no direction.
    method
        Window check: ``"auto"``/``"prewhiten"`` (default), ``"ess"``, ``"bootstrap"``.
    shift
        Level shift the sequential check is tuned to, in marginal sds of the deseasonalised
        series (smaller shifts are still found, later). ``"auto"``: between 1 and 2 sds,
        see :func:`chronoguard.drift._engine.design_shift`.
    horizon
        Number of sequential checks the false-alarm budget covers (90 daily checks).
    false_alarm_rate
        Probability that a series without change raises at least one alarm within
        ``horizon`` sequential checks.
    persistence
        ``(k, n)``: alarm when the statistic exceeded its threshold at ``k`` of the last ``n``
        checks; the threshold is calibrated with the rule in place.
    window
        Sequential check: ``None`` uses every value since the reference (a classical
        CUSUM); a number ``W`` makes each check look at the last ``W`` periods only, as a
        check "on the last 12 months" does. The threshold is calibrated for that scheme.
    scale_ratio
        Innovation sd ratio the scale CUSUM is tuned to (``None``: level only); two-sided
        sequential checks only.
    n_boot, n_sim, n_sim_window
        Bootstrap references for the bias correction, simulated paths for the sequential
        threshold and for the window null. The bootstrap's spread of the AR coefficients
        sets how uncertain the null takes the filter to be, so its Monte Carlo noise moves
        thresholds: on the seat-belt reference (monthly, eight years) the sequential
        threshold spans 7.2–8.9 over eight seeds with 100 references and 7.4–8.2 with 300.
    random_state
        Seed: the same data and settings always give the same thresholds and p-values.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> e = rng.normal(size=500)
    >>> y = np.zeros(500)
    >>> for t in range(1, 500):
    ...     y[t] = 0.8 * y[t - 1] + e[t]
    >>> test = CalibratedDriftTest(season_length=None).fit(y[:400])
    >>> test.monitor(y[400:]).drift
    False
    >>> shifted = y[400:] + np.where(np.arange(100) >= 30, 3.0, 0.0)
    >>> r = test.monitor(shifted)
    >>> r.drift, r.details["first_alarm_index"] >= 30
    (True, True)
    """

    def __init__(
        self,
        *,
        season_length: float | tuple[float, ...] | str | None = "auto",
        transform: str = "auto",
        max_order: int | None = None,
        fourier_terms: int = 3,
        alpha: float = 0.05,
        alternative: str = "two-sided",
        method: str = "auto",
        shift: float | str = "auto",
        horizon: int = 90,
        false_alarm_rate: float = 0.05,
        persistence: tuple[int, int] = (1, 1),
        window: int | None = None,
        scale_ratio: float | None = math.sqrt(2.0),
        n_boot: int = 300,
        n_sim: int = 2000,
        n_sim_window: int = 1000,
        random_state: int = 0,
    ) -> None:
        self.season_length = season_length
        self.transform = transform
        self.max_order = max_order
        self.fourier_terms = fourier_terms
        self.alpha = alpha
        self.alternative = alternative
        self.method = method
        self.shift = shift
        self.horizon = horizon
        self.false_alarm_rate = false_alarm_rate
        self.persistence = persistence
        self.window = window
        self.scale_ratio = scale_ratio
        self.n_boot = n_boot
        self.n_sim = n_sim
        self.n_sim_window = n_sim_window
        self.random_state = random_state

    # ------------------------------------------------------------------ presets
    @classmethod
    def daily(cls, **overrides: Any) -> CalibratedDriftTest:
        """Daily data checked every day: weekly + yearly seasons, 90 checks, 5 % budget."""
        return cls(**{"horizon": 90, "false_alarm_rate": 0.05, **overrides})

    @classmethod
    def monthly(cls, **overrides: Any) -> CalibratedDriftTest:
        """Monthly data checked every month (the demo: 8 years of reference, monthly checks).

        Twelve monthly positions, each check on the last 12 months, a budget of 10 % over 96
        checks (one false alarm per series in eighty years of monthly checks, on average),
        and a design shift of 2 sds: with twelve checks a year what matters is a clear break
        found within a quarter, not a small drift found after a year.
        """
        return cls(
            **{
                "season_length": 12,
                "horizon": 96,
                "window": 12,
                "false_alarm_rate": 0.10,
                "shift": 2.0,
                **overrides,
            }
        )

    @classmethod
    def annual(cls, **overrides: Any) -> CalibratedDriftTest:
        """Yearly data (no season), a budget of 10 % over 20 yearly checks, 2 sd design shift."""
        return cls(
            **{
                "season_length": None,
                "horizon": 20,
                "false_alarm_rate": 0.10,
                "shift": 2.0,
                **overrides,
            }
        )

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments, unchanged."""
        return {k: getattr(self, k) for k in PARAMS}

    def __repr__(self) -> str:
        defaults = CalibratedDriftTest().get_params()
        diff = {k: v for k, v in self.get_params().items() if v != defaults[k]}
        return f"CalibratedDriftTest({', '.join(f'{k}={v!r}' for k, v in diff.items())})"

    def resolved_max_order(self, n: int) -> int:
        """The largest AR order tried for a reference of ``n`` points."""
        return int(self.max_order) if self.max_order is not None else int(min(10, max(1, n // 10)))

    def monitoring_settings(self) -> dict[str, Any]:
        """The settings the sequential threshold is calibrated for."""
        return {
            "shift": self.shift if isinstance(self.shift, str) else float(self.shift),
            "horizon": int(self.horizon),
            "false_alarm_rate": float(self.false_alarm_rate),
            "alternative": self.alternative,
            "persistence": (int(self.persistence[0]), int(self.persistence[1])),
            "scale_ratio": None if self.scale_ratio is None else float(self.scale_ratio),
            "window": None if self.window is None else int(self.window),
        }

    def _check_params(self) -> None:
        check_settings(self.get_params())

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        reference: Any,
        *,
        ds: Any = None,
        freq: str | None = None,
        feature: str = "y",
        unique_id: str | None = None,
    ) -> CalibratedDriftTest:
        """Learn the reference and calibrate the sequential threshold; returns ``self``."""
        self._check_params()
        values, freq, origin = reference_values(
            reference, ds, freq, feature=feature, unique_id=unique_id
        )
        n = values.size
        if n and float(np.ptp(values)) == 0.0:
            raise DriftInputError(
                f"the reference of {feature!r} is constant ({values[0]:g}): there is no variation "
                "to calibrate a drift test on; watch it with a data-quality rule instead "
                "(any other value is a change)"
            )
        transform = self.transform
        if transform == "auto":
            transform = "log" if np.all(values > 0) else "none"
        floor: float | None = None
        if transform == "log":
            if np.any(values <= 0):
                raise DriftInputError(
                    "transform='log' needs a strictly positive reference; use transform='none'"
                )
            floor = float(values.min()) / 2.0
            values = np.log(values)
        if isinstance(self.season_length, str):
            if self.season_length != "auto":
                raise DriftInputError(
                    f"season_length={self.season_length!r}: use 'auto', None or a number"
                )
            periods = default_seasons(freq, n)
        else:
            periods = as_periods(self.season_length)
        design, notes = SeasonalDesign.for_reference(periods, n, fourier_terms=self.fourier_terms)
        max_order = self.resolved_max_order(n)
        need = design.n_columns + 2 * max_order + 10
        if n < need:
            raise DriftInputError(
                f"the reference has {n} points; with {design.n_columns} mean/seasonal terms and AR "
                f"orders up to {max_order} it needs at least {need} (use a longer reference, "
                "fewer seasons or a smaller max_order)"
            )
        rng = np.random.default_rng(self.random_state)
        try:
            with np.errstate(all="ignore"):
                fitted = _engine.fit(
                    values[None], design, max_order=max_order, n_boot=self.n_boot, rng=rng
                )
        except np.linalg.LinAlgError:
            fitted = None
        if fitted is None or not float(fitted.sigma[0]) > 1e-9 * (
            1.0 + float(np.abs(values).max())
        ):
            raise DriftInputError(
                f"the reference of {feature!r} is explained exactly by its mean and seasonal "
                "profile (no noise left): a drift test has nothing to calibrate on; use fewer "
                "seasons or a data-quality rule"
            )
        heavy = _engine.heavy_tail_notes(fitted)[0]
        if heavy is not None:
            notes = [*notes, heavy]
        resid = _engine.deseasonalise(fitted, values[None], np.arange(n, dtype=np.float64))[0]
        state = ReferenceState.from_fitted(
            fitted,
            resid=resid,
            freq=freq,
            origin=None if origin is None else origin.isoformat(),
            transform=transform,
            log_floor=floor,
            notes=tuple(notes),
        )
        self.state_ = state.with_calibration(self._calibrate(fitted, rng))
        return self

    def _calibrate(self, fitted: _engine.Fitted, rng: np.random.Generator) -> MonitoringCalibration:
        settings = self.monitoring_settings()
        h, tail = _engine.calibrate(fitted, n_sim=self.n_sim, rng=rng, **settings)
        return MonitoringCalibration(
            threshold=float(h[0]),
            tail=tuple(float(v) for v in tail[0]),
            n_sim=self.n_sim,
            **settings,
        )

    @classmethod
    def from_state(cls, state: ReferenceState, **overrides: Any) -> CalibratedDriftTest:
        """A fitted test from a stored :class:`ReferenceState` (settings from its calibration)."""
        kw: dict[str, Any] = {}
        if state.calibration is not None:
            c = state.calibration
            kw = {
                "shift": c.shift,
                "horizon": c.horizon,
                "false_alarm_rate": c.false_alarm_rate,
                "alternative": c.alternative,
                "persistence": tuple(c.persistence),
                "scale_ratio": c.scale_ratio,
                "window": c.window,
                "n_sim": c.n_sim,
            }
        test = cls(**{**kw, **overrides})
        test.state_ = state
        return test

    def _state(self) -> ReferenceState:
        state: ReferenceState | None = getattr(self, "state_", None)
        if state is None:
            raise NotFittedError("CalibratedDriftTest is not fitted: call fit(reference) first")
        return state

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe settings and fitted state (store it with the model version)."""
        params = self.get_params()
        params["persistence"] = list(params["persistence"])
        if isinstance(params["season_length"], tuple):
            params["season_length"] = list(params["season_length"])
        return {"params": params, "state": self._state().to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CalibratedDriftTest:
        params = dict(d["params"])
        params["persistence"] = tuple(params["persistence"])
        if isinstance(params.get("season_length"), list):
            params["season_length"] = tuple(params["season_length"])
        test = cls(**params)
        test.state_ = ReferenceState.from_dict(d["state"])
        return test

    # ------------------------------------------------------------------ checks
    def _prepare(
        self, current: Any, ds: Any, start: int | None, feature: str, unique_id: str | None
    ) -> tuple[
        ReferenceState, _engine.Fitted, np.ndarray, np.ndarray, np.ndarray, bool, list[str], Any
    ]:
        state = self._state()
        values, idx = as_values(
            current, ds, what="current window", feature=feature, unique_id=unique_id
        )
        grid_vals, pos, contiguous, notes = place_current(
            values, idx, n_ref=state.n, freq=state.freq, origin=state.origin, start=start
        )
        y = transform_values(grid_vals, state.transform, state.log_floor)
        f = state.fitted()
        u = _engine.deseasonalise(f, y[None], pos)
        z = _engine.innovations(f, u, contiguous)[0]
        if not np.isfinite(z).any():
            raise InsufficientDataError(
                f"the current window yields no innovation: it needs more than {f.p} consecutive "
                "values when it does not directly follow the reference"
            )
        # What the reference's fit noted (e.g. a season learnt from one cycle) stays visible
        # on every check made against it.
        return state, f, u[0], z, pos, contiguous, [*state.notes, *notes], idx

    def test(
        self,
        current: Any,
        *,
        ds: Any = None,
        start: int | None = None,
        feature: str = "y",
        unique_id: str | None = None,
        kind: DriftKind = DriftKind.DATA,
        random_state: int | None = None,
    ) -> list[DriftResult]:
        """One check of the whole window against the reference at level ``alpha``.

        Returns one :class:`DriftResult` decided on its p-value; ``details["components"]``
        holds the p-value of each component test.
        """
        self._check_params()
        state, f, u, z, pos, contiguous, notes, _ = self._prepare(
            current, ds, start, feature, unique_id
        )
        rng = np.random.default_rng(self.random_state if random_state is None else random_state)
        method = "prewhiten" if self.method == "auto" else self.method
        details: dict[str, Any] = {
            "transform": state.transform,
            "ar_order": len(state.phi),
            "notes": notes,
        }
        if method == "prewhiten":
            pv = _engine.window_test(
                f,
                z[None],
                pos,
                contiguous=contiguous,
                alternative=self.alternative,
                n_sim=self.n_sim_window,
                rng=rng,
            )
            comb, names = _engine.combine(pv)
            p = float(comb[0])
            comps = {k: float(pv[k][0]) for k in names}
            details["weights"] = _engine.component_weights(names)
            details.update(
                components=comps,
                level_z=float(pv["level_z"][0]),
                scale_ratio=float(pv["scale_ratio"][0]),
            )
            name = "prewhitened"
        else:
            u_ref = np.asarray(state.deseasonalised)
            frac = _engine.effective_fraction(np.asarray(state.phi), state.sigma, state.sd_u)
            if method == "ess":
                r = _engine.ess_test(u_ref, u, frac, self.alternative)
                comps = (
                    {"mean": r["mean"], "ks": r["ks"]}
                    if self.alternative == "two-sided"
                    else {"mean": r["mean"]}
                )
                name = "ess"
            else:
                block = float(np.clip(2.0 / frac, 1.0, max(1.0, u_ref.size / 4)))
                r = _engine.bootstrap_test(u_ref, u, block, max(199, self.n_sim_window), rng)
                comps = {"ks": r["ks"]}
                name = "block_bootstrap_ks"
            p = min(1.0, len(comps) * min(comps.values()))
            details.update(components=comps, **{k: v for k, v in r.items() if k not in comps})
        weights = details.get("weights") or {k: 1.0 / len(comps) for k in comps}
        details.setdefault("weights", weights)
        stat = min(v / weights[k] for k, v in details["components"].items())
        details["statistic_is"] = (
            "smallest component p-value divided by its weight (weighted Bonferroni; p_value caps it at 1)"
        )
        return [
            DriftResult(
                method=name,
                statistic=float(stat),
                p_value=p,
                threshold=float(self.alpha),
                drift=bool(p < self.alpha),
                threshold_on="p_value",
                feature=feature,
                unique_id=unique_id,
                kind=kind,
                severity=severity_from_pvalue(p, self.alpha),
                details=details,
            )
        ]

    def _calibration(self, state: ReferenceState) -> MonitoringCalibration:
        cal = state.calibration
        if cal is not None and cal.settings() == self.monitoring_settings():
            return cal
        cached: tuple[dict[str, Any], MonitoringCalibration] | None = getattr(
            self, "_recalibrated", None
        )
        if cached is not None and cached[0] == self.monitoring_settings():
            return cached[1]
        new = self._calibrate(state.fitted(), np.random.default_rng(self.random_state))
        self._recalibrated = (self.monitoring_settings(), new)
        return new

    def monitor(
        self,
        current: Any,
        *,
        ds: Any = None,
        start: int | None = None,
        feature: str = "y",
        unique_id: str | None = None,
        kind: DriftKind = DriftKind.DATA,
    ) -> DriftResult:
        """The sequential check at the last value of ``current`` (pass all data since the reference).

        ``statistic`` is the CUSUM statistic now, ``p_value`` the probability that a series
        without change reaches it within the calibrated horizon, ``drift`` whether the
        alarm is on now. ``details["first_alarm_index"]`` is where the statistic first crossed
        the threshold in ``current`` (None if never).
        """
        self._check_params()
        state = self._state()
        check = SequentialCheck(state, current, ds, start, feature, unique_id, kind)
        result = monitor_checks([check], [self._calibration(state)])[0]
        assert result is not None  # monitor_checks raises on a window without innovations
        return result
