"""The live dashboard (``/ui``) on a real workspace and a real uvicorn server, over HTTP.

The workspace: three series after four monthly cycles, grouped (``coast``: north and west;
``south``), a second version promoted with a reason holding markup, and alerts whose
message holds a script tag. The pages render, refuse without a valid token (a redirect to
the login page that shows no data), log in and out with the cookie, search, sort and page
the fleet, and escape what users typed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from chronoguard.config import ChronoguardConfig, GroupConfig
from chronoguard.dashboard.live.table import FleetQuery, FleetRow, FleetTable, rollups
from chronoguard.lifecycle import open_workspace
from chronoguard.serving import create_app
from chronoguard.serving._pages import COOKIE, period_word
from chronoguard.serving._snapshot import MLFLOW_LOCK
from chronoguard.store import Alert
from tests.helpers import grant
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

EVIL = "<script>alert('x')</script>"


def _config() -> ChronoguardConfig:
    return config().model_copy(
        update={
            "groups": [
                GroupConfig(name="coast", match="[nw]*", tier="standard"),
                GroupConfig(name="south", match="south", tier="standard"),
            ]
        }
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_after_cycles(tmp_path_factory.mktemp("pages") / "ws", _config())


@pytest.fixture(scope="module")
def base(built: Built) -> Iterator[str]:
    v2 = train_naive_version(built)
    with MLFLOW_LOCK, open_workspace(built.root) as ws:
        ws.store.record_alerts(
            [
                Alert(
                    ds=built.origin.to_pydatetime(),
                    kind="concept_drift",
                    method="bias_z",
                    statistic=3.0,
                    threshold=2.0,
                    severity="warning",
                    message=EVIL,
                    version="1",
                    unique_id="south",
                )
            ]
        )
    with running(create_app(built.root, poll_interval=0.1)) as url:
        with httpx.Client(base_url=url, timeout=60, headers=built.headers("operator")) as c:
            wait_ready(c)
            r = c.post(
                f"/v1/models/{MODEL}/promote",
                json={"version": v2, "series": ["west"], "reason": f"because {EVIL}"},
            )
            assert r.status_code == 200, r.text
        yield url


def client(base: str, built: Built | None = None, role: str = "viewer") -> httpx.Client:
    headers = built.headers(role) if built is not None else {}
    return httpx.Client(base_url=base, timeout=60, headers=headers, follow_redirects=False)


def rows_of(html: str) -> list[str]:
    """The series ids of the fleet table's rows, in order."""
    body = html.split('<table id="fleet">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/ui/series/[^"]*">([^<]*)</a>', body)


@pytest.mark.parametrize(
    "path",
    ["/ui/", "/ui/series/north", "/ui/decisions", "/ui/alerts", "/ui/approvals", "/ui/audit"],
)
def test_pages_without_a_token_redirect_to_the_login_page(base: str, path: str) -> None:
    with client(base) as c:
        r = c.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/ui/login?next=")
        assert "north" not in r.text and "south" not in r.text
        # A token of no workspace, or of another, is no token here.
        r = c.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 303
        r = c.get(path, cookies={COOKIE: "cg_another_workspace"})
        assert r.status_code == 303


def test_every_page_renders_for_a_viewer(base: str, built: Built) -> None:
    with client(base, built) as c:
        for path in (
            "/ui/",
            "/ui/decisions",
            "/ui/alerts?status=",
            "/ui/approvals?status=",
            "/ui/audit",
            "/ui/series/south",
        ):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[:500])
            assert r.headers["content-type"].startswith("text/html")
            assert "total;dur=" in r.headers["server-timing"]
        assert c.get("/ui/series/nowhere").status_code == 404


def test_the_login_sets_a_strict_cookie_and_logout_clears_it(base: str, built: Built) -> None:
    with client(base) as c:
        r = c.post("/ui/login", data={"token": "wrong", "next": "/ui/alerts"})
        assert r.status_code == 401
        assert "not a token of this workspace" in r.text
        assert COOKIE not in r.headers.get("set-cookie", "")
        # The next page is a dashboard path only: no redirect off the site.
        r = c.post("/ui/login", data={"token": built.tokens["viewer"], "next": "//evil.example"})
        assert r.status_code == 303 and r.headers["location"] == "/ui/"
        cookie = r.headers["set-cookie"]
        assert f"{COOKIE}=" in cookie
        for part in ("HttpOnly", "Path=/ui", "SameSite=strict"):
            assert part.lower() in cookie.lower(), cookie
        r = c.get("/ui/")
        assert r.status_code == 200 and "north" in r.text
        r = c.post("/ui/logout")
        assert r.status_code == 303
        assert f'{COOKIE}=""' in r.headers["set-cookie"] or "Max-Age=0" in r.headers["set-cookie"]
        c.cookies.clear()
        assert c.get("/ui/").status_code == 303


