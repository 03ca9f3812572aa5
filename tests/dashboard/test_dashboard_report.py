"""The static HTML lifecycle report: structure, content, escaping, images, atomic write,
advisory findings apart from alerts, the versions period and the error charts."""

from __future__ import annotations

import ast
import base64
import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import chronoguard.dashboard as dashboard
from chronoguard.dashboard import ReportData, plots, render_report, write_report
from chronoguard.dashboard import report as report_module
from chronoguard.dashboard.plots import minmax_indices
from chronoguard.errors import DataContractError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}
EVIL = "<script>"
CHECK_COLUMNS = [
    "ds",
    "unique_id",
    "kind",
    "method",
    "feature",
    "statistic",
    "p_value",
    "threshold",
    "decision",
    "threshold_on",
]


class _Page(HTMLParser):
    """Collects what the tests look at and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: set[str] = set()
        self.images: list[str] = []
        self.tables = 0
        self.text: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "img":
            self.images.append(str(found.get("src")))
        if tag == "table":
            self.tables += 1
        if tag in ("td", "th"):
            self._cell = []
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert page.errors == []
    assert page.stack == []
    return page


def page_text(page: _Page) -> str:
    return re.sub(r"\s+", " ", " ".join(page.text))


def make_data(
    ids: tuple[str, ...] = ("store_1", EVIL),
    periods: int = 48,
    *,
    with_history: bool = True,
    n_alerts: int = 5,
) -> ReportData:
    rng = np.random.default_rng(7)
    ds = pd.date_range("2018-01-01", periods=periods, freq="MS")
    actuals, forecasts, checks = [], [], []
    for k, uid in enumerate(ids):
        y = 100 + 10 * np.sin(np.arange(periods) * 2 * np.pi / 12) + rng.normal(0, 2, periods)
        y[periods * 3 // 4 :] -= 20 + k  # a level shift the monitor should catch
        actuals.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y}))
        for t in range(24, periods):
            for h in (1, 2):
                if t + h - 1 < periods:
                    yhat = y[t - 12] + rng.normal(0, 1)
                    forecasts.append((uid, ds[t - 1], ds[t + h - 1], h, yhat, yhat - 5, yhat + 5))
            shifted = t >= periods * 3 // 4
            p = float(rng.uniform(0.001, 0.02) if shifted else rng.uniform(0.1, 1))
            checks.append((ds[t], uid, "data_drift", "ks", "y", 0.3, p, 0.05, p < 0.05, "p_value"))
            psi = float(0.3 if shifted else rng.uniform(0, 0.1))
            row = (ds[t], uid, "prediction_drift", "psi", "yhat", psi, np.nan, 0.2, psi > 0.2)
            checks.append((*row, "statistic"))
    frame = pd.DataFrame(
        forecasts, columns=["unique_id", "origin", "ds", "horizon", "yhat", "yhat_lo", "yhat_hi"]
    )
    frame["version"] = "v1"
    shift_at = ds[periods * 3 // 4]
    alerts = [
        {
            "ds": shift_at + pd.DateOffset(months=i),
            "unique_id": ids[i % len(ids)],
            "kind": "data_drift",
            "method": "ks",
            "statistic": 0.5,
            "p_value": 0.003,
            "threshold": 0.05,
            "severity": "critical" if i == 0 else "warning",
            "message": f"level shift <b>{i}</b> & more",
        }
        for i in range(n_alerts)
    ]
    retrains: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    if with_history:
        retrains = [
            {
                "ds": shift_at + pd.DateOffset(months=1),
                "trigger": "drift",
                "version": "v2",
                "outcome": "promoted",
                "challenger_error": 3.1,
                "champion_error": 6.2,
                "reason": "beats champion",
            },
            {
                "ds": shift_at + pd.DateOffset(months=4),
                "trigger": "schedule",
                "version": "v3-candidate",
                "outcome": "rejected",
                "challenger_error": 7.0,
                "champion_error": 3.0,
                "reason": "gate: worse MASE",
            },
        ]
        history = [
            {"ds": ds[24], "version": "v1", "reason": "initial"},
            {"ds": shift_at + pd.DateOffset(months=1), "version": "v2", "reason": "promoted"},
            {"ds": shift_at + pd.DateOffset(months=6), "version": "v1", "reason": "guard failed"},
        ]
    return ReportData(
        title="Replay of <toy> data",
        generated_for="toy.csv",
        period="2018-01 – 2021-12",
        actuals=pd.concat(actuals, ignore_index=True),
        forecasts=frame,
        checks=pd.DataFrame(checks, columns=CHECK_COLUMNS),
        alerts=alerts,
        retrains=retrains,
        champion_history=history,
        metrics={"mae": 2.345678, "rmse": 3.0, "mase": 0.8, "coverage": 0.9},
        config={"model": "seasonal_naive", "monitor": {"alpha": 0.05, "methods": ["ks", "psi"]}},
        events=[{"ds": shift_at, "label": "price change"}],
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, _Page]:
    path = tmp_path_factory.mktemp("report") / "report.html"
    out = write_report(make_data(), path)
    html = out.read_text(encoding="utf-8")
    return out, html, parse(html)


def decode_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix) :], validate=True)


def test_write_returns_path_of_a_well_formed_page(full: tuple[Path, str, _Page]) -> None:
    out, html, page = full
    assert out.name == "report.html" and out.is_file()
    assert html.startswith("<!DOCTYPE html>")
    sections = {"summary", "metrics", "versions", "series", "checks", "alerts", "retrains"}
    assert sections | {"champions", "config"} <= page.ids
    assert page.tables >= 6  # metrics, checks, alerts, retrains, champion history, config


def test_header_counts(full: tuple[Path, str, _Page]) -> None:
    _, _, page = full
    text = page_text(page)
    # 2 series x 24 check times x 2 tests
    assert "Checks 96 24 check times" in text
    assert "Alerts 5 1 warning" not in text  # counts by severity, ordered by frequency
    assert "Alerts 5 4 warning · 1 critical" in text
    assert "Retrains 2 1 promoted · 1 rejected" in text
    assert "Rollbacks 1" in text
    assert "Champion at end v1" in text


def test_tables_hold_the_rows(full: tuple[Path, str, _Page]) -> None:
    _, _, page = full
    text = page_text(page)
    for version in ("v2", "v3-candidate"):
        assert version in page.cells
    assert {"promoted", "rejected", "rollback", "initial", "promotion"} <= set(page.cells)
    assert "+50.0%" in page.cells and "-133.3%" in page.cells  # challenger vs champion gain
    assert "5 alerts." in text
    assert "2.346" in page.cells  # metrics at 4 significant digits
    assert "monitor.methods" in page.cells and '["ks", "psi"]' in page.cells
    assert "price change" in text


def test_images_are_embedded_pngs(full: tuple[Path, str, _Page]) -> None:
    _, _, page = full
    # the version timeline + per series (actuals/forecasts, drift panels)
    assert len(page.images) == 1 + 2 * 2
    for src in page.images:
        assert decode_png(src).startswith(PNG_MAGIC)


def test_user_strings_are_escaped(full: tuple[Path, str, _Page]) -> None:
    _, html, page = full
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    assert "<b>" not in html and "level shift &lt;b&gt;0&lt;/b&gt; &amp; more" in html
    assert "Replay of &lt;toy&gt; data" in html
    assert EVIL in page_text(page)  # and reads back as the name it is


def test_atomic_write_leaves_only_the_report(tmp_path: Path) -> None:
    target = tmp_path / "out" / "r.html"
    write_report(make_data(ids=("a",)), target)
    write_report(make_data(ids=("a",)), target)  # replaces in place
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_write_keeps_the_old_report_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.html"
    target.write_text("old", encoding="utf-8")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(make_data(ids=("a",)), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_sparse_run_renders(tmp_path: Path) -> None:
    """No alerts, no retrains, no history, NaN intervals, one check, no config or metrics."""
    data = make_data(ids=("only",), with_history=False, n_alerts=0)
    forecasts = data.forecasts.assign(yhat_lo=np.nan, yhat_hi=np.nan)
    one_check = data.checks.iloc[[0]]
    sparse = ReportData(
        title="sparse",
        generated_for="x",
        period="p",
        actuals=data.actuals,
        forecasts=forecasts,
        checks=one_check,
        metrics={},
        config={},
    )
    page = parse(write_report(sparse, tmp_path / "r.html").read_text(encoding="utf-8"))
    text = page_text(page)
    assert "0 alerts." in text and "0 retrains: 0 promoted, 0 rejected" in text
    assert "No champion history was recorded." in text
    assert "No metrics were recorded." in text and "No configuration was recorded." in text
    assert "Checks 1 1 check times · 0 alerts (checks that alert) · 0 advisory findings" in text
    assert len(page.images) == 2  # no timeline; one series with its one-check panel
    for src in page.images:
        assert decode_png(src).startswith(PNG_MAGIC)


def test_empty_run_renders(tmp_path: Path) -> None:
    empty = ReportData(
        title="empty",
        generated_for="x",
        period="p",
        actuals=pd.DataFrame(),
        forecasts=pd.DataFrame(),
    )
    page = parse(render_report(empty))
    assert "No series in this run." in page_text(page)
    assert page.images == []


def test_fleet_is_capped_with_a_note(tmp_path: Path) -> None:
    ids = tuple(f"s{i}" for i in range(1, 8))
    html = render_report(make_data(ids=ids, periods=30, n_alerts=3), max_series=3)
    page = parse(html)
    assert "4 more series are left out" in page_text(page)
    shown = [i for i in page.ids if i.startswith("series-")]
    assert len(shown) == 3
    # the alerted series (s1, s2, s3 carry the 3 alerts) are the ones plotted
    assert re.findall(r"<h3>(s\d)</h3>", html) == ["s1", "s2", "s3"]


def test_alert_table_is_capped_and_counts_all() -> None:
    data = make_data(ids=("a",), periods=30, n_alerts=0)
    alerts = [
        {"ds": f"2019-{1 + i % 12:02d}-01", "severity": "info", "message": f"m{i}", "extra": 1}
        for i in range(250)  # fleet-level alerts: no unique_id, no method, an unknown key
    ]
    page = parse(render_report(replace(data, alerts=alerts)))
    text = page_text(page)
    assert "250 alerts; the first 200 are listed." in text
    assert sum(cell.startswith("m") and cell[1:].isdigit() for cell in page.cells) == 200
    assert "Alerts 250 250 info" in text


def test_long_series_is_thinned(tmp_path: Path) -> None:
    n = 20_000
    ds = pd.date_range("2020-01-01", periods=n, freq="h")
    y = np.sin(np.arange(n) / 24) + np.random.default_rng(0).normal(0, 0.1, n)
    actuals = pd.DataFrame({"unique_id": "long", "ds": ds, "y": y})
    forecasts = actuals.rename(columns={"y": "yhat"}).assign(horizon=1)
    data = ReportData(
        title="long", generated_for="x", period="p", actuals=actuals, forecasts=forecasts
    )
    out = write_report(data, tmp_path / "r.html")
    assert out.stat().st_size < 600_000


def test_minmax_thinning_keeps_extremes() -> None:
    values = np.zeros(10_000)
    values[1234], values[8765] = 50.0, -50.0
    values[5000] = np.nan
    idx = minmax_indices(values, 200)
    assert len(idx) <= 202
    assert {0, 1234, 8765, 9999} <= set(idx.tolist())
    assert np.array_equal(minmax_indices(np.arange(5.0), 200), np.arange(5))


def test_rendering_is_deterministic_and_leaves_matplotlib_alone() -> None:
    before = dict(matplotlib.rcParams)
    data = make_data(ids=("a",), periods=30)
    assert render_report(data) == render_report(data)
    assert dict(matplotlib.rcParams) == before


def test_no_pyplot_import() -> None:
    code = (
        "import sys, pandas as pd\n"
        "from chronoguard.dashboard import ReportData, render_report\n"
        "a = pd.DataFrame({'unique_id': 'a', 'ds': pd.date_range('2020', periods=5), 'y': 1.0})\n"
        "render_report(ReportData('t', 'g', 'p', a, a.rename(columns={'y': 'yhat'}).assign(horizon=1)))\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "MPLBACKEND": ""})


def test_dollar_signs_and_odd_ids_do_not_break_plots() -> None:
    data = make_data(ids=("cost $ per $ unit", "a\\b_{c}^d", "42"), periods=30)
    page = parse(render_report(data))
    assert "cost $ per $ unit" in page.cells or "cost $ per $ unit" in page_text(page)
    assert len(page.images) == 1 + 3 * 2


def test_contract_problems_are_named_together() -> None:
    data = make_data(ids=("a",), periods=30)
    with pytest.raises(DataContractError) as caught:
        ReportData(
            title="t",
            generated_for="g",
            period="p",
            actuals=data.actuals.drop(columns=["y"]),
            forecasts=data.forecasts.drop(columns=["yhat"]),
            checks=data.checks.assign(threshold_on="pvalue"),
            alerts=[{"unique_id": "a"}],
            retrains=[{"ds": "2020-01-01", "version": "v2"}],
        )
    problems = caught.value.problems
    assert len(problems) == 5
    text = "\n".join(problems)
    for needle in ("actuals lacks column(s) y", "forecasts lacks column(s) yhat", "'pvalue'"):
        assert needle.replace("'pvalue'", "pvalue") in text
    assert "alerts[0] lacks key(s) ds" in text and "retrains[0] lacks key(s) outcome" in text


def test_unparseable_dates_fail_at_render() -> None:
    data = make_data(ids=("a",), periods=30)
    bad = ReportData(
        title="t",
        generated_for="g",
        period="p",
        actuals=data.actuals,
        forecasts=data.forecasts,
        events=[{"ds": "not a date", "label": "x"}],
    )
    with pytest.raises(DataContractError, match=r"events\.ds"):
        render_report(bad)


def test_string_timezone_and_period_dates_are_accepted() -> None:
    data = make_data(ids=("a",), periods=30)
    actuals = data.actuals.assign(ds=data.actuals["ds"].dt.tz_localize("Europe/Paris"))
    forecasts = data.forecasts.assign(ds=data.forecasts["ds"].dt.to_period("M"))
    history = [{"ds": "2019-01-01", "version": "v1", "reason": "initial"}]
    odd = ReportData(
        title="t",
        generated_for="g",
        period="p",
        actuals=actuals,
        forecasts=forecasts,
        champion_history=history,
    )
    page = parse(render_report(odd))
    assert "2019-01-01" in page.cells


def test_exports() -> None:
    assert sorted(dashboard.__all__) == [
        "FleetSection",
        "ReportData",
        "render_report",
        "write_report",
    ]
    for name in dashboard.__all__:
        assert getattr(dashboard, name) is not None


def test_dashboard_imports_no_other_chronoguard_layer() -> None:
    package = Path(dashboard.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name.startswith("chronoguard"):
                    assert name == "chronoguard.errors" or name.startswith(
                        "chronoguard.dashboard"
                    ), f"{source.name} imports {name}"


# --------------------------------------------------------------------------- advisory tests


def advisory_data() -> ReportData:
    """The toy run with its KS tests marked advisory (iid tests), as monitoring marks them."""
    data = make_data()
    checks = data.checks.assign(advisory=data.checks["method"] == "ks")
    return replace(data, checks=checks)


def test_advisory_findings_are_counted_apart_from_alerts() -> None:
    data = advisory_data()
    checks = data.checks
    positive = checks["decision"].astype(bool)
    n_alerting = int((positive & ~checks["advisory"]).sum())
    n_advisory = int((positive & checks["advisory"]).sum())
    assert n_alerting > 0 and n_advisory > 0  # the toy data has both
    html = render_report(data)
    text = page_text(parse(html))
    # The headline: alerts and advisory findings apart, each in its own colour class.
    assert (
        f"24 check times · {n_alerting} alerts (checks that alert) · "
        f"{n_advisory} advisory findings" in text
    )
    assert f'<span class="alerting">{n_alerting} alerts (checks that alert)</span>' in html
    assert f'<span class="advisory">{n_advisory} advisory findings</span>' in html
    assert f"{n_alerting + n_advisory} flagged" not in text
    colours = dict(re.findall(r"--(bad|advisory): (#[0-9a-f]{6})", html))
    assert colours["advisory"] != colours["bad"]
    assert re.search(r"\.advisory \{ color: var\(--advisory\)", html)
    # Per series.
    for uid, group in checks.groupby("unique_id"):
        own = group["decision"].astype(bool)
        alerting = int((own & ~group["advisory"]).sum())
        advisory = int((own & group["advisory"]).sum())
        section = html.split(f"<h3>{escape(str(uid))}</h3>", 1)[1].split("</p>", 1)[0]
        assert (
            f'{len(group)} checks (<span class="alerting">{alerting} alerting</span>, '
            f'<span class="advisory">{advisory} advisory findings</span>)' in section
        )
    # The checks table: the KS row is advisory, its positives are findings, not alerts.
    ks = checks[checks["method"] == "ks"]
    row = re.search(r'<tr class="advisory">(.*?)</tr>', html, re.S)
    assert row is not None and "ks (advisory)" in row.group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    assert cells[4:7] == [str(len(ks)), "0", str(int(ks["decision"].sum()))]


def test_advisory_mark_is_read_from_stored_details() -> None:
    """The store keeps the mark in each result's details: it counts the same."""
    data = advisory_data()
    stored = data.checks.drop(columns="advisory")
    stored["details"] = [{"advisory": bool(a)} for a in data.checks["advisory"]]
    from_details = render_report(replace(data, checks=stored))
    assert from_details == render_report(data)


