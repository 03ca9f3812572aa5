"""``GET /metrics``: the fleet's state for Prometheus, from the store, cached per poll.

:func:`install_metrics` adds the route and a :class:`FleetCollector` registered on a
registry of the app's own (never the process-wide default one, so two apps in one process
do not mix). A scrape reads the store at most once per ``poll_interval`` seconds (the
app's): the families built from it are kept and served again until they are older than
that, so a scrape of a large fleet costs a few queries per poll interval, and otherwise
only the rendering of the text. The service's own state (ready, snapshot generation) is
read live at every scrape.

Cardinality is bounded whatever the fleet's size: no metric carries one label value per
series except ``chronoguard_series_health_worst``, which has the ``WORST_N`` (10) lowest
scores; versions and groups are capped at ``MAX_LABEL_VALUES`` (the rest summed under
``other``); kinds, statuses, actions and outcomes are the store's fixed enumerations.

The route needs no token, like ``/healthz``: Prometheus scrapes it without one. It shows
counts, scores and the ids of the ten worst series, nothing a forecast or a record holds;
expose the port only where Prometheus reaches it if that is too much.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from chronoguard import __version__
from chronoguard.monitoring.health import fleet_health, worst
from chronoguard.serving._snapshot import ServingState
from chronoguard.store import (
    AlertStatus,
    DecisionAction,
    DecisionOutcome,
    ResultKind,
    Store,
    WatchKind,
    WatchStatus,
)

#: What :func:`prometheus_client.generate_latest` writes: the classic text format (spelled
#: out here, so older prometheus_client releases, which name it differently, do too).
CONTENT_TYPE_PLAIN_0_0_4 = "text/plain; version=0.0.4; charset=utf-8"
WORST_N = 10
MAX_LABEL_VALUES = 20
OTHER = "other"
NO_GROUP = "none"
#: Upper bounds of the buckets of ``chronoguard_series_health``.
HEALTH_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
#: A series below this score counts as unhealthy.
UNHEALTHY_BELOW = 0.5

_KINDS = [k.value for k in ResultKind]
_WATCH_KINDS = [k.value for k in WatchKind]
_WATCH_CLOSED = [s.value for s in WatchStatus if s is not WatchStatus.OPEN]
_ACTIONS = [a.value for a in DecisionAction]
_OUTCOMES = [o.value for o in DecisionOutcome]


log = logging.getLogger(__name__)


def _seconds(t: datetime | None) -> float | None:
    """A naive UTC time of the store as Unix seconds."""
    return None if t is None else t.replace(tzinfo=UTC).timestamp()


def bounded(counts: Mapping[str, float], limit: int = MAX_LABEL_VALUES) -> dict[str, float]:
    """``counts`` with at most ``limit`` keys: the largest ``limit - 1`` and the rest summed
    under ``other`` (all of them when they fit)."""
    if len(counts) <= limit:
        return dict(counts)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(ranked[: limit - 1])
    out[OTHER] = out.get(OTHER, 0) + sum(v for _, v in ranked[limit - 1 :])
    return out


def _gauge(
    name: str, doc: str, values: Mapping[Any, float] | float, labels: Iterable[str] = ()
) -> GaugeMetricFamily:
    names = list(labels)
    if not names:
        assert not isinstance(values, Mapping)
        return GaugeMetricFamily(name, doc, value=float(values))
    family = GaugeMetricFamily(name, doc, labels=names)
    assert isinstance(values, Mapping)
    for key, v in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], float(v))
    return family


def _counter(
    name: str, doc: str, values: Mapping[Any, float] | float, labels: Iterable[str] = ()
) -> CounterMetricFamily:
    names = list(labels)
    if not names:
        assert not isinstance(values, Mapping)
        return CounterMetricFamily(name, doc, value=float(values))
    family = CounterMetricFamily(name, doc, labels=names)
    assert isinstance(values, Mapping)
    for key, v in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], float(v))
    return family


def _zeros(keys: Iterable[Any], found: Mapping[Any, float]) -> dict[Any, float]:
    """Every key of a fixed enumeration (0 when absent), then any other found."""
    out: dict[Any, float] = {k: 0.0 for k in keys}
    out.update(found)
    return out


def store_families(store: Store, model: str, *, top_n: int = WORST_N) -> list[Metric]:
    """Every metric of ``model`` read from ``store`` (the slow part, cached by
    :class:`FleetCollector`): about a dozen queries whatever the fleet's size."""
    out: list[Metric] = []

    # --- the fleet and its groups -----------------------------------------------------
    dep = store.get_deployment(model)
    out.append(_gauge("chronoguard_series", "Series the deployment serves.", len(dep)))
    per_version = Counter(dep.versions.values())
    out.append(
        _gauge(
            "chronoguard_series_per_version",
            f"Series each version serves (the {MAX_LABEL_VALUES - 1} largest; the rest "
            "summed under version=other).",
            bounded(per_version),
            ["version"],
        )
    )
    latest = store.latest_decisions(model)
    group_of = {u: (latest[u].group or NO_GROUP) if u in latest else NO_GROUP for u in dep.versions}

    # --- health -----------------------------------------------------------------------
    health = fleet_health(store, model, dep.versions)
    scores = [h.score for h in health.values()]
    out.append(
        _gauge(
            "chronoguard_series_unscored",
            "Deployed series with no check yet (no health score).",
            len(dep) - len(health),
        )
    )
    hist = HistogramMetricFamily(
        "chronoguard_series_health",
        "Distribution of the health scores of the deployed series (0 failing, 1 healthy; "
        "see chronoguard.monitoring.health).",
        buckets=[(f"{b:g}", float(sum(s <= b for s in scores))) for b in HEALTH_BUCKETS]
        + [("+Inf", float(len(scores)))],
        sum_value=float(sum(scores)),
    )
    out.append(hist)
    out.append(
        _gauge(
            "chronoguard_fleet_health",
            "Mean health score of the scored series (1 when none is scored).",
            sum(scores) / len(scores) if scores else 1.0,
        )
    )
    out.append(
        _gauge(
            "chronoguard_series_unhealthy",
            f"Scored series with a health score below {UNHEALTHY_BELOW:g}.",
            sum(s < UNHEALTHY_BELOW for s in scores),
        )
    )
    out.append(
        _gauge(
            "chronoguard_series_health_worst",
            f"Health score of the {top_n} series with the lowest scores (only those).",
            {h.unique_id: h.score for h in worst(health.values(), top_n)},
            ["unique_id"],
        )
    )
    g_series: Counter[str] = Counter(group_of.values())
    g_sum: dict[str, float] = {}
    g_scored: Counter[str] = Counter()
    g_bad: Counter[str] = Counter()
    for u, h in health.items():
        g = group_of.get(u, NO_GROUP)
        g_sum[g] = g_sum.get(g, 0.0) + h.score
        g_scored[g] += 1
        g_bad[g] += h.score < UNHEALTHY_BELOW
    groups = bounded(g_series)
    kept = set(groups) - {OTHER}

    def by_group(c: Mapping[str, float]) -> dict[str, float]:
        folded: dict[str, float] = {}
        for g, v in c.items():
            key = g if g in kept else OTHER
            folded[key] = folded.get(key, 0.0) + v
        return folded

    s_sum, s_n = by_group(g_sum), by_group(g_scored)
    out.append(
        _gauge(
            "chronoguard_group_series",
            "Series of each configured group, as the latest decisions placed them "
            "(group=none: no group matched or not decided yet).",
            groups,
            ["group"],
        )
    )
    out.append(
        _gauge(
            "chronoguard_group_health",
            "Mean health score of the scored series of each group.",
            {g: s_sum[g] / s_n[g] for g in s_n if s_n[g]},
            ["group"],
        )
    )
    out.append(
        _gauge(
            "chronoguard_group_series_unhealthy",
            f"Series of each group with a health score below {UNHEALTHY_BELOW:g}.",
            _zeros(groups, by_group(g_bad)),
            ["group"],
        )
    )

    # --- alerts -----------------------------------------------------------------------
    for status, what in ((AlertStatus.OPEN, "open"), (AlertStatus.ACKNOWLEDGED, "acknowledged")):
        found = Counter(a.kind for a in store.list_alerts(status=status.value))
        out.append(
            _gauge(
                f"chronoguard_alerts_{what}",
                f"Alerts {what} now, by kind of check.",
                _zeros(_KINDS, found),
                ["kind"],
            )
        )

    # --- decisions, retrains, deployment moves ----------------------------------------
    cycles = store.list_cycles(model)
    done = [c for c in cycles if c.finished_at is not None]
    last_done = done[-1] if done else None
    actions: Counter[str] = Counter()
    if last_done is not None:
        if cycles[-1] is last_done:  # no later cycle began: its decisions are the latest
            decided = [d for d in latest.values() if d.ds == last_done.now]
        else:
            decided = store.list_series_decisions(model, ds_from=last_done.now, ds_to=last_done.now)
        actions.update(d.action for d in decided)
    out.append(
        _gauge(
            "chronoguard_decisions",
            "Decisions of the latest finished cycle, by action.",
            _zeros(_ACTIONS, actions),
            ["action"],
        )
    )
    retrains = Counter(
        d.outcome for d in store.list_series_decisions(model, action=DecisionAction.RETRAIN.value)
    )
    out.append(
        _counter(
            "chronoguard_retrains",
            "Series retrains the decision engine chose, by the gate's outcome.",
            _zeros(_OUTCOMES, retrains),
            ["outcome"],
        )
    )
    moves = store.deployment_history(model)
    rollbacks = sum(m.reason.startswith("rollback") for m in moves)
    first = sum(m.previous_version is None for m in moves)
    out.append(
        _counter(
            "chronoguard_promotions",
            "Series moved onto another version, rollbacks and first deployments excluded.",
            len(moves) - rollbacks - first,
        )
    )
    out.append(
        _counter(
            "chronoguard_rollbacks",
            "Series moved back to the version that served them before (deployment moves "
            "whose reason starts with rollback).",
            rollbacks,
        )
    )

    # --- watches (canary, shadow and post-promotion trials) ---------------------------
    watches = store.list_watches(model)
    open_ = Counter(w.kind for w in watches if w.status == WatchStatus.OPEN.value)
    closed = Counter((w.kind, w.status) for w in watches if w.status != WatchStatus.OPEN.value)
    out.append(
        _gauge(
            "chronoguard_watches_open",
            "Watches open now, by kind (canary, shadow trial, watch after a promotion).",
            _zeros(_WATCH_KINDS, open_),
            ["kind"],
        )
    )
    out.append(
        _counter(
            "chronoguard_watches_closed",
            "Watches closed, by kind and verdict.",
            _zeros([(k, s) for k in _WATCH_KINDS for s in _WATCH_CLOSED], closed),
            ["kind", "status"],
        )
    )

    # --- approvals --------------------------------------------------------------------
    pending = store.list_approvals(model, status="pending")
    out.append(
        _gauge(
            "chronoguard_approvals_pending", "Approval requests waiting for votes.", len(pending)
        )
    )
    out.append(
        _gauge(
            "chronoguard_approvals_pending_series",
            "Series whose promotion waits for approval.",
            len({u for r in pending for u in r.series}),
        )
    )

    # --- the cycle ledger -------------------------------------------------------------
    out.append(_counter("chronoguard_cycles", "Production cycles finished.", len(done)))
    running = bool(cycles) and cycles[-1].finished_at is None
    out.append(
        _gauge("chronoguard_cycle_running", "1 while the latest cycle has not finished.", running)
    )
    if last_done is not None:
        data_t = _seconds(last_done.now)
        start, end = _seconds(last_done.started_at), _seconds(last_done.finished_at)
        assert data_t is not None and start is not None and end is not None
        out.append(
            _gauge(
                "chronoguard_last_cycle_data_timestamp_seconds",
                "Data time (the cycle's now) of the latest finished cycle, Unix seconds.",
                data_t,
            )
        )
        out.append(
            _gauge(
                "chronoguard_last_cycle_start_timestamp_seconds",
                "When the latest finished cycle started (wall clock, Unix seconds).",
                start,
            )
        )
        out.append(
            _gauge(
                "chronoguard_last_cycle_end_timestamp_seconds",
                "When the latest finished cycle finished (wall clock, Unix seconds).",
                end,
            )
        )
        if end > start:
            # Only a ledger that stamps the finish with its own clock reading records a
            # duration: one that stamps start and finish with one time says nothing.
            out.append(
                _gauge(
                    "chronoguard_last_cycle_duration_seconds",
                    "Wall-clock duration of the latest finished cycle (absent when the "
                    "ledger stamped its start and finish with one time).",
                    end - start,
                )
            )
    return out


