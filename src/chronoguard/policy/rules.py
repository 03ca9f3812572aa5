"""Should this model be retrained now? A rule over the history of monitoring checks.

The rule is a pure function of the checks so far (read back from the store in production,
kept in memory by a replay): a trigger fires when its kind of finding was raised in at least
``k`` of the last ``n`` checks, no retrain happened in the last ``cooldown`` periods, or a
schedule comes due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class CheckSummary:
    """What one monitoring check found, reduced to what the retraining rule needs."""

    ds: pd.Timestamp
    fired: frozenset[str]  # kinds with a positive decision, e.g. {"performance_decay"}


@dataclass(frozen=True)
class RetrainDecision:
    """The rule's verdict for one model or series.

    ``counts`` holds, per trigger kind, how many of the last ``checks`` checks raised it;
    ``in_cooldown`` is set when a persistent kind waits out the cooldown.
    """

    retrain: bool
    trigger: str  # e.g. "performance_decay 2/3", "schedule", or "" when no retrain
    reason: str
    counts: dict[str, int] = field(default_factory=dict)
    checks: int = 0
    in_cooldown: bool = False


@dataclass(frozen=True)
class RetrainRule:
    """k-of-n persistence per trigger kind, with a cooldown and an optional schedule.

    Parameters
    ----------
    triggers
        Kinds that may trigger a retrain (``performance_decay``, ``concept_drift``,
        ``data_drift``, ``prediction_drift``: the ``kind`` of a fired monitoring result, as
        in :attr:`CheckSummary.fired`; ``schedule`` enables the schedule).
    k, n
        Fire when a kind was raised in at least ``k`` of the last ``n`` checks.
    cooldown
        Periods after a retrain during which no new retrain starts (its checks still count).
    schedule_every
        Periods between scheduled retrains; 0 disables.

    Examples
    --------
    >>> rule = RetrainRule(("performance_decay",), k=2, n=3, cooldown=0)
    >>> ts = pd.date_range("2020-01-01", periods=3, freq="MS")
    >>> checks = [CheckSummary(t, frozenset(f)) for t, f in
    ...           zip(ts, [{"performance_decay"}, set(), {"performance_decay"}])]
    >>> rule.decide(checks, periods_since_retrain=10).trigger
    'performance_decay 2/3'
    """

    triggers: tuple[str, ...]
    k: int
    n: int
    cooldown: int = 0
    schedule_every: int = 0

    def decide(
        self, checks: Sequence[CheckSummary], *, periods_since_retrain: int
    ) -> RetrainDecision:
        recent = list(checks)[-self.n :]
        counts = {
            kind: sum(kind in c.fired for c in recent)
            for kind in self.triggers
            if kind != "schedule"
        }
        in_cooldown = periods_since_retrain < self.cooldown
        hits = [kind for kind, c in counts.items() if c >= self.k]
        if hits and not in_cooldown:
            trig = ", ".join(f"{kind} {counts[kind]}/{len(recent)}" for kind in hits)
            return RetrainDecision(
                True,
                trig,
                f"{trig} checks raised it (rule {self.k} of {self.n})",
                counts,
                len(recent),
            )
        if (
            "schedule" in self.triggers
            and self.schedule_every
            and periods_since_retrain >= self.schedule_every
        ):
            return RetrainDecision(
                True,
                "schedule",
                f"scheduled every {self.schedule_every} periods",
                counts,
                len(recent),
            )
        if hits:
            return RetrainDecision(
                False,
                "",
                f"{', '.join(hits)} persistent but in cooldown ({periods_since_retrain}/{self.cooldown})",
                counts,
                len(recent),
                in_cooldown=True,
            )
        raised = [f"{kind} {c}/{len(recent)}" for kind, c in counts.items() if c > 0]
        if raised:
            # Still "no trigger" first: callers read that prefix as "nothing to do now".
            return RetrainDecision(
                False,
                "",
                f"no trigger yet: {', '.join(raised)} checks raised it (rule {self.k} of {self.n})",
                counts,
                len(recent),
            )
        return RetrainDecision(False, "", "no trigger", counts, len(recent))
