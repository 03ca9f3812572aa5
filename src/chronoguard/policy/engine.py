"""Which series to retrain this cycle: evidence of decay, cost of error, compute cost, budget.

The retraining rule (:class:`~chronoguard.policy.RetrainRule`) stays the evidence gate: only
series it says to retrain (persistent triggers, or a due schedule when ``schedule`` is among
its triggers) are candidates, so a false alarm the rule filters out is never paid for. This
module values each series in money and, when a budget limits the cycle, chooses among the
candidates. Everything here is a pure function of its inputs: no store, no clock.

Expected loss of keeping the champion
-------------------------------------
For a series with decay ratio ``d`` (recent MASE / the version's reference MASE), reference
MAE ``r`` (in units of y), cost of error ``c`` (money per unit of y of absolute error per
period), horizon ``H``, smallest drift q-value ``q`` and ``s`` periods since its last retrain::

    excess = r × max(d − 1, 0)                   # extra absolute error per period, units of y
    p      = 1 − (1 − p0) × (1 − p_drift) × (1 − p_stale)
    p0 = 1/2,  p_drift = 1 − q (0 without a q-value),  p_stale = s / (s + S)
    loss   = c × excess × H × p                  # money over the next H periods

``d`` is measured on a short recent window, so the excess may be noise: ``p`` is a weight
(not a calibrated posterior) on the chance that it is real and stays. With nothing else
known it is even odds (``p0``); a drift finding (small ``q``) and a long time since the last
retrain (``S`` = ``budget.staleness_periods``, where age alone counts as much as ``p0``) each
raise it towards one. The kept champion serves the next ``H`` periods of forecasts before a
later decision can replace it, hence ``× H``. The loss is 0 when ``d ≤ 1`` or there are no
errors yet (``d`` unknown); it increases with ``d`` and with ``c`` (and with ``r``, ``H``,
``s`` and ``1 − q``) and never decreases. When the reference error is zero the ratio is
infinite and carries no size: the excess is then one MASE scale (the seasonal-naive MAE) per
period.

Retrain cost
------------
The CPU seconds of the series' last measured fit (unknown: the median of the measured ones in
the cycle, or ``budget.default_fit_cpu_seconds`` when none is measured), times
``budget.price_per_cpu_second``. Without a price there is no money cost, and candidates are
ranked by loss per CPU second, which orders them the same way.

Choosing under the budget
-------------------------
Candidates are ranked tier ``critical`` first, then by value per cost (expected loss per CPU
second), then larger loss, cheaper fit and ``unique_id`` (so a plan is reproducible). In that
order each is taken when it still fits within every budget (``cpu_seconds_per_cycle``,
``money_per_cycle``); one that does not fit is marked ``over_budget`` and the next is tried,
so a cheaper series further down may still use what is left. Without a budget every candidate
is taken: the plan retrains exactly the series the rule chose (less those the caller marks as
``fallback``).

This is the greedy heuristic of the 0/1 knapsack: O(n log n), explainable one series at a
time ("ranked 3rd by loss per CPU second, fitted in what was left"), and stable when a cost
estimate moves a little. It gives up optimality: a high-ratio series that fills most of the
budget can crowd out two slightly lower-ratio ones worth more together (budget 10, fits of 6,
5 and 5 CPU s worth 7, 5 and 5: greedy keeps 7, the exact answer 10), and ranking critical
series first is a priority, not a value. An exact knapsack (dynamic programming over the
budget in small CPU units, or a mixed-integer program) would fix that at a cost that grows
with the budget's resolution and a choice no one can explain per series, on loss estimates
that are themselves rough.

Examples
--------
>>> from chronoguard.config import BudgetConfig
>>> from chronoguard.policy import RetrainDecision, SeriesGroup
>>> grp = SeriesGroup("load", "standard", cost_per_unit_error=10.0)
>>> def ev(uid, d, cpu):
...     verdict = RetrainDecision(True, "performance_decay 2/3", "decay 2 of 3", {}, 3)
...     return SeriesEvidence(unique_id=uid, decision=verdict, group=grp, horizon=4,
...                           periods_since_retrain=24, reference_mae=5.0, mase_scale=4.0,
...                           decay_ratio=d, fit_cpu_seconds=cpu)
>>> plan = plan_cycle([ev("a", 1.5, 10.0), ev("b", 3.0, 10.0), ev("c", 1.2, 2.0)],
...                   BudgetConfig(cpu_seconds_per_cycle=12))
>>> plan.chosen, [c.action.value for c in plan.choices]
(('b', 'c'), ['over_budget', 'retrain', 'retrain'])
>>> print(plan.choice("b").reason)
performance_decay 2/3: decay ×3.00, 24 periods since the last retrain; expected loss $300
over 4 periods vs retrain 10.0 CPU s; chosen, rank 1 of 3; budget: 10.0 of 12.0 CPU s spent
>>> print(plan.choice("a").reason)
performance_decay 2/3: decay ×1.50, 24 periods since the last retrain; expected loss $75
over 4 periods vs retrain 10.0 CPU s; over budget at rank 3 of 3: 12.0 of 12.0 CPU s already
spent when its turn came, its retrain would take 10.0 CPU s
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from chronoguard.config import BudgetConfig, Tier
from chronoguard.errors import ChronoguardError
from chronoguard.policy.groups import SeriesGroup
from chronoguard.policy.rules import RetrainDecision

P0 = 0.5  # weight of an observed excess error with no other evidence: even odds


class InvalidEvidenceError(ChronoguardError, ValueError):
    """A series' evidence holds a value outside its range (the message names the field)."""


