"""A self-contained static HTML report of a lifecycle run (a replay of history).

The report is one file: plots are embedded as base64 PNG and the CSS is inline, so it opens in
a browser without a server and can be mailed or attached to a ticket. It takes plain data in
(:class:`ReportData`) and reads nothing else: no store, no registry, no wall clock, so the same
run gives the same bytes.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from chronoguard.dashboard import plots
from chronoguard.dashboard.fleet import FleetSection, fleet_context
from chronoguard.errors import DataContractError

__all__ = ["MAX_ALERT_ROWS", "MAX_SERIES", "ReportData", "render_report", "write_report"]

MAX_SERIES = 12  # series plotted; a fleet's other series are counted in a note
MAX_ALERT_ROWS = 200

_FRAMES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # name: (required columns, optional columns with their fill value)
    "actuals": (("unique_id", "ds", "y"), {}),
    "forecasts": (
        ("unique_id", "ds", "horizon", "yhat"),
        {"origin": pd.NaT, "yhat_lo": np.nan, "yhat_hi": np.nan, "version": ""},
    ),
    "checks": (
        ("ds", "unique_id", "kind", "method", "statistic", "threshold", "decision"),
        {"feature": "y", "p_value": np.nan, "threshold_on": "statistic"},
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
    """The most troubled series first: alerts, then flagged checks, then name."""
    alerts = run.alerts["unique_id"].value_counts()
    flagged = run.checks[run.checks["decision"]]["unique_id"].value_counts()
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
        "n_flagged": int(checks["decision"].sum()),
        "n_alerts": int((run.alerts["unique_id"] == uid).sum()),
    }


def _checks_table(run: _Run) -> list[dict[str, str]]:
    rows = []
    for (kind, method, on), group in run.checks.groupby(["kind", "method", "threshold_on"]):
        flagged = group[group["decision"]]
        rows.append(
            {
                "kind": str(kind),
                "method": str(method),
                "on": "p-value" if on == "p_value" else "statistic",
                "features": ", ".join(sorted(group["feature"].unique())[:6])
                + (" …" if group["feature"].nunique() > 6 else ""),
                "checks": str(len(group)),
                "flagged": str(len(flagged)),
                "rate": f"{len(flagged) / len(group):.1%}",
                "series": str(flagged["unique_id"].nunique()),
            }
        )
    return rows


def _context(data: ReportData, run: _Run, max_series: int, max_points: int) -> dict[str, Any]:
    date = run.date_format
    ids = _series_order(run)
    shown = ids if len(ids) <= max_series else _ranked(run, ids)[:max_series]
    sections = [_series_section(run, u, f"series-{i}", max_points) for i, u in enumerate(shown)]

    starts = [run.actuals["ds"], run.forecasts["ds"], run.champions["ds"], run.retrains["ds"]]
    stamps = plots.to_num(pd.concat(starts))
    timeline = None
    if len(stamps):
        xlim = (float(stamps.min()) - run.step / 2, float(stamps.max()) + run.step)
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
            "flagged": int(run.checks["decision"].sum()),
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
