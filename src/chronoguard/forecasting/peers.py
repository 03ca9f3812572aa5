"""The simple retraining policies the loop is measured against, computed on shared fits.

The peers are ``never`` (fit once at the first origin, then only run the frozen model's state
over the data so far), ``always`` (refit every series at every origin), ``fixed`` (refit every
``s`` seasons) and a naive ``trigger`` (refit a series when its newest one-step residual
exceeds ``c`` × the median absolute in-sample one-step residual of its current fit). They are
scored like the loop's served forecasts: MASE over every scored (origin, horizon) pair, each
series scaled by the in-sample seasonal-naive MAE of its data up to the first origin, the
panel's MASE the mean over series of each series' mean scaled error.

Why the policies share their fits: a fit of one series at one origin depends only on the data
up to that origin (statsforecast's ETS search is deterministic), so the model that *always*
would fit there is the very model that *fixed* or *trigger* would fit when they refit there.
One set of fits per (series, origin) therefore serves every policy, and each policy is a
*schedule*: which origin's fit serves each origin. Its cost is the number of distinct fits in
its schedule (series-fits), and the CPU seconds those fits took.

``bench/loop_value.py`` (the error-versus-compute curve on three panels) and ``chronoguard
demo --fleet`` (the loop's replay against ``never``, ``always`` and ``fixed``) both compute
their peers here.

Examples
--------
>>> fixed_schedule(7, 3)
array([0, 0, 0, 3, 3, 3, 6])
>>> n_fits(fixed_schedule(7, 3)), n_fits(never_schedule(7)), n_fits(always_schedule(7))
(3, 1, 7)
>>> PeerPolicies(fixed_seasons=(1,), trigger_thresholds=(3.0,)).keys()
('never', 'always', 'fixed_1', 'trigger_3')
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from chronoguard.compute import Executor, SerialExecutor, in_batches
from chronoguard.errors import ChronoguardError
from chronoguard.forecasting import Forecaster, make_forecaster
from chronoguard.forecasting.metrics import scale_mase

__all__ = [
    "Batch",
    "Panel",
    "PanelSpec",
    "PanelSpecLike",
    "PeerModel",
    "PeerPolicies",
    "PolicyRun",
    "PolicyScore",
    "SeriesRun",
    "always_schedule",
    "batches",
    "collect",
    "fixed_schedule",
    "n_fits",
    "never_schedule",
    "panel_mase",
    "run_batch",
    "run_peers",
    "scaled_errors",
    "schedules",
    "score_policies",
    "series_mase",
    "served_matrices",
    "trigger_schedule",
    "warm",
]


class PanelSpecLike(Protocol):
    """The shape of a panel the peers need: its frequency, season and horizon."""

    @property
    def name(self) -> str: ...

    @property
    def freq(self) -> str: ...

    @property
    def season_length(self) -> int: ...

    @property
    def horizon(self) -> int: ...


@dataclass(frozen=True)
class PanelSpec:
    """A panel's name, frequency, season length and forecast horizon."""

    name: str
    freq: str
    season_length: int
    horizon: int


@dataclass(frozen=True)
class PeerModel:
    """The model every policy fits: a name and settings of
    :func:`~chronoguard.forecasting.make_forecaster`.

    ``fallback`` makes a fit that fails fall back to a seasonal naive model, counted per
    series (:attr:`SeriesRun.fallbacks`), so one bad fit cannot stop a comparison.
    """

    name: str = "AutoETS"
    levels: tuple[int, ...] = (80, 95)
    params: Mapping[str, Any] = field(default_factory=dict)
    fallback: bool = True

    def new(self, spec: PanelSpecLike) -> Forecaster:
        """A fresh, unfitted forecaster for ``spec``."""
        return make_forecaster(
            self.name,
            season_length=spec.season_length,
            freq=spec.freq,
            level=list(self.levels),
            **{"fallback": self.fallback, **self.params},
        )


@dataclass(frozen=True)
class PeerPolicies:
    """The schedules evaluated besides ``never`` and ``always``.

    ``fixed_seasons``: refit every ``s`` seasons (key ``fixed_{s}``); ``trigger_thresholds``:
    refit when the newest residual exceeds ``c`` × the median (key ``trigger_{c:g}``).
    """

    fixed_seasons: tuple[int, ...] = (1,)
    trigger_thresholds: tuple[float, ...] = (3.0,)

    def keys(self) -> tuple[str, ...]:
        """Every schedule's key, in the order :func:`schedules` returns them."""
        return (
            "never",
            "always",
            *(f"fixed_{s}" for s in self.fixed_seasons),
            *(f"trigger_{c:g}" for c in self.trigger_thresholds),
        )