class Action(StrEnum):
    """What the plan does with a series this cycle."""

    RETRAIN = "retrain"  # chosen: retrain now
    KEEP = "keep"  # no evidence against the champion
    WAIT = "wait"  # evidence, but in cooldown or not persistent yet
    OVER_BUDGET = "over_budget"  # worth retraining, but the budget ran out
    FALLBACK = "fallback"  # too little data to train; the caller said so


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesEvidence:
    """What the plan knows about one series this cycle.

    Parameters
    ----------
    unique_id
        The series.
    decision
        The retraining rule's verdict for the series.
    group
        Its group (tier, cost of error, model): :func:`~chronoguard.policy.resolve_groups`.
    horizon
        Periods the champion's forecasts cover: the periods a kept champion keeps serving.
    periods_since_retrain
        Periods since the version serving the series was trained.
    reference_mae
        Mean absolute error of the serving version's backtest, in units of y.
    mase_scale
        The version's MASE scale (in-sample seasonal-naive MAE), in units of y.
    decay_ratio
        Recent MASE / the version's reference MASE; ``None`` when no errors are known yet.
    drift_q_value
        The smallest drift q-value among the series' checks; ``None`` when none.
    fit_cpu_seconds
        Measured CPU seconds of the series' last fit; ``None`` when unknown.
    fallback
        Why the series cannot be trained now (e.g. too little data); ``None`` when it can.
        Such a series gets the action ``fallback`` whatever the rule says.
    """

    unique_id: str
    decision: RetrainDecision
    group: SeriesGroup
    horizon: int
    periods_since_retrain: int
    reference_mae: float
    mase_scale: float
    decay_ratio: float | None = None
    drift_q_value: float | None = None
    fit_cpu_seconds: float | None = None
    fallback: str | None = None

    def __post_init__(self) -> None:
        bad: list[str] = []
        if self.horizon < 1:
            bad.append(f"horizon = {self.horizon} must be ≥ 1")
        if self.periods_since_retrain < 0:
            bad.append(f"periods_since_retrain = {self.periods_since_retrain} must be ≥ 0")
        for name in ("reference_mae", "mase_scale"):
            v = getattr(self, name)
            if not 0 <= v < np.inf:
                bad.append(f"{name} = {v} must be a finite number ≥ 0 (units of y)")
        if self.decay_ratio is not None and not self.decay_ratio >= 0:
            bad.append(f"decay_ratio = {self.decay_ratio} must be ≥ 0, or None without errors")
        if self.drift_q_value is not None and not 0 <= self.drift_q_value <= 1:
            bad.append(f"drift_q_value = {self.drift_q_value} must lie in [0, 1], or be None")
        if self.fit_cpu_seconds is not None and not 0 <= self.fit_cpu_seconds < np.inf:
            bad.append(
                f"fit_cpu_seconds = {self.fit_cpu_seconds} must be a finite number ≥ 0, "
                "or None when unknown"
            )
        if bad:
            raise InvalidEvidenceError(f"evidence of series {self.unique_id!r}: {'; '.join(bad)}")


