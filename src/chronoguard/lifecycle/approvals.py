"""Approvals: a promotion that waits for people before it serves.

A series whose tier has an approval policy other than ``auto`` (``[approvals]`` in the
config; by default tier ``critical`` needs ``four_eyes``) is not deployed when its
challenger passes the gate: the retrain holds it (decision outcome ``awaiting_approval``)
and opens an approval request, one per tier, in the same transaction
(:func:`request_approval`). People then vote (:func:`vote`):

- ``one`` needs one approver, ``four_eyes`` two distinct ones; the author of the change
  (the actor of the retrain) never counts, and nobody votes twice;
- the vote that completes the approvals deploys the held series to the version, opens
  their watches as a promotion by the cycle does, and records their decisions'
  outcome ``promoted``, all in one store transaction with the vote;
- any reject vote closes the request; its series stay where they are;
- a request nobody decided within ``approvals.expires_after_hours`` (real time) closes
  ``expired`` and never deploys (:func:`expire_approvals`, run at the start of every
  cycle and by the CLI; a vote past the expiry is refused in any case);
- a request whose series all moved to its version or a newer one meanwhile (a later
  retrain, a manual promotion) closes ``superseded``, and never deploys an older model;
  a newer request for the same series supersedes an older one still pending.

Decisions of a request that closes without deploying get the outcome ``rejected``, with
how it closed appended to their gate reason. Every function takes the real time of the
action (``at``); none reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from chronoguard.config import ApprovalsConfig
from chronoguard.lifecycle.fleet import deploy_series
from chronoguard.lifecycle.watch import new_watches
from chronoguard.lifecycle.workspace import Workspace
from chronoguard.store import (
    ApprovalError,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    DecisionOutcomeUpdate,
    Deployment,
    DeploymentMove,
    SeriesDecision,
)

ACTOR = "chronoguard approvals"
_AWAITING = "awaiting_approval"


def _order(version: str) -> tuple[int, int, str]:
    # MLflow versions are "1", "2", …, "10": numeric order, not text order.
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


def held_series(approvals: ApprovalsConfig, tiers: Mapping[str, str | None]) -> dict[str, str]:
    """The series (of ``unique_id -> tier``) whose tier's policy waits for approval, with
    their tiers (``standard`` for a series in no group).

    Examples
    --------
    >>> from chronoguard.config import ApprovalsConfig
    >>> held_series(ApprovalsConfig(), {"a": "critical", "b": "high", "c": None})
    {'a': 'critical'}
    """
    return {u: t or "standard" for u, t in tiers.items() if approvals.required_approvals(t) > 0}


def moved_on(deployment: Deployment, request: ApprovalRequest) -> list[str]:
    """The request's series that no longer wait for its version: they are served by it
    or by a newer one, or no longer served at all."""
    mine = _order(request.version)
    return [
        u
        for u in request.series
        if (now_on := deployment.version_of(u)) is None or _order(now_on) >= mine
    ]


def _settle(
    ws: Workspace,
    request: ApprovalRequest,
    outcome: str,
    note: str,
    *,
    series: Sequence[str] | None = None,
    by: str,
) -> None:
    """Set the outcome of the request's decisions still awaiting approval, keeping the
    gate's figures and appending ``note`` to its reason."""
    ids = list(request.series if series is None else series)
    settle_decisions(
        ws,
        pd.Timestamp(request.as_of),
        ids,
        outcome,
        note,
        by=by,
        only=lambda d: d.outcome == _AWAITING and d.challenger_version == request.version,
    )


def settle_decisions(
    ws: Workspace,
    ds: pd.Timestamp,
    series: Sequence[str],
    outcome: str,
    note: str,
    *,
    by: str,
    only: Callable[[SeriesDecision], bool] = lambda d: True,
) -> None:
    """Set the outcome of the retrain decisions at ``ds`` of ``series`` (those ``only``
    keeps), keeping the gate's figures and appending ``note`` to its reason. The one place
    where an approval or a shadow trial settles what the gate left open."""
    if not series:
        return
    found = ws.store.list_series_decisions(
        ws.model_name, unique_id=list(series), ds_from=ds, ds_to=ds, action="retrain"
    )
    updates = {
        d.unique_id: DecisionOutcomeUpdate(
            outcome=outcome,
            challenger_version=d.challenger_version,
            champion_version=d.champion_version,
            challenger_error=d.challenger_error,
            champion_error=d.champion_error,
            gate_reason=f"{d.gate_reason}; {note}" if d.gate_reason else note,
        )
        for d in found
        if only(d)
    }
    if updates:
        ws.store.set_decision_outcomes(ws.model_name, ds.to_pydatetime(), updates, by=by)


