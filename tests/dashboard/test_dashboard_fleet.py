"""The report's fleet section: decisions per series, budget per cycle, the loop against peers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from chronoguard.dashboard import FleetSection, render_report
from chronoguard.dashboard import fleet as fleet_module
from chronoguard.errors import DataContractError
from tests.dashboard.test_dashboard_report import EVIL, decode_png, make_data, page_text, parse

CYCLES = ("2018-10-01", "2018-11-01", "2018-12-01")


def make_fleet(n_series: int = 3, budget: float | None = 0.3) -> FleetSection:
    ids = [f"s{i}" for i in range(n_series - 1)] + [EVIL]
    rows: list[dict[str, Any]] = []
    for c, ds in enumerate(CYCLES):
        for i, uid in enumerate(ids):
            action = "retrain" if i == c else ("over_budget" if i == c + 1 else "keep")
            rows.append(
                {
                    "ds": pd.Timestamp(ds),
                    "unique_id": uid,
                    "group": "business" if i % 2 else "holiday",
                    "tier": "high",
                    "action": action,
                    "trigger": "concept_drift 2/3" if action != "keep" else "",
                    "reason": f"why {uid} at {ds}: {action} <b>&</b>",
                    "expected_loss": 12.5,
                    "cpu_seconds": 0.1,
                    "outcome": "promoted" if action == "retrain" else "none",
                    "gate_reason": None,
                }
            )
    cycles = [
        {
            "ds": ds,
            "first_models": 0,
            "candidates": 2,
            "retrained": 1,
            "over_budget": 1 if c < 2 else 0,
            "waiting": 0,
            "kept": n_series - 2,
            "cpu_charged": 0.1,
            "cpu_left_out": 0.1,
            "cpu_budget": budget,
            "cpu_measured": 0.12,
            "binding": c < 2,
        }
        for c, ds in enumerate(CYCLES)
    ]
    policies = [
        {
            "policy": key,
            "label": f"{key} label",
            "mase": mase,
            "mase_rel_always": mase / 0.8 - 1,
            "refits": refits,
            "refits_share": refits / 9,
            "cpu_seconds": 0.1 * refits,
            "is_loop": key == "chronoguard",
        }
        for key, mase, refits in (
            ("chronoguard", 0.81, 6),
            ("never", 0.9, 3),
            ("always", 0.8, 9),
            ("fixed_1", 0.82, 6),
        )
    ]
    series = [
        {
            "unique_id": uid,
            "group": "holiday",
            "tier": "high",
            "retrains": 1,
            "promoted": 1,
            "over_budget": int(i > 0),
            "waits": 0,
            "mase": 0.8,
            "mase_always": 0.79,
        }
        for i, uid in enumerate(ids)
    ]
    groups = [
        {"name": "holiday", "rule": "unique_id ~ */Holiday", "tier": "high", "n_series": 2},
        {"name": "business", "rule": "unique_id ~ */Business", "tier": "high", "n_series": 1},
    ]
    return FleetSection(
        decisions=pd.DataFrame(rows),
        cycles=cycles,
        policies=policies,
        series=series,
        groups=groups,
        cpu_budget=budget,
        n_origins=3,
        horizon=2,
    )


@pytest.fixture(scope="module")
def fleet_html() -> str:
    return render_report(replace(make_data(), fleet=make_fleet()))


def test_the_fleet_section_shows_peers_budget_and_decisions(fleet_html: str) -> None:
    page = parse(fleet_html)
    assert {"fleet", "peers", "budget", "decisions"} <= page.ids
    text = page_text(page)
    for label in ("chronoguard label", "never label", "always label", "fixed_1 label"):
        assert label in page.cells
    assert "+1.25 %" in page.cells  # 0.81 / 0.80 − 1
    assert "66.7 %" in page.cells  # 6 of always's 9 refits
    assert "budget 0.30 CPU s per cycle, binding in 2 of them" in text
    assert "No group is tier critical" in text
    # two figures: error against compute, and the budget per cycle
    for alt in ("MASE against refits", "CPU seconds charged to each cycle"):
        start = fleet_html.index(f'alt="{alt}')
        src = fleet_html[start:].split('src="', 1)[1].split('"', 1)[0]
        assert decode_png(src).startswith(b"\x89PNG")


def test_every_decision_but_keep_is_listed_with_its_reason_escaped(fleet_html: str) -> None:
    page = parse(fleet_html)
    reasons = [c for c in page.cells if c.startswith("why ")]
    assert len(reasons) == 5  # 3 retrains + 2 over budget; keep decisions are counted only
    assert all(r.endswith("<b>&</b>") for r in reasons)
    assert "<b>&</b>" not in fleet_html and "&lt;b&gt;&amp;&lt;/b&gt;" in fleet_html
    assert EVIL not in fleet_html.replace("&lt;script&gt;", "")
    assert fleet_html.count("<details>") == len(CYCLES) + 1  # one per cycle, + the config


def test_long_fleets_are_capped_with_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet_module, "MAX_DECISION_ROWS", 2)
    monkeypatch.setattr(fleet_module, "MAX_SERIES_ROWS", 1)
    html = render_report(replace(make_data(), fleet=make_fleet(n_series=4)))
    text = page_text(parse(html))
    assert "2 of 6 listed" in text  # 3 retrains and 3 over budget
    assert "3 more are in summary.json" in text
    assert "more decisions of this cycle are not listed" in text


def test_a_critical_group_gets_its_approval_note_and_no_budget_says_unlimited() -> None:
    section = make_fleet(budget=None)
    groups = [{**section.groups[0], "tier": "critical"}, section.groups[1]]
    html = render_report(replace(make_data(), fleet=replace(section, groups=groups)))
    text = page_text(parse(html))
    assert "2 series are tier critical" in text and "awaiting_approval" in text
    assert "budget unlimited CPU s per cycle" in text


def test_a_report_without_a_fleet_has_no_fleet_section() -> None:
    html = render_report(make_data())
    page = parse(html)
    assert not {"fleet", "peers", "budget", "decisions"} & page.ids
    assert 'href="#fleet"' not in html


def test_missing_fleet_keys_are_named_together() -> None:
    with pytest.raises(DataContractError) as info:
        FleetSection(
            decisions=pd.DataFrame({"ds": [pd.Timestamp("2020-01-01")], "unique_id": ["a"]}),
            cycles=[{"ds": "2020-01-01"}],
            policies=[{"policy": "never"}],
        )
    message = str(info.value)
    for problem in (
        "fleet.decisions lacks column(s) action, reason",
        "fleet.cycles[0] lacks key(s) candidates, retrained, over_budget, cpu_charged",
        "fleet.policies[0] lacks key(s) mase, refits",
    ):
        assert problem in message
