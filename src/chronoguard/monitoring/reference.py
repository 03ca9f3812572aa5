"""The reference profile of a model version, computed once at training time.

A monitoring run compares new data, forecasts and errors against this profile and never
re-reads the training data. The profile is a typed
:class:`~chronoguard.registry.VersionReference` (JSON-safe through ``to_dict``), logged
with the version and returned by the registry when the version is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from chronoguard.compute import Executor, SerialExecutor, in_batches
from chronoguard.config import ChronoguardConfig, MonitoringConfig
from chronoguard.drift import (
    CalibratedDriftTest,
    DriftInputError,
    ReferenceProfile,
    ReferenceState,
    fit_reference_state,
)
from chronoguard.forecasting.metrics import scale_mase
from chronoguard.monitoring.levels import check_levels
from chronoguard.registry.version_reference import (
    BacktestReference,
    ErrorReference,
    SeriesReference,
    VersionReference,
)

#: Points of the quantile sketch that the advisory iid profile keeps per series × feature
#: (the full sorted sample when a series is no longer). Its KS and normalised Wasserstein
#: statistics are then within the measured sketch error (at most ``1 / 512`` for KS) of the
#: full sample's, far below what a monitoring window of a few dozen points can resolve;
#: PSI's bins come from the full sample. With it the stored reference of a series stops
#: growing with its history (``bench/reference_size.py``).
IID_SKETCH_POINTS = 512


class _Predicts(Protocol):
    exog_: list[str]

    def predict(
        self, h: int, X_future: pd.DataFrame | None = None, history: pd.DataFrame | None = None
    ) -> pd.DataFrame: ...

    def fitted_values(self, data: pd.DataFrame, *, method: str = "auto") -> pd.DataFrame: ...


class _Backtest(Protocol):
    @property
    def forecasts(self) -> pd.DataFrame: ...


def one_step_errors(
    forecaster: _Predicts, data: pd.DataFrame, n_last: int, fitted: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One-step-ahead errors over the last ``n_last`` periods, parameters frozen.

    At each of those periods the model is conditioned on the rows strictly before it, so
    the errors are what the served model would have made: the baseline for concept-drift
    and performance checks. They come from :meth:`Forecaster.fitted_values` (one pass of
    the model's recursion where the backend allows, equal to rolling ``predict(1,
    history=...)``); pass ``fitted`` when they are already computed, row for row with
    ``data``. Returns ``unique_id, ds, error``.
    """
    timeline = np.sort(data["ds"].unique())
    last = data["ds"] >= timeline[-n_last]
    if fitted is None:
        fitted = forecaster.fitted_values(data).set_axis(data.index)
    return (
        pd.DataFrame(
            {
                "unique_id": data.loc[last, "unique_id"].to_numpy(),
                "ds": data.loc[last, "ds"].to_numpy(),
                "error": (data.loc[last, "y"] - fitted.loc[last, "yhat"]).to_numpy(float),
            }
        )
        .dropna(subset=["error"])
        .reset_index(drop=True)
    )