def _retire_if_unused(
    ws: Workspace, request: ApprovalRequest, *, at: pd.Timestamp, by: str
) -> None:
    """A validated version that serves nothing and waits for no other approval is
    rejected: people turned it down, or it was left behind."""
    model, v = request.model_name, request.version
    if ws.store.get_deployment(model).series_of(v):
        return
    if any(r.version == v for r in ws.store.list_approvals(model, status="pending")):
        return
    current = ws.store.get_version(model, v)
    if current is not None and current.status == "validated":
        ws.store.set_version_status(
            model,
            v,
            "rejected",
            at=at.to_pydatetime(),
            by=by,
            reason=f"approval request {request.id} {request.status}: {request.closed_reason}",
        )


def _close_unused(
    ws: Workspace, request: ApprovalRequest, status: str, reason: str, *, at: pd.Timestamp, by: str
) -> ApprovalRequest:
    closed = ws.store.close_approval(
        request.id, status, at=at.to_pydatetime(), reason=reason, by=by
    )
    _settle(ws, closed, "rejected", f"approval request {closed.id} {status}: {reason}", by=by)
    _retire_if_unused(ws, closed, at=at, by=by)
    return closed


def request_approval(
    ws: Workspace,
    *,
    version: str,
    series: Mapping[str, str],
    as_of: pd.Timestamp,
    at: pd.Timestamp,
    by: str,
    reason: str,
) -> list[ApprovalRequest]:
    """Open the approval requests of series held at ``as_of`` (data time) for ``version``.

    ``series`` maps each held series to its tier; one request per tier, with its policy,
    authored by ``by`` (who made the change), requested at the real time ``at`` and
    expiring ``approvals.expires_after_hours`` later. Older pending requests whose every
    series is now covered by a newer version close ``superseded``. Runs inside the
    caller's transaction when there is one (the retrain step records its outcomes in it).
    """
    cfg = ws.config.approvals
    model = ws.model_name
    by_tier: dict[str, list[str]] = {}
    for u, tier in sorted(series.items()):
        by_tier.setdefault(tier, []).append(u)
    expires = at + timedelta(hours=cfg.expires_after_hours)
    opened: list[ApprovalRequest] = []
    with ws.store.transaction():
        for tier, ids in sorted(by_tier.items()):
            policy = cfg.policy_for(tier)
            if policy == "auto":
                raise ApprovalError(
                    f"tier {tier!r} has approval policy 'auto': its series deploy when they "
                    f"pass the gate and get no approval request ({', '.join(ids[:5])})"
                )
            opened.append(
                ws.store.request_approval(
                    model_name=model,
                    version=version,
                    series=ids,
                    tier=tier,
                    policy=policy,
                    author=by,
                    requested_at=at.to_pydatetime(),
                    as_of=as_of.to_pydatetime(),
                    expires_at=expires.to_pydatetime(),
                    reason=reason,
                )
            )
        covered = set(series)
        new_ids = {r.id for r in opened}
        for old in ws.store.list_approvals(model, status="pending", unique_id=sorted(covered)):
            if old.id in new_ids or _order(old.version) >= _order(version):
                continue
            if set(old.series) <= covered:
                names = ", ".join(str(r.id) for r in opened)
                _close_unused(
                    ws,
                    old,
                    ApprovalStatus.SUPERSEDED.value,
                    f"version {version} of its series awaits approval (request {names})",
                    at=at,
                    by=by,
                )
    return opened


def expire_approvals(
    ws: Workspace, now_real: pd.Timestamp, *, by: str = ACTOR
) -> list[ApprovalRequest]:
    """Close what can no longer be approved, in one transaction; returns the closed.

    Pending requests whose expiry is at or before the real time ``now_real`` close
    ``expired``; pending requests whose series all moved on (:func:`moved_on`) close
    ``superseded``. Their decisions get the outcome ``rejected``.
    """
    model = ws.model_name
    at = pd.Timestamp(now_real)
    closed: list[ApprovalRequest] = []
    with ws.store.transaction():
        for r in ws.store.expire_approvals(model, at=at.to_pydatetime(), by=by):
            _settle(ws, r, "rejected", f"approval request {r.id} expired: {r.closed_reason}", by=by)
            _retire_if_unused(ws, r, at=at, by=by)
            closed.append(r)
        pending = ws.store.list_approvals(model, status="pending")
        if pending:
            deployment = ws.store.get_deployment(model)
            for r in pending:
                if len(moved_on(deployment, r)) == len(r.series):
                    why = (
                        f"every series moved to version {r.version} or a newer one before "
                        "it was decided"
                    )
                    closed.append(
                        _close_unused(ws, r, ApprovalStatus.SUPERSEDED.value, why, at=at, by=by)
                    )
    return closed


