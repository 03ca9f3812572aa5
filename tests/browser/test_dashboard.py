"""The live dashboard in a real headless Chromium (Debian's, driven by Playwright) against a
real uvicorn server on a synthetic workspace of 10,000 series: log in, the fleet loads (its
server time read from the ``Server-Timing`` header and printed), search and paging by
clicking, a series page with its plots. Screenshots go to ``CHRONOGUARD_TEST_ARTIFACTS``
(default ``<repo>/test-artifacts/``).

Select these tests with ``-m browser``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chronoguard.serving import create_app
from tests.browser.support import (
    HISTORY_SERIES,
    SHOCK_GROUP,
    SHOCKED,
    Fleet,
    N,
    artifacts,
    build_fleet,
    chromium,
    need_browser,
)
from tests.serving.support import running, wait_ready

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    need_browser()
    return build_fleet(tmp_path_factory.mktemp("fleet10k") / "ws")


@pytest.fixture(scope="module")
def base(fleet: Fleet) -> Iterator[str]:
    # A long poll interval: the table is built once, as for a fleet whose store is quiet.
    with running(create_app(fleet.root, poll_interval=60.0)) as url:
        with httpx.Client(base_url=url, timeout=120) as c:
            wait_ready(c, timeout=120)
        yield url


@pytest.fixture()
def page(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile") as context:
        yield context.new_page()


def server_ms(response: Any, metric: str = "total") -> float:
    header = response.headers.get("server-timing", "")
    found = re.search(rf"{metric};dur=([0-9.]+)", header)
    assert found, header
    return float(found.group(1))


def log_in(page: Any, base: str, fleet: Fleet) -> Any:
    """Log in through the form; returns the response of the page it lands on."""
    page.goto(f"{base}/ui/")
    assert "/ui/login" in page.url  # no data before the login
    assert page.locator("#fleet").count() == 0
    page.fill("#token", fleet.viewer)
    with page.expect_navigation() as landed:
        page.click("#login")
    return landed.value


def test_login_and_the_fleet_of_10000_series(page: Any, base: str, fleet: Fleet) -> None:
    landed = log_in(page, base, fleet)
    assert page.url.rstrip("/").endswith("/ui")
    # The login page started building the table; the first fleet page may wait for it.
    build_total, build_table = server_ms(landed), server_ms(landed, "table")
    shown = re.search(r"in (\d+) ms", page.locator("p.muted").first.inner_text())
    assert shown, page.locator("p.muted").first.inner_text()
    build_ms = float(shown.group(1))
    assert page.locator("#fleet tbody tr").count() == 50
    first = server_ms(page.goto(f"{base}/ui/?sort=unique_id"))  # built or cached
    timings = [server_ms(page.goto(f"{base}/ui/?sort=health&page={k}")) for k in (1, 7, 200)]
    built = server_ms(page.goto(f"{base}/ui/"), "table")
    print(
        f"\nfleet page at {N} series: the table built from the store in {build_ms:.0f} ms; "
        f"first page {build_total:.1f} ms (waiting {build_table:.1f} ms for the table); "
        f"then {first:.1f}, "
        f"{', '.join(f'{t:.1f}' for t in timings)} ms (table cached: {built:.1f} ms)"
    )
    assert max(timings) < 5000  # loose: the target (< 1 s) is measured, not asserted here
    assert page.locator("#pageinfo").inner_text() == f"page 1 of {N // 50}"
    incident = page.locator(".incident").first.inner_text()
    assert (
        f"{SHOCKED} of 250 series in group {SHOCK_GROUP} dropped 20–30 % in the same month"
        in incident
    )
    assert page.locator(".incident").count() == 1  # the scattered alerts make none
    page.screenshot(path=str(artifacts() / "fleet-10000.png"), full_page=False)


def test_search_and_paging_by_clicking(page: Any, base: str, fleet: Fleet) -> None:
    log_in(page, base, fleet)
    page.click("a[data-sort=unique_id]")
    page.wait_for_load_state()
    assert page.locator("#fleet tbody tr td a").first.inner_text() == "s00000"
    with page.expect_navigation():
        page.click("#next")
    assert page.locator("#pageinfo").inner_text() == f"page 2 of {N // 50}"
    assert page.locator("#fleet tbody tr td a").first.inner_text() == "s00050"
    page.fill("#q", "g7")
    with page.expect_navigation():
        page.click("#search")
    assert page.locator("#count").inner_text().startswith("250 series match")
    ids = page.locator("#fleet tbody tr td:first-child a").all_inner_texts()
    assert len(ids) == 50 and all(int(u[1:]) % 40 == 7 for u in ids)
    page.screenshot(path=str(artifacts() / "fleet-search.png"))
    page.fill("#q", "s09999")
    with page.expect_navigation():
        page.click("#search")
    assert page.locator("#fleet tbody tr td:first-child a").all_inner_texts() == ["s09999"]


def test_a_series_page_shows_its_plots(page: Any, base: str, fleet: Fleet) -> None:
    log_in(page, base, fleet)
    page.fill("#q", HISTORY_SERIES)
    with page.expect_navigation():
        page.click("#search")
    with page.expect_navigation() as opened:
        page.click(f"#fleet tbody a:text-is('{HISTORY_SERIES}')")
    print(f"\nseries page: {server_ms(opened.value):.1f} ms of server time")
    assert page.locator("#series-id").inner_text() == HISTORY_SERIES
    charts = page.locator("#charts svg")
    assert charts.count() >= 3
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    assert page.locator("#charts svg polyline").count() >= 3
    page.screenshot(path=str(artifacts() / "series.png"), full_page=True)


def test_the_other_pages_at_10000_series(page: Any, base: str, fleet: Fleet) -> None:
    log_in(page, base, fleet)
    times = {}
    for path in ("decisions", "alerts", "approvals", "audit"):
        response = page.goto(f"{base}/ui/{path}")
        assert response.status == 200, path
        times[path] = server_ms(response)
    print("\nserver time: " + ", ".join(f"{k} {v:.1f} ms" for k, v in times.items()))
    assert page.locator("#audit tbody tr").count() > 0
    page.goto(f"{base}/ui/decisions")
    cycle = page.locator("#cycles tbody tr").first.inner_text().split("\t")
    # 10,000 decided, 100 retrained at 1.5 CPU seconds each.
    assert cycle[4:8] == ["10000", "100", "0", "150"], cycle
    assert page.locator("#decisions tbody tr").count() == 50
    page.goto(f"{base}/ui/alerts")
    assert page.locator(".incident").count() == 1
    page.screenshot(path=str(artifacts() / "alerts.png"))


def test_logout_ends_the_session(page: Any, base: str, fleet: Fleet) -> None:
    log_in(page, base, fleet)
    with page.expect_navigation():
        page.click("text=Log out")
    assert "/ui/login" in page.url
    page.goto(f"{base}/ui/alerts")
    assert "/ui/login" in page.url