@dataclass(frozen=True, slots=True)
class SeriesChoice:
    """The plan's decision for one series, with the reason a person reads.

    ``expected_loss`` is money over the series' horizon (see the module docstring);
    ``retrain_cost`` is money, ``None`` without ``budget.price_per_cpu_second``;
    ``cpu_seconds`` is the measured or estimated CPU time of its fit; ``rank`` its place
    among the candidates (``None`` for a series that is not one). ``needs_approval`` is set
    for every series of a tier whose approval policy is not ``auto`` (``critical`` by
    default): its retrained versions wait for approval.
    """

    unique_id: str
    action: Action
    trigger: str
    reason: str
    expected_loss: float
    retrain_cost: float | None
    cpu_seconds: float
    tier: Tier
    needs_approval: bool
    group: str | None
    model: str | None
    rank: int | None


@dataclass(frozen=True)
class CyclePlan:
    """The decisions of one cycle and what they spend.

    ``choices`` follow the order of the evidence; ``chosen`` lists the series to retrain in
    rank order. Budgets are ``None`` when unlimited; ``money_spent`` is ``None`` without a
    price per CPU second.
    """

    choices: tuple[SeriesChoice, ...]
    chosen: tuple[str, ...]
    counts: Mapping[Action, int]
    candidates: int
    cpu_budget: float | None
    money_budget: float | None
    cpu_spent: float
    money_spent: float | None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.unique_id: i for i, c in enumerate(self.choices)})

    def choice(self, unique_id: str) -> SeriesChoice:
        """The decision for ``unique_id``."""
        try:
            return self.choices[self._index[unique_id]]
        except KeyError:
            raise KeyError(f"series {unique_id!r} is not in this plan") from None

    def to_frame(self) -> pd.DataFrame:
        """One row per series, the fields of :class:`SeriesChoice` as columns."""
        cols = SeriesChoice.__slots__
        frame = pd.DataFrame([[getattr(c, k) for k in cols] for c in self.choices], columns=cols)
        frame["action"] = frame["action"].astype(str)
        return frame

    def summary(self) -> str:
        """One line: the counts per action and what was spent."""
        counts = ", ".join(f"{a.value} {self.counts[a]}" for a in Action)
        spent = (
            _cpu(self.cpu_spent)
            if self.cpu_budget is None
            else _cpu_of(self.cpu_spent, self.cpu_budget)
        )
        return f"{counts}; spent {spent}"


def probability_real(
    drift_q_value: npt.ArrayLike, periods_since_retrain: npt.ArrayLike, *, staleness_periods: int
) -> np.ndarray:
    """The weight ``p`` of the module docstring; NaN q-values mean no drift finding."""
    q = np.asarray(drift_q_value, dtype=float)
    s = np.asarray(periods_since_retrain, dtype=float)
    p_drift = np.where(np.isnan(q), 0.0, 1.0 - q)
    p_stale = s / (s + float(staleness_periods))
    return 1.0 - (1.0 - P0) * (1.0 - p_drift) * (1.0 - p_stale)


