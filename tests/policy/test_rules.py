from __future__ import annotations

import pandas as pd

from chronoguard.policy import CheckSummary, RetrainRule


def checks(*fired: set[str]) -> list[CheckSummary]:
    ts = pd.date_range("2020-01-01", periods=len(fired), freq="MS")
    return [CheckSummary(t, frozenset(f)) for t, f in zip(ts, fired, strict=True)]


def test_k_of_n_fires_only_when_persistent() -> None:
    rule = RetrainRule(("performance_decay", "data_drift"), k=2, n=3)
    assert not rule.decide(checks({"data_drift"}, set(), set()), periods_since_retrain=99).retrain
    assert not rule.decide(
        checks({"data_drift"}, set(), set(), {"data_drift"}), periods_since_retrain=99
    ).retrain
    d = rule.decide(checks(set(), {"data_drift"}, {"data_drift"}), periods_since_retrain=99)
    assert d.retrain and d.trigger == "data_drift 2/3"


def test_kinds_not_listed_never_trigger() -> None:
    rule = RetrainRule(("performance_decay",), k=1, n=1)
    assert not rule.decide(checks({"data_quality"}), periods_since_retrain=99).retrain


def test_cooldown_blocks_and_says_so() -> None:
    rule = RetrainRule(("performance_decay",), k=1, n=1, cooldown=3)
    d = rule.decide(checks({"performance_decay"}), periods_since_retrain=1)
    assert not d.retrain and "cooldown" in d.reason
    assert rule.decide(checks({"performance_decay"}), periods_since_retrain=3).retrain


def test_schedule() -> None:
    rule = RetrainRule(("schedule",), k=1, n=1, schedule_every=12)
    assert not rule.decide(checks(set()), periods_since_retrain=11).retrain
    assert rule.decide(checks(set()), periods_since_retrain=12).trigger == "schedule"