def test_without_advisory_tests_every_positive_alerts() -> None:
    data = make_data()
    positives = int(data.checks["decision"].sum())
    text = page_text(parse(render_report(data)))
    assert f"{positives} alerts (checks that alert) · 0 advisory findings" in text


# --------------------------------------------------------------------------- versions chart


def test_versions_chart_covers_the_versions_period_only() -> None:
    data = make_data()  # actuals from 2018-01, the first version at 2020-01
    html = render_report(data)
    shown = re.search(r'<span class="versions-period">(.*?) – (.*?)</span>', html)
    assert shown is not None
    first_version = min(pd.Timestamp(c["ds"]) for c in data.champion_history)
    assert pd.Timestamp(shown.group(1)) == first_version
    assert pd.Timestamp(shown.group(1)) > data.actuals["ds"].min()
    assert pd.Timestamp(shown.group(2)) == data.actuals["ds"].max()


def test_versions_chart_range_is_the_plotted_range() -> None:
    """The x range given to the chart starts half a period before the first version."""
    data = make_data()
    run = report_module._prepare(data)
    period = report_module._versions_period(run)
    assert period is not None
    assert period[0] == pd.Timestamp("2020-01-01")
    assert period[1] == pd.Timestamp("2021-12-01")


# --------------------------------------------------------------------------- error charts


