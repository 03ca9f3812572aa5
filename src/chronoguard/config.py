"""The run configuration (TOML), validated with clear errors.

A configuration names the model, horizon, frequency, season length, the training and
retraining windows, the monitoring checks, the retraining rule and the validation gate.
Every field has a default that suits monthly data; ``chronoguard init`` writes one to edit.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from chronoguard.errors import ConfigError
from chronoguard.forecasting import MODEL_NAMES

Trigger = Literal[
    "performance_decay", "data_drift", "concept_drift", "prediction_drift", "schedule"
]
# Prediction drift alerts but is not a default trigger: forecasts that move with their inputs
# are not wrong by themselves; the error checks say whether they are.
DEFAULT_TRIGGERS: tuple[Trigger, ...] = ("performance_decay", "concept_drift", "data_drift")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Section):
    freq: str | None = Field(
        None,
        description=(
            "pandas frequency alias (MS, QS, D, h, 30min...); inferred when omitted, but "
            "then a gap in the timestamps cannot be named"
        ),
    )
    season_length: int = Field(
        12,
        ge=1,
        description=(
            "periods in the main season (12 monthly, 4 quarterly, 7 daily, 24 hourly, 48 "
            "half-hourly; 1: none)"
        ),
    )
    exog: list[str] = Field(default_factory=list, description="exogenous columns the model uses")


#: Longest season a seasonal ARIMA (SARIMAX, AutoARIMA) is allowed without
#: ``model.allow_long_season``: the fit's state grows with the season. Measured on one series
#: of vic_elec (2 cores, shared): a season of 48 on two weeks of half-hourly data took 52 s
#: with SARIMAX and did not finish in 150 s with AutoARIMA, and on a month neither finished
#: in 15 minutes; a season of 24 on four weeks of hourly data took 0.6 s with SARIMAX and
#: 137 s with AutoARIMA. MSTL fits three weeks of the half-hourly series in 1-2 s.
ARIMA_SEASON_LIMIT = 24
_SEASONAL_ARIMAS = ("SARIMAX", "AutoARIMA")


class ModelConfig(_Section):
    name: str = Field(
        "AutoETS",
        description=(
            "the forecaster: AutoETS, AutoARIMA, SARIMAX (exogenous inputs), MSTL (several "
            "seasons: hourly, half-hourly), SeasonalNaive, Naive"
        ),
    )
    registered_name: str = Field("chronoguard-model", description="MLflow registered model name")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "the model's own parameters, e.g. {season_lengths = [48, 336]} for MSTL or "
            '{model = "AAA"} for AutoETS'
        ),
    )
    levels: list[int] = Field(
        default_factory=lambda: [80, 95], description="prediction-interval coverages in percent"
    )
    allow_long_season: bool = Field(
        False,
        description=(
            f"fit SARIMAX or AutoARIMA with data.season_length above {ARIMA_SEASON_LIMIT} "
            "anyway (slow: minutes to hours per series)"
        ),
    )

    @field_validator("name")
    @classmethod
    def _known_model(cls, v: str) -> str:
        if v not in MODEL_NAMES:
            raise ValueError(f"unknown model name '{v}'; valid names: {', '.join(MODEL_NAMES)}")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[int]) -> list[int]:
        if not v or any(not 0 < lv < 100 for lv in v):
            raise ValueError("levels are prediction-interval coverages in (0, 100), e.g. [80, 95]")
        return sorted(v)

    @model_validator(mode="after")
    def _season_lengths(self) -> ModelConfig:
        given = self.params.get("season_lengths")
        if given is None:
            return self
        if self.name != "MSTL":
            raise ValueError(
                f"params.season_lengths is a parameter of MSTL, not of {self.name}: set "
                'name = "MSTL" or remove season_lengths'
            )
        if (
            not isinstance(given, list)
            or not given
            or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 2 for m in given)
        ):
            raise ValueError(
                f"params.season_lengths = {given!r} must be a list of integers >= 2, e.g. "
                "[48, 336] for half-hourly data (a day and a week)"
            )
        return self

    def seasons(self, season_length: int) -> list[int]:
        """The season lengths the model fits: MSTL's ``season_lengths``, else ``season_length``."""
        given = self.params.get("season_lengths") if self.name == "MSTL" else None
        return sorted(set(given)) if given else [season_length]


class ForecastConfig(_Section):
    horizon: int = Field(12, ge=1, description="periods ahead each forecast covers")
    fallback_model: str | None = Field(
        None,
        description=(
            "model that forecasts series the serving version has no model for (new "
            "series), fitted on their history at forecast time without exogenous inputs, "
            "e.g. 'SeasonalNaive'; unset: such series are an error naming them"
        ),
    )

    @field_validator("fallback_model")
    @classmethod
    def _known_fallback(cls, v: str | None) -> str | None:
        if v is not None and v not in MODEL_NAMES:
            raise ValueError(f"unknown fallback model '{v}'; valid names: {', '.join(MODEL_NAMES)}")
        return v


