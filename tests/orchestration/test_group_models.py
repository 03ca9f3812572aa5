"""A group of series with its own model: each model's series are a version of their own.

Three regions of the seat-belt data; group `south` forecasts with SeasonalNaive while the
others use model.name (AutoETS). The first cycle trains one version per model, the cycle's
retrains make one version per model of the series they retrain, a retrain by hand takes
one model's series at a time, and every series is served by the version of its own model.
Real workspaces (MLflow, SQLite).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chronoguard.config import parse_config
from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import init_workspace
from chronoguard.lifecycle.fleet import VersionCache
from chronoguard.orchestration import run_cycle
from chronoguard.orchestration.steps import retrain_by_hand
from tests.orchestration.test_cycle import fleet, timeline


def _config(**retraining: object) -> object:
    return parse_config(
        {
            "data": {"freq": "MS", "season_length": 12},
            "model": {"name": "AutoETS", "registered_name": "regions"},
            "forecast": {"horizon": 3},
            "training": {"initial_window": 132, "backtest_windows": 2},
            "gate": {"validation_window": 3, "margin": 0.0, "max_mase": 50.0},
            "retraining": {"k": 2, "n": 3, "cooldown": 0, **retraining},
            "groups": [{"name": "south", "match": "south", "model": "SeasonalNaive"}],
        }
    )


def test_each_model_of_the_groups_trains_a_version_of_its_own(tmp_path: Path) -> None:
    df = fleet()
    tl = timeline(df)
    triggers = ["performance_decay", "concept_drift", "schedule"]
    cfg = _config(schedule_every=1, triggers=triggers)
    with init_workspace(tmp_path / "ws", cfg) as ws:  # type: ignore[arg-type]
        m = ws.model_name
        cache = VersionCache(ws)
        first = run_cycle(ws, df, freq="MS", now=tl[131], cache=cache)
        models = {v.version: v.lineage.forecaster for v in ws.registry.list_versions(m)}
        assert models == {"1": "AutoETS", "2": "SeasonalNaive"}
        assert dict(ws.store.get_deployment(m).versions) == {
            "north": "1",
            "south": "2",
            "west": "1",
        }
        assert first.forecasts_served == 3 * 3
        initial = {d.unique_id: d.challenger_version for d in ws.store.list_series_decisions(m)}
        assert initial == {"north": "1", "south": "2", "west": "1"}

        # By hand: one model's series at a time, named when mixed, nothing written.
        with pytest.raises(ChronoguardError, match=r"AutoETS: north; SeasonalNaive: south"):
            retrain_by_hand(
                ws,
                df,
                series=["north", "south"],
                reason="x",
                now=tl[132],
                freq="MS",
                by="ana",
                at=tl[132],
            )
        assert len(ws.registry.list_versions(m)) == 2
        res = retrain_by_hand(
            ws,
            df,
            series=["south"],
            reason="by hand",
            now=tl[132],
            freq="MS",
            by="ana",
            at=tl[132],
        )
        assert (res.version, ws.registry.get_version(m, res.version).lineage.forecaster) == (
            "3",
            "SeasonalNaive",
        )

        # The cycles' scheduled retrains: every series, one version per model each time.
        for now in tl[132:136]:
            run_cycle(ws, df, freq="MS", now=now, cache=cache)
        retrains = [
            d
            for d in ws.store.list_series_decisions(m, action="retrain")
            if d.trigger != "initial" and d.trigger != "by hand"
        ]
        assert retrains, "the schedule retrained nothing"
        lineage = {v.version: v.lineage for v in ws.registry.list_versions(m)}
        both = 0
        for when in sorted({d.ds for d in retrains}):
            batch = {d.unique_id: d.challenger_version for d in retrains if d.ds == when}
            both += len(set(batch.values())) == 2
            by_model = {u: lineage[v].forecaster for u, v in batch.items()}
            assert by_model == {
                u: ("SeasonalNaive" if u == "south" else "AutoETS") for u in batch
            }, when
            # One version per model at a time, holding exactly that model's series.
            for v in set(batch.values()):
                assert lineage[v].n_series == sum(1 for x in batch.values() if x == v)
        assert both, "no cycle retrained series of both models"
        served = ws.store.get_forecasts()
        deployment = dict(ws.store.get_deployment(m).versions)
        last = served[(served["origin"] == tl[135]) & (served["alias"] == "champion")]
        assert dict(zip(last["unique_id"], last["version"].astype(str), strict=False)) == deployment
        assert lineage[deployment["south"]].forecaster == "SeasonalNaive"
        assert lineage[deployment["north"]].forecaster == "AutoETS"