def svgs(html: str) -> dict[str, ET.Element]:
    out = {}
    for chunk in re.findall(r"<svg .*?</svg>", html, re.S):
        element = ET.fromstring(chunk)  # well-formed XML, or this raises
        out[element.attrib["class"].split()[-1]] = element
    return out


def expected_errors(data: ReportData) -> pd.DataFrame:
    joined = data.forecasts.merge(data.actuals, on=["unique_id", "ds"])
    return joined.assign(abs_err=(joined["y"] - joined["yhat"]).abs())


def test_error_per_horizon_is_an_svg_bar_chart_of_the_data() -> None:
    data = make_data()
    charts = svgs(render_report(data))
    assert {"horizon-error", "rolling-error"} <= set(charts)
    chart = charts["horizon-error"]
    bars = chart.findall(f"{SVG}rect")
    expected = expected_errors(data).groupby("horizon")["abs_err"].agg(["mean", "size"])
    assert [int(b.attrib["data-horizon"]) for b in bars] == [1, 2]
    for bar in bars:
        h = int(bar.attrib["data-horizon"])
        assert float(bar.attrib["data-error"]) == pytest.approx(expected.loc[h, "mean"])
        assert int(bar.attrib["data-n"]) == expected.loc[h, "size"]
        assert float(bar.attrib["height"]) > 0
    labels = {t.attrib.get("class"): t.text for t in chart.iter(f"{SVG}text")}
    assert labels["x-label"] == "forecast horizon (steps ahead)"
    assert labels["y-label"] == "MAE"
    # the longer horizon errs more here, so its bar is taller
    assert float(bars[1].attrib["height"]) > float(bars[0].attrib["height"])


