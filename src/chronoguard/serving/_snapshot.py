"""What the service answers from: an immutable snapshot of the deployment and the forecasts
served, rebuilt when the store changes and swapped in by one reference assignment.

Design
------
* **What is served.** The production cycle forecasts every series with the version that
  serves it and records those forecasts in the store (alias ``champion``, or ``canary``;
  ``shadow`` forecasts are recorded but never served). The service serves exactly those:
  per series, the forecasts recorded at its latest origin. What a consumer reads is what
  monitoring later compares with the actuals, and no request ever runs a model. When the
  deployment moved after the last cycle (a ``promote`` or ``rollback`` by hand), the new
  version has not forecast the series yet; the service then keeps serving the latest
  forecasts recorded for it and says so: ``version`` is the version that produced them,
  ``deployed_version`` the one the deployment names, and the next cycle serves the latter.
* **Snapshot.** A :class:`Snapshot` holds the deployment, the chosen forecasts of every
  deployed series (one :class:`ServedBlock` each, immutable), the registry's metadata of
  the versions and a generation number. Readers take ``state.snapshot`` once per request
  and answer from that object only, so a response never mixes two generations: its
  version, origin and numbers come from one block of one snapshot.
* **Refresh.** A background thread polls a cheap marker every ``poll_interval`` seconds:
  the deployment (one query), the number of served forecasts since the latest finished
  cycle (one count) and that cycle's time. Any change rebuilds the snapshot: the served
  forecasts since that cycle are read (a fleet's last origin, not the whole history) and
  merged into a per-series book of the latest origin's blocks, which the builder owns. The
  new snapshot replaces the old one by a single attribute assignment, atomic under the
  interpreter lock: readers see the old snapshot or the new one, never a half-built one.
  The marker is read before the data, so a change that lands during a build triggers the
  next one. The store's forecasts are appended per version and per call in one
  transaction, so a block is never half-recorded either.
* **Threads and MLflow.** MLflow's registry helpers change process-wide state (the
  tracking URIs, and a stderr redirect around every call), which interleaves badly between
  threads. The service calls MLflow only while building a snapshot, under one lock, from
  one thread at a time; request handlers never call it. Version metadata (lineage,
  metrics, run) never changes, so each version is read from the registry once and cached.
  The store opens one SQLAlchemy session per call from a thread-safe pool, so request
  threads may read it and write actuals concurrently (SQLite writers queue on its write
  lock).
* **Rendering.** A response body is rendered once per series, horizon and snapshot and
  kept on the snapshot (a new snapshot starts empty), so serving a forecast is a
  dictionary look-up and a write.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.errors import ChronoguardError
from chronoguard.lifecycle import CHAMPION, Workspace
from chronoguard.serving._auth import TokenBook
from chronoguard.store import Deployment

log = logging.getLogger("chronoguard.serving")

#: One lock for every MLflow call the service makes (see the module docstring).
MLFLOW_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class ServedBlock:
    """The forecasts one version served for one series from one origin, by step."""

    unique_id: str
    version: str
    alias: str
    origin: datetime
    level: int | None
    ds: tuple[datetime, ...]
    yhat: tuple[float, ...]
    yhat_lo: tuple[float | None, ...]
    yhat_hi: tuple[float | None, ...]
    recorded_id: int  # the store id of its first row: later recordings have larger ids

    @property
    def horizon(self) -> int:
        return len(self.ds)


@dataclass(frozen=True, slots=True)
class RegistryVersion:
    """What the registry knows of a version (read once: a version never changes)."""

    version: str
    run_id: str
    model_uri: str
    forecaster: str
    train_start: str
    train_end: str
    trigger: str
    parent_version: str | None
    trained_at: str
    metrics: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Marker:
    """What a refresh compares to decide whether the snapshot is stale."""

    watermark: datetime | None
    served_rows: int
    deployment: Deployment

    def same_as(self, other: Marker) -> bool:
        return (
            self.watermark == other.watermark
            and self.served_rows == other.served_rows
            and dict(self.deployment.versions) == dict(other.deployment.versions)
        )


def _iso(t: datetime) -> str:
    return t.isoformat()


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One consistent view of what the service serves (see the module docstring)."""

    generation: int
    model_name: str
    loaded_at: datetime
    marker: Marker
    series_ids: tuple[str, ...]  # deployed series, sorted
    served: Mapping[str, ServedBlock]
    registry: Mapping[str, RegistryVersion]
    champion: str | None
    freq: str | None
    latest_origin: datetime | None
    _bodies: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)

    @property
    def deployment(self) -> Deployment:
        return self.marker.deployment

    def forecast_body(self, block: ServedBlock, horizon: int) -> bytes:
        """The JSON body of :class:`~chronoguard.serving._schemas.ForecastResponse` for the
        first ``horizon`` steps of ``block``, rendered once per snapshot."""
        key = (block.unique_id, horizon)
        body = self._bodies.get(key)
        if body is None:
            points = [
                {
                    "ds": _iso(block.ds[i]),
                    "horizon": i + 1,
                    "yhat": block.yhat[i],
                    "yhat_lo": block.yhat_lo[i],
                    "yhat_hi": block.yhat_hi[i],
                }
                for i in range(horizon)
            ]
            payload: dict[str, Any] = {
                "model": self.model_name,
                "unique_id": block.unique_id,
                "version": block.version,
                "alias": block.alias,
                "origin": _iso(block.origin),
                "level": block.level,
                "deployed_version": self.deployment.version_of(block.unique_id),
                "snapshot": self.generation,
                "points": points,
            }
            body = json.dumps(payload, separators=(",", ":")).encode()
            # Readers share the snapshot; two rendering the same key store equal bytes.
            self._bodies[key] = body
        return body