class TrainingConfig(_Section):
    initial_window: int = Field(96, ge=4, description="periods used to train the first champion")
    retrain_window: int = Field(
        0, ge=0, description="most recent periods used to retrain (0 = all)"
    )
    backtest_windows: int = Field(
        3, ge=1, description="backtest origins the reference errors are measured at"
    )
    backtest_step: int = Field(
        0, ge=0, description="periods between backtest origins (0 = horizon)"
    )
    backtest: Literal["frozen", "refit"] = Field(
        "frozen",
        description=(
            "how the reference errors are measured: 'frozen' forecasts the backtest origins "
            "with the fitted parameters (no extra fits), 'refit' refits at every origin "
            "(out of sample, one fit per origin)"
        ),
    )


class MonitoringConfig(_Section):
    every: int = Field(1, ge=1, description="run a monitoring check every N periods")
    window: int = Field(6, ge=2, description="recent periods compared against the reference")
    false_alerts_per_year: float = Field(
        0.2,
        gt=0,
        le=12,
        description=(
            "false alert episodes a series may raise in a year, over all its alerting checks; "
            "each check's level follows from it at the data's frequency"
        ),
    )
    false_triggers_per_year: float = Field(
        1.0,
        gt=0,
        le=52,
        description=(
            "positive checks a series without change may count towards retraining in a year, "
            "over all its checks (each costs at most a fit, after k of n and the engine's "
            "pricing); each check's retraining level follows from it at the data's frequency"
        ),
    )
    alpha: float | None = Field(
        None,
        gt=0,
        lt=0.5,
        description=(
            "per-check level of the error checks (decay, bias, newest error, coverage), for "
            "retraining and alerts alike; default: from the two budgets"
        ),
    )
    decay_ratio: float = Field(
        1.5,
        gt=1,
        description="performance decay when recent MASE exceeds the backtest MASE by this ratio",
    )
    decay_horizon: int = Field(
        1, ge=1, description="forecast step whose errors are tracked for decay"
    )
    drift_window: int | None = Field(
        None, ge=1, description="periods each drift check looks back (default: the preset's)"
    )
    drift_budget_checks: int | None = Field(
        None, ge=1, description="checks over which the drift false-alarm budget is spent"
    )
    drift_false_alarm_rate: float | None = Field(
        None, gt=0, lt=0.5, description="chance of any false drift alarm within the budget's checks"
    )
    drift_shift: float | None = Field(
        None, gt=0, description="level shift (in sds) the sequential drift check is tuned to"
    )


class RetrainingConfig(_Section):
    triggers: list[Trigger] = Field(
        default_factory=lambda: list(DEFAULT_TRIGGERS),
        description=(
            "checks that may start a retrain: performance_decay, data_drift, concept_drift, "
            "prediction_drift, schedule"
        ),
    )
    k: int = Field(2, ge=1, description="fire when a trigger fired in k of the last n checks")
    n: int = Field(3, ge=1, description="the number of recent checks k counts in")
    cooldown: int = Field(3, ge=0, description="periods to wait after a retrain before the next")
    schedule_every: int = Field(0, ge=0, description="periods between scheduled retrains (0 = off)")

    @model_validator(mode="after")
    def _k_le_n(self) -> RetrainingConfig:
        if self.k > self.n:
            raise ValueError(f"retraining.k ({self.k}) must not exceed retraining.n ({self.n})")
        return self


class GateConfig(_Section):
    validation_window: int = Field(
        6, ge=1, description="recent periods on which the gate compares challenger and champion"
    )
    margin: float = Field(
        0.0,
        ge=0,
        lt=1,
        description=(
            "share by which the challenger must beat its champion on the recent window (0: "
            "match it at least; the watch after a promotion is the test on unseen data)"
        ),
    )
    max_mase: float = Field(2.0, gt=0, description="absolute business threshold on validation MASE")
    metric: Literal["mase", "mae", "rmse", "smape"] = Field(
        "mase", description="error the gate compares: mase | mae | rmse | smape"
    )
    watch_periods: int | None = Field(
        None,
        ge=0,
        description=(
            "most periods after a promotion during which the replaced version forecasts in "
            "shadow and the two are compared on the targets that arrive; the watch ends "
            "earlier when the comparison decides (default: one season or twice "
            "watch_min_targets, whichever is longer; 0: no watch)"
        ),
    )
    watch_alpha: float = Field(
        0.05,
        gt=0,
        lt=0.5,
        description=(
            "level of the watch's sequential comparison (an anytime-valid confidence "
            "sequence for the mean paired loss difference, looked at every cycle): the "
            "series is rolled back as soon as the challenger is worse, confirmed as soon "
            "as it is better"
        ),
    )
    watch_min_targets: int = Field(
        10,
        ge=2,
        description=(
            "targets both versions must have forecast before the watch decides anything "
            "(its variance estimate needs them)"
        ),
    )

    @model_validator(mode="after")
    def _watch_can_decide(self) -> GateConfig:
        w = self.watch_periods
        if w is not None and 0 < w < self.watch_min_targets:
            raise ValueError(
                f"gate.watch_periods = {w} is shorter than gate.watch_min_targets = "
                f"{self.watch_min_targets}: about one target arrives per period, so the watch "
                f"would end before it could decide; set watch_periods >= "
                f"{self.watch_min_targets}, lower watch_min_targets, or 0 for no watch"
            )
        return self


