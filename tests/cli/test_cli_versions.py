"""`chronoguard versions` shows each version's aliases (the registered model holds them;
MLflow's search_model_versions leaves them empty)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.lifecycle import deploy_series, init_workspace, train_version
from tests.helpers import seatbelts, small_config


@pytest.fixture(autouse=True)
def _embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CHRONOGUARD_STORE_URL", "CHRONOGUARD_TRACKING_URI", "CHRONOGUARD_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def test_versions_lists_the_aliases_of_each_version(tmp_path: Path) -> None:
    cfg = small_config(model={"name": "SeasonalNaive"}, training={"backtest_windows": 1})
    root = tmp_path / "ws"
    with init_workspace(root, cfg) as ws:
        for i, until in enumerate(("1976-12-01", "1977-12-01", "1978-12-01")):
            tv = train_version(
                seatbelts(until), cfg, ws.registry, freq="MS", now=pd.Timestamp(until), trigger="t"
            )
            if i < 2:
                deploy_series(
                    ws,
                    {"uk_drivers_ksi": tv.version.version},
                    by="tester",
                    reason=f"p{i}",
                    at=pd.Timestamp("1980-01-01") + pd.DateOffset(months=i),
                )
        ws.registry.set_alias(ws.model_name, "challenger", "3")
    res = subprocess.run(
        [sys.executable, "-m", "chronoguard", "versions", "--workspace", str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},  # the table unwrapped, as on a wide terminal
    )
    assert res.returncode == 0, res.stdout + res.stderr
    header = next(line for line in res.stdout.splitlines() if "aliases" in line)
    assert [c.strip() for c in header.split("┃")[1:3]] == ["version", "aliases"]
    rows = {
        cells[0]: cells[1]
        for line in res.stdout.splitlines()
        if len(cells := [c.strip() for c in line.split("│")[1:-1]]) > 2 and cells[0].isdigit()
    }
    assert rows == {"1": "", "2": "champion", "3": "challenger"}
