"""``--json`` on every command that prints a result: the output is one JSON document (JSON
Lines for ``schedule``), nothing else is on stdout, and its values are the store's.

One workspace is built once for the module, through the CLI itself, in-process: the cycle
tests' three-series fleet (``south`` shocked by -30 % from March 1981, tier critical with
one approver) under SeasonalNaive, its cycles from December 1979 to June 1981 run by
``cycle`` and ``schedule``, then a retrain, a trained version promoted to north and held
for south (rejected), a second one approved for south and rolled back, and the reads.
Every command's JSON is kept, and each test checks some of them against what the store
holds afterwards. ``demo`` (a minute of AutoETS) is the one slow test.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pytest
import typer

from chronoguard.cli import app, main
from chronoguard.lifecycle import open_workspace
from tests.orchestration.test_cycle import fleet

FIRST = "1979-12-01"  # the first cycle: the end of the 132-month initial window
EARLY_END = "1981-06-01"  # cycles run up to here; the full data goes on to November

CONFIG = """
[data]
freq = "MS"
season_length = 12

[model]
name = "SeasonalNaive"
registered_name = "json-fleet"

[forecast]
horizon = 3

[training]
initial_window = 132
backtest_windows = 2

[gate]
validation_window = 3
margin = 0.05
max_mase = 5.0

[retraining]
k = 2
n = 3
cooldown = 2

"""
FLEET_CONFIG = (
    CONFIG
    + """
[[groups]]
name = "south"
match = "south"
tier = "critical"

[approvals]
policy = { critical = "one" }
expires_after_hours = 72.0
"""
)

GROUPS = {"alerts", "token", "audit"}  # commands of commands

# Commands that print no result to script against, and why.
NO_JSON = {
    # A long-running HTTP service: it prints one line saying where it listens (on stderr),
    # then serves; what it serves is JSON already (OpenAPI at /docs).
    "serve",
}


@dataclass(frozen=True)
class Run:
    command: str  # its full name: "cycle", "alerts ack"
    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as exactly one JSON document (strict: no NaN), after checking the exit."""
        return json.loads(self.out, parse_constant=_refuse)


def _refuse(name: str) -> None:
    raise AssertionError(f"{name} in the JSON: not strict JSON")


