"""The real-panels bench: episode counting on hand-built alert tables, its panels, its output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import real_panels as rp

DATA = Path(rp.DATA_DIR)
needs_data = pytest.mark.skipif(
    not (DATA / "seatbelts.csv").exists(), reason=f"the real datasets are not at {DATA}"
)

T = pd.date_range("2020-01-01", periods=8, freq="MS")
DD, CB, PC = (
    "data_drift/cusum_prewhitened",
    "concept_drift/bias_z",
    "performance_decay/mase_ratio_chi2",
)


def results(rows: list[tuple[str, int, str, bool]], feature: str = "y") -> pd.DataFrame:
    """A check-result table from ``(series, check index, check, alerting)`` rows."""
    return pd.DataFrame(
        {
            "unique_id": [r[0] for r in rows],
            "ds": [T[r[1]] for r in rows],
            "check": [r[2] for r in rows],
            "feature": feature,
            "alerting": [r[3] for r in rows],
        }
    )


def every_check(series: str, n: int, check: str, alerting: set[int]) -> list:
    return [(series, i, check, i in alerting) for i in range(n)]


def test_runs_are_maximal_runs_of_true() -> None:
    assert rp.count_runs([]) == 0
    assert rp.count_runs([False, False]) == 0
    assert rp.count_runs([True]) == 1
    assert rp.count_runs([True, True, False, True, False, False, True, True]) == 3


def test_episodes_of_a_hand_built_alert_table() -> None:
    # Series a, 7 checks: drift alerts at 1-2, bias at 2-3, decay at 5; b: drift at 0 and 2.
    rows = (
        every_check("a", 7, DD, {1, 2})
        + every_check("a", 7, CB, {2, 3})
        + every_check("a", 7, PC, {5})
        + every_check("b", 4, DD, {0, 2})
    )
    states = rp.open_alerts(results(rows))
    assert [bool(keys) for _, keys in states["a"]] == [False, True, True, True, False, True, False]
    got = rp.count_episodes(states)
    # a: checks 1-3 are one episode (drift then bias overlap), 5 another; b: two.
    assert got.episodes == 2 + 2
    assert got.by_check == {CB: 1, DD: 1 + 2, PC: 1}
    assert (got.checks, got.alerting) == (7 + 4, 4 + 2)
    # Before a change at check 3 of a (checks 0-2 count) and none on b.
    before = rp.count_episodes(states, {"a": T[3]})
    assert (before.episodes, before.checks, before.alerting) == (1 + 2, 3 + 4, 2 + 2)
    assert before.by_check == {CB: 1, DD: 1 + 2}


def test_an_alert_stays_open_through_a_check_without_its_result() -> None:
    # The drift check is not run at check 2 (no result): its alert of check 1 stays open,
    # as the alert book keeps it, so checks 1-3 are one episode, not two.
    rows = [("a", 0, DD, False), ("a", 1, DD, True), ("a", 3, DD, True), ("a", 4, DD, False)]
    rows += every_check("a", 5, PC, set())
    states = rp.open_alerts(results(rows))
    assert [bool(k) for _, k in states["a"]] == [False, True, True, True, False]
    assert rp.count_episodes(states).episodes == 1
    # A check time known only from the check table also counts as a check.
    only = results([("b", 0, DD, True), ("b", 2, DD, False)])
    times = pd.DataFrame({"unique_id": ["b"], "ds": [T[1]]})
    assert [bool(k) for _, k in rp.open_alerts(only, times)["b"]] == [True, True, False]


def test_one_feature_alerting_keeps_the_check_open_and_raises_its_own_alert() -> None:
    y = results(every_check("a", 4, DD, {0, 1}), feature="y")
    x = results(every_check("a", 4, DD, {1, 2}), feature="temperature")
    states = rp.open_alerts(pd.concat([y, x], ignore_index=True))
    got = rp.count_episodes(states)
    assert (got.episodes, got.by_check) == (1, {DD: 1})
    assert rp.raised_alerts(states) == {("a", DD, "y", T[0]), ("a", DD, "temperature", T[1])}


def test_a_result_alerts_when_positive_not_advisory_and_kept_by_the_adjustment() -> None:
    decision = [True, True, True, False, True]
    details = [None, {"advisory": True}, {"alert": False, "q_value": 0.2}, {}, {"alert": True}]
    assert rp.result_alerts(decision, details) == [True, False, False, False, True]


def test_the_delay_counts_periods_from_the_change_to_the_first_signal_after_it() -> None:
    change = T[3]
    assert rp.detection_delay(T, change, [T[1], T[5], T[4]]) == (T[4], 1)
    assert rp.detection_delay(T, change, [T[3]]) == (T[3], 0)
    assert rp.detection_delay(T, change, [T[0]]) == (None, None)


def test_a_seeded_random_subset_keeps_panel_order_and_its_last_origins() -> None:
    n = 40
    spec = rp.core.PanelSpec("hand", "", "MS", 12, 12, 10)
    panel = rp.core.Panel(
        spec,
        tuple(f"s{i:02d}" for i in range(n)),
        tuple(np.arange(50.0) + i for i in range(n)),
        tuple(pd.Timestamp("2000-01-01") for _ in range(n)),
        10,
    )
    a, b, c = (rp.sample(panel, 6, 4, seed) for seed in (0, 0, 1))
    assert a.ids == b.ids and a.ids != c.ids
    assert list(a.ids) == sorted(a.ids) and len(set(a.ids)) == 6
    assert a.ids != tuple(f"s{i:02d}" for i in range(0, n, 8))  # not spread evenly
    assert a.n_origins == 4
    assert rp.sample(panel, None, None, 0).ids == panel.ids


@needs_data
def test_vic_elec_daily_is_the_mean_of_each_local_day() -> None:
    panel, exog = rp.load_vic_elec_daily(DATA)
    dates = panel.dates(0)
    assert (dates[0], dates[-1]) == (pd.Timestamp("2012-01-01"), pd.Timestamp("2014-12-31"))
    assert panel.values[0].size == len(exog) == 1096
    raw = pd.read_csv(DATA / "vic_elec.csv", parse_dates=["ds"])
    # Melbourne's 1 July 2013 (AEST, UTC+10) is 30 June 14:00 – 1 July 13:30 UTC.
    day = raw[(raw["ds"] >= "2013-06-30 14:00") & (raw["ds"] < "2013-07-01 14:00")]
    assert len(day) == 48
    i = int(dates.get_loc(pd.Timestamp("2013-07-01")))
    assert panel.values[0][i] == pytest.approx(day["y"].mean())
    assert exog["temperature"].iloc[i] == pytest.approx(day["temperature"].mean())


@needs_data
def test_panels_replay_the_documented_periods_at_the_default_configuration() -> None:
    kw = {"quick": False, "n_series": None, "periods": None, "seed": 0, "overrides": {}}
    seatbelts = rp.make_job("seatbelts", DATA, **kw)
    assert seatbelts.raw_config["training"]["initial_window"] == 96  # 1969-1976, as the demo
    assert seatbelts.changes == (("uk_drivers_ksi", "1983-02-01", seatbelts.changes[0][2]),)
    nile = rp.make_job("nile", DATA, **{**kw, "overrides": {"monitoring": {"alpha": 0.005}}})
    assert nile.raw_config["training"]["initial_window"] == 19  # 1871-1889
    assert nile.raw_config["monitoring"] == {"alpha": 0.005}
    m3 = rp.make_job("m3_monthly", DATA, **{**kw, "n_series": 5})
    assert len(m3.panel) == 5 and m3.panel.n_origins == 18  # the official test
    vic = rp.make_job("vic_elec", DATA, **kw)
    assert vic.panel.n_origins == 365
    assert vic.exog is None and "exog" not in vic.raw_config["data"]  # AutoETS takes none


def test_set_needs_section_key_and_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        rp.main(["--set", "alpha=0.1"])
    assert "write SECTION.KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        rp.main(["--panels", "nile,mars"])
    assert "unknown ['mars']" in capsys.readouterr().err


KEYS = {
    "series",
    "series_years",
    "alert_episodes",
    "episodes_per_series_year",
    "by_check",
    "changes",
    "retrains_promoted",
    "retrains_rejected",
    "meets_target",
}


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@needs_data
def test_seatbelts_law_is_found_and_the_last_line_is_one_json_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    argv = ["--quick", "--panels", "seatbelts", "--data-dir", str(DATA), "--json-out", str(out)]
    assert rp.main(argv) == 0
    result = last_json(capsys)
    assert json.loads(out.read_text()) == result
    assert set(result) >= {"panels", "config", "code"} and result["quick"] is True
    p = result["panels"]["seatbelts"]
    assert set(p) >= KEYS
    (change,) = p["changes"]
    assert change["change_ds"] == "1983-02-01"
    assert change["delay_periods"] is not None and 0 <= change["delay_periods"] <= 6
    assert set(change) >= {"unique_id", "change_ds", "first_alert_ds", "delay_periods"}
    assert p["replayed"] == ["1982-01-01", "1983-08-01"]
    assert p["checks_before_change"] == 13  # January 1982 - January 1983
    assert p["series_years"] == pytest.approx(13 / 12, abs=1e-4)
    assert p["alerts_match_store"] is True  # rebuilt alerts are the stored ones
    assert p["meets_target"] is (change["delay_periods"] <= rp.TARGET_DELAY_PERIODS)


@pytest.mark.slow
@needs_data
def test_a_fleet_panel_counts_every_check_as_before_any_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--panels", "tourism", "--series", "3", "--periods", "4", "--data-dir", str(DATA)]
    assert rp.main([*argv, "--set", "monitoring.alpha=0.02"]) == 0
    result = last_json(capsys)
    assert result["config"] == {"monitoring": {"alpha": 0.02}}
    p = result["panels"]["tourism"]
    assert p["config"]["monitoring"]["alpha"] == 0.02
    assert p["replayed"] == ["2017-01-01", "2017-10-01"] and p["changes"] == []
    assert p["checks_before_change"] == 3 * 4 and p["series_years"] == pytest.approx(3.0)
    assert p["episodes_per_series_year"] == pytest.approx(p["alert_episodes"] / 3.0, abs=1e-4)
    assert sum(p["by_check"].values()) >= p["alert_episodes"]
    assert p["alert_episodes"] <= round(p["alerting_checks_share"] * 12) <= 12
    assert p["alerts_match_store"] is True
    assert p["meets_target"] is (p["episodes_per_series_year"] <= 0.5)
