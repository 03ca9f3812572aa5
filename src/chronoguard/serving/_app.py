"""The HTTP service of a workspace: forecasts, actuals, the governance record and actions.

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
* ``POST /v1/models/{model}/promote``, ``/rollback`` (series, a group or the fleet),
  ``GET …/approvals`` and ``POST …/approvals/{id}/approve|reject``: the governance actions
  of :mod:`chronoguard.lifecycle.operations`, which the CLI calls too.

Every ``/v1`` route needs a bearer token of the workspace with the route's role
(:mod:`chronoguard.serving._auth`): viewer reads, operator acts, approver votes.

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

import pandas as pd
from fastapi import Depends, FastAPI, Query
from fastapi.responses import JSONResponse, Response

from chronoguard import __version__
from chronoguard.lifecycle import Workspace, open_workspace
from chronoguard.lifecycle.access import Principal
from chronoguard.lifecycle.operations import Selection, cast_vote, promote, rollback
from chronoguard.serving._actuals import check_and_record
from chronoguard.serving._auth import TokenBook, caller_with
from chronoguard.serving._fastpath import ForecastFastPath
from chronoguard.serving._metrics import install_metrics
from chronoguard.serving._pages import TableCache, pages_router
from chronoguard.serving._problems import ProblemError, install_handlers
from chronoguard.serving._schemas import (
    ActualsIn,
    ActualsOut,
    AlertOut,
    ApprovalOut,
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
    PromoteIn,
    PromoteOut,
    Readiness,
    RollbackIn,
    RollbackOut,
    SelectionIn,
    SeriesDeployment,
    VersionInfo,
    VoteIn,
    VoteOut,
)
from chronoguard.serving._snapshot import MLFLOW_LOCK, ServingState, Snapshot

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Offset = Annotated[int, Query(ge=0, description="items skipped")]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no token, or not a token of this workspace"},
    403: {"model": Problem, "description": "the token's role is too low for the route"},
    404: {"model": Problem, "description": "unknown model, series or version"},
    503: {"model": Problem, "description": "the snapshot is not loaded yet"},
}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {
        "model": Problem,
        "description": "a conflict: the workspace is busy, or the "
        "approval request was closed by another vote",
    },
    422: {"model": Problem, "description": "the selection or the request names nothing valid"},
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
        ws = (
            workspace
            if workspace is not None
            else open_workspace(Path(str(workspace_path)), clock=clock)
        )
        state = ServingState(ws, poll_interval=poll_interval, clock=clock)
        holder["state"] = state
        state.on_snapshot.append(ui_tables.warm)  # the dashboard's table follows the store
        state.on_snapshot.append(lambda _: collector.warm(state))  # and so do the metrics
        state.start()
        try:
            yield
        finally:
            state.stop()
            collector.wait_idle()
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
    collector = install_metrics(app, holder)
    ui_tables = TableCache(holder)
    app.include_router(pages_router(holder, ui_tables))  # the live dashboard under /ui

    def state() -> ServingState:
        return holder["state"]

    def book() -> TokenBook:
        return state().tokens

    viewer = caller_with(book, "viewer")
    # Actions re-authenticate against the store: a revoked token never acts.
    operator = caller_with(book, "operator", fresh=True)
    approver = caller_with(book, "approver", fresh=True)

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

    @app.post("/v1/admin/refresh", response_model=Readiness, responses=_ERRORS, tags=["admin"])
    def refresh(_: Principal = Depends(operator)) -> Readiness:
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
        dependencies=[Depends(viewer)],
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
        caller: Principal = Depends(operator),
        revise: Annotated[
            bool, Query(description="replace stored values that differ (audited)")
        ] = False,
    ) -> ActualsOut:
        """Record observed values, whole or not at all; re-sending stored values is a no-op.

        Needs an operator token; its name is recorded as who sent them."""
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
            by=caller.name,
        )

    # --- models, versions, deployment ---------------------------------------------------

    @app.get(
        "/v1/models",
        dependencies=[Depends(viewer)],
        response_model=list[ModelSummary],
        tags=["models"],
    )
    async def models() -> list[ModelSummary]:
        """The models this service serves (a workspace registers one)."""
        return [_summary(ready())]

    @app.get(
        "/v1/models/{model}",
        dependencies=[Depends(viewer)],
        response_model=ModelSummary,
        responses=_ERRORS,
        tags=["models"],
    )
    async def model_info(model: str) -> ModelSummary:
        return _summary(ready(model))

    @app.get(
        "/v1/models/{model}/versions",
        dependencies=[Depends(viewer)],
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
        dependencies=[Depends(viewer)],
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
        dependencies=[Depends(viewer)],
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
        dependencies=[Depends(viewer)],
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
        dependencies=[Depends(viewer)],
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
        dependencies=[Depends(viewer)],
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

    @app.get(
        "/v1/audit",
        dependencies=[Depends(viewer)],
        response_model=Page[AuditOut],
        responses=_ERRORS,
        tags=["governance"],
    )
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

    # --- governance actions: one owner each (chronoguard.lifecycle.operations) ----------

    def act(model: str) -> Workspace:
        ready(model)
        return state().ws

    def now() -> pd.Timestamp:
        return pd.Timestamp(state().clock())

    def selection(body: SelectionIn) -> Selection:
        return Selection.of(body.series, body.group)

    def after(changed: bool) -> None:
        # Readers see the change at once: the snapshot is rebuilt and swapped whole (MLflow
        # is free again: the refresh takes its lock in its turn).
        if changed:
            state().refresh()

    @app.post(
        "/v1/models/{model}/promote",
        response_model=PromoteOut,
        responses=_ACTION_ERRORS,
        tags=["governance"],
    )
    def promote_version(
        model: str, body: PromoteIn, caller: Principal = Depends(operator)
    ) -> PromoteOut:
        """Deploy ``version`` to the selected series (default: those it was trained on).

        Series whose tier waits for approval are not moved: an approval request authored by
        the caller is opened for them. Needs an operator token."""
        ws = act(model)
        with MLFLOW_LOCK:
            out = promote(
                ws,
                body.version,
                caller=caller,
                selection=selection(body),
                reason=body.reason,
                at=now(),
            )
        after(bool(out.moves))
        return PromoteOut(
            version=out.version,
            moved=[DeploymentMoveOut.model_validate(m) for m in out.moves],
            approval_requests=[_approval(r) for r in out.requests],
            unchanged=list(out.unchanged),
        )

    @app.post(
        "/v1/models/{model}/rollback",
        response_model=RollbackOut,
        responses=_ACTION_ERRORS,
        tags=["governance"],
    )
    def rollback_series(
        model: str, body: RollbackIn, caller: Principal = Depends(operator)
    ) -> RollbackOut:
        """Move the selected series (every series by default, a group's, or the named ones)
        back to the version that served each before, in one transaction. Needs an operator
        token."""
        ws = act(model)
        with MLFLOW_LOCK:
            moves = rollback(
                ws, caller=caller, selection=selection(body), reason=body.reason, at=now()
            )
        after(bool(moves))
        return RollbackOut(moved=[DeploymentMoveOut.model_validate(m) for m in moves])

    @app.get(
        "/v1/models/{model}/approvals",
        dependencies=[Depends(viewer)],
        response_model=Page[ApprovalOut],
        responses=_ERRORS,
        tags=["governance"],
    )
    def approvals(
        model: str,
        status: Annotated[
            str | None, Query(description="pending (default), approved, rejected, expired …")
        ] = "pending",
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        """Approval requests of the model (pending ones by default), newest first."""
        ready(model)
        found = state().ws.store.list_approvals(model, status=status or None)[::-1]
        page = _page(found, limit, offset)
        page["items"] = [_approval(r) for r in page["items"]]
        return page

    def _vote(model: str, request_id: int, choice: str, body: VoteIn, caller: Principal) -> VoteOut:
        ws = act(model)
        with MLFLOW_LOCK:
            out = cast_vote(
                ws, request_id, caller=caller, choice=choice, reason=body.reason, at=now()
            )
        after(bool(out.moves))
        return VoteOut(
            request=_approval(out.request),
            deployed=list(out.deployed),
            stayed=list(out.stayed),
            watches_opened=out.watches_opened,
        )

    @app.post(
        "/v1/models/{model}/approvals/{request_id}/approve",
        response_model=VoteOut,
        responses=_ACTION_ERRORS,
        tags=["governance"],
    )
    def approve(
        model: str, request_id: int, body: VoteIn, caller: Principal = Depends(approver)
    ) -> VoteOut:
        """The caller's approval; the one that completes the policy deploys the series. The
        author of the change never counts, and nobody votes twice. Needs an approver token."""
        return _vote(model, request_id, "approve", body, caller)

    @app.post(
        "/v1/models/{model}/approvals/{request_id}/reject",
        response_model=VoteOut,
        responses=_ACTION_ERRORS,
        tags=["governance"],
    )
    def reject(
        model: str, request_id: int, body: VoteIn, caller: Principal = Depends(approver)
    ) -> VoteOut:
        """Reject the request (a reason is required): it closes at once and its series stay
        where they are. Needs an approver token."""
        return _vote(model, request_id, "reject", body, caller)

    app.state.serving = holder  # tests and embedders reach the state here
    return app


def _approval(r: Any) -> ApprovalOut:
    return ApprovalOut.model_validate(r)


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
