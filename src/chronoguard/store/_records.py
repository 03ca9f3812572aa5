"""Typed records that go into and come out of the store.

Plain frozen dataclasses: the ORM rows in :mod:`chronoguard.store._models` never leave
the store. Every timestamp is a naive :class:`~datetime.datetime` in UTC (an aware
timestamp given to the store is converted to UTC first), so both backends hand back the
same values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ResultKind(StrEnum):
    """What a monitoring result or an alert is about (same values as ``drift.DriftKind``)."""

    DATA_DRIFT = "data_drift"
    PREDICTION_DRIFT = "prediction_drift"
    CONCEPT_DRIFT = "concept_drift"
    PERFORMANCE_DECAY = "performance_decay"
    DATA_QUALITY = "data_quality"


class AlertStatus(StrEnum):
    """Where an alert is in its life: raised, seen by a person, closed."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class VersionStatus(StrEnum):
    """Lifecycle state of a model version.

    ``candidate → validated | rejected → shadow | canary → champion → retired``. The store
    records any move; which moves are allowed is the lifecycle layer's rule.
    """

    CANDIDATE = "candidate"
    VALIDATED = "validated"
    REJECTED = "rejected"
    SHADOW = "shadow"
    CANARY = "canary"
    CHAMPION = "champion"
    RETIRED = "retired"


class RetrainOutcome(StrEnum):
    """What a retrain decision ended in."""

    PROMOTED = "promoted"
    REJECTED = "rejected"


