"""The canary bench runs end to end on a few short streams and reports every key it promises."""

from __future__ import annotations

import json

import pytest

from bench import canary


def test_the_bench_prints_one_json_object_with_every_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    canary.main(["--reps", "8", "--targets", "300", "--phis", "0.5", "--corrs", "0.5"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"scenarios", "targets", "meets_target"} <= set(out)
    assert out["targets"]["wrong_share_max"] == 0.05
    assert len(out["scenarios"]) == 3  # equal, 5 % better, 5 % worse
    for name, s in out["scenarios"].items():
        for test in ("sequential", "mann_whitney"):
            r = s[test]
            assert 0 <= r["wrong_share"] <= 1 and 0 <= r["undecided_share"] <= 1, name
            assert r["wrong_share"] + r["undecided_share"] <= 1 + 1e-9, name
