"""The per-series production cycle's tables on both backends: deployments, check history,
decisions, the cycle ledger, intents, repeatable forecast writes, and the migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store import (
    CycleRecord,
    DecisionOutcomeUpdate,
    Deployment,
    DeploymentMove,
    ForecastRecord,
    Intent,
    SeriesCheck,
    SeriesDecision,
    Store,
    _audit,
)
from chronoguard.store._convert import canonical_json
from chronoguard.store._engine import make_engine, parse_url
from chronoguard.store._migrate import downgrade, head_revision, upgrade
from chronoguard.store._models import ActualRow, AliasMoveRow

AT = datetime(2024, 6, 1, 6)
NOW = datetime(2024, 6, 1)
NEW_TABLES = {
    "cg_deployments",
    "cg_deployment_moves",
    "cg_series_checks",
    "cg_series_decisions",
    "cg_cycles",
    "cg_intents",
    "cg_lock_holders",
}


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store sends while the block runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(store._engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store._engine, "before_cursor_execute", record)


# --- deployments ----------------------------------------------------------------------


def test_deploy_records_moves_and_the_current_deployment(store: Store) -> None:
    first = store.deploy(
        "demand", {"s1": "1", "s2": "1", "s3": "2"}, by="ana", reason="first", at=AT
    )
    assert [(m.unique_id, m.previous_version, m.version) for m in first] == [
        ("s1", None, "1"),
        ("s2", None, "1"),
        ("s3", None, "2"),
    ]
    assert first[0] == DeploymentMove(
        id=first[0].id,
        model_name="demand",
        unique_id="s1",
        version="1",
        previous_version=None,
        at=AT,
        by="ana",
        reason="first",
        batch=None,
    )
    assert len({m.id for m in first}) == 3
    later = AT + timedelta(days=7)
    second = store.deploy(
        "demand", {"s2": "10", "s4": "10"}, by="bot", reason="retrain", at=later, batch="b7"
    )
    assert [(m.unique_id, m.previous_version, m.version, m.batch) for m in second] == [
        ("s2", "1", "10", "b7"),
        ("s4", None, "10", "b7"),
    ]
    dep = store.get_deployment("demand")
    assert dep == Deployment(
        model_name="demand",
        versions={"s1": "1", "s2": "10", "s3": "2", "s4": "10"},
        since={"s1": AT, "s2": later, "s3": AT, "s4": later},
    )
    assert len(dep) == 4
    assert dep.version_of("s2") == "10" and dep.version_of("nope") is None
    assert dep.series_of("10") == ["s2", "s4"] and dep.series_of("3") == []
    assert dep.versions_in_use() == ["1", "2", "10"]  # numeric, not "1" < "10" < "2"
    assert len(store.get_deployment("other")) == 0
    assert store.verify_audit_chain().ok


def test_a_no_op_deploy_writes_no_move_and_no_audit_row(store: Store) -> None:
    store.deploy("demand", {"s1": "1", "s2": "1"}, by="ana", reason="first", at=AT)
    log, history = len(store.audit_log()), len(store.deployment_history("demand"))
    assert store.deploy("demand", {"s1": "1", "s2": "1"}, by="ana", reason="again", at=AT) == []
    assert store.deploy("demand", {}, by="ana", reason="nothing", at=AT) == []
    assert len(store.audit_log()) == log
    assert len(store.deployment_history("demand")) == history
    # Partly no-op: only the series whose version changes moves.
    moves = store.deploy("demand", {"s1": "1", "s2": "2"}, by="ana", reason="mixed", at=AT)
    assert [m.unique_id for m in moves] == ["s2"]
    assert store.get_deployment("demand").since["s1"] == AT


def test_one_audit_row_per_deploy_with_counts(store: Store) -> None:
    store.deploy("demand", {f"s{i}": "1" for i in range(6)}, by="ana", reason="first", at=AT)
    assignments = {f"s{i}": ("2" if i < 3 else "1") for i in range(6)} | {"s9": "3"}
    store.deploy("demand", assignments, by="bot", reason="retrain", at=AT, batch="b1")
    entries = store.audit_log(action="deploy")
    assert len(entries) == 2
    assert entries[1].entity == "deployment:demand" and entries[1].actor == "bot"
    covers = entries[1].payload.pop("covers")
    assert [(c["table"], c["last"] - c["first"] + 1) for c in covers] == [
        ("cg_deployment_moves", 4)
    ]
    assert entries[1].payload == {
        "batch": "b1",
        "reason": "retrain",
        "moved": 4,
        "unchanged": 3,
        "to": {"2": 3, "3": 1},
        "from": {"": 1, "1": 3},
    }


def test_history_chains_previous_versions_and_a_rollback_is_a_deploy(store: Store) -> None:
    for i, v in enumerate(["1", "2", "3"]):
        store.deploy(
            "demand", {"s1": v, "s2": "1"}, by="ana", reason=f"v{v}", at=AT + timedelta(days=i)
        )
    back = store.deploy(
        "demand", {"s1": "2"}, by="ops", reason="rollback", at=AT + timedelta(days=9)
    )
    assert [(m.previous_version, m.version) for m in back] == [("3", "2")]
    assert store.get_deployment("demand").version_of("s1") == "2"
    history = store.deployment_history("demand", "s1")
    assert [(m.previous_version, m.version, m.reason) for m in history] == [
        (None, "1", "v1"),
        ("1", "2", "v2"),
        ("2", "3", "v3"),
        ("3", "2", "rollback"),
    ]
    assert [m.unique_id for m in store.deployment_history("demand")] == [
        "s1",
        "s2",
        "s1",
        "s1",
        "s1",
    ]
    assert [m.unique_id for m in store.deployment_history("demand", ["s2"])] == ["s2"]
    assert store.deployment_history("other") == []


def test_history_of_many_series(store: Store) -> None:
    uids = [f"s{i:04d}" for i in range(800)]
    store.deploy("demand", dict.fromkeys(uids, "1"), by="a", reason="r", at=AT)
    store.deploy("demand", dict.fromkeys(uids[:10], "2"), by="a", reason="r", at=AT)
    # More series than the IN-list limit: filtered after the query, same answer.
    got = store.deployment_history("demand", uids[5:605])
    assert len(got) == 600 + 5
    assert {m.unique_id for m in got} == set(uids[5:605])


def test_bad_assignments_are_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(StoreError, match=r"1 assignment\(s\).*'s2': ''"):
        store.deploy("demand", {"s1": "1", "s2": ""}, by="a", reason="r", at=AT)
    with pytest.raises(StoreError, match="model_name must be a non-empty string"):
        store.deploy("", {"s1": "1"}, by="a", reason="r", at=AT)
    assert len(store.get_deployment("demand")) == 0
    assert store.deployment_history("demand") == []


def test_deploy_inside_a_failed_transaction_is_rolled_back(store: Store) -> None:
    store.deploy("demand", {"s1": "1"}, by="a", reason="r", at=AT)
    with pytest.raises(RuntimeError), store.transaction():
        store.deploy("demand", {"s1": "2", "s2": "2"}, by="a", reason="r", at=AT)
        raise RuntimeError("registry alias move failed")
    assert store.get_deployment("demand").versions == {"s1": "1"}
    assert len(store.deployment_history("demand")) == 1


def test_a_fleet_deploy_is_a_few_bulk_statements(store: Store) -> None:
    uids = [f"s{i:05d}" for i in range(3000)]
    store.deploy("demand", dict.fromkeys(uids, "1"), by="a", reason="r", at=AT)
    with statements(store) as seen:
        moves = store.deploy("demand", {u: "2" for u in uids[:2000]}, by="a", reason="r", at=AT)
        dep = store.get_deployment("demand")
    assert len(moves) == 2000 and dep.series_of("2") == uids[:2000]
    # A query per series would be thousands; SQLAlchemy pages a bulk insert into a few
    # statements (and reports executemany as one).
    assert len(seen) <= 20, seen[:30]
    assert sum(s.startswith("SELECT cg_deployments.unique_id") for s in seen) == 2


# --- check history --------------------------------------------------------------------


def _checks(
    model: str, uid: str, days: range, fired_on: set[int], version: str = "1"
) -> list[SeriesCheck]:
    return [
        SeriesCheck(
            model,
            uid,
            NOW + timedelta(days=d),
            version,
            frozenset({"concept_drift"} if d in fired_on else ()),
        )
        for d in days
    ]


def test_series_checks_round_trip_and_re_record_is_a_no_op(store: Store) -> None:
    checks = [
        *_checks("demand", "s1", range(3), {1}),
        SeriesCheck(
            model_name="demand",
            unique_id="s2",
            ds=NOW,
            version="2",
            fired=frozenset({"data_drift", "concept_drift"}),
        ),
    ]
    assert store.record_series_checks(checks) == 4
    log = len(store.audit_log())
    assert store.record_series_checks(checks) == 0
    assert store.record_series_checks([]) == 0
    assert len(store.audit_log()) == log
    got = store.series_check_history("demand", last_n=10)
    assert got == {"s1": checks[:3], "s2": checks[3:]}
    entry = store.audit_log(action="record_series_checks")[0]
    assert entry.entity == "cg_series_checks:demand"
    assert entry.payload["inserted"] == 4 and entry.payload["fired"] == 2


def test_a_different_check_for_a_stored_key_is_refused(store: Store) -> None:
    store.record_series_checks(_checks("demand", "s1", range(2), set()))
    changed = _checks("demand", "s1", range(3), {1})
    with pytest.raises(StoreError) as err:
        store.record_series_checks(changed)
    message = str(err.value)
    assert "cg_series_checks already holds a different check for 1" in message
    assert "('demand', 's1', 2024-06-02 00:00:00)" in message
    assert "stored version='1' fired=[], given version='1' fired=['concept_drift']" in message
    assert "never rewritten" in message
    # Nothing of the refused call was written, not even its new day.
    assert len(store.series_check_history("demand", last_n=10)["s1"]) == 2
    other_version = [replace(_checks("demand", "s1", range(1), set())[0], version="9")]
    with pytest.raises(StoreError, match=r"stored version='1'.*given version='9'"):
        store.record_series_checks(other_version)
    twice = _checks("demand", "s5", range(1), set()) + _checks("demand", "s5", range(1), {0})
    with pytest.raises(StoreError, match="appears twice in this batch"):
        store.record_series_checks(twice)
    with pytest.raises(StoreError, match="fired must be a set"):
        store.record_series_checks([SeriesCheck("demand", "s1", NOW, "1", "concept_drift")])  # type: ignore[arg-type]


def test_check_history_last_n_until_and_after(store: Store) -> None:
    store.record_series_checks(
        _checks("demand", "s1", range(10), {7, 8})
        + _checks("demand", "s2", range(3), {0})
        + _checks("demand", "s3", range(2), set())
        + _checks("other", "s1", range(10), set(range(10)))
    )
    day = lambda d: NOW + timedelta(days=d)  # noqa: E731

    got = store.series_check_history("demand", last_n=3)
    assert sorted(got) == ["s1", "s2", "s3"]
    assert [c.ds for c in got["s1"]] == [day(7), day(8), day(9)]  # the last 3, oldest first
    assert [sorted(c.fired) for c in got["s1"]] == [["concept_drift"], ["concept_drift"], []]
    assert [c.ds for c in got["s3"]] == [day(0), day(1)]  # fewer than last_n: all of them
    assert all(c.model_name == "demand" for cs in got.values() for c in cs)

    until = store.series_check_history("demand", last_n=3, until=day(5))
    assert [c.ds for c in until["s1"]] == [day(3), day(4), day(5)]
    assert [c.ds for c in until["s2"]] == [day(0), day(1), day(2)]

    # after: of the last 3 checks up to day 8, only those strictly after day 6 (s1) or
    # day 1 (s2); s3 has every check before its bound, so it is not in the result.
    after = store.series_check_history(
        "demand", last_n=3, until=day(8), after={"s1": day(6), "s2": day(1), "s3": day(5)}
    )
    assert {u: [c.ds for c in cs] for u, cs in after.items()} == {
        "s1": [day(7), day(8)],
        "s2": [day(2)],
    }
    # Equal to filtering first, then taking the last n.
    wide = store.series_check_history("demand", last_n=3, after={"s1": day(8)})
    assert [c.ds for c in wide["s1"]] == [day(9)]
    assert store.series_check_history("nothing", last_n=5) == {}
    for bad in (0, -1, 2.5, True):
        with pytest.raises(StoreError, match="last_n must be a whole number"):
            store.series_check_history("demand", last_n=bad)  # type: ignore[arg-type]


def test_check_history_is_one_query(store: Store) -> None:
    store.record_series_checks(
        [c for i in range(300) for c in _checks("demand", f"s{i}", range(4), {i % 4})]
    )
    with statements(store) as seen:
        got = store.series_check_history("demand", last_n=2, until=NOW + timedelta(days=2))
    assert len(got) == 300 and all(len(v) == 2 for v in got.values())
    queries = [q for q in seen if q.startswith("SELECT")]  # SQLite also sends BEGIN
    assert len(queries) == 1 and "row_number() OVER (PARTITION BY" in queries[0]


# --- decisions ------------------------------------------------------------------------


def _decision(uid: str, ds: datetime = NOW, **kw: Any) -> SeriesDecision:
    fields: dict[str, Any] = {
        "model_name": "demand",
        "ds": ds,
        "unique_id": uid,
        "action": "retrain",
        "trigger": "concept_drift",
        "reason": "3 of 5 checks fired",
        "expected_loss": 12.5,
        "retrain_cost": 0.4,
        "cpu_seconds": 1.25,
        "tier": "gold",
        "outcome": "pending",
        "champion_version": "1",
    }
    fields.update(kw)
    return SeriesDecision(**fields)


def test_decisions_round_trip_in_order_with_filters(store: Store) -> None:
    later = NOW + timedelta(days=1)
    decisions = [
        _decision("s2"),
        _decision("s1", action="keep", trigger="", outcome="none", expected_loss=None, tier=None),
        _decision("s1", later, action="wait", outcome="none"),
    ]
    assert store.record_series_decisions(decisions) == 3
    got = store.list_series_decisions("demand")
    assert [(d.ds, d.unique_id) for d in got] == [(NOW, "s1"), (NOW, "s2"), (later, "s1")]
    assert all(d.id is not None for d in got)
    assert [replace(d, id=None) for d in got] == [decisions[1], decisions[0], decisions[2]]
    assert [d.unique_id for d in store.list_series_decisions("demand", action="retrain")] == ["s2"]
    assert len(store.list_series_decisions("demand", unique_id="s1")) == 2
    assert len(store.list_series_decisions("demand", unique_id=["s1", "s2"], ds_to=NOW)) == 2
    assert [d.ds for d in store.list_series_decisions("demand", ds_from=later)] == [later]
    assert store.list_series_decisions("other") == []
    entry = store.audit_log(action="record_series_decisions")[0]
    assert entry.payload["actions"] == {"keep": 1, "retrain": 1, "wait": 1}


def test_decision_re_record_is_idempotent_and_a_change_is_refused(store: Store) -> None:
    decisions = [_decision("s1"), _decision("s2", action="keep", outcome="none")]
    store.record_series_decisions(decisions)
    log = len(store.audit_log())
    assert store.record_series_decisions(decisions) == 0
    assert len(store.audit_log()) == log
    with pytest.raises(StoreError) as err:
        store.record_series_decisions(
            [_decision("s1", action="keep", reason="fewer checks"), _decision("s3")]
        )
    message = str(err.value)
    assert "cg_series_decisions already holds a different decision for 1" in message
    assert "('demand', 's1', 2024-06-01 00:00:00)" in message
    assert "action: stored 'retrain', given 'keep'" in message
    assert "reason: stored '3 of 5 checks fired', given 'fewer checks'" in message
    assert [d.unique_id for d in store.list_series_decisions("demand")] == ["s1", "s2"]
    with pytest.raises(StoreError, match="outcome: stored 'none', given 'pending'"):
        store.record_series_decisions([_decision("s2", action="keep")])


def test_a_pending_re_record_matches_a_decision_the_gate_has_judged(store: Store) -> None:
    store.record_series_decisions([_decision("s1"), _decision("s2")])
    verdict = DecisionOutcomeUpdate(
        outcome="promoted",
        challenger_version="2",
        champion_version="1",
        challenger_error=0.8,
        champion_error=1.1,
        gate_reason="lower MASE",
    )
    assert store.set_decision_outcomes("demand", NOW, {"s1": verdict}) == 1
    # A resumed cycle records its decisions again, as they were before the gate.
    assert store.record_series_decisions([_decision("s1"), _decision("s2")]) == 0
    s1 = store.list_series_decisions("demand", unique_id="s1")[0]
    assert (s1.outcome, s1.challenger_version, s1.gate_reason) == ("promoted", "2", "lower MASE")
    # The decision's own fields are still compared.
    with pytest.raises(StoreError, match=r"expected_loss: stored 12\.5, given 13\.0"):
        store.record_series_decisions([_decision("s1", expected_loss=13.0)])
    # And a judged decision re-recorded with another verdict is a conflict.
    with pytest.raises(StoreError, match="outcome: stored 'promoted', given 'rejected'"):
        store.record_series_decisions([_decision("s1", outcome="rejected")])


def test_set_decision_outcomes(store: Store) -> None:
    store.record_series_decisions([_decision(f"s{i}") for i in range(4)])
    outcomes = {
        "s0": DecisionOutcomeUpdate(
            outcome="promoted", challenger_version="2", champion_version="1"
        ),
        "s1": DecisionOutcomeUpdate(
            outcome="rejected",
            challenger_version="2",
            challenger_error=2.0,
            champion_error=1.0,
            gate_reason="worse than the champion",
        ),
        "s2": DecisionOutcomeUpdate(outcome="awaiting_approval", challenger_version="2"),
    }
    assert store.set_decision_outcomes("demand", NOW, outcomes) == 3
    got = {d.unique_id: d for d in store.list_series_decisions("demand")}
    assert [got[u].outcome for u in ("s0", "s1", "s2", "s3")] == [
        "promoted",
        "rejected",
        "awaiting_approval",
        "pending",
    ]
    assert got["s1"].gate_reason == "worse than the champion" and got["s1"].champion_error == 1.0
    assert got["s1"].reason == "3 of 5 checks fired"  # the decision itself is untouched
    entry = store.audit_log(action="set_decision_outcomes")[0]
    assert entry.payload == {
        "ds": "2024-06-01T00:00:00",
        "outcomes": {"awaiting_approval": 1, "promoted": 1, "rejected": 1},
    }
    with pytest.raises(StoreError) as err:
        store.set_decision_outcomes(
            "demand",
            NOW,
            {
                "s3": DecisionOutcomeUpdate(outcome="promoted"),
                "s9": DecisionOutcomeUpdate(outcome="promoted"),
            },
        )
    message = str(err.value)
    assert "no decision of 'demand' at 2024-06-01 00:00:00 for 1 series: 's9'" in message
    assert "nothing was updated" in message
    assert store.list_series_decisions("demand", unique_id="s3")[0].outcome == "pending"
    with pytest.raises(StoreError, match="no decision of 'demand'"):
        store.set_decision_outcomes(
            "demand", NOW + timedelta(days=1), {"s0": DecisionOutcomeUpdate(outcome="promoted")}
        )
    with pytest.raises(StoreError, match="outcome 'maybe' is not one of"):
        store.set_decision_outcomes("demand", NOW, {"s3": DecisionOutcomeUpdate(outcome="maybe")})
    assert store.set_decision_outcomes("demand", NOW, {}) == 0
    assert store.verify_audit_chain().ok


def test_bad_decisions_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="action 'panic' is not one of"):
        store.record_series_decisions([_decision("s1", action="panic")])
    with pytest.raises(StoreError, match="outcome 'later' is not one of"):
        store.record_series_decisions([_decision("s1", outcome="later")])
    with pytest.raises(StoreError, match="cpu_seconds is infinite"):
        store.record_series_decisions([_decision("s1", cpu_seconds=float("inf"))])
    with pytest.raises(StoreError, match="appears twice in this batch"):
        store.record_series_decisions([_decision("s1"), _decision("s1", reason="other")])
    assert store.list_series_decisions("demand") == []


def test_the_database_refuses_an_unknown_action(store: Store, raw_engine: Engine) -> None:
    with pytest.raises(IntegrityError, match=r"(?i)check"), raw_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cg_series_decisions (model_name, ds, unique_id, action, trigger, "
                "reason, outcome) VALUES ('m', '2024-01-01 00:00:00', 's', 'panic', '', '', 'none')"
            )
        )


def test_last_retrains(store: Store) -> None:
    day = lambda d: NOW + timedelta(days=d)  # noqa: E731
    store.record_series_decisions(
        [
            _decision("s1", day(0)),
            _decision("s1", day(5)),
            _decision("s1", day(9), action="keep", outcome="none"),
            _decision("s2", day(3)),
            _decision("s3", day(1), action="wait", outcome="none"),
            _decision("s4", day(8), model_name="other"),
        ]
    )
    assert store.last_retrains("demand") == {"s1": day(5), "s2": day(3)}
    assert store.last_retrains("demand", until=day(4)) == {"s1": day(0), "s2": day(3)}
    assert store.last_retrains("demand", until=day(-1)) == {}
    assert store.last_retrains("other") == {"s4": day(8)}


# --- cycle ledger ---------------------------------------------------------------------


def test_cycle_ledger(store: Store) -> None:
    assert store.last_cycle("demand") is None and store.get_cycle("demand", NOW) is None
    begun = store.begin_cycle("demand", NOW, at=AT)
    assert begun == CycleRecord(
        model_name="demand",
        now=NOW,
        status="running",
        stage="start",
        summary={},
        started_at=AT,
        finished_at=None,
    )
    assert store.begin_cycle("demand", NOW, at=AT + timedelta(hours=1)) == begun
    assert len(store.audit_log(action="begin_cycle")) == 1
    assert store.advance_cycle("demand", NOW, "checked").stage == "checked"
    # Begun again after a crash: the stage it reached, unchanged.
    assert store.begin_cycle("demand", NOW, at=AT + timedelta(hours=2)).stage == "checked"

    summary = {"retrained": 3, "promoted": 2, "note": "ok"}
    done = store.finish_cycle("demand", NOW, summary=summary, at=AT + timedelta(hours=3))
    assert (done.status, done.stage, done.summary, done.finished_at) == (
        "done",
        "done",
        summary,
        AT + timedelta(hours=3),
    )
    assert store.begin_cycle("demand", NOW, at=AT + timedelta(days=1)) == done
    assert store.get_cycle("demand", NOW) == done
    assert store.finish_cycle("demand", NOW, summary=summary, at=AT + timedelta(days=1)) == done
    with pytest.raises(StoreError, match="already finished at 2024-06-01 09:00:00"):
        store.finish_cycle("demand", NOW, summary={"retrained": 4}, at=AT)
    with pytest.raises(StoreError, match="finished cycle is not run again"):
        store.advance_cycle("demand", NOW, "served")
    with pytest.raises(StoreError, match="no cycle demand@2024-06-02T00:00:00; begin it first"):
        store.advance_cycle("demand", NOW + timedelta(days=1), "checked")

    nxt = store.begin_cycle("demand", NOW + timedelta(days=1), at=AT + timedelta(days=1))
    store.begin_cycle("other", NOW + timedelta(days=5), at=AT)
    assert store.list_cycles("demand") == [done, nxt]
    assert store.last_cycle("demand") == nxt
    finish = store.audit_log(action="finish_cycle")
    assert len(finish) == 1 and finish[0].entity == "cycle:demand@2024-06-01T00:00:00"
    assert finish[0].payload["summary"] == summary
    assert store.verify_audit_chain().ok


# --- intents --------------------------------------------------------------------------


def test_intents(store: Store) -> None:
    payload = {"series": ["s1", "s2"], "version": "3", "alias": "champion"}
    first = store.open_intent("demand", "promote", "batch-7", payload, at=AT)
    assert first == Intent(
        id=first.id,
        model_name="demand",
        kind="promote",
        key="batch-7",
        payload=payload,
        status="open",
        opened_at=AT,
        closed_at=None,
    )
    again = store.open_intent("demand", "promote", "batch-7", {"other": 1}, at=AT + timedelta(1))
    assert again == first
    second = store.open_intent("demand", "rollback", "batch-7", {}, at=AT)
    store.open_intent("other", "promote", "batch-7", {}, at=AT)
    assert store.open_intents("demand") == [first, second]

    closed = store.close_intent(first.id, "done", at=AT + timedelta(minutes=5))
    assert (closed.status, closed.closed_at) == ("done", AT + timedelta(minutes=5))
    assert store.close_intent(first.id, "done", at=AT + timedelta(hours=1)) == closed
    assert store.open_intents("demand") == [second]
    # Whatever its status, the same (model, kind, key) comes back as it is.
    assert store.open_intent("demand", "promote", "batch-7", payload, at=AT) == closed
    assert store.get_intent("demand", "promote", "batch-7") == closed
    assert store.get_intent("demand", "promote", "nope") is None

    with pytest.raises(StoreError, match=r"already closed 'done'.*cannot be closed 'undone'"):
        store.close_intent(first.id, "undone", at=AT)
    with pytest.raises(StoreError, match="not 'open'"):
        store.close_intent(second.id, "open", at=AT)
    with pytest.raises(StoreError, match="intent status 'gone' is not one of"):
        store.close_intent(second.id, "gone", at=AT)
    with pytest.raises(StoreError, match="no intent with id 999"):
        store.close_intent(999, "done", at=AT)
    assert store.close_intent(second.id, "undone", at=AT).status == "undone"
    assert store.open_intents("demand") == []
    assert [e.action for e in store.audit_log() if "intent" in e.action] == [
        "open_intent",
        "open_intent",
        "open_intent",
        "close_intent",
        "close_intent",
    ]
    assert store.verify_audit_chain().ok


# --- forecasts that a re-run can repeat -----------------------------------------------


def _forecast(uid: str, h: int, yhat: float = 1.0) -> ForecastRecord:
    return ForecastRecord(
        unique_id=uid,
        origin=NOW,
        ds=NOW + timedelta(days=h),
        horizon=h,
        yhat=yhat,
        model_name="demand",
        version="1",
        alias="champion",
        created_at=AT,
    )


def test_record_forecasts_skip_leaves_stored_rows_and_counts_new_ones(store: Store) -> None:
    assert store.record_forecasts([_forecast("s1", 1), _forecast("s1", 2)]) == 2
    again = [_forecast("s1", 1, yhat=99.0), _forecast("s1", 2, yhat=99.0), _forecast("s1", 3)]
    with pytest.raises(StoreError, match="if_exists='skip'"):
        store.record_forecasts(again)  # the default is unchanged: refuse the whole call
    assert len(store.get_forecasts()) == 2
    log = len(store.audit_log())
    assert store.record_forecasts(again, if_exists="skip") == 1
    got = store.get_forecasts()
    assert got["yhat"].tolist() == [1.0, 1.0, 1.0]  # the stored rows kept their values
    assert got["ds"].tolist() == [pd.Timestamp(NOW + timedelta(days=d)) for d in (1, 2, 3)]
    entry = store.audit_log(action="record_forecasts")[-1]
    assert len(store.audit_log()) == log + 1
    assert entry.payload["rows"] == 1 and entry.payload["skipped"] == 2
    # Everything stored already: nothing written, nothing audited.
    assert store.record_forecasts(again, if_exists="skip") == 0
    assert len(store.audit_log()) == log + 1
    with pytest.raises(StoreError, match="if_exists must be 'error' or 'skip'"):
        store.record_forecasts(again, if_exists="replace")  # type: ignore[arg-type]


# --- migration and the whole chain ------------------------------------------------------


def test_upgrading_an_r0002_database_with_data_keeps_it(store_url: str, raw_engine: Engine) -> None:
    engine = make_engine(parse_url(store_url), schema=None)
    try:
        upgrade(engine, "r0002_audit_append_only")
        with Session(engine) as session, session.begin():
            session.add(ActualRow(unique_id="s1", ds=NOW, y=3.5, received_at=AT))
            session.add(
                AliasMoveRow(
                    model_name="demand",
                    alias="champion",
                    version="1",
                    previous_version=None,
                    moved_at=AT,
                    moved_by="ana",
                    reason="first",
                )
            )
            # The audit row as r0002 wrote it (one time, ``at``): by hand, as the model
            # now has columns that schema lacks.
            row = {
                "id": 1,
                "at": AT,
                "actor": "ana",
                "action": "move_alias",
                "entity": "alias:demand@champion",
                "payload": {"to": "1"},
                "prev_hash": _audit.GENESIS,
            }
            session.execute(
                text(
                    "INSERT INTO cg_audit_log (id, at, actor, action, entity, payload, "
                    "prev_hash, hash) VALUES (:id, :at, :actor, :action, :entity, :payload, "
                    ":prev_hash, :hash)"
                ),
                {
                    **row,
                    "payload": canonical_json(row["payload"]),
                    "hash": _audit.entry_hash(**row),  # type: ignore[arg-type]
                },
            )
        assert not NEW_TABLES & set(inspect(raw_engine).get_table_names())

        with Store.open(store_url) as store:
            assert store.schema_revision() == head_revision() == "r0010_audit_times"
            assert store.get_actuals()["y"].tolist() == [3.5]
            assert store.current_alias("demand", "champion") == "1"
            store.deploy("demand", {"s1": "1"}, by="ana", reason="first", at=AT)
            store.record_series_checks(_checks("demand", "s1", range(2), {1}))
            assert [e.action for e in store.audit_log()] == [
                "move_alias",
                "deploy",
                "record_series_checks",
            ]
            assert store.verify_audit_chain().ok
        assert set(inspect(raw_engine).get_table_names()) >= NEW_TABLES

        # Down to r0002: the new tables go, the old data stays; and up again.
        downgrade(engine, "r0002_audit_append_only")
        assert not NEW_TABLES & set(inspect(raw_engine).get_table_names())
        with Store.open(store_url) as store:
            assert store.get_actuals()["y"].tolist() == [3.5]
            assert len(store.get_deployment("demand")) == 0
    finally:
        engine.dispose()


def test_the_audit_chain_verifies_after_a_whole_cycle(store: Store) -> None:
    with store.transaction():
        store.begin_cycle("demand", NOW, at=AT)
        store.deploy("demand", {"s1": "1", "s2": "1"}, by="a", reason="first", at=AT)
    store.record_series_checks(_checks("demand", "s1", range(3), {1, 2}))
    store.record_series_decisions([_decision("s1"), _decision("s2", action="keep", outcome="none")])
    intent = store.open_intent("demand", "promote", "s1@2", {"version": "2"}, at=AT)
    with store.transaction():
        store.set_decision_outcomes(
            "demand", NOW, {"s1": DecisionOutcomeUpdate(outcome="promoted")}
        )
        store.deploy("demand", {"s1": "2"}, by="a", reason="promoted", at=AT, batch="c1")
    store.close_intent(intent.id, "done", at=AT)
    store.record_forecasts([_forecast("s1", 1)], if_exists="skip")
    store.finish_cycle("demand", NOW, summary={"promoted": 1}, at=AT)
    # In chain order: the listing is by recorded_at, which a store without a clock takes
    # from the times its calls were given (the data's time for some, AT for others).
    assert [e.action for e in sorted(store.audit_log(), key=lambda e: e.id)] == [
        "begin_cycle",
        "deploy",
        "record_series_checks",
        "record_series_decisions",
        "open_intent",
        "set_decision_outcomes",
        "deploy",
        "close_intent",
        "record_forecasts",
        "finish_cycle",
    ]
    assert store.verify_audit_chain().ok
