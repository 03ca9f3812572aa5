"""``chronoguard demo --fleet``: the tourism fleet replayed with groups and a budget, and peers.

The full demo (Queensland's 48 series over 20 quarters) takes minutes; these tests run its
code path on Canberra's 4 series over 8 quarters.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from tests.cli.test_cli import cg

SUBSET = ("--fleet-series", "Canberra/*", "--fleet-quarters", "8")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    ws = tmp_path_factory.mktemp("fleet") / "ws"
    res = cg("demo", "--fleet", *SUBSET, "--workspace", ws)
    assert res.returncode == 0, res.stdout + res.stderr
    return ws, json.loads((ws / "summary.json").read_text()), res.stdout


@pytest.mark.slow
def test_the_fleet_demo_summarises_decisions_budget_and_peers(
    fleet: tuple[Path, dict[str, Any], str],
) -> None:
    _, s, stdout = fleet
    f = s["fleet"]
    n, k = f["n_series"], f["n_origins"]
    assert (n, k, f["horizon"]) == (4, 8, 8)
    assert s["source"] == "tourism (Canberra/*, 4 series)"
    assert {g["name"]: g["n_series"] for g in f["groups"]} == {
        "business": 1,
        "holiday": 1,
        "visiting": 1,
        "other": 1,
    }
    assert f["cpu_seconds_per_cycle"] == 0.3

    # One decision per series and cycle, each with the reason the engine stored.
    decisions = f["decisions"]
    cycles = f["budget_per_cycle"]
    assert len(decisions) == n * len(cycles) == n * (k + 1)
    assert all(d["reason"] and d["group"] and d["tier"] for d in decisions)
    for c in cycles:
        assert c["candidates"] == c["retrained"] + c["over_budget"]
        assert c["first_models"] + c["candidates"] + c["waiting"] + c["kept"] == n
        assert c["cpu_charged"] <= c["cpu_budget"] * (1 + 1e-9)
        assert c["binding"] == (c["over_budget"] > 0)
    assert cycles[0]["first_models"] == n and cycles[0]["cpu_measured"] > 0

    # The peers on the same origins, and the loop's refits from its own cycles.
    p = f["policies"]
    assert set(p) == {"chronoguard", "never", "always", "fixed_1", "trigger_3"}
    assert p["always"]["refits"] == n * k
    assert p["never"]["refits"] == n
    assert p["fixed_1"]["refits"] == n * math.ceil(k / 4)
    assert p["chronoguard"]["refits"] == sum(c["first_models"] + c["retrained"] for c in cycles)
    assert p["always"]["mase_rel_always"] == 0 and p["always"]["refits_share"] == 1
    for key, v in p.items():
        assert v["mase"] > 0 and v["cpu_seconds"] > 0, key
        assert v["refits_share"] == pytest.approx(v["refits"] / (n * k), abs=1e-6)
    assert sum(x["retrains"] for x in f["series"]) == sum(c["retrained"] for c in cycles)
    assert "against the peers" in stdout and "retraining budget per cycle" in stdout


@pytest.mark.slow
def test_the_fleet_report_shows_decisions_budget_and_peers(
    fleet: tuple[Path, dict[str, Any], str],
) -> None:
    ws, s, _ = fleet
    html = (ws / "reports" / "replay.html").read_text(encoding="utf-8")
    for anchor in ('id="fleet"', 'id="peers"', 'id="budget"', 'id="decisions"'):
        assert anchor in html
    for text in (
        "Against the peers: error and compute",
        "Budget spent per cycle",
        "Decisions per series",
        "always (refit every series at every origin)",
        "fixed (refit every season)",
        "chronoguard (this replay)",
        "No group is tier critical",
        "Canberra/ACT/Business",
    ):
        assert text in html, text
    assert html.count("<details>") == len(s["fleet"]["budget_per_cycle"]) + 1  # + the config
    # every decision other than keep is listed with its stored reason
    listed = [d for d in s["fleet"]["decisions"] if d["action"] != "keep"]
    assert listed
    for d in listed:
        assert str(escape(d["reason"])) in html


def test_the_fleet_demo_refuses_a_workspace_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    res = cg("demo", "--fleet", *SUBSET, "--workspace", tmp_path)
    assert res.returncode == 2
    assert f"workspace {tmp_path} is not empty" in res.stderr
    assert "choose a new directory" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something"]
    plain = cg("demo", "--workspace", tmp_path)  # the same words as the seatbelts demo
    assert plain.returncode == 2 and plain.stderr == res.stderr


def test_the_fleet_options_need_fleet_and_a_glob_that_matches(tmp_path: Path) -> None:
    res = cg("demo", "--fleet-series", "*", "--workspace", tmp_path / "a")
    assert res.returncode == 2 and "go with --fleet" in res.stderr
    res = cg("demo", "--fleet", "--fleet-series", "Atlantis/*", "--workspace", tmp_path / "b")
    assert res.returncode == 2 and "matches none of tourism's 304 series" in res.stderr
    res = cg("demo", "--fleet", "--fleet-quarters", "3", "--workspace", tmp_path / "c")
    assert res.returncode == 2 and "replay at least 8 quarters" in res.stderr
    assert not any(tmp_path.iterdir())
    assert "--fleet" in cg("demo", "--help").stdout
