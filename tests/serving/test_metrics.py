"""``GET /metrics`` on a real workspace and a real uvicorn server: scraped over HTTP with no
token, parsed with prometheus_client's parser, its numbers checked against the store, its
cardinality bounded, its cache, and ``promtool`` on the scrape and on the shipped rules.

The workspace: three series after four monthly cycles (checks, so health scores), a
second version promoted over HTTP (``coast``: north and west move at once; ``south``, tier
high, waits for an approver), north rolled back, one alert acknowledged. A synthetic store
of 10,000 series checks that the label sets stay bounded and measures the store read.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from chronoguard.config import ApprovalsConfig, ChronoguardConfig, GroupConfig
from chronoguard.lifecycle import open_workspace
from chronoguard.monitoring.health import KIND_WEIGHTS, fleet_health, health_score
from chronoguard.monitoring.levels import DECAY_METHOD
from chronoguard.serving import create_app
from chronoguard.serving._metrics import (
    MAX_LABEL_VALUES,
    WORST_N,
    FleetCollector,
    bounded,
    store_families,
)
from chronoguard.store import (
    Alert,
    MonitoringResult,
    SeriesCheck,
    SeriesDecision,
    Store,
)
from tests.serving.support import (
    MODEL,
    SERIES,
    Built,
    build_after_cycles,
    config,
    running,
    train_naive_version,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "chronoguard-fleet.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian/Ubuntu: apt-get install prometheus)",
)


def _config() -> ChronoguardConfig:
    return config().model_copy(
        update={
            "groups": [
                GroupConfig(name="coast", match="[nw]*", tier="standard"),
                GroupConfig(name="south", match="south", tier="high"),
            ],
            "approvals": ApprovalsConfig(policy={"high": "one"}),
        }
    )


def u(path: str) -> str:
    return f"/v1/models/{MODEL}{path}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_after_cycles(tmp_path_factory.mktemp("metrics") / "ws", _config())


@pytest.fixture(scope="module")
def version_2(built: Built) -> str:
    return train_naive_version(built)


@pytest.fixture(scope="module")
def base(built: Built, version_2: str) -> Iterator[str]:
    with running(create_app(built.root, poll_interval=0.1)) as url:
        with httpx.Client(base_url=url, timeout=60, headers=built.headers("operator")) as c:
            wait_ready(c)
            r = c.post(u("/promote"), json={"version": version_2, "reason": "test"})
            assert r.status_code == 200, r.text
            assert len(r.json()["approval_requests"]) == 1  # south waits
            r = c.post(u("/rollback"), json={"series": ["north"], "reason": "test"})
            assert r.status_code == 200, r.text
        with open_workspace(built.root) as ws:
            at = datetime(2024, 1, 1)
            [a] = ws.store.record_alerts(
                [
                    Alert(
                        ds=built.origin.to_pydatetime(),
                        kind="data_quality",
                        method="staleness",
                        statistic=3.0,
                        threshold=1.0,
                        severity="warning",
                        message="test alert",
                        version="1",
                        unique_id="west",
                    )
                ]
            )
            assert a.id is not None
            ws.store.set_alert_status(a.id, "acknowledged", at=at, by="test")
            ws.store.record_alerts(
                [
                    Alert(
                        ds=built.origin.to_pydatetime(),
                        kind="concept_drift",
                        method="bias_z",
                        statistic=3.0,
                        threshold=2.0,
                        severity="warning",
                        message="test alert",
                        version="1",
                        unique_id="south",
                    )
                ]
            )
        written = time.time()
        scrape_after(url, written)  # the metrics are read from the store in the background
        yield url


def scrape(base: str) -> tuple[str, dict[str, Metric]]:
    r = httpx.get(f"{base}/metrics", timeout=60)  # no token
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    return text, {f.name: f for f in text_string_to_metric_families(text)}


def parse(text: bytes | str) -> dict[str, Metric]:
    raw = text.decode() if isinstance(text, bytes) else text
    return {f.name: f for f in text_string_to_metric_families(raw)}


def scrape_after(base: str, t: float, timeout: float = 60.0) -> tuple[str, dict[str, Metric]]:
    """The first scrape whose read of the store began after the wall time ``t`` (the
    store is read in the background, once the cached families are past the poll interval)."""
    deadline = time.monotonic() + timeout
    while True:
        text, families = scrape(base)
        read_at = value(families, "chronoguard_metrics_store_read_timestamp_seconds")
        took = value(families, "chronoguard_metrics_store_read_duration_seconds")
        if read_at - took > t:
            return text, families
        assert time.monotonic() < deadline, "no read of the store began after the writes"
        time.sleep(0.05)


def value(families: dict[str, Metric], name: str, **labels: str) -> float:
    family = families[name]
    wanted = name if family.type != "counter" else f"{name}_total"
    found = [
        s.value
        for s in family.samples
        if s.name == wanted and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, family.samples)
    return float(found[0])


def by_label(families: dict[str, Metric], name: str, label: str) -> dict[str, float]:
    family = families[name]
    return {s.labels[label]: s.value for s in family.samples if label in s.labels}


def test_metrics_need_no_token_and_follow_the_conventions(base: str) -> None:
    text, families = scrape(base)
    assert families, text
    for name, family in families.items():
        assert name.startswith("chronoguard_"), name
        assert family.documentation.strip(), f"{name} has no HELP"
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), name
    assert "# HELP chronoguard_rollbacks_total" in text
    assert value(families, "chronoguard_serving_ready") == 1.0
    assert value(families, "chronoguard_build_info", model=MODEL) == 1.0
    # The route is listed with the health routes in the OpenAPI schema.
    schema = httpx.get(f"{base}/openapi.json").json()
    assert "/metrics" in schema["paths"]


def test_metrics_match_the_store(base: str, built: Built) -> None:
    _, families = scrape(base)
    with open_workspace(built.root) as ws:
        store = ws.store
        dep = store.get_deployment(MODEL)
        moves = store.deployment_history(MODEL)
        alerts = store.list_alerts()
        watches = store.list_watches(MODEL)
        pending = store.list_approvals(MODEL, status="pending")
        cycles = [c for c in store.list_cycles(MODEL) if c.finished_at is not None]
        retrains = store.list_series_decisions(MODEL, action="retrain")
        last = store.list_series_decisions(MODEL, ds_from=cycles[-1].now, ds_to=cycles[-1].now)
        checks = store.series_check_history(MODEL, last_n=1)
        decay = store.get_monitoring_results(method=DECAY_METHOD)

    assert value(families, "chronoguard_series") == len(dep) == len(SERIES)
    assert by_label(families, "chronoguard_series_per_version", "version") == dict(
        Counter(dep.versions.values())
    )
    assert by_label(families, "chronoguard_group_series", "group") == {"coast": 2, "south": 1}

    rollbacks = [m for m in moves if m.reason.startswith("rollback")]
    promotions = [m for m in moves if m.previous_version is not None and m not in rollbacks]
    assert len(rollbacks) == 1 and len(promotions) == 2
    assert value(families, "chronoguard_rollbacks") == len(rollbacks)
    assert value(families, "chronoguard_promotions") == len(promotions)
    assert sum(by_label(families, "chronoguard_retrains", "outcome").values()) == len(retrains)

    open_ = Counter(a.kind for a in alerts if a.status == "open")
    acked = Counter(a.kind for a in alerts if a.status == "acknowledged")
    got_open = by_label(families, "chronoguard_alerts_open", "kind")
    got_acked = by_label(families, "chronoguard_alerts_acknowledged", "kind")
    assert {k: v for k, v in got_open.items() if v} == dict(open_)
    assert {k: v for k, v in got_acked.items() if v} == dict(acked) == {"data_quality": 1}
    assert len(got_open) == 5  # every kind, 0 included: stable series for dashboards

    assert value(families, "chronoguard_watches_open", kind="watch") == sum(
        w.status == "open" and w.kind == "watch" for w in watches
    )
    closed = sum(w.status != "open" for w in watches)
    assert sum(by_label(families, "chronoguard_watches_closed", "status").values()) == closed
    assert value(families, "chronoguard_approvals_pending") == len(pending) == 1
    assert value(families, "chronoguard_approvals_pending_series") == 1

    assert value(families, "chronoguard_cycles") == len(cycles) == 4
    assert value(families, "chronoguard_cycle_running") == 0
    c = cycles[-1]
    assert c.finished_at is not None
    took = (c.finished_at - c.started_at).total_seconds()
    if took > 0:
        assert value(families, "chronoguard_last_cycle_duration_seconds") == pytest.approx(took)
    else:  # start and finish stamped with one time: no duration recorded, none exposed
        assert "chronoguard_last_cycle_duration_seconds" not in families
    assert (
        value(families, "chronoguard_last_cycle_data_timestamp_seconds")
        == c.now.replace(tzinfo=UTC).timestamp()
    )
    assert sum(by_label(families, "chronoguard_decisions", "action").values()) == len(last)

    # Health, recomputed here from the store's raw records.
    expected: dict[str, float] = {}
    for uid, [check] in checks.items():
        rows = decay[
            (decay["unique_id"] == uid)
            & (decay["ds"] == check.ds)
            & (decay["version"] == check.version)
        ]
        ratio = float(rows["statistic"].iloc[-1]) if len(rows) else None
        expected[uid] = health_score(check.fired, ratio)
    assert set(expected) == set(SERIES)
    assert by_label(families, "chronoguard_series_health_worst", "unique_id") == pytest.approx(
        expected
    )
    assert value(families, "chronoguard_fleet_health") == pytest.approx(
        sum(expected.values()) / len(expected)
    )
    hist = families["chronoguard_series_health"]
    count = [s.value for s in hist.samples if s.name == "chronoguard_series_health_count"]
    assert count == [len(SERIES)]
    assert value(families, "chronoguard_series_unscored") == 0


def test_metrics_are_cached_for_the_poll_interval(built: Built) -> None:
    with running(create_app(built.root, poll_interval=1.0)) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            wait_ready(c)
        _, first = scrape(url)
        read_at = value(first, "chronoguard_metrics_store_read_timestamp_seconds")
        before = value(first, "chronoguard_alerts_open", kind="prediction_drift")
        with open_workspace(built.root) as ws:
            ws.store.record_alerts(
                [
                    Alert(
                        ds=built.origin.to_pydatetime(),
                        kind="prediction_drift",
                        method="cusum_prewhitened",
                        statistic=9.0,
                        threshold=1.0,
                        severity="warning",
                        message="cache test",
                        version="1",
                        unique_id="north",
                    )
                ]
            )
        _, cached = scrape(url)
        assert value(cached, "chronoguard_metrics_store_read_timestamp_seconds") == read_at
        assert value(cached, "chronoguard_alerts_open", kind="prediction_drift") == before
        time.sleep(1.1)
        # Past the poll interval a scrape still answers from memory at once and starts one
        # read of the store in the background; a later scrape serves what it read.
        _, stale = scrape(url)
        assert value(stale, "chronoguard_alerts_open", kind="prediction_drift") == before
        deadline = time.monotonic() + 30
        while True:
            _, fresh = scrape(url)
            if value(fresh, "chronoguard_metrics_store_read_timestamp_seconds") > read_at:
                break
            assert time.monotonic() < deadline, "the background read never finished"
            time.sleep(0.05)
        assert value(fresh, "chronoguard_alerts_open", kind="prediction_drift") == before + 1


def test_health_score_definition() -> None:
    assert health_score(frozenset(), None) == 1.0
    assert health_score(frozenset(), 0.7) == 1.0  # better than the reference costs nothing
    assert health_score(frozenset(), 4.0) == 0.25
    assert health_score(frozenset({"performance_decay"}), 2.0) == 0.25
    assert health_score(frozenset(), math.inf) == 0.0
    assert health_score(frozenset(), math.nan) == 1.0
    every = health_score(frozenset(KIND_WEIGHTS), None)
    assert 0.0 < every < 0.11
    assert 0.0 <= health_score(frozenset({"something_new"}), 1.5) < 1.0


def test_bounded_labels() -> None:
    counts = {str(i): float(i) for i in range(1, 31)}
    out = bounded(counts, 5)
    assert len(out) == 5 and sum(out.values()) == sum(counts.values())
    assert set(out) == {"30", "29", "28", "27", "other"}
    assert bounded({"a": 1.0}, 5) == {"a": 1.0}


N_SYNTH = 10_000


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store of 10,000 series over 30 versions and 40 groups, one cycle, checked."""
    path = tmp_path_factory.mktemp("synth") / "state.db"
    ids = [f"s{i:05d}" for i in range(N_SYNTH)]
    ds = datetime(2024, 1, 1)
    at = datetime(2024, 1, 2)
    kinds = sorted(KIND_WEIGHTS)
    with Store.open(f"sqlite:///{path}") as store:
        store.deploy(
            "m", {u: str(1 + i % 30) for i, u in enumerate(ids)}, by="t", reason="init", at=at
        )
        store.begin_cycle("m", ds, at=at)
        store.record_series_checks(
            [
                SeriesCheck(
                    "m",
                    u,
                    ds,
                    str(1 + i % 30),
                    frozenset({kinds[i % 5]} if i % 7 == 0 else ()),
                )
                for i, u in enumerate(ids)
            ]
        )
        store.record_monitoring_results(
            "run",
            ds,
            [
                MonitoringResult(
                    kind="performance_decay",
                    method=DECAY_METHOD,
                    statistic=0.8 + (i % 50) / 25,
                    threshold=0.01,
                    decision=False,
                    severity="info",
                    version=str(1 + i % 30),
                    unique_id=u,
                    feature="error_h1",
                )
                for i, u in enumerate(ids)
            ],
        )
        store.record_series_decisions(
            [
                SeriesDecision(
                    model_name="m",
                    ds=ds,
                    unique_id=u,
                    action="retrain" if i % 100 == 0 else "keep",
                    reason="synthetic",
                    group=f"g{i % 40}",
                )
                for i, u in enumerate(ids)
            ]
        )
        store.finish_cycle("m", ds, summary={}, at=at + timedelta(seconds=42))
        yield store


