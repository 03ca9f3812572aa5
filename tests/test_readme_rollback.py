"""The README's walk-through of a canary that rolls back by itself, run as a new user would
run it (its shell block, whole, in an empty folder: the CLI, the HTTP service, curl).

Real daily demand of Victoria (the bundled ``vic_elec``, aggregated to days): a heatwave in
mid-January 2014 triggers a retrain whose challenger, fitted to the last five weeks, passes
its gate and goes out as a canary; once the heat is gone the paired sequential comparison
shows it worse and a cycle of ``chronoguard schedule`` moves the series back to version 1,
with no person involved. What the block printed (the forecasts and the deployment, as JSON
over HTTP) and what the workspace holds are checked, and the watch's verdict is computed
again here from the stored forecasts and actuals.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.lifecycle import open_workspace
from chronoguard.lifecycle.watch import ROLLBACK_REASON, SHADOW, watch_test
from chronoguard.monitoring import PairedDecision, paired_sequential
from tests.readme_blocks import readme_block, run_block

PORT = "8766"
SERIES = "victoria"


def per_target_differences(
    forecasts: pd.DataFrame, actuals: pd.DataFrame, *, opened: object, until: object
) -> tuple[list[float], int]:
    """Challenger (version 2, served as canary) minus champion (version 1, in shadow)
    absolute errors, paired by origin and target, averaged per target in time order; and
    the number of pairs."""
    mine = forecasts[
        (forecasts["unique_id"] == SERIES)
        & (forecasts["origin"] >= opened)
        & (forecasts["ds"] <= until)
    ]
    served = mine[(mine["version"] == "2") & (mine["alias"] == "canary")]
    shadow = mine[(mine["version"] == "1") & (mine["alias"] == SHADOW)]
    pairs = served.merge(shadow, on=["origin", "ds"], suffixes=("_c", "_p"))
    y = actuals[actuals["unique_id"] == SERIES][["ds", "y"]]
    pairs = pairs.merge(y, on="ds")
    d = (pairs["y"] - pairs["yhat_c"]).abs() - (pairs["y"] - pairs["yhat_p"]).abs()
    per = pd.Series(d.to_numpy(), index=pairs["ds"]).groupby(level=0).mean().sort_index()
    return [float(x) for x in per], len(pairs)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_the_readme_canary_rolls_back_by_itself(tmp_path: Path) -> None:
    done = run_block(readme_block("tests/test_readme_rollback.py"), tmp_path, port=PORT)
    out = done.stdout
    assert done.returncode == 0, (out[-4000:], done.stderr[-4000:])
    printed = [json.loads(line) for line in out.splitlines() if line.startswith('{"model"')]
    canary, champion, deployment = printed
    # Served over HTTP: the canary in March, the champion again in April.
    assert (canary["unique_id"], canary["alias"], canary["version"]) == (SERIES, "canary", "2")
    assert (champion["alias"], champion["version"]) == ("champion", "1")
    assert champion["origin"].startswith("2014-04-10")
    moves = [
        (m["previous_version"], m["version"], m["by"], m["reason"]) for m in deployment["history"]
    ]
    assert moves[-1] == ("2", "1", "chronoguard schedule", ROLLBACK_REASON), moves
    assert deployment["version"] == "1"
    assert "audit chain ok" in out, out[-2000:]

    with open_workspace(tmp_path / "ws") as ws:
        m = ws.model_name
        (watch,) = ws.store.list_watches(m)
        retrains = ws.store.list_series_decisions(m, action="retrain")
        history = ws.store.deployment_history(m, [SERIES])
        status = {v.version: v.status for v in ws.store.list_versions(m)}
        cycles = {pd.Timestamp(c.now): c for c in ws.store.list_cycles(m)}
        alias = ws.registry.get_alias(m, "champion")
        test = watch_test(ws.config)
        forecasts = ws.store.get_forecasts(unique_id=[SERIES])
        actuals = ws.store.get_actuals(unique_id=[SERIES])
        verdict = ws.store.verify_audit_chain()
        alerts = [a for a in ws.store.list_alerts() if a.method == "paired_watch"]

    # The heatwave's retrain passed its gate and went out as a canary against version 1.
    promoted = [d for d in retrains if d.challenger_version == "2"]
    assert [(d.outcome, d.champion_version) for d in promoted] == [("promoted", "1")]
    (gated,) = promoted
    assert gated.challenger_error is not None and gated.champion_error is not None
    assert gated.challenger_error < gated.champion_error
    assert (watch.kind, watch.version, watch.previous_version) == ("canary", "2", "1")
    assert pd.Timestamp(watch.opened_at) == pd.Timestamp(gated.ds)

    # It was rolled back by the cycle, with the comparison's sentence and numbers.
    assert watch.status == "rolled_back" and watch.closed_at is not None
    closed = pd.Timestamp(watch.closed_at)
    assert "worse; back to version 1" in str(watch.reason), watch.reason
    assert watch.challenger_error is not None and watch.previous_error is not None
    assert watch.challenger_error > watch.previous_error
    last = history[-1]
    assert (last.previous_version, last.version, last.reason) == ("2", "1", ROLLBACK_REASON)
    assert pd.Timestamp(last.at) == closed and last.by == "chronoguard schedule"
    assert cycles[closed].summary["rolled_back"] == [SERIES]
    # ... and alerted: one alert for the rollback, raised by the cycle that made it and
    # resolved by the next check (an event, told once).
    (told,) = alerts
    assert (told.unique_id, told.kind, told.version) == (SERIES, "performance_decay", "2")
    assert pd.Timestamp(told.ds) == closed and "rolled back to version 1 by itself" in told.message
    assert told.statistic > 1.0  # the canary's MAE over the champion's
    assert (status["1"], status["2"]) == ("champion", "retired")
    assert alias == "1"
    # Nothing moved by hand: every move after the first was made by a cycle.
    assert {x.by for x in history} == {"chronoguard cycle", "chronoguard schedule"}

    # The verdict, computed again from the stored forecasts and actuals: worse on the day
    # of the rollback, undecided the day before.
    d, n_pairs = per_target_differences(forecasts, actuals, opened=watch.opened_at, until=closed)
    assert n_pairs == watch.n_pairs
    assert paired_sequential(d, settings=test).decision == PairedDecision.WORSE
    before = closed - pd.Timedelta(days=1)
    d_before, _ = per_target_differences(forecasts, actuals, opened=watch.opened_at, until=before)
    assert paired_sequential(d_before, settings=test).decision == PairedDecision.CONTINUE
    assert float(np.mean(d)) > 0
    assert verdict.ok, verdict
