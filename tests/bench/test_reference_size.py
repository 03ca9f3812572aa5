"""The reference-size bench measures what the registry really writes, and its quick run
reports every key it promises with a bounded reference under the 50 KB target."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench import reference_size as rs


def test_the_series_are_positive_and_shaped_as_announced() -> None:
    df = rs.make_series(3, 500, rs.SHAPES[1])
    assert df["unique_id"].nunique() == 3 and len(df) == 1500
    assert (df["y"] > 0).all()
    assert pd.infer_freq(df[df["unique_id"] == "s0"]["ds"]) == "30min"
    assert rs.minimum_length(rs.SHAPES[1]) > 100  # so the quick run names what it skips


@pytest.mark.slow
def test_its_bytes_are_the_bytes_of_a_registered_version(tmp_path: Path) -> None:
    from chronoguard.lifecycle import init_workspace, train_version

    shape = rs.SHAPES[0]
    data = rs.make_series(2, 400, shape)
    cfg = rs.make_config("SeasonalNaive", shape, 400)
    with init_workspace(tmp_path / "ws", cfg) as ws:
        trained = train_version(
            data, cfg, ws.registry, freq="D", now=pd.Timestamp("2001-02-03"), trigger="initial"
        )
        run = trained.version.run_id
    root = tmp_path / "ws" / "mlartifacts"
    (ref_file,) = root.glob(f"**/{run}/artifacts/reference_profile.json")
    assert ref_file.stat().st_size == rs.stored_reference_bytes(trained.reference.to_dict())
    (pickled,) = root.glob("**/python_model.pkl")
    assert pickled.stat().st_size == rs.model_bytes(trained.forecaster)


@pytest.mark.slow
def test_the_quick_bench_prints_one_json_object_under_the_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rs.main(["--quick"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["target_bytes_per_series"] == 50_000
    assert 0 < out["max_bytes_per_extra_feature"] < out["max_total_bytes_per_series"]
    assert out["meets_target"] and 0 < out["max_total_bytes_per_series"] <= 50_000
    table = out["total_bytes_per_series"]
    assert set(table) == {"SeasonalNaive", "AutoETS"}
    assert set(table["SeasonalNaive"]) == {"daily", "half_hourly"}
    assert set(table["SeasonalNaive"]["daily"]) == {"100", "730", "2000", "5000"}
    # Bounded: past what the reference keeps, a longer history stores no more bytes.
    assert out["grows"]["SeasonalNaive/daily"] is False
    assert out["grows"]["SeasonalNaive/half_hourly"] is False
    for case in out["cases"]:
        parts = case["bytes_per_series"]
        assert parts["total"] == pytest.approx(parts["reference"] + parts["model"], abs=1)
        assert parts["drift"] > 0 and parts["iid"] > 0 and parts["model"] > 0
    assert {"model": "SeasonalNaive", "shape": "half_hourly", "length": 100} in [
        {k: s[k] for k in ("model", "shape", "length")} for s in out["skipped"]
    ]
