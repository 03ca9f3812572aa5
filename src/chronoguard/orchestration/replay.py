"""Replay real history as if it arrived period by period: the production cycle on a simulated clock.

At each period one production cycle runs (:func:`~chronoguard.orchestration.cycle.run_cycle`):
the actuals arrive and are stored, every series is checked against the reference of the
version serving it, the retraining rule decides per series, the chosen series are
retrained and gated series by series, the winners are deployed, and the next forecasts are
served. The clock is the replayed timestamp: nothing here reads the wall clock, so a replay
is deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from chronoguard import __version__
from chronoguard.alerts import alert_summary
from chronoguard.dashboard import ReportData, write_report
from chronoguard.data import ValidatedFrame
from chronoguard.errors import ChronoguardError, WorkspaceError
from chronoguard.forecasting.metrics import coverage, mae, rmse, scale_mase, smape
from chronoguard.lifecycle import Workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration.cycle import run_cycle
from chronoguard.orchestration.fleet_summary import (
    FleetSummary,
    check_peers_possible,
    summarise_fleet,
)

ACTOR = "chronoguard replay"
ProgressFn = Callable[[int, int, pd.Timestamp], None]


def replay(
    checked: ValidatedFrame,
    ws: Workspace,
    *,
    source: str,
    events: Sequence[tuple[str, str]] = (),
    progress: ProgressFn | None = None,
    peers: bool = False,
) -> dict[str, Any]:
    """Replay validated data through the production cycle in workspace ``ws``; return the summary.

    The replay is :func:`~chronoguard.orchestration.cycle.run_cycle` driven by a simulated
    clock: the first cycle (at the end of ``training.initial_window``) trains and deploys the
    first version, then one cycle runs at every later timestamp of the data. Everything the
    cycles keep between them is in the store, so the same cycles run one by one
    (``chronoguard cycle --now T``) reach the same state.

    Validate first (:func:`chronoguard.data.validate_frame` with the config's ``freq`` and
    ``exog``), so bad input fails before the workspace is touched.

    Writes ``ws.root / "summary.json"`` and an HTML report under ``ws.root / "reports"``.
    ``events`` are documented changes ``(ds, label)`` to measure detection against.
    ``peers`` adds the fleet part (:mod:`~chronoguard.orchestration.fleet_summary`): the
    decisions per series, the budget per cycle, and the loop against ``never``, ``always``,
    ``fixed`` and a naive trigger fitted on the replay's origins (one fit per series and
    origin, on the workspace's compute backend), under ``fleet`` in the summary and as a
    section of the report.
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
    if peers:  # a replay whose peers cannot be compared fails before its first cycle
        check_peers_possible(df, timeline, start, exog=cfg.data.exog)
    cache = VersionCache(ws)
    total = len(timeline) - start
    for i in range(start - 1, len(timeline)):
        now = timeline[i]
        run_cycle(ws, df, freq=freq, now=now, by=ACTOR, cache=cache)
        if progress is not None and i >= start:
            progress(i - start + 1, total, now)
    fleet = summarise_fleet(ws, df, timeline, start, freq=freq) if peers else None
    return _summarise(ws, df, timeline, start, events, source, fleet)


def retrain_history(ws: Workspace, timeline: pd.DatetimeIndex) -> list[dict[str, Any]]:
    """Every retrain batch in the store, with its validation and training windows."""
    cfg = ws.config
    out = []
    for r in ws.store.list_retrains(ws.model_name):
        ds = pd.Timestamp(r.ds)
        upto = timeline[timeline <= ds]
        window_start = upto[-cfg.gate.validation_window]
        lineage = ws.registry.get_version(ws.model_name, r.challenger_version).lineage
        out.append(
            {
                "ds": str(ds.date()),
                "trigger": r.trigger,
                "version": r.challenger_version,
                "outcome": r.outcome,
                "challenger_error": round(float(r.challenger_error or np.nan), 6),
                "champion_error": round(float(r.champion_error or np.nan), 6),
                "metric": cfg.gate.metric,
                "validation_window": [str(window_start.date()), str(ds.date())],
                "train_window": [
                    str(pd.Timestamp(lineage.train_start).date()),
                    str(pd.Timestamp(lineage.train_end).date()),
                ],
                "reason": r.reason,
            }
        )
    return out


def deployment_history(ws: Workspace) -> list[dict[str, Any]]:
    """Deployment moves grouped by time, version and reason (one row per move of a batch)."""
    groups: dict[tuple[str, str, str], int] = {}
    for m in ws.store.deployment_history(ws.model_name):
        key = (str(pd.Timestamp(m.at).date()), m.version, m.reason)
        groups[key] = groups.get(key, 0) + 1
    return [
        {"ds": ds, "version": v, "reason": reason, "n_series": n}
        for (ds, v, reason), n in groups.items()
    ]


def watch_history(ws: Workspace) -> list[dict[str, Any]]:
    """Every watch of a promotion, with its verdict."""
    return [
        {
            "unique_id": w.unique_id,
            "opened": str(pd.Timestamp(w.opened_at).date()),
            "version": w.version,
            "previous_version": w.previous_version,
            "status": w.status,
            "closed": None if w.closed_at is None else str(pd.Timestamp(w.closed_at).date()),
            "challenger_mae": None if w.challenger_error is None else round(w.challenger_error, 6),
            "previous_mae": None if w.previous_error is None else round(w.previous_error, 6),
            "n_pairs": w.n_pairs,
            "reason": w.reason,
        }
        for w in ws.store.list_watches(ws.model_name)
    ]


def _summarise(
    ws: Workspace,
    df: pd.DataFrame,
    timeline: pd.DatetimeIndex,
    start: int,
    events: Sequence[tuple[str, str]],
    source: str,
    fleet: FleetSummary | None = None,
) -> dict[str, Any]:
    cfg = ws.config
    retrains = retrain_history(ws, timeline)
    champion_history = deployment_history(ws)
    deployment = ws.store.get_deployment(ws.model_name)
    m = cfg.data.season_length
    fc = ws.store.get_forecasts(served_only=True)  # what was served, not the shadows
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
    alert_list = [alert_summary(a) for a in ws.store.list_alerts()]
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
        "retrains": retrains,
        "champion_history": champion_history,
        "watches": watch_history(ws),
        "champion": ws.store.current_alias(ws.model_name, "champion"),
        "deployment": {v: len(deployment.series_of(v)) for v in deployment.versions_in_use()},
        **{k: round(float(v), 6) for k, v in metrics.items()},
        "errors_by_horizon": per_h.round(6).to_dict(orient="records"),
        "known_changes": detection,
        "report": str(report_path),
    }
    if fleet is not None:
        summary["fleet"] = fleet.to_dict()
    write_report(
        ReportData(
            title=f"chronoguard replay — {source}",
            generated_for=source,
            period=f"{summary['period'][0]} – {summary['period'][1]}",
            actuals=df[["unique_id", "ds", "y"]],
            forecasts=fc,
            checks=checks,
            alerts=alert_list,
            retrains=retrains,
            champion_history=champion_history,
            metrics=metrics,
            config=cfg.to_dict(),
            events=[{"ds": ds, "label": label} for ds, label in events],
            fleet=None if fleet is None else fleet.to_report(),
        ),
        report_path,
    )
    out = ws.root / "summary.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str))
    tmp.replace(out)
    return summary
