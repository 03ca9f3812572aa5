"""The HTTP service of a workspace: forecasts, actuals, and the governance record, read-only.

Routes (all under ``/v1``, documented at ``/docs`` and ``/openapi.json``):

* ``GET /v1/models/{model}/series/{unique_id}/forecast?horizon=h``: the forecasts served
  for the series, with the version and alias that produced them, the origin and the
  intervals. Answered from the snapshot (see :mod:`chronoguard.serving._snapshot`) on the
  event loop, with no database or model call; the requests that succeed are answered
  before FastAPI's routing (:mod:`chronoguard.serving._fastpath`), the same bytes.
* ``POST /v1/models/{model}/actuals?revise=false``: observed values, checked against the
  data contract and written whole or not at all (:mod:`chronoguard.serving._actuals`).
* ``GET /v1/models``, ``/v1/models/{model}``, ``/versions``, ``/versions/{v}``,
  ``/deployment`` (paged), ``/deployment/{unique_id}`` (with its history), ``/decisions``,
  ``/alerts`` and ``/v1/audit`` (paged): what the store records.
* ``GET /healthz`` (the process answers) and ``GET /readyz`` (200 once the first snapshot
  is loaded, 503 with the reason before); ``POST /v1/admin/refresh`` rebuilds the snapshot
  now instead of at the next poll.

Routes that read the store are plain functions, which FastAPI runs in its thread pool; the
store opens a session per call, so they run side by side. The forecast route is a
coroutine: it only reads the snapshot, so it needs no thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse, Response

from chronoguard import __version__
from chronoguard.lifecycle import Workspace, open_workspace
from chronoguard.serving._actuals import check_and_record
from chronoguard.serving._fastpath import ForecastFastPath
from chronoguard.serving._problems import ProblemError, install_handlers
from chronoguard.serving._schemas import (
    ActualsIn,
    ActualsOut,
    AlertOut,
    AuditOut,
    DecisionOut,
    DeployedSeries,
    DeploymentInfo,
    DeploymentMoveOut,
    ForecastResponse,
    Health,
    ModelSummary,
    Page,
    Problem,
    Readiness,
    SeriesDeployment,
    VersionInfo,
)
from chronoguard.serving._snapshot import ServingState, Snapshot

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
ACTOR = "chronoguard serve"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Offset = Annotated[int, Query(ge=0, description="items skipped")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "unknown model, series or version"},
    503: {"model": Problem, "description": "the snapshot is not loaded yet"},
}


def utc_now() -> datetime:
    """The wall clock, UTC and naive as the store keeps times (the service is an edge)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _page(items: Sequence[T], limit: int, offset: int) -> dict[str, Any]:
    chunk = list(items[offset : offset + limit])
    nxt = offset + limit if offset + limit < len(items) else None
    return {
        "items": chunk,
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "next_offset": nxt,
    }


