"""A fleet's check step without the models: realistic monitoring reports recorded by the
AlertBook, and the notifications queued in the same transaction, as the cycle does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from chronoguard.alerts import AlertBook, SeriesPlace, queue_notifications
from chronoguard.config import AlertingConfig
from chronoguard.drift import DriftKind, DriftResult, Severity
from chronoguard.monitoring import MonitoringReport
from chronoguard.store import OutboxEntry, Store

MODEL = "demand"


def result(uid: str, fired: bool, *, severity: Severity = Severity.WARNING) -> DriftResult:
    """A concept-drift check of one series (the residual bias test), fired or clear."""
    return DriftResult(
        "bias_z",
        -4.2 if fired else 0.3,
        2e-5 if fired else 0.7,
        0.01,
        fired,
        threshold_on="p_value",
        feature="error_h1",
        unique_id=uid,
        kind=DriftKind.CONCEPT,
        severity=severity if fired else Severity.INFO,
    )


def check(
    store: Store,
    cfg: AlertingConfig,
    now: str | pd.Timestamp,
    series: Iterable[str],
    fired: Iterable[str],
    *,
    places: Mapping[str, SeriesPlace] | None = None,
    critical: Iterable[str] = (),
) -> list[OutboxEntry]:
    """One check of ``series`` at ``now``: ``fired`` fire (``critical`` ones critical),
    the others are clear. Returns the notifications queued."""
    t = pd.Timestamp(now)
    hot, crit = set(fired), set(critical)
    results = [
        result(u, u in hot, severity=Severity.CRITICAL if u in crit else Severity.WARNING)
        for u in series
    ]
    report = MonitoringReport(now=t, version="1", results=results)
    with store.transaction():
        AlertBook.from_store(store).update(store, report, now=t)
        return queue_notifications(store, cfg, model_name=MODEL, now=t, places=places)