#: The alias of forecasts made in shadow (a watched promotion's replaced version): recorded
#: beside the served ones, never served. ``served_only`` reads leave them out.
SHADOW_ALIAS = "shadow"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForecastRecord:
    """One served forecast: series ``unique_id``, made at ``origin`` for target ``ds``.

    ``origin`` is the last observed timestamp when the forecast was made and ``horizon``
    the step ahead (1 = the next period). The interval (``yhat_lo``, ``yhat_hi`` at
    ``level`` percent) is optional. ``id`` is ``None`` until the store assigns it.

    Examples
    --------
    >>> from datetime import datetime
    >>> r = ForecastRecord(unique_id="s1", origin=datetime(2024, 1, 31),
    ...                    ds=datetime(2024, 2, 1), horizon=1, yhat=10.0,
    ...                    model_name="demand", version="3", alias="champion",
    ...                    created_at=datetime(2024, 1, 31, 6))
    >>> r.level is None
    True
    """

    unique_id: str
    origin: datetime
    ds: datetime
    horizon: int
    yhat: float
    model_name: str
    version: str
    alias: str
    created_at: datetime
    yhat_lo: float | None = None
    yhat_hi: float | None = None
    level: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualsWrite:
    """What :meth:`Store.record_actuals` did: new rows, identical re-sends, revisions."""

    inserted: int
    unchanged: int
    revised: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringResult:
    """The outcome of one check (a drift test, a quality rule, a performance comparison).

    ``statistic`` was compared with ``threshold`` (or ``p_value`` with it, for tests that
    define one) and ``decision`` says whether the check fired. ``unique_id`` is ``None``
    for fleet-level checks. ``run_id`` and ``ds`` (the check time) are given once per
    :meth:`Store.record_monitoring_results` call and come back in the frame.
    """

    kind: str
    method: str
    statistic: float
    threshold: float
    decision: bool
    severity: str
    version: str
    unique_id: str | None = None
    feature: str = "y"
    p_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """An alert raised at check time ``ds``. ``id`` is ``None`` until stored."""

    ds: datetime
    kind: str
    method: str
    statistic: float
    threshold: float
    severity: str
    message: str
    version: str
    unique_id: str | None = None
    feature: str = "y"
    p_value: float | None = None
    status: str = AlertStatus.OPEN.value
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasMove:
    """One move of ``alias`` of ``model_name`` onto ``version``.

    ``previous_version`` is the version the alias pointed at before the move (``None`` for
    the first move), so the history reads as a chain and a rollback knows where to go.
    """

    id: int
    model_name: str
    alias: str
    version: str
    previous_version: str | None
    moved_at: datetime
    moved_by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """The current lifecycle state of one model version."""

    model_name: str
    version: str
    status: str
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """One lifecycle move of a model version; ``from_status`` is ``None`` for the first."""

    id: int
    model_name: str
    version: str
    from_status: str | None
    to_status: str
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RetrainDecision:
    """A challenger compared with the champion at ``ds``, and what came of it.

    The errors are the validation metric of each (lower is better); ``champion_version``
    and ``champion_error`` are ``None`` when there was no champion yet.
    """

    id: int
    ds: datetime
    model_name: str
    trigger: str
    challenger_version: str
    champion_version: str | None
    challenger_error: float | None
    champion_error: float | None
    outcome: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One row of the append-only, hash-chained audit log.

    ``hash`` is the HMAC-SHA256 with the workspace's audit key (plain SHA-256 for a store
    without a key) of the canonical JSON of every other field (including ``prev_hash``),
    so changing any stored row breaks the chain from that row on.

    ``as_of`` is the data time the action concerns (``None`` for actions with none, such
    as a token created) and ``recorded_at`` the real time it happened; entries are listed
    by ``recorded_at``, then ``id``. ``at`` equals ``recorded_at``, except on rows written
    before both times were kept, whose one time ``at`` is read as both.
    """

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    as_of: datetime | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class AuditVerdict:
    """What :meth:`Store.verify_audit_chain` found.

    ``broken_id`` is the audit row that fails (for a covered table that disagrees, the
    audit row whose digests it no longer matches; ``None`` when the table has no such
    row, e.g. a current-state row that contradicts its history) and ``reason`` says why.
    ``keyed_rows`` counts the rows hashed with the audit key (the others were written
    before the chain was keyed, or by a store without a key).
    """

    ok: bool
    rows_checked: int
    keyed_rows: int = 0
    broken_id: int | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            legacy = self.rows_checked - self.keyed_rows
            note = f", {legacy} written before the key" if self.keyed_rows and legacy else ""
            unkeyed = "" if self.keyed_rows else " (none keyed)" if self.rows_checked else ""
            return f"audit chain ok: {self.rows_checked} rows checked{note}{unkeyed}"
        if self.broken_id is None:
            return f"audit chain broken: {self.reason} ({self.rows_checked} rows verify)"
        return f"audit chain broken at row {self.broken_id}: {self.reason}"


# --- the per-series production cycle --------------------------------------------------


class DecisionAction(StrEnum):
    """What the decision engine chose for one series in one cycle."""

    RETRAIN = "retrain"
    KEEP = "keep"
    WAIT = "wait"
    OVER_BUDGET = "over_budget"
    FALLBACK = "fallback"


class DecisionOutcome(StrEnum):
    """Where a series decision ended: ``none`` when there is nothing to gate (keep,
    wait…), ``pending`` until the gate has judged the challenger, then its verdict."""

    NONE = "none"
    PENDING = "pending"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    AWAITING_APPROVAL = "awaiting_approval"


class CycleStatus(StrEnum):
    """A cycle is ``running`` from its start until it is finished, then ``done``."""

    RUNNING = "running"
    DONE = "done"


class IntentStatus(StrEnum):
    """A write-ahead intent is ``open`` until it was carried out (``done``) or undone."""

    OPEN = "open"
    DONE = "done"
    UNDONE = "undone"


class WatchStatus(StrEnum):
    """A watch is ``open`` while the version that does not serve forecasts in shadow; it
    closes ``confirmed`` (the promotion, or the canary, stands), ``rolled_back`` (the series
    went back to the replaced version), ``superseded`` (the series left the watched version
    first), or, for a shadow trial, ``promoted`` (the challenger went on to serve, or to an
    approval) or ``rejected`` (it never served)."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"
    PROMOTED = "promoted"
    REJECTED = "rejected"


class WatchKind(StrEnum):
    """What a watch compares, and which of its two versions serves meanwhile.

    ``watch``: after a promotion, ``version`` serves and ``previous_version`` forecasts in
    shadow. ``canary``: the same, for a series the rollout chose as a canary (forecasts
    recorded under the alias ``canary``). ``shadow``: a trial before any promotion,
    ``previous_version`` (the champion) serves and the challenger ``version`` forecasts in
    shadow."""

    WATCH = "watch"
    CANARY = "canary"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True, kw_only=True)
