"""The report of a live workspace, read from its store: no replay, nothing fitted.

The workspace is the production-cycle fleet of ``tests/orchestration/test_cycle.py``
(three monthly series, one of which drops by 30 % in March 1981), run cycle by cycle up
to April 1981, so it holds forecasts, checks (advisory iid tests among them), alerts and
a retrain that was promoted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.dashboard.report import workspace_data, workspace_report, write_workspace_report
from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import Workspace, init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.dashboard.test_dashboard_report import page_text, parse
from tests.orchestration.test_cycle import config, fleet, timeline

SVG = "{http://www.w3.org/2000/svg}"
FIRST, LAST = 131, 147  # the first cycle (1979-12) and the last (1981-04, a retrain)
UNTIL = 140  # a date before the drop: what the report knew then


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, str]]:
    root = tmp_path_factory.mktemp("live") / "ws"
    df = fleet()
    tl = timeline(df)
    with init_workspace(root, config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in tl[FIRST : LAST + 1]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
    with open_workspace(root) as ws:  # as the command opens it
        yield ws, workspace_report(ws)


def cards(html: str) -> str:
    return page_text(parse(html.split("<nav>", 1)[0] + "</header></main></body></html>"))


def test_live_report_counts_what_the_store_holds(workspace: tuple[Workspace, str]) -> None:
    ws, html = workspace
    store = ws.store
    text = page_text(parse(html))
    checks = store.get_monitoring_results()
    advisory = np.array([bool((d or {}).get("advisory")) for d in checks["details"]])
    positive = checks["decision"].to_numpy(dtype=bool)
    n_alerting, n_advisory = int((positive & ~advisory).sum()), int((positive & advisory).sum())
    assert n_advisory > n_alerting > 0  # the iid tests flag many stable windows
    n_times = checks["ds"].nunique()
    assert (
        f"Checks {len(checks)} {n_times} check times · {n_alerting} alerts (checks that alert)"
        f" · {n_advisory} advisory findings" in text
    )
    assert f"Alerts {len(store.list_alerts())} " in text
    retrains = store.list_retrains(ws.model_name)
    promoted = sum(r.outcome == "promoted" for r in retrains)
    assert len(retrains) >= 1 and promoted >= 1
    assert (
        f"Retrains {len(retrains)} {promoted} promoted · {len(retrains) - promoted} rejected"
        in (text)
    )
    last_move = store.deployment_history(ws.model_name)[-1]
    assert f"Champion at end {last_move.version}" in text
    for uid in ("north", "south", "west"):
        assert f"<h3>{escape(uid)}</h3>" in html
    assert "period 1979-12-01 – 1981-04-01" in text
    # The versions chart starts at the first cycle's version, not at the data's start.
    assert '<span class="versions-period">1979-12-01 – 1981-04-01</span>' in html


def test_live_report_scores_the_served_forecasts(workspace: tuple[Workspace, str]) -> None:
    ws, html = workspace
    served = ws.store.get_forecasts(served_only=True)
    actuals = ws.store.get_actuals()
    joined = served.merge(actuals[["unique_id", "ds", "y"]], on=["unique_id", "ds"])
    err = (joined["y"] - joined["yhat"]).abs()
    page = parse(html)
    mae = page.cells[page.cells.index("mae") + 1]
    assert float(mae) == pytest.approx(err.mean(), rel=1e-3)  # shown at 4 digits
    charts = {
        e.attrib["class"].split()[-1]: e
        for e in (ET.fromstring(c) for c in re.findall(r"<svg .*?</svg>", html, re.S))
    }
    bars = charts["horizon-error"].findall(f"{SVG}rect")
    per_h = err.groupby(joined["horizon"]).agg(["mean", "size"])
    assert [int(b.attrib["data-horizon"]) for b in bars] == [1, 2, 3]
    for bar in bars:
        h = int(bar.attrib["data-horizon"])
        assert float(bar.attrib["data-error"]) == pytest.approx(per_h.loc[h, "mean"])
        assert int(bar.attrib["data-n"]) == per_h.loc[h, "size"]
    rolling = {p.attrib["class"]: p for p in charts["rolling-error"].findall(f"{SVG}polyline")}
    one_step = joined[joined["horizon"] == 1]
    assert int(rolling["raw"].attrib["data-points"]) == one_step["ds"].nunique()


def test_live_report_shows_the_decisions_without_peers(workspace: tuple[Workspace, str]) -> None:
    ws, html = workspace
    page = parse(html)
    assert {"fleet", "budget", "decisions"} <= page.ids
    assert "peers" not in page.ids  # peers need fits: a replay's part, not a live report's
    decisions = ws.store.list_series_decisions(ws.model_name)
    listed = [d for d in decisions if d.action != "keep"]
    assert f"({len(listed)} of {len(listed)} listed;" in page_text(page)
    assert "the workspace's store holds every decision" in page_text(page)


def test_until_shows_what_was_known_then(workspace: tuple[Workspace, str]) -> None:
    ws, _ = workspace
    until = timeline(fleet())[UNTIL]
    data = workspace_data(ws, until=until)
    assert data.period == f"1979-12-01 – {until:%Y-%m-%d}"
    assert data.actuals["ds"].max() == until
    assert pd.to_datetime(data.forecasts["origin"]).max() == until
    assert data.checks["ds"].max() == until
    assert data.retrains == []  # the first retrain came after the drop
    text = page_text(parse(workspace_report(ws, until=until.strftime("%Y-%m-%d"))))
    assert "Retrains 0 0 promoted · 0 rejected" in text


def test_same_store_same_bytes_and_an_atomic_file(
    workspace: tuple[Workspace, str], tmp_path: Path
) -> None:
    ws, html = workspace
    out = write_workspace_report(ws, tmp_path / "out" / "report.html")
    assert out.read_text(encoding="utf-8") == html
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]


def test_a_workspace_without_data_names_the_fix(tmp_path: Path) -> None:
    with (
        init_workspace(tmp_path / "empty", config()) as ws,  # type: ignore[arg-type]
        pytest.raises(ChronoguardError, match=r"holds no actuals or forecasts.*cycle"),
    ):
        workspace_report(ws)


def test_a_bad_until_names_the_fix(workspace: tuple[Workspace, str]) -> None:
    ws, _ = workspace
    with pytest.raises(ChronoguardError, match=r"until='soon' is not a timestamp.*ISO date"):
        workspace_report(ws, until="soon")


def test_the_report_command_writes_the_same_report(
    workspace: tuple[Workspace, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from tests.cli.test_cli_access import Cli

    ws, html = workspace
    cli = Cli(capsys, monkeypatch)
    code, out, err = cli("report", "-w", ws.root, "-o", tmp_path / "r.html", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["model"] == ws.model_name and got["until"] is None
    assert Path(got["report"]).read_text(encoding="utf-8") == html
    code, out, err = cli("report", "-w", ws.root, "-o", tmp_path / "bad.html", "--until", "soon")
    assert code == 2 and "is not a timestamp" in err
    assert not (tmp_path / "bad.html").exists()
