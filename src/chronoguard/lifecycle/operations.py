"""The governance actions a person takes, one owner each: promote, roll back, vote.

The CLI (``chronoguard promote``, ``rollback``, ``approve``, ``reject``) and the HTTP
service (``POST /v1/models/{model}/promote`` …) call these functions and nothing else, so
both check the same role, hold the same workspace lock, follow the same approval policy and
record the same history; each first brings MLflow back in line with the store (an earlier
action killed between the two is repaired before anything moves). Each takes the
authenticated caller (its name is the actor
recorded) and the real time of the action (``at``, read from the clock at the edge).

Which series an action covers is one :class:`Selection`: named series, every series of a
configured group (its group as of the latest cycle that decided for it, recorded with the
decision, so no data file is needed), or the whole fleet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle.access import Principal, require
from chronoguard.lifecycle.approvals import VoteOutcome, held_series, request_approval, vote
from chronoguard.lifecycle.fleet import deploy_series, reconcile, rollback_series
from chronoguard.lifecycle.workspace import Workspace
from chronoguard.store import (
    Alert,
    ApprovalError,
    ApprovalRequest,
    DeploymentMove,
    SeriesDecision,
    TokenRole,
)

_SHOWN = 5


class SelectionError(ChronoguardError):
    """A selection of series that names nothing, or names it twice over."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which series an action covers: ``series``, or a ``group``'s, or (neither) all."""

    series: tuple[str, ...] | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        if self.series is not None and self.group is not None:
            raise SelectionError(
                "give series or a group, not both: a group already names its series"
            )
        if self.series is not None and not self.series:
            raise SelectionError("the list of series is empty: name at least one series")

    @classmethod
    def of(cls, series: Sequence[str] | None = None, group: str | None = None) -> Selection:
        return cls(tuple(series) if series else None, group)

    @property
    def everything(self) -> bool:
        return self.series is None and self.group is None

    def describe(self) -> str:
        if self.group is not None:
            return f"group {self.group!r}"
        if self.series is not None:
            return f"{len(self.series)} series"
        return "every series"


def resolve(ws: Workspace, selection: Selection) -> list[str] | None:
    """The series ids of ``selection`` (``None``: every series of the deployment).

    A group's series are those whose latest decision placed them in it; an unknown group,
    or one no cycle has placed a series in yet, is an error naming the known ones.
    """
    if selection.series is not None:
        return list(selection.series)
    if selection.group is None:
        return None
    placed = ws.store.latest_decisions(ws.model_name)
    ids = sorted(u for u, d in placed.items() if d.group == selection.group)
    if ids:
        return ids
    configured = [g.name for g in ws.config.groups]
    seen = sorted({d.group for d in placed.values() if d.group is not None})
    if selection.group not in configured:
        raise SelectionError(
            f"no group {selection.group!r} in this workspace's config; its groups are "
            f"{', '.join(configured) or 'none'} ([[groups]] in chronoguard.toml)"
        )
    raise SelectionError(
        f"group {selection.group!r} holds no series yet (no cycle has placed a series in "
        f"it; groups with series: {', '.join(seen) or 'none'}); run `chronoguard cycle` "
        "first, or name the series"
    )


@dataclass(frozen=True)
class PromotionOutcome:
    """What a promotion did: the series moved now, and the approval requests opened for
    the series whose tier waits for people (they move when approved)."""

    version: str
    moves: tuple[DeploymentMove, ...]
    requests: tuple[ApprovalRequest, ...]
    unchanged: tuple[str, ...]

    @property
    def held(self) -> tuple[str, ...]:
        return tuple(u for r in self.requests for u in r.series)


