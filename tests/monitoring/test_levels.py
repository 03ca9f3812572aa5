"""Every alerting check's level follows from one false-alert budget per series-year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chronoguard.config import MonitoringConfig, parse_config
from chronoguard.errors import ConfigError
from chronoguard.monitoring import check_levels, performance_checks, periods_per_year
from chronoguard.monitoring.levels import MAX_CHECK_LEVEL, MAX_SEQUENTIAL_RATE
from chronoguard.monitoring.reference import drift_settings
from tests.monitoring.test_checks import reference


@pytest.mark.parametrize(
    ("freq", "n"),
    [("MS", 12), ("ME", 12), ("QS", 4), ("D", 365), ("W-SUN", 52), ("YS", 1), ("30min", 17520)],
)
def test_periods_per_year(freq: str, n: int) -> None:
    assert periods_per_year(freq) == n


def test_an_unknown_frequency_is_named() -> None:
    with pytest.raises(ConfigError, match="'fortnightly' is not a pandas frequency"):
        periods_per_year("fortnightly")


def test_levels_split_the_budgets_over_the_families_and_the_checks_of_a_year() -> None:
    m = MonitoringConfig()
    assert (m.false_alerts_per_year, m.false_triggers_per_year) == (0.2, 1.0)
    monthly = check_levels(m, "MS")
    # 4 error checks + the target's drift + the forecasts' drift = 6 families, 12 checks.
    assert monthly.families == 6
    assert monthly.alert == pytest.approx(0.2 / 72) and monthly.trigger == pytest.approx(1 / 72)
    daily = check_levels(m, "D", n_features=3)  # two exogenous inputs: 8 families
    assert daily.alert == pytest.approx(0.2 / (8 * 365))
    # Expected false alerts a year of the four error checks: their share of the budget.
    assert 4 * daily.alert * daily.checks_per_year == pytest.approx(0.2 * 4 / 8)
    every_3 = check_levels(MonitoringConfig(every=3), "MS")
    assert every_3.checks_per_year == 4 and every_3.alert == pytest.approx(0.2 / 24)
    # A yearly series' trigger budget over one check a year is capped.
    assert check_levels(m, "YS").trigger == MAX_CHECK_LEVEL
    own = check_levels(MonitoringConfig(alpha=0.01), "D")
    assert own.alert == own.trigger == 0.01
    # The trigger budget is never below the alert budget.
    low = check_levels(MonitoringConfig(false_triggers_per_year=0.1), "MS")
    assert low.trigger == low.alert


def test_the_sequential_drift_check_gets_its_share_over_its_horizon() -> None:
    m = MonitoringConfig()
    daily = drift_settings("D", 7, m)
    # 90 daily checks are 90/365 of a year: a 1/6 yearly share of the trigger budget.
    assert daily["horizon"] == 90
    assert daily["false_alarm_rate"] == pytest.approx(1 / 6 * 90 / 365)
    # Monthly: 96 checks are eight years, more than the cap allows.
    assert drift_settings("MS", 12, m)["false_alarm_rate"] == MAX_SEQUENTIAL_RATE
    weekly = drift_settings("W-SUN", 52, MonitoringConfig(false_triggers_per_year=0.5))
    assert weekly["false_alarm_rate"] == pytest.approx(0.5 / 6 * 90 / 52)
    # With exogenous inputs each feature's check gets a smaller share.
    assert drift_settings("D", 7, m, n_features=3)["false_alarm_rate"] == pytest.approx(
        1 / 8 * 90 / 365
    )
    # The config's own values win.
    own = MonitoringConfig(drift_false_alarm_rate=0.02, drift_budget_checks=30)
    assert drift_settings("D", 7, own)["false_alarm_rate"] == 0.02
    assert drift_settings("D", 7, MonitoringConfig(drift_budget_checks=30))[
        "false_alarm_rate"
    ] == pytest.approx(1 / 6 * 30 / 365)


def test_a_result_alerts_at_the_alert_level_of_its_family() -> None:
    from chronoguard.drift import DriftResult

    levels = check_levels(MonitoringConfig(), "D")
    decay = DriftResult("mase_ratio_chi2", 2.0, 1e-4, levels.trigger, True, threshold_on="p_value")
    assert levels.alert_level(decay) == pytest.approx(levels.alert)
    cusum = DriftResult(
        "cusum_prewhitened", 9.0, 1e-4, 0.08, True, threshold_on="p_value", details={"horizon": 90}
    )
    assert levels.alert_level(cusum) == pytest.approx(levels.alert_rate(90))
    assert levels.alert_rate(90) == pytest.approx(0.2 / 6 * 90 / 365)


def test_a_budget_out_of_range_is_refused_with_its_key() -> None:
    with pytest.raises(ConfigError, match=r"monitoring\.false_alerts_per_year"):
        parse_config({"monitoring": {"false_alerts_per_year": 0}})


def _served_at_step(errors: np.ndarray, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    ds = pd.date_range("2020-01-01", periods=len(errors), freq="MS")
    yhat = np.full(len(errors), 100.0)
    served = pd.DataFrame(
        {"unique_id": "a", "ds": ds, "horizon": h, "yhat": yhat, "level": 95}
    ).assign(yhat_lo=np.nan, yhat_hi=np.nan)
    return served, pd.DataFrame({"unique_id": "a", "ds": ds, "y": yhat + errors})


def test_multi_step_errors_that_overlap_are_thinned_so_the_decay_test_keeps_its_level() -> None:
    """Errors at step 2 from consecutive origins share a shock (an MA(1)); tested as if
    independent, the decay test fires far above its level; on every second error it holds."""
    rng = np.random.default_rng(11)
    cfg = MonitoringConfig(alpha=0.05, decay_horizon=2)
    sd = 9.0 * np.sqrt(np.pi / 2)  # the reference's step-2 spread: its MAE × sqrt(pi/2)
    theta = 0.95
    n, reps = 24, 2000
    fired = naive = 0
    for _ in range(reps):
        u = rng.normal(0, sd / np.sqrt(1 + theta**2), size=n + 1)
        e = u[1:] + theta * u[:-1]
        served, actuals = _served_at_step(e, 2)
        (decay,) = [
            r
            for r in performance_checks(reference(), served, actuals, monitoring=cfg)
            if r.method == "mase_ratio_chi2"
        ]
        assert decay.details["n"] == n // 2
        fired += decay.drift
        # The same test on all n overlapping errors.
        naive += stats.chi2.sf(float(np.sum((e / sd) ** 2)), df=n) < 0.05
    assert abs(fired / reps - 0.05) < 0.015, fired / reps
    assert naive / reps > 0.08, naive / reps
