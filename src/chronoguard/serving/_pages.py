"""The live dashboard: server-rendered HTML pages under ``/ui``, readable without JavaScript.

Pages (templates in :mod:`chronoguard.dashboard.live`, Jinja2 with autoescape on):

* ``/ui/`` the fleet: one row per series (health score and what drives it, version and
  alias, group and tier, open alerts, latest decision), a roll-up per model version, and
  the group incidents of the latest cycle (:func:`chronoguard.monitoring.group_incidents`).
  Searched (``q``: series id or group), sorted (``sort``, ``order``) and paged (``page``,
  ``size``) by query parameters and links.
* ``/ui/series/{unique_id}``: actuals against forecasts with their intervals, the error
  per horizon, interval coverage, drift statistics against their thresholds, the version
  timeline, its alerts and the inputs that moved with the error.
* ``/ui/decisions``, ``/ui/approvals``, ``/ui/alerts``, ``/ui/audit`` (paged).
* ``/ui/login`` (paste a token; it is checked against the workspace's tokens and kept in an
  HttpOnly, SameSite=Strict cookie scoped to ``/ui``) and ``/ui/logout``.

Every page needs a viewer token of the workspace (the cookie, or an ``Authorization:
Bearer`` header); without one it redirects to the login page and shows nothing.

The fleet table is built from the store once per change of the snapshot, and at most once
per poll interval otherwise (as ``/metrics`` is), then searched, sorted and paged in
memory (:class:`~chronoguard.dashboard.live.table.FleetTable`). Each page says its server
time in a ``Server-Timing`` header.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urlencode

import jinja2
import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chronoguard.alerts import cycle_incidents
from chronoguard.dashboard.live import TEMPLATES
from chronoguard.dashboard.live.series import ServedPath, series_charts
from chronoguard.dashboard.live.table import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    SORTABLE,
    FleetQuery,
    FleetRow,
    FleetTable,
    rollups,
)
from chronoguard.lifecycle.access import AccessError, Principal, require
from chronoguard.monitoring import DECAY_METHOD
from chronoguard.monitoring.health import KIND_WEIGHTS, fleet_health
from chronoguard.monitoring.incidents import inputs_moved_with_error, period_word
from chronoguard.orchestration.cycle import CycleOutcome
from chronoguard.serving._auth import bearer_secret
from chronoguard.serving._snapshot import ServingState, Snapshot

log = logging.getLogger("chronoguard.serving")

COOKIE = "chronoguard_ui"
UNHEALTHY_BELOW = 0.5
LIST_PAGE = 50
#: Seconds a fleet table is served before it is rebuilt when the snapshot did not change
#: (alerts acknowledged, decisions recorded without new forecasts).
TABLE_TTL = 15.0
SERIES_POINTS = 120  # the most recent periods a series page plots


def _fmt_time(value: datetime | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%Y-%m-%d %H:%M") if value.hour or value.minute else f"{value:%Y-%m-%d}"


def _fmt_num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every page shows series ids and reasons typed by users
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["t"] = _fmt_time
    env.filters["num"] = _fmt_num
    env.filters["q"] = lambda s: quote(str(s), safe="")
    return env


# --- the fleet table ------------------------------------------------------------------------


def build_table(state: ServingState, snap: Snapshot) -> FleetTable:
    """Read the store once for every series of ``snap`` (a few queries whatever the size)."""
    began = time.perf_counter()
    store, model = state.ws.store, snap.model_name
    dep = snap.deployment
    latest = store.latest_decisions(model)
    health = fleet_health(store, model, dep.versions)
    open_alerts = Counter(a.unique_id for a in store.list_alerts(status="open"))
    rows = []
    for u in snap.series_ids:
        h, d, v = health.get(u), latest.get(u), dep.versions.get(u)
        block = snap.served.get(u)
        meta = snap.registry.get(v) if v else None
        rows.append(
            FleetRow(
                unique_id=u,
                health=h.score if h else None,
                fired=tuple(sorted(h.fired)) if h else (),
                mase_ratio=h.mase_ratio if h else None,
                version=v,
                alias=block.alias if block else None,
                forecaster=meta.forecaster if meta else None,
                group=d.group if d else None,
                tier=d.tier if d else None,
                alerts=open_alerts.get(u, 0),
                decision=d.action if d else None,
                decision_reason=d.reason if d else None,
                decision_ds=d.ds if d else None,
            )
        )
    last = max((h.ds for h in health.values()), default=None)
    incidents = (
        cycle_incidents(
            state.ws.store,
            snap.model_name,
            last,
            {r.unique_id: r.group for r in rows},
            period=period_word(snap.freq),
        )
        if last is not None
        else []
    )
    return FleetTable(
        rows=tuple(rows),
        rollups=rollups(rows, UNHEALTHY_BELOW),
        built_at=state.clock(),
        build_seconds=time.perf_counter() - began,
        incidents=tuple(incidents),
    )


class TableCache:
    """The fleet table of the current snapshot.

    :meth:`warm` starts a build in the background; the app calls it with every new
    snapshot (and the login page does too), so the table is usually ready before anyone
    asks. A request finding no table builds it. A table is stale when the snapshot changed
    or it is older than :data:`TABLE_TTL` (or the poll interval, if longer); a stale
    table is still served while one background thread builds its successor, so no page
    waits for the store once the first table exists (its age is shown on the page).
    """

    def __init__(self, holder: Mapping[str, ServingState]) -> None:
        self._holder = holder
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._table: FleetTable | None = None
        self._key: tuple[int, float] = (-1, 0.0)
        self._building = False

    def _stale(self, snap: Snapshot) -> bool:
        generation, at = self._key
        st = self._holder["state"]
        ttl = max(st.poll_interval, TABLE_TTL)
        return generation != snap.generation or time.monotonic() - at >= ttl

    def _build(self, snap: Snapshot) -> FleetTable:
        with self._build_lock:
            if self._table is not None and not self._stale(snap):
                return self._table
            began = time.monotonic()
            table = build_table(self._holder["state"], snap)
            with self._lock:
                self._table, self._key = table, (snap.generation, began)
            return table

    def _background(self, snap: Snapshot) -> None:
        try:
            self._build(snap)
        except Exception:  # keep serving the last table; the next request tries again
            log.exception("building the dashboard's fleet table failed")
        finally:
            with self._lock:
                self._building = False

    def _start(self, snap: Snapshot) -> None:
        # Called under self._lock.
        if not self._building:
            self._building = True
            threading.Thread(
                target=self._background, args=(snap,), name="chronoguard-ui-table", daemon=True
            ).start()

    def warm(self, snap: Snapshot) -> None:
        """Start building the table in the background if there is none or it is stale."""
        with self._lock:
            if self._table is None or self._stale(snap):
                self._start(snap)

    def get(self, snap: Snapshot) -> tuple[FleetTable, bool]:
        """The table, and whether this call waited for it to be built."""
        with self._lock:
            table = self._table
            if table is not None:
                if self._stale(snap):
                    self._start(snap)
                return table, False
        return self._build(snap), True


# --- the router -------------------------------------------------------------------------------


@dataclass(slots=True)
class CycleSpend:
    """What the decision engine decided in one cycle and the CPU its retrains cost."""

    decided: int = 0
    retrain: int = 0
    over_budget: int = 0
    cpu_seconds: float = 0.0


def _safe_next(value: str | None) -> str:
    """Where to go after the login: a path of the dashboard only (no open redirect)."""
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


def _int(value: str | None, default: int, lo: int = 1) -> int:
    try:
        return max(lo, int(value)) if value is not None else default
    except ValueError:
        return default


def pages_router(holder: Mapping[str, ServingState], cache: TableCache | None = None) -> APIRouter:
    """The ``/ui`` pages of the app whose serving state ``holder["state"]`` holds, with the
    fleet table kept by ``cache`` (one of its own by default)."""
    router = APIRouter(prefix="/ui", include_in_schema=False)
    env = _environment()
    cache = cache if cache is not None else TableCache(holder)

    def state() -> ServingState:
        return holder["state"]

    def caller(request: Request) -> Principal | None:
        secret = bearer_secret(request.headers.get("authorization", "").encode("latin-1"))
        secret = secret or request.cookies.get(COOKIE)
        if not secret:
            return None
        try:
            return require(state().tokens.principal(secret, fresh=False), "viewer")
        except AccessError:
            return None

    def to_login(request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)

    def html(name: str, began: float, code: int = 200, **context: Any) -> HTMLResponse:
        st = holder.get("state")
        context.setdefault("model", st.ws.model_name if st else "")
        context.setdefault("who", None)
        body = env.get_template(name).render(**context)
        total = (time.perf_counter() - began) * 1000
        timing = context.pop("_timing", "")
        header = f"{timing}, total;dur={total:.1f}" if timing else f"total;dur={total:.1f}"
        return HTMLResponse(body, status_code=code, headers={"Server-Timing": header})

    def guard(request: Request) -> tuple[Principal, Snapshot] | Response:
        who = caller(request)
        if who is None:
            return to_login(request)
        snap = state().snapshot
        if snap is None:
            return html("loading.html.j2", time.perf_counter(), code=503, who=who)
        return who, snap

    # --- login ----------------------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str | None = None) -> Response:
        snap = holder["state"].snapshot if "state" in holder else None
        if snap is not None:
            cache.warm(snap)  # the fleet page after the login finds its table ready
        return html("login.html.j2", time.perf_counter(), next=_safe_next(next), error=None)

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        began = time.perf_counter()
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        secret = (form.get("token") or [""])[0].strip()
        target = _safe_next((form.get("next") or ["/ui/"])[0])
        try:
            # Checked against the store: a token created a moment ago logs in at once.
            who = require(state().tokens.principal(secret, fresh=True), "viewer")
        except AccessError as exc:
            return html("login.html.j2", began, code=401, next=target, error=str(exc))
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            secret,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.headers["X-Chronoguard-User"] = who.name
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
        return response

    # --- the fleet ------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    def fleet(
        request: Request,
        q: str = "",
        sort: str = "health",
        order: str | None = None,
        page: str | None = None,
        size: str | None = None,
    ) -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, snap = got
        t0 = time.perf_counter()
        table, built = cache.get(snap)
        t_table = (time.perf_counter() - t0) * 1000
        column = sort if sort in SORTABLE else "health"
        direction: Literal["asc", "desc"] = (
            order if order in ("asc", "desc") else SORTABLE[column]  # type: ignore[assignment]
        )
        per = _int(size, DEFAULT_PAGE_SIZE)
        per = per if per in PAGE_SIZES else DEFAULT_PAGE_SIZE
        query = FleetQuery(q=q[:200], sort=column, order=direction, page=_int(page, 1), size=per)
        t1 = time.perf_counter()
        result = table.page(query)
        t_query = (time.perf_counter() - t1) * 1000

        def link(**change: Any) -> str:
            params = {
                "q": query.q,
                "sort": query.sort,
                "order": query.order,
                "page": query.page,
                "size": query.size,
            }
            params.update(change)
            return "/ui/?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

        def sort_link(col: str) -> str:
            flip = "desc" if query.order == "asc" else "asc"
            return link(sort=col, order=flip if query.sort == col else SORTABLE[col], page=1)

        return html(
            "fleet.html.j2",
            began,
            who=who,
            snap=snap,
            table=table,
            result=result,
            link=link,
            sort_link=sort_link,
            sizes=PAGE_SIZES,
            weights=KIND_WEIGHTS,
            _timing=f'table;dur={t_table:.1f};desc="{"built" if built else "ready"}", '
            f"query;dur={t_query:.1f}",
        )

    # --- one series -----------------------------------------------------------------------

    @router.get("/series/{unique_id:path}", response_class=HTMLResponse)
    def series(request: Request, unique_id: str) -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, snap = got
        if unique_id not in snap.deployment.versions:
            return html("missing.html.j2", began, code=404, who=who, unique_id=unique_id)
        context = series_context(state(), snap, unique_id)
        return html("series.html.j2", began, who=who, snap=snap, unique_id=unique_id, **context)

    # --- lists ----------------------------------------------------------------------------

    def paged(items: list[Any], page: str | None) -> dict[str, Any]:
        pages = max(1, math.ceil(len(items) / LIST_PAGE))
        p = min(_int(page, 1), pages)
        return {
            "items": items[(p - 1) * LIST_PAGE : p * LIST_PAGE],
            "page": p,
            "pages": pages,
            "total": len(items),
        }

    @router.get("/decisions", response_class=HTMLResponse)
    def decisions(request: Request, page: str | None = None, action: str = "") -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, snap = got
        store, model = state().ws.store, snap.model_name
        cycles = [c for c in store.list_cycles(model)][-20:][::-1]
        last = cycles[0].now if cycles else None
        # One read: the decisions of the cycles shown (the latest cycle's are listed).
        recent = store.list_series_decisions(model, ds_from=cycles[-1].now) if cycles else []
        spent: dict[datetime, CycleSpend] = {}
        for d in recent:
            s = spent.setdefault(d.ds, CycleSpend())
            s.decided += 1
            s.retrain += d.action == "retrain"
            s.over_budget += d.action == "over_budget"
            if d.action == "retrain" and d.cpu_seconds is not None:
                s.cpu_seconds += d.cpu_seconds
        outcomes = {
            c.now: CycleOutcome.from_summary(model, pd.Timestamp(c.now), c.summary) for c in cycles
        }
        found = [d for d in recent if d.ds == last]
        if action:
            found = [d for d in found if d.action == action]
        found.sort(key=lambda d: (d.action == "keep", d.unique_id))
        return html(
            "decisions.html.j2",
            began,
            who=who,
            cycles=cycles,
            spent=spent,
            outcomes=outcomes,
            last=last,
            action=action,
            **paged(found, page),
        )

    @router.get("/approvals", response_class=HTMLResponse)
    def approvals(request: Request, page: str | None = None, status: str = "pending") -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, snap = got
        found = state().ws.store.list_approvals(snap.model_name, status=status or None)[::-1]
        return html("approvals.html.j2", began, who=who, status=status, **paged(found, page))

    @router.get("/alerts", response_class=HTMLResponse)
    def alerts(request: Request, page: str | None = None, status: str = "open") -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, snap = got
        found = state().ws.store.list_alerts(status=status or None)[::-1]
        table, _ = cache.get(snap)
        return html(
            "alerts.html.j2",
            began,
            who=who,
            status=status,
            incidents=table.incidents,
            **paged(found, page),
        )

    @router.get("/audit", response_class=HTMLResponse)
    def audit(request: Request, page: str | None = None) -> Response:
        began = time.perf_counter()
        got = guard(request)
        if isinstance(got, Response):
            return got
        who, _ = got
        found = state().ws.store.audit_log()[::-1]
        return html("audit.html.j2", began, who=who, **paged(found, page))

    return router


# --- the series page ------------------------------------------------------------------------


def series_context(state: ServingState, snap: Snapshot, u: str) -> dict[str, Any]:
    """What the series page shows for ``u``: its charts (SVG) and tables."""
    store, model = state.ws.store, snap.model_name
    actual = store.get_actuals(unique_id=u).tail(SERIES_POINTS)
    since = pd.Timestamp(actual["ds"].min()).to_pydatetime() if not actual.empty else None
    fc = store.get_forecasts(unique_id=u, model_name=model, served_only=True, ds_from=since)
    mon = store.get_monitoring_results(unique_id=u)
    moves = store.deployment_history(model, [u])
    block = snap.served.get(u)
    drawn = series_charts(
        actual,
        fc,
        mon,
        moves=[
            (m.at, f"v{m.previous_version or '–'}→v{m.version}")
            for m in moves
            if since is None or m.at >= since
        ],
        served=None
        if block is None
        else ServedPath(block.origin, block.ds, block.yhat, block.yhat_lo, block.yhat_hi),
    )
    latest_checks: list[Any] = []
    movers: list[Any] = []
    if not mon.empty:
        last_ds = mon["ds"].max()
        latest = mon[mon["ds"] == last_ds].sort_values(["kind", "method", "feature"])
        latest_checks = list(latest.itertuples(index=False))
        movers = _movers(mon, last_ds)
    history = [
        ("deployment", m.at, m.by, f"v{m.previous_version or '–'} → v{m.version}", m.reason)
        for m in moves
    ] + [
        (
            f"alias {a.alias}",
            a.moved_at,
            a.moved_by,
            f"v{a.previous_version or '–'} → v{a.version}",
            a.reason,
        )
        for a in store.alias_history(model)
    ]
    history.sort(key=lambda e: e[1], reverse=True)
    return {
        "charts": drawn.charts,
        "coverage": drawn.coverage,
        "level": drawn.level,
        "checks": latest_checks,
        "history": history[:50],
        "alerts": store.list_alerts(unique_id=u)[::-1][:50],
        "movers": movers,
        "version": snap.deployment.versions.get(u),
        "block": block,
    }


def _movers(mon: pd.DataFrame, last_ds: Any) -> list[Any]:
    """The exogenous inputs whose drift moved with the series' error (decay statistic)."""
    decay = mon[(mon["method"] == DECAY_METHOD) & (mon["feature"] == "error_h1")]
    if decay.empty:
        decay = mon[mon["method"] == DECAY_METHOD]
    err = decay.drop_duplicates("ds", keep="last").set_index("ds")["statistic"].astype(float)
    own = ("y", "yhat", "error", "interval")
    data = mon[(mon["kind"] == "data_drift") & ~mon["feature"].str.startswith(own)]
    inputs: dict[str, list[float]] = {}
    drifted: set[str] = set()
    for feature, g in data.groupby("feature"):
        by_ds = g.groupby("ds")["statistic"].max()
        inputs[str(feature)] = by_ds.reindex(err.index).astype(float).tolist()
        now = g[g["ds"] == last_ds]
        if bool(now["decision"].any()):
            drifted.add(str(feature))
    return inputs_moved_with_error(err.tolist(), inputs, drifted=drifted) if inputs else []


__all__ = ["COOKIE", "TableCache", "build_table", "pages_router", "period_word"]
