"""Retraining policy: which series to retrain now, and why.

:class:`RetrainRule` gates on evidence (k-of-n persistence, cooldown, schedule) per series;
:func:`resolve_groups` places series in their configured groups (tier, cost of error,
model); :func:`plan_cycle` values each series in money and chooses under the cycle's budget.
"""

from chronoguard.policy.engine import (
    Action,
    CyclePlan,
    InvalidEvidenceError,
    SeriesChoice,
    SeriesEvidence,
    expected_loss,
    plan_cycle,
    probability_real,
)
from chronoguard.policy.groups import (
    GroupAssignment,
    SeriesGroup,
    resolve_groups,
    series_column_values,
)
from chronoguard.policy.rules import CheckSummary, RetrainDecision, RetrainRule

__all__ = [
    "Action",
    "CheckSummary",
    "CyclePlan",
    "GroupAssignment",
    "InvalidEvidenceError",
    "RetrainDecision",
    "RetrainRule",
    "SeriesChoice",
    "SeriesEvidence",
    "SeriesGroup",
    "expected_loss",
    "plan_cycle",
    "probability_real",
    "resolve_groups",
    "series_column_values",
]