def test_rolling_error_is_an_svg_line_of_the_data() -> None:
    data = make_data()
    chart = svgs(render_report(data))["rolling-error"]
    lines = {p.attrib["class"]: p for p in chart.findall(f"{SVG}polyline")}
    errors = expected_errors(data)
    per_time = errors[errors["horizon"] == 1].groupby("ds")["abs_err"].mean()
    title = ET.tostring(chart, encoding="unicode")
    found = re.search(r"window: (\d+) periods", title)
    assert found is not None
    window = int(found.group(1))
    assert 1 < window <= report_module.ROLLING_WINDOW
    assert int(lines["raw"].attrib["data-points"]) == len(per_time)
    assert float(lines["raw"].attrib["data-last"]) == pytest.approx(per_time.iloc[-1])
    assert float(lines["rolling"].attrib["data-last"]) == pytest.approx(
        per_time.iloc[-window:].mean()
    )
    assert len(lines["rolling"].attrib["points"].split()) == len(per_time)
    labels = {t.attrib.get("class"): t.text for t in chart.iter(f"{SVG}text")}
    assert labels["x-label"] == "target date (ds)" and labels["y-label"] == "MAE"


def test_error_charts_say_so_when_nothing_is_scored() -> None:
    data = make_data()
    future = data.forecasts.assign(ds=data.forecasts["ds"] + pd.DateOffset(years=10))
    html = render_report(replace(data, forecasts=future))
    assert "<svg" not in html
    assert "No served forecast has its actual yet: nothing to score." in page_text(parse(html))


def colour_pixels(png_b64: str, colour: str) -> int:
    """How many pixels of the PNG are (nearly) ``colour``."""
    pixels = imread(io.BytesIO(base64.b64decode(png_b64)), format="png")[..., :3]
    target = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(pixels - target).max(axis=-1) < 0.03).sum())


def test_drift_plots_mark_advisory_findings_in_their_own_colour() -> None:
    run = report_module._prepare(advisory_data())
    checks = run.checks[run.checks["unique_id"] == "store_1"]
    xlim = report_module._span(checks["ds"], run.step)
    marked = plots.drift_figure("store_1", checks, xlim)
    unmarked = plots.drift_figure("store_1", checks.assign(advisory=False), xlim)
    assert marked is not None and unmarked is not None
    assert colour_pixels(marked, plots.ADVISORY) > 20
    assert colour_pixels(unmarked, plots.ADVISORY) == 0
    # the advisory positives are no longer drawn as alerts (fewer red pixels)
    assert colour_pixels(marked, plots.FLAGGED) < colour_pixels(unmarked, plots.FLAGGED)
