"""Approval requests and votes in the store: the rules, the audit rows, concurrent votes and
the migration, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, inspect

from chronoguard.errors import StoreError
from chronoguard.store import (
    ApprovalConflictError,
    ApprovalError,
    ApprovalRequest,
    Store,
    VoteResult,
)
from chronoguard.store._engine import make_engine, parse_url
from chronoguard.store._migrate import downgrade, upgrade

T0 = datetime(2024, 3, 1, 9, 0)
AS_OF = datetime(2024, 2, 1)


def request(store: Store, policy: str = "four_eyes", **kw: object) -> ApprovalRequest:
    args: dict[str, object] = {
        "model_name": "demand",
        "version": "2",
        "series": ["s1", "s2"],
        "tier": "critical",
        "policy": policy,
        "author": "cycle-bot",
        "requested_at": T0,
        "as_of": AS_OF,
        "expires_at": T0 + timedelta(hours=72),
        "reason": "passed the gate",
    }
    args.update(kw)
    return store.request_approval(**args)  # type: ignore[arg-type]


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_a_request_is_pending_audited_and_idempotent(store: Store) -> None:
    r = request(store)
    assert (r.status, r.policy, r.required_approvals, r.series) == (
        "pending",
        "four_eyes",
        2,
        ("s1", "s2"),
    )
    assert (r.author, r.requested_at, r.as_of, r.expires_at) == (
        "cycle-bot",
        T0,
        AS_OF,
        at(72),
    )
    assert r.votes == () and r.missing_approvals == 2
    entries = store.audit_log(entity=f"approval:{r.id}")
    assert [e.action for e in entries] == ["request_approval"]
    assert entries[0].actor == "cycle-bot"
    assert entries[0].payload["series"] == ["s1", "s2"]
    # The same request again (a repeated step) is the stored one and writes nothing.
    n = len(store.audit_log())
    assert request(store, series=["s2", "s1"]).id == r.id
    assert len(store.audit_log()) == n
    with pytest.raises(ApprovalError, match="already has approval request"):
        request(store, series=["s1"])
    assert store.get_approval(r.id) == r
    assert store.get_approval(r.id + 100) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"policy": "auto"}, "needs no request"),
        ({"policy": "three"}, "approval policy 'three' is not one of"),
        ({"series": []}, "one or more distinct series"),
        ({"series": ["s1", "s1"]}, "one or more distinct series"),
        ({"expires_at": T0}, "must be after requested_at"),
        ({"author": " "}, "author must be a non-empty string"),
    ],
)
def test_a_bad_request_is_refused_and_writes_nothing(
    store: Store, change: dict[str, object], message: str
) -> None:
    with pytest.raises(StoreError, match=message):
        request(store, **change)
    assert store.list_approvals() == []
    assert store.audit_log() == []


def test_four_eyes_needs_two_distinct_approvers_other_than_the_author(store: Store) -> None:
    r = request(store)
    for who in ("cycle-bot", " Cycle-Bot "):
        with pytest.raises(ApprovalError, match="is the author of approval request"):
            store.cast_vote(r.id, by=who, vote="approve", reason="", at=at(1))
    first = store.cast_vote(r.id, by="ana", vote="approve", reason="checked", at=at(1))
    assert not first.closed and first.request.status == "pending"
    assert first.request.approvers == ("ana",) and first.request.missing_approvals == 1
    for who in ("ana", "ANA", " ana "):
        with pytest.raises(ApprovalError, match=r"'.*' already voted approve"):
            store.cast_vote(r.id, by=who, vote="approve", reason="", at=at(2))
    n = len(store.audit_log())
    second = store.cast_vote(r.id, by="bo", vote="approve", reason="fine", at=at(3))
    assert second.closed
    done = second.request
    assert (done.status, done.closed_at) == ("approved", at(3))
    assert done.closed_reason == "approved by ana, bo: fine"
    assert [v.by for v in done.votes] == ["ana", "bo"]
    assert done.row_version == 3
    assert [e.action for e in store.audit_log()[n:]] == ["vote_approval", "close_approval"]
    assert store.get_approval(r.id) == done
    # A vote on the closed request: refused, naming its status, and nothing written.
    n = len(store.audit_log())
    with pytest.raises(ApprovalConflictError, match="is already approved, closed at"):
        store.cast_vote(r.id, by="cy", vote="approve", reason="", at=at(4))
    with pytest.raises(ApprovalConflictError, match="already approved"):
        store.cast_vote(r.id, by="cy", vote="reject", reason="too late", at=at(4))
    assert len(store.audit_log()) == n
    assert len(store.get_approval(r.id).votes) == 2  # type: ignore[union-attr]
    assert store.verify_audit_chain().ok


def test_policy_one_closes_on_the_first_approval(store: Store) -> None:
    r = request(store, policy="one", tier="high")
    assert r.required_approvals == 1
    out = store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1))
    assert out.closed and out.request.status == "approved"
    assert out.request.closed_reason == "approved by ana"


def test_any_reject_closes_the_request_and_needs_a_reason(store: Store) -> None:
    r = request(store)
    store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1))
    with pytest.raises(ApprovalError, match="a reject vote needs a reason"):
        store.cast_vote(r.id, by="bo", vote="reject", reason="  ", at=at(2))
    with pytest.raises(StoreError, match="vote 'maybe' is not one of"):
        store.cast_vote(r.id, by="bo", vote="maybe", reason="", at=at(2))
    out = store.cast_vote(r.id, by="bo", vote="reject", reason="holiday data", at=at(2))
    assert out.closed and out.request.status == "rejected"
    assert out.request.closed_reason == "rejected by bo: holiday data"
    with pytest.raises(ApprovalConflictError, match="already rejected"):
        store.cast_vote(r.id, by="cy", vote="approve", reason="", at=at(3))


def test_an_expired_request_takes_no_vote_and_expiry_closes_it(store: Store) -> None:
    r = request(store)
    other = request(store, version="3", as_of=datetime(2024, 3, 1), expires_at=at(200))
    with pytest.raises(ApprovalConflictError, match=r"expired at 2024-03-04 09:00:00"):
        store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(72))
    assert store.expire_approvals("demand", at=at(71)) == []
    n = len(store.audit_log())
    closed = store.expire_approvals("demand", at=at(80), by="cli")
    assert [c.id for c in closed] == [r.id]
    assert closed[0].status == "expired" and closed[0].closed_at == at(80)
    assert "no decision within 72 hours" in (closed[0].closed_reason or "")
    entries = store.audit_log()[n:]
    assert [(e.action, e.actor, e.payload) for e in entries] == [
        ("expire_approvals", "cli", {"ids": [r.id]})
    ]
    assert store.get_approval(other.id).status == "pending"  # type: ignore[union-attr]
    with pytest.raises(ApprovalConflictError, match="already expired"):
        store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(81))
    assert [a.id for a in store.list_approvals("demand", status="pending")] == [other.id]
    assert [a.id for a in store.list_approvals(status="expired")] == [r.id]


def test_close_approval_supersedes_only_pending_requests(store: Store) -> None:
    r = request(store)
    with pytest.raises(ApprovalError, match="closed 'approved' only by votes"):
        store.close_approval(r.id, "approved", at=at(1), reason="x")
    closed = store.close_approval(r.id, "superseded", at=at(1), reason="version 3 waits")
    assert (closed.status, closed.closed_reason) == ("superseded", "version 3 waits")
    with pytest.raises(ApprovalConflictError, match="already superseded"):
        store.close_approval(r.id, "expired", at=at(2), reason="late")
    with pytest.raises(ApprovalError, match="there is no approval request 999"):
        store.close_approval(999, "expired", at=at(2), reason="late")


def test_the_last_approval_closes_superseded_when_every_series_moved_on(store: Store) -> None:
    r = request(store)
    store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1))
    partly = store.cast_vote(
        request(store, version="4", as_of=datetime(2024, 3, 1)).id,
        by="ana",
        vote="approve",
        reason="",
        at=at(1),
    )
    assert partly.request.status == "pending"
    out = store.cast_vote(
        r.id, by="bo", vote="approve", reason="", at=at(2), superseded_series={"s1", "s2", "x"}
    )
    assert out.closed and out.request.status == "superseded"
    assert "every series had moved to version 2 or a newer one" in (out.request.closed_reason or "")
    some = store.cast_vote(
        partly.request.id, by="bo", vote="approve", reason="", at=at(2), superseded_series={"s2"}
    )
    assert some.request.status == "approved"
    assert "1 series had moved on and stay: s2" in (some.request.closed_reason or "")


def test_list_approvals_filters_by_model_status_and_series(store: Store) -> None:
    a = request(store)
    b = request(store, model_name="other", series=["s3"])
    assert [r.id for r in store.list_approvals()] == [a.id, b.id]
    assert [r.id for r in store.list_approvals("other")] == [b.id]
    assert [r.id for r in store.list_approvals(unique_id="s2")] == [a.id]
    assert [r.id for r in store.list_approvals(unique_id=["s3", "zz"])] == [b.id]
    with pytest.raises(StoreError, match="approval status 'open' is not one of"):
        store.list_approvals(status="open")


def test_a_refused_vote_inside_a_transaction_dooms_it(store: Store) -> None:
    r = request(store)
    with pytest.raises(ApprovalError, match="is the author"), store.transaction():
        store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1))
        store.cast_vote(r.id, by="cycle-bot", vote="approve", reason="", at=at(1))
    assert store.get_approval(r.id).votes == ()  # type: ignore[union-attr]


def _race(store_url: str, request_id: int) -> list[VoteResult | BaseException]:
    """``bo`` and ``cy`` cast the last approval at once, each through its own store (its own
    engine and connections, as two processes would); what each got."""
    stores = [Store.open(store_url, migrate=False) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[VoteResult | BaseException] = []
    lock = threading.Lock()

    def cast(store: Store, who: str) -> None:
        barrier.wait()
        try:
            got: VoteResult | BaseException = store.cast_vote(
                request_id, by=who, vote="approve", reason="", at=at(2)
            )
        except BaseException as exc:  # reported by the caller
            got = exc
        with lock:
            results.append(got)

    threads = [
        threading.Thread(target=cast, args=(s, who), daemon=True)
        for s, who in zip(stores, ("bo", "cy"), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in stores:
        s.close()
    assert not any(t.is_alive() for t in threads), "votes deadlocked"
    return results


def test_two_votes_racing_for_the_last_approval_one_closes_the_other_conflicts(
    store_url: str,
) -> None:
    for i in range(3):
        with Store.open(store_url) as setup:
            r = request(setup, version=str(10 + i))
            setup.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1))
        results = _race(store_url, r.id)
        won = [x for x in results if isinstance(x, VoteResult)]
        lost = [x for x in results if not isinstance(x, VoteResult)]
        assert len(won) == 1 and len(lost) == 1, results
        assert won[0].closed and won[0].request.status == "approved"
        assert isinstance(lost[0], ApprovalConflictError), lost[0]
        assert "already approved" in str(lost[0])
        with Store.open(store_url, migrate=False) as check:
            final = check.get_approval(r.id)
            assert final is not None and len(final.votes) == 2
            assert check.verify_audit_chain().ok
            closes = check.audit_log(entity=f"approval:{r.id}", action="close_approval")
            assert len(closes) == 1


def _engine(url: str) -> Engine:
    return make_engine(parse_url(url), schema=None)


def _tables(url: str) -> set[str]:
    plain = create_engine(url)
    try:
        return set(inspect(plain).get_table_names())
    finally:
        plain.dispose()


def test_migration_up_from_r0004_keeps_the_data_and_adds_the_tables(store_url: str) -> None:
    engine = _engine(store_url)
    upgrade(engine, "r0004_watches")
    with engine.begin() as conn:  # a store at r0004 with data, written as it was then
        conn.exec_driver_sql(
            "INSERT INTO cg_deployment_moves (model_name, unique_id, version, "
            "previous_version, at, by, reason, batch) VALUES "
            "('demand', 's1', '1', NULL, '2024-01-01 00:00:00', 'ana', 'first', NULL)"
        )
    engine.dispose()
    assert not {"cg_approval_requests", "cg_approval_votes"} & _tables(store_url)
    with Store.open(store_url) as store:  # migrates to head
        assert store.schema_revision() == "r0010_audit_times"
        assert [m.reason for m in store.deployment_history("demand")] == ["first"]
        r = request(store)
        assert store.cast_vote(r.id, by="ana", vote="approve", reason="", at=at(1)).vote.id
    assert {"cg_approval_requests", "cg_approval_votes"} <= _tables(store_url)
    engine = _engine(store_url)
    downgrade(engine, "r0004_watches")
    engine.dispose()
    assert not {"cg_approval_requests", "cg_approval_votes"} & _tables(store_url)
    with Store.open(store_url) as store:
        assert store.list_approvals() == []
        assert [m.reason for m in store.deployment_history("demand")] == ["first"]