def _floats(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in values)


def blocks_of(frame: pd.DataFrame) -> list[ServedBlock]:
    """Cut a frame of :meth:`~chronoguard.store.Store.get_forecasts` (sorted by series,
    version, origin, ds) into one block per (series, version, origin)."""
    if frame.empty:
        return []
    uid = frame["unique_id"].to_numpy(dtype=object)
    ver = frame["version"].to_numpy(dtype=object)
    org = frame["origin"].to_numpy(dtype="datetime64[ns]")
    cut = np.flatnonzero((uid[1:] != uid[:-1]) | (ver[1:] != ver[:-1]) | (org[1:] != org[:-1]))
    starts = np.concatenate([[0], cut + 1])
    ends = np.concatenate([cut + 1, [len(frame)]])
    ds = pd.DatetimeIndex(frame["ds"]).to_pydatetime()
    origins = pd.DatetimeIndex(frame["origin"]).to_pydatetime()
    yhat = frame["yhat"].to_numpy(dtype=float)
    lo = frame["yhat_lo"].to_numpy(dtype=float)
    hi = frame["yhat_hi"].to_numpy(dtype=float)
    level = frame["level"].to_numpy(dtype=float)
    alias = frame["alias"].to_numpy(dtype=object)
    ids = frame["id"].to_numpy(dtype=np.int64)
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        lv = level[s]
        out.append(
            ServedBlock(
                unique_id=str(uid[s]),
                version=str(ver[s]),
                alias=str(alias[s]),
                origin=origins[s],
                level=None if np.isnan(lv) else int(lv),
                ds=tuple(ds[s:e]),
                yhat=tuple(float(v) for v in yhat[s:e]),
                yhat_lo=_floats(lo[s:e]),
                yhat_hi=_floats(hi[s:e]),
                recorded_id=int(ids[s:e].min()),
            )
        )
    return out


class ForecastBook:
    """Per series, the blocks recorded at its latest origin, by version (owned by the
    builder; snapshots copy the blocks they choose, which are immutable)."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[datetime, dict[str, ServedBlock]]] = {}

    def merge(self, blocks: Iterable[ServedBlock]) -> None:
        for b in blocks:
            current = self._latest.get(b.unique_id)
            if current is None or b.origin > current[0]:
                self._latest[b.unique_id] = (b.origin, {b.version: b})
            elif b.origin == current[0]:
                current[1][b.version] = b

    def pick(self, unique_id: str, deployed: str | None) -> ServedBlock | None:
        """The deployed version's block at the latest origin, else the one recorded last."""
        current = self._latest.get(unique_id)
        if current is None:
            return None
        by_version = current[1]
        if deployed is not None and deployed in by_version:
            return by_version[deployed]
        return max(by_version.values(), key=lambda b: b.recorded_id)


def _infer_freq(blocks: Iterable[ServedBlock]) -> str | None:
    for b in blocks:
        if b.horizon >= 3:
            return pd.infer_freq(pd.DatetimeIndex(b.ds))
    return None


