"""The fleet table: one row per series, built once per store change, then searched,
sorted and paged in memory.

:class:`FleetTable` holds the rows (plain, frozen values) and answers a :class:`FleetQuery`
(search text, sort column and direction, page). Each column's sort order is computed once
per table (a stable sort of the row indices) and kept, so a request at 10,000 series costs
a filter over the ids and a slice, not a sort.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

#: Columns the table sorts by, with the default direction of each.
SORTABLE: dict[str, Literal["asc", "desc"]] = {
    "unique_id": "asc",
    "health": "asc",
    "version": "asc",
    "group": "asc",
    "tier": "asc",
    "alerts": "desc",
    "decision": "asc",
}
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One series on the fleet page."""

    unique_id: str
    health: float | None  # None: no check yet
    fired: tuple[str, ...]  # the kinds that fired at the latest check (what drives the score)
    mase_ratio: float | None
    version: str | None
    alias: str | None  # the alias that served its latest forecasts
    forecaster: str | None
    group: str | None
    tier: str | None
    alerts: int  # open alerts
    decision: str | None  # the latest decision's action
    decision_reason: str | None
    decision_ds: datetime | None


@dataclass(frozen=True, slots=True)
class Rollup:
    """The series of one model version, summed."""

    version: str
    forecaster: str | None
    n_series: int
    n_scored: int
    mean_health: float | None
    unhealthy: int
    open_alerts: int


@dataclass(frozen=True, slots=True)
class FleetQuery:
    """A request of the fleet page (query parameters, already checked)."""

    q: str = ""
    sort: str = "health"
    order: Literal["asc", "desc"] = "asc"
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE


@dataclass(frozen=True, slots=True)
class FleetPage:
    rows: tuple[FleetRow, ...]
    total: int  # rows matching the search
    page: int
    pages: int
    query: FleetQuery


def _key(column: str) -> Callable[[FleetRow], Any]:
    def text(v: str | None) -> tuple[int, str]:
        return (v is None, v or "")

    keys: dict[str, Callable[[FleetRow], Any]] = {
        "unique_id": lambda r: r.unique_id,
        "health": lambda r: (r.health is None, r.health if r.health is not None else 0.0),
        "version": lambda r: (
            r.version is None,
            int(r.version) if r.version and r.version.isdigit() else math.inf,
            r.version or "",
        ),
        "group": lambda r: text(r.group),
        "tier": lambda r: text(r.tier),
        "alerts": lambda r: r.alerts,
        "decision": lambda r: text(r.decision),
    }
    return keys[column]


@dataclass(eq=False)
class FleetTable:
    """The fleet's rows (sorted by series id) and what they sum to."""

    rows: tuple[FleetRow, ...]
    rollups: tuple[Rollup, ...]
    built_at: datetime
    build_seconds: float
    incidents: tuple[Any, ...] = ()
    _orders: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _search: tuple[str, ...] = field(default=(), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._search = tuple(f"{r.unique_id}\x00{r.group or ''}".casefold() for r in self.rows)

    def _order(self, column: str) -> list[int]:
        with self._lock:  # one sort per column and table, shared by the request threads
            order = self._orders.get(column)
            if order is None:
                key = _key(column)
                order = sorted(range(len(self.rows)), key=lambda i: (key(self.rows[i]), i))
                self._orders[column] = order
            return order

    def page(self, query: FleetQuery) -> FleetPage:
        """The rows of ``query``'s page: those whose series id or group contains the
        search text (case-insensitive), in the column's order."""
        order = self._order(query.sort)
        if query.order == "desc":
            order = order[::-1]
        needle = query.q.strip().casefold()
        if needle:
            hay = self._search
            order = [i for i in order if needle in hay[i]]
        total = len(order)
        pages = max(1, math.ceil(total / query.size))
        page = min(max(query.page, 1), pages)
        chosen = order[(page - 1) * query.size : page * query.size]
        return FleetPage(
            rows=tuple(self.rows[i] for i in chosen),
            total=total,
            page=page,
            pages=pages,
            query=query,
        )


def rollups(rows: Sequence[FleetRow], unhealthy_below: float) -> tuple[Rollup, ...]:
    """One :class:`Rollup` per version serving ``rows`` (by version number)."""
    by: dict[str, list[FleetRow]] = {}
    for r in rows:
        by.setdefault(r.version or "none", []).append(r)
    out = []
    for v, found in by.items():
        scores = [r.health for r in found if r.health is not None]
        out.append(
            Rollup(
                version=v,
                forecaster=next((r.forecaster for r in found if r.forecaster), None),
                n_series=len(found),
                n_scored=len(scores),
                mean_health=sum(scores) / len(scores) if scores else None,
                unhealthy=sum(s < unhealthy_below for s in scores),
                open_alerts=sum(r.alerts for r in found),
            )
        )
    return tuple(
        sorted(
            out,
            key=lambda x: (
                not x.version.isdigit(),
                int(x.version or 0) if x.version.isdigit() else 0,
                x.version,
            ),
        )
    )


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "PAGE_SIZES",
    "SORTABLE",
    "FleetPage",
    "FleetQuery",
    "FleetRow",
    "FleetTable",
    "Rollup",
    "rollups",
]
