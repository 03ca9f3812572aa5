"""A canary as a consumer sees it: the series the rollout chose are served by the challenger,
under the alias ``canary``; the others by the champion, while the challenger forecasts them
in shadow (recorded, never served). The store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from chronoguard.config import RolloutConfig
from chronoguard.lifecycle import open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.lifecycle.rollout import canary_series, start_rollout
from chronoguard.orchestration.steps import serve_fleet
from chronoguard.serving import create_app
from chronoguard.serving._snapshot import MLFLOW_LOCK
from tests.serving.support import (
    MODEL,
    SERIES,
    Built,
    build_workspace,
    config,
    running,
    train_naive_version,
    wait_ready,
)

SHARE = 0.5  # canaries: south (hash fraction 0.18) and west (0.46); north (0.86) runs a trial


@pytest.fixture(scope="module")
def built(backend: object, tmp_path_factory: pytest.TempPathFactory) -> Built:
    cfg = config().model_copy(update={"rollout": RolloutConfig(stage="canary", canary_share=SHARE)})
    built = build_workspace(tmp_path_factory.mktemp("canary-http") / "ws", cfg)
    challenger = train_naive_version(built)
    with MLFLOW_LOCK, open_workspace(built.root) as ws:
        nxt = built.origin + pd.offsets.MonthBegin(1)
        with ws.store.transaction():
            start_rollout(
                ws,
                dict.fromkeys(SERIES, "1"),
                version=challenger,
                held=[],
                now=nxt,
                by="test",
                reason="test rollout",
                at=nxt,
            )
        deployment = ws.store.get_deployment(MODEL)
        serve_fleet(ws, built.data, now=nxt, deployment=deployment, cache=VersionCache(ws))
    return built


@pytest.fixture(scope="module")
def client(built: Built) -> Iterator[httpx.Client]:
    with (
        running(create_app(built.root, poll_interval=0.1)) as url,
        httpx.Client(base_url=url, timeout=30, headers=built.headers("viewer")) as c,
    ):
        wait_ready(c)
        yield c


def test_canaries_are_served_by_the_challenger_under_their_alias(
    client: httpx.Client, built: Built
) -> None:
    canaries = canary_series(SERIES, SHARE)
    assert canaries and len(canaries) < len(SERIES)  # some canaries, some trials
    for u in SERIES:
        body = client.get(f"/v1/models/{MODEL}/series/{u}/forecast").json()
        if u in canaries:
            assert (body["version"], body["alias"], body["deployed_version"]) == (
                "2",
                "canary",
                "2",
            ), body
        else:
            assert (body["version"], body["alias"], body["deployed_version"]) == (
                "1",
                "champion",
                "1",
            ), body
    with open_workspace(built.root) as ws:
        fc = ws.store.get_forecasts(version="2")
        watches = {w.unique_id: w.kind for w in ws.store.list_watches(MODEL, status="open")}
    assert watches == {u: ("canary" if u in canaries else "shadow") for u in SERIES}
    # The trial series' challenger forecasts are recorded in shadow, never served.
    trial = fc[~fc["unique_id"].isin(canaries)]
    assert len(trial) and set(trial["alias"]) == {"shadow"}
    assert set(fc[fc["unique_id"].isin(canaries)]["alias"]) == {"canary"}
