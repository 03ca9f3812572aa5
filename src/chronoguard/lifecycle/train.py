"""Train a model version: fit, backtest, reference profile, log and register with lineage."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

import pandas as pd

from chronoguard import __version__
from chronoguard.compute import AnyExecutor, Executor, ReportingExecutor, open_executor
from chronoguard.config import ChronoguardConfig
from chronoguard.errors import DataContractError
from chronoguard.forecasting import Forecaster, backtest, frozen_backtest, make_forecaster
from chronoguard.monitoring import build_reference
from chronoguard.registry import (
    Lineage,
    ModelRegistry,
    ModelVersion,
    VersionReference,
    fingerprint_frame,
)

#: ``progress(stage, done, total)``: a training reports each fitted series (stage
#: ``"fitting"``) and each profiled batch of series (``"profiling"``), for a progress display.
TrainingProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainedVersion:
    version: ModelVersion
    forecaster: Forecaster
    reference: VersionReference
    metrics: dict[str, float]


def new_forecaster(cfg: ChronoguardConfig, freq: str) -> Forecaster:
    """A fresh, unfitted forecaster as the configuration names it."""
    return make_forecaster(
        cfg.model.name,
        season_length=cfg.data.season_length,
        freq=freq,
        level=list(cfg.model.levels),
        exog=list(cfg.data.exog) or None,
        **cfg.model.params,
    )


def training_window(df: pd.DataFrame, end: pd.Timestamp, periods: int) -> pd.DataFrame:
    """The last ``periods`` observations of each series up to ``end`` (all when 0)."""
    window = df[df["ds"] <= end]
    if periods:
        window = window.groupby("unique_id", sort=False).tail(periods)
    return window.reset_index(drop=True)


def training_minimum(cfg: ChronoguardConfig) -> int:
    """Periods a series needs to be trained and backtested (see
    :meth:`~chronoguard.config.ChronoguardConfig.training_minimum`)."""
    return cfg.training_minimum()


def compute_executor(cfg: ChronoguardConfig) -> AbstractContextManager[AnyExecutor]:
    """The executor that ``cfg.compute`` names, closed on exit.

    A Dask scheduler is connected to on entry, so one that does not answer fails there
    (:class:`~chronoguard.compute.ComputeUnavailableError`, naming the address and the
    fix), before the caller fits or writes anything.
    """
    c = cfg.compute
    return open_executor(c.backend, workers=c.workers, address=c.address, timeout=c.connect_timeout)


def train_version(
    data: pd.DataFrame,
    cfg: ChronoguardConfig,
    registry: ModelRegistry,
    *,
    freq: str,
    now: pd.Timestamp,
    trigger: str,
    parent_version: str | None = None,
    intent: str | None = None,
    executor: Executor | None = None,
    progress: TrainingProgress | None = None,
) -> TrainedVersion:
    """Fit the configured model on ``data``, backtest it, profile it, and register it.

    ``data`` is the exact training window (already validated and cut by the caller); its
    fingerprint goes into the lineage. ``now`` is the injected clock, recorded as the
    training time. ``intent`` tags the MLflow run so an interrupted caller can find it
    (:meth:`~chronoguard.registry.ModelRegistry.find_intent`).

    The per-series reference work runs in batches on ``executor``; by default on the one
    ``cfg.compute`` names (:func:`compute_executor`), opened for this call, so a Dask
    scheduler that does not answer fails before the fit and writes nothing.

    ``progress`` (see :data:`TrainingProgress`) hears of each fitted series and profiled
    batch; the command line draws its bar from it, the core prints nothing.
    """
    h = cfg.forecast.horizon
    min_len = int(data.groupby("unique_id").size().min())
    n_windows = cfg.training.backtest_windows
    step = cfg.training.backtest_step or h
    needed = training_minimum(cfg)
    if min_len < needed:
        raise DataContractError(
            [
                f"the training window has {min_len} periods in its shortest series but the "
                f"backtest needs at least {needed} (2 seasons + horizon {h} + "
                f"{n_windows - 1} × step {step}); lengthen training.initial_window or "
                "reduce training.backtest_windows / forecast.horizon"
            ]
        )
    with ExitStack() as stack:
        ex = executor if executor is not None else stack.enter_context(compute_executor(cfg))
        # CPU time of the fits, the compute cost the decision engine prices (a measurement of
        # cost, not a clock: nothing here decides by the time of day). A refit backtest's fits
        # are part of what a retrain costs.
        cpu0 = time.process_time()
        if cfg.training.backtest == "refit":
            bt = backtest(
                new_forecaster(cfg, freq),
                data,
                h=h,
                n_windows=n_windows,
                step=step,
                level=list(cfg.model.levels),
            )
        forecaster = new_forecaster(cfg, freq).fit(
            data, progress=None if progress is None else lambda i, n: progress("fitting", i, n)
        )
        if cfg.training.backtest == "frozen":
            bt = frozen_backtest(forecaster, data, h=h, n_windows=n_windows, step=step)
        fit_cpu = time.process_time() - cpu0
        if progress is not None:
            ex = ReportingExecutor(ex, lambda i, n: progress("profiling", i, n))
        reference = build_reference(forecaster, data, bt, cfg, freq=freq, executor=ex)
    metrics = {f"backtest_{k}": float(v) for k, v in bt.overall.items()}
    metrics["fit_cpu_seconds"] = fit_cpu
    metrics["fit_cpu_seconds_per_series"] = fit_cpu / max(int(data["unique_id"].nunique()), 1)
    for horizon, row in bt.by_horizon.iterrows():
        for m in ("mae", "mase", "rmse", "smape"):
            metrics[f"backtest_{m}_h{horizon}"] = float(row[m])
    lineage = Lineage(
        model_name=cfg.model.registered_name,
        forecaster=cfg.model.name,
        train_start=str(data["ds"].min()),
        train_end=str(data["ds"].max()),
        n_series=int(data["unique_id"].nunique()),
        n_rows=len(data),
        data_fingerprint=fingerprint_frame(data),
        chronoguard_version=__version__,
        parent_version=parent_version,
        trigger=trigger,
        trained_at=str(now),
    )
    params = {
        "model": cfg.model.name,
        "horizon": h,
        "freq": freq,
        "season_length": cfg.data.season_length,
        "levels": list(cfg.model.levels),
        "exog": list(cfg.data.exog),
        **{f"model.{k}": v for k, v in forecaster.get_params().items()},
    }
    version = registry.log_version(
        cfg.model.registered_name,
        forecaster,
        lineage=lineage,
        params=params,
        metrics=metrics,
        reference=reference,
        artifacts={"lineage": lineage.__dict__},
        tables={"backtest": bt.forecasts, "backtest_by_horizon": bt.by_horizon.reset_index()},
        intent=intent,
    )
    return TrainedVersion(version, forecaster, reference, metrics)
