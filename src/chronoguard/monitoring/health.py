"""A health score per series, in [0, 1] (1 healthy), from its latest check.

Definition
----------
The score of a series is computed from the latest check the production cycle recorded for
it (:meth:`chronoguard.store.Store.series_check_history`, ``last_n=1``) and the
performance-decay result of that same check (method ``mase_ratio_chi2``, whose statistic is
the ratio of the recent MASE to the MASE of the serving version's own backtest):

``health = Π_{k ∈ fired} (1 − w_k) × min(1, 1 / r)``

* ``fired`` are the kinds that fired and count as evidence in that check (positive,
  non-advisory: the set :class:`~chronoguard.store.SeriesCheck` records), with the
  weights ``w`` of :data:`KIND_WEIGHTS`: ``performance_decay`` 0.5, ``concept_drift`` 0.4,
  ``data_quality`` 0.4, ``data_drift`` 0.3, ``prediction_drift`` 0.2 (an unknown kind
  0.3). A series whose every check kind fired scores about 0.1 before its error counts.
* ``r`` is the MASE ratio: errors no larger than the version's own (``r ≤ 1``) cost
  nothing, twice as large halve the score, an infinite ratio (a reference error of 0)
  gives 0. Without a decay result (too few actuals yet, or a non-finite statistic) the
  factor is 1.

A check that found nothing with errors as in the reference scores 1. A deployed series
with no check yet has no score (:func:`fleet_health` leaves it out; the caller counts it
as unscored). The score reads what monitoring already decided: it runs no test itself.
The two inputs overlap on purpose: a decay check that fired says the growth is real, the
ratio says how large it is.

Examples
--------
>>> health_score(frozenset(), 0.9)
1.0
>>> health_score(frozenset({"performance_decay"}), 2.0)
0.25
>>> round(health_score(frozenset({"data_drift", "concept_drift"}), None), 2)
0.42
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from chronoguard.monitoring.levels import DECAY_METHOD
from chronoguard.store import Store

#: Weight of each kind that fired: the share of the score it takes away.
KIND_WEIGHTS: dict[str, float] = {
    "performance_decay": 0.5,
    "concept_drift": 0.4,
    "data_quality": 0.4,
    "data_drift": 0.3,
    "prediction_drift": 0.2,
}
#: Weight of a kind not in :data:`KIND_WEIGHTS`.
OTHER_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class SeriesHealth:
    """The score of ``unique_id`` from its check at ``ds`` against ``version``."""

    unique_id: str
    ds: datetime
    version: str
    score: float
    fired: frozenset[str]
    mase_ratio: float | None


def health_score(fired: Collection[str], mase_ratio: float | None) -> float:
    """The health of a series whose latest check fired ``fired`` with MASE ratio
    ``mase_ratio`` (``None``: not measured); see the module's docstring."""
    score = 1.0
    for kind in fired:
        score *= 1.0 - KIND_WEIGHTS.get(str(kind), OTHER_WEIGHT)
    if mase_ratio is not None and not math.isnan(mase_ratio) and mase_ratio > 1.0:
        score *= 0.0 if math.isinf(mase_ratio) else 1.0 / mase_ratio
    return min(1.0, max(0.0, score))


def fleet_health(
    store: Store, model_name: str, series: Iterable[str] | None = None
) -> dict[str, SeriesHealth]:
    """The health of every series of ``model_name`` with a check (or of ``series`` only).

    Two kinds of query whatever the fleet's size: the latest check of every series (one),
    and the decay results at the times of those checks (one per distinct time, usually
    one: a cycle checks its whole fleet at once).
    """
    latest = store.series_check_history(model_name, last_n=1)
    wanted = None if series is None else set(series)
    checks = {u: c[-1] for u, c in latest.items() if c and (wanted is None or u in wanted)}
    ratios: dict[tuple[str, datetime, str], float] = {}
    for ds in sorted({c.ds for c in checks.values()}):
        found = store.get_monitoring_results(method=DECAY_METHOD, ds_from=ds, ds_to=ds)
        if found.empty:
            continue
        for uid, version, stat in zip(
            found["unique_id"], found["version"], found["statistic"], strict=True
        ):
            if uid is not None:
                ratios[(str(uid), ds, str(version))] = float(stat)
    out: dict[str, SeriesHealth] = {}
    for u, c in checks.items():
        ratio = ratios.get((u, c.ds, c.version))
        out[u] = SeriesHealth(
            unique_id=u,
            ds=c.ds,
            version=c.version,
            score=health_score(c.fired, ratio),
            fired=c.fired,
            mase_ratio=ratio,
        )
    return out


def worst(health: Iterable[SeriesHealth], n: int) -> list[SeriesHealth]:
    """The ``n`` lowest scores, lowest first (ties by series id)."""
    return sorted(health, key=lambda h: (h.score, h.unique_id))[:n]


__all__ = [
    "KIND_WEIGHTS",
    "OTHER_WEIGHT",
    "SeriesHealth",
    "fleet_health",
    "health_score",
    "worst",
]
