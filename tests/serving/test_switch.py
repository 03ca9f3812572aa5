"""A deployment switch while readers hammer the service: each response is one snapshot's.

Version 2 is a different model (Naive, where version 1 is SeasonalNaive), so its forecasts
differ from version 1's and a response mixing the two would show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chronoguard.lifecycle import deploy_series, open_workspace, train_version, training_window
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration.steps import serve_fleet
from chronoguard.serving import create_app
from chronoguard.serving._snapshot import MLFLOW_LOCK
from tests.serving.support import MODEL, Built, build_workspace, config, running, wait_ready

READERS = 4


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_workspace(tmp_path_factory.mktemp("switch") / "ws")


def _version_2(built: Built) -> str:
    # MLflow calls share process-wide state: take the service's lock, as it does.
    with MLFLOW_LOCK, open_workspace(built.root) as ws:
        known = built.data[built.data["ds"] <= built.origin]
        window = training_window(known, built.origin, 132)
        trained = train_version(
            window, config("Naive"), ws.registry, freq="MS", now=built.origin, trigger="test"
        )
        return trained.version.version


def _served(root: Path, version: str) -> list[float]:
    with open_workspace(root) as ws:
        fc = ws.store.get_forecasts(unique_id="north", version=version, served_only=True)
    return [float(v) for v in fc["yhat"]]


@pytest.fixture
def hammer(built: Built) -> Iterator[tuple[str, list[dict[str, object]], threading.Event]]:
    with running(create_app(built.root, poll_interval=0.02)) as base:
        with httpx.Client(base_url=base) as c:
            wait_ready(c)
        seen: list[dict[str, object]] = []
        stop = threading.Event()

        def read() -> None:
            with httpx.Client(base_url=base, timeout=30, headers=built.headers("viewer")) as c:
                while not stop.is_set():
                    r = c.get(f"/v1/models/{MODEL}/series/north/forecast")
                    assert r.status_code == 200, r.text
                    seen.append(r.json())

        threads = [threading.Thread(target=read) for _ in range(READERS)]
        for t in threads:
            t.start()
        try:
            yield base, seen, stop
        finally:
            stop.set()
            for t in threads:
                t.join(30)


def test_switch_is_seen_and_never_half(
    built: Built, hammer: tuple[str, list[dict[str, object]], threading.Event]
) -> None:
    base, seen, stop = hammer
    v2 = _version_2(built)
    with open_workspace(built.root) as ws:
        moves = deploy_series(ws, {"north": v2}, by="test", reason="switch", at=built.origin)
        assert [m.version for m in moves] == [v2]
        with httpx.Client(base_url=base, timeout=30, headers=built.headers("viewer")) as c:
            # Moved but not served yet: version 1's forecasts, and the deployment says so.
            deadline = time.monotonic() + 30
            while True:
                body = c.get(f"/v1/models/{MODEL}/series/north/forecast").json()
                if body["deployed_version"] == v2:
                    break
                assert time.monotonic() < deadline, "the service never saw the move"
            assert body["version"] == "1"
            deployment = ws.store.get_deployment(MODEL)
            with MLFLOW_LOCK:
                serve_fleet(
                    ws, built.data, now=built.origin, deployment=deployment, cache=VersionCache(ws)
                )
            deadline = time.monotonic() + 30
            while c.get(f"/v1/models/{MODEL}/series/north/forecast").json()["version"] != v2:
                assert time.monotonic() < deadline, "the service never served the new version"
            deadline = time.monotonic() + 10
            while not any(b["version"] == v2 for b in seen[-READERS * 4 :]):
                assert time.monotonic() < deadline, "the readers never saw the new version"
                time.sleep(0.01)
            others = c.get(f"/v1/models/{MODEL}/series/south/forecast").json()
            dep = c.get(f"/v1/models/{MODEL}/deployment").json()
    stop.set()

    assert others["version"] == "1"
    assert dep["series_per_version"] == {"1": 2, v2: 1}
    yhat = {"1": _served(built.root, "1"), v2: _served(built.root, v2)}
    assert yhat["1"] != yhat[v2]
    assert len(seen) > 50
    by_generation: dict[int, tuple[str, str]] = {}
    for body in seen:
        points = body["points"]
        assert isinstance(points, list)
        version, deployed = str(body["version"]), str(body["deployed_version"])
        # The numbers are the version's own, whatever the moment of the request.
        assert [p["yhat"] for p in points] == yhat[version]
        # One snapshot, one answer.
        generation = int(str(body["snapshot"]))
        assert by_generation.setdefault(generation, (version, deployed)) == (version, deployed)
        assert version != v2 or deployed == v2
    # Generations only move forward: old, moved-but-not-served, then the new version.
    states = [by_generation[g] for g in sorted(by_generation)]
    order = [("1", "1"), ("1", v2), (v2, v2)]
    ranks = [order.index(s) for s in states]
    assert ranks == sorted(ranks) and ranks[-1] == 2
