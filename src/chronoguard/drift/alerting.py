"""Turning drift decisions into alerts a team can live with.

Three controls, each for a different source of noise:

* **persistence** (:class:`PersistenceRule`): alert only when ``k`` of the last ``n``
  checks flagged, so that one odd day does not page anyone. It is for memoryless
  checks (a fixed-window test each day); the sequential CUSUM check already accumulates
  evidence and its threshold is calibrated with the rule in place
  (:func:`persistent_alarms` is the same rule on whole paths).
* **false-discovery-rate control** (:func:`benjamini_hochberg`, :func:`fdr_adjust`): a
  run that tests thousands of series × features at level 0.05 raises hundreds of false
  alarms; Benjamini–Hochberg keeps the expected share of false ones among the flagged at
  ``alpha`` (Benjamini & Hochberg 1995; valid under independence and positive regression
  dependence, which one-sided tests on related series usually have).
* **severity** (:func:`severity_from_pvalue`, :func:`severity_from_margin`): how far past
  its threshold a result is.

:data:`DAILY_CHECK_RULE` is the default for a check run every day: the sequential check
with a false-alarm budget of 5 % per 90 checks and no extra persistence, which keeps the
per-series false-alarm rate over 90 daily checks at or below 0.10 with room for
estimation error (measured by ``bench/drift_calibration.py``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from chronoguard.drift._sequential import persistent_level
from chronoguard.drift.types import DriftInputError, DriftResult, Severity

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class PersistenceRule:
    """Alert when at least ``k`` of the last ``n`` decisions were positive.

    Parameters
    ----------
    k
        Positive decisions needed (1 <= k <= n).
    n
        Number of most recent decisions looked at.

    Examples
    --------
    >>> rule = PersistenceRule(k=2, n=3)
    >>> [rule.update(d) for d in [True, False, False, True, False, True]]
    [False, False, False, False, False, True]
    """

    def __init__(self, k: int = 2, n: int = 3) -> None:
        self.k = k
        self.n = n
        self._check()
        self._last: deque[bool] = deque(maxlen=n)

    def _check(self) -> None:
        if not (isinstance(self.k, int) and isinstance(self.n, int) and 1 <= self.k <= self.n):
            raise DriftInputError(
                f"PersistenceRule(k={self.k!r}, n={self.n!r}): need integers with 1 <= k <= n "
                "(e.g. k=2, n=3: two alarms among the last three checks)"
            )

    def update(self, decision: bool) -> bool:
        """Record one check's decision; return whether the rule now fires."""
        self._last.append(bool(decision))
        return sum(self._last) >= self.k

    def reset(self) -> None:
        """Forget past decisions (after a retrain or an acknowledged alert)."""
        self._last.clear()

    def __repr__(self) -> str:
        return f"PersistenceRule(k={self.k}, n={self.n})"

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "last": list(self._last)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PersistenceRule:
        rule = cls(int(d["k"]), int(d["n"]))
        for v in d.get("last", []):
            rule._last.append(bool(v))
        return rule


def persistent_alarms(decisions: npt.ArrayLike, k: int, n: int) -> BoolArray:
    """:class:`PersistenceRule` applied along the last axis of a decision array.

    Vectorised over series: row ``i`` gives what ``PersistenceRule(k, n).update`` returns
    for each decision of series ``i`` in turn.
    """
    PersistenceRule(k, n)  # validates
    d = np.asarray(decisions, dtype=np.float64)
    return np.asarray(persistent_level(d, k, n) > 0.5)


@dataclass(frozen=True)
class DailyCheckRule:
    """How a check that runs every day decides to alert.

    ``horizon`` checks share a false-alarm budget ``false_alarm_rate`` (the probability that
    a series without change alerts at least once in the horizon); ``persistence`` is the
    ``(k, n)`` rule applied on top, included in the calibration of the threshold.
    """

    horizon: int = 90
    false_alarm_rate: float = 0.05
    persistence: tuple[int, int] = (1, 1)

    def rule(self) -> PersistenceRule:
        return PersistenceRule(*self.persistence)