def expected_loss(
    decay_ratio: npt.ArrayLike,
    reference_mae: npt.ArrayLike,
    mase_scale: npt.ArrayLike,
    cost_per_unit_error: npt.ArrayLike,
    horizon: npt.ArrayLike,
    drift_q_value: npt.ArrayLike,
    periods_since_retrain: npt.ArrayLike,
    *,
    staleness_periods: int,
) -> np.ndarray:
    """Money lost by keeping each champion over its horizon (formula: module docstring).

    Array arguments broadcast together; a NaN decay ratio means no errors yet (loss 0), a
    NaN q-value no drift finding.

    Examples
    --------
    >>> expected_loss(np.array([0.9, 1.5, 2.0]), 5.0, 4.0, 10.0, 4, np.nan, 24,
    ...               staleness_periods=24)
    array([  0.,  75., 150.])
    """
    d = np.asarray(decay_ratio, dtype=float)
    r = np.asarray(reference_mae, dtype=float)
    with np.errstate(invalid="ignore"):
        over = np.where(np.isnan(d), 0.0, np.maximum(d - 1.0, 0.0))
        excess = np.where(np.isinf(over), np.asarray(mase_scale, dtype=float), r * over)
    p = probability_real(drift_q_value, periods_since_retrain, staleness_periods=staleness_periods)
    return np.asarray(cost_per_unit_error, dtype=float) * excess * np.asarray(horizon) * p


