"""Round trips of every table on both backends, and the rules on what may be written."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chronoguard.errors import StoreError
from chronoguard.store import (
    ActualsWrite,
    Alert,
    AliasMove,
    ForecastRecord,
    ModelVersion,
    MonitoringResult,
    Store,
)

T0 = datetime(2024, 3, 31)
CREATED = datetime(2024, 3, 31, 6, 30, 15, 123456)


def _forecast(uid: str = "s1", h: int = 1, version: str = "3", **kw: object) -> ForecastRecord:
    fields: dict[str, object] = {
        "unique_id": uid,
        "origin": T0,
        "ds": T0 + timedelta(days=h),
        "horizon": h,
        "yhat": 10.0 + h,
        "yhat_lo": 8.0 + h,
        "yhat_hi": 12.5 + h,
        "level": 80,
        "model_name": "demand",
        "version": version,
        "alias": "champion",
        "created_at": CREATED,
    }
    fields.update(kw)
    return ForecastRecord(**fields)  # type: ignore[arg-type]


def _actuals(values: dict[tuple[str, datetime], float]) -> pd.DataFrame:
    return pd.DataFrame(
        [(u, d, y) for (u, d), y in values.items()], columns=["unique_id", "ds", "y"]
    )


# --- forecasts ------------------------------------------------------------------------


def test_forecast_records_round_trip(store: Store) -> None:
    records = [
        _forecast("s1", 1),
        _forecast("s1", 2),
        _forecast("s2", 1, yhat_lo=None, yhat_hi=None, level=None, alias="shadow", version="4"),
    ]
    assert store.record_forecasts(records) == 3
    got = store.get_forecasts()
    assert list(got.columns) == [
        "id",
        "unique_id",
        "origin",
        "ds",
        "horizon",
        "yhat",
        "yhat_lo",
        "yhat_hi",
        "level",
        "model_name",
        "version",
        "alias",
        "created_at",
    ]
    back = []
    for row in got.to_dict("records"):
        fields: dict[str, Any] = {str(k): None if pd.isna(v) else v for k, v in row.items()}
        del fields["id"]
        back.append(ForecastRecord(**fields))
    assert back == records
    assert got["created_at"].iloc[0] == pd.Timestamp(CREATED)  # microseconds kept
    assert got["id"].is_unique


def test_forecast_frame_with_constant_columns_and_filters(store: Store) -> None:
    n_series, horizon = 300, 14
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:03d}" for i in range(n_series)], horizon),
            "origin": T0,
            "ds": np.tile(pd.date_range(T0 + timedelta(days=1), periods=horizon), n_series),
            "horizon": np.tile(np.arange(1, horizon + 1), n_series),
            "yhat": np.arange(n_series * horizon, dtype=float),
        }
    )
    written = store.record_forecasts(
        frame, model_name="demand", version="7", alias="canary", created_at=CREATED
    )
    assert written == n_series * horizon
    one = store.get_forecasts(
        unique_id="s007", ds_from=T0 + timedelta(days=3), ds_to=T0 + timedelta(days=5)
    )
    assert one["ds"].tolist() == [pd.Timestamp(T0 + timedelta(days=d)) for d in (3, 4, 5)]
    assert one["yhat"].tolist() == [7 * horizon + 2.0, 7 * horizon + 3.0, 7 * horizon + 4.0]
    assert set(one["alias"]) == {"canary"} and one["level"].isna().all()
    assert store.get_forecasts(version="other").empty
    assert len(store.get_forecasts(unique_id=["s001", "s002"], version="7")) == 2 * horizon
    empty = store.get_forecasts(origin_from=T0 + timedelta(days=1))
    assert empty.empty and empty["ds"].dtype == "datetime64[ns]"


def test_served_only_leaves_out_the_forecasts_made_in_shadow(store: Store) -> None:
    from chronoguard.store import SHADOW_ALIAS

    frame = pd.DataFrame(
        {"unique_id": "s1", "origin": T0, "ds": [T0 + timedelta(days=1)], "horizon": 1, "yhat": 1.0}
    )
    store.record_forecasts(
        frame, model_name="demand", version="3", alias="champion", created_at=CREATED
    )
    store.record_forecasts(
        frame, model_name="demand", version="2", alias=SHADOW_ALIAS, created_at=CREATED
    )
    every = store.get_forecasts()
    assert sorted(every["alias"]) == ["champion", "shadow"]
    served = store.get_forecasts(served_only=True)
    assert served["version"].tolist() == ["3"] and served["alias"].tolist() == ["champion"]
    assert store.get_forecasts(served_only=True, version="2").empty
    assert store.count_forecasts() == 2 and store.count_forecasts(served_only=True) == 1
    assert store.count_forecasts(origin_from=T0 + timedelta(days=1)) == 0


def test_forecast_already_stored_is_refused_naming_the_key(store: Store) -> None:
    store.record_forecasts([_forecast("s1", 1), _forecast("s1", 2)])
    with pytest.raises(StoreError) as err:
        store.record_forecasts([_forecast("s1", 3), _forecast("s1", 2)])
    message = str(err.value)
    assert "cg_forecasts" in message and "(unique_id, origin, ds, version)" in message
    assert "('s1', 2024-03-31 00:00:00, 2024-04-02 00:00:00, '3')" in message
    # Nothing from the refused batch was written, not even the new row.
    assert len(store.get_forecasts()) == 2
    # The same forecast under another version is a different forecast.
    assert store.record_forecasts([_forecast("s1", 2, version="4")]) == 1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"yhat": float("nan")}, "'yhat' is NaN"),
        ({"yhat_hi": None}, "yhat_lo, yhat_hi and level together"),
        ({"yhat_lo": 30.0}, "is above yhat_hi"),
        ({"level": 120}, r"level must be in \(0, 100\)"),
    ],
)
def test_bad_forecasts_are_refused(store: Store, change: dict[str, object], match: str) -> None:
    with pytest.raises(StoreError, match=match):
        store.record_forecasts([_forecast(**change)])  # type: ignore[arg-type]
    assert store.get_forecasts().empty


def test_forecasts_without_created_at_are_refused(store: Store) -> None:
    frame = pd.DataFrame([{k: v for k, v in vars_of(_forecast()).items() if k != "created_at"}])
    with pytest.raises(StoreError, match="never reads the wall clock"):
        store.record_forecasts(frame)


def vars_of(record: ForecastRecord) -> dict[str, object]:
    return {k: v for k, v in asdict(record).items() if k != "id"}


def test_aware_timestamps_are_stored_as_naive_utc(store: Store) -> None:
    local = datetime(2024, 4, 1, 2, 0, tzinfo=UTC).astimezone()  # whatever offset runs here
    paris = pd.Timestamp("2024-04-01 02:00", tz="Europe/Paris")
    store.record_forecasts([_forecast(ds=paris, origin=local)])
    got = store.get_forecasts()
    assert got["ds"].iloc[0] == pd.Timestamp("2024-04-01 00:00")  # CEST is UTC+2
    assert got["origin"].iloc[0] == pd.Timestamp("2024-04-01 02:00")


# --- actuals --------------------------------------------------------------------------


def test_actuals_round_trip_and_resend_is_idempotent(store: Store) -> None:
    d1, d2 = datetime(2024, 4, 1), datetime(2024, 4, 2)
    values = {("s1", d1): 1.5, ("s1", d2): 2.5, ("s2", d1): -3.0}
    first = store.record_actuals(_actuals(values), received_at=datetime(2024, 4, 3))
    assert first == ActualsWrite(inserted=3, unchanged=0, revised=0)
    audit_rows = len(store.audit_log())

    again = store.record_actuals(_actuals(values), received_at=datetime(2024, 4, 5))
    assert again == ActualsWrite(inserted=0, unchanged=3, revised=0)
    assert len(store.audit_log()) == audit_rows  # nothing changed, nothing to audit

    got = store.get_actuals()
    assert list(got.columns) == ["unique_id", "ds", "y", "received_at"]
    assert list(got.itertuples(index=False, name=None)) == [
        ("s1", pd.Timestamp(d1), 1.5, pd.Timestamp(2024, 4, 3)),
        ("s1", pd.Timestamp(d2), 2.5, pd.Timestamp(2024, 4, 3)),
        ("s2", pd.Timestamp(d1), -3.0, pd.Timestamp(2024, 4, 3)),
    ]
    assert store.get_actuals(unique_id="s2")["y"].tolist() == [-3.0]
    assert store.get_actuals(ds_from=d2)["unique_id"].tolist() == ["s1"]


def test_a_different_actual_is_refused_unless_revised(store: Store) -> None:
    d1, d2 = datetime(2024, 4, 1), datetime(2024, 4, 2)
    store.record_actuals(_actuals({("s1", d1): 1.5, ("s1", d2): 2.5}), datetime(2024, 4, 3))
    changed = _actuals({("s1", d1): 1.5, ("s1", d2): 9.0, ("s9", d1): 4.0})
    with pytest.raises(StoreError) as err:
        store.record_actuals(changed, datetime(2024, 4, 4))
    message = str(err.value)
    assert "cg_actuals" in message and "('s1', 2024-04-02 00:00:00)" in message
    assert "stored y=2.5, got y=9.0" in message and "revise=True" in message
    assert store.get_actuals()["y"].tolist() == [1.5, 2.5]  # the new s9 row was not written

    summary = store.record_actuals(changed, datetime(2024, 4, 4), revise=True, by="ops")
    assert summary == ActualsWrite(inserted=1, unchanged=1, revised=1)
    got = store.get_actuals(unique_id="s1")
    assert got["y"].tolist() == [1.5, 9.0]
    assert got["received_at"].tolist() == [pd.Timestamp(2024, 4, 3), pd.Timestamp(2024, 4, 4)]
    entry = store.audit_log(action="revise_actuals")[-1]
    assert entry.actor == "ops"
    assert entry.payload["revisions"] == [
        {"unique_id": "s1", "ds": "2024-04-02T00:00:00", "old_y": 2.5, "new_y": 9.0}
    ]


def test_conflicting_actuals_within_one_batch_are_refused(store: Store) -> None:
    d1 = datetime(2024, 4, 1)
    frame = pd.DataFrame({"unique_id": ["s1", "s1"], "ds": [d1, d1], "y": [1.0, 2.0]})
    with pytest.raises(StoreError, match="appears twice in this batch"):
        store.record_actuals(frame, d1)
    assert store.get_actuals().empty


def test_nan_actual_is_refused(store: Store) -> None:
    frame = pd.DataFrame({"unique_id": ["s1"], "ds": [T0], "y": [np.nan]})
    with pytest.raises(StoreError, match="'y' is NaN at row 0"):
        store.record_actuals(frame, T0)


# --- monitoring results and alerts ------------------------------------------------------


def test_monitoring_results_round_trip(store: Store) -> None:
    results = [
        MonitoringResult(
            unique_id="s1",
            feature="y",
            kind="data_drift",
            method="ks",
            statistic=0.31,
            p_value=0.004,
            threshold=0.01,
            decision=True,
            severity="warning",
            version="3",
            details={
                "n_ref": 365,
                "n_cur": np.int64(28),
                "ess": np.float64(19.5),
                "bins": [1, 2],
                "nan": float("nan"),
            },
        ),
        MonitoringResult(
            unique_id=None,
            feature="residual",
            kind="performance_decay",
            method="mase_ratio",
            statistic=1.1,
            threshold=1.5,
            decision=False,
            severity="info",
            version="3",
        ),
    ]
    assert store.record_monitoring_results("run-1", datetime(2024, 4, 7), results) == 2
    got = store.get_monitoring_results(run_id="run-1")
    assert got["run_id"].tolist() == ["run-1", "run-1"]
    assert (got["ds"] == pd.Timestamp(2024, 4, 7)).all()
    first, second = got.to_dict("records")
    assert first["unique_id"] == "s1" and first["p_value"] == 0.004 and first["decision"]
    # numpy scalars become JSON numbers; NaN becomes null because JSON has no NaN.
    assert first["details"] == {"n_ref": 365, "n_cur": 28, "ess": 19.5, "bins": [1, 2], "nan": None}
    assert second["unique_id"] is None and pd.isna(second["p_value"]) and not second["decision"]
    assert second["details"] == {}
    assert len(store.get_monitoring_results(decision=True)) == 1
    assert store.get_monitoring_results(kind="concept_drift").empty
    methods = set(got["method"])
    one = sorted(methods)[0]
    assert set(store.get_monitoring_results(method=one)["method"]) == {one}
    assert set(store.get_monitoring_results(method=sorted(methods))["method"]) == methods
    assert store.get_monitoring_results(method="no-such-method").empty
    with pytest.raises(StoreError, match="kind 'drifty' is not one of"):
        store.record_monitoring_results(
            "run-2",
            datetime(2024, 4, 8),
            [
                MonitoringResult(
                    kind="drifty",
                    method="ks",
                    statistic=0.1,
                    threshold=0.1,
                    decision=False,
                    severity="info",
                    version="3",
                )
            ],
        )


def test_alerts_round_trip_and_status_changes(store: Store) -> None:
    alert = Alert(
        ds=datetime(2024, 4, 7),
        unique_id="s1",
        kind="concept_drift",
        method="page_hinkley",
        statistic=12.0,
        p_value=None,
        threshold=10.0,
        severity="critical",
        message="residuals drifted",
        version="3",
    )
    (stored,) = store.record_alerts([alert])
    assert stored.id is not None and stored.status == "open"
    assert store.list_alerts() == [stored]

    acked = store.set_alert_status(stored.id, "acknowledged", at=datetime(2024, 4, 8), by="ana")
    assert acked.status == "acknowledged"
    assert store.list_alerts(status="open") == []
    assert store.list_alerts(status="acknowledged", unique_id="s1") == [acked]
    entry = store.audit_log(entity=f"cg_alerts:{stored.id}")[-1]
    assert entry.payload == {"from": "open", "to": "acknowledged", "reason": ""}
    with pytest.raises(StoreError, match="status 'closed' is not one of"):
        store.set_alert_status(stored.id, "closed", at=datetime(2024, 4, 8), by="ana")
    with pytest.raises(StoreError, match="no alert with id 999"):
        store.set_alert_status(999, "resolved", at=datetime(2024, 4, 8), by="ana")


# --- aliases, versions, retrains --------------------------------------------------------


def test_alias_history_chains_previous_versions(store: Store) -> None:
    at = datetime(2024, 1, 1)
    moves = [
        store.record_alias_move(
            "demand", "champion", v, by="ana", reason=f"v{v}", at=at + timedelta(days=i)
        )
        for i, v in enumerate(["1", "2", "3"])
    ]
    store.record_alias_move("demand", "challenger", "4", by="bot", reason="retrain", at=at)
    rollback = store.record_alias_move(
        "demand", "champion", "2", by="ana", reason="rollback", at=at + timedelta(days=9)
    )
    assert [m.previous_version for m in moves] == [None, "1", "2"]
    assert rollback.previous_version == "3"
    assert store.current_alias("demand", "champion") == "2"
    assert store.current_alias("demand", "challenger") == "4"
    assert store.current_alias("demand", "shadow") is None
    assert store.current_alias("other", "champion") is None

    history = store.alias_history("demand", "champion")
    assert [(m.previous_version, m.version) for m in history] == [
        (None, "1"),
        ("1", "2"),
        ("2", "3"),
        ("3", "2"),
    ]
    assert history[0] == AliasMove(
        id=moves[0].id,
        model_name="demand",
        alias="champion",
        version="1",
        previous_version=None,
        moved_at=at,
        moved_by="ana",
        reason="v1",
    )
    assert len(store.alias_history("demand")) == 5


def test_version_status_and_its_history(store: Store) -> None:
    at = datetime(2024, 2, 1)
    for i, status in enumerate(["candidate", "validated", "canary", "champion"]):
        state = store.set_version_status(
            "demand", "3", status, at=at + timedelta(hours=i), by="lc", reason=status
        )
    assert state == ModelVersion(
        model_name="demand", version="3", status="champion", updated_at=at + timedelta(hours=3)
    )
    store.set_version_status("demand", "4", "candidate", at=at, by="lc", reason="trained")
    assert store.get_version("demand", "3") == state
    assert store.get_version("demand", "9") is None
    assert [v.version for v in store.list_versions("demand", status="candidate")] == ["4"]
    history = store.version_history("demand", "3")
    assert [(c.from_status, c.to_status) for c in history] == [
        (None, "candidate"),
        ("candidate", "validated"),
        ("validated", "canary"),
        ("canary", "champion"),
    ]
    with pytest.raises(StoreError, match="version status 'staging' is not one of"):
        store.set_version_status("demand", "3", "staging", at=at, by="lc", reason="no")
    assert store.get_version("demand", "3") == state


def test_retrain_decisions_round_trip(store: Store) -> None:
    kwargs: dict[str, Any] = {
        "ds": datetime(2024, 3, 1),
        "model_name": "demand",
        "trigger": "concept_drift",
        "challenger_version": "5",
        "champion_version": "4",
        "challenger_error": 0.8,
        "champion_error": 1.2,
        "outcome": "promoted",
        "reason": "lower MASE",
    }
    first = store.record_retrain(**kwargs)
    second = store.record_retrain(
        **{
            **kwargs,
            "model_name": "other",
            "champion_version": None,
            "champion_error": None,
            "outcome": "rejected",
        }
    )
    assert first.id != second.id
    assert store.list_retrains() == [first, second]
    assert store.list_retrains("demand") == [first]
    assert second.champion_version is None and second.champion_error is None
    with pytest.raises(StoreError, match="retrain outcome 'maybe'"):
        store.record_retrain(**{**kwargs, "outcome": "maybe"})


def test_closed_store_refuses_calls(store_url: str) -> None:
    store = Store.open(store_url)
    store.close()
    store.close()  # harmless twice
    with pytest.raises(StoreError, match="is closed"):
        store.get_actuals()


def test_a_constraint_violation_from_the_database_becomes_a_store_error(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a duplicate slips past the pre-check (say, written by a tool without the store's
    lock), the database's IntegrityError surfaces as a StoreError naming table and key."""
    from sqlalchemy import insert

    from chronoguard.store import _series
    from chronoguard.store._models import ForecastRow

    store.record_forecasts([_forecast("s1", 1)])
    monkeypatch.setattr(
        _series,
        "insert_forecasts",
        lambda session, rows: session.execute(insert(ForecastRow), rows),
    )
    with pytest.raises(StoreError) as err:
        store.record_forecasts([_forecast("s1", 1)])
    message = str(err.value)
    assert message.startswith("recording forecasts into cg_forecasts: a constraint refused")
    assert "unique_id" in message and "version" in message  # both backends name the key columns
    assert len(store.get_forecasts()) == 1
