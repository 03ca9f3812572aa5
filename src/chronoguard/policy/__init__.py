"""Retraining policy: when is a retrain worth it."""

from chronoguard.policy.rules import CheckSummary, RetrainDecision, RetrainRule

__all__ = ["CheckSummary", "RetrainDecision", "RetrainRule"]
