"""The public surface: exports, and bulk writes staying bulk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import event

import chronoguard.store as store_pkg
from chronoguard.store import Store


def test_exports_match_all() -> None:
    public = {n for n in vars(store_pkg) if not n.startswith("_")}
    assert sorted(store_pkg.__all__) == store_pkg.__all__
    assert set(store_pkg.__all__) == public


def test_records_do_not_expose_orm_objects(store: Store) -> None:
    at = datetime(2024, 1, 1)
    move = store.record_alias_move("m", "champion", "1", by="a", reason="r", at=at)
    state = store.set_version_status("m", "1", "champion", at=at, by="a", reason="r")
    for record in (move, state, *store.audit_log()):
        assert type(record).__module__ == "chronoguard.store._records"


def test_thousands_of_rows_are_one_executemany(store: Store) -> None:
    n_series, horizon = 400, 24
    t0 = datetime(2024, 1, 1)
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(n_series)], horizon),
            "origin": t0,
            "ds": np.tile(
                pd.date_range(t0 + timedelta(hours=1), periods=horizon, freq="h"), n_series
            ),
            "horizon": np.tile(np.arange(1, horizon + 1), n_series),
            "yhat": 1.0,
        }
    )
    inserts: list[tuple[str, bool]] = []

    def count(*args: Any) -> None:
        statement, executemany = args[2], args[5]
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append((statement.split()[2].strip('"'), executemany))

    event.listen(store._engine, "before_cursor_execute", count)
    try:
        store.record_forecasts(frame, model_name="m", version="1", alias="champion", created_at=t0)
        store.record_actuals(frame[["unique_id", "ds"]].assign(y=2.0), received_at=t0)
    finally:
        event.remove(store._engine, "before_cursor_execute", count)
    assert ("cg_forecasts", True) in inserts and ("cg_actuals", True) in inserts
    # 9,600 rows each, a handful of statements: one executemany per table (PostgreSQL may
    # page it), plus one audit row per call.
    assert sum(t == "cg_forecasts" for t, _ in inserts) <= 10
    assert sum(t == "cg_actuals" for t, _ in inserts) <= 10
    assert [t for t, _ in inserts].count("cg_audit_log") == 2
    assert len(store.get_forecasts()) == len(store.get_actuals()) == n_series * horizon