@dataclass(frozen=True)
class Panel:
    """Series of one panel, each on its own timeline, and its rolling origins.

    Origin ``k`` (0-based, ``k < n_origins``) of a series of length ``n`` conditions on the
    first ``n - n_origins + k`` points and forecasts the next ``horizon``, truncated at the
    series end: the origins are the last ``n_origins`` points of every series, and origin 0
    ends the data "up to the first origin".
    """

    spec: PanelSpecLike
    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    starts: tuple[pd.Timestamp, ...]
    n_origins: int
    dropped: tuple[str, ...] = ()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, spec: PanelSpecLike, n_origins: int) -> Panel:
        """The panel of a validated long frame (``unique_id, ds, y``), series sorted by id.

        Every series needs more than two seasons before its first origin; one that has
        fewer is named in the error, not dropped.
        """
        df = frame[["unique_id", "ds", "y"]].sort_values(["unique_id", "ds"], kind="stable")
        ids, values, starts, short = [], [], [], []
        for uid, g in df.groupby("unique_id", sort=True):
            y = g["y"].to_numpy(dtype=float)
            if y.size - n_origins <= 2 * spec.season_length:
                short.append(f"{uid} ({y.size} points)")
            ids.append(str(uid))
            values.append(y)
            starts.append(pd.Timestamp(g["ds"].iloc[0]))
        if short:
            raise ChronoguardError(
                f"{len(short)} series have no more than two seasons "
                f"({2 * spec.season_length} points) before the first of {n_origins} origins: "
                f"{', '.join(short[:5])}; compare over fewer origins or leave them out"
            )
        return cls(spec, tuple(ids), tuple(values), tuple(starts), n_origins)

    def __len__(self) -> int:
        return len(self.ids)

    def n_train(self, i: int) -> int:
        """Points of series ``i`` up to its first origin."""
        return int(self.values[i].size) - self.n_origins

    def scale(self, i: int) -> float:
        """MASE scale of series ``i``: in-sample seasonal-naive MAE up to its first origin."""
        return scale_mase(self.values[i][: self.n_train(i)], self.spec.season_length)

    def dates(self, i: int) -> pd.DatetimeIndex:
        """Timestamps of series ``i``."""
        return pd.date_range(self.starts[i], periods=self.values[i].size, freq=self.spec.freq)

    def subset(self, n_series: int | None = None, n_origins: int | None = None) -> Panel:
        """``n_series`` series spread evenly over the panel, with the last ``n_origins`` origins."""
        idx = np.arange(len(self))
        if n_series is not None and n_series < len(self):
            idx = np.unique(np.linspace(0, len(self) - 1, n_series).round().astype(int))
        k = self.n_origins if n_origins is None else min(n_origins, self.n_origins)
        return Panel(
            self.spec,
            tuple(self.ids[i] for i in idx),
            tuple(self.values[i] for i in idx),
            tuple(self.starts[i] for i in idx),
            k,
            self.dropped,
        )


# ---------------------------------------------------------------------------------- schedules
# A schedule is an int array over the origins: entry k is the origin whose fit serves origin k.


def never_schedule(n_origins: int) -> np.ndarray:
    """Fit once at the first origin, then only condition on the history."""
    return np.zeros(n_origins, dtype=int)


def always_schedule(n_origins: int) -> np.ndarray:
    """Refit at every origin."""
    return np.arange(n_origins)