class ServingState:
    """The current snapshot of a workspace, its builder and the thread that refreshes it.

    Parameters
    ----------
    ws
        The open workspace (its store and registry are used from the builder thread and,
        for the store only, from request threads).
    poll_interval
        Seconds between two looks at the store's marker.
    clock
        The wall clock at the edge (UTC, naive): stamps snapshots, never enters the core.
    """

    def __init__(
        self, ws: Workspace, *, poll_interval: float, clock: Callable[[], datetime]
    ) -> None:
        self.ws = ws
        self.poll_interval = poll_interval
        self.clock = clock
        self.last_error: str | None = None
        self._snapshot: Snapshot | None = None
        self._build_lock = threading.Lock()
        self._book = ForecastBook()
        self._watermark: datetime | None = None
        self._registry: dict[str, RegistryVersion] = {}
        self._generation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tokens = TokenBook(ws.store)
        #: Called with every new snapshot, after the swap (they must not block).
        self.on_snapshot: list[Callable[[Snapshot], None]] = []

    @property
    def snapshot(self) -> Snapshot | None:
        """The current snapshot (``None`` until the first one is built); read it once per
        request."""
        return self._snapshot

    # --- the refresher thread -----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chronoguard-refresh", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tokens.reload()
                self.refresh()
            except Exception as exc:  # keep serving the last snapshot; report the failure
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("refreshing the serving snapshot failed")
            self._stop.wait(self.poll_interval)

    # --- building -----------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> Snapshot:
        """Rebuild the snapshot if the store changed since it was built (or ``force``);
        returns the current one. One build at a time."""
        with self._build_lock:
            marker = self._marker()
            current = self._snapshot
            if current is not None and not force and current.marker.same_as(marker):
                return current
            snapshot = self._build(marker)
            self._snapshot = snapshot  # the swap: one reference assignment
            self.last_error = None
            for listener in self.on_snapshot:
                listener(snapshot)
            return snapshot

    def _marker(self) -> Marker:
        store, model = self.ws.store, self.ws.model_name
        last = store.last_cycle(model)
        if last is not None and last.status == "done":
            done: datetime | None = last.now
        elif last is not None and self._watermark is None:
            finished = [c.now for c in store.list_cycles(model) if c.status == "done"]
            done = max(finished) if finished else None
        else:
            done = self._watermark
        # The watermark only moves forward: the book keeps what was read before it.
        if done is not None and (self._watermark is None or done > self._watermark):
            self._watermark = done
        deployment = store.get_deployment(model)
        rows = store.count_forecasts(origin_from=self._watermark, served_only=True)
        return Marker(self._watermark, rows, deployment)

    def _build(self, marker: Marker) -> Snapshot:
        ws, model = self.ws, self.ws.model_name
        frame = ws.store.get_forecasts(
            model_name=model, served_only=True, origin_from=marker.watermark
        )
        self._book.merge(blocks_of(frame))
        deployment = marker.deployment
        ids = tuple(sorted(deployment.versions))
        served: dict[str, ServedBlock] = {}
        for u in ids:
            block = self._book.pick(u, deployment.version_of(u))
            if block is not None:
                served[u] = block
        known = {v.version for v in ws.store.list_versions(model)}
        known.update(deployment.versions_in_use())
        self._load_registry(sorted(known - set(self._registry)))
        self._generation += 1
        origins = [b.origin for b in served.values()]
        return Snapshot(
            generation=self._generation,
            model_name=model,
            loaded_at=self.clock(),
            marker=marker,
            series_ids=ids,
            served=served,
            registry=dict(self._registry),
            champion=ws.store.current_alias(model, CHAMPION),
            freq=ws.config.data.freq or _infer_freq(served.values()),
            latest_origin=max(origins) if origins else None,
        )

    def _load_registry(self, versions: list[str]) -> None:
        if not versions:
            return
        with MLFLOW_LOCK:
            for v in versions:
                try:
                    mv = self.ws.registry.get_version(self.ws.model_name, v)
                except ChronoguardError as exc:  # the store knows it, MLflow does not
                    log.warning("version %s is not in the registry: %s", v, exc)
                    continue
                lin = mv.lineage
                self._registry[v] = RegistryVersion(
                    version=mv.version,
                    run_id=mv.run_id,
                    model_uri=mv.model_uri,
                    forecaster=lin.forecaster,
                    train_start=lin.train_start,
                    train_end=lin.train_end,
                    trigger=lin.trigger,
                    parent_version=lin.parent_version,
                    trained_at=lin.trained_at,
                    metrics=dict(mv.metrics),
                )
