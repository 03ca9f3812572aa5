"""A monitoring run: data quality + drift + performance over a recent window.

Each check produces a typed :class:`~chronoguard.drift.DriftResult` with its statistic,
p-value where defined, threshold and decision. The run compares against the reference
profile of the version that served the forecasts; it never re-reads training data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from chronoguard.config import MonitoringConfig
from chronoguard.data import find_problems
from chronoguard.drift import (
    DriftKind,
    DriftResult,
    InsufficientDataError,
    ReferenceProfile,
    Severity,
    drift_check,
    ks_test,
    psi_test,
    wasserstein_test,
)
from chronoguard.monitoring.levels import CheckLevels, check_levels
from chronoguard.store import MonitoringResult


@dataclass(frozen=True)
class MonitoringReport:
    """All results of one run at check time ``now`` for model ``version``."""

    now: pd.Timestamp
    version: str
    results: list[DriftResult] = field(default_factory=list)

    @property
    def fired_kinds(self) -> frozenset[str]:
        return frozenset(str(r.kind) for r in self.fired())

    def fired(self) -> list[DriftResult]:
        """Positive results at the series' own level: what the retraining rule counts.

        Advisory results (the iid tests) never count. The retraining rule's k of n and the
        decision engine's pricing stand between these and a retrain; an alert, which a
        person reads, also needs the fleet-wide adjustment (:meth:`alerting`).
        """
        return [r for r in self.results if r.drift and not is_advisory(r)]

    def alerting(self) -> list[DriftResult]:
        """Results that raise an alert: positive after the fleet-wide Benjamini–Hochberg
        adjustment of :func:`fleet_alerts`."""
        return [r for r in self.results if r.alerts]

    def records(self) -> list[MonitoringResult]:
        """The results as store records."""
        return [
            MonitoringResult(
                kind=str(r.kind),
                method=r.method,
                statistic=float(r.statistic),
                threshold=float(r.threshold),
                decision=bool(r.drift),
                severity=str(r.severity),
                version=self.version,
                unique_id=r.unique_id,
                feature=r.feature,
                p_value=None if r.p_value is None else float(r.p_value),
                details={
                    "threshold_on": r.threshold_on,
                    **_json_safe(r.details),
                    **({"advisory": True} if r.advisory else {}),
                    **({} if r.q_value is None else {"q_value": float(r.q_value)}),
                    **({} if r.alert is None else {"alert": bool(r.alert)}),
                    **({"notes": "; ".join(r.notes)} if r.notes else {}),
                },
            )
            for r in self.results
        ]


def is_advisory(r: DriftResult) -> bool:
    """Reported for comparison only: never raises an alert or triggers a retrain."""
    return r.advisory


def _json_safe(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            out[k] = v.item()
        elif isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


def _severity(p: float, alpha: float) -> Severity:
    if p < alpha / 100:
        return Severity.CRITICAL
    if p < alpha:
        return Severity.WARNING
    return Severity.INFO


def quality_checks(
    window: pd.DataFrame, *, now: pd.Timestamp, freq: str, features: list[str]
) -> list[DriftResult]:
    """Data-quality incidents, reported as their own kind (never as drift).

    ``contract``: every problem the data contract finds in the window (NaN, duplicates,
    gaps, off-grid timestamps); ``staleness``: periods between a series' last observation
    and ``now`` (a stale feed).

    The contract runs once over the whole window: a clean window (the usual case) is clean
    for every series, so only a window with problems is checked series by series, to name
    each series' own.
    """
    out: list[DriftResult] = []
    if window.empty:
        return out
    exog = [f for f in features if f != "y"]
    offset = pd.tseries.frequencies.to_offset(freq)
    ids = pd.unique(window["unique_id"])
    whole, _ = find_problems(window.reset_index(drop=True), freq=freq, exog=exog)
    problems_of: dict[str, list[str]] = {}
    if whole:
        for uid, g in window.groupby("unique_id", sort=False):
            problems_of[str(uid)] = find_problems(g.reset_index(drop=True), freq=freq, exog=exog)[0]
    last = window.groupby("unique_id", sort=False)["ds"].max()
    # Periods behind ``now``: one grid per distinct last timestamp, not per series.
    behind_of = {
        t: (len(pd.date_range(t, now, freq=offset)) - 1 if t < now else 0)
        for t in pd.unique(last.to_numpy())
    }
    for uid in ids:
        u = str(uid)
        problems = problems_of.get(u, [])
        out.append(
            DriftResult(
                "contract",
                float(len(problems)),
                None,
                0.0,
                bool(problems),
                unique_id=u,
                kind=DriftKind.QUALITY,
                severity=Severity.WARNING if problems else Severity.INFO,
                details={"problems": "; ".join(problems)} if problems else {},
            )
        )
        t = last[uid]
        behind = behind_of[t.to_datetime64()]
        out.append(
            DriftResult(
                "staleness",
                float(behind),
                None,
                0.0,
                behind > 0,
                unique_id=u,
                kind=DriftKind.QUALITY,
                severity=Severity.CRITICAL
                if behind > 1
                else (Severity.WARNING if behind else Severity.INFO),
                details={"last_observation": str(pd.Timestamp(t))},
            )
        )
    return out


def performance_checks(
    reference: dict[str, Any],
    served: pd.DataFrame,
    actuals: pd.DataFrame,
    *,
    monitoring: MonitoringConfig,
    freq: str | None = None,
) -> list[DriftResult]:
    """Performance decay, bias (concept drift) and interval coverage on arrived actuals.

    Errors of the forecasts served for the window at step ``decay_horizon`` are compared
    with the version's own reference: one-step errors of a well-specified model are close
    to independent, so under no change ``Σ(e/σ)² ~ χ²(n)`` (one-sided: only more error
    hurts) and ``mean(e)/(σ/√n) ~ N(0,1)`` (bias either way hurts). The reported statistic
    of the decay check is the ratio of recent MASE to the backtest MASE at that step.
    The newest error alone is also tested (``latest_error_z``), so an abrupt change is
    seen at its first period. Interval coverage: the count of actuals outside the served
    interval against Binomial(n, 1 − level), one-sided.

    Errors at step ``h > 1`` from consecutive origins overlap (they share ``h − 1`` shocks),
    so they are far from independent: the tests use every ``h``-th of them, counted back
    from the newest, which share none under a well-specified model. Coverage is tested on
    the intervals at the same step, thinned the same way. Each check is decided at the
    retraining level that ``monitoring.false_triggers_per_year`` gives at the data's
    frequency ``freq`` and graded by the alert level (:mod:`chronoguard.monitoring.levels`);
    without ``freq`` the monthly levels are used.
    """
    h = monitoring.decay_horizon
    levels = check_levels(
        monitoring, freq or "MS", n_features=max(1, len(reference.get("features", ["y"])))
    )
    alpha = levels.trigger
    out: list[DriftResult] = []
    if served.empty:
        return out
    joined = served.merge(actuals[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    at_h = _thinned(joined[joined["horizon"] == h], h)
    for uid, g in at_h.groupby("unique_id", sort=False):
        prof = reference["series"].get(str(uid))
        if prof is None or len(g) < 2:
            continue
        e = g["y"].to_numpy(float) - g["yhat"].to_numpy(float)
        n = len(e)
        scale = prof["mase_scale"]
        if h == 1:
            # 1-step reference from the one-step errors of the last training periods: many
            # more points than the backtest's one error per window.
            sd, ref_mase = prof["one_step"]["sd"], prof["one_step"]["mae"] / scale
            df_sd = int(prof["one_step"].get("n", 0)) - 1
        else:
            sd, ref_mase = (
                _backtest_at(prof, h, "mae") * np.sqrt(np.pi / 2),
                _backtest_at(prof, h, "mase"),
            )
            df_sd = int(_backtest_at(prof, h, "n")) - 1
        # The spread is estimated from ``df_sd + 1`` errors, not known: under no change
        # mean((e/sd)²) ~ F(n, df_sd) and e/sd ~ t(df_sd), which the χ² and normal
        # approximations understate (5-25× the nominal false-alarm rate with the few
        # errors of a weekly or daily training window). Profiles without the count fall
        # back to the known-spread tests.
        spread = _SpreadTests.of(df_sd)
        recent_mase = float(np.mean(np.abs(e)) / scale)
        chi = float(np.sum((e / sd) ** 2))
        p_decay = spread.decay(chi, n)
        out.append(
            DriftResult(
                "mase_ratio_chi2",
                recent_mase / ref_mase if ref_mase > 0 else float("inf"),
                p_decay,
                alpha,
                p_decay < alpha,
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=str(uid),
                kind=DriftKind.PERFORMANCE,
                severity=_severity(p_decay, levels.alert),
                details={
                    "recent_mase": recent_mase,
                    "backtest_mase": ref_mase,
                    "n": n,
                    "chi2": chi,
                    "sd_df": spread.df,
                },
            )
        )
        z = float(np.mean(e) / (sd / np.sqrt(n)))
        p_bias = spread.two_sided(z)
        out.append(
            DriftResult(
                "bias_z",
                z,
                p_bias,
                alpha,
                p_bias < alpha,
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=str(uid),
                kind=DriftKind.CONCEPT,
                severity=_severity(p_bias, levels.alert),
                details={"mean_error": float(np.mean(e)), "n": n},
            )
        )
        # The newest actual against its own forecast: an abrupt change (a level shift, a
        # broken feed) shows here at once, before any window mean moves. Under no change the
        # standardised error is ~t(df), so the test is exact at ``alpha``; one surprise alone
        # alerts, but only persistence (k of n) triggers a retrain.
        last = g.sort_values("ds").iloc[-1]
        z_last = float((last["y"] - last["yhat"]) / sd)
        p_last = spread.two_sided(z_last)
        out.append(
            DriftResult(
                "latest_error_z",
                z_last,
                p_last,
                alpha,
                p_last < alpha,
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=str(uid),
                kind=DriftKind.CONCEPT,
                severity=_severity(p_last, levels.alert),
                details={"ds": str(last["ds"]), "error": float(last["y"] - last["yhat"])},
            )
        )
    # Coverage at the tracked step, thinned like the errors: intervals at several horizons
    # for one target, or at step h from consecutive origins, miss together; misses of
    # intervals that share no shock are independent Bernoulli(1 − level) under no change,
    # so the binomial test is exact at ``alpha``.
    cov = at_h.dropna(subset=["yhat_lo", "yhat_hi"])
    for uid, g in cov.groupby("unique_id", sort=False):
        if len(g) < 2:
            continue
        level = float(g["level"].iloc[0]) / 100
        inside = (g["y"] >= g["yhat_lo"]) & (g["y"] <= g["yhat_hi"])
        misses = int((~inside).sum())
        p_cov = float(stats.binom.sf(misses - 1, len(g), 1 - level))
        out.append(
            DriftResult(
                "interval_coverage",
                float(inside.mean()),
                p_cov,
                alpha,
                p_cov < alpha,
                threshold_on="p_value",
                feature=f"interval_{int(level * 100)}",
                unique_id=str(uid),
                kind=DriftKind.PERFORMANCE,
                severity=_severity(p_cov, levels.alert),
                details={"nominal": level, "n": len(g), "misses": misses, "step": h},
            )
        )
    return out


def _thinned(rows: pd.DataFrame, h: int) -> pd.DataFrame:
    """Every ``h``-th row of each series by target time, counted back from the newest (all
    rows when ``h == 1``)."""
    if h <= 1 or rows.empty:
        return rows
    rows = rows.sort_values(["unique_id", "ds"], kind="stable")
    back = rows.groupby("unique_id", sort=False).cumcount(ascending=False)
    return rows[(back % h) == 0]


@dataclass(frozen=True)
class _SpreadTests:
    """p-values of errors standardised by a spread estimated with ``df`` degrees of freedom
    (``None``: treated as known, for profiles that do not record the count)."""

    df: int | None

    @classmethod
    def of(cls, df: int) -> _SpreadTests:
        return cls(df if df >= 1 else None)

    def decay(self, chi: float, n: int) -> float:
        """One-sided: more squared error than the reference spread predicts."""
        if self.df is None:
            return float(stats.chi2.sf(chi, df=n))
        return float(stats.f.sf(chi / n, n, self.df))

    def two_sided(self, z: float) -> float:
        if self.df is None:
            return float(2 * stats.norm.sf(abs(z)))
        return float(2 * stats.t.sf(abs(z), self.df))


def _backtest_at(prof: dict[str, Any], h: int, metric: str) -> float:
    """The version's backtest ``metric`` ("mae", "mase" or "n", the count of errors) at step
    ``h`` (the last step if beyond); ``n`` is 0 for profiles that do not record it."""
    bt = prof["backtest"]
    i = bt["horizons"].index(h) if h in bt["horizons"] else -1
    if metric not in bt:
        return 0.0
    return float(bt[metric][i])


def iid_drift_checks(reference: dict[str, Any], window: pd.DataFrame) -> list[DriftResult]:
    """KS, PSI and normalised Wasserstein of the window against the training values.

    These are the tests most tools run. They assume independent observations, so on
    autocorrelated, seasonal series they flag most stable windows (see ``docs/drift.md``):
    the run records them, marked advisory, next to the calibrated check, and only the
    calibrated check alerts.
    """
    if "iid_profile" not in reference:
        return []
    profile = ReferenceProfile.from_dict(reference["iid_profile"])
    features = [f for f in reference["features"] if f in window.columns]
    current = window[["unique_id", "ds", *features]]
    out: list[DriftResult] = []
    for test in (ks_test, psi_test, wasserstein_test):
        for r in test(profile, current, features=features):
            out.append(replace(r, kind=DriftKind.DATA, advisory=True))
    return out


def data_drift_checks(
    reference: dict[str, Any], since_reference: pd.DataFrame
) -> list[DriftResult]:
    """Drift of the target and each exogenous feature, per series.

    Each series × feature runs the drift engine's sequential check (seasonally adjusted,
    pre-whitened with the reference's own filter, threshold calibrated for the version's
    false-alarm budget) on every value since the reference ended. The fleet-wide
    Benjamini–Hochberg adjustment is made once for every check, by :func:`fleet_alerts`.
    """
    results: list[DriftResult] = []
    for uid, g in since_reference.groupby("unique_id", sort=False):
        prof = reference["series"].get(str(uid))
        if prof is None:
            continue
        for feature, state in prof["drift"].items():
            if feature not in g.columns:
                continue
            # The check's threshold was calibrated for a window of this many periods.
            window = (state.get("calibration") or {}).get("window")
            recent = g.tail(int(window)) if window else g
            results += drift_check(
                state,
                recent[feature].to_numpy(float),
                ds=pd.DatetimeIndex(recent["ds"]),
                mode="sequential",
                feature=feature,
                unique_id=str(uid),
                kind=DriftKind.DATA,
            )
    return results


def fleet_alerts(
    reports: Sequence[MonitoringReport], levels: CheckLevels | None = None
) -> list[MonitoringReport]:
    """The cycle's reports with every result's alert decided under Benjamini–Hochberg.

    The one place where results are adjusted for multiplicity: each family (one check
    method, across every series and feature of the fleet, whichever version serves them) is
    adjusted once; a result alerts when it is positive and its q-value is within its alert
    level (:meth:`~chronoguard.monitoring.levels.CheckLevels.alert_level`; without
    ``levels``, the level it was decided at). Advisory results and results without a
    p-value are not adjusted (their ``alert`` stays ``None``: their decision alone
    decides). BH only ever makes a check stricter, so each series' false-alert budget holds
    after it; the retraining rule counts the per-series decisions (``drift``) and never
    these.
    """
    families: dict[str, list[tuple[int, int]]] = {}
    for i, report in enumerate(reports):
        for j, r in enumerate(report.results):
            if r.p_value is not None and not r.advisory and r.threshold_on == "p_value":
                families.setdefault(r.method, []).append((i, j))
    results = [list(r.results) for r in reports]
    for members in families.values():
        pvals = [float(results[i][j].p_value or 1.0) for i, j in members]
        adjusted = stats.false_discovery_control(pvals) if len(pvals) > 1 else pvals
        for (i, j), q in zip(members, adjusted, strict=True):
            r = results[i][j]
            level = r.threshold if levels is None else levels.alert_level(r)
            results[i][j] = replace(r, q_value=float(q), alert=bool(r.drift and float(q) <= level))
    return [replace(report, results=res) for report, res in zip(reports, results, strict=True)]


def prediction_drift_checks(
    reference: dict[str, Any],
    served: pd.DataFrame,
    *,
    now: pd.Timestamp,
    version: str | None = None,
) -> list[DriftResult]:
    """Drift of the served one-step forecasts, per series.

    The forecasts served at step 1 for periods after the version's training end up to
    ``now`` (of ``version`` only, when ``served`` has a ``version`` column) run through the
    drift engine's sequential check against the reference fitted at training time on the
    same model's one-step forecasts over its training window. :func:`fleet_alerts` adjusts
    them across the fleet (a family of its own, apart from the data-drift family).

    Skipped without a result: series whose profile has no prediction reference (profiles
    written before this check existed, or whose forecasts could not be modelled), and series
    with too few forecasts since a gap after the reference to pre-whiten (a version promoted
    some periods after its training end serves its first forecasts then).
    """
    results: list[DriftResult] = []
    if served.empty:
        return results
    mine = (served["horizon"] == 1) & (served["ds"] <= now)
    if version is not None and "version" in served.columns:
        mine &= served["version"].astype(str) == str(version)
    for uid, g in served[mine].groupby("unique_id", sort=False):
        prof = reference["series"].get(str(uid))
        state = None if prof is None else (prof.get("prediction") or {}).get("yhat_h1")
        if state is None:
            continue
        g = g[g["ds"] > pd.Timestamp(prof["train_end"])]
        # One forecast per period: a period served twice keeps the last one served.
        g = g.sort_values("ds", kind="stable").drop_duplicates("ds", keep="last")
        window = (state.get("calibration") or {}).get("window")
        recent = g.tail(int(window)) if window else g
        if recent.empty:
            continue
        try:
            results += drift_check(
                state,
                recent["yhat"].to_numpy(float),
                ds=pd.DatetimeIndex(recent["ds"]),
                mode="sequential",
                feature="yhat_h1",
                unique_id=str(uid),
                kind=DriftKind.PREDICTION,
            )
        except InsufficientDataError:
            continue  # too few consecutive forecasts after a gap to pre-whiten yet
    return results


def run_monitoring(
    reference: dict[str, Any],
    window: pd.DataFrame,
    served: pd.DataFrame,
    *,
    now: pd.Timestamp,
    freq: str,
    monitoring: MonitoringConfig,
    version: str,
    since_reference: pd.DataFrame | None = None,
    served_since_reference: pd.DataFrame | None = None,
) -> MonitoringReport:
    """One monitoring run over ``window`` (actuals and features) and the forecasts ``served``.

    ``since_reference`` holds every observation after the version's training end up to
    ``now`` (the sequential drift check needs the whole run since then); without it the
    window is used, which is conservative. ``served_since_reference`` is the same for the
    forecasts served (the prediction-drift check); without it ``served`` is used.

    The results are this run's per-series decisions; a cycle adjusts all of its runs
    together with :func:`fleet_alerts` before alerting.
    """
    results = quality_checks(window, now=now, freq=freq, features=list(reference["features"]))
    current = window if since_reference is None else since_reference
    results += data_drift_checks(reference, current)
    forecasts = served if served_since_reference is None else served_since_reference
    results += prediction_drift_checks(reference, forecasts, now=now, version=version)
    results += iid_drift_checks(reference, window)
    results += performance_checks(reference, served, window, monitoring=monitoring, freq=freq)
    return MonitoringReport(now=pd.Timestamp(now), version=version, results=results)