def drift_settings(
    freq: str, season_length: int, monitoring: MonitoringConfig, *, n_features: int = 1
) -> dict[str, Any]:
    """The drift engine's settings: its preset for the data's frequency, then the budget's
    false-alarm rate, then the config's.

    Monthly, daily and yearly data get the engine's calibrated presets (check window,
    horizon, design shift); other frequencies its defaults with the config's season length.
    The false-alarm rate over the horizon follows from ``monitoring.false_triggers_per_year``
    for a series with ``n_features`` drift-checked features
    (:meth:`~chronoguard.monitoring.levels.CheckLevels.trigger_rate`; it alerts at the
    stricter alert rate, through its p-value). Any
    ``monitoring.drift_*`` value set in the config wins.
    """
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.split("-")[0]
    if name in ("MS", "ME", "M"):
        base = CalibratedDriftTest.monthly()
    elif name == "D":
        base = CalibratedDriftTest.daily()
    elif name in ("YS", "YE", "Y", "AS", "A"):
        base = CalibratedDriftTest.annual()
    else:
        base = CalibratedDriftTest(season_length=season_length if season_length > 1 else None)
    settings = base.get_params()
    if monitoring.drift_budget_checks is not None:
        settings["horizon"] = monitoring.drift_budget_checks
    levels = check_levels(monitoring, freq, n_features=n_features)
    settings["false_alarm_rate"] = levels.trigger_rate(int(settings["horizon"]))
    overrides = {
        "window": monitoring.drift_window,
        "false_alarm_rate": monitoring.drift_false_alarm_rate,
        "shift": monitoring.drift_shift,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def _drift_states(
    g: pd.DataFrame, features: list[str], freq: str, settings: dict[str, Any]
) -> tuple[dict[str, ReferenceState], dict[str, str]]:
    """Fitted drift references per feature, and the features the engine cannot model.

    A constant feature, or one its season explains exactly, has no noise to compare
    against: it is left to the data-quality checks and named in ``drift_skipped``.
    """
    states: dict[str, ReferenceState] = {}
    skipped: dict[str, str] = {}
    for f in features:
        try:
            states[f] = fit_reference_state(
                g[f].to_numpy(float), ds=pd.DatetimeIndex(g["ds"]), freq=freq, **settings
            )
        except DriftInputError as exc:
            skipped[f] = str(exc)
    return states, skipped


def prediction_burn_in(n: int, season_length: int) -> int:
    """Leading one-step forecasts left out of the prediction reference.

    The first forecasts over the training data come from the model's start-up, not from the
    state it serves from: SARIMAX's filter starts from a diffuse state and needs the
    differences of a season or more, a seasonal MA term near -1 settles over several seasons,
    and ETS's initial states are parameters fitted to the first observations, so its first
    forecasts fit them more closely than any later forecast fits (a reference that keeps
    them expects too small forecast moves). Two seasons cover these start-ups. Short series
    give up less, so that at least two seasons remain for the drift engine's seasonal profile.
    """
    m = max(1, season_length)
    return max(0, min(2 * m, n - 2 * m))


def _prediction_states(
    g: pd.DataFrame, fitted: pd.DataFrame, freq: str, m: int, settings: dict[str, Any]
) -> tuple[dict[str, ReferenceState], dict[str, str], int]:
    """The drift reference of the one-step forecasts over the training window of one series,
    the forecasts it could not model, and the burn-in left out.

    ``fitted`` holds the series' one-step forecasts, parameters frozen, row for row with
    ``g``. A series whose forecasts the engine cannot model (constant forecasts, too few
    after the burn-in) is named in ``prediction_skipped``.
    """
    burn = prediction_burn_in(len(g), m)
    kept = fitted.iloc[burn:]
    kept = kept[np.isfinite(kept["yhat"].to_numpy(float))]
    states: dict[str, ReferenceState] = {}
    skipped: dict[str, str] = {}
    try:
        states["yhat_h1"] = fit_reference_state(
            kept["yhat"].to_numpy(float), ds=pd.DatetimeIndex(kept["ds"]), freq=freq, **settings
        )
    except DriftInputError as exc:
        skipped["yhat_h1"] = str(exc)
    return states, skipped, burn


@dataclass(frozen=True)
class _SeriesSlices:
    """One series' training rows and what was computed from them, as its reference needs."""

    unique_id: str
    rows: pd.DataFrame  # ``ds`` and the features, in time order
    fitted: pd.DataFrame  # ``ds, yhat``: one-step forecasts, row for row with ``rows``
    backtest: pd.DataFrame  # ``horizon, y, yhat`` of the version's backtest
    one_step_errors: np.ndarray  # one-step errors over the last periods of training


@dataclass(frozen=True)
class _ReferenceBatch:
    """The inputs of one batch of series: their slices and plain settings (picklable)."""

    series: tuple[_SeriesSlices, ...]
    features: tuple[str, ...]
    freq: str
    season_length: int
    drift: dict[str, Any]


def _series_reference(s: _SeriesSlices, batch: _ReferenceBatch) -> SeriesReference:
    m, g, b = batch.season_length, s.rows, s.backtest
    y = g["y"].to_numpy(float)
    scale = scale_mase(y, m)
    err = np.abs(b["y"].to_numpy(float) - b["yhat"].to_numpy(float))
    by_h = pd.DataFrame({"horizon": b["horizon"].to_numpy(int), "ae": err}).groupby("horizon")["ae"]
    per_h, count_h = by_h.mean(), by_h.size()
    e1 = s.one_step_errors
    drift, drift_skipped = _drift_states(g, list(batch.features), batch.freq, batch.drift)
    prediction, prediction_skipped, burn = _prediction_states(
        g, s.fitted, batch.freq, m, batch.drift
    )
    return SeriesReference(
        n_train=len(y),
        # As stored: the string form, read back as the same timestamp.
        train_end=pd.Timestamp(str(g["ds"].iloc[-1])),
        mase_scale=scale,
        backtest=BacktestReference(
            horizons=tuple(int(h) for h in per_h.index),
            mae=tuple(float(v) for v in per_h.to_numpy()),
            mase=tuple(float(v / scale) for v in per_h.to_numpy()),
            n=tuple(int(v) for v in count_h.to_numpy()),
        ),
        one_step=ErrorReference(
            n=len(e1),
            mean=float(np.mean(e1)),
            sd=float(np.std(e1, ddof=1)),
            mae=float(np.mean(np.abs(e1))),
        ),
        drift=drift,
        drift_skipped=drift_skipped,
        prediction=prediction,
        prediction_skipped=prediction_skipped,
        prediction_burn_in=burn,
    )


def _reference_batch(batch: _ReferenceBatch) -> list[tuple[str, SeriesReference]]:
    """The per-series part of the reference for one batch of series, in the batch's order.

    A top-level function of plain inputs, so an executor can run it in another process or
    on a Dask worker; the drift engine is seeded per fit, so where a batch runs never
    changes its result.
    """
    return [(s.unique_id, _series_reference(s, batch)) for s in batch.series]


def _reference_batches(
    data: pd.DataFrame,
    fitted: pd.DataFrame,
    bt: pd.DataFrame,
    steps: pd.DataFrame,
    *,
    features: list[str],
    freq: str,
    season_length: int,
    drift: dict[str, Any],
    batch_size: int,
) -> list[_ReferenceBatch]:
    """Cut the training data and what was computed from it into batches of series (in the
    order of ``data``), each series' rows exactly as a per-series loop would see them."""
    bt_rows = bt.groupby("unique_id", sort=False).indices
    step_rows = steps.groupby("unique_id", sort=False).indices
    none = np.array([], dtype=np.intp)
    errors = steps["error"].to_numpy(float)
    slices = [
        _SeriesSlices(
            unique_id=str(uid),
            rows=g[["ds", *features]],
            fitted=fitted.loc[g.index, ["ds", "yhat"]],
            backtest=bt.iloc[bt_rows.get(uid, none)][["horizon", "y", "yhat"]],
            one_step_errors=errors[step_rows.get(uid, none)],
        )
        for uid, g in data.groupby("unique_id", sort=False)
    ]
    return [
        _ReferenceBatch(tuple(part), tuple(features), freq, season_length, drift)
        for part in in_batches(slices, batch_size)
    ]


def build_reference(
    forecaster: _Predicts,
    data: pd.DataFrame,
    backtest: _Backtest,
    cfg: ChronoguardConfig,
    *,
    freq: str,
    executor: Executor | None = None,
) -> VersionReference:
    """Everything later checks compare against, per series, as a
    :class:`~chronoguard.registry.VersionReference`:

    * ``mase_scale``: the seasonal-naive in-sample MAE that scales errors (MASE);
    * ``backtest``: MAE and MASE per horizon from the version's rolling-origin backtest;
    * ``one_step``: mean and sd of one-step errors over the last periods of training;
    * ``drift``: the drift engine's fitted reference state for the target and each
      exogenous feature (seasonal profile, pre-whitening filter, sorted innovations);
    * ``prediction``: the same engine's reference state (``yhat_h1``) for the model's
      one-step forecasts over the training window, parameters frozen, after a burn-in of
      ``prediction_burn_in`` periods (see :func:`prediction_burn_in`);
    * ``iid_profile``: bins and a sorted sample of the training values for the advisory
      iid tests, a sketch of :data:`IID_SKETCH_POINTS` points for longer series.

    Its size per series is bounded whatever the history's length: the drift states keep
    a capped sample (:data:`~chronoguard.drift.reference_state.MAX_STORED`) and the iid
    profile a sketch.

    The per-series part (the drift references above all: nearly all of the time at fleet
    size) runs in batches of ``cfg.compute.batch_size`` series on ``executor`` (default:
    in this process); the result is the same on every executor.
    """
    m = cfg.data.season_length
    drift = drift_settings(freq, m, cfg.monitoring, n_features=1 + len(cfg.data.exog))
    n_last = max(12, min(3 * m, 48))
    # One-step forecasts over the training rows, row for row with ``data``.
    fitted = forecaster.fitted_values(data).set_axis(data.index)
    steps = one_step_errors(
        forecaster,
        data,
        n_last=min(n_last, int(data.groupby("unique_id").size().min()) - 2 * m),
        fitted=fitted,
    )
    features = ["y", *cfg.data.exog]
    batches = _reference_batches(
        data,
        fitted,
        backtest.forecasts,
        steps,
        features=features,
        freq=freq,
        season_length=m,
        drift=drift,
        batch_size=cfg.compute.batch_size,
    )
    labels = [
        f"{len(b.series)} series, {b.series[0].unique_id} … {b.series[-1].unique_id}"
        for b in batches
    ]
    done = (executor or SerialExecutor()).map(_reference_batch, batches, labels=labels)
    series: dict[str, SeriesReference] = dict(pair for part in done for pair in part)
    # Sorted samples and bins of the training values, for the classic iid two-sample tests
    # (KS, PSI, Wasserstein) that the monitoring run reports beside its calibrated check;
    # sketched above IID_SKETCH_POINTS so that a long history does not make it grow.
    iid = ReferenceProfile.build(
        data[["unique_id", "ds", *features]],
        features=features,
        sketch_above=IID_SKETCH_POINTS,
        sketch_size=IID_SKETCH_POINTS,
        exact_ks=False,
    )
    return VersionReference(
        season_length=m,
        freq=freq,
        features=tuple(features),
        series=series,
        iid_profile=iid,
    )