class Cli:
    """``chronoguard ARGS`` in this process (``main()``, as the console script calls it),
    with stdout and stderr captured apart and the token in CHRONOGUARD_TOKEN."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.mp = mp
        mp.setenv("COLUMNS", "200")

    def __call__(self, *args: str | Path, token: str | None = None) -> Run:
        if token is None:
            self.mp.delenv("CHRONOGUARD_TOKEN", raising=False)
        else:
            self.mp.setenv("CHRONOGUARD_TOKEN", token)
        self.mp.setattr(sys, "argv", ["chronoguard", *map(str, args)])
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        words = [str(a) for a in args[:2]]
        command = " ".join(words if words[0] in GROUPS else words[:1])
        return Run(command, code, out.getvalue(), err.getvalue())


@dataclass
class Story:
    ws: Path
    early: Path
    full: Path
    config: Path
    tokens: dict[str, str]
    runs: dict[str, Run]

    def body(self, name: str, code: int = 0) -> Any:
        run = self.runs[name]
        assert run.code == code, f"{name}: exit {run.code}\n{run.err}"
        return run.json()


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    root = tmp_path_factory.mktemp("json")
    df = fleet()
    early, full = root / "early.csv", root / "full.csv"
    df[df["ds"] <= pd.Timestamp(EARLY_END)].to_csv(early, index=False)
    df.to_csv(full, index=False)
    config = root / "fleet.toml"
    config.write_text(FLEET_CONFIG)
    ws = root / "ws"
    runs: dict[str, Run] = {}
    tokens: dict[str, str] = {}
    with pytest.MonkeyPatch.context() as mp:
        cli = Cli(mp)

        def run(name: str, *args: str | Path, who: str | None = None) -> Run:
            runs[name] = got = cli(*args, "--json", token=None if who is None else tokens[who])
            return got

        run("init", "init", "-w", ws, "-c", config)
        tokens["root"] = run(
            "token create", "token", "create", "root", "--role", "admin", "-w", ws
        ).json()["secret"]
        for name, role in (("ana", "operator"), ("bo", "approver"), ("cy", "approver")):
            got = run(
                f"token create {name}",
                "token",
                "create",
                name,
                "--role",
                role,
                "-w",
                ws,
                who="root",
            )
            tokens[name] = got.json()["secret"]
        run("cycle", "cycle", "-w", ws, "-d", early, "--now", FIRST, who="ana")
        run("schedule", "schedule", "-w", ws, "-d", early, "--ticks", "1", "--poll", "0", who="ana")
        run("cycle again", "cycle", "-w", ws, "-d", early, who="ana")
        run("monitor", "monitor", "-w", ws, "-d", early, who="ana")
        run(
            "retrain",
            "retrain",
            "-w",
            ws,
            "-d",
            full,
            "--now",
            "1981-07-01",
            "--series",
            "north",
            who="ana",
        )
        trained = run("train", "train", "-w", ws, "-d", full, "--reason", "by hand", who="ana")
        v = str(trained.json()["version"])
        run("promote north", "promote", "-w", ws, v, "--series", "north", who="ana")
        held = run("promote south", "promote", "-w", ws, v, "--series", "south", who="ana")
        run("approvals", "approvals", "-w", ws)
        first = str(held.json()["requests"][0]["id"])
        run("reject", "reject", "-w", ws, first, "--reason", "not now", who="cy")
        later = run(
            "train again", "train", "-w", ws, "-d", full, "--until", "1981-09-01", who="ana"
        )
        again = run(
            "promote south again",
            "promote",
            "-w",
            ws,
            str(later.json()["version"]),
            "--series",
            "south",
            who="ana",
        )
        second = str(again.json()["requests"][0]["id"])
        run("approve", "approve", "-w", ws, second, "--reason", "plot checked", who="bo")
        run(
            "rollback", "rollback", "-w", ws, "--series", "south", "--reason", "bad week", who="ana"
        )
        run("approvals --all", "approvals", "-w", ws, "--all")
        run("deployment", "deployment", "-w", ws, "--series", "south")
        run("versions", "versions", "-w", ws)
        run("forecast", "forecast", "-w", ws, "-d", early)
        run("forecast --output", "forecast", "-w", ws, "-d", early, "-o", root / "fc.csv")
        alerts = run("alerts list", "alerts", "list", "-w", ws).json()["alerts"]
        if alerts:
            oldest = str(alerts[-1]["id"])
            run("alerts ack", "alerts", "ack", "-w", ws, oldest, "--reason", "looking", who="ana")
            run("alerts resolve", "alerts", "resolve", "-w", ws, oldest, who="ana")
        run("alerts outbox", "alerts", "outbox", "-w", ws, "--status", "all")
        run("alerts deliver", "alerts", "deliver", "-w", ws, who="ana")
        run("decisions", "decisions", "-w", ws, "--series", "south")
        run("token revoke", "token", "revoke", "cy", "-w", ws, who="root")
        run("token list", "token", "list", "-w", ws, who="root")
        run("init again", "init", "-w", ws, "-c", config, who="root")
        run("audit show", "audit", "show", "-w", ws, "--last", "5")
        run("audit verify", "audit", "verify", "-w", ws)
        yield Story(ws, early, full, config, tokens, runs)


def leaf_commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command under ``group`` (a click group, as typer builds it), by its full name.
    Duck-typed: typer vendors its own click, whose classes are not ``click``'s."""
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from leaf_commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def without_json(typer_app: typer.Typer) -> list[str]:
    """The commands of ``typer_app`` that have no --json option, or whose help does not say
    what it prints (the exceptions in NO_JSON left out)."""
    return [
        name
        for name, cmd in leaf_commands(typer.main.get_command(typer_app))
        if name not in NO_JSON
        and not (
            any("--json" in p.opts for p in cmd.params) and "--json prints" in (cmd.help or "")
        )
    ]


def test_every_command_that_prints_a_result_has_json() -> None:
    commands = dict(leaf_commands(typer.main.get_command(app)))
    assert {"init", "cycle", "alerts ack", "token create", "audit verify", "serve"} <= set(commands)
    assert without_json(app) == []
    assert set(commands) >= NO_JSON, "an exception names a command that no longer exists"


