from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chronoguard.alerts import AlertBook
from chronoguard.drift import DriftKind, DriftResult
from chronoguard.monitoring import MonitoringReport
from chronoguard.store import Store


def report(now: str, fired: bool) -> MonitoringReport:
    r = DriftResult(
        "bias_z",
        -4.0 if fired else 0.1,
        1e-4 if fired else 0.9,
        0.01,
        fired,
        threshold_on="p_value",
        feature="error_h1",
        unique_id="a",
        kind=DriftKind.CONCEPT,
    )
    return MonitoringReport(now=pd.Timestamp(now), version="1", results=[r])


def test_one_alert_per_episode_fire_then_resolve(tmp_path: Path, store_url: str) -> None:
    with Store.open(store_url) as store:
        book = AlertBook()
        sequence = [
            ("2020-01-01", False),
            ("2020-02-01", True),
            ("2020-03-01", True),
            ("2020-04-01", True),
            ("2020-05-01", False),
            ("2020-06-01", True),
        ]
        for now, fired in sequence:
            book.update(store, report(now, fired), now=pd.Timestamp(now))
        alerts = store.list_alerts()
        assert [str(a.ds.date()) for a in alerts] == ["2020-02-01", "2020-06-01"]
        assert [a.status for a in alerts] == ["resolved", "open"]
        assert alerts[0].feature == "error_h1" and "bias_z" in alerts[0].message
        assert [a["ds"] for a in book.as_dicts()] == ["2020-02-01", "2020-06-01"]
        # a new book on the same store continues the episode instead of raising it again
        again = AlertBook.from_store(store)
        again.update(store, report("2020-07-01", True), now=pd.Timestamp("2020-07-01"))
        assert len(store.list_alerts()) == 2
        assert store.verify_audit_chain().ok


def test_advisory_results_are_recorded_but_never_alert(store_url: str) -> None:
    iid = DriftResult(
        "ks",
        0.9,
        1e-6,
        0.05,
        True,
        threshold_on="p_value",
        unique_id="a",
        advisory=True,
    )
    rep = MonitoringReport(now=pd.Timestamp("2020-01-01"), version="1", results=[iid])
    assert rep.fired() == [] and rep.fired_kinds == frozenset() and rep.alerting() == []
    with Store.open(store_url) as store:
        AlertBook().update(store, rep, now=pd.Timestamp("2020-01-01"))
        assert store.list_alerts() == []
        (record,) = rep.records()
        assert record.details["advisory"] is True  # stored, so readers of the store see it


def test_alerts_need_the_fleet_adjustment_but_triggers_do_not(store_url: str) -> None:
    """A result positive at its series' level counts for the retraining rule; it alerts only
    when it stays within its level after Benjamini–Hochberg across the fleet."""
    from chronoguard.monitoring import fleet_alerts

    def decay(uid: str, p: float) -> DriftResult:
        return DriftResult(
            "mase_ratio_chi2", 2.0, p, 0.01, p < 0.01, threshold_on="p_value", unique_id=uid
        )

    now = pd.Timestamp("2020-01-01")
    quiet = [decay(f"q{i}", 0.5 + i / 100) for i in range(40)]
    lone = MonitoringReport(now=now, version="1", results=[decay("a", 0.004), *quiet])
    (adjusted,) = fleet_alerts([lone])
    a = adjusted.results[0]
    assert a.drift and a.q_value == pytest.approx(0.004 * 41)
    assert a.alert is False and not a.alerts
    assert [r.unique_id for r in adjusted.fired()] == ["a"] and adjusted.alerting() == []
    # Families span reports (versions): a strong one alerts whichever version serves it.
    strong = MonitoringReport(now=now, version="2", results=[decay("b", 1e-6)])
    _, b_report = fleet_alerts([lone, strong])
    assert b_report.results[0].alert is True
    assert b_report.results[0].q_value == pytest.approx(1e-6 * 42)
    with Store.open(store_url) as store:
        AlertBook().update(store, adjusted, now=now)
        assert store.list_alerts() == []
        AlertBook().update(store, b_report, now=now)
        assert [a.unique_id for a in store.list_alerts()] == ["b"]


def test_a_rollback_alert_is_an_event_resolved_by_the_next_check(store_url: str) -> None:
    from chronoguard.alerts.book import ROLLBACK_METHOD
    from chronoguard.store import Alert

    with Store.open(store_url) as store:
        (rolled,) = store.record_alerts(
            [
                Alert(
                    ds=pd.Timestamp("2020-02-01").to_pydatetime(),
                    kind="performance_decay",
                    method=ROLLBACK_METHOD,
                    statistic=1.3,
                    threshold=1.0,
                    severity="warning",
                    message="canary of version 2 on a rolled back to version 1 by itself",
                    version="2",
                    unique_id="a",
                )
            ]
        )
        book = AlertBook.from_store(store)
        book.update(store, report("2020-03-01", True), now=pd.Timestamp("2020-03-01"))
        status = {a.id: a.status for a in store.list_alerts()}
        assert status[rolled.id] == "resolved"  # told once, then done
        assert sorted(status.values()) == ["open", "resolved"]  # the check's own stays open