class ComputeConfig(_Section):
    """The ``[compute]`` table: where per-series work runs, in batches of series.

    ``processes`` (the default) runs the batches in local processes, one per available CPU
    unless ``workers`` says otherwise; a fleet that fits one batch (up to ``batch_size``
    series: the demo, a retrain of a few series) runs in-process, without starting a pool,
    so small workspaces behave exactly as ``serial``. ``dask`` sends the batches to the
    Dask cluster whose scheduler is at ``address`` (``pip install 'chronoguard[dask]'``).
    The results are the same on every backend; only the time differs. Local processes are
    started with ``spawn``, so a script that trains more than one batch with ``processes``
    needs Python's ``if __name__ == "__main__":`` guard (the CLI has it).
    """

    backend: Literal["serial", "processes", "dask"] = Field(
        "processes", description="serial | processes (local, the default) | dask (a cluster)"
    )
    workers: int = Field(
        0, ge=0, description="local processes for backend 'processes' (0 = one per CPU)"
    )
    batch_size: int = Field(
        50, ge=1, description="series per task: work goes out in batches, never per series"
    )
    address: str | None = Field(
        None, description="the Dask scheduler's address, e.g. 'tcp://10.0.0.5:8786' (dask only)"
    )
    connect_timeout: float = Field(
        10.0, gt=0, description="seconds to wait for the Dask scheduler to answer"
    )

    @model_validator(mode="after")
    def _address_with_dask(self) -> ComputeConfig:
        if self.backend == "dask" and not self.address:
            raise ValueError(
                'backend = "dask" needs address, the Dask scheduler\'s address (e.g. '
                'address = "tcp://10.0.0.5:8786"); or set backend = "processes" to run on '
                "this machine"
            )
        if self.backend != "dask" and self.address is not None:
            raise ValueError(
                f'address = {self.address!r} is only read with backend = "dask"; set '
                'backend = "dask" or remove address'
            )
        return self


class RolloutConfig(_Section):
    """The ``[rollout]`` table: what a challenger that passes the gate becomes.

    ``champion`` (the default): it serves the series at once, under the watch (the replaced
    version forecasts in shadow and the series is rolled back as soon as the challenger is
    shown worse). ``shadow``: it forecasts in shadow beside the champion, never served, and
    is promoted when the same sequential comparison shows it better, or when the trial
    ends (``gate.watch_periods``) without showing it worse; shown worse, it is rejected
    having served nothing. ``canary``: a deterministic share of the series (``canary_share``
    of them, chosen by a hash of ``unique_id``, the same series every time) are served by
    the challenger at once (alias ``canary``, the champion in shadow, rolled back as soon as
    shown worse); the others run the shadow trial. A series whose tier waits for approval
    is never a canary: it runs the shadow trial and, when promoted, waits for its approvers.
    """

    stage: Literal["champion", "shadow", "canary"] = Field(
        "champion", description="champion | shadow | canary: where a passing challenger starts"
    )
    canary_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description="share of the series served by the challenger at once (stage canary)",
    )


