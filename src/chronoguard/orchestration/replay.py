"""Replay real history as if it arrived period by period: the whole lifecycle in one run.

At each period the actuals arrive and are stored, a monitoring check compares the recent
window against the champion's reference profile, the retraining rule decides, a challenger
is trained on data that ends before a held-out window, the gate decides, aliases move,
and the champion serves the next forecasts. The clock is the replayed timestamp: nothing
here reads the wall clock, so a replay is deterministic.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from chronoguard import __version__
from chronoguard.alerts import AlertBook
from chronoguard.dashboard import ReportData, write_report
from chronoguard.data import ValidatedFrame
from chronoguard.errors import ChronoguardError, WorkspaceError
from chronoguard.forecasting import Forecaster
from chronoguard.forecasting.metrics import coverage, mae, rmse, scale_mase, smape
from chronoguard.lifecycle import (
    Workspace,
    promote,
    retrain,
    serve_forecasts,
    train_version,
    training_window,
)
from chronoguard.monitoring import run_monitoring
from chronoguard.policy import CheckSummary, RetrainRule

ACTOR = "chronoguard replay"
ProgressFn = Callable[[int, int, pd.Timestamp], None]


@dataclass
class ReplayState:
    """What the replay keeps between periods (the store keeps the rest)."""

    champion: Forecaster
    champion_version: str
    reference: dict[str, Any]
    last_retrain: int
    checks: list[CheckSummary] = field(default_factory=list)
    retrains: list[dict[str, Any]] = field(default_factory=list)
    champion_history: list[dict[str, Any]] = field(default_factory=list)


def replay(
    checked: ValidatedFrame,
    ws: Workspace,
    *,
    source: str,
    events: Sequence[tuple[str, str]] = (),
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Replay validated data through the lifecycle in workspace ``ws``; return the summary.

    Validate first (:func:`chronoguard.data.validate_frame` with the config's ``freq`` and
    ``exog``), so bad input fails before the workspace is touched.

    Writes ``ws.root / "summary.json"`` and an HTML report under ``ws.root / "reports"``.
    ``events`` are documented changes ``(ds, label)`` to measure detection against.
    """
    cfg = ws.config
    model = ws.model_name
    keep = ["unique_id", "ds", "y", *cfg.data.exog]
    df = checked.df[keep]
    freq = checked.freq
    timeline = pd.DatetimeIndex(np.sort(df["ds"].unique()))
    start = cfg.training.initial_window
    if len(timeline) < start + cfg.gate.validation_window + 2:
        raise ChronoguardError(
            f"{source} has {len(timeline)} periods; a replay needs more than "
            f"training.initial_window ({start}) + gate.validation_window "
            f"({cfg.gate.validation_window}) + 2: lower initial_window or use longer data"
        )
    if ws.registry.list_versions(model):
        raise WorkspaceError(
            f"workspace {ws.root} already holds versions of '{model}'; a replay starts "
            "from nothing: use a new --workspace directory"
        )
    rule = RetrainRule(
        tuple(cfg.retraining.triggers),
        k=cfg.retraining.k,
        n=cfg.retraining.n,
        cooldown=cfg.retraining.cooldown,
        schedule_every=cfg.retraining.schedule_every,
    )
    t0 = timeline[start - 1]
    first = train_version(
        training_window(df, t0, start), cfg, ws.registry, freq=freq, now=t0, trigger="initial"
    )
    v1 = first.version.version
    promote(ws.registry, ws.store, model, v1, by=ACTOR, reason="initial training", at=t0)
    state = ReplayState(first.forecaster, v1, first.reference, last_retrain=start - 1)
    state.champion_history.append(
        {"ds": str(t0.date()), "version": v1, "reason": "initial training"}
    )
    alerts = AlertBook()
    serve_forecasts(
        ws.store,
        state.champion,
        df,
        origin=t0,
        horizon=cfg.forecast.horizon,
        model_name=model,
        version=v1,
    )

    total = len(timeline) - start
    for i in range(start, len(timeline)):
        now = timeline[i]
        arrived = df[df["ds"] == now]
        ws.store.record_actuals(arrived[["unique_id", "ds", "y"]], received_at=now)
        if (i - start) % cfg.monitoring.every == 0:
            _check(ws, df, timeline, i, state, alerts, rule, freq)
        if i < len(timeline) - 1:
            serve_forecasts(
                ws.store,
                state.champion,
                df,
                origin=now,
                horizon=cfg.forecast.horizon,
                model_name=model,
                version=state.champion_version,
            )
        if progress is not None:
            progress(i - start + 1, total, now)

    summary = _summarise(ws, df, timeline, start, state, alerts, events, source)
    return summary


