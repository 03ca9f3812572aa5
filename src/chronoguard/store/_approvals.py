"""Approval requests and their votes: promotions that wait for people.

A request covers series of one model that passed the gate onto one version; it needs one
or two distinct approvers (``one``, ``four_eyes``), none of them its author. The rules are
enforced here, in the transaction that writes the vote:

- the author cannot vote, and nobody votes twice on one request (names compared without
  case or surrounding blanks, so ``Ana`` and ``ana `` are one person);
- a vote on a request that is closed, or pending past its expiry, is refused with an
  :class:`ApprovalConflictError` naming its status;
- the vote that brings the required distinct approvals closes the request ``approved``
  (``superseded`` when every series had meanwhile moved to a newer version); any reject
  vote closes it ``rejected``.

Two votes racing for the last approval: every write transaction takes the store's write
lock first (see :mod:`chronoguard.store._session`), so they run one after the other, and
the second finds the request closed. Each vote and close is also a conditional
``UPDATE ... WHERE status = 'pending' AND row_version = <read>``, so a write that read a
stale request is refused as a conflict rather than applied, whatever the isolation level.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._deploy import required
from chronoguard.store._governance import check_value
from chronoguard.store._models import ApprovalRequestRow, ApprovalVoteRow
from chronoguard.store._records import (
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalVote,
    VoteChoice,
    VoteResult,
)
from chronoguard.store._session import DEFAULT_ACTOR, StoreBase

REQUIRED = {ApprovalPolicy.ONE.value: 1, ApprovalPolicy.FOUR_EYES.value: 2}
_PENDING = ApprovalStatus.PENDING.value
_SHOWN = 5


class ApprovalError(StoreError):
    """The approval rules refuse a request or a vote (the author voting, a second vote by
    the same person, an unknown request); nothing was written."""


class ApprovalConflictError(ApprovalError):
    """The request is no longer pending (closed, expired, or changed by a concurrent vote
    first); the message names its status. Nothing was written."""


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def _listed(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return shown + (f" … ({len(ids)} in all)" if len(ids) > _SHOWN else "")


def _to_vote(row: ApprovalVoteRow) -> ApprovalVote:
    return ApprovalVote(
        id=row.id, request_id=row.request_id, by=row.by, at=row.at, vote=row.vote, reason=row.reason
    )


def _to_request(row: ApprovalRequestRow, votes: Sequence[ApprovalVote]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        model_name=row.model_name,
        version=row.version,
        series=tuple(row.series),
        tier=row.tier,
        policy=row.policy,
        required_approvals=row.required_approvals,
        author=row.author,
        requested_at=row.requested_at,
        as_of=row.as_of,
        expires_at=row.expires_at,
        status=row.status,
        reason=row.reason,
        closed_at=row.closed_at,
        closed_reason=row.closed_reason,
        row_version=row.row_version,
        votes=tuple(votes),
    )


def _votes(session: Session, ids: Collection[int]) -> dict[int, list[ApprovalVote]]:
    out: dict[int, list[ApprovalVote]] = {i: [] for i in ids}
    if not ids:
        return out
    query = (
        select(ApprovalVoteRow)
        .where(ApprovalVoteRow.request_id.in_(list(ids)))
        .order_by(ApprovalVoteRow.id)
    )
    for r in session.scalars(query):
        out[r.request_id].append(_to_vote(r))
    return out


def _row(session: Session, request_id: int) -> ApprovalRequestRow:
    """The request, read afresh (never the session's cached copy) and locked for update
    on PostgreSQL."""
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ApprovalError(f"an approval request id is a whole number, got {request_id!r}")
    query = (
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.scalars(query).first()
    if row is None:
        raise ApprovalError(
            f"there is no approval request {request_id}; `chronoguard approvals --all` lists them"
        )
    return row


def get_request(session: Session, request_id: int) -> ApprovalRequest | None:
    row = session.get(ApprovalRequestRow, request_id, populate_existing=True)
    if row is None:
        return None
    return _to_request(row, _votes(session, [row.id])[row.id])


def _closed_error(row: ApprovalRequestRow, doing: str) -> ApprovalConflictError:
    return ApprovalConflictError(
        f"approval request {row.id} (version {row.version} for {len(row.series)} series) is "
        f"already {row.status}, closed at {row.closed_at}: {row.closed_reason}. "
        f"{doing[:1].upper()}{doing[1:]} "
        "changes nothing now; `chronoguard approvals --all` shows it"
    )


def _conditional_update(
    session: Session, row: ApprovalRequestRow, values: dict[str, Any], doing: str
) -> None:
    """Write ``values`` only if the request is still pending at the version read."""
    result = session.execute(
        update(ApprovalRequestRow)
        .where(
            ApprovalRequestRow.id == row.id,
            ApprovalRequestRow.status == _PENDING,
            ApprovalRequestRow.row_version == row.row_version,
        )
        .values(row_version=row.row_version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApprovalConflictError(
            f"approval request {row.id} changed while {doing} (another vote or close came "
            "first); nothing was written. Look at it again with `chronoguard approvals "
            "--all` and vote again if it is still pending"
        )


def insert_request(
    session: Session,
    *,
    model_name: str,
    version: str,
    series: Sequence[str],
    tier: str,
    policy: str,
    author: str,
    requested_at: datetime,
    as_of: datetime,
    expires_at: datetime,
    reason: str,
) -> tuple[ApprovalRequest, bool]:
    """Open a pending request; returns it and whether it is new.

    The same (model_name, version, as_of, tier) requested again with the same series and
    policy returns the stored request (a repeated step); with others it is refused.
    """
    pol = check_value(policy, ApprovalPolicy, "approval policy")
    if pol not in REQUIRED:
        raise ApprovalError(
            f"approval policy {pol!r} needs no request: a tier with policy 'auto' deploys "
            "as soon as it passes the gate"
        )
    ids = sorted({required(u, "series id") for u in series})
    if not ids or len(ids) != len(series):
        raise ApprovalError(
            f"an approval request covers one or more distinct series, got {list(series)!r}"
        )
    asked = to_utc_naive(requested_at, "requested_at")
    expires = to_utc_naive(expires_at, "expires_at")
    if expires <= asked:
        raise ApprovalError(
            f"expires_at {expires} must be after requested_at {asked}; check "
            "approvals.expires_after_hours"
        )
    key = (
        required(model_name, "model_name"),
        required(version, "version"),
        to_utc_naive(as_of, "as_of"),
        required(tier, "tier"),
    )
    R = ApprovalRequestRow
    found = session.scalars(
        select(R).where(
            R.model_name == key[0], R.version == key[1], R.as_of == key[2], R.tier == key[3]
        )
    ).first()
    if found is not None:
        if list(found.series) == ids and found.policy == pol:
            return _to_request(found, _votes(session, [found.id])[found.id]), False
        raise ApprovalError(
            f"version {key[1]} of {key[0]!r} already has approval request {found.id} for tier "
            f"{key[3]} as of {key[2]} ({found.policy}, {len(found.series)} series); it is not "
            f"requested again with {pol} for {len(ids)} other series"
        )
    row = R(
        model_name=key[0],
        version=key[1],
        series=ids,
        tier=key[3],
        policy=pol,
        required_approvals=REQUIRED[pol],
        author=required(author, "author").strip(),
        requested_at=asked,
        as_of=key[2],
        expires_at=expires,
        status=_PENDING,
        reason=required(reason, "reason"),
        closed_at=None,
        closed_reason=None,
        row_version=1,
    )
    session.add(row)
    session.flush([row])
    return _to_request(row, []), True


def cast_vote(
    session: Session,
    request_id: int,
    *,
    by: str,
    vote: str,
    reason: str,
    at: datetime,
    superseded_series: Collection[str] = (),
) -> VoteResult:
    """Record one vote under the rules of the module docstring; see :meth:`Store.cast_vote`."""
    voter = required(by, "by (who votes)").strip()
    choice = check_value(vote, VoteChoice, "vote")
    if not isinstance(reason, str):
        raise ApprovalError(f"reason must be a string, got {reason!r}")
    if choice == VoteChoice.REJECT.value and not reason.strip():
        raise ApprovalError(
            f"a reject vote needs a reason (why version is not to serve); "
            f'`chronoguard reject {request_id} --reason "..."`'
        )
    when = to_utc_naive(at, "at")
    row = _row(session, request_id)
    doing = f"a vote by {voter}"
    if row.status != _PENDING:
        raise _closed_error(row, doing)
    if row.expires_at <= when:
        raise ApprovalConflictError(
            f"approval request {row.id} expired at {row.expires_at} (status expired: nobody "
            f"decided within its time); {doing} changes nothing. A new retrain of its series "
            "opens a new request"
        )
    if _person(voter) == _person(row.author):
        raise ApprovalError(
            f"{voter!r} is the author of approval request {row.id} (the change to version "
            f"{row.version}); it needs {row.required_approvals} approver(s) other than its "
            "author: ask someone else to vote"
        )
    votes = _votes(session, [row.id])[row.id]
    for v in votes:
        if _person(v.by) == _person(voter):
            raise ApprovalError(
                f"{voter!r} already voted {v.vote} on approval request {row.id} at {v.at}; "
                "each person votes once: the next approval must come from someone else"
            )
    new = ApprovalVoteRow(request_id=row.id, by=voter, at=when, vote=choice, reason=reason)
    session.add(new)
    session.flush([new])
    votes = [*votes, _to_vote(new)]
    approvers = [v.by for v in votes if v.vote == VoteChoice.APPROVE.value]
    closing: dict[str, Any] = {}
    if choice == VoteChoice.REJECT.value:
        closing = {
            "status": ApprovalStatus.REJECTED.value,
            "closed_reason": f"rejected by {voter}: {reason}",
        }
    elif len(approvers) >= row.required_approvals:
        stale = sorted(set(superseded_series) & set(row.series))
        who = f"approved by {', '.join(approvers)}"
        if len(stale) == len(row.series):
            closing = {
                "status": ApprovalStatus.SUPERSEDED.value,
                "closed_reason": (
                    f"{who}, but every series had moved to version {row.version} or a newer "
                    f"one meanwhile ({_listed(stale)}); nothing deployed"
                ),
            }
        else:
            note = f"; {len(stale)} series had moved on and stay: {_listed(stale)}" if stale else ""
            closing = {
                "status": ApprovalStatus.APPROVED.value,
                "closed_reason": who + (f": {reason}" if reason.strip() else "") + note,
            }
    if closing:
        closing["closed_at"] = when
    _conditional_update(session, row, closing, doing)
    after = _row(session, row.id)
    return VoteResult(vote=votes[-1], request=_to_request(after, votes), closed=bool(closing))


def close_request(
    session: Session, request_id: int, status: str, *, at: datetime, reason: str
) -> ApprovalRequest:
    """Close a pending request ``expired`` or ``superseded`` (votes close it otherwise)."""
    st = check_value(status, ApprovalStatus, "approval status")
    if st not in (ApprovalStatus.EXPIRED.value, ApprovalStatus.SUPERSEDED.value):
        raise ApprovalError(
            f"a request is closed {st!r} only by votes (cast_vote); close_approval closes "
            "it 'expired' or 'superseded'"
        )
    row = _row(session, request_id)
    if row.status != _PENDING:
        raise _closed_error(row, f"closing it {st}")
    when = to_utc_naive(at, "at")
    values = {"status": st, "closed_at": when, "closed_reason": required(reason, "reason")}
    _conditional_update(session, row, values, f"closing it {st}")
    after = _row(session, row.id)
    return _to_request(after, _votes(session, [row.id])[row.id])


def expire_overdue(session: Session, model_name: str, at: datetime) -> list[ApprovalRequest]:
    """Close every pending request of the model whose expiry is at or before ``at``."""
    when = to_utc_naive(at, "at")
    R = ApprovalRequestRow
    query = (
        select(R.id, R.expires_at, R.requested_at)
        .where(R.model_name == model_name, R.status == _PENDING, R.expires_at <= when)
        .order_by(R.id)
    )
    closed = []
    for rid, expires, asked in session.execute(query).all():
        hours = (expires - asked).total_seconds() / 3600
        why = (
            f"no decision within {hours:g} hours of the request (expired at {expires}); "
            "it never deploys"
        )
        closed.append(
            close_request(session, rid, ApprovalStatus.EXPIRED.value, at=when, reason=why)
        )
    return closed


def list_requests(
    session: Session,
    model_name: str | None,
    *,
    status: str | None,
    unique_id: str | Sequence[str] | None,
) -> list[ApprovalRequest]:
    R = ApprovalRequestRow
    query = select(R).order_by(R.id)
    if model_name is not None:
        query = query.where(R.model_name == model_name)
    if status is not None:
        query = query.where(R.status == check_value(status, ApprovalStatus, "approval status"))
    rows = list(session.scalars(query.execution_options(populate_existing=True)))
    if unique_id is not None:
        wanted = {unique_id} if isinstance(unique_id, str) else set(unique_id)
        rows = [r for r in rows if wanted & set(r.series)]
    votes = _votes(session, [r.id for r in rows])
    return [_to_request(r, votes[r.id]) for r in rows]


def _audit_request(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "model_name": r.model_name,
        "version": r.version,
        "status": r.status,
        "row_version": r.row_version,
    }


class ApprovalStore(StoreBase):
    """Approval requests and votes; see :class:`chronoguard.store.Store` and this module."""

    def request_approval(
        self,
        *,
        model_name: str,
        version: str,
        series: Sequence[str],
        tier: str,
        policy: str,
        author: str,
        requested_at: datetime,
        as_of: datetime,
        expires_at: datetime,
        reason: str,
    ) -> ApprovalRequest:
        """Open a pending approval request for ``series`` of ``model_name`` onto ``version``.

        ``author`` made the change and may not vote on it; ``requested_at`` and
        ``expires_at`` are real times, ``as_of`` the data time of the cycle (where the
        series' decisions are). Requesting the same (model, version, as_of, tier) again
        with the same series and policy returns the stored request and writes nothing.

        Examples
        --------
        >>> from datetime import datetime
        >>> from chronoguard.store import Store
        >>> with Store.open("sqlite://") as store:
        ...     r = store.request_approval(model_name="m", version="2", series=["s1"],
        ...         tier="critical", policy="four_eyes", author="cycle",
        ...         requested_at=datetime(2024, 1, 1), as_of=datetime(2023, 12, 1),
        ...         expires_at=datetime(2024, 1, 4), reason="passed the gate")
        ...     _ = store.cast_vote(r.id, by="ana", vote="approve", reason="",
        ...                         at=datetime(2024, 1, 2))
        ...     done = store.cast_vote(r.id, by="bo", vote="approve", reason="looks right",
        ...                            at=datetime(2024, 1, 2, 1))
        >>> done.closed, done.request.status, done.request.approvers
        (True, 'approved', ('ana', 'bo'))
        """
        with self._writing(f"requesting approval of {model_name!r} v{version}") as session:
            request, created = insert_request(
                session,
                model_name=model_name,
                version=version,
                series=series,
                tier=tier,
                policy=policy,
                author=author,
                requested_at=requested_at,
                as_of=as_of,
                expires_at=expires_at,
                reason=reason,
            )
            if created:
                self._audit(
                    session,
                    at=request.requested_at,
                    by=request.author,
                    action="request_approval",
                    entity=f"approval:{request.id}",
                    payload={
                        **_audit_request(request),
                        "series": list(request.series),
                        "tier": request.tier,
                        "policy": request.policy,
                        "required_approvals": request.required_approvals,
                        "as_of": request.as_of,
                        "expires_at": request.expires_at,
                        "reason": request.reason,
                    },
                )
        return request

    def cast_vote(
        self,
        request_id: int,
        *,
        by: str,
        vote: str,
        reason: str,
        at: datetime,
        superseded_series: Collection[str] = (),
    ) -> VoteResult:
        """Record ``by``'s ``vote`` (``approve`` or ``reject``) on a pending request.

        The vote that completes the required distinct approvals closes the request
        ``approved``, or ``superseded`` when every one of its series is in
        ``superseded_series`` (the caller's list of series that moved on to a newer
        version); a reject vote (which needs a reason) closes it ``rejected``. One audit
        row for the vote, and one more for the close.

        Raises
        ------
        ApprovalConflictError
            The request is closed, pending past its expiry, or changed by another vote
            since it was read (the message names its status).
        ApprovalError
            ``by`` is its author or already voted on it, the request does not exist, or a
            reject vote has no reason.
        """
        with self._writing(f"voting on approval request {request_id}") as session:
            result = cast_vote(
                session,
                request_id,
                by=by,
                vote=vote,
                reason=reason,
                at=at,
                superseded_series=superseded_series,
            )
            v, r = result.vote, result.request
            self._audit(
                session,
                at=v.at,
                by=v.by,
                action="vote_approval",
                entity=f"approval:{r.id}",
                payload={"vote": v.vote, "reason": v.reason, **_audit_request(r)},
            )
            if result.closed:
                self._audit(
                    session,
                    at=v.at,
                    by=v.by,
                    action="close_approval",
                    entity=f"approval:{r.id}",
                    payload={"reason": r.closed_reason, **_audit_request(r)},
                )
        return result

    def close_approval(
        self, request_id: int, status: str, *, at: datetime, reason: str, by: str = DEFAULT_ACTOR
    ) -> ApprovalRequest:
        """Close a pending request ``expired`` or ``superseded`` with ``reason``.

        A request that is no longer pending raises :class:`ApprovalConflictError`.
        """
        with self._writing(f"closing approval request {request_id}") as session:
            r = close_request(session, request_id, status, at=at, reason=reason)
            self._audit(
                session,
                at=r.closed_at,
                by=by,
                action="close_approval",
                entity=f"approval:{r.id}",
                payload={"reason": r.closed_reason, **_audit_request(r)},
            )
        return r

    def expire_approvals(
        self, model_name: str, *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> list[ApprovalRequest]:
        """Close ``expired`` every pending request of the model whose expiry is at or
        before the real time ``at``; returns them (one audit row per call, none when
        nothing expired)."""
        with self._writing(f"expiring approval requests of {model_name!r}") as session:
            closed = expire_overdue(session, model_name, at)
            if closed:
                self._audit(
                    session,
                    at=to_utc_naive(at, "at"),
                    by=by,
                    action="expire_approvals",
                    entity=f"cg_approval_requests:{model_name}",
                    payload={"ids": [r.id for r in closed]},
                )
        return closed

    def get_approval(self, request_id: int) -> ApprovalRequest | None:
        """One request with its votes, or ``None``."""
        with self._reading("reading cg_approval_requests") as session:
            return get_request(session, request_id)

    def list_approvals(
        self,
        model_name: str | None = None,
        *,
        status: str | None = None,
        unique_id: str | Sequence[str] | None = None,
    ) -> list[ApprovalRequest]:
        """Requests with their votes (optionally of one model, one status, or covering
        some series), oldest first."""
        with self._reading("reading cg_approval_requests") as session:
            return list_requests(session, model_name, status=status, unique_id=unique_id)
