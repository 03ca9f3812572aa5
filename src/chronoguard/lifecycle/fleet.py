"""Per-series lifecycle: a deployment says which version serves which series.

A model version is a batch of per-series models trained together (one MLflow version); the
deployment, kept in the store with its history, maps every series to the version that
serves it. Retraining, gating and rollback act on series, so a shock in one series
retrains that series, and a gate failed by one series keeps only that series on its old
model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.config import GateConfig
from chronoguard.errors import ChronoguardError, UnknownVersionError
from chronoguard.forecasting import Forecaster
from chronoguard.forecasting.metrics import mae, rmse, scale_mase, smape
from chronoguard.lifecycle.deploy import CHAMPION, move_alias
from chronoguard.lifecycle.gate import rolling_forecasts
from chronoguard.lifecycle.workspace import Workspace
from chronoguard.registry import LoadedModel, VersionReference
from chronoguard.store import Deployment, DeploymentMove


class VersionCache:
    """Loaded versions of one registered model, each loaded once (versions never change)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._loaded: dict[str, LoadedModel] = {}

    def get(self, version: str) -> LoadedModel:
        v = str(version)
        if v not in self._loaded:
            self._loaded[v] = self._ws.registry.load(self._ws.model_name, v)
        return self._loaded[v]

    def add(self, loaded: LoadedModel) -> None:
        self._loaded[loaded.version.version] = loaded


def reference_for(cache: VersionCache, deployment: Deployment, version: str) -> VersionReference:
    """The reference profile of ``version`` cut to the series it serves in ``deployment``."""
    return cache.get(version).reference.for_series(deployment.series_of(version))


def deploy_series(
    ws: Workspace,
    assignments: Mapping[str, str],
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
    batch: str | None = None,
) -> list[DeploymentMove]:
    """Move series onto versions, as one transaction, with statuses and the MLflow alias.

    Versions that gain series become ``champion``; versions left serving no series become
    ``retired``. The ``champion`` alias in MLflow names the version that serves the most
    series after the move (for a one-series fleet, its model).
    """
    model = ws.model_name
    before = ws.store.get_deployment(model)
    after_versions = {**before.versions, **{u: str(v) for u, v in assignments.items()}}
    gained = sorted({str(v) for u, v in assignments.items() if before.version_of(u) != str(v)})
    if not gained:
        return []
    for v in gained:
        ws.registry.get_version(model, v)  # an unknown version: a clear error, nothing moved
    counts = Counter(after_versions.values())
    lead = max(counts, key=lambda v: (counts[v], int(v) if v.isdigit() else 0))
    left = sorted(set(before.versions.values()) - set(counts))
    with ws.store.transaction():
        moves = ws.store.deploy(model, assignments, by=by, reason=reason, at=at, batch=batch)
        for v in gained:
            current = ws.store.get_version(model, v)
            if current is None or current.status != "champion":
                ws.store.set_version_status(model, v, "champion", at=at, by=by, reason=reason)
        for v in left:
            ws.store.set_version_status(
                model, v, "retired", at=at, by=by, reason=f"serves no series after: {reason}"
            )
        if ws.store.current_alias(model, CHAMPION) != lead:
            move_alias(ws.registry, ws.store, model, CHAMPION, lead, by=by, reason=reason, at=at)
    return moves


def rollback_series(
    ws: Workspace,
    series: Sequence[str] | None,
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
    named: bool | None = None,
) -> list[DeploymentMove]:
    """Move each series back to the version that served it before its current one.

    Versions a series was rolled back from are skipped, so rolling back twice goes two steps
    back. ``series=None`` rolls back every series of the deployment. A series with no
    earlier version is an error when it was ``named`` (the caller listed it; by default
    when ``series`` is given), and stays where it is when it was selected with others
    (every series, or a group's): then only a selection in which no series can move is
    an error. The series that stayed are those
    selected without a move.
    """
    model = ws.model_name
    deployment = ws.store.get_deployment(model)
    ids = sorted(deployment.versions) if series is None else list(series)
    unknown = [u for u in ids if deployment.version_of(u) is None]
    if unknown:
        raise UnknownVersionError(
            f"no version serves {', '.join(unknown[:5])}"
            f"{' …' if len(unknown) > 5 else ''}; `chronoguard deployment` lists the series"
        )
    history: dict[str, list[DeploymentMove]] = {}
    for m in ws.store.deployment_history(model, ids):
        history.setdefault(m.unique_id, []).append(m)
    targets: dict[str, str] = {}
    stuck: list[str] = []
    for u in ids:
        current = deployment.versions[u]
        rolled_back = {current}
        for m in history.get(u, []):
            if m.reason.startswith("rollback") and m.previous_version:
                rolled_back.add(m.previous_version)
        earlier = [m.version for m in reversed(history.get(u, [])) if m.version not in rolled_back]
        if earlier:
            targets[u] = earlier[0]
        else:
            stuck.append(u)
    if stuck and ((series is not None if named is None else named) or not targets):
        raise ChronoguardError(
            f"{len(stuck)} series have no earlier version to roll back to "
            f"({', '.join(stuck[:5])}{' …' if len(stuck) > 5 else ''}); "
            "promote a version for them explicitly instead"
        )
    return deploy_series(ws, targets, by=by, reason=f"rollback: {reason}", at=at)


