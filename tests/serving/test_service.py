"""The HTTP service on a real workspace, through a real uvicorn server: forecasts, errors,
actuals, readiness, the governance reads and the OpenAPI schema."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from chronoguard.lifecycle import open_workspace
from chronoguard.serving import create_app
from chronoguard.serving._schemas import ForecastResponse
from chronoguard.serving._snapshot import MLFLOW_LOCK
from tests.serving.support import MODEL, SERIES, Built, build_workspace, free_port, running
from tests.serving.support import wait_ready as _wait_ready


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_workspace(tmp_path_factory.mktemp("serving") / "ws")


@pytest.fixture(scope="module")
def client(built: Built) -> Iterator[httpx.Client]:
    with (
        running(create_app(built.root, poll_interval=0.1)) as url,
        httpx.Client(base_url=url, timeout=30, headers=built.headers("operator")) as c,
    ):
        _wait_ready(c)
        yield c


def url(path: str) -> str:
    return f"/v1/models/{MODEL}{path}"


def test_forecast_is_what_the_cycle_served(client: httpx.Client, built: Built) -> None:
    r = client.get(url("/series/north/forecast"))
    assert r.status_code == 200, r.text
    body = ForecastResponse.model_validate_json(r.content)
    assert (body.model, body.unique_id, body.version, body.alias) == (
        MODEL,
        "north",
        "1",
        "champion",
    )
    assert body.deployed_version == "1"
    assert pd.Timestamp(body.origin) == built.origin
    assert body.level == 95
    assert [p.horizon for p in body.points] == [1, 2, 3]
    with open_workspace(built.root) as ws:
        stored = ws.store.get_forecasts(unique_id="north", served_only=True)
    assert [p.yhat for p in body.points] == pytest.approx(stored["yhat"].tolist())
    for p in body.points:
        assert p.yhat_lo is not None and p.yhat_hi is not None
        assert p.yhat_lo < p.yhat < p.yhat_hi
    assert pd.Timestamp(body.points[0].ds) == built.origin + pd.offsets.MonthBegin(1)


def test_horizon_cuts_and_beyond_is_422(client: httpx.Client) -> None:
    r = client.get(url("/series/south/forecast"), params={"horizon": 2})
    assert r.status_code == 200
    assert len(r.json()["points"]) == 2
    r = client.get(url("/series/south/forecast"), params={"horizon": 4})
    assert r.status_code == 422
    assert r.json()["error"] == "horizon_not_served"
    assert "horizon ≤ 3" in r.json()["detail"]
    r = client.get(url("/series/south/forecast"), params={"horizon": 0})
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"


def test_fast_path_and_route_answer_the_same(client: httpx.Client) -> None:
    # An extra query parameter takes the request past the fast path to the FastAPI route.
    for query in ("", "?horizon=2"):
        fast = client.get(url(f"/series/west/forecast{query}"))
        routed = client.get(url(f"/series/west/forecast{query}{'&' if query else '?'}via=route"))
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert fast.headers["content-type"] == routed.headers["content-type"]


def test_unknown_series_and_model_are_404(client: httpx.Client) -> None:
    r = client.get(url("/series/atlantis/forecast"))
    assert r.status_code == 404
    assert r.json()["error"] == "unknown_series"
    assert "'atlantis'" in r.json()["detail"] and "/deployment" in r.json()["detail"]
    r = client.get("/v1/models/nope/series/north/forecast")
    assert r.status_code == 404
    assert r.json()["error"] == "unknown_model"
    assert MODEL in r.json()["detail"]
    assert client.get("/v2/anything").json()["error"] == "not_found"


def test_openapi_schema_is_typed(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    path = schema["paths"]["/v1/models/{model}/series/{unique_id}/forecast"]["get"]
    ok = path["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ForecastResponse")
    assert "Problem" in schema["components"]["schemas"]
    for p in ("/v1/models/{model}/actuals", "/healthz", "/readyz", "/v1/audit"):
        assert p in schema["paths"]


def test_actuals_are_idempotent_and_revisions_explicit(client: httpx.Client, built: Built) -> None:
    ds = (built.origin + pd.offsets.MonthBegin(1)).isoformat()
    rows = {"rows": [{"unique_id": "north", "ds": ds, "y": 1500.0}]}
    r = client.post(url("/actuals"), json=rows)
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 1, "inserted": 1, "unchanged": 0, "revised": 0}
    r = client.post(url("/actuals"), json=rows)
    assert r.json() == {"rows": 1, "inserted": 0, "unchanged": 1, "revised": 0}

    changed = {"rows": [{"unique_id": "north", "ds": ds, "y": 1600.0}]}
    r = client.post(url("/actuals"), json=changed)
    assert r.status_code == 409
    problem = r.json()
    assert problem["error"] == "revision_refused" and "revise=true" in problem["detail"]
    assert problem["rows"][0] == {
        "row": 0,
        "unique_id": "north",
        "ds": pd.Timestamp(ds).isoformat(),
        "stored_y": 1500.0,
        "y": 1600.0,
    }
    r = client.post(url("/actuals"), params={"revise": "true"}, json=changed)
    assert r.json() == {"rows": 1, "inserted": 0, "unchanged": 0, "revised": 1}
    with open_workspace(built.root) as ws:
        got = ws.store.get_actuals(unique_id="north")
        assert got["y"].tolist() == [1600.0]
        revision = ws.store.audit_log(action="revise_actuals")[-1]
    assert revision.actor == "operator"  # the token's name, never a name sent
    assert revision.payload["revisions"][0]["old_y"] == 1500.0


def test_bad_rows_are_named_and_nothing_is_written(client: httpx.Client, built: Built) -> None:
    nxt = built.origin + pd.offsets.MonthBegin(2)
    rows = [
        {"unique_id": "west", "ds": nxt.isoformat(), "y": 10.0},  # fine on its own
        {"unique_id": "south", "ds": nxt.isoformat(), "y": math.nan},
        {"unique_id": "atlantis", "ds": nxt.isoformat(), "y": 3.0},
        {"unique_id": "south", "ds": (nxt + pd.Timedelta(days=14)).isoformat(), "y": 3.0},
        {"unique_id": "west", "ds": "2100-01-01T00:00:00", "y": 3.0},
        {"unique_id": "west", "ds": "2999-01-01T00:00:00", "y": 3.0},
    ]
    # JSON has no NaN; Python's json (and the service's parser) read the NaN literal.
    body = json.dumps({"rows": rows}, allow_nan=True)
    r = client.post(url("/actuals"), content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["error"] == "invalid_rows"
    assert "nothing was written" in problem["detail"]
    named = {row["row"]: " ".join(row["problems"]) for row in problem["rows"]}
    assert sorted(named) == [1, 2, 3, 4, 5]
    assert "finite" in named[1]
    assert "not deployed" in named[2]
    assert "grid" in named[3]
    assert "after the current time" in named[4]
    assert "outside the years" in named[5]
    with open_workspace(built.root) as ws:
        assert ws.store.get_actuals(unique_id=["west", "south"]).empty

    r = client.post(
        url("/actuals"),
        json={"rows": [rows[0], {"unique_id": "west", "ds": "not a time", "y": 1.0}]},
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"
    assert [row["row"] for row in r.json()["rows"]] == [1]
    assert "ds" in r.json()["rows"][0]["problems"][0]
    with open_workspace(built.root) as ws:
        assert ws.store.get_actuals(unique_id="west").empty


def test_governance_reads(client: httpx.Client, built: Built) -> None:
    versions = client.get(url("/versions")).json()
    assert [v["version"] for v in versions] == ["1"]
    v1 = versions[0]
    assert (v1["status"], v1["aliases"], v1["n_series"]) == ("champion", ["champion"], 3)
    assert v1["forecaster"] == "SeasonalNaive" and v1["trigger"] == "initial"
    assert "backtest_mase" in v1["metrics"]
    assert client.get(url("/versions/1")).json() == v1
    assert client.get(url("/versions/9")).status_code == 404

    first = client.get(url("/deployment"), params={"limit": 2}).json()
    assert first["n_series"] == 3 and first["series_per_version"] == {"1": 3}
    page = first["series"]
    assert [s["unique_id"] for s in page["items"]] == ["north", "south"]
    assert (page["total"], page["next_offset"]) == (3, 2)
    rest = client.get(url("/deployment"), params={"limit": 2, "offset": 2}).json()["series"]
    assert [s["unique_id"] for s in rest["items"]] == ["west"] and rest["next_offset"] is None
    one = client.get(url("/deployment/west")).json()
    assert one["version"] == "1" and [m["version"] for m in one["history"]] == ["1"]
    assert client.get(url("/deployment/atlantis")).status_code == 404

    decisions = client.get(url("/decisions")).json()
    assert decisions["total"] == len(SERIES)
    assert {d["action"] for d in decisions["items"]} == {"retrain"}
    assert client.get(url("/alerts")).json()["items"] == []
    audit = client.get("/v1/audit", params={"limit": 5}).json()
    assert len(audit["items"]) == 5 and audit["total"] > 5
    ids = [e["id"] for e in audit["items"]]
    assert ids == sorted(ids, reverse=True)
    deploys = client.get("/v1/audit", params={"action": "deploy"}).json()["items"]
    assert deploys and deploys[0]["entity"] == f"deployment:{MODEL}"
    models = client.get("/v1/models").json()
    assert models == [client.get(url("")).json()]
    assert models[0]["champion"] == "1" and models[0]["n_series"] == 3
    assert client.get("/healthz").json() == {"status": "ok"}


def test_not_ready_until_the_snapshot_is_loaded(built: Built) -> None:
    # The first build reads the registry under the service's MLflow lock: holding it keeps
    # the service loading.
    with (
        MLFLOW_LOCK,
        running(create_app(built.root, poll_interval=0.1)) as base,
        httpx.Client(base_url=base, timeout=30, headers=built.headers("viewer")) as c,
    ):
        time.sleep(0.3)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["ready"] is False and "loading" in r.json()["reason"]
        r = c.get(url("/series/north/forecast"))
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert c.get("/healthz").status_code == 200
        MLFLOW_LOCK.release()
        try:
            ready = _wait_ready(c)
        finally:
            MLFLOW_LOCK.acquire()
        assert ready["ready"] is True and ready["n_series"] == 3
        assert ready["versions_in_use"] == ["1"]


def test_chronoguard_serve_command(built: Built) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "chronoguard", "serve"),
            *("--workspace", str(built.root), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5, headers=built.headers("viewer")) as c:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "chronoguard serve did not get ready"
                time.sleep(0.2)
            assert c.get(url("/series/west/forecast")).json()["version"] == "1"
    finally:
        proc.terminate()
        proc.wait(30)
    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert proc.returncode in (0, -signal.SIGTERM)


def test_exports() -> None:
    import chronoguard.serving as serving

    assert sorted(serving.__all__) == serving.__all__
    for name in serving.__all__:
        assert getattr(serving, name) is not None


def test_serve_refuses_a_missing_workspace(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "chronoguard", "serve", "--workspace", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert "chronoguard init" in res.stdout + res.stderr
