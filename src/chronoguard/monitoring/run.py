"""A monitoring run: data quality + drift + performance over a recent window.

Each check produces a typed :class:`~chronoguard.drift.DriftResult` with its statistic,
p-value where defined, threshold and decision. The run compares against the reference
profile of the version that served the forecasts; it never re-reads training data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    ReferenceState,
    SequentialCheck,
    Severity,
    ks_test,
    psi_test,
    sequential_checks,
    wasserstein_test,
)
from chronoguard.monitoring.levels import DECAY_METHOD, CheckLevels, check_levels
from chronoguard.registry import VersionReference
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
        """The results as store records.

        What decides beyond the decision is stored whole in ``details``, under its own keys
        and in JSON types, so it reads back as it was: ``advisory`` (bool), ``q_value``
        (float, or ``None`` when not adjusted), ``alert`` (bool, or ``None``: the decision
        alone decides) and ``notes`` (a list of strings). Other details keep their JSON
        types (lists and mappings included); values JSON has no type for are stored as text.
        """
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
                    **_details(r),
                    "advisory": bool(r.advisory),
                    "q_value": None if r.q_value is None else float(r.q_value),
                    "alert": None if r.alert is None else bool(r.alert),
                    "notes": [str(n) for n in r.notes],
                },
            )
            for r in self.results
        ]


def _details(r: DriftResult) -> dict[str, Any]:
    """``r.details`` in JSON types. ``notes`` is the result's own field; notes the details
    carry apart from it (a window test's) are kept as ``detail_notes``, not overwritten."""
    out = _json_safe(r.details)
    own = out.pop("notes", None)
    if own is not None and own != [str(n) for n in r.notes]:
        out["detail_notes"] = own
    return out


def is_advisory(r: DriftResult) -> bool:
    """Reported for comparison only: never raises an alert or triggers a retrain."""
    return r.advisory


def _json_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _json_value(v) for k, v in d.items()}


