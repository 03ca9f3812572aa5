"""A self-contained static HTML report of a lifecycle run: a replay, or a live workspace.

The report is one file: plots are embedded as base64 PNG or inline SVG and the CSS is inline,
so it opens in a browser without a server and can be mailed or attached to a ticket.
:func:`render_report` takes plain data in (:class:`ReportData`) and reads nothing else: no
store, no registry, no wall clock, so the same run gives the same bytes.
:func:`workspace_report` builds that data from a live workspace's store first (what
``chronoguard report`` runs).

Positive checks are counted in two kinds: *alerts* (checks that alert) and *advisory
findings* (iid tests, marked ``advisory``, recorded for comparison and never alerting), each
in its own colour.

Example
-------
>>> import pandas as pd, tempfile, pathlib
>>> actuals = pd.DataFrame(
...     {"unique_id": "a", "ds": pd.date_range("2020-01", periods=3, freq="MS"), "y": [1.0, 2, 3]}
... )
>>> forecasts = actuals.rename(columns={"y": "yhat"}).assign(horizon=1, version="v1")
>>> data = ReportData(title="demo", generated_for="toy", period="2020-01 – 2020-03",
...                   actuals=actuals, forecasts=forecasts)
>>> out = write_report(data, pathlib.Path(tempfile.mkdtemp()) / "report.html")
>>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import jinja2
import numpy as np
import pandas as pd

from chronoguard.dashboard import plots
from chronoguard.dashboard.fleet import FleetSection, fleet_context
from chronoguard.errors import ChronoguardError, DataContractError

__all__ = [
    "MAX_ALERT_ROWS",
    "MAX_SERIES",
    "ReportData",
    "WorkspaceView",
    "render_report",
    "workspace_data",
    "workspace_report",
    "write_report",
    "write_workspace_report",
]

MAX_SERIES = 12  # series plotted; a fleet's other series are counted in a note
MAX_ALERT_ROWS = 200
FIRST_MODEL_TRIGGERS = ("initial", "new_series")  # decisions that give a first model
ROLLING_WINDOW = 12  # periods of the rolling error (fewer on a short run)

_FRAMES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # name: (required columns, optional columns with their fill value)
    "actuals": (("unique_id", "ds", "y"), {}),
    "forecasts": (
        ("unique_id", "ds", "horizon", "yhat"),
        {"origin": pd.NaT, "yhat_lo": np.nan, "yhat_hi": np.nan, "version": ""},
    ),
    "checks": (
        ("ds", "unique_id", "kind", "method", "statistic", "threshold", "decision"),
        {"feature": "y", "p_value": np.nan, "threshold_on": "statistic", "advisory": False},
    ),
}
_RECORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # name: (required keys, optional keys)
    "alerts": (
        ("ds",),
        ("unique_id", "kind", "method", "statistic", "p_value", "threshold", "severity", "message"),
    ),
    "retrains": (
        ("ds", "version", "outcome"),
        ("trigger", "challenger_error", "champion_error", "reason"),
    ),
    "champion_history": (("ds", "version"), ("reason",)),
    "events": (("ds", "label"), ()),
}
_THRESHOLD_ON = ("statistic", "p_value")
_METRIC_NOTES = {
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "mase": "mean absolute scaled error (< 1 beats the seasonal naive)",
    "smape": "symmetric mean absolute percentage error",
    "mape": "mean absolute percentage error",
    "coverage": "share of actuals inside the prediction interval",
    "bias": "mean of forecast − actual",
}


def _empty_checks() -> pd.DataFrame:
    return pd.DataFrame(columns=[*_FRAMES["checks"][0], *_FRAMES["checks"][1]])


@dataclass(frozen=True, eq=False)
class ReportData:
    """Everything a lifecycle report shows, as plain values.

    Parameters
    ----------
    title, generated_for, period
        Shown in the header: the report's title, the data it is about (a file or dataset
        name) and the period covered (``"1977-01 – 1984-12"``).
    actuals
        ``[unique_id, ds, y]``.
    forecasts
        ``[unique_id, origin, ds, horizon, yhat, yhat_lo, yhat_hi, version]``; the intervals
        may be NaN. The plots show the shortest horizon (normally 1-step-ahead).
    checks
        One row per monitoring test per check time: ``[ds, unique_id, kind, method, feature,
        statistic, p_value, threshold, decision, threshold_on]``, ``threshold_on`` being
        ``"statistic"`` or ``"p_value"`` (what ``threshold`` is compared against).
    alerts
        Dicts with ``ds, unique_id, kind, method, statistic, p_value, threshold, severity,
        message``.
    retrains
        Dicts with ``ds, trigger, version, outcome ("promoted" / "rejected"),
        challenger_error, champion_error, reason``.
    champion_history
        Dicts with ``ds, version, reason``; the first is the initial champion, rollbacks are
        entries too (recognised by a version that was champion before, or "rollback" in the
        reason).
    metrics
        Overall metrics by name (``mae``, ``rmse``, ``mase``, ``smape``, ``coverage`` …).
    config
        The run's configuration (nested dicts are shown with dotted keys).
    events
        Documented, known changes ``{ds, label}`` marked on the plots.
    fleet
        A fleet replay's decisions, budget per cycle and peers
        (:class:`~chronoguard.dashboard.fleet.FleetSection`); ``None`` leaves the section out.

    Structural problems (missing columns or keys, an unknown ``threshold_on``) raise
    :class:`~chronoguard.errors.DataContractError` naming every problem at once.
    """

    title: str
    generated_for: str
    period: str
    actuals: pd.DataFrame
    forecasts: pd.DataFrame
    checks: pd.DataFrame = field(default_factory=_empty_checks)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    champion_history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    fleet: FleetSection | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, (required, _) in _FRAMES.items():
            frame = getattr(self, name)
            if not isinstance(frame, pd.DataFrame):
                problems.append(f"{name} is a {type(frame).__name__}; pass a pandas DataFrame")
                continue
            missing = [c for c in required if c not in frame.columns]
            if missing and len(frame):
                problems.append(f"{name} lacks column(s) {', '.join(missing)}")
        checks = self.checks
        if isinstance(checks, pd.DataFrame) and "threshold_on" in checks.columns and len(checks):
            odd = sorted({str(v) for v in checks["threshold_on"].dropna()} - set(_THRESHOLD_ON))
            if odd:
                problems.append(
                    f"checks.threshold_on has {', '.join(odd)}; use 'statistic' or 'p_value'"
                )
        for name, (keys, _) in _RECORDS.items():
            records = getattr(self, name) or []
            for i, record in enumerate(records):
                if not isinstance(record, Mapping):
                    problems.append(f"{name}[{i}] is a {type(record).__name__}; pass a dict")
                    continue
                missing = [k for k in keys if k not in record]
                if missing:
                    problems.append(f"{name}[{i}] lacks key(s) {', '.join(missing)}")
        if problems:
            raise DataContractError(problems, source="ReportData")


# --------------------------------------------------------------------------- normalisation


@dataclass(frozen=True)
class _Run:
    """The report's inputs, normalised: ``ds`` naive datetime64, ids ``str`` (or None)."""

    actuals: pd.DataFrame
    forecasts: pd.DataFrame
    checks: pd.DataFrame
    alerts: pd.DataFrame
    retrains: pd.DataFrame
    champions: pd.DataFrame  # + change: "initial" | "promotion" | "rollback"
    events: pd.DataFrame
    step: float  # one period, in days
    date_format: str


