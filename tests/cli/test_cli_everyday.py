"""Commands a team can script: `monitor` summarised with an exit code that says whether a
check that alerts fired, `alerts list|ack|resolve`, `decisions`, and `--json` on them.

The workspace is the cycle tests' three-series fleet (``south`` shocked by -30 % from March
1981) after its cycles up to June 1981, built in-process; the commands run in-process too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace, open_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from tests.cli.test_cli_access import Cli
from tests.helpers import grant
from tests.orchestration.test_cycle import config, fleet, timeline

UNTIL = pd.Timestamp("1981-06-01")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("everyday") / "ws"
    df = fleet()
    data = root.parent / "fleet.csv"
    df.to_csv(data, index=False)
    with init_workspace(root, config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            if now >= UNTIL:
                break
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
        tokens = {"operator": grant(ws.store, "olga"), "viewer": grant(ws.store, "vic", "viewer")}
    return root, data, tokens


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def test_monitor_exit_code_says_whether_an_alerting_check_fired(
    cli: Cli, built: tuple[Path, Path, dict[str, str]]
) -> None:
    ws, data, tokens = built
    code, out, err = cli(
        "monitor",
        "-w",
        ws,
        "-d",
        data,
        "--now",
        str(UNTIL.date()),
        "--json",
        token=tokens["operator"],
    )
    body = json.loads(out)
    with open_workspace(ws) as w:
        stored = w.store.get_monitoring_results(ds_from=UNTIL, ds_to=UNTIL)
    assert body["checks"] == len(stored) > 0
    alerting = [r for r in body["results"] if r["alert"]]
    assert all(r["flagged"] and not r["advisory"] for r in alerting)
    assert body["alerting"] == len(alerting)
    flagged = [r for r in body["results"] if r["flagged"] and not r["advisory"]]
    assert body["positive"] == len(flagged) >= len(alerting)
    # Each alerting check raised (or keeps open) an alert of the store at that time.
    with open_workspace(ws) as w:
        open_keys = {(a.unique_id, a.kind, a.method) for a in w.store.list_alerts(status="open")}
    assert {(r["unique_id"], r["kind"], r["method"]) for r in alerting} <= open_keys
    assert alerting, "the shocked series should alert by June 1981"
    assert code == 3, err
    assert {r["unique_id"] for r in alerting} >= {"south"}

    # The table form: counts per kind, then only what flagged (every check with --all).
    code, out, _ = cli(
        "monitor", "-w", ws, "-d", data, "--now", str(UNTIL.date()), token=tokens["operator"]
    )
    assert code == 3
    assert f"checks that flagged ({len(flagged)})" in out and "alerting" in out
    assert len(re.findall(r"^ALERT  ", out, re.M)) == len(alerting)
    assert len(re.findall(r"^(ALERT|flag )  ", out, re.M)) == len(flagged)
    code, out_all, _ = cli(
        "monitor",
        "-w",
        ws,
        "-d",
        data,
        "--now",
        str(UNTIL.date()),
        "--all",
        token=tokens["operator"],
    )
    assert f"every check ({body['checks']})" in out_all
    assert len(re.findall(r"^(ok   |flag |note |ALERT)  ", out_all, re.M)) == body["checks"]
    assert re.search(r"^ok     ", out_all, re.M)


def test_alerts_are_listed_acknowledged_and_resolved(
    cli: Cli, built: tuple[Path, Path, dict[str, str]]
) -> None:
    ws, _, tokens = built
    code, out, err = cli("alerts", "list", "-w", ws, "--json", token=tokens["viewer"])
    assert code == 0, err
    listed = json.loads(out)
    with open_workspace(ws) as w:
        stored = w.store.list_alerts()
    assert listed["total"] == len(stored) > 0
    newest = listed["alerts"][0]
    assert newest["id"] == max(a.id for a in stored)  # newest first
    first = newest["id"]
    code, _, err = cli("alerts", "ack", "-w", ws, str(first), token=tokens["viewer"])
    assert code == 2 and "needs operator" in err
    code, out, err = cli(
        "alerts", "ack", "-w", ws, str(first), "--reason", "looking", token=tokens["operator"]
    )
    assert code == 0 and "acknowledged" in out, err
    code, out, _ = cli("alerts", "resolve", "-w", ws, str(first), token=tokens["operator"])
    assert code == 0 and "resolved" in out
    with open_workspace(ws) as w:
        assert next(a for a in w.store.list_alerts() if a.id == first).status == "resolved"
        trail = [e for e in w.store.audit_log(action="set_alert_status")]
    assert [(e.actor, e.payload["to"]) for e in trail[-2:]] == [
        ("olga", "acknowledged"),
        ("olga", "resolved"),
    ]
    code, out, _ = cli(
        "alerts", "list", "-w", ws, "--status", "resolved", "--json", token=tokens["viewer"]
    )
    resolved = json.loads(out)["alerts"]
    assert first in [a["id"] for a in resolved]
    assert {a["status"] for a in resolved} == {"resolved"}
    code, _, err = cli("alerts", "ack", "-w", ws, "999999", token=tokens["operator"])
    assert code == 2 and "999999" in err


def test_decisions_show_what_was_decided_and_why(
    cli: Cli, built: tuple[Path, Path, dict[str, str]]
) -> None:
    ws, _, tokens = built
    code, out, err = cli(
        "decisions", "-w", ws, "--series", "south", "--json", token=tokens["viewer"]
    )
    assert code == 0, err
    body = json.loads(out)
    with open_workspace(ws) as w:
        stored = w.store.list_series_decisions(w.model_name, unique_id="south")
    assert body["total"] == len(stored) > 0
    assert [d["ds"] for d in body["decisions"]] == sorted(
        (d["ds"] for d in body["decisions"]), reverse=True
    )
    assert all(d["unique_id"] == "south" and d["reason"] for d in body["decisions"])
    code, out, _ = cli("decisions", "-w", ws, "--action", "retrain", token=tokens["viewer"])
    assert code == 0 and "retrain" in out
    code, _, err = cli("decisions", "-w", ws, "--action", "bogus", token=tokens["viewer"])
    assert code == 2 and "bogus" in err


def test_forecast_is_made_by_the_deployment(
    cli: Cli, built: tuple[Path, Path, dict[str, str]]
) -> None:
    """Without --version each series is forecast by the version that serves it; with one,
    every series by that version. Runs last: it retrains and promotes south."""
    ws, data, _ = built
    with open_workspace(ws) as w:
        admin = grant(w.store, "ada", "admin")
    code, out, err = cli(
        "retrain",
        "-w",
        ws,
        "-d",
        data,
        "--series",
        "south",
        "--reason",
        "by hand",
        "--json",
        token=admin,
    )
    assert code == 0, err
    v = json.loads(out)["version"]
    with open_workspace(ws) as w:
        if w.store.get_deployment(w.model_name).version_of("south") != v:
            code, _, err = cli("promote", "-w", ws, v, "--series", "south", token=admin)
            assert code == 0, err
        serving = dict(w.store.get_deployment(w.model_name).versions)
    assert serving["south"] == v and len(set(serving.values())) >= 2

    code, out, err = cli("forecast", "-w", ws, "-d", data, "--json", token=admin)
    assert code == 0, err
    body = json.loads(out)
    assert body["version"] == "deployment"
    assert body["versions"] == sorted(set(serving.values()), key=int)
    by_series = {r["unique_id"]: r["version"] for r in body["forecasts"]}
    assert by_series == serving
    # The same forecasts, per series, as each version's own; a version that holds only
    # south cannot forecast the others (what the deployment spares its user).
    code, _, err = cli("forecast", "-w", ws, "-d", data, "--version", v, token=admin)
    assert code == 2 and "2 series have no model in this version: 'north', 'west'" in err
    only_south = ws.parent / "south.csv"
    frame = pd.read_csv(data)
    frame[frame["unique_id"] == "south"].to_csv(only_south, index=False)
    code, out, err = cli(
        "forecast", "-w", ws, "-d", only_south, "--version", v, "--json", token=admin
    )
    assert code == 0, err
    own = json.loads(out)
    assert own["version"] == v and "version" not in own["forecasts"][0]
    south = [r["yhat"] for r in body["forecasts"] if r["unique_id"] == "south"]
    assert south == pytest.approx(
        [r["yhat"] for r in own["forecasts"] if r["unique_id"] == "south"]
    )
    # Recorded: each row under the version that made it.
    code, out, err = cli(
        "forecast", "-w", ws, "-d", data, "--record", "-o", ws.parent / "fc.csv", token=admin
    )
    assert code == 0 and "the deployment (" in out, err
    with open_workspace(ws) as w:
        origin = pd.read_csv(data, parse_dates=["ds"])["ds"].max()
        stored = w.store.get_forecasts()
    stored = stored[stored["origin"] == origin]
    assert dict(zip(stored["unique_id"], stored["version"].astype(str), strict=False)) == serving
