from __future__ import annotations

from pathlib import Path

import pandas as pd

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
        assert store.verify_audit_chain() is None


def test_advisory_results_are_recorded_but_never_alert(store_url: str) -> None:
    iid = DriftResult(
        "ks",
        0.9,
        1e-6,
        0.05,
        True,
        threshold_on="p_value",
        unique_id="a",
        details={"advisory": True},
    )
    rep = MonitoringReport(now=pd.Timestamp("2020-01-01"), version="1", results=[iid])
    assert rep.fired() == [] and rep.fired_kinds == frozenset()
    with Store.open(store_url) as store:
        AlertBook().update(store, rep, now=pd.Timestamp("2020-01-01"))
        assert store.list_alerts() == []