class FleetCollector:
    """A Prometheus collector of the served workspace: the store's families, and the
    service's live state.

    The store is read off the scrape's path once the first families exist: a scrape
    answers from the families in memory at once, and when they are older than ``ttl()``
    seconds it starts one background read whose result the next scrape serves (as the
    dashboard's fleet table). The service's refresh thread also calls :meth:`warm` after
    each new snapshot, so the families follow a finished cycle without waiting for a
    scrape. Only the first scrape, finding none, waits for the store.
    """

    def __init__(
        self,
        state: Callable[[], ServingState | None],
        *,
        ttl: Callable[[], float],
        top_n: int = WORST_N,
        monotonic: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._state = state
        self._ttl = ttl
        self._top_n = top_n
        self._monotonic = monotonic
        self._background = background
        self._lock = threading.Lock()  # guards the fields below
        self._read_lock = threading.Lock()  # one read of the store at a time
        self._families: list[Metric] = []
        self._built_at: float | None = None
        self._reading = False
        self._read_generation: int | None = None  # the snapshot's when the last read began
        self._read_seconds = 0.0
        self._read_wall: float | None = None
        self._errors = 0
        self.last_error: str | None = None

    def _read(self, st: ServingState) -> None:
        with self._read_lock:
            began = time.perf_counter()
            started = self._monotonic()
            snap = st.snapshot
            with self._lock:
                self._read_generation = None if snap is None else snap.generation
            try:
                families = store_families(st.ws.store, st.ws.model_name, top_n=self._top_n)
            except Exception as exc:  # keep the last families; say so in the counter
                log.exception("reading the metrics from the store failed")
                with self._lock:
                    self._errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._built_at = started
                    self._read_seconds = time.perf_counter() - began
                return
            with self._lock:
                self._families = families
                self.last_error = None
                self._built_at = started
                self._read_seconds = time.perf_counter() - began
                self._read_wall = time.time()

    def _read_in_background(self, st: ServingState) -> None:
        try:
            self._read(st)
        finally:
            with self._lock:
                self._reading = False

    def _start(self, st: ServingState) -> None:
        # Called under self._lock.
        if self._reading:
            return
        self._reading = True
        threading.Thread(
            target=self._read_in_background, args=(st,), name="chronoguard-metrics", daemon=True
        ).start()

    def warm(self, st: ServingState) -> None:
        """Read the store again in the background after the snapshot changed, unless a
        read began since the change."""
        snap = st.snapshot
        with self._lock:
            if snap is None or snap.generation != self._read_generation:
                self._start(st)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no background read runs; whether none does (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._reading:
                    return True
            time.sleep(0.01)
        return False

    def _cached(self, st: ServingState) -> list[Metric]:
        with self._lock:
            built = self._built_at
            if built is not None:
                if self._monotonic() - built >= self._ttl():
                    if self._background:
                        self._start(st)
                    else:
                        built = None
                if built is not None:
                    return self._families
        self._read(st)
        with self._lock:
            return self._families

    def collect(self) -> Iterator[Metric]:
        st = self._state()
        if st is not None:
            yield from self._cached(st)
        snap = None if st is None else st.snapshot
        yield _gauge(
            "chronoguard_build_info",
            "Always 1: the chronoguard version and the model served.",
            {(__version__, "" if st is None else st.ws.model_name): 1.0},
            ["version", "model"],
        )
        yield _gauge(
            "chronoguard_serving_ready",
            "1 once the service's snapshot is loaded (as /readyz).",
            snap is not None,
        )
        if snap is not None:
            yield _gauge(
                "chronoguard_snapshot_generation",
                "Generation of the snapshot answering forecasts (grows at every rebuild).",
                snap.generation,
            )
            loaded = _seconds(snap.loaded_at)
            assert loaded is not None
            yield _gauge(
                "chronoguard_snapshot_loaded_timestamp_seconds",
                "When the snapshot answering forecasts was built (Unix seconds).",
                loaded,
            )
        yield _gauge(
            "chronoguard_metrics_store_read_duration_seconds",
            "Time the latest read of these metrics from the store took.",
            self._read_seconds,
        )
        if self._read_wall is not None:
            yield _gauge(
                "chronoguard_metrics_store_read_timestamp_seconds",
                "When these metrics were last read from the store (cached for the poll interval).",
                self._read_wall,
            )
        yield _counter(
            "chronoguard_metrics_store_read_errors",
            "Reads of these metrics from the store that failed (the last values are served).",
            self._errors,
        )


def install_metrics(app: FastAPI, holder: Mapping[str, ServingState]) -> FleetCollector:
    """Add ``GET /metrics`` to ``app``: Prometheus' text format, from a registry of the
    app's own. ``holder["state"]`` is the serving state once the app has started; the store
    is read at most once per its poll interval."""

    def state() -> ServingState | None:
        return holder.get("state")

    def ttl() -> float:
        st = state()
        return st.poll_interval if st is not None else 1.0

    collector = FleetCollector(state, ttl=ttl)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}, "description": "metrics"}},
    )
    def metrics() -> Response:
        """The fleet's state in Prometheus' text format (no token needed)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    app.state.metrics = collector
    return collector


__all__ = ["FleetCollector", "bounded", "install_metrics", "store_families"]