class Watch:
    """A promotion of ``unique_id`` onto ``version`` (from ``previous_version``) at
    ``opened_at``, compared prospectively with the version it replaced for ``periods``
    periods. Errors are mean absolute errors (units of y) over ``n_pairs`` targets that
    both versions forecast from the same origins after the promotion. ``kind`` says which
    of the two serves meanwhile (:class:`WatchKind`)."""

    model_name: str
    unique_id: str
    opened_at: datetime
    version: str
    previous_version: str
    periods: int
    kind: str = WatchKind.WATCH.value
    status: str = WatchStatus.OPEN.value
    closed_at: datetime | None = None
    challenger_error: float | None = None
    previous_error: float | None = None
    n_pairs: int | None = None
    reason: str | None = None

    @property
    def served_version(self) -> str:
        """The version that serves the series while the watch is open."""
        return self.previous_version if self.kind == WatchKind.SHADOW.value else self.version

    @property
    def shadow_version(self) -> str:
        """The version that forecasts the series in shadow while the watch is open."""
        return self.version if self.kind == WatchKind.SHADOW.value else self.previous_version


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchClose:
    """The verdict that closes the watch of ``unique_id`` opened at ``opened_at``."""

    unique_id: str
    opened_at: datetime
    status: str
    closed_at: datetime
    challenger_error: float | None
    previous_error: float | None
    n_pairs: int
    reason: str


def _version_order(version: str) -> tuple[int, int, str]:
    # MLflow versions are "1", "2", …, "10": numeric order, not text order.
    return (0, int(version), "") if version.isdigit() else (1, 0, version)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentMove:
    """One series of ``model_name`` moved onto ``version`` (from ``previous_version``,
    ``None`` the first time). The moves of one :meth:`Store.deploy` call share ``at``,
    ``by``, ``reason`` and ``batch``."""

    id: int
    model_name: str
    unique_id: str
    version: str
    previous_version: str | None
    at: datetime
    by: str
    reason: str
    batch: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment:
    """Which version serves which series of ``model_name``, and since when.

    Examples
    --------
    >>> from datetime import datetime
    >>> d = Deployment(model_name="demand", versions={"s1": "10", "s2": "9", "s3": "10"},
    ...                since={u: datetime(2024, 1, 1) for u in ("s1", "s2", "s3")})
    >>> d.version_of("s2"), d.version_of("s9"), d.series_of("10"), d.versions_in_use(), len(d)
    ('9', None, ['s1', 's3'], ['9', '10'], 3)
    """

    model_name: str
    versions: Mapping[str, str]
    since: Mapping[str, datetime]

    def version_of(self, unique_id: str) -> str | None:
        """The version serving ``unique_id``, or ``None`` if it was never deployed."""
        return self.versions.get(unique_id)

    def series_of(self, version: str) -> list[str]:
        """The series ``version`` serves, sorted."""
        return sorted(u for u, v in self.versions.items() if v == version)

    def versions_in_use(self) -> list[str]:
        """Every version serving at least one series, in numeric order where they are numbers."""
        return sorted(set(self.versions.values()), key=_version_order)

    def __len__(self) -> int:
        return len(self.versions)


