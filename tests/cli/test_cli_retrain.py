"""`chronoguard retrain` by hand: refused, naming the fix, at a time the cycle already
decided the series (its decision is kept as made), and run at a later time, before the
cycle of that time, which then decides the other series and keeps it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import open_workspace
from chronoguard.orchestration import run_cycle
from tests.cli.test_cli_access import Cli, one_line
from tests.serving.support import MODEL, ORIGIN_INDEX, build_workspace


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


@pytest.mark.slow
def test_a_manual_retrain_keeps_the_cycles_decision_and_goes_in_its_own_time(
    cli: Cli, tmp_path: Path
) -> None:
    built = build_workspace(tmp_path / "ws")
    dates = sorted(built.data["ds"].unique())
    decided, later = pd.Timestamp(dates[ORIGIN_INDEX + 1]), pd.Timestamp(dates[ORIGIN_INDEX + 2])
    with open_workspace(built.root) as ws:
        run_cycle(ws, built.data, freq="MS", now=decided)
        before = [
            (d.unique_id, d.action, d.reason)
            for d in ws.store.list_series_decisions(MODEL, ds_from=decided, ds_to=decided)
        ]
        versions = len(ws.store.list_versions(MODEL))
    assert before and {a for _, a, _ in before} == {"keep"}, before
    data = tmp_path / "fleet.csv"
    built.data.to_csv(data, index=False)
    op = built.tokens["operator"]

    args = ("retrain", "-w", built.root, "-d", data, "--series", "north", "--reason", "by hand")
    code, _, err = cli(*args, "--now", str(decided.date()), token=op)
    assert code == 2, err
    line = one_line(err)
    assert f"the cycle at {decided} already decided north (keep" in line
    assert "Pass --now with a later time" in line
    with open_workspace(built.root) as ws:  # nothing written
        after = [
            (d.unique_id, d.action, d.reason)
            for d in ws.store.list_series_decisions(MODEL, ds_from=decided, ds_to=decided)
        ]
        assert after == before
        assert len(ws.store.list_versions(MODEL)) == versions

    code, out, err = cli(*args, "--now", str(later.date()), token=op)
    assert code == 0, err
    assert f"challenger v{versions + 1}:" in out
    with open_workspace(built.root) as ws:
        (d,) = ws.store.list_series_decisions(MODEL, ds_from=later, ds_to=later)
        assert (d.unique_id, d.action, d.trigger) == ("north", "retrain", "by hand")
        # The cycle at that time runs after it: it decides the other series and keeps the
        # decision made by hand (it does not retrain north again).
        versions_before_cycle = len(ws.store.list_versions(MODEL))
        run_cycle(ws, built.data, freq="MS", now=later)
        found = {
            x.unique_id: x
            for x in ws.store.list_series_decisions(MODEL, ds_from=later, ds_to=later)
        }
        assert found["north"] == d  # kept as made
        assert set(found) == set(ws.store.get_deployment(MODEL).versions)
        others = [u for u, x in found.items() if u != "north" and x.action == "retrain"]
        assert len(ws.store.list_versions(MODEL)) == versions_before_cycle + bool(others)
        assert run_cycle(ws, built.data, freq="MS", now=later).already_done
