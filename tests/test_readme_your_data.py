"""The README's quarterly walk-through ("Using it on your data"), run as a new user would
run it: its shell block, whole, in an empty folder, with the installed `chronoguard`.

Eight series of the bundled tourism panel: `init --data` writes the config from the file, a
first cycle trains, a retrain by hand at 2016 Q1 is kept by its cycle, `schedule` runs the
quarters to 2017 Q4, `monitor`, `alerts`, `decisions`, `versions` and `deployment` show what
happened, a group is rolled back and one series promoted again, and the report and the
audit chain are written and verified. What the block printed and what the workspace holds
are checked against each other and against what the README says the block shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import open_workspace
from tests.readme_blocks import readme_block, run_block

S = "Sydney/New_South_Wales/Holiday"
QUARTERS = pd.date_range("2015-10-01", "2017-10-01", freq="QS")


@pytest.mark.slow
def test_the_readme_quarterly_walkthrough(tmp_path: Path) -> None:
    script = readme_block("tests/test_readme_your_data.py")
    done = run_block(script, tmp_path, port=())
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, (out[-4000:], err[-4000:])

    # init inferred the settings from the file and wrote them, commented.
    assert "inferred from trips.csv: freq QS, seasons [4] → model AutoETS, horizon 8" in out
    toml = (tmp_path / "ws" / "chronoguard.toml").read_text()
    assert re.search(r'^freq = "QS"', toml, re.M) and re.search(r"^horizon = 8", toml, re.M)
    assert toml.count("\n# ") > 20  # every key's description as a comment

    # The first forecast: 8 series × 8 quarters from 2016 Q1.
    assert "the deployment (v1): 64 rows → next.csv" in out
    nxt = pd.read_csv(tmp_path / "next.csv", parse_dates=["ds"])
    assert len(nxt) == 64 and nxt["unique_id"].nunique() == 8 and set(nxt["version"]) == {1}
    assert (nxt["ds"].min(), nxt["ds"].max()) == (
        pd.Timestamp("2016-01-01"),
        pd.Timestamp("2017-10-01"),
    )

    # One line per quarter in cycles.log, 2016 Q1 to 2017 Q4.
    log = (tmp_path / "cycles.log").read_text().splitlines()
    times = [re.match(r"cycle chronoguard-model at (\S+) 00:00:00: ", x) for x in log]
    assert [t.group(1) if t else x for t, x in zip(times, log, strict=True)] == [
        str(q.date()) for q in QUARTERS[1:]
    ]
    assert all(x.endswith("; 64 forecasts served") for x in log)

    with open_workspace(tmp_path / "ws") as ws:
        m = ws.model_name
        cycles = ws.store.list_cycles(m)
        retrains = ws.store.list_series_decisions(m, action="retrain")
        history = ws.store.deployment_history(m, [S])
        deployment = ws.store.get_deployment(m).versions
        groups = {u: d.group for u, d in ws.store.latest_decisions(m).items()}
        open_alerts = ws.store.list_alerts(status="open")
        versions = ws.registry.list_versions(m)
        verdict = ws.store.verify_audit_chain()

    assert [pd.Timestamp(c.now) for c in cycles] == list(QUARTERS)
    assert all(c.status == "done" for c in cycles)
    # The retrain by hand: version 2, for S alone, at 2016 Q1, by root, kept by its cycle.
    by_hand = [d for d in retrains if d.trigger == "new quarter"]
    assert [(d.unique_id, d.challenger_version, d.outcome) for d in by_hand] == [
        (S, "2", "promoted")
    ]
    assert pd.Timestamp(by_hand[0].ds) == pd.Timestamp("2016-01-01")
    # The cycles retrained a few series at a time, one version per batch; some rejected.
    loop = [d for d in retrains if pd.Timestamp(d.ds) > pd.Timestamp("2016-01-01")]
    assert loop and {d.outcome for d in loop} == {"promoted", "rejected"}
    batches = {d.challenger_version for d in loop}
    assert len(versions) == 2 + len(batches)
    assert all(len({d.ds for d in loop if d.challenger_version == v}) == 1 for v in batches)

    # monitor: flags shown, no alert (exit 0, so `|| [ $? -eq 3 ]` was not needed).
    assert "checks that flagged" in out and not open_alerts
    assert "alerts (0)" in out
    assert re.search(r"^flag   \S+  v\d+  ", out, re.M)
    assert not re.search(r"^ALERT", out, re.M)
    # decisions: the newest four of S, each with why.
    assert "decisions (9, newest 4)" in out
    assert (
        len(re.findall(rf"^20\d\d-\d\d-01  {re.escape(S)}  keep  v2: no trigger", out, re.M)) == 4
    )

    # The group rollback moved each retrained Sydney series back and left the one never
    # retrained; then version 2 went back on S, by hand, with the reasons given.
    sydney = sorted(u for u, g in groups.items() if g == "sydney")
    assert sydney == sorted(u for u in deployment if u.startswith("Sydney/"))
    moved_back = [x for x in history if x.reason == "rollback: planning asked"]
    assert [(x.previous_version, x.version, x.by) for x in moved_back] == [("2", "1", "root")]
    assert (history[-1].version, history[-1].by, history[-1].reason) == (
        "2",
        "root",
        "approved by planning",
    )
    (stayed,) = re.findall(r"1 series stay on the only version that served them: (\S+)$", out, re.M)
    assert stayed.startswith("Sydney/") and deployment[stayed] == "1"
    assert deployment[S] == "2"
    assert all(deployment[u] == "1" for u in sydney if u != S)

    # The report, the audit and the Python API.
    html = (tmp_path / "report.html").read_text()
    assert S in html and "<svg" in html
    assert f"audit chain ok: {verdict.rows_checked} rows checked" in out and verdict.ok
    assert f"32 forecasts; {len(versions)} versions; 0 open alerts" in out
