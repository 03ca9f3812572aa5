"""The loop-value bench: its schedules, its scoring and its output, on tiny real and hand panels."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import _loop_core as core
from bench import loop_value as lv

DATA = Path(lv.DATA_DIR)
needs_data = pytest.mark.skipif(
    not (DATA / "tourism.csv").exists(), reason=f"the real panels are not at {DATA}"
)


def hand_panel(values: list[list[float]], n_origins: int, m: int, h: int) -> core.Panel:
    spec = core.PanelSpec("hand", "", "MS", m, h, n_origins)
    return core.Panel(
        spec,
        tuple(f"s{i}" for i in range(len(values))),
        tuple(np.asarray(v, dtype=float) for v in values),
        tuple(pd.Timestamp("2000-01-01") for _ in values),
        n_origins,
    )


@pytest.fixture(scope="module")
def tourism() -> core.Panel:
    if not (DATA / "tourism.csv").exists():
        pytest.skip(f"the real panels are not at {DATA}")
    panel = core.load_panel(core.PANELS["tourism"], DATA).subset(3, 5)
    spec = dataclasses.replace(panel.spec, horizon=3)
    return dataclasses.replace(panel, spec=spec)


@pytest.fixture(scope="module")
def tourism_runs(tourism: core.Panel) -> dict[str, lv.PolicyResult]:
    return lv.run_simple_policies([tourism], None)["tourism"]


def test_scaled_errors_match_a_hand_computation_on_two_series() -> None:
    # m = 2, 3 origins, h = 2; training = the first 4 points of each series.
    panel = hand_panel([[1, 3, 2, 5, 4, 6, 8], [10, 10, 12, 14, 13, 11, 15]], 3, 2, 2)
    assert panel.scale(0) == pytest.approx((1 + 2) / 2)  # |2 - 1|, |5 - 3|
    assert panel.scale(1) == pytest.approx((2 + 4) / 2)  # |12 - 10|, |14 - 10|
    nan = np.nan
    forecasts = (
        np.array([[5.0, 5.0], [4.0, 9.0], [8.0, nan]]),  # errors 1, 1 | 2, 1 | 0
        np.array([[13.0, 13.0], [11.0, 11.0], [12.0, nan]]),  # errors 0, 2 | 0, 4 | 3
    )
    np.testing.assert_allclose(
        core.scaled_errors(panel.values[0], 3, forecasts[0], panel.scale(0)),
        np.array([1, 1, 2, 1, 0]) / 1.5,
    )
    per_series = [(1 + 1 + 2 + 1 + 0) / 1.5 / 5, (0 + 2 + 0 + 4 + 3) / 3 / 5]
    assert core.panel_mase(panel, forecasts) == pytest.approx(np.mean(per_series))
    # A scored cell without a forecast is refused, not skipped.
    broken = (forecasts[0].copy(), forecasts[1])
    broken[0][1, 1] = nan
    with pytest.raises(ValueError, match="origin 1"):
        core.panel_mase(panel, broken)


def test_trigger_refits_where_the_newest_residual_passes_the_threshold() -> None:
    n_train, k = 4, 4
    residuals = np.ones((k, n_train + k))
    residuals[0, :n_train] = [1, -1, 2, 1]  # median |r| = 1
    residuals[0, n_train + 1] = 3.5  # arrives at origin 2: above 3 × 1
    residuals[2, : n_train + 2] = [2, 2, -2, 2, 2, 2]  # the new fit's median |r| = 2
    residuals[2, n_train + 2] = 6.5  # arrives at origin 3: above 3 × 2
    np.testing.assert_array_equal(core.trigger_schedule(residuals, n_train, 3.0), [0, 0, 2, 3])
    np.testing.assert_array_equal(core.trigger_schedule(residuals, n_train, 4.0), [0, 0, 0, 0])
    assert core.n_fits(np.array([0, 0, 2, 3])) == 3
    np.testing.assert_array_equal(core.fixed_schedule(7, 3), [0, 0, 0, 3, 3, 3, 6])


@needs_data
def test_always_refits_every_origin_and_never_fits_each_series_once(
    tourism: core.Panel, tourism_runs: dict[str, lv.PolicyResult]
) -> None:
    scores = lv.score(tourism, tourism_runs)
    assert scores["always"]["refits"] == len(tourism) * tourism.n_origins
    assert scores["always"]["refits_share"] == 1.0
    assert scores["always"]["mase_rel_always"] == 0.0
    assert scores["never"]["refits"] == len(tourism)  # one fit per series
    for key in core.policy_keys():
        assert len(tourism) <= scores[key]["refits"] <= scores["always"]["refits"]
    # With 5 origins and a season of 4, fixed refits once, at origin 4.
    assert scores["fixed_1"]["refits"] == 2 * len(tourism)
    never, fixed = tourism_runs["never"].forecasts, tourism_runs["fixed_1"].forecasts
    for a, b in zip(never, fixed, strict=True):
        np.testing.assert_array_equal(a[:4], b[:4])
        assert not np.array_equal(a[4], b[4])


@needs_data
def test_always_serves_a_fresh_fit_at_each_origin(
    tourism: core.Panel, tourism_runs: dict[str, lv.PolicyResult]
) -> None:
    i, k = 1, 3
    n = tourism.n_train(i) + k
    frame = pd.DataFrame(
        {"unique_id": tourism.ids[i], "ds": tourism.dates(i)[:n], "y": tourism.values[i][:n]}
    )
    fresh = core.new_forecaster(tourism.spec).fit(frame).predict(tourism.spec.horizon)
    np.testing.assert_allclose(tourism_runs["always"].forecasts[i][k], fresh["yhat"], rtol=1e-9)


def test_served_forecasts_land_on_their_origin_and_step() -> None:
    panel = hand_panel([[1, 3, 2, 5, 4, 6, 8], [9, 10, 12, 14, 13]], 2, 2, 2)
    frame = lv.replay_frame(panel)  # the shorter series is moved to end with the longer one
    assert frame.groupby("unique_id")["ds"].max().nunique() == 1
    ends = frame.groupby("unique_id")["ds"].apply(list)
    served = pd.DataFrame(
        {
            "unique_id": ["s0", "s0", "s1", "s1", "s1"],
            "origin": [ends["s0"][4], ends["s0"][5], ends["s1"][2], ends["s1"][3], ends["s1"][4]],
            "horizon": [2, 1, 1, 2, 1],
            "yhat": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    cells = core.served_matrices(panel, frame, served)
    np.testing.assert_array_equal(cells[0], [[np.nan, 1.0], [2.0, np.nan]])
    # s1's first origin is after its third point; one served at its last point is unscored.
    np.testing.assert_array_equal(cells[1], [[3.0, np.nan], [np.nan, 4.0]])


def test_pareto_needs_no_more_of_both_and_less_of_one() -> None:
    def s(mase: float, refits: int, rel: float = 0.0, share: float = 0.5) -> dict[str, float]:
        return {"mase": mase, "refits": refits, "mase_rel_always": rel, "refits_share": share}

    assert lv.dominates(s(1.0, 10), s(1.0, 11))
    assert not lv.dominates(s(1.0, 10), s(1.0, 10))  # a tie is not domination
    assert not lv.dominates(s(0.9, 12), s(1.0, 11))
    scores = {
        "always": s(1.0, 100, 0.0, 1.0),
        "fixed_1": s(1.02, 25),
        "trigger_3": s(1.01, 8),
        "default": s(1.004, 9, 0.004, 0.09),
    }
    out = lv.pareto(scores)
    assert out == {
        "over_fixed": True,
        "over_trigger": False,
        "both": False,
        "within_half_percent_of_always_at_10pct": True,
    }
    assert set(lv.pareto({"always": scores["always"]}).values()) == {None}


@needs_data
def test_the_last_line_of_output_is_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--panels", "tourism", "--series", "2", "--origins", "2", "--workers", "1"]
    assert lv.main([*argv, "--policies", "never,fixed,trigger", "--out", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert set(result["panels"]["tourism"]) == {"always", "never", "fixed", "trigger"}
    assert result["panels"]["tourism"]["never"]["refits"] == 2
    assert result["pareto_dominates"]["tourism"]["both"] is None  # default was not run
    assert Path(result["curve"]["png"]).stat().st_size > 0
    table = pd.read_csv(result["series_csv"])
    assert len(table) == 2 * len(core.policy_keys())  # 2 series × every schedule
    assert table.loc[table["policy"] == "never", "fits"].tolist() == [1, 1]
    assert result["quick"] is False


def test_budgets_need_numbers_and_the_default_policy(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--budgets", "two"], "not a comma-separated list of numbers"),
        (["--budgets", "0"], "must be numbers > 0"),
        (["--budgets", "2", "--policies", "never"], "needs the default policy"),
    ):
        with pytest.raises(SystemExit):
            lv.main(argv)
        assert message in capsys.readouterr().err


@needs_data
def test_a_budget_spends_no_more_refits_than_the_unbudgeted_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--panels", "tourism", "--series", "4", "--origins", "6", "--workers", "1"]
    argv += ["--policies", "never,default", "--budgets", "1", "--out", str(tmp_path)]
    assert lv.main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    panel = result["panels"]["tourism"]
    default, budgeted = panel["default"], panel["default_budget_1"]
    assert budgeted["cpu_seconds_per_cycle"] == pytest.approx(default["fit_cpu_seconds_per_series"])
    assert budgeted["refits"] <= default["refits"]
    assert default["backtest_fits"] == 0  # the frozen backtest fits nothing
    (point,) = result["curve"]["panels"]["tourism"]["default_budget"]
    assert point["series_per_cycle"] == 1.0
    assert point["refits_share"] == budgeted["refits_share"]


def test_set_needs_section_key_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        lv.main(["--set", "watch_periods=0"])
    assert "write SECTION.KEY=VALUE" in capsys.readouterr().err