def _check(
    ws: Workspace,
    df: pd.DataFrame,
    timeline: pd.DatetimeIndex,
    i: int,
    state: ReplayState,
    alerts: AlertBook,
    rule: RetrainRule,
    freq: str,
) -> None:
    cfg = ws.config
    now = timeline[i]
    lo = timeline[max(0, i - cfg.monitoring.window + 1)]
    window = df[(df["ds"] >= lo) & (df["ds"] <= now)]
    stored = ws.store.get_actuals(ds_from=lo, ds_to=now)
    window = window.drop(columns="y").merge(
        stored[["unique_id", "ds", "y"]], on=["unique_id", "ds"]
    )
    served = ws.store.get_forecasts(ds_from=lo, ds_to=now)
    since = _since_reference(ws, df, state.reference, now)
    trained_to = min(pd.Timestamp(s["train_end"]) for s in state.reference["series"].values())
    served_since = ws.store.get_forecasts(
        ds_from=trained_to, ds_to=now, version=state.champion_version
    )
    report = run_monitoring(
        state.reference,
        window,
        served,
        now=now,
        freq=freq,
        monitoring=cfg.monitoring,
        version=state.champion_version,
        since_reference=since,
        served_since_reference=served_since,
    )
    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{ws.root}/{now}").hex
    ws.store.record_monitoring_results(run_id, now, report.records())
    alerts.update(ws.store, report, now=now)
    state.checks.append(CheckSummary(now, report.fired_kinds))
    decision = rule.decide(state.checks, periods_since_retrain=i - state.last_retrain)
    if decision.retrain:
        _retrain(ws, df, timeline, i, state, decision.trigger, freq)


def _since_reference(
    ws: Workspace, df: pd.DataFrame, reference: dict[str, Any], now: pd.Timestamp
) -> pd.DataFrame:
    """Observations after each series' reference (training) end up to ``now``.

    Targets come from the store (the actuals as received); exogenous features from the data.
    """
    ends = {uid: pd.Timestamp(s["train_end"]) for uid, s in reference["series"].items()}
    first = min(ends.values())
    stored = ws.store.get_actuals(ds_from=first, ds_to=now)[["unique_id", "ds", "y"]]
    rows = df[(df["ds"] > first) & (df["ds"] <= now)].drop(columns="y")
    rows = rows.merge(stored, on=["unique_id", "ds"], how="inner")
    after = rows["ds"] > rows["unique_id"].map(ends)
    return rows[after].reset_index(drop=True)


def _retrain(
    ws: Workspace,
    df: pd.DataFrame,
    timeline: pd.DatetimeIndex,
    i: int,
    state: ReplayState,
    trigger: str,
    freq: str,
) -> None:
    now = timeline[i]
    res = retrain(
        ws,
        df,
        freq=freq,
        now=now,
        trigger=trigger,
        champion=state.champion,
        champion_version=state.champion_version,
        by=ACTOR,
    )
    version, result, outcome = res.challenger.version.version, res.gate, res.outcome
    if outcome == "promoted":
        state.champion, state.champion_version, state.reference = (
            res.challenger.forecaster,
            version,
            res.challenger.reference,
        )
        state.champion_history.append(
            {"ds": str(now.date()), "version": version, "reason": trigger}
        )
        state.checks.clear()  # the new champion starts with a clean record
    state.last_retrain = i
    state.retrains.append(
        {
            "ds": str(now.date()),
            "trigger": trigger,
            "version": version,
            "outcome": outcome,
            "challenger_error": round(result.challenger_error, 6),
            "champion_error": round(result.champion_error, 6),
            "metric": result.metric,
            "validation_window": [str(res.window_start.date()), str(now.date())],
            "train_window": [str(res.train_start.date()), str(res.train_end.date())],
            "reason": result.reason,
        }
    )