def test_cardinality_stays_bounded_on_10000_series(synthetic: Store) -> None:
    began = time.perf_counter()
    families = store_families(synthetic, "m")
    read = time.perf_counter() - began
    registry = CollectorRegistry(auto_describe=False)

    class Fixed:
        def collect(self) -> list[Metric]:
            return families

    registry.register(Fixed())
    began = time.perf_counter()
    text = generate_latest(registry).decode()
    render = time.perf_counter() - began
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    n_samples = sum(len(f.samples) for f in parsed.values())
    print(
        f"\n10,000 series: store read {read:.3f} s, render {render * 1000:.1f} ms, "
        f"{n_samples} samples, {len(text)} bytes"
    )
    assert n_samples < 250
    assert len(parsed["chronoguard_series_health_worst"].samples) == WORST_N
    assert len(by_label(parsed, "chronoguard_series_per_version", "version")) == MAX_LABEL_VALUES
    assert len(by_label(parsed, "chronoguard_group_series", "group")) == MAX_LABEL_VALUES
    assert len(by_label(parsed, "chronoguard_group_health", "group")) == MAX_LABEL_VALUES
    assert value(parsed, "chronoguard_series") == N_SYNTH
    assert sum(by_label(parsed, "chronoguard_series_per_version", "version").values()) == N_SYNTH
    assert sum(by_label(parsed, "chronoguard_group_series", "group").values()) == N_SYNTH
    assert value(parsed, "chronoguard_retrains", outcome="none") == N_SYNTH // 100
    assert value(parsed, "chronoguard_last_cycle_duration_seconds") == 42.0
    health = fleet_health(synthetic, "m")
    assert len(health) == N_SYNTH
    worst = sorted(health.values(), key=lambda h: (h.score, h.unique_id))[:WORST_N]
    assert by_label(parsed, "chronoguard_series_health_worst", "unique_id") == pytest.approx(
        {h.unique_id: h.score for h in worst}
    )