def promote(
    ws: Workspace,
    version: str,
    *,
    caller: Principal,
    selection: Selection = Selection(),  # frozen: one shared default is safe
    reason: str,
    at: pd.Timestamp,
) -> PromotionOutcome:
    """Deploy ``version`` to the selected series (by default, those it was trained on).

    Needs an operator. Series whose tier's approval policy is not ``auto`` are not moved:
    an approval request authored by the caller is opened for them (approving it deploys
    them), so a promotion by hand follows the same four-eyes rule as one by the cycle.
    Series that ``version`` already serves are left as they are.
    """
    require(caller, TokenRole.OPERATOR)
    model = ws.model_name
    v = ws.registry.resolve(model, version)
    trained_on = sorted(ws.registry.load(model, v).reference.series)
    chosen = resolve(ws, selection)
    ids = trained_on if chosen is None else chosen
    missing = sorted(set(ids) - set(trained_on))
    if missing:
        raise SelectionError(
            f"version {v} has no model for {', '.join(missing[:_SHOWN])}; it was trained on "
            f"{len(trained_on)} series ({', '.join(trained_on[:_SHOWN])}…): promote another "
            "version for them, or leave them out"
        )
    with ws.lock(holder=f"promote by {caller.name}", at=at.to_pydatetime()):
        reconcile(ws)  # an earlier action killed half-way: MLflow follows the store first
        deployment = ws.store.get_deployment(model)
        unchanged = tuple(u for u in ids if deployment.version_of(u) == v)
        moving = [u for u in ids if deployment.version_of(u) != v]
        placed = ws.store.latest_decisions(model)
        held = held_series(ws.config.approvals, {u: _tier(placed, u) for u in moving})
        if held:
            _refuse_a_closed_request(ws, v, held, at)
        # By hand: the moves happen at a real time and concern no data time (as_of empty).
        with ws.store.transaction(), ws.store.no_data_time():
            free = {u: v for u in moving if u not in held}
            moves = deploy_series(ws, free, by=caller.name, reason=reason, at=at) if free else []
            requests: list[ApprovalRequest] = []
            if held:
                last = ws.store.last_cycle(model)
                as_of = pd.Timestamp(last.now) if last is not None else at
                requests = request_approval(
                    ws,
                    version=v,
                    series=held,
                    as_of=as_of,
                    at=at,
                    by=caller.name,
                    reason=f"promotion by {caller.name}: {reason}",
                )
    return PromotionOutcome(v, tuple(moves), tuple(requests), unchanged)


def _refuse_a_closed_request(
    ws: Workspace, version: str, held: Mapping[str, str], at: pd.Timestamp
) -> None:
    """A promotion's approval request is keyed by version, data time (the latest cycle's)
    and tier, so a series promoted, decided and moved away again within one cycle would
    get back the request already closed: refuse that, naming it and the way out."""
    last = ws.store.last_cycle(ws.model_name)
    as_of = (pd.Timestamp(last.now) if last is not None else at).to_pydatetime()
    tiers = set(held.values())
    for r in ws.store.list_approvals(ws.model_name, status=None, unique_id=sorted(held)):
        if r.version == version and r.as_of == as_of and r.tier in tiers and r.status != "pending":
            raise ApprovalError(
                f"approval request {r.id} for version {version} of tier {r.tier!r} at "
                f"{as_of} is already closed ({r.status}: {r.closed_reason or 'no reason'}); a "
                "promotion waiting for approval is requested once per cycle: run the next "
                "cycle, then promote again to open a new request"
            )


def _tier(placed: Mapping[str, SeriesDecision], unique_id: str) -> str | None:
    d = placed.get(unique_id)
    return d.tier if d is not None else None


def rollback(
    ws: Workspace,
    *,
    caller: Principal,
    selection: Selection = Selection(),  # frozen: one shared default is safe
    reason: str,
    at: pd.Timestamp,
) -> list[DeploymentMove]:
    """Move the selected series (every series by default) back to the version that served
    each before its current one, in one transaction. Needs an operator; no approval waits
    (going back to a version that served is the safe direction). Series named one by one
    must each have an earlier version; of a group or the fleet, those with none stay
    (:func:`~chronoguard.lifecycle.fleet.rollback_series`)."""
    require(caller, TokenRole.OPERATOR)
    ids = resolve(ws, selection)
    with ws.lock(holder=f"rollback by {caller.name}", at=at.to_pydatetime()):
        reconcile(ws)
        with ws.store.no_data_time():  # by hand: a real time only, as a promotion
            return rollback_series(
                ws, ids, by=caller.name, reason=reason, at=at, named=selection.series is not None
            )


def cast_vote(
    ws: Workspace,
    request_id: int,
    *,
    caller: Principal,
    choice: str,
    reason: str,
    at: pd.Timestamp,
) -> VoteOutcome:
    """The caller's ``approve`` or ``reject`` of an approval request (needs an approver;
    the author of the change never counts). The vote that completes the approvals deploys
    the series, under the workspace lock. See :func:`chronoguard.lifecycle.approvals.vote`
    for the conflicts raised."""
    require(caller, TokenRole.APPROVER)
    holder = f"{choice} of approval request {request_id} by {caller.name}"
    with ws.lock(holder=holder, at=at.to_pydatetime()):
        reconcile(ws)
        return vote(ws, request_id, by=caller.name, vote=choice, reason=reason, at=at)


def set_alert_status(
    ws: Workspace,
    alert_id: int,
    status: str,
    *,
    caller: Principal,
    reason: str,
    at: pd.Timestamp,
) -> Alert:
    """Acknowledge, resolve or re-open alert ``alert_id`` (needs an operator), recorded with
    the caller's name and ``at`` in the audit log."""
    require(caller, TokenRole.OPERATOR)
    return ws.store.set_alert_status(
        alert_id, status, at=at.to_pydatetime(), by=caller.name, reason=reason
    )


__all__ = [
    "PromotionOutcome",
    "Selection",
    "SelectionError",
    "cast_vote",
    "promote",
    "resolve",
    "rollback",
    "set_alert_status",
]