class ChronoguardConfig(_Section):
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    forecast: ForecastConfig = Field(default_factory=lambda: ForecastConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    monitoring: MonitoringConfig = Field(default_factory=lambda: MonitoringConfig())
    retraining: RetrainingConfig = Field(default_factory=lambda: RetrainingConfig())
    gate: GateConfig = Field(default_factory=lambda: GateConfig())
    groups: list[GroupConfig] = Field(
        default_factory=list, description="groups of series; the first whose rule matches wins"
    )
    budget: BudgetConfig = Field(default_factory=lambda: BudgetConfig())
    compute: ComputeConfig = Field(default_factory=lambda: ComputeConfig())
    approvals: ApprovalsConfig = Field(default_factory=lambda: ApprovalsConfig())
    rollout: RolloutConfig = Field(default_factory=lambda: RolloutConfig())
    alerting: AlertingConfig = Field(default_factory=lambda: AlertingConfig())

    @model_validator(mode="after")
    def _groups_fit_budget(self) -> ChronoguardConfig:
        _check_groups_against_budget(self.groups, self.budget)
        return self

    @model_validator(mode="after")
    def _no_long_arima_season(self) -> ChronoguardConfig:
        m = self.data.season_length
        if m <= ARIMA_SEASON_LIMIT or self.model.allow_long_season:
            return self
        uses = [
            (key, name)
            for key, name in (
                ("model.name", self.model.name),
                ("forecast.fallback_model", self.forecast.fallback_model),
                *((f"groups '{g.name}': model", g.model) for g in self.groups if g.model),
            )
            if name in _SEASONAL_ARIMAS
            # AutoARIMA without seasonal terms (Fourier terms as inputs) is fast at any season.
            and not (
                key == "model.name"
                and name == "AutoARIMA"
                and self.model.params.get("seasonal") is False
            )
        ]
        if not uses:
            return self
        key, name = uses[0]
        multi = f"[{m}, {7 * m}]" if m in (24, 48) else f"[{m}]"
        raise ValueError(
            f"{key} = {name!r} with data.season_length = {m}: a seasonal ARIMA with a season "
            f"longer than {ARIMA_SEASON_LIMIT} periods takes minutes to hours per series (a "
            f"half-hourly season of 48 did not finish in 15 minutes); use "
            f'model.name = "MSTL" with model.params = {{season_lengths = {multi}}} '
            "(several seasons, seconds per series), or AutoARIMA with "
            "model.params = {seasonal = false} and Fourier terms of the season as data.exog, "
            "or a shorter season (aggregate the data to a coarser frequency); set "
            "model.allow_long_season = true to fit it anyway"
        )

    @model_validator(mode="after")
    def _rollout_needs_a_watch(self) -> ChronoguardConfig:
        if self.rollout.stage != "champion" and self.gate.watch_periods == 0:
            raise ValueError(
                f'rollout.stage = "{self.rollout.stage}" compares the challenger with its '
                "champion for gate.watch_periods periods, but gate.watch_periods = 0 (no "
                'watch): set watch_periods >= gate.watch_min_targets, or stage = "champion"'
            )
        return self

    def training_minimum(self) -> int:
        """Periods a series needs to be trained and backtested: 2 seasons + the horizon +
        the steps between the backtest's later origins."""
        h = self.forecast.horizon
        step = self.training.backtest_step or h
        return 2 * self.longest_season() + h + step * (self.training.backtest_windows - 1)

    def longest_season(self) -> int:
        """The longest season the model fits (MSTL's longest, else ``data.season_length``)."""
        return max(self.model.seasons(self.data.season_length))

    @model_validator(mode="after")
    def _windows_fit_together(self) -> ChronoguardConfig:
        """Windows that cannot work together are refused here, with the arithmetic, instead
        of failing a cycle later (or, worse, leaving a check that never runs)."""
        problems = []
        need = self.training_minimum()
        m, h = self.longest_season(), self.forecast.horizon
        t = self.training
        arithmetic = (
            f"2 seasons of {m} + horizon {h} + {t.backtest_windows - 1} later backtest "
            f"origins × step {t.backtest_step or h} = {need}"
        )
        fix = "lengthen it, or shorten forecast.horizon / training.backtest_windows"
        if t.initial_window < need:
            problems.append(
                f"training.initial_window = {t.initial_window} is shorter than the {need} "
                f"periods a first model needs ({arithmetic}): {fix}"
            )
        if 0 < t.retrain_window < need:
            problems.append(
                f"training.retrain_window = {t.retrain_window} is shorter than the {need} "
                f"periods a retrain needs ({arithmetic}): {fix}, or use 0 (all data)"
            )
        d = self.monitoring.decay_horizon
        if d > h:
            problems.append(
                f"monitoring.decay_horizon = {d} is beyond forecast.horizon = {h}: no forecast "
                "is served at that step, so the error checks would never run; use a step "
                f"from 1 to {h}"
            )
        elif self.monitoring.window < d + 1:
            problems.append(
                f"monitoring.window = {self.monitoring.window} holds fewer than 2 errors at "
                f"step {d} once overlapping ones are thinned (one every {d} periods): use a "
                f"window of at least {d + 1}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_config(raw: dict[str, Any], source: str = "<config>") -> ChronoguardConfig:
    """Validate a configuration mapping; ConfigError lists every problem by its dotted key."""
    try:
        return ChronoguardConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; check its spelling against `chronoguard init`'s config"
            lines.append(f"  - {loc}: {msg}")
        raise ConfigError(f"invalid configuration {source}:\n" + "\n".join(lines)) from None


def load_config(path: str | Path) -> ChronoguardConfig:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}; create one with `chronoguard init`")
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None
    return parse_config(raw, source=str(p))


def dump_config(cfg: ChronoguardConfig) -> str:
    """The configuration as TOML text (every section, every key)."""
    out: list[str] = []
    for section, values in cfg.to_dict().items():
        if isinstance(values, list):  # an array of tables: [[groups]]
            for item in values:
                out.append(f"[[{section}]]")
                out.extend(f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None)
                out.append("")
            continue
        out.append(f"[{section}]")
        for key, val in values.items():
            if val is None:
                continue
            out.append(f"{key} = {_toml_value(val)}")
        out.append("")
    return "\n".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


# Retraining policy: groups of series (tier, cost of error, model) and the budget of a cycle.
# chronoguard.policy reads them; they are validated here so that a bad file fails at load time.

Tier = Literal["critical", "high", "standard", "low"]
TIERS: tuple[Tier, ...] = ("critical", "high", "standard", "low")


def _finite_at_least_zero(v: float) -> bool:
    return 0 <= v < float("inf")  # False for NaN, negatives and infinity


class GroupConfig(_Section):
    """One ``[[groups]]`` table: which series it holds and what their errors cost.

    A group selects series by exactly one rule: ``match``, a glob on ``unique_id``
    (``"NSW*"``), or ``column`` with ``value``, a column of the data and the value a series
    holds in it. Groups are tried in file order; the first that matches a series wins.
    """

    name: str = Field(min_length=1)
    match: str | None = Field(None, description="glob on unique_id, e.g. 'NSW*'")
    column: str | None = Field(None, description="a column of the data that selects the group")
    value: bool | int | float | str | None = Field(
        None, description="the value of `column` that puts a series in the group"
    )
    tier: Tier = Field("standard", description="critical | high | standard | low")
    cost_per_unit_error: float | None = Field(
        None, description="money per unit of y of absolute forecast error per period"
    )
    model: str | None = Field(
        None,
        description=(
            "model for this group's series (default model.name, with its defaults: "
            "model.params are model.name's); each model's retrains are a version of their own"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _known_tier(cls, raw: Any) -> Any:
        # Checked before the fields so the message names the group, not only its index.
        if isinstance(raw, dict) and "tier" in raw and raw["tier"] not in TIERS:
            raise ValueError(
                f"group '{raw.get('name', '?')}': tier = {raw['tier']!r} is unknown; "
                f"set tier to one of {', '.join(TIERS)}"
            )
        return raw

    @model_validator(mode="after")
    def _valid_group(self) -> GroupConfig:
        g = f"group '{self.name}'"
        by_glob, by_column = self.match is not None, self.column is not None
        if by_glob == by_column:
            has = "sets both" if by_glob else "sets neither"
            raise ValueError(
                f"{g} {has} of match and column: set exactly one, "
                'match = "NSW*" (a glob on unique_id) or column = "region" with value = "North"'
            )
        if by_glob and not self.match:
            raise ValueError(f'{g}: match is empty; give a glob on unique_id such as "NSW*"')
        if by_column and not self.column:
            raise ValueError(f"{g}: column is empty; name a column of the data")
        if by_column and self.value is None:
            raise ValueError(
                f'{g}: column = {self.column!r} needs a value (e.g. value = "North"), '
                "the value a series holds in that column"
            )
        if by_glob and self.value is not None:
            raise ValueError(
                f"{g}: value is only read with column; remove value or replace match with column"
            )
        if self.cost_per_unit_error is not None and not _finite_at_least_zero(
            self.cost_per_unit_error
        ):
            raise ValueError(
                f"{g}: cost_per_unit_error = {self.cost_per_unit_error} must be a finite "
                "number ≥ 0 (money per unit of y of absolute error per period, e.g. 35.0)"
            )
        if self.model is not None and self.model not in MODEL_NAMES:
            raise ValueError(
                f"{g}: unknown model name '{self.model}'; valid names: {', '.join(MODEL_NAMES)}"
            )
        return self

    def rule(self) -> str:
        """The group's rule as written in the file, for messages."""
        if self.match is not None:
            return f'match = "{self.match}"'
        return f"column = {self.column!r}, value = {self.value!r}"


class BudgetConfig(_Section):
    """The ``[budget]`` table: what the retrains of one cycle may spend (0 = unlimited)."""

    cpu_seconds_per_cycle: float = Field(
        0.0, description="CPU seconds all retrains of a cycle may use (0 = unlimited)"
    )
    money_per_cycle: float = Field(
        0.0, description="money all retrains of a cycle may cost (0 = unlimited)"
    )
    price_per_cpu_second: float = Field(
        0.0, description="price of one CPU second; needed when money_per_cycle is set"
    )
    default_cost_per_unit_error: float = Field(
        1.0, description="money per unit of error of series that no group holds"
    )
    default_fit_cpu_seconds: float = Field(
        1.0, description="CPU seconds assumed for a fit when none has been measured yet"
    )
    staleness_periods: int = Field(
        24, ge=1, description="periods after a retrain at which age alone doubts the model"
    )
    currency: str = Field("$", min_length=1, description="symbol written in decision reasons")

    @model_validator(mode="after")
    def _valid_budget(self) -> BudgetConfig:
        problems = []
        for key in ("cpu_seconds_per_cycle", "money_per_cycle", "price_per_cpu_second"):
            v = getattr(self, key)
            if not _finite_at_least_zero(v):
                problems.append(
                    f"budget.{key} = {v} must be a finite number ≥ 0; "
                    "use 0 (or leave it out) for no limit"
                )
        v = self.default_cost_per_unit_error
        if not _finite_at_least_zero(v):
            problems.append(
                f"budget.default_cost_per_unit_error = {v} must be a finite number ≥ 0 "
                "(money per unit of y of absolute error per period, e.g. 1.0)"
            )
        v = self.default_fit_cpu_seconds
        if not (_finite_at_least_zero(v) and v > 0):
            problems.append(
                f"budget.default_fit_cpu_seconds = {v} must be a finite number > 0 "
                "(CPU seconds of one fit, e.g. 1.0)"
            )
        if self.money_per_cycle > 0 and self.price_per_cpu_second <= 0:
            problems.append(
                f"budget.money_per_cycle = {self.money_per_cycle} needs "
                "budget.price_per_cpu_second: set the price of one CPU second "
                "(e.g. price_per_cpu_second = 0.0001), or remove money_per_cycle"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def limited(self) -> bool:
        """Whether a budget limits the cycle (CPU seconds or money)."""
        return self.cpu_seconds_per_cycle > 0 or self.money_per_cycle > 0


def _check_groups_against_budget(groups: list[GroupConfig], budget: BudgetConfig) -> None:
    names = [g.name for g in groups]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"groups: the name(s) {', '.join(repr(n) for n in twice)} appear more than once; "
            "give every [[groups]] table its own name"
        )
    if budget.money_per_cycle > 0:
        missing = [
            f"groups.{i} ('{g.name}', tier {g.tier})"
            for i, g in enumerate(groups)
            if g.cost_per_unit_error is None
        ]
        if missing:
            raise ValueError(
                f"{', '.join(missing)}: cost_per_unit_error is missing, but "
                f"budget.money_per_cycle = {budget.money_per_cycle} weighs errors in money; "
                "set cost_per_unit_error in each group (money per unit of y of absolute error "
                "per period)"
            )


# Approvals: which tiers wait for people before a challenger that passed the gate serves.

ApprovalPolicy = Literal["auto", "one", "four_eyes"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = ("auto", "one", "four_eyes")
#: Distinct approvers (none of them the author of the change) each policy requires.
REQUIRED_APPROVALS: dict[str, int] = {"auto": 0, "one": 1, "four_eyes": 2}


def _default_policies() -> dict[Tier, ApprovalPolicy]:
    return {"critical": "four_eyes", "high": "auto", "standard": "auto", "low": "auto"}


class ApprovalsConfig(_Section):
    """The ``[approvals]`` table: who must agree before a passing challenger serves.

    ``policy`` maps each tier to ``auto`` (deployed as soon as it passes the gate), ``one``
    (one approver) or ``four_eyes`` (two distinct approvers); an approver is never the
    author of the change. Tiers not named keep their default (``critical = "four_eyes"``,
    every other tier ``auto``). A request nobody decides expires after
    ``expires_after_hours`` of real time and never deploys.

    Examples
    --------
    >>> cfg = ApprovalsConfig(policy={"high": "one"})
    >>> cfg.policy_for("critical"), cfg.policy_for("high"), cfg.required_approvals("low")
    ('four_eyes', 'one', 0)
    """

    policy: dict[Tier, ApprovalPolicy] = Field(
        default_factory=_default_policies,
        description=(
            "approval policy per tier: auto | one | four_eyes (two distinct approvers, "
            "neither the author); tiers not named keep their default"
        ),
    )
    expires_after_hours: float = Field(
        72.0,
        gt=0,
        description="real hours after which a pending approval request expires (never deploys)",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_policies(cls, raw: Any) -> Any:
        # Checked before the fields so the message names the tier and the allowed values.
        if not isinstance(raw, dict) or "policy" not in raw:
            return raw
        given = raw["policy"]
        if not isinstance(given, dict):
            raise ValueError(
                f"policy must be a table of tier = policy, e.g. "
                f'policy = {{critical = "four_eyes", high = "one"}}; got {given!r}'
            )
        problems = []
        for tier, policy in given.items():
            if tier not in TIERS:
                problems.append(f"policy: tier {tier!r} is unknown; tiers are {', '.join(TIERS)}")
            elif policy not in APPROVAL_POLICIES:
                problems.append(
                    f"policy.{tier} = {policy!r} is unknown; set it to one of "
                    f"{', '.join(APPROVAL_POLICIES)}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return {**raw, "policy": {**_default_policies(), **given}}

    def policy_for(self, tier: str | None) -> ApprovalPolicy:
        """The policy of ``tier`` (a series in no group is ``standard``)."""
        for t, policy in self.policy.items():
            if t == (tier or "standard"):
                return policy
        return "auto"

    def required_approvals(self, tier: str | None) -> int:
        """Distinct approvers a passing challenger of ``tier`` waits for (0: none)."""
        return REQUIRED_APPROVALS[self.policy_for(tier)]


# Alert delivery: the channels notifications go to and the policy of when they go.
# chronoguard.alerts reads them; secrets stay in environment variables named here.

ChannelKind = Literal["webhook", "slack", "pagerduty", "email"]
CHANNEL_KINDS: tuple[ChannelKind, ...] = ("webhook", "slack", "pagerduty", "email")
AlertSeverity = Literal["info", "warning", "critical"]
ALERT_SEVERITIES: tuple[AlertSeverity, ...] = ("info", "warning", "critical")
_SEVERITIES_ALERTED: tuple[AlertSeverity, ...] = ("warning", "critical")
_SEVERITIES_IN_QUIET: tuple[AlertSeverity, ...] = ("critical",)
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUIET = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")


def _env_present(key: str, name: str | None, why: str) -> list[str]:
    """Problems with the environment variable ``name`` a channel reads its secret from."""
    if name is None:
        return []
    if not _ENV_NAME.match(name):
        return [f"{key} = {name!r} is not an environment variable name (letters, digits, _)"]
    if not os.environ.get(name):
        return [f"{key}: the environment variable {name} ({why}) is not set; export it"]
    return []


class ChannelConfig(_Section):
    """One ``[[alerting.channels]]`` table: where notifications go and which ones.

    Secrets are never written in the file: ``routing_key_env``, ``password_env`` and
    ``url_env`` name the environment variables that hold them, checked when the
    configuration loads.
    """

    name: str = Field(description="the channel's name, unique; shown in the outbox")
    kind: ChannelKind = Field(description="webhook | slack | pagerduty | email")
    tiers: list[Tier] = Field(
        default_factory=lambda: list(TIERS),
        description="tiers of the series whose alerts this channel gets (default: all)",
    )
    severities: list[AlertSeverity] = Field(
        default_factory=lambda: list(_SEVERITIES_ALERTED),
        description="alert severities this channel gets: info | warning | critical",
    )
    url: str | None = Field(None, description="webhook or Slack incoming-webhook URL")
    url_env: str | None = Field(
        None, description="environment variable holding the URL instead (a Slack URL is a secret)"
    )
    events_url: str = Field(
        PAGERDUTY_EVENTS_URL, description="PagerDuty Events API v2 endpoint (pagerduty)"
    )
    routing_key_env: str | None = Field(
        None, description="environment variable holding the PagerDuty routing key (pagerduty)"
    )
    source: str = Field("chronoguard", min_length=1, description="PagerDuty payload.source")
    smtp_host: str | None = Field(None, description="SMTP server host (email)")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP server port (email)")
    starttls: bool = Field(False, description="upgrade the SMTP connection with STARTTLS (email)")
    username: str | None = Field(None, description="SMTP user name, when the server wants one")
    password_env: str | None = Field(
        None, description="environment variable holding the SMTP password (with username)"
    )
    sender: str | None = Field(None, description="From address (email)")
    recipients: list[str] = Field(default_factory=list, description="To addresses (email)")
    digest_minutes: float = Field(
        0,
        ge=0,
        description="0: send each notification; N: one digest message per N minutes",
    )

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, v: Any) -> Any:
        if v not in CHANNEL_KINDS:
            raise ValueError(
                f"channel kind {v!r} is unknown; set it to one of {', '.join(CHANNEL_KINDS)}"
            )
        return v

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _CHANNEL_NAME.match(v):
            raise ValueError(
                f"channel name {v!r} must be 1-100 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return v

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        problems: list[str] = []
        if self.kind in ("webhook", "slack"):
            if (self.url is None) == (self.url_env is None):
                problems.append(f"a {self.kind} channel needs exactly one of url or url_env")
            if self.url is not None and not self.url.startswith(("http://", "https://")):
                problems.append(f"url {self.url!r} must start with http:// or https://")
            problems += _env_present("url_env", self.url_env, f"the URL of {self.name}")
        elif self.kind == "pagerduty":
            if self.routing_key_env is None:
                problems.append(
                    "a pagerduty channel needs routing_key_env, the environment variable "
                    "holding its routing key"
                )
            problems += _env_present("routing_key_env", self.routing_key_env, "routing key")
            if not self.events_url.startswith(("http://", "https://")):
                problems.append(f"events_url {self.events_url!r} must start with https://")
            if self.digest_minutes:
                problems.append("digest_minutes is not for pagerduty: each episode is one incident")
        else:
            if not self.smtp_host:
                problems.append("an email channel needs smtp_host")
            if not self.sender or not self.recipients:
                problems.append("an email channel needs sender and at least one recipient")
            if self.password_env is not None and self.username is None:
                problems.append("password_env needs username")
            problems += _env_present("password_env", self.password_env, "the SMTP password")
        if not self.tiers or not self.severities:
            problems.append("tiers and severities must each name at least one value")
        if problems:
            raise ValueError(f"channel {self.name!r}: " + "; ".join(problems))
        return self

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: Any) -> Any:
        # A TOML file has no null: keys left unset are left out of the written file.
        return {k: v for k, v in handler(self).items() if v is not None}


class AlertingConfig(_Section):
    """The ``[alerting]`` table: delivery of alerts to people.

    One notification per model, cycle and channel lists every series that fired, grouped
    by their group. An episode opens when alerts fire for a model while none of its
    episode is open, and resolves (a resolve notification) when all of its alerts have
    resolved. An open episode is notified again, of newly fired series, at most once per
    ``cooldown_minutes``. During ``quiet_hours`` (``"22:00-07:00"`` in ``timezone``)
    notifications are held and sent after them, except those of ``quiet_severities``.
    Failed sends are retried with exponential backoff from ``retry_initial_seconds`` up to
    ``retry_max_seconds`` between attempts, without end: nothing is dropped.

    Examples
    --------
    >>> AlertingConfig(quiet_hours="22:00-07:00").quiet_window()
    (datetime.time(22, 0), datetime.time(7, 0))
    """

    channels: list[ChannelConfig] = Field(
        default_factory=list, description="where notifications go; none: alerts stay in the store"
    )
    cooldown_minutes: float = Field(
        60, ge=0, description="least minutes between two notifications of an open episode"
    )
    quiet_hours: str | None = Field(
        None, description='hours notifications are held, "HH:MM-HH:MM" in timezone'
    )
    timezone: str = Field("UTC", description="IANA time zone of quiet_hours, e.g. Europe/Berlin")
    quiet_severities: list[AlertSeverity] = Field(
        default_factory=lambda: list(_SEVERITIES_IN_QUIET),
        description="severities delivered during quiet hours all the same",
    )
    retry_initial_seconds: float = Field(
        30, gt=0, description="wait after a first failed send; doubled after each failure"
    )
    retry_max_seconds: float = Field(
        3600, gt=0, description="longest wait between two attempts of one notification"
    )
    timeout_seconds: float = Field(10, gt=0, description="timeout of one send")

    @field_validator("quiet_hours")
    @classmethod
    def _valid_quiet_hours(cls, v: str | None) -> str | None:
        if v is not None:
            m = _QUIET.match(v)
            if m is None or m.group(1, 2) == m.group(3, 4):
                raise ValueError(
                    f"quiet_hours {v!r} must be two different times as HH:MM-HH:MM, "
                    'e.g. "22:00-07:00"'
                )
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {v!r} is not an IANA time zone; use a name such as "
                '"UTC" or "Europe/Berlin"'
            ) from None
        return v

    @model_validator(mode="after")
    def _unique_and_ordered(self) -> AlertingConfig:
        names = [c.name for c in self.channels]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"channel names must be unique; repeated: {', '.join(twice)}")
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds must be at least retry_initial_seconds")
        return self

    def quiet_window(self) -> tuple[time, time] | None:
        """The start and end of the quiet hours, or ``None``."""
        if self.quiet_hours is None:
            return None
        start, end = self.quiet_hours.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    def channel(self, name: str) -> ChannelConfig:
        for c in self.channels:
            if c.name == name:
                return c
        raise ConfigError(
            f"no alerting channel is named {name!r}; the channels are "
            f"{', '.join(c.name for c in self.channels) or '(none)'}"
        )


ChronoguardConfig.model_rebuild()
