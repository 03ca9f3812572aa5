"""The decision engine: the rule as gate, value per cost under a budget, reasons people read."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from chronoguard.config import BudgetConfig, Tier
from chronoguard.policy import (
    Action,
    CheckSummary,
    InvalidEvidenceError,
    RetrainDecision,
    RetrainRule,
    SeriesEvidence,
    SeriesGroup,
    engine,
    expected_loss,
    groups,
    plan_cycle,
    probability_real,
)


def ev(
    uid: str,
    *,
    retrain: bool = True,
    trigger: str = "performance_decay 2/3",
    decay: float | None = 2.0,
    cpu: float | None = 1.0,
    cost: float = 1.0,
    tier: Tier = "standard",
    ref: float = 1.0,
    scale: float = 1.0,
    h: int = 1,
    since: int = 0,
    q: float | None = None,
    fallback: str | None = None,
    counts: dict[str, int] | None = None,
    in_cooldown: bool = False,
) -> SeriesEvidence:
    if counts is None:
        counts = {"performance_decay": 2 if retrain else 0}
    verdict = RetrainDecision(
        retrain, trigger if retrain else "", "rule says so", counts, 3, in_cooldown
    )
    return SeriesEvidence(
        unique_id=uid,
        decision=verdict,
        group=SeriesGroup("g" if tier != "standard" else None, tier, cost, None),
        horizon=h,
        periods_since_retrain=since,
        reference_mae=ref,
        mase_scale=scale,
        decay_ratio=decay,
        drift_q_value=q,
        fit_cpu_seconds=cpu,
        fallback=fallback,
    )


def rule_fleet(n: int, seed: int) -> tuple[list[SeriesEvidence], set[str]]:
    """A fleet decided by the real rule over random check histories; the ids it retrains."""
    rng = np.random.default_rng(seed)
    rule = RetrainRule(
        ("performance_decay", "data_drift", "schedule"), k=2, n=3, cooldown=3, schedule_every=24
    )
    ts = pd.date_range("2020-01-01", periods=4, freq="MS")
    out, chosen = [], set()
    for i in range(n):
        fired = [{k for k in ("performance_decay", "data_drift") if rng.random() < 0.3} for _ in ts]
        checks = [CheckSummary(t, frozenset(f)) for t, f in zip(ts, fired, strict=True)]
        since = int(rng.integers(0, 30))
        verdict = rule.decide(checks, periods_since_retrain=since)
        uid = f"S{i:05d}"
        if verdict.retrain:
            chosen.add(uid)
        tier: Tier = ("critical", "high", "standard", "low")[int(rng.integers(4))]
        out.append(
            SeriesEvidence(
                unique_id=uid,
                decision=verdict,
                group=SeriesGroup(tier, tier, float(rng.uniform(0.5, 50)), None),
                horizon=int(rng.integers(1, 13)),
                periods_since_retrain=since,
                reference_mae=float(rng.uniform(0.1, 10)),
                mase_scale=float(rng.uniform(0.1, 10)),
                decay_ratio=None if rng.random() < 0.1 else float(rng.uniform(0.5, 4)),
                drift_q_value=None if rng.random() < 0.5 else float(rng.uniform(0, 1)),
                fit_cpu_seconds=None if rng.random() < 0.2 else float(rng.uniform(0.05, 20)),
            )
        )
    return out, chosen


# -- without a budget the engine is the rule ------------------------------------------------


@pytest.mark.parametrize(
    "budget",
    [None, BudgetConfig(), BudgetConfig(price_per_cpu_second=0.01, default_cost_per_unit_error=7)],
)
def test_without_a_budget_the_plan_retrains_exactly_what_the_rule_chose(
    budget: BudgetConfig | None,
) -> None:
    fleet, rule_chose = rule_fleet(400, seed=1)
    assert 0 < len(rule_chose) < 400
    plan = plan_cycle(fleet, budget)
    assert set(plan.chosen) == rule_chose
    assert len(plan.chosen) == len(rule_chose)
    for e, c in zip(fleet, plan.choices, strict=True):
        assert c.unique_id == e.unique_id
        assert (c.action == Action.RETRAIN) == e.decision.retrain
        if c.action == Action.RETRAIN:
            assert c.trigger == e.decision.trigger
        else:
            assert c.action in (Action.KEEP, Action.WAIT) and c.trigger == ""
    assert plan.counts[Action.OVER_BUDGET] == 0
    assert plan.cpu_budget is None and plan.money_budget is None
    assert plan.cpu_spent == pytest.approx(
        sum(c.cpu_seconds for c in plan.choices if c.action == Action.RETRAIN)
    )


def test_keep_without_evidence_wait_with_evidence_not_yet_acted_on() -> None:
    rule = RetrainRule(("performance_decay", "data_drift"), k=2, n=3, cooldown=3)
    ts = pd.date_range("2020-01-01", periods=3, freq="MS")

    def verdict(*fired: set[str], since: int) -> RetrainDecision:
        return rule.decide(
            [CheckSummary(t, frozenset(f)) for t, f in zip(ts, fired, strict=True)],
            periods_since_retrain=since,
        )

    none = verdict(set(), set(), set(), since=10)
    partial = verdict({"data_drift"}, set(), set(), since=10)
    cooling = verdict({"performance_decay"}, {"performance_decay"}, set(), since=1)
    assert cooling.in_cooldown and not partial.in_cooldown
    assert partial.reason.startswith("no trigger yet: data_drift 1/3")
    fleet = [
        SeriesEvidence(
            unique_id=u,
            decision=d,
            group=SeriesGroup(None, "standard", 1.0),
            horizon=6,
            periods_since_retrain=10,
            reference_mae=2.0,
            mase_scale=2.0,
            decay_ratio=1.3,
            fit_cpu_seconds=1.0,
        )
        for u, d in (("none", none), ("partial", partial), ("cooling", cooling))
    ]
    plan = plan_cycle(fleet)
    assert [c.action for c in plan.choices] == [Action.KEEP, Action.WAIT, Action.WAIT]
    assert plan.choice("cooling").reason.startswith(
        "performance_decay persistent but in cooldown (1/3); decay ×1.30"
    )
    assert "expected loss" in plan.choice("partial").reason
    assert (
        plan.choice("none").reason == "no trigger; decay ×1.30, 10 periods since the last retrain"
    )
    assert plan.chosen == ()


# -- the budget ----------------------------------------------------------------------------


def test_a_small_budget_takes_the_highest_value_per_cost_and_says_why_not_the_rest() -> None:
    # Same cost of error, horizon and age, so the loss is (d − 1) × ref × 0.5 and the
    # ranking is by (d − 1) × ref / cpu.
    fleet = [
        ev("low", decay=1.2, ref=10.0, cpu=4.0),  # loss 1.0,  0.25 per CPU s
        ev("best", decay=3.0, ref=2.0, cpu=1.0),  # loss 2.0,  2.0 per CPU s
        ev("mid", decay=2.0, ref=6.0, cpu=3.0),  # loss 3.0,  1.0 per CPU s
        ev("big", decay=5.0, ref=5.0, cpu=20.0),  # loss 10.0, 0.5 per CPU s
    ]
    plan = plan_cycle(fleet, BudgetConfig(cpu_seconds_per_cycle=5.0))
    assert plan.chosen == ("best", "mid")
    assert [plan.choice(u).rank for u in ("best", "mid", "big", "low")] == [1, 2, 3, 4]
    assert plan.choice("best").expected_loss == pytest.approx(2.0)
    assert plan.choice("big").expected_loss == pytest.approx(10.0)
    for u in ("big", "low"):
        assert plan.choice(u).action == Action.OVER_BUDGET
        assert plan.choice(u).trigger == "performance_decay 2/3"
    big = plan.choice("big").reason
    assert "expected loss $10 over 1 periods" in big
    assert "over budget at rank 3 of 4: 4.0 of 5.0 CPU s already spent when its turn came" in big
    assert "its retrain would take 20.0 CPU s" in big
    assert "budget: 1.0 of 5.0 CPU s spent" in plan.choice("best").reason
    assert plan.cpu_spent == pytest.approx(4.0) and plan.cpu_budget == 5.0
    assert plan.counts[Action.RETRAIN] == 2 and plan.counts[Action.OVER_BUDGET] == 2
    assert plan.summary().startswith("retrain 2, keep 0, wait 0, over_budget 2, fallback 0")
    assert plan.summary().endswith("spent 4.0 of 5.0 CPU s")


def test_a_series_that_does_not_fit_lets_a_cheaper_one_below_it_use_the_rest() -> None:
    fleet = [
        ev("first", decay=5.0, cpu=2.0),  # 1.0 per CPU s
        ev("second", decay=9.0, cpu=5.0),  # 0.8 per CPU s: does not fit in what is left
        ev("third", decay=2.0, cpu=1.0),  # 0.5 per CPU s: fits
    ]
    plan = plan_cycle(fleet, BudgetConfig(cpu_seconds_per_cycle=4.0))
    assert plan.chosen == ("first", "third")
    assert plan.choice("second").action == Action.OVER_BUDGET


def test_a_money_budget_prices_the_retrains() -> None:
    budget = BudgetConfig(money_per_cycle=0.05, price_per_cpu_second=0.001)
    fleet = [
        ev("a", decay=1.8, cost=35.0, ref=10.0, h=8, cpu=30.0),
        ev("b", decay=1.5, cost=35.0, ref=10.0, h=8, cpu=30.0),
    ]
    plan = plan_cycle(fleet, budget)
    a, b = plan.choice("a"), plan.choice("b")
    # 35 $/unit × 10 units × 0.8 × 8 periods × 0.5
    assert a.expected_loss == pytest.approx(1120.0)
    assert a.retrain_cost == pytest.approx(0.03)
    assert "expected loss $1,120 over 8 periods vs retrain cost $0.03 (30.0 CPU s)" in a.reason
    assert "budget: $0.03 of $0.05 spent" in a.reason
    assert b.action == Action.OVER_BUDGET
    assert "$0.03 of $0.05 already spent when its turn came, its retrain would cost $0.03" in (
        b.reason
    )
    assert plan.money_spent == pytest.approx(0.03) and plan.money_budget == 0.05


def test_both_budgets_bind_and_the_reason_names_the_one_that_ran_out() -> None:
    budget = BudgetConfig(
        cpu_seconds_per_cycle=100, money_per_cycle=0.015, price_per_cpu_second=0.001
    )
    plan = plan_cycle([ev("a", decay=3.0, cpu=10.0), ev("b", decay=2.0, cpu=10.0)], budget)
    assert plan.chosen == ("a",)
    reason = plan.choice("b").reason
    assert "its retrain would cost $0.01" in reason and "CPU s already spent" not in reason


def test_critical_series_come_first_and_need_approval() -> None:
    fleet = [
        ev("std", decay=4.0, cpu=1.0),
        ev("crit", decay=1.1, cpu=1.0, tier="critical"),
        ev("high", decay=3.0, cpu=1.0, tier="high"),
    ]
    plan = plan_cycle(fleet, BudgetConfig(cpu_seconds_per_cycle=2.0))
    assert plan.chosen == ("crit", "std")
    assert plan.choice("high").action == Action.OVER_BUDGET
    assert plan.choice("crit").needs_approval
    assert "tier critical: needs approval" in plan.choice("crit").reason
    assert not plan.choice("std").needs_approval and not plan.choice("high").needs_approval
    # The flag follows the tier, whatever the action.
    kept = plan_cycle([ev("c", retrain=False, tier="critical")]).choice("c")
    assert kept.action == Action.KEEP and kept.needs_approval


def test_scheduled_series_are_candidates_and_rank_by_their_value() -> None:
    fleet = [
        ev("sched", trigger="schedule", decay=1.0, cpu=1.0, counts={}),
        ev("decayed", decay=2.0, cpu=1.0),
    ]
    plan = plan_cycle(fleet, BudgetConfig(cpu_seconds_per_cycle=1.0))
    assert plan.chosen == ("decayed",)
    assert plan.choice("sched").action == Action.OVER_BUDGET
    assert plan_cycle(fleet).chosen == ("decayed", "sched")


# -- the loss ------------------------------------------------------------------------------


def test_the_loss_follows_the_documented_formula() -> None:
    # p = 1 − 0.5 × (1 − (1 − 0.2)) × (1 − 12 / (12 + 24)) = 1 − 0.5 × 0.2 × 2/3
    p = 1 - 0.5 * 0.2 * (2 / 3)
    plan = plan_cycle([ev("a", decay=1.8, cost=35.0, ref=3.0, h=8, since=12, q=0.2)])
    assert plan.choice("a").expected_loss == pytest.approx(35.0 * 3.0 * 0.8 * 8 * p)


def test_the_loss_is_monotone_in_decay_and_in_the_cost_of_error() -> None:
    rng = np.random.default_rng(7)
    decay = np.linspace(0.0, 6.0, 121)
    for _ in range(20):
        ref, scale, cost = rng.uniform(0.1, 10, size=3)
        h, since = int(rng.integers(1, 24)), int(rng.integers(0, 60))
        q = rng.uniform(0, 1) if rng.random() < 0.5 else np.nan
        loss = expected_loss(decay, ref, scale, cost, h, q, since, staleness_periods=24)
        steps = np.diff(loss)
        assert np.all(steps >= 0)
        assert np.all(steps[decay[1:] > 1] > 0)  # strictly, once the error exceeds the reference
        assert np.all(loss[decay <= 1] == 0)
        costs = np.linspace(0.0, 100.0, 51)
        by_cost = expected_loss(2.0, ref, scale, costs, h, q, since, staleness_periods=24)
        assert np.all(np.diff(by_cost) > 0)


def test_drift_and_staleness_raise_the_loss() -> None:
    q = np.array([np.nan, 0.9, 0.5, 0.1, 0.0])
    p = probability_real(q, 0, staleness_periods=24)
    assert p[0] == pytest.approx(0.5) and p[-1] == pytest.approx(1.0)
    assert np.all(np.diff(p) > 0)
    since = np.array([0, 1, 12, 24, 1000])
    p = probability_real(np.nan, since, staleness_periods=24)
    assert p[3] == pytest.approx(0.75)
    assert np.all(np.diff(p) > 0) and np.all(p < 1)


def test_no_errors_yet_means_no_loss_and_the_reason_says_so() -> None:
    c = plan_cycle([ev("a", decay=None, trigger="data_drift 2/3")]).choice("a")
    assert c.action == Action.RETRAIN and c.expected_loss == 0.0
    assert c.reason.startswith("data_drift 2/3: no errors yet, 0 periods since the last retrain")
    assert "no loss to value without errors" in c.reason


def test_an_infinite_ratio_is_valued_at_one_mase_scale_per_period() -> None:
    c = plan_cycle([ev("a", decay=float("inf"), ref=0.0, scale=4.0, cost=2.0, h=3)]).choice("a")
    assert c.expected_loss == pytest.approx(2.0 * 4.0 * 3 * 0.5)


# -- compute cost --------------------------------------------------------------------------


def test_unknown_cpu_takes_the_median_of_measured_fits_or_the_default() -> None:
    plan = plan_cycle([ev("a", cpu=2.0), ev("b", cpu=4.0), ev("c", cpu=10.0), ev("d", cpu=None)])
    d = plan.choice("d")
    assert d.cpu_seconds == 4.0
    assert "retrain 4.0 CPU s, estimated: median of measured fits" in d.reason
    assert "estimated" not in plan.choice("a").reason
    plan = plan_cycle([ev("a", cpu=None)], BudgetConfig(default_fit_cpu_seconds=3.0))
    assert plan.choice("a").cpu_seconds == 3.0
    assert "estimated: budget.default_fit_cpu_seconds" in plan.choice("a").reason
    assert plan.choice("a").retrain_cost is None


# -- fallback ------------------------------------------------------------------------------


def test_fallback_passes_through_and_spends_nothing() -> None:
    fleet = [
        ev("short", decay=9.0, cpu=1.0, fallback="12 periods, training needs 96"),
        ev("ok", decay=2.0, cpu=1.0),
    ]
    plan = plan_cycle(fleet, BudgetConfig(cpu_seconds_per_cycle=1.0))
    short = plan.choice("short")
    assert short.action == Action.FALLBACK and short.rank is None
    assert short.reason == (
        "fallback: 12 periods, training needs 96 (the rule said retrain: performance_decay 2/3)"
    )
    assert plan.chosen == ("ok",) and plan.candidates == 1
    assert plan.counts[Action.FALLBACK] == 1
    quiet = plan_cycle([ev("q", retrain=False, fallback="too short")]).choice("q")
    assert quiet.action == Action.FALLBACK and quiet.reason == "fallback: too short"


# -- input checks and outputs --------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("h", 0, "horizon = 0 must be ≥ 1"),
        ("since", -1, "periods_since_retrain = -1 must be ≥ 0"),
        ("ref", float("nan"), "reference_mae = nan must be a finite number ≥ 0"),
        ("decay", -0.5, "decay_ratio = -0.5 must be ≥ 0"),
        ("decay", float("nan"), "decay_ratio = nan must be ≥ 0, or None without errors"),
        ("q", 1.5, "drift_q_value = 1.5 must lie in [0, 1]"),
        ("cpu", -2.0, "fit_cpu_seconds = -2.0 must be a finite number ≥ 0"),
    ],
)
def test_bad_evidence_names_the_series_and_the_field(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(InvalidEvidenceError, match="evidence of series 'x'") as info:
        ev("x", **{field: value})  # type: ignore[arg-type]
    assert message in str(info.value)


def test_a_series_listed_twice_is_refused() -> None:
    with pytest.raises(InvalidEvidenceError, match="lists series 'a' more than once"):
        plan_cycle([ev("a"), ev("b"), ev("a")])


def test_an_empty_cycle() -> None:
    plan = plan_cycle([], BudgetConfig(cpu_seconds_per_cycle=10))
    assert plan.choices == () and plan.chosen == () and plan.cpu_spent == 0
    assert all(v == 0 for v in plan.counts.values())


def test_the_plan_as_a_frame() -> None:
    plan = plan_cycle([ev("a"), ev("b", retrain=False)])
    frame = plan.to_frame()
    assert frame["unique_id"].tolist() == ["a", "b"]
    assert frame["action"].tolist() == ["retrain", "keep"]
    assert {"expected_loss", "retrain_cost", "cpu_seconds", "tier", "needs_approval"} <= set(
        frame.columns
    )
    with pytest.raises(KeyError, match="'z' is not in this plan"):
        plan.choice("z")


def test_a_ten_thousand_series_plan_keeps_its_budget_and_its_ranking() -> None:
    fleet, rule_chose = rule_fleet(10_000, seed=3)
    budget = BudgetConfig(cpu_seconds_per_cycle=600)
    plan = plan_cycle(fleet, budget)
    assert sum(plan.counts.values()) == 10_000
    assert plan.candidates == len(rule_chose)
    assert (
        set(plan.chosen) | {c.unique_id for c in plan.choices if c.action == Action.OVER_BUDGET}
        == rule_chose
    )
    assert 0 < len(plan.chosen) < len(rule_chose)
    assert plan.cpu_spent <= 600 * (1 + 1e-9)
    # Walk the candidates in rank order: critical first, value per cost non-increasing within
    # each tier class, and every series over budget did not fit in what was left at its turn.
    ranked = sorted((c for c in plan.choices if c.rank is not None), key=lambda c: c.rank or 0)
    assert [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
    crit = [c.tier == "critical" for c in ranked]
    assert crit == sorted(crit, reverse=True)
    spent = 0.0
    prev: tuple[bool, float] | None = None
    for c in ranked:
        key = (c.tier == "critical", c.expected_loss / max(c.cpu_seconds, 1e-9))
        if prev is not None and prev[0] == key[0]:
            assert key[1] <= prev[1] * (1 + 1e-12)
        prev = key
        if c.action == Action.RETRAIN:
            spent += c.cpu_seconds
        else:
            assert c.action == Action.OVER_BUDGET
            assert spent + c.cpu_seconds > 600
    assert spent == pytest.approx(plan.cpu_spent)


@pytest.mark.parametrize("module", [engine, groups])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0