def test_the_collector_reads_the_store_once_per_ttl(synthetic: Store) -> None:
    class State:
        class ws:  # stands in for the workspace
            store = synthetic
            model_name = "m"

        snapshot = None
        poll_interval = 5.0

    clock = [0.0]
    collector = FleetCollector(
        lambda: State,  # type: ignore[arg-type,return-value]
        ttl=lambda: 5.0,
        monotonic=lambda: clock[0],
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    began = time.perf_counter()
    generate_latest(registry)
    cold = time.perf_counter() - began
    clock[0] = 1.0
    began = time.perf_counter()
    generate_latest(registry)
    warm = time.perf_counter() - began
    read_once = value(
        parse(generate_latest(registry)), "chronoguard_metrics_store_read_timestamp_seconds"
    )
    clock[0] = 6.0  # past the ttl: answered from memory, one read started in the background
    began = time.perf_counter()
    stale = generate_latest(registry)
    past_ttl = time.perf_counter() - began
    assert collector.wait_idle()
    assert value(parse(stale), "chronoguard_metrics_store_read_timestamp_seconds") == read_once
    read_again = value(
        parse(generate_latest(registry)), "chronoguard_metrics_store_read_timestamp_seconds"
    )
    print(
        f"\n10,000 series scrape: cold {cold * 1000:.0f} ms, cached {warm * 1000:.1f} ms, "
        f"past the ttl {past_ttl * 1000:.1f} ms"
    )
    assert warm < cold and past_ttl < cold
    assert read_again > read_once
    assert collector.last_error is None


@needs_promtool
def test_promtool_accepts_the_scrape(base: str) -> None:
    text, _ = scrape(base)
    assert PROMTOOL is not None
    out = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
        out.stdout + out.stderr
    )


@needs_promtool
def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    assert PROMTOOL is not None
    rules = subprocess.run(
        [PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    conf = subprocess.run(
        [PROMTOOL, "check", "config", str(PROMETHEUS)], capture_output=True, text=True, timeout=60
    )
    assert conf.returncode == 0, conf.stdout + conf.stderr


def test_the_dashboard_uses_only_exposed_metrics(base: str, synthetic: Store) -> None:
    _, families = scrape(base)
    # The synthetic store's ledger records a duration, which the workspace's does not.
    every = list(families.values()) + store_families(synthetic, "m")
    names = {f.name for f in every} | {s.name for f in every for s in f.samples}
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", []) if "expr" in t]
    assert exprs
    used = {m for e in exprs for m in re.findall(r"chronoguard_[a-z_]+", e)}
    assert used and used <= names, used - names
    rules = RULES.read_text()
    in_rules = set(re.findall(r"chronoguard_[a-z_]+", rules))
    assert in_rules and in_rules <= names, in_rules - names
