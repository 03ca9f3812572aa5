"""The peer policies (never, always, fixed, trigger) on shared fits, on a tiny synthetic panel.

The pinned numbers are what ``bench/_loop_core.py`` computed before the peers moved into the
package (commit 7577641), on the same panel: the move must not change a schedule, a refit
count or a score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chronoguard.compute import ProcessExecutor, SerialExecutor
from chronoguard.errors import ChronoguardError
from chronoguard.forecasting import peers

CURVE = peers.PeerPolicies(fixed_seasons=(1, 2, 4), trigger_thresholds=(2.0, 3.0, 4.0, 6.0))

# bench/_loop_core.py at 7577641, run_batch on this panel: series-fits per policy and series,
BEFORE_FITS = {
    "a": {"never": 1, "always": 8, "fixed_1": 2, "fixed_2": 1, "fixed_4": 1},
    "b": {"never": 1, "always": 8, "fixed_1": 2, "fixed_2": 1, "fixed_4": 1},
    "c": {"never": 1, "always": 8, "fixed_1": 2, "fixed_2": 1, "fixed_4": 1},
}
BEFORE_TRIGGER_FITS = {
    "a": {"trigger_2": 2, "trigger_3": 2, "trigger_4": 2, "trigger_6": 1},
    "b": {"trigger_2": 5, "trigger_3": 5, "trigger_4": 5, "trigger_6": 3},
    "c": {"trigger_2": 3, "trigger_3": 2, "trigger_4": 2, "trigger_6": 1},
}
# and the panel's MASE per policy.
BEFORE_MASE = {
    "never": 3.8036254607967717,
    "always": 2.1734420991212393,
    "fixed_1": 2.2577499634571105,
    "fixed_2": 3.8036254607967717,
    "fixed_4": 3.8036254607967717,
    "trigger_2": 2.1971370828241956,
    "trigger_3": 2.2000613407867475,
    "trigger_4": 2.2000613407867475,
    "trigger_6": 2.1453965090622273,
}


def synthetic_panel() -> peers.Panel:
    """Three quarterly series of 36 points, one with a level drop 6 points before its end."""
    rng = np.random.default_rng(7)
    t = np.arange(36, dtype=float)
    season = np.tile([3.0, -1.0, 2.0, -4.0], 9)
    values = [
        50 + season + 0.2 * t + rng.normal(0, 0.5, 36),
        80 + 2 * season + np.where(t >= 30, -12.0, 0.0) + rng.normal(0, 1.0, 36),
        20 + 0.5 * season + rng.normal(0, 0.3, 36),
    ]
    spec = peers.PanelSpec("synthetic", "QS", 4, 3)
    starts = tuple(pd.Timestamp("2000-01-01") for _ in values)
    return peers.Panel(spec, ("a", "b", "c"), tuple(np.round(v, 3) for v in values), starts, 8)


@pytest.fixture(scope="module")
def panel() -> peers.Panel:
    return synthetic_panel()


@pytest.fixture(scope="module")
def runs(panel: peers.Panel) -> dict[str, peers.PolicyRun]:
    return peers.run_peers(panel, policies=CURVE, batch_size=2)


def test_schedules_refit_counts_and_scores_are_those_of_before_the_move(
    panel: peers.Panel, runs: dict[str, peers.PolicyRun]
) -> None:
    assert tuple(runs) == CURVE.keys()
    for i, uid in enumerate(panel.ids):
        fits = {key: run.series_fits[i] for key, run in runs.items()}
        assert fits == {**BEFORE_FITS[uid], **BEFORE_TRIGGER_FITS[uid]}, uid
    for key, run in runs.items():
        assert peers.panel_mase(panel, run.forecasts) == pytest.approx(BEFORE_MASE[key], rel=1e-9)
        assert run.fallbacks == 0


def test_refits_and_cpu_are_consistent_and_scores_are_relative_to_always(
    panel: peers.Panel, runs: dict[str, peers.PolicyRun]
) -> None:
    scores = peers.score_policies(panel, runs)
    assert scores["always"].refits == len(panel) * panel.n_origins
    assert scores["never"].refits == len(panel)
    assert scores["always"].mase_rel_always == 0.0 and scores["always"].refits_share == 1.0
    always_cpu = runs["always"].cpu_seconds
    assert always_cpu is not None and always_cpu > 0
    for key, s in scores.items():
        cpu = runs[key].cpu_seconds
        assert cpu is not None and 0 < cpu <= always_cpu + 1e-12, key
        assert s.mase_rel_always == pytest.approx(s.mase / scores["always"].mase - 1)
    # never serves every origin from the first fit; fixed_1 refits once, at origin 4.
    for never, fixed in zip(runs["never"].forecasts, runs["fixed_1"].forecasts, strict=True):
        np.testing.assert_array_equal(never[:4], fixed[:4])
        assert not np.array_equal(never[4], fixed[4])


SMALL = peers.PeerPolicies(fixed_seasons=(1,), trigger_thresholds=(3.0,))


def _same(a: dict[str, peers.PolicyRun], b: dict[str, peers.PolicyRun]) -> None:
    for key in SMALL.keys():  # noqa: SIM118 (a tuple of keys, not a dict)
        for x, y in zip(a[key].forecasts, b[key].forecasts, strict=True):
            np.testing.assert_array_equal(x, y)
        assert a[key].series_fits == b[key].series_fits, key


def test_the_result_does_not_depend_on_the_batches(
    panel: peers.Panel, runs: dict[str, peers.PolicyRun]
) -> None:
    _same(runs, peers.run_peers(panel, policies=SMALL, executor=SerialExecutor(), batch_size=3))


@pytest.mark.slow
def test_the_result_does_not_depend_on_where_the_batches_ran(
    panel: peers.Panel, runs: dict[str, peers.PolicyRun]
) -> None:
    with ProcessExecutor(2) as ex:  # spawned workers: tens of seconds on a loaded machine
        _same(runs, peers.run_peers(panel, policies=SMALL, executor=ex, batch_size=1))


def test_a_panel_from_a_frame_names_series_too_short_for_its_origins() -> None:
    frame = pd.DataFrame(
        {
            "unique_id": ["b"] * 13 + ["a"] * 20,
            "ds": [
                *pd.date_range("2000-01-01", periods=13, freq="QS"),
                *pd.date_range("2000-01-01", periods=20, freq="QS"),
            ],
            "y": np.arange(33, dtype=float),
        }
    )
    spec = peers.PanelSpec("p", "QS", 4, 2)
    panel = peers.Panel.from_frame(frame, spec, 4)
    assert panel.ids == ("a", "b") and panel.n_train(0) == 16 and panel.n_train(1) == 9
    with pytest.raises(ChronoguardError, match=r"b \(13 points\)"):
        peers.Panel.from_frame(frame, spec, 5)


def test_served_forecasts_are_placed_on_their_origin_and_step() -> None:
    spec = peers.PanelSpec("p", "MS", 2, 2)
    y = np.array([1.0, 3, 2, 5, 4, 6, 8])
    panel = peers.Panel(spec, ("s",), (y,), (pd.Timestamp("2000-01-01"),), 2)
    frame = pd.DataFrame({"unique_id": "s", "ds": panel.dates(0), "y": y})
    served = pd.DataFrame(
        {
            "unique_id": ["s", "s", "s"],
            "origin": [panel.dates(0)[4], panel.dates(0)[4], panel.dates(0)[5]],
            "horizon": [1, 2, 1],
            "yhat": [4.5, 6.5, 7.0],
        }
    )
    (cells,) = peers.served_matrices(panel, frame, served)
    np.testing.assert_array_equal(cells, [[4.5, 6.5], [7.0, np.nan]])
    assert peers.panel_mase(panel, (cells,)) == pytest.approx(
        np.mean(np.abs([6 - 4.5, 8 - 6.5, 8 - 7.0])) / panel.scale(0)
    )