def fixed_schedule(n_origins: int, every: int) -> np.ndarray:
    """Refit every ``every`` origins, starting with the first."""
    return (np.arange(n_origins) // every) * every


def trigger_schedule(residuals: np.ndarray, n_train: int, threshold: float) -> np.ndarray:
    """Refit when the newest one-step residual exceeds ``threshold`` × the fit's median.

    Parameters
    ----------
    residuals : numpy.ndarray
        Shape (n_origins, n): row ``j`` holds the one-step residuals over the whole series of
        the model fitted at origin ``j`` (parameters frozen). The recursion is causal, so entry
        ``t`` is the residual of the forecast of ``y[t]`` made from ``y[:t]``.
    n_train : int
        Points up to the first origin; the fit at origin ``j`` saw the first ``n_train + j``.
    threshold : float
        Multiple of the median absolute in-sample residual of the current fit.
    """
    n_origins = residuals.shape[0]
    out = np.zeros(n_origins, dtype=int)
    current = 0
    median = float(np.nanmedian(np.abs(residuals[0, :n_train])))
    for k in range(1, n_origins):
        newest = n_train + k - 1  # the point that arrived at origin k
        if abs(residuals[current, newest]) > threshold * median:
            current = k
            median = float(np.nanmedian(np.abs(residuals[k, : n_train + k])))
        out[k] = current
    return out


def n_fits(schedule: np.ndarray) -> int:
    """Series-fits a schedule costs (the first fit included)."""
    return int(np.unique(schedule).size)


def schedules(
    residuals: np.ndarray, n_train: int, season_length: int, policies: PeerPolicies
) -> dict[str, np.ndarray]:
    """Every policy's schedule for one series, keyed as :meth:`PeerPolicies.keys`."""
    k = residuals.shape[0]
    out = {"never": never_schedule(k), "always": always_schedule(k)}
    for s in policies.fixed_seasons:
        out[f"fixed_{s}"] = fixed_schedule(k, s * season_length)
    for c in policies.trigger_thresholds:
        out[f"trigger_{c:g}"] = trigger_schedule(residuals, n_train, c)
    return out


# ------------------------------------------------------------------------------------ scoring


def scaled_errors(y: np.ndarray, n_origins: int, yhat: np.ndarray, scale: float) -> np.ndarray:
    """|error| / scale of every scored (origin, horizon) pair of one series, origin-major.

    ``yhat`` has shape (n_origins, h): row ``k`` is the forecast made at origin ``k`` (after
    the first ``len(y) - n_origins + k`` points). Pairs past the series end are not scored.
    """
    n = y.size
    h = yhat.shape[1]
    out = []
    for k in range(n_origins):
        first = n - n_origins + k
        steps = min(h, n - first)
        pred = yhat[k, :steps]
        if not np.isfinite(pred).all():
            raise ValueError(f"origin {k}: no forecast for some of its {steps} scored steps")
        out.append(np.abs(y[first : first + steps] - pred) / scale)
    return np.concatenate(out)


def series_mase(panel: Panel, forecasts: Sequence[np.ndarray]) -> np.ndarray:
    """Each series' mean scaled error (``forecasts`` in panel order)."""
    if len(forecasts) != len(panel):
        raise ValueError(f"{len(forecasts)} forecast matrices for {len(panel)} series")
    return np.array(
        [
            np.mean(scaled_errors(panel.values[i], panel.n_origins, fc, panel.scale(i)))
            for i, fc in enumerate(forecasts)
        ]
    )


def panel_mase(panel: Panel, forecasts: Sequence[np.ndarray]) -> float:
    """Mean over series of each series' mean scaled error (``forecasts`` in panel order)."""
    return float(np.mean(series_mase(panel, forecasts)))


def served_matrices(
    panel: Panel, frame: pd.DataFrame, served: pd.DataFrame
) -> tuple[np.ndarray, ...]:
    """Served forecasts (``unique_id, origin, horizon, yhat``) as one (origin, horizon) matrix
    per series, in panel order; cells nothing was served for stay NaN (scoring refuses them).

    ``frame`` is the long frame the forecasts were served on: its timestamps place each
    origin on the series' own timeline.
    """
    h, k_total = panel.spec.horizon, panel.n_origins
    positions = {uid: pd.Index(g["ds"]) for uid, g in frame.groupby("unique_id", sort=False)}
    by_id = dict(tuple(served.groupby("unique_id", sort=False)))
    out = []
    for i, uid in enumerate(panel.ids):
        cells = np.full((k_total, h), np.nan)
        g = by_id.get(uid)
        if g is not None:
            k = positions[uid].get_indexer(pd.DatetimeIndex(g["origin"])) - (panel.n_train(i) - 1)
            step = g["horizon"].to_numpy(dtype=int) - 1
            keep = (k >= 0) & (k < k_total) & (step < h)
            if pd.DataFrame({"k": k[keep], "s": step[keep]}).duplicated().any():
                raise ValueError(f"{uid}: more than one forecast served for one origin and step")
            cells[k[keep], step[keep]] = g["yhat"].to_numpy(dtype=float)[keep]
        out.append(cells)
    return tuple(out)


# ------------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class SeriesRun:
    """What every policy served one series: forecasts (n_origins, h) and fits spent.

    ``fallbacks`` counts the origins whose fit failed and fell back to a seasonal naive
    model. ``cpu_seconds`` is each policy's fit CPU time for the series: the CPU seconds of
    every fit in its schedule, each origin's batch fit shared evenly by the batch's series.
    """

    uid: str
    forecasts: dict[str, np.ndarray]
    fits: dict[str, int]
    fallbacks: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """Series handed to one worker task (arrays only, so it pickles small)."""

    spec: PanelSpecLike
    n_origins: int
    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    starts: tuple[pd.Timestamp, ...]
    model: PeerModel = field(default_factory=PeerModel)
    policies: PeerPolicies = field(default_factory=PeerPolicies)


def batches(
    panel: Panel,
    size: int,
    model: PeerModel | None = None,
    policies: PeerPolicies | None = None,
) -> list[Batch]:
    """The panel cut into consecutive batches of ``size`` series (sorted, as fit needs)."""
    model, policies = model or PeerModel(), policies or PeerPolicies()
    return [
        Batch(
            panel.spec,
            panel.n_origins,
            panel.ids[lo : lo + size],
            panel.values[lo : lo + size],
            panel.starts[lo : lo + size],
            model,
            policies,
        )
        for lo in range(0, len(panel), size)
    ]


def _frame(batch: Batch, rows: Sequence[int], lengths: Sequence[int]) -> pd.DataFrame:
    """Long frame of the first ``lengths[r]`` points of each batch series ``rows[r]``."""
    parts_id, parts_ds, parts_y = [], [], []
    for r, n in zip(rows, lengths, strict=True):
        parts_id.append(np.full(n, batch.ids[r], dtype=object))
        parts_ds.append(
            pd.date_range(batch.starts[r], periods=n, freq=batch.spec.freq).to_numpy(
                dtype="datetime64[ns]"
            )
        )
        parts_y.append(batch.values[r][:n])
    return pd.DataFrame(
        {
            "unique_id": np.concatenate(parts_id),
            "ds": np.concatenate(parts_ds),
            "y": np.concatenate(parts_y),
        }
    )


def run_batch(batch: Batch) -> list[SeriesRun]:
    """Fit every series of ``batch`` at every origin and serve each policy's forecasts.

    Each origin's fits are one ``fit`` of all batch series on their data up to that origin;
    forecasts go through ``predict(h, history=...)`` (parameters frozen) for every policy,
    ``always`` included, so all policies share one code path.
    """
    spec, k_total = batch.spec, batch.n_origins
    h, rows = spec.horizon, list(range(len(batch.ids)))
    n_full = [int(v.size) for v in batch.values]
    n_train = [n - k_total for n in n_full]
    full = _frame(batch, rows, n_full)
    fits: list[Forecaster] = []
    fit_cpu: list[float] = []  # per series, of each origin's batch fit
    fallbacks: dict[str, int] = defaultdict(int)
    residuals = [np.empty((k_total, n)) for n in n_full]
    with warnings.catch_warnings():
        # statsforecast warns on near-singular fits; the fit records them, the peers need none.
        warnings.simplefilter("ignore")
        for j in range(k_total):
            data = _frame(batch, rows, [n + j for n in n_train])
            cpu0 = time.process_time()
            fc = batch.model.new(spec).fit(data)
            fit_cpu.append((time.process_time() - cpu0) / len(rows))
            fits.append(fc)
            for uid in fc.fallbacks_:
                fallbacks[uid] += 1
            yhat = fc.fitted_values(full)["yhat"].to_numpy(dtype=float)
            bounds = np.cumsum([0, *n_full])
            for r in rows:
                residuals[r][j] = batch.values[r] - yhat[bounds[r] : bounds[r + 1]]
        plans = [
            schedules(residuals[r], n_train[r], spec.season_length, batch.policies) for r in rows
        ]

        needed: dict[tuple[int, int], set[int]] = defaultdict(set)
        for r in rows:
            for schedule in plans[r].values():
                for k, j in enumerate(schedule):
                    needed[(int(j), k)].add(r)
        served: dict[tuple[int, int, int], np.ndarray] = {}
        for (j, k), members in sorted(needed.items()):
            chosen = sorted(members)
            out = fits[j].predict(
                h, history=_frame(batch, chosen, [n_train[r] + k for r in chosen])
            )
            yhat_all = out["yhat"].to_numpy(dtype=float).reshape(len(chosen), h)
            got = out["unique_id"].to_numpy()[::h]
            for pos, r in enumerate(chosen):
                if got[pos] != batch.ids[r]:  # predict keeps the history's order; check it
                    raise RuntimeError(f"forecast rows out of order: {got[pos]} != {batch.ids[r]}")
                served[(r, j, k)] = yhat_all[pos]
    runs = []
    for r in rows:
        forecasts = {
            key: np.stack([served[(r, int(j), k)] for k, j in enumerate(schedule)])
            for key, schedule in plans[r].items()
        }
        runs.append(
            SeriesRun(
                batch.ids[r],
                forecasts,
                {key: n_fits(schedule) for key, schedule in plans[r].items()},
                fallbacks[batch.ids[r]],
                {
                    key: float(sum(fit_cpu[int(j)] for j in np.unique(schedule)))
                    for key, schedule in plans[r].items()
                },
            )
        )
    return runs


def warm(model: PeerModel | None = None) -> None:
    """Compile (or load from numba's cache) the model's code paths once in this process."""
    t = np.arange(40, dtype=float)
    y = 10 + np.sin(2 * np.pi * t / 4) + 0.1 * t + 0.3 * np.cos(1.7 * t)
    spec = PanelSpec("warm", "QS", 4, 2)
    run_batch(Batch(spec, 2, ("a",), (y,), (pd.Timestamp("2000-01-01"),), model or PeerModel()))


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class PolicyRun:
    """One policy on one panel: the forecasts it served and the fits it spent, per series.

    ``forecasts`` holds one (n_origins, horizon) matrix per series in panel order;
    ``series_fits`` and ``series_cpu_seconds`` the series-fits and fit CPU seconds of each
    series (``None``: not measured).
    """

    policy: str
    forecasts: tuple[np.ndarray, ...]
    series_fits: tuple[int, ...]
    series_cpu_seconds: tuple[float, ...] | None = None
    fallbacks: int = 0

    @property
    def refits(self) -> int:
        """Series-fits in all, the first fit of every series included."""
        return int(sum(self.series_fits))

    @property
    def cpu_seconds(self) -> float | None:
        """Fit CPU seconds in all (``None`` when not measured)."""
        if self.series_cpu_seconds is None:
            return None
        return float(sum(self.series_cpu_seconds))


@dataclass(frozen=True)
class PolicyScore:
    """A policy's error and compute, and both relative to ``always``.

    ``mase_rel_always`` is MASE / always's MASE − 1; ``refits_share`` refits / always's.
    """

    policy: str
    mase: float
    refits: int
    cpu_seconds: float | None
    mase_rel_always: float
    refits_share: float


def collect(panel: Panel, runs: Iterable[SeriesRun], keys: Sequence[str]) -> dict[str, PolicyRun]:
    """The per-series runs of :func:`run_batch` as one :class:`PolicyRun` per key."""
    by_id = {r.uid: r for r in runs}
    missing = [u for u in panel.ids if u not in by_id]
    if missing:
        raise ValueError(f"no run for {len(missing)} series: {', '.join(missing[:5])}")
    ordered = [by_id[uid] for uid in panel.ids]
    return {
        key: PolicyRun(
            key,
            tuple(r.forecasts[key] for r in ordered),
            tuple(r.fits[key] for r in ordered),
            tuple(r.cpu_seconds[key] for r in ordered),
            sum(r.fallbacks for r in ordered),
        )
        for key in keys
    }


def run_peers(
    panel: Panel,
    *,
    model: PeerModel | None = None,
    policies: PeerPolicies | None = None,
    executor: Executor | None = None,
    batch_size: int = 50,
) -> dict[str, PolicyRun]:
    """Every peer policy on ``panel``: the fits in batches of series on ``executor``.

    Without an executor the batches run in this process. The result does not depend on the
    batches or where they ran (each series is fitted on its own).
    """
    policies = policies or PeerPolicies()
    model = model or PeerModel()
    groups = in_batches(list(range(len(panel))), batch_size)
    work = [
        Batch(
            panel.spec,
            panel.n_origins,
            tuple(panel.ids[i] for i in g),
            tuple(panel.values[i] for i in g),
            tuple(panel.starts[i] for i in g),
            model,
            policies,
        )
        for g in groups
    ]
    labels = [f"series {b.ids[0]} … {b.ids[-1]}" for b in work]
    done = (executor or SerialExecutor()).map(run_batch, work, labels=labels)
    return collect(panel, [r for runs in done for r in runs], policies.keys())


def score_policies(panel: Panel, runs: Mapping[str, PolicyRun]) -> dict[str, PolicyScore]:
    """MASE, refits and fit CPU seconds of each run, relative to ``always`` (which must be
    among them)."""
    if "always" not in runs:
        raise ValueError(f"score_policies needs 'always' among the runs, got {', '.join(runs)}")
    mase = {key: panel_mase(panel, r.forecasts) for key, r in runs.items()}
    base_mase, base_refits = mase["always"], runs["always"].refits
    return {
        key: PolicyScore(
            key,
            mase[key],
            r.refits,
            r.cpu_seconds,
            mase[key] / base_mase - 1.0,
            r.refits / base_refits,
        )
        for key, r in runs.items()
    }
