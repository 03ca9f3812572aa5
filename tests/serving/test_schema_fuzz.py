"""The OpenAPI schema fuzzed by Schemathesis against a real server: no request it generates,
valid or not (positive and negative generation), gets a server error (5xx), and every
mutating route refuses a caller without the role; the workspace's store on SQLite and on
PostgreSQL.

The requests carry an admin token, so they reach every route's own checks (a request
without a token stops at the 401); what they change in the module's workspace is thrown
away with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from chronoguard.serving import create_app
from tests.serving.support import Built, build_workspace, running, wait_ready


@pytest.fixture(scope="module")
def built(backend: object, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_workspace(tmp_path_factory.mktemp("fuzz") / "ws")


@pytest.fixture(scope="module")
def base(built: Built) -> Iterator[str]:
    with running(create_app(built.root, poll_interval=0.2)) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            wait_ready(c)
        yield url


@pytest.fixture(scope="module")
def api(base: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


# Schemathesis' pytest plugin does not run under this pytest, so each operation's strategy
# is driven with Hypothesis directly.
def test_no_request_gets_a_server_error(
    api: schemathesis.BaseSchema, built: Built, base: str
) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    statuses: list[int] = []
    for op, mode in itertools.product(operations, GenerationMode):

        @given(case=op.as_strategy(mode))
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base, headers=built.headers("admin"), timeout=60)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        try:
            run()
        except Unsatisfiable:  # no invalid request exists (a route without parameters)
            assert mode is GenerationMode.NEGATIVE
    assert failures == []
    # The generated requests reached the routes: some succeeded, some were refused by them.
    assert len(statuses) >= 10 * len(operations)
    assert {200, 422} <= set(statuses), sorted(set(statuses))


def test_every_mutating_route_refuses_a_caller_without_the_role(base: str, built: Built) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        spec = c.get("/openapi.json").json()
        posts = [p for p, ops in spec["paths"].items() if "post" in ops]
        assert len(posts) >= 6, posts
        for path in posts:
            concrete = (
                path.replace("{model}", "test-model")
                .replace("{request_id}", "1")
                .replace("{unique_id}", "north")
            )
            assert "{" not in concrete, f"a new path parameter in {path}: name a value for it"
            anon = c.post(concrete, json={})
            assert anon.status_code == 401, (path, anon.text)
            viewer = c.post(concrete, json={}, headers=built.headers("viewer"))
            assert viewer.status_code == 403, (path, viewer.text)
            assert "viewer" in viewer.json()["detail"]
