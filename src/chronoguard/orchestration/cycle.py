"""One production cycle at a given ``now``: the product's loop, per series, state in the store.

A cycle records the actuals that arrived, checks every series against the reference of the
version that serves it, closes the watches of earlier promotions (rolling back a series
whose challenger did worse than the version it replaced, see
:mod:`chronoguard.lifecycle.watch`), decides per series, retrains the chosen series as one
batch, gates them series by series, deploys the winners and serves the next forecasts. Everything it
needs between two cycles is in the store (check history per series, last retrain,
deployment, the cycle ledger), nothing in memory, so:

- the replay is this function driven by a simulated clock, ``chronoguard cycle --now T``
  runs one, ``chronoguard schedule`` runs it on the real clock, and ``monitor`` / ``retrain``
  run its steps;
- a cycle already done for its ``now`` changes nothing when run again;
- a cycle that stopped half-way resumes at the first step it had not finished (each step
  commits its writes and its place in the ledger in one transaction);
- two cycles on one workspace cannot run at once: the second gets a clear error.

The first cycle of a workspace with no deployment trains the first version on the
configured initial window and deploys it to every series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import (
    Workspace,
)
from chronoguard.lifecycle.approvals import expire_approvals
from chronoguard.lifecycle.fleet import (
    VersionCache,
    reconcile,
)
from chronoguard.lifecycle.rollout import settle_watches
from chronoguard.lifecycle.train import TrainingProgress, compute_executor
from chronoguard.lifecycle.watch import review_watches
from chronoguard.orchestration.steps import (
    alert_rollbacks,
    bootstrap,
    check_fleet,
    decide_fleet,
    first_window,
    pending_retrains,
    periods_between,
    retrain_families,
    serve_fleet,
)
from chronoguard.policy import (
    resolve_groups,
)

ACTOR = "chronoguard cycle"
# The ledger's stages, in order; a resumed cycle skips those already reached.
STAGES = ("start", "actuals", "checked", "watched", "decided", "retrained", "served")


@dataclass(frozen=True)
class CycleOutcome:
    """What one cycle did (also kept in the store's cycle ledger as its summary)."""

    model_name: str
    now: pd.Timestamp
    checked: bool
    n_series: int
    alerts_raised: int
    retrained: tuple[str, ...] = ()
    promoted: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    rolled_back: tuple[str, ...] = ()
    challenger_version: str | None = None
    forecasts_served: int = 0
    already_done: bool = field(default=False, compare=False)

    def to_summary(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "n_series": self.n_series,
            "alerts_raised": self.alerts_raised,
            "retrained": list(self.retrained),
            "promoted": list(self.promoted),
            "rejected": list(self.rejected),
            "rolled_back": list(self.rolled_back),
            "challenger_version": self.challenger_version,
            "forecasts_served": self.forecasts_served,
        }

    @classmethod
    def from_summary(
        cls, model_name: str, now: pd.Timestamp, s: Mapping[str, object]
    ) -> CycleOutcome:
        def ids(key: str) -> tuple[str, ...]:
            v = s.get(key) or []
            return tuple(str(x) for x in v) if isinstance(v, list) else ()

        cv = s.get("challenger_version")
        return cls(
            model_name=model_name,
            now=pd.Timestamp(now),
            checked=bool(s.get("checked")),
            n_series=int(str(s.get("n_series", 0))),
            alerts_raised=int(str(s.get("alerts_raised", 0))),
            retrained=ids("retrained"),
            promoted=ids("promoted"),
            rejected=ids("rejected"),
            rolled_back=ids("rolled_back"),
            challenger_version=None if cv is None else str(cv),
            forecasts_served=int(str(s.get("forecasts_served", 0))),
            already_done=True,
        )


def short_inputs_note(
    outcome: CycleOutcome, *, horizon: int, exog: Sequence[str], how: str
) -> str | None:
    """What to tell when a model with exogenous inputs served less than its horizon from
    the cycle's time because the inputs end before it (``how``: how the caller gives
    them); ``None`` when every series was served in full, or the model has no inputs."""
    full = outcome.n_series * horizon
    if not exog or outcome.already_done or outcome.forecasts_served >= full:
        return None
    return (
        f"{outcome.forecasts_served} of the {full} forecasts due from {outcome.now} were "
        f"served: the values of the model's exogenous inputs ({', '.join(exog)}) end before "
        f"the horizon of {horizon} periods; give them {how}"
    )


def _stage_done(current: str, stage: str) -> bool:
    return STAGES.index(current) >= STAGES.index(stage)


def run_cycle(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    freq: str,
    now: pd.Timestamp,
    by: str = ACTOR,
    recorded_at: pd.Timestamp | None = None,
    cache: VersionCache | None = None,
    stop_after: str | None = None,
    progress: TrainingProgress | None = None,
    future: pd.DataFrame | None = None,
) -> CycleOutcome:
    """Run the production cycle of workspace ``ws`` at ``now``; see the module docstring.

    Parameters
    ----------
    data
        Validated long frame: history up to ``now`` (later targets are ignored, their
        exogenous inputs are read as known in advance).
    future
        For a model with exogenous inputs, their values beyond the history of ``data``
        (``unique_id``, ``ds`` and the exogenous columns: ``chronoguard cycle --future``,
        or the rows with an empty ``y`` that the contract splits off,
        :attr:`~chronoguard.data.ValidatedFrame.future`), so the forecasts served from
        ``now`` cover the horizon; without them the horizon ends where the inputs do.
    now
        The cycle's time, a timestamp of the data's grid (the data time of every record).
    recorded_at
        The real time of the action (the wall clock read at the edge); defaults to ``now``.
    cache
        Loaded versions to reuse across cycles (a replay passes one); versions never change,
        so this is only an optimisation.
    stop_after
        ``"checked"`` stops after the monitoring check (``chronoguard monitor``); the cycle
        then continues from there when run again.
    progress
        Hears of the fits of the cycle's trainings (``progress(stage, done, total)``, see
        :func:`~chronoguard.lifecycle.train_version`), for a progress display at the edge.
    """
    now = pd.Timestamp(now)
    at = pd.Timestamp(recorded_at) if recorded_at is not None else now
    model = ws.model_name
    cache = cache or VersionCache(ws)
    if ws.config.groups:  # a group rule that matches no series fails before anything is written
        ids = sorted(data["unique_id"].astype(str).unique())
        column = any(g.column for g in ws.config.groups)
        resolve_groups(ws.config.groups, ids, data if column else None)
    if ws.config.compute.backend == "dask":
        # A scheduler that does not answer fails here, naming it, before anything is written.
        with compute_executor(ws.config):
            pass
    with ws.lock(holder=f"{by} at {now}", at=at):
        reconcile(ws)
        done = ws.store.get_cycle(model, now)
        if done is not None and done.status == "done":
            return CycleOutcome.from_summary(model, now, done.summary)
        last = ws.store.last_cycle(model)
        if done is None and last is not None and last.now > now:
            raise ChronoguardError(
                f"a cycle of '{model}' already ran at {last.now}, after {now}; cycles run "
                "forward in time: pass a --now later than the last cycle"
            )
        if done is None and last is not None and last.status != "done":
            raise ChronoguardError(
                f"the cycle of '{model}' at {last.now} did not finish; run it again "
                f"(`chronoguard cycle --now {last.now}`) before a later one"
            )
        earlier = [pd.Timestamp(c.now) for c in ws.store.list_cycles(model) if c.now < now]
        previous = max(earlier) if earlier else None
        known = data[data["ds"] <= now]
        deployment = ws.store.get_deployment(model)
        if not len(deployment) and done is None:
            first_window(ws, known, now)  # no series can be trained: fail before any write
        rec = ws.store.begin_cycle(model, now, at=at)
        # Approvals that ran out by the real time of this cycle close before it decides.
        expire_approvals(ws, at, by=by)
        if not len(deployment):
            bootstrap(ws, data, known, freq=freq, now=now, by=by, cache=cache, progress=progress)
            deployment = ws.store.get_deployment(model)
            serve_fleet(ws, data, now=now, deployment=deployment, cache=cache, future=future)
            outcome = _outcome(ws, now, checked=False)
            ws.store.finish_cycle(
                model, now, summary=outcome.to_summary(), at=ws.store.real_time(at)
            )
            return outcome

        stage = rec.stage
        if not _stage_done(stage, "actuals"):
            with ws.store.transaction():
                arrived = known if previous is None else known[known["ds"] > previous]
                ws.store.record_actuals(arrived[["unique_id", "ds", "y"]], received_at=at)
                stage = ws.store.advance_cycle(model, now, "actuals").stage
        checked = _check_due(ws, now, freq)
        if not _stage_done(stage, "checked"):
            if checked:
                check_fleet(ws, known, now=now, freq=freq, deployment=deployment, cache=cache)
            else:
                ws.store.advance_cycle(model, now, "checked")
            stage = "checked"
        if stop_after == "checked":
            return _outcome(ws, now, checked=checked)
        if not _stage_done(stage, "watched"):
            review = review_watches(ws, now=now, freq=freq, deployment=deployment)
            with ws.store.transaction():
                settle_watches(ws, review, now=now, by=by, at=at)
                alert_rollbacks(ws, known, now=now, freq=freq)
                ws.store.advance_cycle(model, now, "watched")
            stage = "watched"
        deployment = ws.store.get_deployment(model)

        if not _stage_done(stage, "decided"):
            chosen = decide_fleet(
                ws,
                known=known,
                now=now,
                freq=freq,
                deployment=deployment,
                checked=checked,
                cache=cache,
            )
            stage = "decided"
        else:
            chosen = pending_retrains(ws, now)
        if not _stage_done(stage, "retrained"):
            if chosen:
                retrain_families(
                    ws,
                    data,
                    chosen,
                    now=now,
                    freq=freq,
                    by=by,
                    cache=cache,
                    at=at,
                    progress=progress,
                )
            else:
                ws.store.advance_cycle(model, now, "retrained")
            stage = "retrained"
        deployment = ws.store.get_deployment(model)
        serve_fleet(ws, data, now=now, deployment=deployment, cache=cache, future=future)
        outcome = _outcome(ws, now, checked=checked)
        ws.store.finish_cycle(model, now, summary=outcome.to_summary(), at=ws.store.real_time(at))
        return outcome


def _outcome(ws: Workspace, now: pd.Timestamp, *, checked: bool) -> CycleOutcome:
    """What the cycle at ``now`` did, read back from the store (the same whether the cycle
    ran in one go or resumed after an interruption)."""
    model = ws.model_name
    t = now.to_pydatetime()
    decisions = ws.store.list_series_decisions(model, ds_from=t, ds_to=t, action="retrain")
    versions = {d.challenger_version for d in decisions if d.challenger_version}
    rolled_back = [
        w.unique_id for w in ws.store.list_watches(model, status="rolled_back", closed_at=t)
    ]
    return CycleOutcome(
        model,
        now,
        checked,
        len(ws.store.get_deployment(model)),
        len(ws.store.list_alerts(ds_from=t, ds_to=t)),
        retrained=tuple(sorted(d.unique_id for d in decisions)),
        promoted=tuple(sorted(d.unique_id for d in decisions if d.outcome == "promoted")),
        rejected=tuple(sorted(d.unique_id for d in decisions if d.outcome == "rejected")),
        rolled_back=tuple(sorted(rolled_back)),
        challenger_version=max(versions, key=int) if versions else None,
        forecasts_served=ws.store.count_forecasts(origin_from=t, origin_to=t, served_only=True),
    )


def _check_due(ws: Workspace, now: pd.Timestamp, freq: str) -> bool:
    """Checks run every ``monitoring.every`` periods, counted from the first deployment (the
    first cycle, or a version deployed by hand before any cycle)."""
    starts = [pd.Timestamp(c.now) for c in ws.store.list_cycles(ws.model_name)[:1]]
    starts += [pd.Timestamp(m.at) for m in ws.store.deployment_history(ws.model_name)[:1]]
    if not starts:
        return False
    p = periods_between(min(starts), now, freq)
    return p >= 1 and (p - 1) % ws.config.monitoring.every == 0


def cycle_time(
    data: pd.DataFrame, freq: str, now: datetime | str | None = None, *, name: str = "--now"
) -> pd.Timestamp:
    """The time of a cycle (or of its check or retrain step) run by hand: ``now`` when given,
    else the data's last timestamp; a time that is not one of the data's timestamps is an
    error naming the range (``name`` is how the caller calls the argument)."""
    t = pd.Timestamp(now) if now is not None else pd.Timestamp(data["ds"].max())
    if t not in set(pd.DatetimeIndex(data["ds"].unique())):
        raise ChronoguardError(
            f"{name} {t} is not a timestamp of the data; cycles run at the data's timestamps "
            f"(from {data['ds'].min()} to {data['ds'].max()} at {freq})"
        )
    return t


def check_at(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    freq: str,
    now: pd.Timestamp,
    by: str,
    recorded_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Run the cycle at ``now`` up to its check step and return the check's results:
    ``chronoguard monitor`` and the Python API's ``Workspace.monitor``.

    The check is recorded once (a cycle at the same ``now`` continues from it without
    checking again; run again, this only reads). The rows are the store's monitoring
    results at ``now``, with three columns added: ``advisory`` (an iid test, shown but
    never alerting or triggering), ``positive`` (flagged at the series' own level and not
    advisory: evidence the retraining rule counts) and ``alerting`` (raises an alert: also
    positive after the fleet-wide Benjamini–Hochberg adjustment at the alert level).
    """
    run_cycle(ws, data, freq=freq, now=now, by=by, recorded_at=recorded_at, stop_after="checked")
    results = ws.store.get_monitoring_results(ds_from=now, ds_to=now)
    details = [d or {} for d in results["details"]]
    decision = [bool(x) for x in results["decision"]]
    advisory = [bool(d.get("advisory")) for d in details]
    # ``alert`` is None where no adjustment applied: the decision alone decides.
    alert = [
        not adv and (dec if d.get("alert") is None else bool(d["alert"]))
        for d, dec, adv in zip(details, decision, advisory, strict=True)
    ]
    return results.assign(
        advisory=pd.Series(advisory, index=results.index, dtype=bool),
        positive=pd.Series(
            [dec and not adv for dec, adv in zip(decision, advisory, strict=True)],
            index=results.index,
            dtype=bool,
        ),
        alerting=pd.Series(alert, index=results.index, dtype=bool),
    )
