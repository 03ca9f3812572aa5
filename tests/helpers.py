"""Shared test data: the real seatbelts series, cut the way the lifecycle tests need."""

from __future__ import annotations

from typing import IO

import pandas as pd

from chronoguard.config import ChronoguardConfig, parse_config
from chronoguard.data import load_dataset, validate_frame


def seatbelts(until: str | None = None) -> pd.DataFrame:
    df = validate_frame(load_dataset("seatbelts")[["unique_id", "ds", "y"]]).df
    if until is not None:
        df = df[df["ds"] <= pd.Timestamp(until)].reset_index(drop=True)
    return df


def small_config(**sections: dict) -> ChronoguardConfig:
    raw: dict = {
        "data": {"freq": "MS", "season_length": 12},
        "model": {"name": "AutoETS", "registered_name": "test-model"},
        "forecast": {"horizon": 6},
        "training": {"initial_window": 72, "backtest_windows": 2},
        "gate": {"validation_window": 6, "margin": 0.05, "max_mase": 5.0},
    }
    for k, v in sections.items():
        raw[k] = {**raw.get(k, {}), **v}
    return parse_config(raw)


def grant(store: object, name: str, role: str = "operator") -> str:
    """A token of ``role`` named ``name`` on ``store`` (creating the workspace's first,
    admin token when there is none); returns its secret, for ``CHRONOGUARD_TOKEN``."""
    from datetime import datetime

    from chronoguard.lifecycle.access import Principal, create_token

    at = datetime(2024, 1, 1)
    if not store.list_tokens():  # type: ignore[attr-defined]
        create_token(store, "root", "admin", by=None, at=at)  # type: ignore[arg-type]
    _, secret = create_token(store, name, role, by=Principal("root", "admin"), at=at)  # type: ignore[arg-type]
    return secret


def readline_within(stream: IO[str], timeout: float) -> str:
    """The next line of ``stream``, or "" when none comes within ``timeout`` seconds.

    A selector, not ``select.select``: in a long test run this process holds more than
    1,024 descriptors (MLflow keeps two open per workspace it has seen), past which
    ``select`` refuses a pipe's."""
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        return stream.readline() if sel.select(timeout) else ""
