"""Real workspaces and a real uvicorn server for the service's tests.

The fleet is three monthly series (the seat-belt data and two scaled copies); the
workspace is built by the production cycle itself (its bootstrap trains, deploys and serves
version 1), and the server is uvicorn on a free port in a thread, spoken to over HTTP.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import uvicorn

from chronoguard.config import ChronoguardConfig
from chronoguard.lifecycle import init_workspace
from chronoguard.orchestration import run_cycle
from tests.helpers import grant, seatbelts, small_config

MODEL = "test-model"
SERIES = ("north", "south", "west")
ORIGIN_INDEX = 131
ORIGIN_WINDOW = 132  # the training window, in months


def fleet() -> pd.DataFrame:
    base = seatbelts(until="1981-11-01")
    parts = [
        base.assign(unique_id=u, y=base["y"] * s)
        for u, s in zip(SERIES, (1.0, 0.6, 1.4), strict=True)
    ]
    return pd.concat(parts, ignore_index=True)


def config(model: str = "SeasonalNaive") -> ChronoguardConfig:
    return small_config(
        model={"name": model},
        training={"initial_window": 132, "backtest_windows": 2},
        forecast={"horizon": 3},
        gate={"validation_window": 3, "margin": 0.05, "max_mase": 5.0},
    )


ROLES = ("viewer", "operator", "approver", "admin")


@dataclass(frozen=True)
class Built:
    root: Path
    data: pd.DataFrame
    origin: pd.Timestamp
    tokens: Mapping[str, str]  # role -> secret of a token named after it

    def headers(self, role: str = "operator") -> dict[str, str]:
        """The Authorization header of the token of ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def build_workspace(root: Path, cfg: ChronoguardConfig | None = None) -> Built:
    """A workspace after its first cycle: version 1 serves the three series from
    ``origin``; one token per role, each named after its role (``admin`` is ``root``)."""
    df = fleet()
    origin = pd.Timestamp(sorted(df["ds"].unique())[ORIGIN_INDEX])
    with init_workspace(root, cfg or config()) as ws:
        run_cycle(ws, df, freq="MS", now=origin)
        tokens = {role: grant(ws.store, role, role) for role in ROLES if role != "admin"}
        tokens["admin"] = grant(ws.store, "admin2", "admin")
    return Built(root, df, origin, tokens)


def build_after_cycles(root: Path, cfg: ChronoguardConfig, cycles: int = 3) -> Built:
    """:func:`build_workspace`, then ``cycles`` more monthly cycles after ``origin``."""
    from chronoguard.lifecycle import open_workspace

    built = build_workspace(root, cfg)
    dates = sorted(built.data["ds"].unique())
    with open_workspace(built.root) as ws:
        for i in range(1, cycles + 1):
            run_cycle(ws, built.data, freq="MS", now=pd.Timestamp(dates[ORIGIN_INDEX + i]))
    return built


def train_naive_version(built: Built) -> str:
    """Register a new version (a Naive model of the three series, trained at ``origin``;
    version 2 on a workspace fresh from :func:`build_workspace`); it serves nothing until
    something deploys it. Returns its version."""
    from chronoguard.lifecycle import open_workspace, train_version, training_window
    from chronoguard.serving._snapshot import MLFLOW_LOCK

    with MLFLOW_LOCK, open_workspace(built.root) as ws:
        known = built.data[built.data["ds"] <= built.origin]
        trained = train_version(
            training_window(known, built.origin, ORIGIN_WINDOW),
            config("Naive"),
            ws.registry,
            freq="MS",
            now=built.origin,
            trigger="test",
        )
    return trained.version.version


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a thread; yields the base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def wait_ready(client: httpx.Client, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get("/readyz")
        if r.status_code == 200:
            body: dict[str, Any] = r.json()
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"not ready after {timeout} s: {r.text}")
        time.sleep(0.05)