def test_the_fleet_lists_every_series_with_its_health_and_group(base: str, built: Built) -> None:
    with client(base, built) as c:
        html = c.get("/ui/", params={"sort": "unique_id", "order": "asc"}).text
    assert rows_of(html) == sorted(SERIES)
    assert "coast" in html and "south" in html
    assert 'id="rollup"' in html
    # west is served by version 2, the others by version 1.
    with open_workspace(built.root) as ws:
        dep = ws.store.get_deployment(MODEL)
    assert dep.versions["west"] != dep.versions["north"]


def test_search_sort_and_paging_return_the_right_rows(base: str, built: Built) -> None:
    with client(base, built) as c:
        found = c.get("/ui/", params={"q": "coast", "sort": "unique_id"}).text
        assert rows_of(found) == ["north", "west"]
        found = c.get("/ui/", params={"q": "SOU"}).text
        assert rows_of(found) == ["south"]
        desc = c.get("/ui/", params={"sort": "unique_id", "order": "desc"}).text
        assert rows_of(desc) == sorted(SERIES, reverse=True)
        # Pages of 25 hold all three; page numbers past the end show the last page.
        last = c.get("/ui/", params={"sort": "unique_id", "page": "9"}).text
        assert rows_of(last) == sorted(SERIES)
        assert "page 1 of 1" in last
        by_alerts = rows_of(c.get("/ui/", params={"sort": "alerts"}).text)
        assert by_alerts[0] == "south"  # the only open alert


def test_the_table_pages_in_memory() -> None:
    rows = tuple(
        FleetRow(
            f"s{i:03d}",
            i / 100,
            (),
            None,
            "1",
            "champion",
            None,
            f"g{i % 3}",
            None,
            i % 2,
            None,
            None,
            None,
        )
        for i in range(100)
    )
    table = FleetTable(rows, rollups(rows, 0.5), datetime(2024, 1, 1), 0.0)
    p = table.page(FleetQuery(sort="health", order="desc", page=2, size=25))
    assert [r.unique_id for r in p.rows] == [f"s{i:03d}" for i in range(74, 49, -1)]
    assert p.pages == 4 and p.total == 100
    g = table.page(FleetQuery(q="g1", sort="unique_id", size=25))
    assert g.total == 33 and all(r.group == "g1" for r in g.rows)
    [roll] = table.rollups
    assert roll.n_series == 100 and roll.unhealthy == 50 and roll.open_alerts == 50


def test_user_text_is_escaped(base: str, built: Built) -> None:
    with client(base, built) as c:
        for path in ("/ui/alerts", "/ui/series/south", "/ui/series/west", "/ui/audit"):
            html = c.get(path).text
            assert EVIL not in html, path
        assert "&lt;script&gt;" in c.get("/ui/alerts").text
        assert "because &lt;script&gt;" in c.get("/ui/series/west").text
        q = c.get("/ui/", params={"q": '"><b>x'}).text
        assert '"><b>x' not in q and "&#34;&gt;&lt;b&gt;x" in q


def test_the_series_page_shows_its_plots_and_timeline(base: str, built: Built) -> None:
    with client(base, built) as c:
        html = c.get("/ui/series/west").text
    assert html.count("<svg") >= 3
    assert "Actuals and forecasts" in html and "Absolute error per horizon" in html
    assert 'id="timeline"' in html and "deployment" in html
    assert 'id="checks"' in html


def test_period_words() -> None:
    assert period_word("MS") == "month"
    assert period_word("W-SUN") == "week"
    assert period_word("D") == "day"
    assert period_word(None) == "cycle"


def test_templates_ship_with_the_package() -> None:
    root = Path(__file__).resolve().parents[2]
    text = (root / "pyproject.toml").read_text()
    assert '"dashboard/live/*"' in text


def test_the_fleet_table_follows_the_deployment(base: str, built: Built) -> None:
    # west was promoted to version 2 after start-up: the new snapshot rebuilds the table.
    with client(base, built) as c:
        deadline = time.monotonic() + 30
        while True:
            html = c.get("/ui/", params={"q": "west"}).text
            body = html.split('<table id="fleet">', 1)[1]
            cells = re.findall(r"<td>(\d+)(?: <span)", body)
            if cells and cells[0] == "2":
                break
            assert time.monotonic() < deadline, body[:2000]
            time.sleep(0.2)
        rollup = html.split('<table id="rollup">', 1)[1].split("</table>", 1)[0]
        assert rollup.count("<tr>") == 3  # the header, version 1 and version 2


def test_a_revoked_token_stops_reading(base: str, built: Built) -> None:
    with open_workspace(built.root) as ws:
        secret = grant(ws.store, "short-lived", "viewer")
    with client(base) as c:
        r = c.post("/ui/login", data={"token": secret, "next": "/ui/audit"})
        assert r.status_code == 303 and r.headers["location"] == "/ui/audit"
        assert c.get("/ui/audit").status_code == 200
        with open_workspace(built.root) as ws:
            ws.store.revoke_token("short-lived", by="admin2", at=datetime(2024, 1, 2))
        deadline = time.monotonic() + 30
        while c.get("/ui/audit").status_code != 303:  # within a poll of the token book
            assert time.monotonic() < deadline
            time.sleep(0.1)
