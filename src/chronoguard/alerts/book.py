"""Alert rules: an alert fires when a check turns positive and resolves when it clears.

One firing alert per (series, kind, method, feature), in the way Prometheus alerts fire
and resolve: a change that persists for months raises one alert, not one per check, so
the on-call rotation sees transitions, not repetition. Data-quality incidents alert like
any other kind but keep their own kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from chronoguard.drift import DriftResult
from chronoguard.monitoring import MonitoringReport
from chronoguard.store import Alert, Store

AlertKey = tuple[str | None, str, str, str]

#: The method of the alert an automatic rollback raises (kind ``performance_decay``): the
#: sequential paired comparison of a watch showed the version worse than the one it
#: replaced. An event, not a check that stays on: resolved by the next check.
ROLLBACK_METHOD = "paired_watch"


def _key(r: DriftResult) -> AlertKey:
    return (r.unique_id, str(r.kind), r.method, r.feature)


def alert_message(r: DriftResult) -> str:
    p = "" if r.p_value is None else f", p = {r.p_value:.3g}"
    on = "p-value" if r.threshold_on == "p_value" else "statistic"
    return (
        f"{r.kind} on {r.unique_id or 'fleet'}/{r.feature}: {r.method} = {r.statistic:.4g}{p} "
        f"({on} threshold {r.threshold:.3g})"
    )


def alert_summary(a: Alert) -> dict[str, Any]:
    """An alert as a JSON-safe summary row (the replay's ``summary.json`` lists these)."""
    return {
        "ds": str(pd.Timestamp(a.ds).date()),
        "unique_id": a.unique_id,
        "kind": a.kind,
        "method": a.method,
        "feature": a.feature,
        "statistic": a.statistic,
        "p_value": a.p_value,
        "threshold": a.threshold,
        "severity": a.severity,
        "message": a.message,
        "version": a.version,
    }


@dataclass
class AlertBook:
    """Which alerts are firing; raises new ones and resolves cleared ones in the store."""

    open: dict[AlertKey, int] = field(default_factory=dict)  # key -> alert id
    raised: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_store(cls, store: Store) -> AlertBook:
        book = cls()
        for a in store.list_alerts(status="open"):
            book.open[(a.unique_id, a.kind, a.method, a.feature)] = int(a.id or 0)
        return book

    def update(self, store: Store, report: MonitoringReport, *, now: pd.Timestamp) -> list[Alert]:
        """Raise alerts for checks that turned positive; resolve those that cleared."""
        new: list[Alert] = []
        sources: list[DriftResult] = []
        seen: set[AlertKey] = set()
        for r in report.results:
            key = _key(r)
            seen.add(key)
            if r.alerts and key not in self.open:
                new.append(
                    Alert(
                        ds=now.to_pydatetime(),
                        kind=str(r.kind),
                        method=r.method,
                        statistic=float(r.statistic),
                        threshold=float(r.threshold),
                        severity=str(r.severity),
                        message=alert_message(r),
                        version=report.version,
                        unique_id=r.unique_id,
                        feature=r.feature,
                        p_value=None if r.p_value is None else float(r.p_value),
                    )
                )
                sources.append(r)
        drifting = {_key(r) for r in report.results if r.alerts}
        resolving = {k: "check cleared" for k in self.open if k in seen and k not in drifting}
        for k in self.open:  # events: raised, told, done
            if k[2] == ROLLBACK_METHOD:
                resolving[k] = "the rollback was made and told; resolved at the next check"
        with store.transaction():
            stored = store.record_alerts(new)
            for k, why in resolving.items():
                store.set_alert_status(
                    self.open.pop(k), "resolved", at=now, by="chronoguard monitor", reason=why
                )
        for a, r in zip(stored, sources, strict=True):
            self.open[_key(r)] = int(a.id or 0)
            self.raised.append(alert_summary(a))
        return stored

    def as_dicts(self) -> list[dict[str, Any]]:
        return list(self.raised)