@dataclass(frozen=True, slots=True)
class SeriesCheck:
    """The check of one series at ``ds`` against the reference of ``version``.

    ``fired`` holds the kinds that fired and count as evidence (positive, non-advisory);
    an empty set is a check that found nothing, which counts too (the *n* of k-of-n).
    Positional arguments are allowed (a cycle builds one per series).
    """

    model_name: str
    unique_id: str
    ds: datetime
    version: str
    fired: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesDecision:
    """What the decision engine chose for one series in the cycle at ``ds``, and why, with
    the gate's verdict once the challenger was judged.

    ``expected_loss``, ``retrain_cost`` and ``cpu_seconds`` are the figures weighed (``None``
    where not computed); ``tier`` the series' business tier and ``group`` the configured
    group it was placed in (``None``: no group matched), as of this cycle. The challenger fields and
    ``gate_reason`` are filled by :meth:`Store.set_decision_outcomes`. ``id`` is ``None``
    until stored.
    """

    model_name: str
    ds: datetime
    unique_id: str
    action: str
    reason: str
    trigger: str = ""
    expected_loss: float | None = None
    retrain_cost: float | None = None
    cpu_seconds: float | None = None
    tier: str | None = None
    group: str | None = None
    outcome: str = DecisionOutcome.NONE.value
    challenger_version: str | None = None
    champion_version: str | None = None
    challenger_error: float | None = None
    champion_error: float | None = None
    gate_reason: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionOutcomeUpdate:
    """The gate's verdict on one series' challenger (see :meth:`Store.set_decision_outcomes`)."""

    outcome: str
    challenger_version: str | None = None
    champion_version: str | None = None
    challenger_error: float | None = None
    champion_error: float | None = None
    gate_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleRecord:
    """The ledger entry of the cycle of ``model_name`` at ``now``.

    ``stage`` is the last stage the cycle reached (``start`` when begun, ``done`` when
    finished); ``summary`` is what the caller gave :meth:`Store.finish_cycle`.
    """

    model_name: str
    now: datetime
    status: str
    stage: str
    summary: Mapping[str, object]
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """A write-ahead record of a move that spans the store and the registry.

    Opened before the first half is written, closed ``done`` once both halves are, or
    ``undone`` once the first half was reverted; an intent still ``open`` at start-up is
    one a crash interrupted.
    """

    id: int
    model_name: str
    kind: str
    key: str
    payload: Mapping[str, object]
    status: str
    opened_at: datetime
    closed_at: datetime | None


# --- approvals ------------------------------------------------------------------------


class ApprovalStatus(StrEnum):
    """An approval request is ``pending`` until it closes ``approved`` (its required
    distinct approvals), ``rejected`` (any reject vote), ``expired`` (nobody decided in
    time) or ``superseded`` (its series moved on to a newer version first)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class ApprovalPolicy(StrEnum):
    """How many distinct approvers, none the author, a request needs: ``one`` or two
    (``four_eyes``). A tier whose policy is ``auto`` gets no request at all."""

    AUTO = "auto"
    ONE = "one"
    FOUR_EYES = "four_eyes"


class TokenRole(StrEnum):
    """What an API token may do, each role including the ones before it."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # train, forecast, monitor, retrain, cycle, promote, rollback
    APPROVER = "approver"  # and approve or reject promotions that wait for people
    ADMIN = "admin"  # and create, list and revoke tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """An API token as stored: its name, role and life; the secret itself is never stored,
    only its SHA-256 (``secret_sha256``, left out of the repr)."""

    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    secret_sha256: str = field(default="", repr=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class VoteChoice(StrEnum):
    """A person's vote on an approval request."""

    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalVote:
    """One person's vote on request ``request_id``: ``by`` at real time ``at``, and why."""

    id: int
    request_id: int
    by: str
    at: datetime
    vote: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequest:
    """A promotion that waits for people: ``series`` of ``model_name`` onto ``version``.

    ``author`` made the change (the actor of the retrain) and may not vote.
    ``requested_at`` and ``expires_at`` are real times; ``as_of`` is the data time of the
    cycle whose gate the series passed (their decisions are at that time). ``reason`` says
    why it was requested, ``closed_reason`` how it closed. ``row_version`` grows with every
    vote and close: a write that read an older one is refused as a conflict.
    """

    id: int
    model_name: str
    version: str
    series: tuple[str, ...]
    tier: str
    policy: str
    required_approvals: int
    author: str
    requested_at: datetime
    as_of: datetime
    expires_at: datetime
    status: str
    reason: str
    closed_at: datetime | None = None
    closed_reason: str | None = None
    row_version: int = 1
    votes: tuple[ApprovalVote, ...] = ()

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who approved, in vote order."""
        return tuple(v.by for v in self.votes if v.vote == VoteChoice.APPROVE.value)

    @property
    def missing_approvals(self) -> int:
        """Approvals still needed (0 once it has them)."""
        return max(self.required_approvals - len(self.approvers), 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteResult:
    """What :meth:`Store.cast_vote` did: the vote, and the request after it (``closed``
    when this vote closed it)."""

    vote: ApprovalVote
    request: ApprovalRequest
    closed: bool
