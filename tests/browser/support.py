"""A real workspace holding a synthetic fleet of 10,000 series, and a headless Chromium.

The fleet is written straight into the workspace's store (as the synthetic store of
tests/serving/test_metrics.py is): 10,000 series over 30 versions and 40 groups, one
checked cycle with health scores, decisions and served forecasts, actuals at the cycle,
and a shock: 60 of the 250 series of group ``g3`` alerted and fell 20–30 % below their
forecasts, while 30 scattered alerts elsewhere moved both ways. Series ``s00003`` has two
years of history (forecasts with intervals and actuals) for its page's plots.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chronoguard.lifecycle import init_workspace
from chronoguard.monitoring.health import KIND_WEIGHTS
from chronoguard.monitoring.levels import DECAY_METHOD
from chronoguard.store import Alert, MonitoringResult, SeriesCheck, SeriesDecision
from tests.helpers import grant, small_config

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N = 10_000
MODEL = "test-model"
DS = datetime(2024, 1, 1)
SHOCK_GROUP = "g3"
SHOCKED = 60
HISTORY_SERIES = "s00003"
ROOT = Path(__file__).resolve().parents[2]


def artifacts() -> Path:
    """Where screenshots go: ``CHRONOGUARD_TEST_ARTIFACTS`` or ``<repo>/test-artifacts``."""
    path = Path(os.environ.get("CHRONOGUARD_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def need_browser() -> None:
    """Skip (fail under CI: ``CHRONOGUARD_REQUIRE_BROWSER=1``) without Chromium or
    Playwright."""
    problem = None
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        problem = "Chromium is not installed (Debian/Ubuntu: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed (pip install playwright; no browser download)"
    if problem is not None:
        if os.environ.get("CHRONOGUARD_REQUIRE_BROWSER") == "1":
            pytest.fail(problem + " (CHRONOGUARD_REQUIRE_BROWSER=1)")
        pytest.skip(problem)


@contextmanager
def chromium(user_data: Path) -> Iterator[Any]:
    """A browser context of Debian's Chromium driven by Playwright (a fresh profile)."""
    from playwright.sync_api import sync_playwright

    executable = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(user_data), executable_path=executable, headless=True, args=ARGS
        )
        try:
            yield context
        finally:
            context.close()


@dataclass(frozen=True)
class Fleet:
    root: Path
    viewer: str  # the secret of a viewer token


def _group(i: int) -> str:
    return f"g{i % 40}"


def build_fleet(root: Path) -> Fleet:
    """The synthetic 10,000-series workspace described in the module docstring."""
    ids = [f"s{i:05d}" for i in range(N)]
    kinds = sorted(KIND_WEIGHTS)
    at = DS + timedelta(days=1)
    rng = np.random.default_rng(7)
    cfg = small_config(model={"name": "SeasonalNaive"}, forecast={"horizon": 1})
    with init_workspace(root, cfg) as ws:
        store = ws.store
        version = {u: str(1 + i % 30) for i, u in enumerate(ids)}
        store.deploy(MODEL, version, by="t", reason="init", at=DS - timedelta(days=40))
        store.begin_cycle(MODEL, DS, at=at)
        store.record_series_checks(
            [
                SeriesCheck(
                    MODEL, u, DS, version[u], frozenset({kinds[i % 5]} if i % 7 == 0 else ())
                )
                for i, u in enumerate(ids)
            ]
        )
        store.record_monitoring_results(
            "run",
            DS,
            [
                MonitoringResult(
                    kind="performance_decay",
                    method=DECAY_METHOD,
                    statistic=0.8 + (i % 50) / 25,
                    threshold=0.01,
                    decision=False,
                    severity="info",
                    version=version[u],
                    unique_id=u,
                    feature="error_h1",
                )
                for i, u in enumerate(ids)
            ],
        )
        store.record_series_decisions(
            [
                SeriesDecision(
                    model_name=MODEL,
                    ds=DS,
                    unique_id=u,
                    action="retrain" if i % 100 == 0 else "keep",
                    reason="synthetic",
                    group=_group(i),
                    tier="standard",
                    cpu_seconds=1.5 if i % 100 == 0 else None,
                )
                for i, u in enumerate(ids)
            ]
        )
        # The cycle's served forecasts and the actuals that arrived for them.
        yhat = 100.0 + rng.uniform(0, 50, N)
        factor = 1 + rng.uniform(-0.03, 0.03, N)
        shocked = [i for i in range(N) if _group(i) == SHOCK_GROUP][:SHOCKED]
        factor[shocked] = 1 - rng.uniform(0.21, 0.29, SHOCKED)
        scattered = [i for i in range(5, N, 331) if _group(i) != SHOCK_GROUP][:30]
        factor[scattered] = np.where(np.arange(len(scattered)) % 2 == 0, 0.6, 1.4)
        fc = pd.DataFrame(
            {
                "unique_id": ids,
                "origin": DS - timedelta(days=31),
                "ds": DS,
                "horizon": 1,
                "yhat": yhat,
                "yhat_lo": yhat * 0.9,
                "yhat_hi": yhat * 1.1,
                "level": 80,
                "version": [version[u] for u in ids],
            }
        )
        for v, part in fc.groupby("version"):
            store.record_forecasts(
                part.drop(columns="version"),
                model_name=MODEL,
                version=str(v),
                alias="champion",
                created_at=at,
            )
        store.record_actuals(pd.DataFrame({"unique_id": ids, "ds": DS, "y": yhat * factor}), at)
        store.record_alerts(
            [
                Alert(
                    ds=DS,
                    kind="performance_decay",
                    method="latest_error_z",
                    statistic=4.0,
                    threshold=2.0,
                    severity="warning",
                    message=f"{ids[i]} moved",
                    version=version[ids[i]],
                    unique_id=ids[i],
                )
                for i in shocked + scattered
            ]
        )
        # Two years of monthly history for one series.
        past = pd.date_range(end=DS - pd.DateOffset(months=1), periods=24, freq="MS")
        base = 120 + 10 * np.sin(np.arange(24) / 12 * 2 * np.pi)
        store.record_forecasts(
            pd.DataFrame(
                {
                    "unique_id": HISTORY_SERIES,
                    "origin": past - pd.DateOffset(months=1),
                    "ds": past,
                    "horizon": 1,
                    "yhat": base,
                    "yhat_lo": base - 8,
                    "yhat_hi": base + 8,
                    "level": 80,
                }
            ),
            model_name=MODEL,
            version=version[HISTORY_SERIES],
            alias="champion",
            created_at=at - timedelta(days=40),
        )
        store.record_actuals(
            pd.DataFrame(
                {"unique_id": HISTORY_SERIES, "ds": past, "y": base + rng.normal(0, 5, 24)}
            ),
            at - timedelta(days=40),
        )
        store.finish_cycle(MODEL, DS, summary={"n_series": N}, at=at + timedelta(seconds=42))
        viewer = grant(store, "viewer", "viewer")
    return Fleet(root, viewer)
