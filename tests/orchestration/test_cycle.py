"""The production cycle: per series, state in the store, idempotent, one at a time.

The fleet here is three monthly series (real seat-belt data and two shifted, scaled
copies); one of them drops by 30 % at a known month, so a retrain of that series alone
is expected.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.data import load_frame, validate_frame
from chronoguard.errors import ChronoguardError, WorkspaceBusyError
from chronoguard.lifecycle import init_workspace, open_workspace, train_version
from chronoguard.lifecycle.fleet import VersionCache, deploy_series, rollback_series
from chronoguard.orchestration import LoadedData, run_cycle, run_schedule
from tests.helpers import grant, readline_within, seatbelts, small_config

SHOCK = pd.Timestamp("1981-03-01")
CPU = re.compile(r"[0-9.]+ CPU s")
TIMEOUT = 600
STORE_URL = "CHRONOGUARD_STORE_URL"  # where a workspace keeps its state, if not in its folder
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def fleet() -> pd.DataFrame:
    base = seatbelts(until="1981-11-01")  # before a real December 1981 surprise in all three
    parts = []
    for uid, scale in (("north", 1.0), ("south", 0.6), ("west", 1.4)):
        g = base.assign(unique_id=uid, y=base["y"] * scale)
        if uid == "south":
            g.loc[g["ds"] >= SHOCK, "y"] *= 0.7
        parts.append(g)
    # Through a CSV file and the data contract, as `chronoguard cycle --data` reads it, so
    # the replay here and the cycle processes see the same values.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.csv"
        pd.concat(parts, ignore_index=True).to_csv(path, index=False)
        return validate_frame(load_frame(path), freq="MS").df


def config() -> object:
    return small_config(
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={"validation_window": 3, "margin": 0.05, "max_mase": 5.0},
        retraining={"k": 2, "n": 3, "cooldown": 2},
    )


def timeline(df: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.sort(df["ds"].unique()))


def run_all(ws_dir: Path, df: pd.DataFrame) -> None:
    tl = timeline(df)
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        cache = VersionCache(ws)
        for now in tl[131:]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)


def state(ws_dir: Path) -> dict[str, object]:
    """What two runs of the same cycles must agree on."""
    with open_workspace(ws_dir) as ws:
        m = ws.model_name
        alerts = [
            (a.ds, a.unique_id, a.kind, a.method, a.feature, round(a.statistic, 9), a.status)
            for a in ws.store.list_alerts()
        ]
        decisions = [
            (
                d.ds,
                d.unique_id,
                d.action,
                d.trigger,
                CPU.sub("<measured> CPU s", d.reason),  # measured at each fit
                d.outcome,
                d.challenger_version,
                d.champion_version,
                None if d.challenger_error is None else round(d.challenger_error, 9),
            )
            for d in ws.store.list_series_decisions(m)
        ]
        versions = [
            (
                v.version,
                v.lineage.train_start,
                v.lineage.train_end,
                v.lineage.n_series,
                v.lineage.data_fingerprint,
                v.lineage.trigger,
                v.lineage.parent_version,
            )
            for v in ws.registry.list_versions(m)
        ]
        moves = [
            (x.unique_id, x.at, x.version, x.previous_version, x.reason)
            for x in ws.store.deployment_history(m)
        ]
        fc = ws.store.get_forecasts().drop(columns=["id", "created_at"])
        statuses = sorted((v.version, v.status) for v in ws.store.list_versions(m))
        return {
            "alerts": alerts,
            "decisions": decisions,
            "versions": versions,
            "moves": moves,
            "forecasts": fc.round(9).to_dict(orient="records"),
            "statuses": statuses,
            "deployment": dict(ws.store.get_deployment(m).versions),
        }


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    ws_dir = tmp_path_factory.mktemp("cycle") / "ws"
    run_all(ws_dir, fleet())
    return ws_dir, state(ws_dir)


@pytest.fixture(scope="module", params=BACKENDS)
def replayed_on(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, object], str | None]]:
    """The replay on each store backend, with the URL its workspace reads the store from
    (``None``: the workspace's own SQLite file, the replay of ``replayed``). On PostgreSQL
    the store is a schema of its own, kept for the module; the URL is only set while the
    replay runs, so the module's other tests never see it."""
    if request.param == "sqlite":
        ws_dir, s = request.getfixturevalue("replayed")
        yield ws_dir, s, None
        return
    with request.getfixturevalue("pg_schemas").fresh() as pg:
        ws_dir = tmp_path_factory.mktemp("cycle-pg") / "ws"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(STORE_URL, pg.url)
            run_all(ws_dir, fleet())
            s = state(ws_dir)
        yield ws_dir, s, pg.url


def test_a_shock_in_one_series_retrains_that_series_only(
    replayed: tuple[Path, dict[str, object]],
) -> None:
    _, s = replayed
    decisions = s["decisions"]
    assert isinstance(decisions, list)
    retrains = [d for d in decisions if d[2] == "retrain" and d[3] != "initial"]
    assert retrains, "the shocked series was never retrained"
    assert {d[1] for d in retrains} == {"south"}, retrains
    assert all(d[0] >= SHOCK.to_pydatetime() for d in retrains)
    # every series has one decision per cycle after the first, with a reason
    per_series = {u: [d for d in decisions if d[1] == u] for u in ("north", "south", "west")}
    assert len({len(v) for v in per_series.values()}) == 1
    assert all(d[4] for d in decisions)
    versions = s["versions"]
    assert isinstance(versions, list)
    assert versions[0][3] == 3 and all(v[3] == 1 for v in versions[1:])
    deployment = s["deployment"]
    assert isinstance(deployment, dict)
    assert deployment["north"] == deployment["west"] == "1"
    # The challenger learns from the change: it is trained on the data up to its decision,
    # shock included, and it replaces the champion.
    ws_dir, _ = replayed
    with open_workspace(ws_dir) as ws:
        first = ws.registry.get_version(ws.model_name, "2").lineage
    assert pd.Timestamp(first.train_end) == pd.Timestamp(retrains[0][0])
    assert deployment["south"] != "1"


def test_cycles_run_again_change_nothing(replayed: tuple[Path, dict[str, object]]) -> None:
    ws_dir, before = replayed
    df = fleet()
    with open_workspace(ws_dir) as ws:
        audit = len(ws.store.audit_log())
        for now in timeline(df)[-3:]:
            out = run_cycle(ws, df, freq="MS", now=now)
            assert out.already_done
        assert len(ws.store.audit_log()) == audit
        assert ws.store.verify_audit_chain().ok
    assert state(ws_dir) == before


def test_a_cycle_earlier_than_the_last_is_refused(
    replayed: tuple[Path, dict[str, object]],
) -> None:
    ws_dir, _ = replayed
    df = fleet()
    with open_workspace(ws_dir) as ws, pytest.raises(ChronoguardError, match="forward in time"):
        run_cycle(ws, df, freq="MS", now=pd.Timestamp("1975-01-01"))


def cg(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronoguard", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.slow
def test_cycle_processes_equal_the_replay(
    replayed_on: tuple[Path, dict[str, object], str | None],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same cycles, each one `chronoguard cycle` process (and a `monitor` first for
    some): nothing lives in memory between them, so the state is the same. On SQLite and
    PostgreSQL: the processes' workspace gets a new, empty store on the replay's backend
    (inherited by the processes through the store URL)."""
    _, expected, replay_url = replayed_on
    df = fleet()
    data = tmp_path / "fleet.csv"
    df.to_csv(data, index=False)
    ws_dir = tmp_path / "ws"
    with ExitStack() as stack:
        if replay_url is not None:
            pg = stack.enter_context(request.getfixturevalue("pg_schemas").fresh())
            assert pg.url != replay_url
            monkeypatch.setenv(STORE_URL, pg.url)
        with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
            monkeypatch.setenv("CHRONOGUARD_TOKEN", grant(ws.store, "ops"))
        for i, now in enumerate(timeline(df)[131:]):
            if i % 4 == 2:  # the check step alone first; the cycle continues from it
                res = cg("monitor", "-w", ws_dir, "-d", data, "--now", str(now.date()))
                with open_workspace(ws_dir) as ws:
                    results = ws.store.get_monitoring_results(ds_from=now, ds_to=now)
                alerting = any(
                    r.decision and not (r.details or {}).get("advisory")
                    for r in results.itertuples()
                )
                # 3: a check that alerts fired (the exit code schedulers act on).
                assert res.returncode == (3 if alerting else 0), res.stderr
            res = cg("cycle", "-w", ws_dir, "-d", data, "--now", str(now.date()))
            assert res.returncode == 0, res.stderr
        assert state(ws_dir) == expected


def test_the_schedule_runs_each_arrived_period_once(
    replayed: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    _, expected = replayed
    df = fleet()
    tl = timeline(df)
    clock = {"now": tl[140] + pd.Timedelta(hours=1)}
    slept: list[float] = []

    def tick(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] = clock["now"] + pd.DateOffset(months=1)

    with init_workspace(tmp_path / "ws", config()) as ws:  # type: ignore[arg-type]
        ran = run_schedule(
            ws,
            lambda: LoadedData(df, "MS"),
            clock=lambda: clock["now"],
            sleep=tick,
            poll_seconds=3600,
            max_ticks=len(tl) - 140 + 2,
        )
    nows = [o.now for o in ran]
    assert nows == list(tl[131:]) and len(set(nows)) == len(nows)
    assert all(0 < s <= 3600 for s in slept)
    assert state(tmp_path / "ws") == expected


def test_rollback_moves_one_series_back(replayed: tuple[Path, dict[str, object]]) -> None:
    ws_dir, s = replayed
    deployment = s["deployment"]
    assert isinstance(deployment, dict)
    with open_workspace(ws_dir) as ws:
        at = pd.Timestamp("1990-01-01")
        served = [m.version for m in ws.store.deployment_history(ws.model_name, "south")]
        assert served[0] == "1" and served[-1] == deployment["south"]
        # Each rollback goes one version further back, down to the first.
        for current, before in reversed(list(itertools.pairwise(served))):
            moves = rollback_series(ws, ["south"], by="ana", reason="bad week", at=at)
            assert [(m.unique_id, m.previous_version, m.version) for m in moves] == [
                ("south", before, current)
            ]
        assert ws.store.get_deployment(ws.model_name).versions == {
            "north": "1",
            "south": "1",
            "west": "1",
        }
        with pytest.raises(ChronoguardError, match="no earlier version"):
            rollback_series(ws, ["south"], by="ana", reason="again", at=at)
        # Of the fleet (or a group), a series that never had another version stays; only
        # a selection in which nothing can move is an error.
        deploy_series(ws, {"south": served[-1]}, by="ana", reason="forward again", at=at)
        with pytest.raises(ChronoguardError, match=r"no earlier version .*north"):
            rollback_series(ws, None, by="ana", reason="fleet", at=at, named=True)
        (moved,) = rollback_series(ws, None, by="ana", reason="fleet", at=at)
        assert (moved.unique_id, moved.previous_version, moved.version) == (
            "south",
            served[-1],
            "1",
        )
        assert set(ws.store.get_deployment(ws.model_name).versions.values()) == {"1"}
        with pytest.raises(ChronoguardError, match="no earlier version"):
            rollback_series(ws, None, by="ana", reason="again", at=at)


def test_a_second_cycle_while_one_runs_gets_a_clear_error(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and PostgreSQL: the lock holder is another process (inheriting the store URL)."""
    monkeypatch.setenv("CHRONOGUARD_STORE_URL", store_url)
    df = fleet()
    ws_dir = tmp_path / "ws"
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        monkeypatch.setenv("CHRONOGUARD_TOKEN", grant(ws.store, "ops"))
        holder = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, time, pandas as pd\n"
                "from chronoguard.lifecycle import open_workspace\n"
                f"ws = open_workspace({str(ws_dir)!r})\n"
                "with ws.lock(holder='other cycle', at=pd.Timestamp('2024-01-01')):\n"
                "    print('held', flush=True)\n"
                "    time.sleep(120)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(WorkspaceBusyError, match="other cycle"):
                run_cycle(ws, df, freq="MS", now=timeline(df)[131])
            assert ws.store.list_cycles(ws.model_name) == []
            assert ws.registry.list_versions(ws.model_name) == []
            res = cg("rollback", "-w", ws_dir, "--reason", "at the same time")
            assert res.returncode == 2 and "other cycle" in res.stderr, res.stderr
            assert "Traceback" not in res.stderr
        finally:
            holder.kill()
            holder.wait()
        out = run_cycle(ws, df, freq="MS", now=timeline(df)[131])
        assert out.promoted == ("north", "south", "west")


# `chronoguard ARGS` that stops right after it has taken the workspace lock, says so on
# stdout, and goes on when a line arrives on its stdin.
PAUSED = r"""
import sys
from contextlib import contextmanager
from chronoguard.store import Store

take = Store.lock

@contextmanager
def lock(self, *args, **kwargs):
    with take(self, *args, **kwargs):
        print("lock taken", flush=True)
        sys.stdin.readline()
        yield

Store.lock = lock
sys.argv = ["chronoguard", *sys.argv[1:]]
from chronoguard.cli import main
main()
"""


class Paused:
    """A `chronoguard` command in a process of its own, held inside the workspace lock
    until :meth:`finish`."""

    def __init__(self, tmp_path: Path, *args: str | Path) -> None:
        self._err_path = tmp_path / f"{args[0]}.stderr"
        self._err = self._err_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PAUSED, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        assert self.proc.stdout is not None
        line = readline_within(self.proc.stdout, TIMEOUT)
        if line.strip() != "lock taken":
            done = self.finish()
            pytest.fail(f"`chronoguard {args[0]}` did not take the lock: {line!r}\n{done.stderr}")

    def finish(self) -> subprocess.CompletedProcess[str]:
        """Let the command go on; its exit code and output once it has ended."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write("\n")
            self.proc.stdin.close()
        except BrokenPipeError:  # it ended already
            pass
        try:
            out = self.proc.stdout.read()
            self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
        self._err.close()
        err = self._err_path.read_text()
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


def test_a_cycle_and_a_manual_promote_at_once_one_proceeds_the_other_gets_a_clear_error(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite and PostgreSQL, both ways round, with the real commands in processes of
    their own: while `chronoguard cycle` holds the workspace lock, `chronoguard promote`
    and a second cycle are refused, naming it; while `chronoguard promote` holds it, a
    cycle is refused and writes nothing. The holder then finishes as if it were alone."""
    monkeypatch.setenv(STORE_URL, store_url)
    df = fleet()
    tl = timeline(df)
    data = tmp_path / "fleet.csv"
    df.to_csv(data, index=False)
    ws_dir = tmp_path / "ws"
    series = ("north", "south", "west")
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        monkeypatch.setenv("CHRONOGUARD_TOKEN", grant(ws.store, "ana"))
        m = ws.model_name
        run_cycle(ws, df, freq="MS", now=tl[131])  # version 1 serves every series
        v2 = train_version(
            df[df["ds"] <= tl[131]],
            ws.config,
            ws.registry,
            freq="MS",
            now=tl[131],
            trigger="manual",
        ).version.version
        ws.store.set_version_status(m, v2, "candidate", at=tl[131], by="ana", reason="by hand")
        assert v2 == "2" and ws.store.get_deployment(m).versions == dict.fromkeys(series, "1")

        cycle = Paused(tmp_path, "cycle", "-w", ws_dir, "-d", data, "--now", str(tl[132].date()))
        try:
            res = cg("promote", "-w", ws_dir, v2, "--reason", "at the same time")
            assert res.returncode == 2, res.stderr
            assert f"held by chronoguard cycle at {tl[132]}" in res.stderr, res.stderr
            assert "Traceback" not in res.stderr
            with pytest.raises(WorkspaceBusyError, match=f"held by chronoguard cycle at {tl[132]}"):
                run_cycle(ws, df, freq="MS", now=tl[132])
        finally:
            done = cycle.finish()
        assert done.returncode == 0, done.stderr
        assert [(c.now, c.status) for c in ws.store.list_cycles(m)] == [
            (tl[131].to_pydatetime(), "done"),
            (tl[132].to_pydatetime(), "done"),
        ]
        assert ws.store.get_deployment(m).versions == dict.fromkeys(series, "1")
        assert [x.version for x in ws.store.deployment_history(m)] == ["1"] * 3

        promote = Paused(tmp_path, "promote", "-w", ws_dir, v2, "--reason", "r")
        try:
            audit = len(ws.store.audit_log())
            with pytest.raises(WorkspaceBusyError, match="held by promote by ana since"):
                run_cycle(ws, df, freq="MS", now=tl[133])
            assert len(ws.store.audit_log()) == audit
            assert [c.now for c in ws.store.list_cycles(m)] == [
                tl[131].to_pydatetime(),
                tl[132].to_pydatetime(),
            ]
        finally:
            done = promote.finish()
        assert done.returncode == 0, done.stderr
        assert "deployed v2 to 3 series (from v1)" in done.stdout, done.stdout
        assert ws.store.get_deployment(m).versions == dict.fromkeys(series, v2)
        out = run_cycle(ws, df, freq="MS", now=tl[133])
        assert not out.already_done and out.n_series == 3
        last = ws.store.get_cycle(m, tl[133])
        assert last is not None and last.status == "done"


def test_a_budget_retrains_the_series_worth_most_and_says_why_not_the_other(
    tmp_path: Path,
) -> None:
    """Two series shocked at once, a budget that pays for one fit: the one whose errors cost
    more per unit is retrained, the other is recorded as over budget with the reason."""
    base = fleet()
    df = base.copy()
    df.loc[(df["unique_id"] == "west") & (df["ds"] >= SHOCK), "y"] *= 0.7
    tl = timeline(df)
    ws_dir = tmp_path / "ws"
    with init_workspace(ws_dir, config()) as ws:  # type: ignore[arg-type]
        run_cycle(ws, df, freq="MS", now=tl[131])
        cpu = ws.registry.get_version(ws.model_name, "1").metrics["fit_cpu_seconds_per_series"]
    cfg_file = ws_dir / "chronoguard.toml"
    text = cfg_file.read_text()
    assert "cpu_seconds_per_cycle = 0.0\n" in text
    text = text.replace("cpu_seconds_per_cycle = 0.0\n", f"cpu_seconds_per_cycle = {1.5 * cpu!r}\n")
    text += '\n[[groups]]\nname = "west"\nmatch = "west"\ncost_per_unit_error = 10.0\n'
    cfg_file.write_text(text)
    with open_workspace(ws_dir) as ws:
        assert ws.config.budget.cpu_seconds_per_cycle == pytest.approx(1.5 * cpu)
        cache = VersionCache(ws)
        for now in tl[132:]:
            out = run_cycle(ws, df, freq="MS", now=now, cache=cache)
            if out.retrained:
                break
        assert out.retrained == ("west",), out
        found = {
            d.unique_id: d
            for d in ws.store.list_series_decisions(ws.model_name, ds_from=out.now, ds_to=out.now)
        }
        assert found["west"].action == "retrain" and "chosen, rank 1 of 2" in found["west"].reason
        assert found["south"].action == "over_budget"
        assert "already spent" in found["south"].reason
        assert found["west"].expected_loss > found["south"].expected_loss
        assert found["north"].action in ("keep", "wait")


def test_a_critical_series_that_passes_the_gate_waits_for_approval(tmp_path: Path) -> None:
    df = fleet()
    ws_dir = tmp_path / "ws"
    with init_workspace(ws_dir, config()):  # type: ignore[arg-type]
        pass
    cfg_file = ws_dir / "chronoguard.toml"
    cfg_file.write_text(
        cfg_file.read_text()
        + '\n[[groups]]\nname = "south"\nmatch = "south"\ntier = "critical"\n'
        + "cost_per_unit_error = 5.0\n"
    )
    with open_workspace(ws_dir) as ws:
        cache = VersionCache(ws)
        for now in timeline(df)[131:]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
        decisions = ws.store.list_series_decisions(ws.model_name, unique_id="south")
        requests = ws.store.list_approvals(ws.model_name)
        held = [
            d
            for d in decisions
            if d.action == "retrain" and d.trigger != "initial" and d.gate_reason is not None
        ]
        outcomes = [d.outcome for d in held]
        assert held and "promoted" not in outcomes, outcomes
        assert all(d.tier == "critical" for d in decisions if d.tier is not None)
        assert ws.store.get_deployment(ws.model_name).versions["south"] == "1"
        # Each challenger that passed the gate opened a four-eyes request; nobody voted in
        # the replay, so each expired a month later (72 hours by default), or was
        # superseded by the next request, and its decision was closed as rejected.
        assert requests and {r.policy for r in requests} == {"four_eyes"}
        assert {r.series for r in requests} == {("south",)}
        for r in requests[:-1]:
            assert r.status in ("expired", "superseded"), r
        last = requests[-1]
        assert last.status in ("pending", "expired", "superseded"), last
        closed = {pd.Timestamp(r.as_of) for r in requests if r.status != "pending"}
        for d in held:
            if pd.Timestamp(d.ds) in closed:
                assert d.outcome == "rejected" and "approval request" in (d.gate_reason or ""), d
            else:
                assert d.outcome in ("awaiting_approval", "rejected"), d


def test_a_group_that_matches_no_series_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    from chronoguard.errors import ConfigError

    df = fleet()
    ws_dir = tmp_path / "ws"
    with init_workspace(ws_dir, config()):  # type: ignore[arg-type]
        pass
    cfg_file = ws_dir / "chronoguard.toml"
    cfg_file.write_text(
        cfg_file.read_text() + '\n[[groups]]\nname = "east"\nmatch = "east*"\ntier = "high"\n'
    )
    with open_workspace(ws_dir) as ws:
        with pytest.raises(ConfigError, match="east"):
            run_cycle(ws, df, freq="MS", now=timeline(df)[131])
        assert ws.store.list_cycles(ws.model_name) == []
        assert ws.registry.list_versions(ws.model_name) == []
        assert ws.store.audit_log() == []