def _json_value(v: Any) -> Any:
    """``v`` in JSON types: numpy scalars as Python numbers, sequences as lists, mappings
    as dicts (recursively); anything else as its text."""
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, Mapping):
        return _json_safe(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_json_value(x) for x in v]
    return str(v)


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
    reference: VersionReference,
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
    levels = check_levels(monitoring, freq or "MS", n_features=max(1, len(reference.features)))
    alpha = levels.trigger
    out: list[DriftResult] = []
    if served.empty:
        return out
    joined = served.merge(actuals[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    at_h = _thinned(joined[joined["horizon"] == h], h)
    # Per series with numpy slices of one sorted frame, then every p-value of the fleet in
    # one call per distribution: a fleet's cycle runs these for thousands of series.
    y_all = at_h["y"].to_numpy(dtype=float)
    f_all = at_h["yhat"].to_numpy(dtype=float)
    ds_all = at_h["ds"].to_numpy(dtype="datetime64[ns]")
    errs: list[_SeriesErrors] = []
    for uid, rows in _rows_by_series(at_h).items():
        prof = reference.series.get(uid)
        if prof is None or rows.size < 2:
            continue
        e = y_all[rows] - f_all[rows]
        scale = prof.mase_scale
        if h == 1:
            # 1-step reference from the one-step errors of the last training periods: many
            # more points than the backtest's one error per window.
            sd, ref_mase = prof.one_step.sd, prof.one_step.mae / scale
            df_sd = prof.one_step.n - 1
        else:
            # The backtest at step h (its last step if h is beyond it); profiles without the
            # count of errors give df_sd = -1: the spread is then treated as known.
            bt = prof.backtest
            sd, ref_mase = bt.mae_at(h) * np.sqrt(np.pi / 2), bt.mase_at(h)
            df_sd = bt.n_at(h) - 1
        # The newest actual: the last row at the latest target time.
        newest = rows[rows.size - 1 - int(np.argmax(ds_all[rows][::-1]))]
        errs.append(
            _SeriesErrors(
                uid=uid,
                n=int(e.size),
                sd=float(sd),
                ref_mase=float(ref_mase),
                df=df_sd if df_sd >= 1 else None,
                recent_mase=float(np.mean(np.abs(e)) / scale),
                chi=float(np.sum((e / sd) ** 2)),
                mean_error=float(np.mean(e)),
                last_error=float(y_all[newest] - f_all[newest]),
                last_ds=pd.Timestamp(ds_all[newest]),
            )
        )
    # The spread is estimated from ``df + 1`` errors, not known: under no change
    # mean((e/sd)²) ~ F(n, df) and e/sd ~ t(df), which the χ² and normal approximations
    # understate (5-25× the nominal false-alarm rate with the few errors of a weekly or
    # daily training window). Profiles without the count fall back to the known-spread
    # tests.
    n_e = np.array([x.n for x in errs], dtype=float)
    df_e = np.array([np.nan if x.df is None else x.df for x in errs], dtype=float)
    sd_e = np.array([x.sd for x in errs], dtype=float)
    z_bias = np.array([x.mean_error for x in errs], dtype=float) / (sd_e / np.sqrt(n_e))
    z_last = np.array([x.last_error for x in errs], dtype=float) / sd_e
    p_decay = _decay_p(np.array([x.chi for x in errs], dtype=float), n_e, df_e)
    p_bias = _two_sided_p(z_bias, df_e)
    p_last = _two_sided_p(z_last, df_e)
    for k, x in enumerate(errs):
        out.append(
            DriftResult(
                DECAY_METHOD,
                x.recent_mase / x.ref_mase if x.ref_mase > 0 else float("inf"),
                float(p_decay[k]),
                alpha,
                bool(p_decay[k] < alpha),
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=x.uid,
                kind=DriftKind.PERFORMANCE,
                severity=_severity(float(p_decay[k]), levels.alert),
                details={
                    "recent_mase": x.recent_mase,
                    "backtest_mase": x.ref_mase,
                    "n": x.n,
                    "chi2": x.chi,
                    "sd_df": x.df,
                },
            )
        )
        out.append(
            DriftResult(
                "bias_z",
                float(z_bias[k]),
                float(p_bias[k]),
                alpha,
                bool(p_bias[k] < alpha),
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=x.uid,
                kind=DriftKind.CONCEPT,
                severity=_severity(float(p_bias[k]), levels.alert),
                details={"mean_error": x.mean_error, "n": x.n},
            )
        )
        # The newest actual against its own forecast: an abrupt change (a level shift, a
        # broken feed) shows here at once, before any window mean moves. Under no change
        # the standardised error is ~t(df), so the test is exact at ``alpha``; one surprise
        # alone alerts, but only persistence (k of n) triggers a retrain.
        out.append(
            DriftResult(
                "latest_error_z",
                float(z_last[k]),
                float(p_last[k]),
                alpha,
                bool(p_last[k] < alpha),
                threshold_on="p_value",
                feature=f"error_h{h}",
                unique_id=x.uid,
                kind=DriftKind.CONCEPT,
                severity=_severity(float(p_last[k]), levels.alert),
                details={"ds": str(x.last_ds), "error": x.last_error},
            )
        )
    # Coverage at the tracked step, thinned like the errors: intervals at several horizons
    # for one target, or at step h from consecutive origins, miss together; misses of
    # intervals that share no shock are independent Bernoulli(1 − level) under no change,
    # so the binomial test is exact at ``alpha``.
    cov = at_h.dropna(subset=["yhat_lo", "yhat_hi"])
    y_c = cov["y"].to_numpy(dtype=float)
    inside_all = (y_c >= cov["yhat_lo"].to_numpy(dtype=float)) & (
        y_c <= cov["yhat_hi"].to_numpy(dtype=float)
    )
    level_all = cov["level"].to_numpy(dtype=float)
    covered = [(u, r) for u, r in _rows_by_series(cov).items() if r.size >= 2]
    sizes = np.array([r.size for _, r in covered], dtype=float)
    misses = np.array([int((~inside_all[r]).sum()) for _, r in covered], dtype=float)
    nominal = np.array([level_all[r[0]] / 100 for _, r in covered], dtype=float)
    p_cov = stats.binom.sf(misses - 1, sizes, 1 - nominal) if covered else np.empty(0)
    for k, (uid, rows) in enumerate(covered):
        level = float(nominal[k])
        out.append(
            DriftResult(
                "interval_coverage",
                float(inside_all[rows].mean()),
                float(p_cov[k]),
                alpha,
                bool(p_cov[k] < alpha),
                threshold_on="p_value",
                feature=f"interval_{int(level * 100)}",
                unique_id=uid,
                kind=DriftKind.PERFORMANCE,
                severity=_severity(float(p_cov[k]), levels.alert),
                details={"nominal": level, "n": int(sizes[k]), "misses": int(misses[k]), "step": h},
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
class _SeriesErrors:
    """One series' errors at the tracked step, summed for the error checks."""

    uid: str
    n: int
    sd: float
    ref_mase: float
    df: int | None  # degrees of freedom of the spread; None: treated as known
    recent_mase: float
    chi: float
    mean_error: float
    last_error: float
    last_ds: pd.Timestamp


def _decay_p(chi: np.ndarray, n: np.ndarray, df: np.ndarray) -> np.ndarray:
    """One-sided: more squared error than the reference spread predicts (F(n, df) where the
    spread was estimated, χ²(n) where ``df`` is NaN: known)."""
    if chi.size == 0:
        return np.empty(0)
    known = np.isnan(df)
    return np.where(
        known, stats.chi2.sf(chi, df=n), stats.f.sf(chi / n, n, np.where(known, 1.0, df))
    )


def _two_sided_p(z: np.ndarray, df: np.ndarray) -> np.ndarray:
    if z.size == 0:
        return np.empty(0)
    known = np.isnan(df)
    return np.where(
        known, 2 * stats.norm.sf(np.abs(z)), 2 * stats.t.sf(np.abs(z), np.where(known, 1.0, df))
    )


def iid_drift_checks(reference: VersionReference, window: pd.DataFrame) -> list[DriftResult]:
    """KS, PSI and normalised Wasserstein of the window against the training values.

    These are the tests most tools run. They assume independent observations, so on
    autocorrelated, seasonal series they flag most stable windows (see ``docs/drift.md``):
    the run records them, marked advisory, next to the calibrated check, and only the
    calibrated check alerts.
    """
    profile = reference.iid_profile
    if profile is None:
        return []
    features = [f for f in reference.features if f in window.columns]
    current = window[["unique_id", "ds", *features]]
    out: list[DriftResult] = []
    for test in (ks_test, psi_test, wasserstein_test):
        for r in test(profile, current, features=features):
            out.append(replace(r, kind=DriftKind.DATA, advisory=True))
    return out


def data_drift_checks(
    reference: VersionReference, since_reference: pd.DataFrame
) -> list[DriftResult]:
    """Drift of the target and each exogenous feature, per series.

    Each series × feature runs the drift engine's sequential check (seasonally adjusted,
    pre-whitened with the reference's own filter, threshold calibrated for the version's
    false-alarm budget) on every value since the reference ended. The fleet-wide
    Benjamini–Hochberg adjustment is made once for every check, by :func:`fleet_alerts`.
    """
    rows_of = _rows_by_series(since_reference)
    if not rows_of:
        return []
    ds_all = since_reference["ds"].to_numpy(dtype="datetime64[ns]")
    columns: dict[str, np.ndarray] = {}
    checks: list[SequentialCheck] = []
    for uid, rows in rows_of.items():
        prof = reference.series.get(uid)
        if prof is None:
            continue
        for feature, state in prof.drift.items():
            if feature not in since_reference.columns:
                continue
            if feature not in columns:
                columns[feature] = since_reference[feature].to_numpy(dtype=float)
            # The check's threshold was calibrated for a window of this many periods.
            window = None if state.calibration is None else state.calibration.window
            recent = rows[-int(window) :] if window else rows
            checks.append(
                SequentialCheck(
                    state,
                    columns[feature][recent],
                    ds=pd.DatetimeIndex(ds_all[recent]),
                    feature=feature,
                    unique_id=uid,
                    kind=DriftKind.DATA,
                )
            )
    return [r for r in sequential_checks(checks) if r is not None]


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
    reference: VersionReference,
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
    if served.empty:
        return []
    mine = (served["horizon"] == 1) & (served["ds"] <= now)
    if version is not None and "version" in served.columns:
        mine &= served["version"].astype(str) == str(version)
    g = served.loc[mine, ["unique_id", "ds", "yhat"]]
    g = g.assign(unique_id=g["unique_id"].astype(str))
    states: dict[str, tuple[ReferenceState, pd.Timestamp]] = {}
    for uid in pd.unique(g["unique_id"]):
        prof = reference.series.get(uid)
        state = None if prof is None else prof.prediction.get("yhat_h1")
        if prof is not None and state is not None:
            states[uid] = (state, prof.train_end)
    if not states:
        return []
    ends = g["unique_id"].map({u: end for u, (_, end) in states.items()})
    g = g[g["unique_id"].isin(list(states)) & (g["ds"] > ends)]
    # One forecast per period: a period served twice keeps the last one served.
    g = g.sort_values(["unique_id", "ds"], kind="stable").drop_duplicates(
        ["unique_id", "ds"], keep="last"
    )
    rows_of = _rows_by_series(g)
    ds_all = g["ds"].to_numpy(dtype="datetime64[ns]")
    yhat = g["yhat"].to_numpy(dtype=float)
    checks: list[SequentialCheck] = []
    for uid, (state, _) in states.items():
        rows = rows_of.get(uid)
        if rows is None:
            continue
        window = None if state.calibration is None else state.calibration.window
        recent = rows[-int(window) :] if window else rows
        checks.append(
            SequentialCheck(
                state,
                yhat[recent],
                ds=pd.DatetimeIndex(ds_all[recent]),
                feature="yhat_h1",
                unique_id=uid,
                kind=DriftKind.PREDICTION,
            )
        )
    # Too few consecutive forecasts after a gap to pre-whiten yet: no result.
    return [r for r in sequential_checks(checks, skip_insufficient=True) if r is not None]


def _rows_by_series(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row positions of each series in ``frame`` (in frame order), series in order of
    first appearance: one sort for the whole fleet instead of a group per series."""
    if frame.empty:
        return {}
    codes, uniques = pd.factorize(frame["unique_id"].astype(str), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return {str(u): rows for u, rows in zip(uniques, np.split(order, bounds), strict=True)}


def run_monitoring(
    reference: VersionReference,
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
    results = quality_checks(window, now=now, freq=freq, features=list(reference.features))
    current = window if since_reference is None else since_reference
    results += data_drift_checks(reference, current)
    forecasts = served if served_since_reference is None else served_since_reference
    results += prediction_drift_checks(reference, forecasts, now=now, version=version)
    results += iid_drift_checks(reference, window)
    results += performance_checks(reference, served, window, monitoring=monitoring, freq=freq)
    return MonitoringReport(now=pd.Timestamp(now), version=version, results=results)
