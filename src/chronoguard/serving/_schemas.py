"""The service's request and response bodies: pydantic models, so the OpenAPI schema is typed.

Every body that can be fleet-sized (the deployment of 10,000 series, the decisions of a
cycle, the audit log) is a :class:`Page`: ``items`` with ``total``, ``limit``, ``offset``
and ``next_offset`` (``None`` on the last page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Problem(BaseModel):
    """An error: what went wrong, naming the offending thing, and how to fix it."""

    error: str = Field(description="a short, stable code: not_found, invalid_rows, not_ready …")
    detail: str = Field(description="what went wrong and how to fix it")
    problems: list[str] = Field(default_factory=list, description="every problem found")
    rows: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the offending request rows, by position in the request (0-based)",
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class ForecastPoint(BaseModel):
    ds: datetime
    horizon: int = Field(description="steps ahead of the origin (1 = the next period)")
    yhat: float
    yhat_lo: float | None = None
    yhat_hi: float | None = None


class ForecastResponse(BaseModel):
    """The forecasts served for one series: what the cycle recorded as served."""

    model: str
    unique_id: str
    version: str = Field(description="the version that produced these forecasts")
    alias: str = Field(description="how that version served them: champion or canary")
    origin: datetime = Field(description="the last observed time the forecasts start after")
    level: int | None = Field(description="the prediction interval's level, in percent")
    deployed_version: str | None = Field(
        description=(
            "the version the deployment names for the series now; differs from `version` "
            "between a manual move and the next cycle, which serves the new version"
        )
    )
    snapshot: int = Field(description="the generation of the service's snapshot that answered")
    points: list[ForecastPoint]


class ModelSummary(BaseModel):
    name: str
    n_series: int
    versions_in_use: list[str]
    champion: str | None = Field(description="the version the champion alias names")
    latest_origin: datetime | None


class VersionInfo(BaseModel):
    version: str
    status: str | None = Field(description="lifecycle status in the store")
    aliases: list[str]
    n_series: int = Field(description="series this version serves now")
    run_id: str | None
    model_uri: str | None
    forecaster: str | None
    train_start: str | None
    train_end: str | None
    trigger: str | None
    parent_version: str | None
    trained_at: str | None
    metrics: dict[str, float]


class DeployedSeries(BaseModel):
    unique_id: str
    version: str
    since: datetime


class DeploymentInfo(BaseModel):
    model: str
    n_series: int
    series_per_version: dict[str, int]
    series: Page[DeployedSeries]


class DeploymentMoveOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unique_id: str
    version: str
    previous_version: str | None
    at: datetime
    by: str
    reason: str
    batch: str | None


class SeriesDeployment(BaseModel):
    model: str
    unique_id: str
    version: str
    since: datetime
    history: list[DeploymentMoveOut]


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ds: datetime
    unique_id: str
    action: str
    reason: str
    trigger: str
    tier: str | None
    expected_loss: float | None
    retrain_cost: float | None
    cpu_seconds: float | None
    outcome: str
    challenger_version: str | None
    champion_version: str | None
    challenger_error: float | None
    champion_error: float | None
    gate_reason: str | None


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int | None
    ds: datetime
    unique_id: str | None
    kind: str
    method: str
    feature: str
    statistic: float
    threshold: float
    p_value: float | None
    severity: str
    status: str
    version: str
    message: str


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ActualIn(BaseModel):
    """One observed value. ``ds`` in ISO 8601; a time zone is converted to UTC."""

    unique_id: str = Field(min_length=1)
    ds: datetime
    y: float


class ActualsIn(BaseModel):
    rows: list[ActualIn] = Field(min_length=1, max_length=100_000)


class ActualsOut(BaseModel):
    rows: int = Field(description="rows received")
    inserted: int
    unchanged: int = Field(description="rows already stored with the same value (a no-op)")
    revised: int = Field(description="stored values replaced (only with revise=true)")


class Readiness(BaseModel):
    ready: bool
    reason: str | None = None
    snapshot: int | None = None
    loaded_at: datetime | None = None
    n_series: int = 0
    versions_in_use: list[str] = Field(default_factory=list)
    last_error: str | None = None


class Health(BaseModel):
    status: str


# --- governance actions -----------------------------------------------------------------


class SelectionIn(BaseModel):
    """Which series: ``series``, or a configured ``group``'s (as of the latest cycle), or
    (neither) the default of the action."""

    series: list[str] | None = Field(default=None, min_length=1, max_length=100_000)
    group: str | None = Field(default=None, min_length=1)


class PromoteIn(SelectionIn):
    version: str = Field(min_length=1, description="the version to deploy")
    reason: str = Field(default="promotion over HTTP", min_length=1, max_length=2000)


class RollbackIn(SelectionIn):
    reason: str = Field(default="rollback over HTTP", min_length=1, max_length=2000)


class VoteIn(BaseModel):
    reason: str = Field(default="", max_length=2000, description="why (required to reject)")


class ApprovalVoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    by: str
    at: datetime
    vote: str
    reason: str


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: str
    series: list[str]
    tier: str
    policy: str
    required_approvals: int
    author: str
    requested_at: datetime
    as_of: datetime
    expires_at: datetime
    status: str
    reason: str
    closed_at: datetime | None
    closed_reason: str | None
    votes: list[ApprovalVoteOut]


class PromoteOut(BaseModel):
    version: str
    moved: list[DeploymentMoveOut] = Field(description="series deployed now")
    approval_requests: list[ApprovalOut] = Field(
        description="series whose tier waits for approval: they move when it is approved"
    )
    unchanged: list[str] = Field(description="series the version already served")


class RollbackOut(BaseModel):
    moved: list[DeploymentMoveOut]


class VoteOut(BaseModel):
    request: ApprovalOut
    deployed: list[str] = Field(description="series deployed by this vote")
    stayed: list[str] = Field(description="series that had moved on and stay where they are")
    watches_opened: int
