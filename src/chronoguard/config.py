"""The run configuration (TOML), validated with clear errors.

A configuration names the model, horizon, frequency, season length, the training and
retraining windows, the monitoring checks, the retraining rule and the validation gate.
Every field has a default that suits monthly data; ``chronoguard init`` writes one to edit.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    freq: str | None = Field(None, description="pandas frequency alias; inferred when omitted")
    season_length: int = Field(12, ge=1)
    exog: list[str] = Field(default_factory=list, description="exogenous columns the model uses")


class ModelConfig(_Section):
    name: str = "AutoETS"
    registered_name: str = Field("chronoguard-model", description="MLflow registered model name")
    params: dict[str, Any] = Field(default_factory=dict)
    levels: list[int] = Field(default_factory=lambda: [80, 95])

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


class ForecastConfig(_Section):
    horizon: int = Field(12, ge=1)


class TrainingConfig(_Section):
    initial_window: int = Field(96, ge=4, description="periods used to train the first champion")
    retrain_window: int = Field(
        0, ge=0, description="most recent periods used to retrain (0 = all)"
    )
    backtest_windows: int = Field(3, ge=1)
    backtest_step: int = Field(
        0, ge=0, description="periods between backtest origins (0 = horizon)"
    )


class MonitoringConfig(_Section):
    every: int = Field(1, ge=1, description="run a monitoring check every N periods")
    window: int = Field(6, ge=2, description="recent periods compared against the reference")
    alpha: float = Field(0.01, gt=0, lt=0.5, description="per-check significance level")
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
    triggers: list[Trigger] = Field(default_factory=lambda: list(DEFAULT_TRIGGERS))
    k: int = Field(2, ge=1, description="fire when a trigger fired in k of the last n checks")
    n: int = Field(3, ge=1)
    cooldown: int = Field(3, ge=0, description="periods to wait after a retrain before the next")
    schedule_every: int = Field(0, ge=0, description="periods between scheduled retrains (0 = off)")

    @model_validator(mode="after")
    def _k_le_n(self) -> RetrainingConfig:
        if self.k > self.n:
            raise ValueError(f"retraining.k ({self.k}) must not exceed retraining.n ({self.n})")
        return self


class GateConfig(_Section):
    validation_window: int = Field(6, ge=1, description="held-out recent periods for validation")
    margin: float = Field(
        0.05, ge=0, lt=1, description="challenger must beat champion by this share"
    )
    max_mase: float = Field(2.0, gt=0, description="absolute business threshold on validation MASE")
    metric: Literal["mase", "mae", "rmse", "smape"] = "mase"


class ChronoguardConfig(_Section):
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    forecast: ForecastConfig = Field(default_factory=lambda: ForecastConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    monitoring: MonitoringConfig = Field(default_factory=lambda: MonitoringConfig())
    retraining: RetrainingConfig = Field(default_factory=lambda: RetrainingConfig())
    gate: GateConfig = Field(default_factory=lambda: GateConfig())

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