@dataclass(frozen=True)
class VoteOutcome:
    """What one vote did: the vote, the request after it, and, when it closed the request
    approved, the deployment moves made and the watches opened."""

    vote: ApprovalVote
    request: ApprovalRequest
    moves: tuple[DeploymentMove, ...] = ()
    stayed: tuple[str, ...] = ()  # series that had moved on and were not deployed
    watches_opened: int = 0

    @property
    def deployed(self) -> tuple[str, ...]:
        return tuple(sorted(m.unique_id for m in self.moves))


def _effective_time(ws: Workspace, request: ApprovalRequest) -> pd.Timestamp:
    """The data time an approval takes effect at: the latest cycle's (the series serve
    the version from the next forecast on), never before the request's own."""
    last = ws.store.last_cycle(request.model_name)
    t = pd.Timestamp(request.as_of)
    return max(t, pd.Timestamp(last.now)) if last is not None else t


def _promote(
    ws: Workspace,
    request: ApprovalRequest,
    series: Sequence[str],
    deployment: Deployment,
    *,
    by: str,
    at: pd.Timestamp,
) -> tuple[list[DeploymentMove], int]:
    """Deploy the approved series and open their watches, as a promotion by the cycle."""
    now = _effective_time(ws, request)
    previous: dict[str, str | None] = {u: deployment.version_of(u) for u in series}
    watches, superseded = new_watches(ws, previous, version=request.version, now=now)
    reason = f"approval request {request.id} ({request.policy}): {request.closed_reason}"
    moves = deploy_series(
        ws,
        dict.fromkeys(series, request.version),
        by=by,
        reason=reason,
        at=now,
        batch=f"approval {request.id}",
    )
    if superseded:
        ws.store.close_watches(ws.model_name, superseded, at=at.to_pydatetime(), by=by)
    opened = ws.store.open_watches(watches, at=at.to_pydatetime(), by=by) if watches else []
    return moves, len(opened)


def vote(
    ws: Workspace,
    request_id: int,
    *,
    by: str,
    vote: str,
    reason: str = "",
    at: pd.Timestamp,
) -> VoteOutcome:
    """Record ``by``'s vote (``approve`` or ``reject``) on approval request ``request_id``.

    First closes what expired or was superseded (:func:`expire_approvals`). Then, in one
    store transaction: the vote, and when it completes the approvals, the deployment of
    the series still waiting for the version (``deploy_series``, MLflow alias included),
    their watches and their decisions' outcome ``promoted``. Callers that may move a
    deployment hold the workspace lock, as for a promotion (the CLI does).

    Raises
    ------
    ApprovalConflictError
        The request is already closed or expired, or another vote closed it first.
    ApprovalError
        ``by`` is the author or already voted, the request is unknown or of another model,
        or a reject has no reason.
    """
    at = pd.Timestamp(at)
    expire_approvals(ws, at, by=by)
    model = ws.model_name
    with ws.store.transaction():
        found = ws.store.get_approval(request_id)
        if found is not None and found.model_name != model:
            raise ApprovalError(
                f"approval request {request_id} is of model {found.model_name!r}, not this "
                f"workspace's {model!r}; open that model's workspace"
            )
        deployment = ws.store.get_deployment(model)
        stale = moved_on(deployment, found) if found is not None else []
        result = ws.store.cast_vote(
            request_id,
            by=by,
            vote=vote,
            reason=reason,
            at=at.to_pydatetime(),
            superseded_series=stale,
        )
        r = result.request
        if not result.closed:
            return VoteOutcome(result.vote, r)
        if r.status != ApprovalStatus.APPROVED.value:
            _settle(
                ws, r, "rejected", f"approval request {r.id} {r.status}: {r.closed_reason}", by=by
            )
            _retire_if_unused(ws, r, at=at, by=by)
            return VoteOutcome(result.vote, r, stayed=tuple(stale))
        go = [u for u in r.series if u not in set(stale)]
        moves, opened = _promote(ws, r, go, deployment, by=result.vote.by, at=at)
        _settle(ws, r, "promoted", f"approval request {r.id}: {r.closed_reason}", series=go, by=by)
        if stale:
            note = f"approval request {r.id} approved, but the series had moved on"
            _settle(ws, r, "rejected", note, series=stale, by=by)
    return VoteOutcome(result.vote, r, tuple(moves), tuple(stale), opened)


def pending_approvals(ws: Workspace, *, include_closed: bool = False) -> list[ApprovalRequest]:
    """The workspace model's approval requests, pending only unless ``include_closed``."""
    status = None if include_closed else ApprovalStatus.PENDING.value
    return ws.store.list_approvals(ws.model_name, status=status)