def _missing(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    missing = pd.isna(value)
    return bool(missing) if isinstance(missing, bool | np.bool_) else False  # list-likes


def _to_datetime(values: pd.Series, what: str, problems: list[str]) -> pd.Series:
    values = values.map(lambda v: v.to_timestamp() if isinstance(v, pd.Period) else v)
    try:
        out = pd.to_datetime(values)
        if out.dt.tz is not None:  # keep the wall time the data was recorded in
            out = out.dt.tz_localize(None)
    except (ValueError, TypeError, AttributeError) as exc:
        problems.append(f"{what}.ds holds values that are not timestamps ({exc})")
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if out.isna().any():
        problems.append(f"{what}.ds has {int(out.isna().sum())} missing timestamp(s)")
    return out


def _ids(values: pd.Series) -> pd.Series:
    return values.map(lambda v: None if _missing(v) else str(v)).astype(object)


def _frame(data: ReportData, name: str, problems: list[str]) -> pd.DataFrame:
    required, optional = _FRAMES[name]
    frame: pd.DataFrame = getattr(data, name)
    out = frame.copy() if len(frame) else pd.DataFrame(columns=[*required, *optional])
    if name == "checks" and "advisory" not in out.columns and "details" in out.columns:
        # The store keeps the advisory mark in each result's details.
        out["advisory"] = [
            bool(d.get("advisory")) if isinstance(d, Mapping) else False for d in out["details"]
        ]
    for column, fill in optional.items():
        if column not in out.columns:
            out[column] = fill
    out["ds"] = _to_datetime(out["ds"], name, problems)
    out["unique_id"] = _ids(out["unique_id"])
    if name != "checks" and out["unique_id"].isna().any():
        problems.append(f"{name}.unique_id has missing values")
    return out


def _records(data: ReportData, name: str, problems: list[str]) -> pd.DataFrame:
    required, optional = _RECORDS[name]
    records = [dict(r) for r in (getattr(data, name) or [])]
    out = pd.DataFrame.from_records(records, columns=[*required, *optional])
    out = out.astype(object).where(out.notna(), None)
    out["ds"] = _to_datetime(out["ds"], name, problems)
    if "unique_id" in out.columns:
        out["unique_id"] = _ids(out["unique_id"])
    return out.sort_values("ds", kind="stable").reset_index(drop=True)


def _champion_changes(history: pd.DataFrame) -> pd.DataFrame:
    seen: set[str] = set()
    changes: list[str] = []
    for i, (version_, reason) in enumerate(zip(history["version"], history["reason"], strict=True)):
        text = "" if reason is None else str(reason).lower()
        if i == 0:
            changes.append("initial")
        elif str(version_) in seen or "rollback" in text or "roll back" in text:
            changes.append("rollback")
        else:
            changes.append("promotion")
        seen.add(str(version_))
    history = history.copy()
    history["version"] = history["version"].astype(str)
    history["change"] = changes
    return history


def _prepare(data: ReportData) -> _Run:
    problems: list[str] = []
    actuals = _frame(data, "actuals", problems)
    forecasts = _frame(data, "forecasts", problems)
    checks = _frame(data, "checks", problems)
    alerts = _records(data, "alerts", problems)
    retrains = _records(data, "retrains", problems)
    champions = _records(data, "champion_history", problems)
    events = _records(data, "events", problems)
    if problems:
        raise DataContractError(problems, source="ReportData")
    actuals["y"] = pd.to_numeric(actuals["y"], errors="coerce")
    for column in ("yhat", "yhat_lo", "yhat_hi"):
        forecasts[column] = pd.to_numeric(forecasts[column], errors="coerce")
    for column in ("statistic", "p_value", "threshold"):
        checks[column] = pd.to_numeric(checks[column], errors="coerce")
    checks["decision"] = checks["decision"].map(lambda v: False if _missing(v) else bool(v))
    checks["advisory"] = checks["advisory"].map(lambda v: False if _missing(v) else bool(v))
    # A positive advisory (iid) test is a finding shown for comparison; only the others alert.
    checks["alerting"] = checks["decision"].astype(bool) & ~checks["advisory"].astype(bool)
    checks["finding"] = checks["decision"].astype(bool) & checks["advisory"].astype(bool)
    checks["threshold_on"] = checks["threshold_on"].fillna("statistic").astype(str)
    for column in ("kind", "method", "feature"):
        checks[column] = checks[column].fillna("—").astype(str)
    alerts["severity"] = [("—" if _missing(s) else str(s)) for s in alerts["severity"]]
    retrains["version"] = retrains["version"].astype(str)
    retrains["outcome"] = retrains["outcome"].astype(str)

    stamps = pd.concat([actuals["ds"], forecasts["ds"]]).drop_duplicates().sort_values()
    diffs = np.diff(plots.to_num(stamps)) if len(stamps) > 1 else np.array([])
    step = float(np.median(diffs)) if len(diffs) and np.median(diffs) > 0 else 1.0
    everything = pd.concat([actuals["ds"], forecasts["ds"], checks["ds"], alerts["ds"]])
    midnight = bool((everything == everything.dt.normalize()).all())
    return _Run(
        actuals=actuals.sort_values(["unique_id", "ds"], kind="stable"),
        forecasts=forecasts.sort_values(["unique_id", "ds"], kind="stable"),
        checks=checks,
        alerts=alerts,
        retrains=retrains,
        champions=_champion_changes(champions),
        events=events,
        step=step,
        date_format="%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M",
    )


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", text)))


def _flatten(config: Mapping[Any, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(_flatten(value, f"{name}."))
        elif isinstance(value, Mapping):
            rows.append((name, "{}"))
        elif isinstance(value, list | tuple | set | frozenset):
            rows.append((name, json.dumps(list(value), default=str, ensure_ascii=False)))
        else:
            rows.append((name, "null" if value is None else str(value)))
    return rows


def _config_json(config: Mapping[Any, Any]) -> str:
    try:
        return json.dumps(config, indent=2, default=str, ensure_ascii=False)
    except (TypeError, ValueError):  # keys json cannot write (tuples …)
        return repr(config)


def _badge(text: str) -> str:
    """A CSS class for a known word, so user text never becomes a class name."""
    known = {"promoted", "rejected", "critical", "warning", "info", "rollback", "promotion"}
    return text.lower() if text.lower() in known else "other"


# --------------------------------------------------------------------------- assembly


def _series_order(run: _Run) -> list[str]:
    ids = {*run.actuals["unique_id"], *run.forecasts["unique_id"], *run.checks["unique_id"]}
    ids.discard(None)
    return sorted((str(i) for i in ids), key=_natural_key)


def _ranked(run: _Run, ids: list[str]) -> list[str]:
    """The most troubled series first: alerts, then checks that alert, then name."""
    alerts = run.alerts["unique_id"].value_counts()
    flagged = run.checks[run.checks["alerting"]]["unique_id"].value_counts()
    return sorted(ids, key=lambda u: (-int(alerts.get(u, 0)), -int(flagged.get(u, 0))))


def _span(stamps: pd.Series, step: float) -> tuple[float, float]:
    """An x range around ``stamps`` (half a period either side, at least three periods)."""
    x = plots.to_num(stamps)
    lo, hi = float(x.min()) - step / 2, float(x.max()) + step / 2
    return (lo - step, hi + step) if hi - lo < 2 * step else (lo, hi)


def _series_section(run: _Run, uid: str, anchor: str, max_points: int) -> dict[str, Any]:
    actuals = run.actuals[run.actuals["unique_id"] == uid]
    forecasts = run.forecasts[run.forecasts["unique_id"] == uid]
    horizon: int | None = None
    horizons = pd.to_numeric(forecasts["horizon"], errors="coerce")
    if horizons.notna().any():
        horizon = int(horizons.min())
        forecasts = forecasts[horizons == horizon]
        # Two forecasts for one target time (a re-forecast): show the last one served.
        forecasts = forecasts.drop_duplicates(subset="ds", keep="last")
    checks = run.checks[run.checks["unique_id"] == uid]
    mine = run.alerts["unique_id"].isna() | (run.alerts["unique_id"] == uid)
    alerts = run.alerts[mine]
    stamps = pd.concat([actuals["ds"], forecasts["ds"]])
    xlim = _span(stamps if len(stamps) else checks["ds"], run.step)
    main = plots.series_figure(
        uid,
        actuals[["ds", "y"]],
        forecasts[["ds", "yhat", "yhat_lo", "yhat_hi"]],
        horizon,
        alerts[["ds", "severity"]],
        run.champions[["ds", "version", "change"]],
        run.events[["ds", "label"]],
        xlim,
        run.step,
        max_points,
    )
    drift = None
    if len(checks):  # its own range: checks start late (after training), zoom in on them
        drift = plots.drift_figure(uid, checks, _span(checks["ds"], run.step), max_points)
    return {
        "uid": uid,
        "anchor": anchor,
        "main_png": main,
        "drift_png": drift,
        "n_actuals": len(actuals),
        "n_forecasts": len(forecasts),
        "horizon": horizon,
        "n_checks": len(checks),
        "n_alerting": int(checks["alerting"].sum()),
        "n_advisory": int(checks["finding"].sum()),
        "n_alerts": int((run.alerts["unique_id"] == uid).sum()),
    }


def _checks_table(run: _Run) -> list[dict[str, Any]]:
    rows = []
    for (kind, method, on), group in run.checks.groupby(["kind", "method", "threshold_on"]):
        flagged = group[group["alerting"]]
        findings = group[group["finding"]]
        advisory = bool(group["advisory"].all()) and len(group) > 0
        rows.append(
            {
                "kind": str(kind),
                "method": str(method),
                "on": "p-value" if on == "p_value" else "statistic",
                "features": ", ".join(sorted(group["feature"].unique())[:6])
                + (" …" if group["feature"].nunique() > 6 else ""),
                "checks": str(len(group)),
                "advisory": advisory,
                "alerting": str(len(flagged)),
                "findings": str(len(findings)),
                "rate": f"{len(findings if advisory else flagged) / len(group):.1%}",
                "series": str((findings if advisory else flagged)["unique_id"].nunique()),
            }
        )
    return rows


def _versions_period(run: _Run) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The period the versions chart covers: the versions' period, not the whole history.

    It starts at the first version (or retrain attempt) and ends at the last actual, check,
    alert or version change (the forecasts of the future beyond it are left out, as is the
    history before the first version, which has no version to show).
    """
    starts = pd.concat([run.champions["ds"], run.retrains["ds"]])
    if not len(starts):
        return None
    ends = [run.actuals["ds"], run.checks["ds"], run.alerts["ds"]]
    return pd.Timestamp(starts.min()), pd.Timestamp(pd.concat([*ends, starts]).max())


def _scored(run: _Run) -> pd.DataFrame:
    """Served forecasts joined with their actuals: ``unique_id, ds, horizon, abs_err``."""
    forecasts = run.forecasts.copy()
    forecasts["horizon"] = pd.to_numeric(forecasts["horizon"], errors="coerce")
    forecasts = forecasts[forecasts["horizon"].notna()]
    # A target re-forecast from the same origin (a re-run) counts once: the last served.
    keys = ["unique_id", "origin", "ds", "horizon"] if forecasts["origin"].notna().all() else None
    if keys is not None:
        forecasts = forecasts.drop_duplicates(subset=keys, keep="last")
    joined = forecasts.merge(
        run.actuals[["unique_id", "ds", "y"]].drop_duplicates(["unique_id", "ds"], keep="last"),
        on=["unique_id", "ds"],
        how="inner",
    )
    joined["abs_err"] = (joined["y"] - joined["yhat"]).abs()
    joined = joined[np.isfinite(joined["abs_err"].to_numpy(dtype=float))]
    return joined[["unique_id", "ds", "horizon", "abs_err"]]


def _error_charts(run: _Run) -> dict[str, Any]:
    """The error per horizon and the rolling error: SVG and the table behind them."""
    scored = _scored(run)
    if scored.empty:
        return {"horizon_svg": None, "rolling_svg": None, "rolling_window": 0, "horizon_rows": []}
    per_h = (
        scored.groupby("horizon")["abs_err"]
        .agg(error="mean", n="size")
        .reset_index()
        .astype({"horizon": int})
    )
    shortest = int(per_h["horizon"].min())
    first = scored[scored["horizon"] == shortest]
    per_time = first.groupby("ds")["abs_err"].mean().rename("error").reset_index()
    window = min(ROLLING_WINDOW, max(len(per_time) // 3, 1))
    return {
        "horizon_svg": plots.horizon_error_svg(per_h),
        "rolling_svg": plots.rolling_error_svg(per_time, window, shortest, run.date_format),
        "rolling_window": window,
        "horizon_rows": [
            {"horizon": str(r["horizon"]), "mae": _fmt(float(r["error"])), "n": str(r["n"])}
            for r in per_h.to_dict("records")
        ],
    }


def _context(data: ReportData, run: _Run, max_series: int, max_points: int) -> dict[str, Any]:
    date = run.date_format
    ids = _series_order(run)
    shown = ids if len(ids) <= max_series else _ranked(run, ids)[:max_series]
    sections = [_series_section(run, u, f"series-{i}", max_points) for i, u in enumerate(shown)]

    timeline = None
    period = _versions_period(run)
    if period is not None:
        lo, hi = plots.to_num(pd.Series(period))
        xlim = (lo - run.step / 2, max(hi + run.step, lo + 3 * run.step))
        timeline = plots.versions_figure(
            run.champions[["ds", "version", "change"]],
            run.retrains[["ds", "version", "outcome"]],
            run.events[["ds", "label"]],
            xlim,
        )

    alert_rows = [
        {
            "ds": a["ds"].strftime(date),
            "uid": _fmt(a["unique_id"]),
            "kind": _fmt(a["kind"]),
            "method": _fmt(a["method"]),
            "statistic": _fmt(a["statistic"]),
            "p_value": _fmt(a["p_value"]),
            "threshold": _fmt(a["threshold"]),
            "severity": a["severity"],
            "badge": _badge(a["severity"]),
            "message": _fmt(a["message"]),
        }
        for a in run.alerts.head(MAX_ALERT_ROWS).to_dict("records")
    ]
    retrain_rows = []
    for r in run.retrains.to_dict("records"):
        challenger = pd.to_numeric(pd.Series([r["challenger_error"]]), errors="coerce").iloc[0]
        champion = pd.to_numeric(pd.Series([r["champion_error"]]), errors="coerce").iloc[0]
        gain = "—"
        if math.isfinite(challenger) and math.isfinite(champion) and champion != 0:
            gain = f"{(champion - challenger) / abs(champion):+.1%}"
        retrain_rows.append(
            {
                "ds": r["ds"].strftime(date),
                "trigger": _fmt(r["trigger"]),
                "version": r["version"],
                "outcome": r["outcome"],
                "badge": _badge(r["outcome"]),
                "challenger": _fmt(r["challenger_error"]),
                "champion": _fmt(r["champion_error"]),
                "gain": gain,
                "reason": _fmt(r["reason"]),
            }
        )
    champion_rows = [
        {
            "ds": c["ds"].strftime(date),
            "version": c["version"],
            "change": c["change"],
            "badge": _badge(c["change"]),
            "reason": _fmt(c["reason"]),
        }
        for c in run.champions.to_dict("records")
    ]
    severities = run.alerts["severity"].value_counts()
    outcomes = run.retrains["outcome"].value_counts()
    try:
        package_version = version("chronoguard")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        package_version = "unknown"
    return {
        "title": data.title,
        "generated_for": data.generated_for,
        "period": data.period,
        "package_version": package_version,
        "summary": {
            "series": len(ids),
            "checks": len(run.checks),
            "check_times": int(run.checks["ds"].nunique()),
            "alerting": int(run.checks["alerting"].sum()),
            "advisory": int(run.checks["finding"].sum()),
            "alerts": len(run.alerts),
            "severities": [(str(k), int(v)) for k, v in severities.items()],
            "retrains": len(run.retrains),
            "promoted": int(outcomes.get("promoted", 0)),
            "rejected": int(outcomes.get("rejected", 0)),
            "rollbacks": int((run.champions["change"] == "rollback").sum()),
            "champion": run.champions["version"].iloc[-1] if len(run.champions) else "—",
        },
        "metrics": [
            {"name": str(k), "value": _fmt(v), "note": _METRIC_NOTES.get(str(k).lower(), "")}
            for k, v in data.metrics.items()
        ],
        "sections": sections,
        "omitted": len(ids) - len(shown),
        "max_series": max_series,
        "timeline_png": timeline,
        "timeline_period": None
        if period is None
        else f"{period[0].strftime(date)} – {period[1].strftime(date)}",
        **_error_charts(run),
        "checks_table": _checks_table(run),
        "alerts_rows": alert_rows,
        "alerts_total": len(run.alerts),
        "retrain_rows": retrain_rows,
        "champion_rows": champion_rows,
        "config_rows": _flatten(data.config),
        "config_json": _config_json(data.config),
        "events": [
            {"ds": e["ds"].strftime(date), "label": _fmt(e["label"])}
            for e in run.events.to_dict("records")
        ],
        "fleet": fleet_context(data.fleet),
    }


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("chronoguard.dashboard", "templates"),
        autoescape=True,  # every user string is escaped; .j2 names defeat select_autoescape
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    data: ReportData, *, max_series: int = MAX_SERIES, max_points: int = plots.MAX_POINTS
) -> str:
    """The report as one HTML string (what :func:`write_report` writes)."""
    run = _prepare(data)
    context = _context(data, run, max_series=max_series, max_points=max_points)
    return _environment().get_template("report.html.j2").render(**context)


def write_report(
    data: ReportData,
    path: Path | str,
    *,
    max_series: int = MAX_SERIES,
    max_points: int = plots.MAX_POINTS,
) -> Path:
    """Write the report to ``path`` atomically and return the path.

    The HTML is rendered first, then written to a temporary file in the same directory and
    moved over ``path`` with :func:`os.replace`: a reader never sees half a report, and a
    failure leaves the previous file (if any) untouched and no temporary file behind.
    ``max_series`` caps the series plotted (the most alerted first, the rest counted in a
    note); ``max_points`` caps the points of each plotted line.
    """
    path = Path(path)
    html = render_report(data, max_series=max_series, max_points=max_points)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(html)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- live workspace


class _StoreView(Protocol):
    """The store reads the live report makes (:class:`chronoguard.store.Store` has them)."""

    def get_actuals(self, *, ds_to: datetime | None = None) -> pd.DataFrame: ...

    def get_forecasts(
        self,
        *,
        model_name: str | None = None,
        origin_to: datetime | None = None,
        served_only: bool = False,
    ) -> pd.DataFrame: ...

    def get_monitoring_results(self, *, ds_to: datetime | None = None) -> pd.DataFrame: ...

    def list_alerts(self, *, ds_to: datetime | None = None) -> Sequence[Any]: ...

    def list_retrains(self, model_name: str | None = None) -> Sequence[Any]: ...

    def deployment_history(self, model_name: str) -> Sequence[Any]: ...

    def list_series_decisions(
        self, model_name: str, *, ds_to: datetime | None = None
    ) -> Sequence[Any]: ...


class WorkspaceView(Protocol):
    """What :func:`workspace_report` reads of a workspace: a
    :class:`chronoguard.lifecycle.Workspace` is one."""

    @property
    def root(self) -> Path: ...

    @property
    def config(self) -> Any: ...

    @property
    def store(self) -> _StoreView: ...

    @property
    def model_name(self) -> str: ...


def _bound(until: datetime | pd.Timestamp | str | None) -> datetime | None:
    if until is None:
        return None
    try:
        stamp = pd.Timestamp(until)
    except (TypeError, ValueError) as exc:
        raise ChronoguardError(
            f"until={until!r} is not a timestamp ({exc}); pass an ISO date such as 2024-03-01"
        ) from None
    if stamp is pd.NaT:
        raise ChronoguardError("until is missing (NaT); pass an ISO date such as 2024-03-01")
    if stamp.tzinfo is not None:  # the store keeps naive UTC
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _live_metrics(actuals: pd.DataFrame, forecasts: pd.DataFrame) -> dict[str, float]:
    """Overall metrics of the served forecasts whose actuals have arrived.

    No MASE: its scale is the in-sample error on the training history, and the store keeps
    the actuals from the first cycle on, not the history the first version was trained on.
    """
    cols = ["unique_id", "ds", "y"]
    joined = forecasts.merge(actuals[cols], on=["unique_id", "ds"], how="inner")
    joined = joined[np.isfinite(joined["y"].to_numpy(float) - joined["yhat"].to_numpy(float))]
    if joined.empty:
        return {}
    y, yhat = joined["y"].to_numpy(float), joined["yhat"].to_numpy(float)
    err = y - yhat
    denominator = np.abs(y) + np.abs(yhat)
    ratio = np.divide(np.abs(err), denominator, out=np.zeros_like(err), where=denominator > 0)
    metrics = {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "smape": float(200.0 * np.mean(ratio)),
        "bias": float(np.mean(yhat - y)),
    }
    lo, hi = joined["yhat_lo"].to_numpy(float), joined["yhat_hi"].to_numpy(float)
    banded = np.isfinite(lo) & np.isfinite(hi)
    if banded.any():
        level = joined["level"].dropna() if "level" in joined else pd.Series(dtype=float)
        name = f"coverage_{int(level.iloc[0])}" if len(level) else "coverage"
        inside = (y[banded] >= lo[banded]) & (y[banded] <= hi[banded])
        metrics[name] = float(np.mean(inside))
    return metrics


def _live_fleet(decisions: Sequence[Any], budget: float | None) -> FleetSection | None:
    """The decisions per series and a per-cycle count of them (no peers: those need fits).

    ``budget`` is the configured CPU seconds per cycle (``None``: unlimited)."""
    if not decisions:
        return None
    frame = pd.DataFrame(
        {
            "ds": [pd.Timestamp(d.ds) for d in decisions],
            "unique_id": [d.unique_id for d in decisions],
            "action": [str(d.action) for d in decisions],
            "reason": [d.reason for d in decisions],
            "group": [d.group for d in decisions],
            "tier": [d.tier for d in decisions],
            "trigger": [d.trigger for d in decisions],
            "expected_loss": [d.expected_loss for d in decisions],
            "cpu_seconds": [d.cpu_seconds for d in decisions],
            "outcome": [str(d.outcome) for d in decisions],
            "gate_reason": [d.gate_reason for d in decisions],
        }
    )
    cycles = []
    for ds, group in frame.groupby("ds", sort=True):
        cpu = pd.to_numeric(group["cpu_seconds"], errors="coerce").fillna(0.0)
        # A series' first model is outside the budget (as in a replay's fleet summary).
        first = (group["action"] == "retrain") & group["trigger"].isin(FIRST_MODEL_TRIGGERS)
        actions = group.loc[~first, "action"].value_counts()
        cycles.append(
            {
                "ds": pd.Timestamp(str(ds)).strftime("%Y-%m-%d"),
                "first_models": int(first.sum()),
                "candidates": int(actions.get("retrain", 0) + actions.get("over_budget", 0)),
                "retrained": int(actions.get("retrain", 0)),
                "over_budget": int(actions.get("over_budget", 0)),
                "waiting": int(actions.get("wait", 0)),
                "kept": int(actions.get("keep", 0)),
                "cpu_charged": float(cpu[(group["action"] == "retrain") & ~first].sum()),
                "cpu_left_out": float(cpu[group["action"] == "over_budget"].sum()),
                "cpu_budget": budget,
            }
        )
    return FleetSection(decisions=frame, cycles=cycles, policies=[], cpu_budget=budget)


def workspace_data(
    ws: WorkspaceView,
    *,
    until: datetime | pd.Timestamp | str | None = None,
    title: str | None = None,
) -> ReportData:
    """The report's data of a live workspace, read from its store (nothing is fitted).

    Reads the stored actuals, the served forecasts (not the shadows), the monitoring
    results, alerts, retrains and series decisions, and the deployment history of the
    workspace's model, all up to ``until`` (a data time, inclusive; ``None``: everything
    stored), so a report of a past date shows what was known then.
    """
    bound = _bound(until)
    store, model = ws.store, ws.model_name
    actuals = store.get_actuals(ds_to=bound)
    forecasts = store.get_forecasts(model_name=model, origin_to=bound, served_only=True)
    checks = store.get_monitoring_results(ds_to=bound)
    if actuals.empty and forecasts.empty:
        raise ChronoguardError(
            f"workspace {ws.root} holds no actuals or forecasts"
            + ("" if bound is None else f" up to {bound:%Y-%m-%d %H:%M}")
            + ": run `chronoguard cycle` (or a replay) on it first"
        )
    if len(checks):
        details = checks["details"] if "details" in checks else pd.Series([None] * len(checks))
        checks = checks.assign(
            threshold_on=[
                (d if isinstance(d, Mapping) else {}).get("threshold_on", "statistic")
                for d in details
            ]
        )
    alerts = [
        {
            "ds": a.ds,
            "unique_id": a.unique_id,
            "kind": a.kind,
            "method": a.method,
            "statistic": a.statistic,
            "p_value": a.p_value,
            "threshold": a.threshold,
            "severity": a.severity,
            "message": a.message,
        }
        for a in store.list_alerts(ds_to=bound)
    ]
    retrains = [
        {
            "ds": r.ds,
            "trigger": r.trigger,
            "version": r.challenger_version,
            "outcome": r.outcome,
            "challenger_error": r.challenger_error,
            "champion_error": r.champion_error,
            "reason": r.reason,
        }
        for r in store.list_retrains(model)
        if bound is None or r.ds <= bound
    ]
    moves: dict[tuple[datetime, str, str], int] = {}  # one row per deployment batch
    for m in store.deployment_history(model):
        if bound is None or m.at <= bound:
            key = (m.at, m.version, m.reason)
            moves[key] = moves.get(key, 0) + 1
    champion_history: list[dict[str, Any]] = [
        {"ds": at, "version": v, "reason": f"{reason} ({n} series)"}
        for (at, v, reason), n in moves.items()
    ]
    cfg = ws.config
    budget = cfg.budget.cpu_seconds_per_cycle or None
    fleet = _live_fleet(store.list_series_decisions(model, ds_to=bound), budget)
    # The period: from the first version served (or the first forecast) to the last data.
    firsts = [pd.Timestamp(c["ds"]) for c in champion_history]
    firsts += [pd.Timestamp(forecasts["origin"].min())] if len(forecasts) else []
    start = min(firsts) if firsts else pd.Timestamp(actuals["ds"].min())
    lasts = [pd.Timestamp(f["ds"].max()) for f in (actuals, checks) if len(f)]
    end = max([start, *lasts])
    midnight = start == start.normalize() and end == end.normalize()
    shown = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M"
    name = ws.root.name or str(ws.root)
    return ReportData(
        title=title or f"chronoguard workspace — {name}",
        generated_for=f"{name} (model {model})",
        period=f"{start.strftime(shown)} – {end.strftime(shown)}",
        actuals=actuals[["unique_id", "ds", "y"]],
        forecasts=forecasts,
        checks=checks,
        alerts=alerts,
        retrains=retrains,
        champion_history=champion_history,
        metrics=_live_metrics(actuals, forecasts),
        config=cfg.to_dict(),
        fleet=fleet,
    )


def workspace_report(
    ws: WorkspaceView,
    *,
    until: datetime | pd.Timestamp | str | None = None,
    title: str | None = None,
    max_series: int = MAX_SERIES,
    max_points: int = plots.MAX_POINTS,
) -> str:
    """The lifecycle report of a live workspace as one HTML string; no replay needed.

    ``ws`` is an open :class:`chronoguard.lifecycle.Workspace`; its store is read as
    :func:`workspace_data` says, up to ``until`` (a data time; ``None``: everything stored).
    The same store gives the same bytes: nothing here reads the wall clock.

    The command ``chronoguard report --workspace WS --out FILE [--until T]`` is this, with
    the workspace opened read-only by the CLI::

        with open_workspace(Path(WS)) as ws:
            write_workspace_report(ws, FILE, until=T)

    A workspace with no actuals and no forecasts yet raises
    :class:`~chronoguard.errors.ChronoguardError` saying to run a cycle first (exit 2).
    """
    data = workspace_data(ws, until=until, title=title)
    return render_report(data, max_series=max_series, max_points=max_points)


def write_workspace_report(
    ws: WorkspaceView,
    path: Path | str,
    *,
    until: datetime | pd.Timestamp | str | None = None,
    title: str | None = None,
    max_series: int = MAX_SERIES,
    max_points: int = plots.MAX_POINTS,
) -> Path:
    """Write :func:`workspace_report` to ``path`` atomically (as :func:`write_report` does)."""
    data = workspace_data(ws, until=until, title=title)
    return write_report(data, path, max_series=max_series, max_points=max_points)
