"""The reference of a version is the same, byte for byte, whether its batches of series ran
in this process, in local processes or on a Dask cluster."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chronoguard.compute import ComputeUnavailableError, DaskExecutor, ProcessExecutor
from chronoguard.forecasting import frozen_backtest
from chronoguard.lifecycle import init_workspace, train_version
from chronoguard.lifecycle.train import new_forecaster
from chronoguard.monitoring import build_reference
from chronoguard.registry import VersionReference
from tests.helpers import seatbelts, small_config

N_SERIES = 6


def fleet() -> pd.DataFrame:
    """Six monthly series: the real seat-belt series, scaled and with seeded noise."""
    base = seatbelts(until="1979-12-01")
    rng = np.random.default_rng(3)
    parts = [
        base.assign(
            unique_id=f"r{i}",
            y=base["y"] * (0.5 + 0.2 * i) + rng.normal(0, 20 + 10 * i, len(base)),
        )
        for i in range(N_SERIES)
    ]
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def trained() -> tuple[object, pd.DataFrame, object, object]:
    cfg = small_config(model={"name": "SeasonalNaive"}, compute={"batch_size": 2})
    df = fleet()
    model = new_forecaster(cfg, "MS").fit(df)
    bt = frozen_backtest(model, df, h=cfg.forecast.horizon, n_windows=2, step=6)
    return model, df, bt, cfg


def _text(reference: VersionReference) -> str:
    # As stored, key order included: series stay in the order of the data.
    return json.dumps(reference.to_dict())


@pytest.fixture(scope="module")
def serial(trained) -> str:
    model, df, bt, cfg = trained
    ref = build_reference(model, df, bt, cfg, freq="MS")
    assert list(ref.series) == [f"r{i}" for i in range(N_SERIES)]
    assert all(s.drift for s in ref.series.values())  # the drift part is there
    return _text(ref)


@pytest.mark.slow  # starts a pool of two fresh interpreters: 12–50 s on a loaded machine
def test_local_processes_give_the_serial_reference(trained, serial: str) -> None:
    model, df, bt, cfg = trained
    with ProcessExecutor(2) as ex:
        ref = build_reference(model, df, bt, cfg, freq="MS", executor=ex)
    assert _text(ref) == serial


def test_a_dask_cluster_gives_the_serial_reference(trained, serial: str, dask_address: str) -> None:
    model, df, bt, cfg = trained
    with DaskExecutor(dask_address) as ex:
        ref = build_reference(model, df, bt, cfg, freq="MS", executor=ex)
    assert _text(ref) == serial


def test_one_batch_or_many_give_the_same_reference(trained, serial: str) -> None:
    model, df, bt, cfg = trained
    one = cfg.model_copy(update={"compute": cfg.compute.model_copy(update={"batch_size": 50})})
    assert _text(build_reference(model, df, bt, one, freq="MS")) == serial


def test_train_version_on_a_dask_address_that_does_not_answer_writes_nothing(
    tmp_path: Path,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    cfg = small_config(
        model={"name": "SeasonalNaive"},
        compute={"backend": "dask", "address": address, "connect_timeout": 0.5},
    )
    with init_workspace(tmp_path / "ws", cfg) as ws:
        with pytest.raises(ComputeUnavailableError, match=address):
            train_version(
                seatbelts("1979-12-01"),
                cfg,
                ws.registry,
                freq="MS",
                now=pd.Timestamp("1979-12-01"),
                trigger="initial",
            )
        assert ws.registry.list_versions(ws.model_name) == []