def plan_cycle(
    evidence: Sequence[SeriesEvidence],
    budget: BudgetConfig | None = None,
    *,
    approval_tiers: Collection[str] = ("critical",),
) -> CyclePlan:
    """Decide every series of a cycle: retrain, keep, wait, over budget or fallback.

    Parameters
    ----------
    evidence
        One :class:`SeriesEvidence` per series (each ``unique_id`` once).
    budget
        The ``[budget]`` settings; ``None`` (or all limits 0) means unlimited, and the plan
        then retrains exactly the series the rule chose.
    approval_tiers
        Tiers whose retrained versions wait for an approval (the ``[approvals]`` policies
        that are not ``auto``); their choices say so in the reason.

    Returns
    -------
    CyclePlan
        One :class:`SeriesChoice` per series, in the order given, and the cycle's totals.
    """
    budget = budget if budget is not None else BudgetConfig()
    ev = list(evidence)
    ids = [e.unique_id for e in ev]
    if len(set(ids)) != len(ids):
        twice = sorted(u for u, k in Counter(ids).items() if k > 1)
        raise InvalidEvidenceError(
            f"evidence lists series {', '.join(map(repr, twice[:5]))} more than once; "
            "give one SeriesEvidence per series"
        )
    n = len(ev)
    nan = float("nan")
    decay = np.array([nan if e.decay_ratio is None else e.decay_ratio for e in ev], dtype=float)
    q = np.array([nan if e.drift_q_value is None else e.drift_q_value for e in ev], dtype=float)
    since = np.array([e.periods_since_retrain for e in ev], dtype=float)
    horizon = np.array([e.horizon for e in ev], dtype=float)
    cost = np.array([e.group.cost_per_unit_error for e in ev], dtype=float)
    loss = expected_loss(
        decay,
        np.array([e.reference_mae for e in ev], dtype=float),
        np.array([e.mase_scale for e in ev], dtype=float),
        cost,
        horizon,
        q,
        since,
        staleness_periods=budget.staleness_periods,
    )
    cpu, cpu_note = _cpu_seconds(ev, budget.default_fit_cpu_seconds)
    price = budget.price_per_cpu_second
    money = cpu * price
    tiers = set(approval_tiers)
    critical = np.array([e.group.tier in tiers for e in ev], dtype=bool)
    fallback = np.array([e.fallback is not None for e in ev], dtype=bool)
    candidate = np.array([e.decision.retrain for e in ev], dtype=bool) & ~fallback

    # Rank the candidates: critical first, then value per cost, larger loss, cheaper fit, id.
    cand = np.flatnonzero(candidate)
    ratio = loss / np.maximum(cpu, 1e-9)
    id_rank = np.argsort(np.argsort(np.array(ids, dtype=object)[cand], kind="stable"))
    order = cand[np.lexsort((id_rank, cpu[cand], -loss[cand], -ratio[cand], ~critical[cand]))]

    cpu_limit = budget.cpu_seconds_per_cycle or np.inf
    money_limit = budget.money_per_cycle or np.inf
    take = np.zeros(n, dtype=bool)
    rank = np.zeros(n, dtype=np.int64)
    # (CPU seconds, money) spent when the series' turn is over: after it when it was taken,
    # and what was spent before it came when it did not fit.
    spent: dict[int, tuple[float, float]] = {}
    cpu_spent = money_spent = 0.0
    tol = 1 + 1e-9  # a series that fills the budget exactly is not lost to rounding
    for r, i in enumerate(order.tolist(), start=1):
        rank[i] = r
        if cpu_spent + cpu[i] <= cpu_limit * tol and money_spent + money[i] <= money_limit * tol:
            take[i] = True
            cpu_spent += float(cpu[i])
            money_spent += float(money[i])
        spent[i] = (cpu_spent, money_spent)

    ctx = _Context(
        budget=budget,
        cpu_limit=None if np.isinf(cpu_limit) else float(cpu_limit),
        money_limit=None if np.isinf(money_limit) else float(money_limit),
        candidates=len(cand),
    )
    decay_l, q_l, loss_l = decay.tolist(), q.tolist(), loss.tolist()
    cpu_l, money_l, take_l, rank_l = cpu.tolist(), money.tolist(), take.tolist(), rank.tolist()
    critical_l = critical.tolist()
    choices: list[SeriesChoice] = []
    for i, e in enumerate(ev):
        d = e.decision
        evid = _evidence(decay_l[i], q_l[i], e.periods_since_retrain)
        value = _value(ctx, decay_l[i], loss_l[i], e.horizon, cpu_l[i], money_l[i], cpu_note[i])
        if e.fallback is not None:
            action = Action.FALLBACK
            said = f" (the rule said retrain: {d.trigger})" if d.retrain else ""
            reason = f"fallback: {e.fallback}{said}"
        elif d.retrain and take_l[i]:
            action = Action.RETRAIN
            reason = (
                f"{d.trigger}: {evid}; {value}; chosen, rank {rank_l[i]} of {ctx.candidates}"
                + _spent_after(ctx, *spent[i])
            )
        elif d.retrain:
            action = Action.OVER_BUDGET
            reason = (
                f"{d.trigger}: {evid}; {value}; over budget at rank {rank_l[i]} of "
                f"{ctx.candidates}: {_ran_out(ctx, *spent[i], cpu_l[i], money_l[i])}"
            )
        elif d.in_cooldown or any(c > 0 for c in d.counts.values()):
            action = Action.WAIT
            reason = f"{d.reason}; {evid}; {value}"
        else:
            action = Action.KEEP
            reason = f"{d.reason}; {evid}"
        if critical_l[i] and action in (Action.RETRAIN, Action.OVER_BUDGET):
            reason += f"; tier {ev[i].group.tier}: needs approval"
        choices.append(
            SeriesChoice(
                unique_id=e.unique_id,
                action=action,
                trigger=d.trigger if action in (Action.RETRAIN, Action.OVER_BUDGET) else "",
                reason=reason,
                expected_loss=loss_l[i],
                retrain_cost=money_l[i] if price > 0 else None,
                cpu_seconds=cpu_l[i],
                tier=e.group.tier,
                needs_approval=critical_l[i],
                group=e.group.group,
                model=e.group.model,
                rank=rank_l[i] or None,
            )
        )
    counts = dict.fromkeys(Action, 0)
    for c in choices:
        counts[c.action] += 1
    return CyclePlan(
        choices=tuple(choices),
        chosen=tuple(ids[i] for i in order.tolist() if take_l[i]),
        counts=counts,
        candidates=len(cand),
        cpu_budget=ctx.cpu_limit,
        money_budget=ctx.money_limit,
        cpu_spent=cpu_spent,
        money_spent=money_spent if price > 0 else None,
    )


