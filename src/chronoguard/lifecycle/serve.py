"""Serving: a version forecasts the next periods from all history up to the origin.

:func:`forecast_series` is the one owner of "forecast these series from these inputs": the
CLI's ``forecast`` and the cycle's serving step (through :func:`serve_forecasts`) both call
it. It conditions each series on its history, takes the future values of the model's
exogenous inputs from a frame of future inputs, forecasts series the version has no model
for with a fallback model when one is given, and otherwise names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pandas as pd

from chronoguard.config import ChronoguardConfig
from chronoguard.errors import ChronoguardError, DataContractError
from chronoguard.forecasting import Forecaster, make_forecaster
from chronoguard.forecasting._frames import future_dates
from chronoguard.store import Store

if TYPE_CHECKING:
    from chronoguard.lifecycle.workspace import Workspace

_SHOWN = 3  # series, and timestamps per series, named in an error

#: What to do when future inputs do not cover every forecast period: ``"error"`` names the
#: missing rows; ``"shorten"`` forecasts as many periods as every series has inputs for
#: (a replay, whose data holds the inputs of the periods that follow each cycle).
OnMissing = Literal["error", "shorten"]


class NewSeriesError(DataContractError):
    """Series in the data that the serving version has no model for, and no fallback."""


@dataclass(frozen=True)
class SeriesForecasts:
    """The forecasts of one call of :func:`forecast_series`.

    ``frame`` holds the version's forecasts (``unique_id``, ``ds``, ``yhat`` and the interval
    columns); ``fallback`` those of the series the version has no model for, made by the
    fallback model named ``fallback_model`` (same columns; empty without new series).
    """

    frame: pd.DataFrame
    fallback: pd.DataFrame
    fallback_model: str | None
    horizon: int

    @property
    def new_series(self) -> tuple[str, ...]:
        """The series forecast by the fallback model, in order of appearance."""
        return tuple(pd.unique(self.fallback["unique_id"].astype(str)))

    @property
    def empty(self) -> bool:
        return self.frame.empty and self.fallback.empty


def fallback_forecaster(cfg: ChronoguardConfig, freq: str) -> Forecaster | None:
    """The unfitted model ``forecast.fallback_model`` names for new series, or ``None``.

    It uses no exogenous inputs (a new series' inputs were never fitted), and falls back to
    a naive model itself where a series is too short for it.
    """
    name = cfg.forecast.fallback_model
    if name is None:
        return None
    return make_forecaster(
        name,
        season_length=cfg.data.season_length,
        freq=freq,
        level=list(cfg.model.levels),
        fallback=True,
    )


def history_for(forecaster: Forecaster, data: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Rows a model conditions on at ``origin``: from its own training start up to ``origin``.

    Models that run a recursion from a fitted initial state (ETS) must start it where it
    was fitted; earlier rows would feed the recursion data its initial state never saw.
    Series the model was not fitted on are left out (see :func:`forecast_series`).
    """
    starts = data["unique_id"].map(forecaster.train_start_)
    return data[(data["ds"] >= starts) & (data["ds"] <= origin)]


def _missing_text(missing: dict[str, list[pd.Timestamp]]) -> str:
    parts = []
    for uid, stamps in list(missing.items())[:_SHOWN]:
        shown = ", ".join(str(t.date()) if t == t.normalize() else str(t) for t in stamps[:_SHOWN])
        more = f" and {len(stamps) - _SHOWN} more" if len(stamps) > _SHOWN else ""
        parts.append(f"{uid!r} at {shown}{more}")
    others = len(missing) - _SHOWN
    return "; ".join(parts) + (f"; and {others} more series" if others > 0 else "")


def _future_inputs(
    forecaster: Forecaster,
    future: pd.DataFrame,
    ends: pd.Series,
    horizon: int,
    on_missing: OnMissing,
) -> tuple[pd.DataFrame, int]:
    """The rows of ``future`` at the ``horizon`` periods after each series' end, and the
    horizon they cover (shortened to what every series has with ``"shorten"``)."""
    exog = list(forecaster.exog_)
    absent = [c for c in exog if c not in future.columns]
    if absent:
        raise DataContractError(
            [
                f"the future inputs have no column(s) {absent}, which the model uses; give "
                f"unique_id, ds and {exog}"
            ],
            "future inputs",
        )
    keys = pd.DataFrame(
        {
            "unique_id": [u for u in ends.index for _ in range(horizon)],
            "ds": [t for u in ends.index for t in future_dates(ends[u], horizon, forecaster.freq_)],
        }
    )
    keys["step"] = keys.groupby("unique_id", sort=False).cumcount() + 1
    given = future[["unique_id", "ds", *exog]].drop_duplicates(["unique_id", "ds"])
    given = given.assign(unique_id=given["unique_id"].astype(str))
    merged = keys.merge(given, on=["unique_id", "ds"], how="left", indicator=True)
    lacking = merged[merged["_merge"] == "left_only"]
    if lacking.empty:
        return merged[["unique_id", "ds", *exog]], horizon
    if on_missing == "shorten":
        h = int(lacking["step"].min()) - 1
        kept = merged[merged["step"] <= h]
        return kept[["unique_id", "ds", *exog]], h
    missing = {
        str(u): list(pd.DatetimeIndex(g["ds"])) for u, g in lacking.groupby("unique_id", sort=False)
    }
    raise DataContractError(
        [
            f"future inputs are missing for {len(missing)} series: {_missing_text(missing)}. "
            f"The model uses exogenous columns {exog}, so each series needs their values at "
            f"each of the {horizon} forecast periods after its last observation: add the rows "
            "(to the --future file, or as rows with an empty y after the series' history), or "
            "forecast fewer periods (--horizon)"
        ],
        "future inputs",
    )


def forecast_series(
    forecaster: Forecaster,
    data: pd.DataFrame,
    *,
    origin: pd.Timestamp,
    horizon: int,
    future: pd.DataFrame | None = None,
    fallback: Forecaster | None = None,
    on_missing: OnMissing = "error",
) -> SeriesForecasts:
    """Forecast ``horizon`` periods after each series' last row at or before ``origin``.

    Parameters
    ----------
    forecaster
        The fitted model of a version.
    data
        The history, in the data contract (``y`` observed on every row); rows after
        ``origin`` are not conditioned on.
    origin
        The forecast origin: the data's time of the forecast.
    horizon
        Periods to forecast.
    future
        Future inputs for a model with exogenous columns: ``unique_id``, ``ds`` and those
        columns, a row per series and forecast period. ``None`` takes them from the rows of
        ``data`` after ``origin`` (inputs known in advance, as calendars and planned prices
        are, and a replay's data). Ignored by a model without exogenous columns.
    fallback
        An unfitted forecaster for the series the version has no model for (new series),
        fitted on their history here, without exogenous inputs. ``None``: such series are a
        :class:`NewSeriesError` naming them.
    on_missing
        ``"error"``: future inputs that do not cover every series and period are a
        :class:`~chronoguard.errors.DataContractError` naming the missing rows;
        ``"shorten"``: the horizon shrinks to what every series has inputs for (possibly
        to nothing).
    """
    known = set(forecaster.series_ids_)
    in_data = pd.unique(data.loc[data["ds"] <= origin, "unique_id"].astype(str))
    new = [u for u in in_data if u not in known]
    if new and fallback is None:
        shown = ", ".join(repr(u) for u in new[:5]) + (
            f" and {len(new) - 5} more" if len(new) > 5 else ""
        )
        raise NewSeriesError(
            [
                f"{len(new)} series have no model in this version: {shown}. Train a version "
                "that includes them (`chronoguard train`), forecast the others only, or set "
                'forecast.fallback_model (e.g. "SeasonalNaive") in chronoguard.toml to '
                "forecast new series with a simple model fitted on their history"
            ],
            "data",
        )
    history = history_for(forecaster, data, origin)
    h = horizon
    x_future = None
    exog = list(forecaster.exog_)
    frame: pd.DataFrame
    if exog and len(history):
        ends = history.groupby("unique_id", sort=False)["ds"].max()
        inputs = data[data["ds"] > origin] if future is None else future
        x_future, h = _future_inputs(forecaster, inputs, ends, horizon, on_missing)
    if len(history) and h > 0:
        frame = forecaster.predict(h, X_future=x_future, history=history)
    else:
        frame = pd.DataFrame(columns=["unique_id", "ds", "yhat"])
    fallback_frame = pd.DataFrame(columns=["unique_id", "ds", "yhat"])
    if new and fallback is not None and h > 0:
        rows = data[data["unique_id"].astype(str).isin(new) & (data["ds"] <= origin)]
        fallback_frame = fallback.fit(rows[["unique_id", "ds", "y"]]).predict(h)
    return SeriesForecasts(
        frame=frame,
        fallback=fallback_frame,
        fallback_model=fallback.name if fallback is not None and new else None,
        horizon=h,
    )


def forecast_from(
    forecaster: Forecaster,
    data: pd.DataFrame,
    *,
    origin: pd.Timestamp,
    horizon: int,
    future: pd.DataFrame | None = None,
    on_missing: OnMissing = "shorten",
) -> pd.DataFrame:
    """The version's forecasts of :func:`forecast_series` (no fallback: every series of
    ``data`` must have a model in the version). The default ``on_missing="shorten"`` lets
    the horizon shrink where the future inputs end, as a replay near its data's end needs."""
    return forecast_series(
        forecaster, data, origin=origin, horizon=horizon, future=future, on_missing=on_missing
    ).frame


def record_forecasts(
    store: Store,
    fc: pd.DataFrame,
    *,
    origin: pd.Timestamp,
    model_name: str,
    version: str,
    alias: str = "champion",
    if_exists: Literal["error", "skip"] = "error",
) -> pd.DataFrame:
    """Record a version's forecasts as served from ``origin`` (widest interval level kept);
    returns them with the recorded columns added."""
    if fc.empty:
        return fc
    fc = fc.copy()
    fc["origin"] = origin
    fc["horizon"] = fc.groupby("unique_id").cumcount() + 1
    levels = sorted(int(c.removeprefix("yhat_lo_")) for c in fc.columns if c.startswith("yhat_lo_"))
    if levels:
        lv = levels[-1]
        fc["yhat_lo"], fc["yhat_hi"], fc["level"] = fc[f"yhat_lo_{lv}"], fc[f"yhat_hi_{lv}"], lv
    fc["model_name"], fc["version"], fc["alias"], fc["created_at"] = (
        model_name,
        version,
        alias,
        origin,
    )
    store.record_forecasts(fc, if_exists=if_exists)
    return fc


def serve_forecasts(
    store: Store,
    forecaster: Forecaster,
    data: pd.DataFrame,
    *,
    origin: pd.Timestamp,
    horizon: int,
    model_name: str,
    version: str,
    alias: str = "champion",
    if_exists: Literal["error", "skip"] = "error",
    future: pd.DataFrame | None = None,
    on_missing: OnMissing = "shorten",
) -> pd.DataFrame:
    """Forecast from ``origin`` (:func:`forecast_from`) and record what was served.

    ``if_exists="skip"`` keeps forecasts already recorded for the same series, origin, target
    and version as they are (a resumed cycle serves each series once).
    """
    fc = forecast_from(
        forecaster, data, origin=origin, horizon=horizon, future=future, on_missing=on_missing
    )
    return record_forecasts(
        store,
        fc,
        origin=origin,
        model_name=model_name,
        version=version,
        alias=alias,
        if_exists=if_exists,
    )


#: :attr:`VersionForecast.version` of a forecast made by the deployment, each series by the
#: version serving it (its frame then has a ``version`` column).
DEPLOYMENT = "deployment"


@dataclass(frozen=True)
class VersionForecast:
    """What :func:`forecast_version` forecast: the version that served (or
    :data:`DEPLOYMENT`: each series by its own, named in the frame's ``version`` column),
    the origin (the data's last observed time) and the forecasts."""

    version: str
    origin: pd.Timestamp
    forecasts: SeriesForecasts
    #: The versions that forecast, in number order.
    versions: tuple[str, ...] = ()

    def combined(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """The version's forecasts (or ``frame``, e.g. them as recorded), then those of new
        series by the fallback model; with new series a ``model`` column says which made
        each row (``v3``, ``fallback Naive``)."""
        fc = self.forecasts
        own = fc.frame if frame is None else frame
        if not fc.new_series:
            return own
        made_by = (
            "v" + own["version"].astype(str) if self.version == DEPLOYMENT else f"v{self.version}"
        )
        return pd.concat(
            [
                own.assign(model=made_by),
                fc.fallback.assign(model=f"fallback {fc.fallback_model}"),
            ],
            ignore_index=True,
        )


def forecast_version(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    version: str | None = None,
    horizon: int | None = None,
    future: pd.DataFrame | None = None,
    source: str = "data",
    future_source: str = "future",
    horizon_name: str = "horizon",
) -> VersionForecast:
    """Forecast the periods after each series' last observation in ``data`` with a version
    of workspace ``ws`` (a number or an alias), or by default with the deployment (each
    series by the version that serves it; the champion alias when nothing is deployed
    yet): ``chronoguard forecast`` and the Python API's ``Workspace.forecast``.

    ``data`` is checked against the contract here; a model with exogenous columns takes
    their future values from ``future`` or from rows with an empty ``y`` after each
    series' history in ``data`` (not both). A series the version has no model for is
    forecast by ``forecast.fallback_model`` when the config names one, else it is an error;
    so is a forecast of no rows. ``source``, ``future_source`` and ``horizon_name`` are how
    errors name the inputs.
    """
    from chronoguard.data.contract import validate_with_future

    if horizon is not None and horizon < 1:
        raise ChronoguardError(f"{horizon_name} must be 1 or more, got {horizon}")
    if version is None:
        deployment = ws.store.get_deployment(ws.model_name)
        if len(deployment):
            return _forecast_deployment(
                ws,
                data,
                deployment.versions,
                horizon=horizon,
                future=future,
                source=source,
                future_source=future_source,
            )
        version = "champion"
    loaded = ws.registry.load(ws.model_name, version)
    model = loaded.forecaster
    checked = validate_with_future(
        data,
        freq=ws.config.data.freq,
        exog=list(model.exog_),
        future=future,
        source=source,
        future_source=future_source,
    )
    inputs = checked.future
    origin = pd.Timestamp(checked.df["ds"].max())
    result = forecast_series(
        model,
        checked.df,
        origin=origin,
        horizon=horizon if horizon is not None else ws.config.forecast.horizon,
        future=inputs if inputs is not None else checked.df.iloc[:0],
        fallback=fallback_forecaster(ws.config, model.freq_),
        on_missing="error",
    )
    v = loaded.version.version
    if result.empty:
        raise ChronoguardError(
            f"version {v} forecast no rows from {source}; check that it holds the series "
            "the version was trained on"
        )
    return VersionForecast(v, origin, result, (v,))


def _forecast_deployment(
    ws: Workspace,
    data: pd.DataFrame,
    serving: Mapping[str, str],
    *,
    horizon: int | None,
    future: pd.DataFrame | None,
    source: str,
    future_source: str,
) -> VersionForecast:
    """:func:`forecast_version` by the deployment ``serving`` (series → version): each
    series of ``data`` forecast by the version that serves it, rows tagged with it; series
    no version serves are new (the fallback model, or an error naming them)."""
    from chronoguard.data.contract import validate_with_future

    in_use = sorted(set(serving.values()), key=int)
    models = {v: ws.registry.load(ws.model_name, v).forecaster for v in in_use}
    exog = list(dict.fromkeys(c for m in models.values() for c in m.exog_))
    checked = validate_with_future(
        data,
        freq=ws.config.data.freq,
        exog=exog,
        future=future,
        source=source,
        future_source=future_source,
    )
    df = checked.df
    inputs = checked.future if checked.future is not None else df.iloc[:0]
    origin = pd.Timestamp(df["ds"].max())
    h = horizon if horizon is not None else ws.config.forecast.horizon
    ids = pd.unique(df["unique_id"])
    frames, horizons, used = [], [], []
    for v, model in models.items():
        mine = [u for u in ids if serving.get(u) == v]
        if not mine:
            continue
        part = forecast_series(
            model,
            df[df["unique_id"].isin(mine)],
            origin=origin,
            horizon=h,
            future=inputs[inputs["unique_id"].isin(mine)],
            on_missing="error",
        )
        frames.append(part.frame.assign(version=v))
        horizons.append(part.horizon)
        used.append(v)
    new = [u for u in ids if u not in serving]
    fallback = pd.DataFrame(columns=["unique_id", "ds", "yhat"])
    fallback_model = None
    if new:
        # The series no version serves: named as new, or forecast by the fallback model.
        lead = models[in_use[0]]
        extra = forecast_series(
            lead,
            df[df["unique_id"].isin(new)],
            origin=origin,
            horizon=h,
            future=inputs.iloc[:0],
            fallback=fallback_forecaster(ws.config, lead.freq_),
            on_missing="error",
        )
        fallback, fallback_model = extra.fallback, extra.fallback_model
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    result = SeriesForecasts(
        frame=frame,
        fallback=fallback,
        fallback_model=fallback_model,
        horizon=min(horizons) if horizons else h,
    )
    if result.empty:
        raise ChronoguardError(
            f"the deployment forecast no rows from {source}; check that it holds the series "
            "the deployment serves (`chronoguard deployment`)"
        )
    return VersionForecast(DEPLOYMENT, origin, result, tuple(used))


__all__ = [
    "DEPLOYMENT",
    "NewSeriesError",
    "SeriesForecasts",
    "VersionForecast",
    "fallback_forecaster",
    "forecast_from",
    "forecast_series",
    "forecast_version",
    "history_for",
    "record_forecasts",
    "serve_forecasts",
]
