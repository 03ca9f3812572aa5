"""The fleet-cycle bench runs end to end on a small fleet and reports every key it promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import fleet_cycle as fc


def test_the_fleet_has_positive_series_and_the_announced_shift() -> None:
    fleet = fc.make_fleet(50, 3, seed=1)
    flat = fc.make_fleet(50, 3, seed=1, shift_sds=0.0)
    assert (fleet.df["y"] > 0).all()
    assert fleet.df["unique_id"].nunique() == 50
    assert len(fleet.shifted) == 1  # 2 % of 50
    assert fleet.shift_day == fleet.bootstrap + np.timedelta64(2, "D")
    assert fleet.bootstrap == fc.START + np.timedelta64(fc.INITIAL_WINDOW - 1, "D")
    diff = fleet.df.assign(d=fleet.df["y"] - flat.df["y"])
    moved = diff[diff["d"] != 0]
    sd = fc.SIGMA / np.sqrt(1 - fc.PHI**2)
    # exactly the shifted series move, from the shift day on, by SHIFT_SDS sds
    assert set(moved["unique_id"]) == set(fleet.shifted)
    assert moved["ds"].min() == fleet.shift_day
    assert len(moved) == (diff["ds"] >= fleet.shift_day).sum() // 50
    np.testing.assert_allclose(moved["d"], fc.SHIFT_SDS * sd)


@pytest.mark.slow
def test_the_bench_prints_one_json_object_with_every_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fc.main(["--sizes", "20", "--max-cycles", "1", "--in-process", "--workdir", str(tmp_path)])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(last)
    keys = {"cycle_s", "peak_mb", "deployment_load_s", "bytes_per_series", "retrain_s", "scaling"}
    assert keys <= set(out)
    assert set(out["targets"]) == set(fc.TARGETS)
    cycles = out["cycle_s"]["20"]
    assert len(cycles["all"]) == 3  # bootstrap, steady, one decision cycle
    assert all(t > 0 for t in cycles["all"])
    assert out["peak_mb"]["20"] > 0
    assert 0 < out["deployment_load_s"]["20"] < 60
    assert out["bytes_per_series"]["20"]["artifacts"] > 0
    assert out["bytes_per_series"]["20"]["store"] > 0
    assert out["retrain_s"]["20"]["bootstrap_train_backtest_s"] > 0
    assert out["scaling"]["20"]["steady_ms_per_series"] > 0
    detail = out["detail"]["20"]["cycles"]
    assert [c["kind"] for c in detail] == ["bootstrap", "steady", "decision"]
    assert detail[1]["checked"] and detail[2]["checked"]
