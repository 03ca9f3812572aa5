"""Governance over HTTP on a real workspace (its store on SQLite and on PostgreSQL) and a
real uvicorn server: tokens and roles on
every route, promotion (with the approval policy of each series' tier), rollback of
series and of a group, votes, and two concurrent votes on one request.

The fleet's groups: ``coast`` (north, west; tier standard, deployed at once) and ``south``
(tier high, policy ``one``: a promotion waits for one approver).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from chronoguard.config import ApprovalsConfig, GroupConfig
from chronoguard.lifecycle import open_workspace
from chronoguard.lifecycle.access import Principal, revoke_token
from chronoguard.serving import create_app
from tests.serving.support import (
    MODEL,
    Built,
    build_workspace,
    config,
    running,
    train_naive_version,
    wait_ready,
)


def _config():  # type: ignore[no-untyped-def]
    return config().model_copy(
        update={
            "groups": [
                GroupConfig(name="coast", match="[nw]*", tier="standard"),
                GroupConfig(name="south", match="south", tier="high"),
            ],
            "approvals": ApprovalsConfig(policy={"high": "one"}),
        }
    )


STORE_URL = "CHRONOGUARD_STORE_URL"


@pytest.fixture(scope="module")
def built(backend: object, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_workspace(tmp_path_factory.mktemp("gov") / "ws", _config())


@pytest.fixture(scope="module")
def version_2(built: Built) -> str:
    return train_naive_version(built)


@pytest.fixture(scope="module")
def base(built: Built) -> Iterator[str]:
    with running(create_app(built.root, poll_interval=0.1)) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            wait_ready(c)
        yield url


def client(base: str, built: Built, role: str | None) -> httpx.Client:
    headers = built.headers(role) if role else {}
    return httpx.Client(base_url=base, timeout=60, headers=headers)


def u(path: str) -> str:
    return f"/v1/models/{MODEL}{path}"


def versions_now(built: Built) -> dict[str, str]:
    with open_workspace(built.root) as ws:
        return dict(ws.store.get_deployment(MODEL).versions)


def test_every_v1_route_needs_a_token_of_this_workspace(
    base: str, built: Built, backend: object, tmp_path_factory: pytest.TempPathFactory
) -> None:
    routes = [
        u("/series/north/forecast"),
        u("/versions"),
        u("/deployment"),
        u("/approvals"),
        "/v1/audit",
        "/v1/models",
    ]
    with client(base, built, None) as anon:
        for path in routes:
            r = anon.get(path)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "CHRONOGUARD_TOKEN" in r.json()["detail"] or "token" in r.json()["detail"]
        bogus = {"Authorization": "Bearer cg_not-a-token"}
        assert anon.get(u("/series/north/forecast"), headers=bogus).status_code == 401
        assert anon.get("/readyz").status_code == 200  # health needs no token
        assert anon.get("/openapi.json").status_code == 200
    # A token of another workspace is no token here.
    with ExitStack() as stack:  # another workspace: on PostgreSQL, a store of its own
        if backend is not None:
            pg = stack.enter_context(backend.fresh())  # type: ignore[attr-defined]
            mp = stack.enter_context(pytest.MonkeyPatch.context())
            mp.setenv(STORE_URL, pg.url)
        other = build_workspace(tmp_path_factory.mktemp("other") / "ws")
    with httpx.Client(base_url=base, timeout=30, headers=other.headers("admin")) as c:
        assert c.get(u("/versions")).status_code == 401
        assert c.get(u("/series/north/forecast")).status_code == 401
    with client(base, built, "viewer") as c:
        assert c.get(u("/series/north/forecast")).status_code == 200
        assert c.get(u("/versions")).status_code == 200


def test_mutating_routes_refuse_a_role_too_low(base: str, built: Built, version_2: str) -> None:
    before = versions_now(built)
    actions = [
        ("viewer", u("/actuals"), {"rows": [{"unique_id": "north", "ds": "1981-01-01", "y": 1.0}]}),
        ("viewer", u("/promote"), {"version": version_2}),
        ("viewer", u("/rollback"), {}),
        ("viewer", "/v1/admin/refresh", None),
        ("operator", u("/approvals/1/approve"), {}),
        ("operator", u("/approvals/1/reject"), {"reason": "no"}),
    ]
    for role, path, body in actions:
        with client(base, built, role) as c:
            r = c.post(path, json=body)
        assert r.status_code == 403, (role, path, r.text)
        problem = r.json()
        assert problem["error"] == "forbidden"
        assert f"has role {role}" in problem["detail"] and "or higher" in problem["detail"]
    with client(base, built, None) as anon:
        assert anon.post(u("/promote"), json={"version": version_2}).status_code == 401
    assert versions_now(built) == before


def test_promote_follows_the_tier_policy_and_votes_conflict(
    base: str, built: Built, version_2: str
) -> None:
    with client(base, built, "operator") as c:
        r = c.post(u("/promote"), json={"version": version_2, "reason": "better on backtest"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert sorted(m["unique_id"] for m in out["moved"]) == ["north", "west"]
    assert {m["by"] for m in out["moved"]} == {"operator"}  # the token's name
    assert all(m["previous_version"] == "1" for m in out["moved"])
    [request] = out["approval_requests"]
    assert request["series"] == ["south"] and request["tier"] == "high"
    assert (request["policy"], request["required_approvals"], request["author"]) == (
        "one",
        1,
        "operator",
    )
    assert versions_now(built) == {"north": version_2, "south": "1", "west": version_2}
    with client(base, built, "viewer") as c:
        # Readers see the move at once: the snapshot was rebuilt by the action.
        body = c.get(u("/series/north/forecast")).json()
        assert body["deployed_version"] == version_2
        pending = c.get(u("/approvals")).json()
        assert [p["id"] for p in pending["items"]] == [request["id"]]

    # Two approvers vote at the same moment: exactly one vote closes it, the other is told.
    results: dict[str, httpx.Response] = {}
    gate = threading.Barrier(2)

    def vote(role: str) -> None:
        with client(base, built, role) as c:
            gate.wait()
            results[role] = c.post(
                u(f"/approvals/{request['id']}/approve"), json={"reason": "looks right"}
            )

    threads = [threading.Thread(target=vote, args=(r,)) for r in ("approver", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: v.text for k, v in results.items()}
    won = next(r for r in results.values() if r.status_code == 200).json()
    lost = next(r for r in results.values() if r.status_code == 409).json()
    assert won["request"]["status"] == "approved" and won["deployed"] == ["south"]
    assert lost["error"] == "approval_conflict"
    assert str(request["id"]) in lost["detail"]
    assert versions_now(built) == dict.fromkeys(("north", "south", "west"), version_2)


def test_rollback_of_a_group_and_of_a_series(base: str, built: Built, version_2: str) -> None:
    if versions_now(built) != dict.fromkeys(("north", "south", "west"), version_2):
        pytest.skip("needs the promotion of the test before")
    with client(base, built, "operator") as c:
        r = c.post(u("/rollback"), json={"group": "coast", "reason": "coastal shock"})
        assert r.status_code == 200, r.text
        moved = r.json()["moved"]
        assert sorted(m["unique_id"] for m in moved) == ["north", "west"]
        assert {(m["previous_version"], m["version"]) for m in moved} == {(version_2, "1")}
        assert all(m["reason"] == "rollback: coastal shock" for m in moved)
        assert versions_now(built) == {"north": "1", "south": version_2, "west": "1"}

        r = c.post(u("/rollback"), json={"series": ["south"]})
        assert r.status_code == 200 and [m["version"] for m in r.json()["moved"]] == ["1"]

        unknown = c.post(u("/rollback"), json={"group": "atlantis"})
        assert unknown.status_code == 422
        assert "no group 'atlantis'" in unknown.json()["detail"]
        assert "coast, south" in unknown.json()["detail"]
        both = c.post(u("/rollback"), json={"group": "coast", "series": ["north"]})
        assert both.status_code == 422 and "not both" in both.json()["detail"]
        nothing_left = c.post(u("/rollback"), json={"series": ["north"]})
        assert nothing_left.status_code == 409
        assert "no earlier version" in nothing_left.json()["detail"]
        bad = c.post(u("/promote"), json={"version": "99"})
        assert bad.status_code == 404, bad.text
    assert versions_now(built) == dict.fromkeys(("north", "south", "west"), "1")
    with open_workspace(built.root) as ws:
        history = ws.store.deployment_history(MODEL, ["north"])
    assert [(m.version, m.by) for m in history][-2:] == [(version_2, "operator"), ("1", "operator")]


def test_a_revoked_token_never_acts_and_soon_stops_reading(base: str, built: Built) -> None:
    with client(base, built, "approver") as c:
        assert c.get(u("/versions")).status_code == 200
        with open_workspace(built.root) as ws:
            revoke_token(ws.store, "approver", by=Principal("root", "admin"), at=built.origin)
        # Actions authenticate against the store: refused at once.
        assert c.post(u("/approvals/1/reject"), json={"reason": "x"}).status_code == 401
        deadline = time.monotonic() + 10
        while c.get(u("/series/north/forecast")).status_code != 401:
            assert time.monotonic() < deadline, "a revoked token still reads after 10 s"
            time.sleep(0.05)
        assert c.get(u("/versions")).status_code == 401