def _summarise(
    ws: Workspace,
    df: pd.DataFrame,
    timeline: pd.DatetimeIndex,
    start: int,
    state: ReplayState,
    alerts: AlertBook,
    events: Sequence[tuple[str, str]],
    source: str,
) -> dict[str, Any]:
    cfg = ws.config
    m = cfg.data.season_length
    fc = ws.store.get_forecasts()
    actual = ws.store.get_actuals()
    joined = fc.merge(actual[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    initial = df[df["ds"] <= timeline[start - 1]]
    scales = {uid: scale_mase(g["y"].to_numpy(float), m) for uid, g in initial.groupby("unique_id")}
    joined["scale"] = joined["unique_id"].map(scales)
    y, yhat = joined["y"].to_numpy(float), joined["yhat"].to_numpy(float)
    scaled = np.abs(y - yhat) / joined["scale"].to_numpy(float)
    metrics: dict[str, float] = {
        "mae": mae(y, yhat),
        "rmse": rmse(y, yhat),
        "smape": smape(y, yhat),
        "mase": float(np.mean(scaled)),
    }
    h1 = joined[joined["horizon"] == 1]
    metrics["mae_h1"] = mae(h1["y"].to_numpy(float), h1["yhat"].to_numpy(float))
    metrics["mase_h1"] = float(np.mean(np.abs(h1["y"] - h1["yhat"]) / h1["scale"]))
    if joined["yhat_lo"].notna().any():
        metrics[f"coverage_{int(joined['level'].dropna().iloc[0])}"] = coverage(
            y, joined["yhat_lo"].to_numpy(float), joined["yhat_hi"].to_numpy(float)
        )
    per_h = (
        joined.assign(abs_err=np.abs(y - yhat), scaled=scaled)
        .groupby("horizon")
        .agg(mae=("abs_err", "mean"), mase=("scaled", "mean"), n=("abs_err", "size"))
        .reset_index()
    )
    alert_list = alerts.as_dicts()
    detection = []
    for ds, label in events:
        t = pd.Timestamp(ds)
        after = [a for a in alert_list if pd.Timestamp(a["ds"]) >= t]
        first_alert = min((pd.Timestamp(a["ds"]) for a in after), default=None)
        delay = (
            None
            if first_alert is None
            else int(timeline.searchsorted(first_alert) - timeline.searchsorted(t))
        )
        detection.append(
            {
                "ds": ds,
                "label": label,
                "first_alert": None if first_alert is None else str(first_alert.date()),
                "delay_periods": delay,
                "alerts_before": sum(pd.Timestamp(a["ds"]) < t for a in alert_list),
            }
        )
    checks = ws.store.get_monitoring_results()
    if len(checks):
        checks["threshold_on"] = [
            (d or {}).get("threshold_on", "statistic") for d in checks["details"]
        ]
    report_path = ws.reports_dir / "replay.html"
    summary: dict[str, Any] = {
        "chronoguard_version": __version__,
        "source": source,
        "model": cfg.model.name,
        "registered_model": ws.model_name,
        "period": [str(timeline[start].date()), str(timeline[-1].date())],
        "n_periods": len(timeline) - start,
        "n_checks": int(checks["run_id"].nunique()) if len(checks) else 0,
        "alerts": alert_list,
        "retrains": state.retrains,
        "champion_history": state.champion_history,
        "champion": state.champion_version,
        **{k: round(float(v), 6) for k, v in metrics.items()},
        "errors_by_horizon": per_h.round(6).to_dict(orient="records"),
        "known_changes": detection,
        "report": str(report_path),
    }
    write_report(
        ReportData(
            title=f"chronoguard replay — {source}",
            generated_for=source,
            period=f"{summary['period'][0]} – {summary['period'][1]}",
            actuals=df[["unique_id", "ds", "y"]],
            forecasts=fc,
            checks=checks,
            alerts=alert_list,
            retrains=state.retrains,
            champion_history=state.champion_history,
            metrics=metrics,
            config=cfg.to_dict(),
            events=[{"ds": ds, "label": label} for ds, label in events],
        ),
        report_path,
    )
    out = ws.root / "summary.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(out)
    return summary