#: The default for daily checks (see the module docstring).
DAILY_CHECK_RULE = DailyCheckRule()


def benjamini_hochberg(
    p_values: npt.ArrayLike, alpha: float = 0.05
) -> tuple[FloatArray, BoolArray]:
    """Benjamini–Hochberg adjusted p-values (q-values) and decisions at FDR ``alpha``.

    Equals ``scipy.stats.false_discovery_control(p, method="bh")``. NaN p-values (tests
    that did not run) stay NaN and are never rejected; they do not count as tests.

    Examples
    --------
    >>> q, reject = benjamini_hochberg([0.001, 0.02, 0.03, 0.5], alpha=0.05)
    >>> [round(float(v), 3) for v in q], reject.tolist()
    ([0.004, 0.04, 0.04, 0.5], [True, True, True, False])
    """
    if not 0 < alpha < 1:
        raise DriftInputError(f"alpha={alpha!r}: the false-discovery rate must be in (0, 1)")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise DriftInputError(f"p_values must be one-dimensional, got shape {p.shape}")
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise DriftInputError("p_values must lie in [0, 1]")
    q = np.full(p.shape, np.nan)
    pv = p[ok]
    m = pv.size
    if m:
        order = np.argsort(pv, kind="stable")
        ranked = pv[order] * m / np.arange(1, m + 1)
        # Step-up: the adjusted value is the running minimum from the largest p down.
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adj = np.empty(m)
        adj[order] = np.clip(ranked, 0.0, 1.0)
        q[ok] = adj
    return q, np.asarray(ok & (np.nan_to_num(q, nan=2.0) <= alpha))


def fdr_adjust(results: list[DriftResult], alpha: float = 0.05) -> list[DriftResult]:
    """Results of one run with decisions re-made under Benjamini–Hochberg at ``alpha``.

    Only results decided on a p-value (``threshold_on == "p_value"``) take part; each gets
    ``details["q_value"]`` and ``drift = q <= alpha``. Others are returned unchanged.
    """
    idx = [
        i for i, r in enumerate(results) if r.threshold_on == "p_value" and r.p_value is not None
    ]
    if not idx:
        return list(results)
    q, reject = benjamini_hochberg([float(results[i].p_value or 1.0) for i in idx], alpha)
    out = list(results)
    for j, i in enumerate(idx):
        r = results[i]
        out[i] = replace(
            r,
            drift=bool(reject[j]),
            threshold=alpha,
            severity=severity_from_pvalue(float(q[j]), alpha),
            details={**r.details, "q_value": float(q[j]), "fdr_alpha": alpha},
        )
    return out


def severity_from_pvalue(p_value: float | None, alpha: float) -> Severity:
    """``CRITICAL`` below ``alpha / 100``, ``WARNING`` below ``alpha``, else ``INFO``.

    Two orders of magnitude separate "significant" from "overwhelming": at a daily budget of
    5 % a p-value of 0.0005 is what a change of about 1.5 times the detectable size gives.
    """
    if p_value is None or not np.isfinite(p_value):
        return Severity.INFO
    if p_value < alpha / 100:
        return Severity.CRITICAL
    if p_value < alpha:
        return Severity.WARNING
    return Severity.INFO


def severity_from_margin(
    statistic: float, threshold: float, *, critical_ratio: float = 2.0
) -> Severity:
    """For statistics without p-values (PSI, CUSUM): ``CRITICAL`` beyond ``critical_ratio``
    times the threshold, ``WARNING`` beyond it, else ``INFO``."""
    if not np.isfinite(statistic) or statistic <= threshold:
        return Severity.INFO
    return Severity.CRITICAL if statistic > critical_ratio * threshold else Severity.WARNING