def create_app(
    workspace_path: str | Path | None = None,
    *,
    workspace: Workspace | None = None,
    poll_interval: float = 1.0,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The FastAPI app serving the workspace at ``workspace_path``.

    Parameters
    ----------
    workspace_path
        A workspace directory (opened at start-up, closed at shutdown).
    workspace
        An already open workspace instead (the caller closes it).
    poll_interval
        Seconds between two looks at the store for a new deployment or new forecasts.
    clock
        The wall clock (UTC, naive): stamps received actuals and refuses future ones.

    The snapshot is built in the background after start-up; ``/readyz`` says when it is.
    """
    if (workspace_path is None) == (workspace is None):
        raise ValueError("pass exactly one of workspace_path and workspace")
    holder: dict[str, ServingState] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ws = workspace if workspace is not None else open_workspace(Path(str(workspace_path)))
        state = ServingState(ws, poll_interval=poll_interval, clock=clock)
        holder["state"] = state
        state.start()
        try:
            yield
        finally:
            state.stop()
            if workspace is None:
                ws.close()

    app = FastAPI(
        title="chronoguard",
        version=__version__,
        summary="Forecasts served by the deployment of a workspace, actuals in, governance out.",
        lifespan=lifespan,
    )
    install_handlers(app)
    app.add_middleware(ForecastFastPath, holder=holder)

    def state() -> ServingState:
        return holder["state"]

    def ready(model: str | None = None) -> Snapshot:
        st = state()
        if model is not None and model != st.ws.model_name:
            raise ProblemError(
                404,
                "unknown_model",
                f"this service serves model {st.ws.model_name!r}, not {model!r}; "
                "GET /v1/models lists the models",
            )
        snap = st.snapshot
        if snap is None:
            raise ProblemError(503, "not_ready", _not_ready_reason(st))
        return snap

    # --- health -------------------------------------------------------------------------

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process answers (it may still be loading: see /readyz)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "still loading"}},
        tags=["health"],
    )
    async def readyz() -> JSONResponse:
        """200 once the deployment and its served forecasts are loaded; 503 with the reason
        before."""
        st = state()
        snap = st.snapshot
        if snap is None:
            body = Readiness(ready=False, reason=_not_ready_reason(st), last_error=st.last_error)
            return JSONResponse(body.model_dump(mode="json"), status_code=503)
        body = Readiness(
            ready=True,
            snapshot=snap.generation,
            loaded_at=snap.loaded_at,
            n_series=len(snap.series_ids),
            versions_in_use=snap.deployment.versions_in_use(),
            last_error=st.last_error,
        )
        return JSONResponse(body.model_dump(mode="json"))

    @app.post("/v1/admin/refresh", response_model=Readiness, tags=["admin"])
    def refresh() -> Readiness:
        """Rebuild the snapshot now if the store changed (the background poll does the same
        every ``poll_interval`` seconds)."""
        snap = state().refresh()
        return Readiness(
            ready=True,
            snapshot=snap.generation,
            loaded_at=snap.loaded_at,
            n_series=len(snap.series_ids),
            versions_in_use=snap.deployment.versions_in_use(),
        )

    # --- forecasts ----------------------------------------------------------------------

    @app.get(
        "/v1/models/{model}/series/{unique_id}/forecast",
        response_model=ForecastResponse,
        responses={**_ERRORS, 422: {"model": Problem, "description": "horizon not served"}},
        tags=["forecasts"],
    )
    async def forecast(
        model: str,
        unique_id: str,
        horizon: Annotated[
            int | None, Query(ge=1, description="steps ahead (default: all that were served)")
        ] = None,
    ) -> Response:
        """The forecasts served for ``unique_id``: the latest origin's, from the version
        that serves the series, with the prediction interval."""
        snap = ready(model)
        block = snap.served.get(unique_id)
        if block is None:
            raise _not_served(snap, unique_id)
        h = block.horizon if horizon is None else horizon
        if h > block.horizon:
            raise ProblemError(
                422,
                "horizon_not_served",
                f"series {unique_id!r} was served {block.horizon} step(s) ahead from origin "
                f"{block.origin.isoformat()} (version {block.version}); ask for horizon ≤ "
                f"{block.horizon}, or raise forecast.horizon in the workspace config",
            )
        return Response(snap.forecast_body(block, h), media_type="application/json")

    # --- actuals ------------------------------------------------------------------------

    @app.post(
        "/v1/models/{model}/actuals",
        response_model=ActualsOut,
        responses={
            **_ERRORS,
            409: {"model": Problem, "description": "a revision without revise=true"},
            422: {"model": Problem, "description": "rows that break the data contract"},
        },
        tags=["actuals"],
    )
    def post_actuals(
        model: str,
        body: ActualsIn,
        revise: Annotated[
            bool, Query(description="replace stored values that differ (audited)")
        ] = False,
        by: Annotated[str, Query(min_length=1, description="who sends them (audit)")] = ACTOR,
    ) -> ActualsOut:
        """Record observed values, whole or not at all; re-sending stored values is a no-op."""
        snap = ready(model)
        ws = state().ws
        later: set[str] = set()
        looked: list[bool] = []

        def deployed(u: str) -> bool:
            if u in snap.deployment.versions:
                return True
            if not looked:  # deployed since the snapshot? one store read for the batch
                later.update(ws.store.get_deployment(snap.model_name).versions)
                looked.append(True)
            return u in later

        def anchor(u: str) -> datetime | None:
            block = snap.served.get(u)
            return block.ds[0] if block is not None else None

        return check_and_record(
            ws.store,
            body.rows,
            deployed=deployed,
            anchor=anchor,
            freq=snap.freq,
            now=state().clock(),
            revise=revise,
            by=by,
        )

    # --- models, versions, deployment ---------------------------------------------------

    @app.get("/v1/models", response_model=list[ModelSummary], tags=["models"])
    async def models() -> list[ModelSummary]:
        """The models this service serves (a workspace registers one)."""
        return [_summary(ready())]

    @app.get("/v1/models/{model}", response_model=ModelSummary, responses=_ERRORS, tags=["models"])
    async def model_info(model: str) -> ModelSummary:
        return _summary(ready(model))

    @app.get(
        "/v1/models/{model}/versions",
        response_model=list[VersionInfo],
        responses=_ERRORS,
        tags=["models"],
    )
    def versions(model: str) -> list[VersionInfo]:
        """Every version: lifecycle status (store), lineage and metrics (registry, read once)."""
        snap = ready(model)
        return _versions(state().ws, snap)

    @app.get(
        "/v1/models/{model}/versions/{version}",
        response_model=VersionInfo,
        responses=_ERRORS,
        tags=["models"],
    )
    def version_info(model: str, version: str) -> VersionInfo:
        snap = ready(model)
        found = [v for v in _versions(state().ws, snap) if v.version == version]
        if not found:
            raise ProblemError(
                404,
                "unknown_version",
                f"model {model!r} has no version {version!r}; GET /v1/models/{model}/versions "
                "lists them",
            )
        return found[0]

    @app.get(
        "/v1/models/{model}/deployment",
        response_model=DeploymentInfo,
        responses=_ERRORS,
        tags=["deployment"],
    )
    async def deployment(
        model: str,
        version: Annotated[str | None, Query(description="only the series of this version")] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> DeploymentInfo:
        """Which version serves which series (paged, by series id), as of the snapshot."""
        snap = ready(model)
        dep = snap.deployment
        ids = snap.series_ids if version is None else tuple(dep.series_of(version))
        page = _page(ids, limit, offset)
        page["items"] = [
            DeployedSeries(unique_id=u, version=dep.versions[u], since=dep.since[u])
            for u in page["items"]
        ]
        counts: dict[str, int] = {}
        for v in dep.versions.values():
            counts[v] = counts.get(v, 0) + 1
        return DeploymentInfo(
            model=model,
            n_series=len(dep),
            series_per_version=dict(sorted(counts.items())),
            series=Page[DeployedSeries](**page),
        )

    @app.get(
        "/v1/models/{model}/deployment/{unique_id}",
        response_model=SeriesDeployment,
        responses=_ERRORS,
        tags=["deployment"],
    )
    def series_deployment(model: str, unique_id: str) -> SeriesDeployment:
        """The version serving one series now (from the store) and every move it made."""
        ready(model)
        store = state().ws.store
        dep = store.get_deployment(model)
        if dep.version_of(unique_id) is None:
            raise _unknown_series(model, unique_id)
        moves = store.deployment_history(model, [unique_id])
        return SeriesDeployment(
            model=model,
            unique_id=unique_id,
            version=dep.versions[unique_id],
            since=dep.since[unique_id],
            history=[DeploymentMoveOut.model_validate(m) for m in moves],
        )

    # --- decisions, alerts, audit -------------------------------------------------------

    @app.get(
        "/v1/models/{model}/decisions",
        response_model=Page[DecisionOut],
        responses=_ERRORS,
        tags=["governance"],
    )
    def decisions(
        model: str,
        unique_id: Annotated[list[str] | None, Query(description="series (repeatable)")] = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
        action: Annotated[str | None, Query(description="retrain, keep, wait …")] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """The decision engine's choices per series and cycle, with reasons (by ds, series).

        Without a time bound or series, the decisions of the latest finished cycle."""
        ready(model)
        store = state().ws.store
        if ds_from is None and ds_to is None and not unique_id:
            last = store.last_cycle(model)
            if last is not None:
                ds_from = ds_to = last.now
        found = store.list_series_decisions(
            model, unique_id=unique_id or None, ds_from=ds_from, ds_to=ds_to, action=action
        )
        page = _page(found, limit, offset)
        page["items"] = [DecisionOut.model_validate(d) for d in page["items"]]
        return page

    @app.get(
        "/v1/models/{model}/alerts",
        response_model=Page[AlertOut],
        responses=_ERRORS,
        tags=["governance"],
    )
    def alerts(
        model: str,
        status: Annotated[str | None, Query(description="open, acknowledged, resolved")] = None,
        unique_id: Annotated[list[str] | None, Query(description="series (repeatable)")] = None,
        kind: str | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
        order: Literal["asc", "desc"] = "desc",
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Alerts raised by monitoring (newest first by default)."""
        ready(model)
        found = state().ws.store.list_alerts(
            status=status, unique_id=unique_id or None, kind=kind, ds_from=ds_from, ds_to=ds_to
        )
        if order == "desc":
            found = found[::-1]
        page = _page(found, limit, offset)
        page["items"] = [AlertOut.model_validate(a) for a in page["items"]]
        return page

    @app.get("/v1/audit", response_model=Page[AuditOut], responses=_ERRORS, tags=["governance"])
    def audit(
        entity: str | None = None,
        action: str | None = None,
        order: Literal["asc", "desc"] = "desc",
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """The append-only, hash-chained audit log (newest first by default)."""
        ready()
        found = state().ws.store.audit_log(entity=entity, action=action)
        if order == "desc":
            found = found[::-1]
        page = _page(found, limit, offset)
        page["items"] = [AuditOut.model_validate(e) for e in page["items"]]
        return page

    app.state.serving = holder  # tests and embedders reach the state here
    return app


def _not_ready_reason(state: ServingState) -> str:
    if state.last_error:
        return (
            f"the first snapshot of the deployment failed ({state.last_error}); it is retried "
            f"every {state.poll_interval:g} s"
        )
    return "loading the deployment and its served forecasts (the first snapshot is being built)"


def _unknown_series(model: str, unique_id: str) -> ProblemError:
    return ProblemError(
        404,
        "unknown_series",
        f"model {model!r} does not serve series {unique_id!r}; "
        f"GET /v1/models/{model}/deployment lists the series it serves",
    )


def _not_served(snap: Snapshot, unique_id: str) -> ProblemError:
    v = snap.deployment.version_of(unique_id)
    if v is None:
        return _unknown_series(snap.model_name, unique_id)
    return ProblemError(
        404,
        "not_served_yet",
        f"series {unique_id!r} is deployed on version {v} but no forecast was served for it "
        "yet; the next cycle (`chronoguard cycle`) serves it",
    )


def _summary(snap: Snapshot) -> ModelSummary:
    return ModelSummary(
        name=snap.model_name,
        n_series=len(snap.series_ids),
        versions_in_use=snap.deployment.versions_in_use(),
        champion=snap.champion,
        latest_origin=snap.latest_origin,
    )


def _versions(ws: Workspace, snap: Snapshot) -> list[VersionInfo]:
    statuses = {v.version: v.status for v in ws.store.list_versions(snap.model_name)}
    numbers = set(statuses) | set(snap.registry) | set(snap.deployment.versions_in_use())
    served: dict[str, int] = {}
    for v in snap.deployment.versions.values():
        served[v] = served.get(v, 0) + 1
    out = []
    for v in sorted(numbers, key=lambda x: (not x.isdigit(), int(x) if x.isdigit() else 0, x)):
        meta = snap.registry.get(v)
        out.append(
            VersionInfo(
                version=v,
                status=statuses.get(v),
                aliases=["champion"] if snap.champion == v else [],
                n_series=served.get(v, 0),
                run_id=meta.run_id if meta else None,
                model_uri=meta.model_uri if meta else None,
                forecaster=meta.forecaster if meta else None,
                train_start=meta.train_start if meta else None,
                train_end=meta.train_end if meta else None,
                trigger=meta.trigger if meta else None,
                parent_version=meta.parent_version if meta else None,
                trained_at=meta.trained_at if meta else None,
                metrics=dict(meta.metrics) if meta else {},
            )
        )
    return out