@dataclass(frozen=True)
class SeriesGate:
    """The gate's verdict for one series: the challenger against the model serving it."""

    unique_id: str
    passed: bool
    metric: str
    challenger_error: float
    champion_error: float | None  # None: no model served the series
    champion_version: str | None
    reason: str


def _series_error(g: pd.DataFrame, train: np.ndarray, metric: str, season_length: int) -> float:
    y, yhat = g["y"].to_numpy(float), g["yhat"].to_numpy(float)
    if metric == "mase":
        return mae(y, yhat) / scale_mase(train, season_length)
    if metric == "mae":
        return mae(y, yhat)
    if metric == "rmse":
        return rmse(y, yhat)
    return smape(y, yhat)


def _errors(
    forecaster: Forecaster,
    data: pd.DataFrame,
    series: Sequence[str],
    *,
    window_start: pd.Timestamp,
    horizon: int,
    metric: str,
    season_length: int,
) -> dict[str, float]:
    mine = data[data["unique_id"].isin(series)]
    fc = rolling_forecasts(forecaster, mine, window_start, horizon)
    hist = mine[mine["ds"] < window_start]
    trains = {u: g["y"].to_numpy(float) for u, g in hist.groupby("unique_id", sort=False)}
    return {
        str(u): _series_error(g, trains[u], metric, season_length)
        for u, g in fc.groupby("unique_id", sort=False)
    }


def gate_series(
    challenger: Forecaster,
    champions: Mapping[str, Forecaster],
    deployment: Deployment,
    series: Sequence[str],
    data: pd.DataFrame,
    *,
    window_start: pd.Timestamp,
    horizon: int,
    season_length: int,
    gate: GateConfig,
) -> dict[str, SeriesGate]:
    """Gate the challenger series by series against the version serving each series.

    Both models keep their parameters frozen and forecast every origin of the window from the
    same history (see :func:`~chronoguard.lifecycle.rolling_forecasts`). A series passes when
    the challenger's error is at most ``(1 - margin)`` times its champion's and, for MASE,
    at most ``max_mase``; a series no model served yet needs only the absolute threshold.
    """
    kw = {
        "window_start": window_start,
        "horizon": horizon,
        "metric": gate.metric,
        "season_length": season_length,
    }
    ch = _errors(challenger, data, series, **kw)  # type: ignore[arg-type]
    by_version: dict[str, list[str]] = {}
    for u in series:
        v = deployment.version_of(u)
        if v is not None:
            by_version.setdefault(v, []).append(u)
    cp: dict[str, float] = {}
    for v, ids in by_version.items():
        cp.update(_errors(champions[v], data, ids, **kw))  # type: ignore[arg-type]
    out: dict[str, SeriesGate] = {}
    for u in series:
        if u not in ch:
            raise ChronoguardError(
                f"series {u!r} has no data in the validation window from {window_start}"
            )
        c, champ = ch[u], cp.get(u)
        reasons = []
        if champ is not None and not c <= champ * (1 - gate.margin):
            reasons.append(
                f"challenger {gate.metric} {c:.3f} does not beat champion {champ:.3f} by the "
                f"{gate.margin:.0%} margin (needs ≤ {champ * (1 - gate.margin):.3f})"
            )
        if gate.metric == "mase" and not c <= gate.max_mase:
            reasons.append(
                f"challenger MASE {c:.3f} is above the business threshold {gate.max_mase}"
            )
        passed = not reasons
        if not passed:
            reason = "; ".join(reasons)
        elif champ is None:
            reason = f"challenger {gate.metric} {c:.3f}; no model served this series before"
        else:
            reason = (
                f"challenger {gate.metric} {c:.3f} vs champion {champ:.3f}: better by "
                f"{1 - c / champ:.1%} (margin {gate.margin:.0%})"
            )
        out[u] = SeriesGate(u, passed, gate.metric, c, champ, deployment.version_of(u), reason)
    return out


def reconcile(ws: Workspace) -> list[str]:
    """Bring MLflow back in line with the store after an interrupted move; returns what it did.

    The store is the record of the deployment and of the alias history; an alias move is
    committed in the store after MLflow moved the alias, so a process killed in between
    leaves MLflow ahead. The alias is put back where the store says it is.
    """
    model = ws.model_name
    done: list[str] = []
    recorded = ws.store.current_alias(model, CHAMPION)
    actual = ws.registry.get_alias(model, CHAMPION)
    if actual != recorded:
        if recorded is None:
            ws.registry.delete_alias(model, CHAMPION)
        else:
            ws.registry.set_alias(model, CHAMPION, recorded)
        done.append(f"alias {CHAMPION}: MLflow v{actual} → v{recorded} (as the store records)")
    return done