@dataclass(frozen=True)
class _Context:
    budget: BudgetConfig
    cpu_limit: float | None
    money_limit: float | None
    candidates: int


def _cpu_seconds(ev: list[SeriesEvidence], default: float) -> tuple[np.ndarray, list[str]]:
    """Measured CPU seconds, else the median of the measured ones, else the default."""
    measured = np.array(
        [np.nan if e.fit_cpu_seconds is None else e.fit_cpu_seconds for e in ev], dtype=float
    )
    known = ~np.isnan(measured)
    if known.any():
        fill, note = float(np.median(measured[known])), "estimated: median of measured fits"
    else:
        fill, note = default, "estimated: budget.default_fit_cpu_seconds"
    notes = ["" if k else note for k in known.tolist()]
    return np.where(known, measured, fill), notes


def _money(x: float, currency: str) -> str:
    if x >= 10:
        return f"{currency}{x:,.0f}"
    if x >= 1:
        return f"{currency}{x:.2f}"
    return f"{currency}{x:.2g}"


def _cpu(x: float, unit: str = " CPU s") -> str:
    return (f"{x:,.1f}" if x >= 0.1 or x == 0 else f"{x:.2g}") + unit


def _cpu_of(spent: float, limit: float) -> str:
    return f"{_cpu(spent, '')} of {_cpu(limit)}"


def _evidence(decay: float, q: float, since: int) -> str:
    parts = ["no errors yet" if math.isnan(decay) else f"decay ×{decay:.2f}"]
    if not math.isnan(q):
        parts.append(f"drift q={q:.2g}")
    parts.append(f"{since} periods since the last retrain")
    return ", ".join(parts)


def _value(
    ctx: _Context, decay: float, loss: float, horizon: int, cpu: float, money: float, note: str
) -> str:
    cur = ctx.budget.currency
    worth = (
        "no loss to value without errors"
        if math.isnan(decay)
        else f"expected loss {_money(loss, cur)} over {horizon} periods"
    )
    cost = (
        f"retrain cost {_money(money, cur)} ({_cpu(cpu)})"
        if ctx.budget.price_per_cpu_second > 0
        else f"retrain {_cpu(cpu)}"
    )
    return f"{worth} vs {cost}" + (f", {note}" if note else "")


def _spent_after(ctx: _Context, cpu: float, money: float) -> str:
    parts = []
    if ctx.cpu_limit is not None:
        parts.append(_cpu_of(cpu, ctx.cpu_limit))
    if ctx.money_limit is not None:
        cur = ctx.budget.currency
        parts.append(f"{_money(money, cur)} of {_money(ctx.money_limit, cur)}")
    return f"; budget: {' and '.join(parts)} spent" if parts else ""


def _ran_out(ctx: _Context, cpu_spent: float, money_spent: float, cpu: float, money: float) -> str:
    cur = ctx.budget.currency
    parts = []
    if ctx.cpu_limit is not None and cpu_spent + cpu > ctx.cpu_limit:
        parts.append(
            f"{_cpu_of(cpu_spent, ctx.cpu_limit)} already spent when its turn came, "
            f"its retrain would take {_cpu(cpu)}"
        )
    if ctx.money_limit is not None and money_spent + money > ctx.money_limit:
        parts.append(
            f"{_money(money_spent, cur)} of {_money(ctx.money_limit, cur)} already spent when "
            f"its turn came, its retrain would cost {_money(money, cur)}"
        )
    return "; ".join(parts)
