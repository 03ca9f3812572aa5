"""The steps of the production cycle: check, decide, retrain and gate, serve, and the first
training. :func:`~chronoguard.orchestration.cycle.run_cycle` runs them in order under the
cycle's ledger; each step commits its writes together with its ledger stage.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.alerts import AlertBook, SeriesPlace, queue_notifications
from chronoguard.alerts.book import ROLLBACK_METHOD
from chronoguard.config import TIERS, ChronoguardConfig
from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import (
    TrainedVersion,
    Workspace,
    serve_forecasts,
    train_version,
    training_window,
)
from chronoguard.lifecycle.approvals import expire_approvals, held_series, request_approval
from chronoguard.lifecycle.deploy import CHAMPION
from chronoguard.lifecycle.fleet import (
    SeriesGate,
    VersionCache,
    deploy_series,
    gate_series,
    reference_for,
)
from chronoguard.lifecycle.rollout import CANARY_ALIAS, start_rollout
from chronoguard.lifecycle.train import TrainingProgress, training_minimum
from chronoguard.lifecycle.watch import new_watches, periods_between, serve_shadows
from chronoguard.monitoring import (
    DECAY_METHOD,
    SEQUENTIAL_METHOD,
    MonitoringReport,
    check_levels,
    fleet_alerts,
    run_monitoring,
)
from chronoguard.monitoring.incidents import period_word
from chronoguard.policy import (
    Action,
    CheckSummary,
    RetrainDecision,
    RetrainRule,
    SeriesEvidence,
    plan_cycle,
    resolve_groups,
)
from chronoguard.registry import VersionReference
from chronoguard.store import (
    Alert,
    DecisionOutcomeUpdate,
    Deployment,
    SeriesCheck,
    SeriesDecision,
    WatchKind,
)


@dataclass(frozen=True)
class BatchResult:
    """A retrain of several series as one version, gated series by series."""

    version: str
    trigger: str
    gates: Mapping[str, SeriesGate]
    window_start: pd.Timestamp
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    held: frozenset[str] = frozenset()  # passed, waiting for approval (the tier's policy)

    @property
    def promoted(self) -> tuple[str, ...]:
        return tuple(sorted(u for u, g in self.gates.items() if g.passed and u not in self.held))

    @property
    def rejected(self) -> tuple[str, ...]:
        return tuple(sorted(u for u, g in self.gates.items() if not g.passed))

    @property
    def awaiting_approval(self) -> tuple[str, ...]:
        return tuple(sorted(self.held))


def _rule(ws: Workspace) -> RetrainRule:
    r = ws.config.retraining
    return RetrainRule(
        tuple(r.triggers), k=r.k, n=r.n, cooldown=r.cooldown, schedule_every=r.schedule_every
    )


def first_window(
    ws: Workspace, known: pd.DataFrame, now: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, int], int]:
    """The first version's training window (series with enough history only), the series
    that wait with their number of periods, and the minimum; raises, before anything is
    written, when no series has enough."""
    cfg = ws.config
    window = training_window(known, now, cfg.training.initial_window)
    if window.empty:
        raise ChronoguardError(f"no data at or before {now} to train the first version on")
    # Series with too short a history wait for a later cycle (see :func:`new_series`).
    lengths = window.groupby("unique_id", sort=True).size()
    needed = training_minimum(cfg)
    keep = [str(u) for u in lengths.index[lengths >= needed]]
    if not keep:
        raise ChronoguardError(
            f"no series has the {needed} periods up to {now} that a first model needs "
            f"(2 seasons of {cfg.data.season_length} + horizon {cfg.forecast.horizon} + the "
            f"backtest's later origins); the longest has {int(lengths.max())}: run the first "
            "cycle later, or shorten forecast.horizon / training.backtest_windows"
        )
    waiting = {str(u): int(n) for u, n in lengths.items() if n < needed}
    return window[window["unique_id"].isin(keep)].reset_index(drop=True), waiting, needed


def bootstrap(
    ws: Workspace,
    data: pd.DataFrame,
    known: pd.DataFrame,
    *,
    freq: str,
    now: pd.Timestamp,
    by: str,
    cache: VersionCache,
    progress: TrainingProgress | None = None,
) -> None:
    """The first cycle: train on the initial window and deploy to every series.

    ``progress`` hears of the training's fits (see :func:`~chronoguard.lifecycle.train_version`).
    """
    cfg = ws.config
    model = ws.model_name
    window, waiting, needed = first_window(ws, known, now)
    series = sorted(window["unique_id"].astype(str).unique())
    # One version per model: model.name's, and one for each model a group chooses.
    families = model_families(cfg, series, known)
    serving: dict[str, str] = {}
    keys: list[str] = []
    for family, ids in families.items():
        key = _family_key(f"bootstrap {now.isoformat()}", cfg, family)
        part = window if len(families) == 1 else window[window["unique_id"].isin(ids)]

        def train(part: pd.DataFrame = part, family: str = family, key: str = key) -> Any:
            return train_version(
                part,
                config_for(cfg, family),
                ws.registry,
                freq=freq,
                now=now,
                trigger="initial",
                intent=key,
                progress=progress,
            )

        v = _train_or_adopt(ws, key, now, train)
        serving.update(dict.fromkeys(ids, v))
        keys.append(key)
    reason = "initial training"
    groups = resolve_groups(
        cfg.groups,
        series,
        known if any(g.column for g in cfg.groups) else None,
        default_cost_per_unit_error=cfg.budget.default_cost_per_unit_error,
    )
    with ws.store.transaction():
        for v in sorted(set(serving.values()), key=int):
            ws.store.set_version_status(model, v, "candidate", at=now, by=by, reason="initial")
        ws.store.record_series_decisions(
            [
                SeriesDecision(
                    model_name=model,
                    ds=now.to_pydatetime(),
                    unique_id=u,
                    action="retrain",
                    trigger="initial",
                    reason=reason,
                    tier=str(groups[u].tier),
                    group=groups[u].group,
                    outcome="promoted",
                    challenger_version=serving[u],
                )
                for u in series
            ]
            + _waiting_decisions(model, now, waiting, needed)
        )
        deploy_series(ws, serving, by=by, reason=reason, at=now, batch=f"{now}")
        for key in keys:
            _close_intent(ws, key, now)
        ws.store.advance_cycle(model, now, "retrained")


NEW_SERIES = "new_series"


def new_series(
    ws: Workspace, known: pd.DataFrame, deployment: Deployment
) -> tuple[dict[str, int], dict[str, int], int]:
    """Series in the data that no version serves yet: those with enough history for a first
    model and those still waiting (each with its number of periods), and the minimum."""
    fresh = known[~known["unique_id"].isin(list(deployment.versions))]
    needed = training_minimum(ws.config)
    if fresh.empty:
        return {}, {}, needed
    lengths = fresh.groupby("unique_id", sort=True).size()
    ready = {str(u): int(n) for u, n in lengths.items() if n >= needed}
    waiting = {str(u): int(n) for u, n in lengths.items() if n < needed}
    return ready, waiting, needed


def _waiting_decisions(
    model: str, now: pd.Timestamp, waiting: Mapping[str, int], needed: int
) -> list[SeriesDecision]:
    return [
        SeriesDecision(
            model_name=model,
            ds=now.to_pydatetime(),
            unique_id=u,
            action="wait",
            reason=(
                f"new series: {n} of the {needed} periods a first model needs; it is served "
                "once a cycle has trained it"
            ),
        )
        for u, n in sorted(waiting.items())
    ]


def model_families(
    cfg: ChronoguardConfig, series: Sequence[str], data: pd.DataFrame | None
) -> dict[str, list[str]]:
    """``series`` by the model that trains them: their group's own ``model``, else
    ``model.name``; ``model.name``'s first, then the others by name. Groups are resolved
    over every series of ``data`` (a group that matches none of ``series`` is fine here)."""
    default = cfg.model.name
    own = {g.name: g.model for g in cfg.groups if g.model and g.model != default}
    if not own:
        return {default: sorted(series)}
    everyone = sorted({*series, *(data["unique_id"].astype(str) if data is not None else ())})
    column = any(g.column for g in cfg.groups)
    placed = resolve_groups(cfg.groups, everyone, data if column else None)
    out: dict[str, list[str]] = {}
    for u in sorted(series):
        out.setdefault(own.get(placed[u].group or "", default), []).append(u)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != default, kv[0])))


def config_for(cfg: ChronoguardConfig, family: str) -> ChronoguardConfig:
    """The configuration that trains the series of model ``family``: ``cfg`` itself for
    ``model.name``, else ``cfg`` with ``model.name = family`` and that model's defaults
    (``model.params`` are ``model.name``'s)."""
    if family == cfg.model.name:
        return cfg
    return cfg.model_copy(
        update={"model": cfg.model.model_copy(update={"name": family, "params": {}})}
    )


def _family_key(key: str, cfg: ChronoguardConfig, family: str | None) -> str:
    """The intent key of a training step for ``family``: ``key`` for ``model.name`` (as
    before groups could choose a model), ``key`` and the model's name for the others."""
    return key if family is None or family == cfg.model.name else f"{key} {family}"


def _train_or_adopt(
    ws: Workspace, key: str, now: pd.Timestamp, train: Callable[[], TrainedVersion]
) -> str:
    """Train a version under a write-ahead intent, or adopt the one an interrupted run of
    the same step left in MLflow (so a resumed cycle never logs a second version)."""
    model = ws.model_name
    ws.store.open_intent(model, "train", key, {"now": now.isoformat()}, at=now.to_pydatetime())
    found = ws.registry.find_intent(model, key)
    if found is not None:
        return found.version
    return train().version.version


def _close_intent(ws: Workspace, key: str, now: pd.Timestamp) -> None:
    intent = ws.store.get_intent(ws.model_name, "train", key)
    if intent is not None and intent.status == "open":
        ws.store.close_intent(intent.id, "done", at=now.to_pydatetime())


def _since_reference(
    known: pd.DataFrame, stored: pd.DataFrame, reference: VersionReference
) -> pd.DataFrame:
    """Observations after each series' reference (training) end: targets as stored,
    exogenous features from the data."""
    ends = {uid: s.train_end for uid, s in reference.series.items()}
    first = min(ends.values())
    rows = known[(known["ds"] > first) & known["unique_id"].isin(list(ends))].drop(columns="y")
    rows = rows.merge(stored[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    after = rows["ds"] > rows["unique_id"].map(ends)
    return rows[after].reset_index(drop=True)


def monitor_fleet(
    ws: Workspace,
    known: pd.DataFrame,
    *,
    now: pd.Timestamp,
    freq: str,
    deployment: Deployment,
    cache: VersionCache,
) -> list[MonitoringReport]:
    """Check every series against the reference of the version that serves it.

    One report per version in use (its series only), adjusted together for multiplicity
    (:func:`~chronoguard.monitoring.fleet_alerts`); nothing is written.
    """
    cfg = ws.config
    tl = np.sort(known["ds"].unique())
    lo = pd.Timestamp(tl[max(0, len(tl) - cfg.monitoring.window)])
    refs = {v: reference_for(cache, deployment, v) for v in deployment.versions_in_use()}
    ends = [s.train_end for r in refs.values() for s in r.series.values()]
    first = min([*ends, lo])
    stored = ws.store.get_actuals(ds_from=first, ds_to=now)[["unique_id", "ds", "y"]]
    served_all = ws.store.get_forecasts(ds_from=first, ds_to=now, served_only=True)
    reports = []
    for v, reference in refs.items():
        series = deployment.series_of(v)
        mine = known[known["unique_id"].isin(series)]
        window = mine[(mine["ds"] >= lo) & (mine["ds"] <= now)].drop(columns="y")
        window = window.merge(stored, on=["unique_id", "ds"])
        in_window = served_all["unique_id"].isin(series) & (served_all["ds"] >= lo)
        served = served_all[in_window].reset_index(drop=True)
        trained_to = min(s.train_end for s in reference.series.values())
        since_v = (served_all["version"].astype(str) == v) & (served_all["ds"] >= trained_to)
        report = run_monitoring(
            reference,
            window,
            served,
            now=now,
            freq=freq,
            monitoring=cfg.monitoring,
            version=v,
            since_reference=_since_reference(mine, stored, reference),
            served_since_reference=served_all[since_v].reset_index(drop=True),
        )
        reports.append(report)
    levels = check_levels(cfg.monitoring, freq, n_features=1 + len(cfg.data.exog))
    return fleet_alerts(reports, levels)


def check_fleet(
    ws: Workspace,
    known: pd.DataFrame,
    *,
    now: pd.Timestamp,
    freq: str,
    deployment: Deployment,
    cache: VersionCache,
) -> int:
    """The cycle's check step: monitor, then record results, alerts and each series' check
    in one transaction with the ledger's stage. Returns the number of alerts raised."""
    model, cfg = ws.model_name, ws.config
    reports = monitor_fleet(ws, known, now=now, freq=freq, deployment=deployment, cache=cache)
    run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"chronoguard:{model}:{now.isoformat()}").hex
    raised = 0
    with ws.store.transaction():
        book = AlertBook.from_store(ws.store)
        for report in reports:
            ws.store.record_monitoring_results(run_id, now, report.records())
            raised += len(book.update(ws.store, report, now=now))
            fired: dict[str, set[str]] = {u: set() for u in deployment.series_of(report.version)}
            for r in report.fired():
                if r.unique_id in fired:
                    fired[r.unique_id].add(str(r.kind))
            ws.store.record_series_checks(
                [
                    SeriesCheck(model, u, now.to_pydatetime(), report.version, frozenset(k))
                    for u, k in fired.items()
                ]
            )
        if cfg.alerting.channels:  # the notifications, in the transaction of their alerts
            queue_notifications(
                ws.store,
                cfg.alerting,
                model_name=model,
                now=now,
                places=_places(cfg, known),
                period=period_word(freq),
            )
        ws.store.advance_cycle(model, now, "checked")
    return raised


def alert_rollbacks(
    ws: Workspace, known: pd.DataFrame, *, now: pd.Timestamp, freq: str
) -> list[Alert]:
    """Raise an alert for every series a watch rolled back at ``now`` (a canary or a fresh
    champion shown worse), inside the caller's transaction, and tell the channels at once
    (past the cooldown): a change made without a person is always told. The alert is an
    event (kind ``performance_decay``, method ``paired_watch``), resolved by the next check."""
    model = ws.model_name
    t = now.to_pydatetime()
    rolled = ws.store.list_watches(model, status="rolled_back", closed_at=t)
    if not rolled:
        return []
    alerts = [
        Alert(
            ds=t,
            kind="performance_decay",
            method=ROLLBACK_METHOD,
            statistic=float(w.challenger_error / w.previous_error)
            if w.challenger_error is not None and w.previous_error
            else 0.0,
            threshold=1.0,
            severity="warning",
            message=(
                f"{w.kind} of version {w.version} on {w.unique_id} rolled back to version "
                f"{w.previous_version} by itself: {w.reason}"
            ),
            version=w.version,
            unique_id=w.unique_id,
        )
        for w in sorted(rolled, key=lambda w: w.unique_id)
    ]
    stored = ws.store.record_alerts(alerts)
    cfg = ws.config
    if cfg.alerting.channels:
        queue_notifications(
            ws.store,
            cfg.alerting,
            model_name=model,
            now=now,
            places=_places(cfg, known),
            period=period_word(freq),
            urgent=True,
        )
    return stored


def _places(cfg: ChronoguardConfig, known: pd.DataFrame) -> dict[str, SeriesPlace]:
    """Each series' group and tier, for grouping and routing its notifications."""
    if not cfg.groups:
        return {}
    try:
        groups = resolve_groups(
            cfg.groups,
            known["unique_id"].astype(str).unique().tolist(),
            known if any(g.column for g in cfg.groups) else None,
        )
    except ChronoguardError:
        # Groups that do not fit the data fail the decide step that follows, with the
        # message to fix them; the notifications go out ungrouped meanwhile.
        return {}
    return {u: SeriesPlace(g.group, g.tier) for u, g in groups.series.items()}


def _evidence_from_checks(
    ws: Workspace, now: pd.Timestamp
) -> tuple[dict[str, float], dict[str, float]]:
    """This cycle's decay ratio and smallest data-drift q-value per series, from its results."""
    results = ws.store.get_monitoring_results(
        ds_from=now, ds_to=now, method=[DECAY_METHOD, SEQUENTIAL_METHOD]
    )
    decay: dict[str, float] = {}
    drift_q: dict[str, float] = {}
    if results.empty:
        return decay, drift_q
    rows = zip(
        results["unique_id"].astype(str),
        results["kind"].astype(str),
        results["method"].astype(str),
        results["statistic"].astype(float),
        results["p_value"].astype(float),
        results["details"],
        strict=True,
    )
    for uid, kind, method, stat, p, details in rows:
        info: dict[str, object] = details if isinstance(details, dict) else {}
        if method == DECAY_METHOD and np.isfinite(stat):
            decay[uid] = float(stat)
        elif kind == "data_drift" and not info.get("advisory"):
            q = info.get("q_value")
            q = p if q is None else q  # not adjusted: its own p-value
            if isinstance(q, (int, float)) and np.isfinite(q):
                drift_q[uid] = min(drift_q.get(uid, 1.0), float(q))
    return decay, drift_q


def decide_fleet(
    ws: Workspace,
    *,
    known: pd.DataFrame,
    now: pd.Timestamp,
    freq: str,
    deployment: Deployment,
    checked: bool,
    cache: VersionCache,
) -> dict[str, str]:
    """The cycle's decision step, per series; records one decision per series with its reason.

    The retraining rule (k of n over the series' checks since the version serving it was
    deployed, cooldown, schedule) names the candidates; the decision engine
    (:func:`~chronoguard.policy.plan_cycle`) values them (expected loss of keeping the
    champion against the measured cost of a retrain, by the series' group) and chooses under
    the cycle's budget. Without a budget it retrains every candidate. A series in the data
    that no version serves yet (it started late) gets a first model as soon as it has the
    history one needs (trigger ``new_series``), and a ``wait`` decision with its count until
    then. Returns the chosen series with their triggers.
    """
    cfg = ws.config
    model = ws.model_name
    rule = _rule(ws)
    t_now = now.to_pydatetime()
    # A series retrained by hand at this time, before the cycle ran, keeps that decision
    # (made by a person, recorded once): the cycle decides the others.
    by_hand = {
        d.unique_id
        for d in ws.store.list_series_decisions(model, ds_from=t_now, ds_to=t_now, action="retrain")
    }
    ids = sorted(u for u in deployment.versions if u not in by_hand)
    history = ws.store.series_check_history(
        model, last_n=rule.n, until=now.to_pydatetime(), after=dict(deployment.since)
    )
    last = ws.store.last_retrains(model, until=now.to_pydatetime())
    ready, waiting, needed = new_series(ws, known, deployment)
    groups = resolve_groups(  # over every series: a group may hold only series retrained by hand
        cfg.groups,
        [*sorted(deployment.versions), *ready],
        known if any(g.column for g in cfg.groups) else None,
        default_cost_per_unit_error=cfg.budget.default_cost_per_unit_error,
    )
    decay, drift_q = _evidence_from_checks(ws, now) if checked else ({}, {})
    periods: dict[pd.Timestamp, int] = {}
    evidence: list[SeriesEvidence] = []
    # A series whose challenger is on trial (shadow or canary) is not retrained again: the
    # trial decides first (a new challenger would only restart it).
    on_trial = {
        w.unique_id: w
        for w in ws.store.list_watches(model, status="open")
        if w.kind != WatchKind.WATCH
    }
    # At a staged rollout, nor is a series whose promotion waits for approval: the approvers
    # decide first (a new challenger's trial would stand beside the version they are asked
    # about). At stage champion a newer passing challenger opens a request that supersedes.
    staged = cfg.rollout.stage != "champion"
    pending = ws.store.list_approvals(model, status="pending") if staged else []
    awaiting = {u: r for r in pending for u in r.series}
    for u in ids:
        t = pd.Timestamp(last.get(u, deployment.since[u]))
        if t not in periods:
            periods[t] = periods_between(t, now, freq)
        checks = [CheckSummary(pd.Timestamp(c.ds), c.fired) for c in history.get(u, [])]
        verdict = rule.decide(checks, periods_since_retrain=periods[t])
        if not checked and verdict.trigger != "schedule":
            verdict = RetrainDecision(False, "", "no check this period", verdict.counts)
        elif u in on_trial and verdict.retrain:
            w = on_trial[u]
            verdict = RetrainDecision(
                False,
                "",
                f"{verdict.reason}, but version {w.version} is on {w.kind} trial since "
                f"{pd.Timestamp(w.opened_at).date()}: the trial decides first",
                verdict.counts,
                verdict.checks,
            )
        elif u in awaiting and verdict.retrain:
            r = awaiting[u]
            verdict = RetrainDecision(
                False,
                "",
                f"{verdict.reason}, but version {r.version} waits for approval (request "
                f"{r.id}): the approvers decide first",
                verdict.counts,
                verdict.checks,
            )
        served_by = cache.get(deployment.versions[u])
        prof = served_by.reference.series[u]
        cpu = served_by.version.metrics.get("fit_cpu_seconds_per_series")
        evidence.append(
            SeriesEvidence(
                unique_id=u,
                decision=verdict,
                group=groups[u],
                horizon=cfg.forecast.horizon,
                periods_since_retrain=max(periods[t], 0),
                reference_mae=float(prof.one_step.mae),
                mase_scale=float(prof.mase_scale),
                decay_ratio=decay.get(u),
                drift_q_value=drift_q.get(u),
                fit_cpu_seconds=None if cpu is None else float(cpu),
            )
        )
    plan = plan_cycle(
        evidence,
        cfg.budget,
        approval_tiers=[t for t in TIERS if cfg.approvals.policy_for(t) != "auto"],
    )
    # Series no version serves yet get a first model as soon as their history allows one,
    # outside the budget (nothing serves them until then), or wait with a note.
    onboard = [
        SeriesDecision(
            model_name=model,
            ds=now.to_pydatetime(),
            unique_id=u,
            action="retrain",
            trigger=NEW_SERIES,
            reason=f"new series: a first model on its {n} periods (at least {needed} needed)",
            tier=str(groups[u].tier),
            group=groups[u].group,
            outcome="pending",
        )
        for u, n in sorted(ready.items())
    ]
    decisions = [
        SeriesDecision(
            model_name=model,
            ds=now.to_pydatetime(),
            unique_id=c.unique_id,
            action=c.action.value,
            trigger=c.trigger if c.action == Action.RETRAIN else "",
            reason=c.reason,
            expected_loss=float(c.expected_loss),
            retrain_cost=None if c.retrain_cost is None else float(c.retrain_cost),
            cpu_seconds=float(c.cpu_seconds),
            tier=str(c.tier),
            group=c.group,
            outcome="pending" if c.action == Action.RETRAIN else "none",
            champion_version=deployment.versions[c.unique_id],
        )
        for c in plan.choices
    ]
    decisions += onboard + _waiting_decisions(model, now, waiting, needed)
    with ws.store.transaction():
        ws.store.record_series_decisions(decisions)
        ws.store.advance_cycle(model, now, "decided")
    return {**{u: plan.choice(u).trigger for u in plan.chosen}, **dict.fromkeys(ready, NEW_SERIES)}


def pending_retrains(ws: Workspace, now: pd.Timestamp) -> dict[str, str]:
    """The series a resumed cycle had decided to retrain at ``now`` and not yet gated (a
    retrain made by hand at that time is done: its outcome is set)."""
    found = ws.store.list_series_decisions(
        ws.model_name, ds_from=now.to_pydatetime(), ds_to=now.to_pydatetime(), action="retrain"
    )
    return {d.unique_id: d.trigger for d in found if d.outcome == "pending"}


def _batch_trigger(chosen: Mapping[str, str]) -> str:
    counts = Counter(chosen.values())
    if len(counts) == 1:
        return next(iter(counts))
    top, n = counts.most_common(1)[0]
    return f"{top} ({n} of {len(chosen)} series; others by their own triggers)"


def retrain_batch(
    ws: Workspace,
    data: pd.DataFrame,
    chosen: Mapping[str, str],
    *,
    now: pd.Timestamp,
    freq: str,
    by: str,
    cache: VersionCache,
    at: pd.Timestamp,
    in_cycle: bool = True,
    progress: TrainingProgress | None = None,
    family: str | None = None,
) -> BatchResult:
    """Retrain the chosen series as one version, gate each series, deploy the winners.

    Their decisions (action ``retrain``) must be recorded at ``now`` first; their outcomes
    are filled in. ``in_cycle`` marks the cycle's ledger at the same time (a retrain run by
    hand, outside a cycle, passes ``False``).

    The challenger is trained on everything up to ``now``, so it learns from the data that
    triggered it. Each series' challenger and champion then forecast the last
    ``gate.validation_window`` periods from the same origins with frozen parameters (see
    :func:`~chronoguard.lifecycle.fleet.gate_series`). The challenger's parameters have seen
    that window, so the comparison is retrospective: a challenger that cannot beat its
    champion even on data it was fitted to is rejected.

    Why not hold the window out: a challenger trained before the window cannot have learnt
    a change inside it, so a retrain soon after a change would train the old model again
    and be rejected (``bench/loop_value.py`` measured it: no challenger ever served).
    Refitting both candidates at every origin of the window would cost ``validation_window``
    fits per series, several times the retrain itself.

    ``progress`` hears of the retrain's fits (see :func:`~chronoguard.lifecycle.train_version`).
    ``family`` is the model that trains them (default ``model.name``; a group's own model,
    see :func:`model_families`).
    """
    cfg = ws.config
    model = ws.model_name
    expire_approvals(ws, at, by=by)  # overdue requests close before anything new is held
    series = sorted(chosen)
    known = data[(data["ds"] <= now) & data["unique_id"].isin(series)]
    timeline = pd.DatetimeIndex(np.sort(known["ds"].unique()))
    v = cfg.gate.validation_window
    if len(timeline) <= v:
        raise ChronoguardError(
            f"only {len(timeline)} periods up to {now}, not more than gate.validation_window "
            f"({v}): the gate needs an origin before its validation window"
        )
    window_start, train_end = timeline[-v], timeline[-1]
    train = training_window(known, train_end, cfg.training.retrain_window)
    deployment = ws.store.get_deployment(model)
    parents = Counter(deployment.versions[u] for u in series if deployment.version_of(u))
    parent = parents.most_common(1)[0][0] if parents else None
    trigger = _batch_trigger(chosen)
    key = _family_key(f"retrain {now.isoformat()}", cfg, family)
    version = _train_or_adopt(
        ws,
        key,
        now,
        lambda: train_version(
            train,
            config_for(cfg, family or cfg.model.name),
            ws.registry,
            freq=freq,
            now=now,
            trigger=trigger,
            parent_version=parent,
            intent=key,
            progress=progress,
        ),
    )
    champions = {p: cache.get(p).forecaster for p in parents}
    gates = gate_series(
        cache.get(version).forecaster,
        champions,
        deployment,
        series,
        known,
        window_start=window_start,
        horizon=min(cfg.forecast.horizon, v),
        season_length=cfg.data.season_length,
        gate=cfg.gate,
    )
    # --- approvals: a passing series whose tier's policy ([approvals]) is not `auto` is
    # held, not deployed, and an approval request is opened for it in the transaction
    # below (chronoguard.lifecycle.approvals); people deploy it by voting.
    tiers = {
        d.unique_id: d.tier
        for d in ws.store.list_series_decisions(
            model, ds_from=now.to_pydatetime(), ds_to=now.to_pydatetime(), action="retrain"
        )
    }
    if cfg.groups and any(tiers.get(u) is None for u in series):  # a retrain run by hand
        everyone = sorted(data["unique_id"].astype(str).unique())
        column = any(g.column for g in cfg.groups)
        placed = resolve_groups(cfg.groups, everyone, data if column else None)
        tiers = {u: tiers.get(u) or str(placed[u].tier) for u in series}
    held = held_series(cfg.approvals, {u: tiers.get(u) for u in series})
    # --- end approvals
    passed = [u for u in series if gates[u].passed and u not in held]
    waiting = [u for u in series if gates[u].passed and u in held]
    ch_err = float(np.mean([g.challenger_error for g in gates.values()]))
    cp_errs = [g.champion_error for g in gates.values() if g.champion_error is not None]
    reason = (
        gates[series[0]].reason
        if len(series) == 1
        else f"{len(passed)} of {len(series)} series passed the gate"
    )
    with ws.store.transaction():
        ws.store.set_version_status(model, version, "candidate", at=now, by=by, reason=trigger)
        ws.store.set_version_status(
            model,
            version,
            "validated" if passed or waiting else "rejected",
            at=now,
            by=by,
            reason=reason + (f"; {len(waiting)} series await approval" if waiting else ""),
        )
        ws.store.record_retrain(
            ds=now.to_pydatetime(),
            model_name=model,
            trigger=trigger,
            challenger_version=version,
            champion_version=parent,
            challenger_error=ch_err,
            champion_error=float(np.mean(cp_errs)) if cp_errs else None,
            outcome="promoted" if passed else "rejected",
            reason=reason + (f"; {len(waiting)} series await approval" if waiting else ""),
            by=by,
        )
        ws.store.set_decision_outcomes(
            model,
            now.to_pydatetime(),
            {
                u: DecisionOutcomeUpdate(
                    outcome=(
                        "awaiting_approval"
                        if u in waiting
                        else ("promoted" if g.passed else "rejected")
                    ),
                    challenger_version=version,
                    champion_version=g.champion_version,
                    challenger_error=g.challenger_error,
                    champion_error=g.champion_error,
                    gate_reason=g.reason,
                )
                for u, g in gates.items()
            },
        )
        staged = cfg.rollout.stage != "champion"
        # At stage shadow or canary, held series with a champion run the shadow trial first
        # and wait for approval when it promotes them (chronoguard.lifecycle.rollout).
        ask_now = [u for u in waiting if not staged or gates[u].champion_version is None]
        if ask_now:  # approvals: one request per tier, in this transaction
            request_approval(
                ws,
                version=version,
                series={u: held[u] for u in ask_now},
                as_of=now,
                at=at,
                by=by,
                reason=f"passed the gate at {now} ({trigger})",
            )
        if staged:
            start_rollout(
                ws,
                {u: gates[u].champion_version for u in [*passed, *waiting] if u not in ask_now},
                version=version,
                held=[u for u in waiting if u not in ask_now],
                now=now,
                by=by,
                reason=trigger,
                at=at,
            )
        elif passed:
            watches, superseded = new_watches(
                ws, {u: gates[u].champion_version for u in passed}, version=version, now=now
            )
            deploy_series(
                ws, dict.fromkeys(passed, version), by=by, reason=trigger, at=now, batch=str(now)
            )
            if superseded:
                ws.store.close_watches(model, superseded, at=at.to_pydatetime(), by=by)
            if watches:
                ws.store.open_watches(watches, at=at.to_pydatetime(), by=by)
        _close_intent(ws, key, now)
        if in_cycle:
            ws.store.advance_cycle(model, now, "retrained")
    return BatchResult(
        version,
        trigger,
        gates,
        pd.Timestamp(window_start),
        train["ds"].min(),
        train_end,
        frozenset(waiting),
    )


def retrain_families(
    ws: Workspace,
    data: pd.DataFrame,
    chosen: Mapping[str, str],
    *,
    now: pd.Timestamp,
    freq: str,
    by: str,
    cache: VersionCache,
    at: pd.Timestamp,
    progress: TrainingProgress | None = None,
) -> list[BatchResult]:
    """The cycle's retrain: the chosen series of each model (:func:`model_families`) as one
    version of their own, by :func:`retrain_batch`; the cycle's ledger moves on with the
    last. A cycle resumed after one model's batch committed retrains only the others (their
    decisions are still pending)."""
    families = list(model_families(ws.config, sorted(chosen), data).items())
    return [
        retrain_batch(
            ws,
            data,
            {u: chosen[u] for u in ids},
            now=now,
            freq=freq,
            by=by,
            cache=cache,
            at=at,
            in_cycle=i == len(families) - 1,
            progress=progress,
            family=family,
        )
        for i, (family, ids) in enumerate(families)
    ]


def retrain_by_hand(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    series: Sequence[str] | None,
    reason: str,
    now: pd.Timestamp,
    freq: str,
    by: str,
    at: pd.Timestamp,
    progress: TrainingProgress | None = None,
) -> BatchResult:
    """Retrain ``series`` (every deployed series by default) at ``now`` as one version, outside
    a cycle: ``chronoguard retrain`` and the Python API's ``Workspace.retrain``.

    Under the workspace lock it records a ``retrain`` decision per series (trigger
    ``reason``, by ``by``) and runs :func:`retrain_batch`. Series no version serves, and
    series the cycle at ``now`` already decided otherwise (a decision is kept as made), are
    errors that name them and write nothing.
    """
    deployment = ws.store.get_deployment(ws.model_name)
    ids = sorted(deployment.versions) if not series else list(series)
    unknown = [u for u in ids if deployment.version_of(u) is None]
    if not ids or unknown:
        raise ChronoguardError(
            f"no model serves {', '.join(unknown) or 'any series yet'}; run "
            "`chronoguard cycle` (or `train`) first, or name deployed series"
        )
    families = model_families(ws.config, ids, data)
    if len(families) > 1:  # one version per retrain: one model's series at a time
        shown = "; ".join(
            f"{f}: {', '.join(u[:3])}{' …' if len(u) > 3 else ''}" for f, u in families.items()
        )
        raise ChronoguardError(
            f"the series to retrain are trained by different models ({shown}); a retrain "
            "by hand makes one version: name the series of one model (--series), or let "
            "the cycle retrain each model's series as its own version"
        )
    (family,) = families
    with ws.lock(holder=f"retrain by {by}", at=at):
        decided = [
            d
            for d in ws.store.list_series_decisions(ws.model_name, ds_from=now, ds_to=now)
            if d.unique_id in ids and d.action != "retrain"
        ]
        if decided:  # a decision is kept as made: a manual retrain goes in its own time
            d = decided[0]
            raise ChronoguardError(
                f"the cycle at {now} already decided {d.unique_id} ({d.action}: "
                f"{d.reason}){f' and {len(decided) - 1} more series' if len(decided) > 1 else ''}"
                "; a retrain at that time would rewrite its decision. Pass --now with a "
                "later time (the data must reach it), or retrain before that cycle runs"
            )
        ws.store.record_series_decisions(
            [
                SeriesDecision(
                    model_name=ws.model_name,
                    ds=now.to_pydatetime(),
                    unique_id=u,
                    action="retrain",
                    trigger=reason,
                    reason=f"manual retrain by {by}",
                    outcome="pending",
                    champion_version=deployment.versions[u],
                )
                for u in ids
            ]
        )
        return retrain_batch(
            ws,
            data,
            dict.fromkeys(ids, reason),
            now=now,
            freq=freq,
            by=by,
            cache=VersionCache(ws),
            at=at,
            in_cycle=False,
            progress=progress,
            family=family,
        )


def serve_fleet(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    now: pd.Timestamp,
    deployment: Deployment,
    cache: VersionCache,
    series: Sequence[str] | None = None,
    future: pd.DataFrame | None = None,
) -> int:
    """Forecast from ``now`` with the version serving each series and record them.

    Forecasts already recorded for this origin and version are kept as they are, so a
    resumed cycle serves each series once. Series under a watch are also forecast by the
    version they replaced, in shadow (:func:`~chronoguard.lifecycle.watch.serve_shadows`).
    A model with exogenous inputs takes their values after ``now`` from the rows of
    ``data`` after it and from ``future`` (the inputs beyond the data's history, see
    :func:`future_inputs_after`); where they end, the horizon shrinks.
    Returns the number of rows served, shadow ones included.
    """
    inputs = future_inputs_after(data, future, now)
    total = 0
    canaries = {
        (w.unique_id, w.version)
        for w in ws.store.list_watches(ws.model_name, status="open")
        if w.kind == WatchKind.CANARY
    }
    for v in deployment.versions_in_use():
        ids = deployment.series_of(v)
        if series is not None:
            ids = [u for u in ids if u in set(series)]
        canary = [u for u in ids if (u, v) in canaries]
        for alias, part in (
            (CHAMPION, [u for u in ids if (u, v) not in canaries]),
            (CANARY_ALIAS, canary),
        ):
            if not part:
                continue
            fc = serve_forecasts(
                ws.store,
                cache.get(v).forecaster,
                data[data["unique_id"].isin(part)],
                origin=now,
                horizon=ws.config.forecast.horizon,
                model_name=ws.model_name,
                version=v,
                alias=alias,
                if_exists="skip",
                future=None if inputs is None else inputs[inputs["unique_id"].isin(part)],
            )
            total += len(fc)
    return total + serve_shadows(ws, data, now=now, cache=cache, series=series, future=inputs)


def future_inputs_after(
    data: pd.DataFrame, future: pd.DataFrame | None, now: pd.Timestamp
) -> pd.DataFrame | None:
    """The exogenous inputs known after ``now``: the rows of ``data`` after it (a replay's
    data, or a cycle run at an earlier time than the data's end) and then ``future``
    (``unique_id``, ``ds`` and the model's exogenous columns, beyond the history: a
    ``--future`` file or rows with an empty ``y``). ``None`` when no ``future`` is given:
    the forecast then reads the rows of ``data`` after ``now`` itself."""
    if future is None:
        return None
    cols = list(future.columns)
    after = data.loc[data["ds"] > now, [c for c in cols if c in data.columns]]
    both = pd.concat([after, future[cols]], ignore_index=True)
    both = both.drop_duplicates(["unique_id", "ds"], keep="first")
    return both.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