def test_the_enumeration_sees_a_command_without_json() -> None:
    probe = typer.Typer()
    sub = typer.Typer()
    probe.add_typer(sub, name="group")

    @probe.command()
    def listed(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """A command.

        --json prints {}."""

    @probe.command()
    def undocumented(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """A command whose help does not say what its JSON holds."""

    @sub.command()
    def plain() -> None:
        """A command without --json, in a group."""

    assert without_json(probe) == ["undocumented", "group plain"]


def documented_keys(command: str) -> set[str] | None:
    """The keys a command's help says its JSON has ("--json prints {a, b, c}"), or None
    when it refers to another command's."""
    commands = dict(leaf_commands(typer.main.get_command(app)))
    found = re.search(
        r"--json prints[^{]*?\{([^}]*)\}", " ".join((commands[command].help or "").split())
    )
    return None if found is None else {k.strip() for k in found.group(1).split(",")}


def test_the_json_has_the_keys_its_help_lists(story: Story) -> None:
    checked = set()
    for name, run in story.runs.items():
        keys = documented_keys(run.command)
        if keys is None:
            continue
        bodies = (
            [json.loads(x) for x in run.out.splitlines()]
            if run.command == "schedule"
            else [run.json()]
        )
        for body in bodies:
            extra = {k for k in set(body) - keys if not k.startswith("coverage_")}  # per level
            assert (keys - set(body), extra) == (set(), set()), name
        checked.add(run.command)
    assert len(checked) >= 20, checked


def test_only_the_json_is_on_stdout(story: Story) -> None:
    for name, run in story.runs.items():
        assert run.code in (0, 3), f"{name}: exit {run.code}\n{run.err}"  # 3: monitor alerted
        if name == "schedule":
            assert all(json.loads(line) for line in run.out.splitlines())
        else:
            assert isinstance(run.json(), dict), name


def test_init_and_tokens(story: Story) -> None:
    made = story.body("init")
    assert made == {
        "workspace": str(story.ws.resolve()),
        "config_file": str((story.ws / "chronoguard.toml").resolve()),
        "config_written": True,
        "model": "json-fleet",
    }
    assert story.body("init again")["config_written"] is False

    root = story.body("token create")
    assert (root["name"], root["role"], root["first"], root["active"]) == (
        "root",
        "admin",
        True,
        True,
    )
    assert root["secret"] == story.tokens["root"] and "secret_sha256" not in root
    assert story.body("token create ana")["first"] is False
    # The note that the secret follows stays on stderr.
    assert "shown this once" in story.runs["token create"].err

    revoked = story.body("token revoke")
    assert (
        revoked["name"] == "cy" and revoked["active"] is False and revoked["revoked_by"] == "root"
    )
    listed = {t["name"]: t for t in story.body("token list")["tokens"]}
    with open_workspace(story.ws) as w:
        stored = {t.name: t for t in w.store.list_tokens()}
    assert set(listed) == set(stored) == {"root", "ana", "bo", "cy"}
    for name, t in stored.items():
        assert listed[name]["role"] == t.role
        assert listed[name]["active"] == t.active
        assert listed[name]["created_at"] == t.created_at.isoformat()
        assert "secret_sha256" not in listed[name]


def test_cycle_and_schedule(story: Story) -> None:
    first = story.body("cycle")
    assert first["model_name"] == "json-fleet"
    assert first["now"] == "1979-12-01T00:00:00"
    assert first["already_done"] is False and first["n_series"] == 3
    assert first["delivery"] is None  # no channel configured
    lines = story.runs["schedule"].out.splitlines()
    cycles = [json.loads(line) for line in lines]
    months = pd.date_range("1980-01-01", EARLY_END, freq="MS")
    assert [c["now"] for c in cycles] == [t.isoformat() for t in months]
    assert all(set(c) == set(first) for c in cycles)
    again = story.body("cycle again")
    assert again["now"] == pd.Timestamp(EARLY_END).isoformat() and again["already_done"] is True
    with open_workspace(story.ws) as w:
        ledger = {
            pd.Timestamp(c.now).isoformat(): c.summary for c in w.store.list_cycles("json-fleet")
        }
    for c in [first, *cycles]:
        for key in (
            "checked",
            "n_series",
            "alerts_raised",
            "retrained",
            "promoted",
            "forecasts_served",
        ):
            assert ledger[c["now"]][key] == c[key], (c["now"], key)


def test_monitor_retrain_and_train(story: Story) -> None:
    run = story.runs["monitor"]
    body = run.json()
    assert body["at"] == pd.Timestamp(EARLY_END).isoformat()
    assert run.code == (3 if body["alerting"] else 0)
    with open_workspace(story.ws) as w:
        checks = w.store.get_monitoring_results(
            ds_from=pd.Timestamp(EARLY_END), ds_to=pd.Timestamp(EARLY_END)
        )
        versions = {v.version: v for v in w.registry.list_versions("json-fleet")}
        decisions = w.store.list_series_decisions(
            "json-fleet", ds_from=pd.Timestamp("1981-07-01"), ds_to=pd.Timestamp("1981-07-01")
        )
    assert body["checks"] == len(checks) > 0

    retrained = story.body("retrain")
    assert retrained["now"] == "1981-07-01T00:00:00" and retrained["trigger"] == "manual"
    assert list(retrained["gates"]) == ["north"]
    gate = retrained["gates"]["north"]
    assert set(gate) == {
        "unique_id",
        "passed",
        "metric",
        "challenger_error",
        "champion_error",
        "champion_version",
        "reason",
    }
    assert (retrained["promoted"] if gate["passed"] else retrained["rejected"]) == ["north"]
    (north,) = decisions
    assert north.challenger_version == retrained["version"]
    assert north.outcome == ("promoted" if gate["passed"] else "rejected")

    trained = story.body("train")
    v = versions[trained["version"]]
    assert trained["deployed"] is False and trained["series"] == ["north", "south", "west"]
    assert trained["lineage"]["trigger"] == "by hand" == v.lineage.trigger
    assert trained["lineage"]["data_fingerprint"] == v.lineage.data_fingerprint
    assert trained["train_end"] == "1981-11-01T00:00:00"
    assert trained["metrics"]["backtest_mase"] == pytest.approx(v.metrics["backtest_mase"])


def test_promote_approve_rollback_reject(story: Story) -> None:
    v = story.body("train")["version"]
    north = story.body("promote north")
    assert north["version"] == v and north["requests"] == [] and north["unchanged"] == []
    (move,) = north["moves"]
    assert (move["unique_id"], move["version"], move["by"]) == ("north", v, "ana")

    held = story.body("promote south")
    assert held["moves"] == [] and len(held["requests"]) == 1
    request = held["requests"][0]
    assert request["series"] == ["south"] and request["tier"] == "critical"
    assert (request["policy"], request["required_approvals"], request["author"]) == (
        "one",
        1,
        "ana",
    )
    assert request["status"] == "pending" and request["votes"] == []
    pending = story.body("approvals")["requests"]
    assert [r["id"] for r in pending] == [request["id"]]
    assert pending[0]["approvers"] == []

    rejected = story.body("reject")
    assert rejected["request"]["id"] == request["id"]
    assert rejected["request"]["status"] == "rejected" and rejected["moves"] == []
    assert rejected["vote"]["by"] == "cy" and rejected["vote"]["reason"] == "not now"
    assert rejected["deployed"] == [] and rejected["watches_opened"] == 0

    later = story.body("train again")["version"]
    assert int(later) == int(v) + 1
    second = story.body("promote south again")["requests"][0]
    approved = story.body("approve")
    assert approved["request"]["id"] == second["id"] != request["id"]
    assert approved["vote"]["by"] == "bo" and approved["vote"]["vote"] == "approve"
    assert approved["request"]["status"] == "approved"
    assert approved["request"]["approvers"] == ["bo"]
    assert approved["deployed"] == ["south"]
    assert [(m["unique_id"], m["version"]) for m in approved["moves"]] == [("south", later)]

    (back,) = story.body("rollback")["moves"]
    assert (back["unique_id"], back["previous_version"]) == ("south", later)
    assert back["reason"].endswith("bad week") and back["by"] == "ana"

    closed = {r["id"]: r for r in story.body("approvals --all")["requests"]}
    assert (closed[request["id"]]["status"], closed[second["id"]]["status"]) == (
        "rejected",
        "approved",
    )

    dep = story.body("deployment")
    with open_workspace(story.ws) as w:
        stored = w.store.get_deployment("json-fleet")
        history = w.store.deployment_history("json-fleet", ["south"])
        requests = w.store.list_approvals("json-fleet")
    assert dep["versions"] == dict(stored.versions)
    assert dep["versions"]["north"] == v and dep["versions"]["south"] == back["version"]
    assert dep["since"] == {u: t.isoformat() for u, t in stored.since.items()}
    assert [m["id"] for m in dep["history"]] == [m.id for m in history]
    assert dep["history"][-1] == back
    assert isinstance(dep["verdicts"], list) and isinstance(dep["watches"], list)
    assert {r.id: r.status for r in requests} == {i: r["status"] for i, r in closed.items()}


def test_versions_and_forecast(story: Story) -> None:
    listed = story.body("versions")["versions"]
    with open_workspace(story.ws) as w:
        registered = w.registry.list_versions("json-fleet")
        statuses = {v.version: v.status for v in w.store.list_versions("json-fleet")}
        dep = w.store.get_deployment("json-fleet")
    assert [v["version"] for v in listed] == [v.version for v in registered]
    for got, v in zip(listed, registered, strict=True):
        assert got["aliases"] == list(v.aliases)
        assert got["status"] == statuses.get(v.version)
        assert got["lineage"]["train_end"] == v.lineage.train_end
    assert any("champion" in v["aliases"] for v in listed)

    fc = story.body("forecast")
    # By the deployment: each series by the version that serves it, named on its rows.
    assert fc["version"] == "deployment"
    assert fc["versions"] == sorted(set(dep.versions.values()), key=int)
    assert {r["unique_id"]: r["version"] for r in fc["forecasts"]} == dict(dep.versions)
    assert fc["origin"] == pd.Timestamp(EARLY_END).isoformat() and fc["horizon"] == 3
    assert fc["output"] is None and fc["rows"] == len(fc["forecasts"]) == 3 * 3
    assert {r["unique_id"] for r in fc["forecasts"]} == set(dep.versions)
    assert all(isinstance(r["yhat"], float) for r in fc["forecasts"])
    to_file = story.body("forecast --output")
    assert to_file["forecasts"] is None and to_file["rows"] == fc["rows"]
    written = pd.read_csv(to_file["output"])
    assert written["yhat"].tolist() == pytest.approx([r["yhat"] for r in fc["forecasts"]])


def test_alerts_decisions_and_audit(story: Story) -> None:
    listed = story.body("alerts list")
    if "alerts ack" in story.runs:
        acked, resolved = story.body("alerts ack"), story.body("alerts resolve")
        assert acked["id"] == resolved["id"] == listed["alerts"][-1]["id"]
        assert (acked["status"], resolved["status"]) == ("acknowledged", "resolved")
    with open_workspace(story.ws) as w:
        alerts = w.store.list_alerts()
        decisions = w.store.list_series_decisions("json-fleet", unique_id=["south"])
        entries = w.store.audit_log(last=5)
        verdict = w.store.verify_audit_chain()
    assert listed["total"] == len(alerts) > 0, "the shocked series should have alerted"
    assert "alerts ack" in story.runs
    assert story.body("alerts deliver") == {"sent": 0, "failed": 0, "held": 0, "errors": []}
    assert story.body("alerts outbox") == {"total": 0, "notifications": []}

    body = story.body("decisions")
    assert body["total"] == len(decisions)
    assert [d["id"] for d in body["decisions"]] == [d.id for d in decisions[::-1]][:50]

    shown = story.body("audit show")
    # Read after `audit show`: the later commands (verify) write no audit rows.
    assert [e["id"] for e in shown["entries"]] == [e.id for e in entries]
    assert shown["head"] == {"id": entries[-1].id, "hash": entries[-1].hash}
    assert shown["entries"][-1]["payload"] == entries[-1].payload
    ok = story.body("audit verify")
    assert ok["ok"] is True and ok["rows_checked"] == verdict.rows_checked
    assert ok["message"] == str(verdict) and ok["broken_id"] is None


def test_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    df = fleet()
    north, plain = tmp_path / "north.csv", tmp_path / "plain.toml"
    df[(df["unique_id"] == "north") & (df["ds"] <= pd.Timestamp("1980-12-01"))].to_csv(
        north, index=False
    )
    plain.write_text(CONFIG)  # no groups: the replay has one series
    got = Cli(monkeypatch)("replay", "-d", north, "-c", plain, "-w", tmp_path / "ws", "--json")
    assert got.code == 0, got.err
    s = got.json()
    written = json.loads((tmp_path / "ws" / "summary.json").read_text())
    assert s == json.loads(json.dumps(written), parse_constant=lambda _: None)
    assert s["period"] == ["1980-01-01", "1980-12-01"] and s["registered_model"] == "json-fleet"
    assert s["n_periods"] == 12 and s["champion"] == "1"
    assert "replay" in got.err  # the progress bar, on stderr
    keys = documented_keys("replay")
    assert keys is not None and keys <= set(s)


def test_an_error_under_json_is_one_line_on_stderr_and_exit_2(
    story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(monkeypatch)
    for args in (
        ("promote", "-w", story.ws, "99", "--json"),
        ("forecast", "-w", story.ws, "-d", story.early, "--horizon", "0", "--json"),
        ("alerts", "ack", "-w", story.ws, "999999", "--json"),
    ):
        got = cli(*args, token=story.tokens["ana"])
        lines = [x for x in got.err.splitlines() if x.strip()]
        assert got.code == 2 and got.out == "", (args, got)
        assert len(lines) == 1 and lines[0].startswith("error: "), got.err


@pytest.mark.slow
def test_demo_prints_its_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = Cli(monkeypatch)("demo", "-w", tmp_path / "demo", "--json")
    assert got.code == 0, got.err
    s = got.json()
    assert s["source"] == "seatbelts" and s["known_changes"][0]["first_alert"]
    assert s == json.loads(
        (tmp_path / "demo" / "summary.json").read_text(), parse_constant=lambda _: None
    )
