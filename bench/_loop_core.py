"""Panels, retraining schedules, the shared fits and the scoring of ``bench/loop_value.py``.

Everything here is pure computation on arrays and frames; the command line, the process pool,
chronoguard's own loop and the plot live in ``bench/loop_value.py``.

Why the policies share their fits: a fit of one series at one origin depends only on the data up
to that origin (statsforecast's ETS search is deterministic), so the model that *always* would
fit there is the very model that *fixed* or *trigger* would fit when they refit there. One set of
fits per (series, origin) therefore serves every policy, and each policy is a *schedule*: which
origin's fit serves each origin. Its cost is the number of distinct fits in its schedule.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chronoguard.forecasting import Forecaster, make_forecaster
from chronoguard.forecasting.metrics import scale_mase

LEVELS = (80, 95)
#: Thresholds (× the fit's median absolute in-sample one-step residual) on the error curve.
TRIGGER_THRESHOLDS = (2.0, 3.0, 4.0, 6.0)
#: Fixed schedules on the error curve, in seasons between refits.
FIXED_SEASONS = (1, 2, 4)
#: The thresholds of the policies reported by name: ``trigger`` and ``fixed``.
TRIGGER_NAMED, FIXED_NAMED = 3.0, 1


@dataclass(frozen=True)
class PanelSpec:
    """How one real panel is benchmarked."""

    name: str
    file: str
    freq: str
    season_length: int
    horizon: int
    n_origins: int


PANELS: dict[str, PanelSpec] = {
    spec.name: spec
    for spec in (
        PanelSpec("tourism", "tourism.csv", "QS", 4, 8, 20),
        PanelSpec("aus_retail", "aus_retail.csv", "MS", 12, 12, 60),
        # The official M3 test: the last 18 points of each series; an origin at each of them.
        PanelSpec("m3_monthly", "m3_monthly.csv", "MS", 12, 18, 18),
    )
}


@dataclass(frozen=True)
class Panel:
    """Series of one panel, each on its own timeline, and its rolling origins.

    Origin ``k`` (0-based, ``k < n_origins``) of a series of length ``n`` conditions on the
    first ``n - n_origins + k`` points and forecasts the next ``horizon``, truncated at the
    series end: the origins are the last ``n_origins`` points of every series, and origin 0
    ends the data "up to the first origin".
    """

    spec: PanelSpec
    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    starts: tuple[pd.Timestamp, ...]
    n_origins: int
    dropped: tuple[str, ...] = ()

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


def load_panel(spec: PanelSpec, data_dir: Path) -> Panel:
    """Read one panel from ``data_dir``; series too short for a seasonal fit are dropped.

    A series is kept when its data up to the first origin is longer than two seasons. For M3
    the ``split`` column must mark exactly the last ``n_origins`` points of each series as the
    test period.
    """
    df = pd.read_csv(data_dir / spec.file, parse_dates=["ds"])
    df["unique_id"] = df["unique_id"].astype(str)
    df = df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    ids, values, starts, dropped = [], [], [], []
    for uid, g in df.groupby("unique_id", sort=True):
        if "split" in g:
            test = (g["split"] == "test").to_numpy()
            if test.sum() != spec.n_origins or not test[-spec.n_origins :].all():
                raise ValueError(
                    f"{spec.file}: series {uid!r} does not end with exactly "
                    f"{spec.n_origins} test points"
                )
        y = g["y"].to_numpy(dtype=float)
        if y.size - spec.n_origins <= 2 * spec.season_length:
            dropped.append(str(uid))
            continue
        expected = pd.date_range(g["ds"].iloc[0], periods=y.size, freq=spec.freq)
        if not expected.equals(pd.DatetimeIndex(g["ds"])):
            raise ValueError(f"{spec.file}: series {uid!r} is not regular at freq {spec.freq}")
        ids.append(str(uid))
        values.append(y)
        starts.append(pd.Timestamp(g["ds"].iloc[0]))
    return Panel(spec, tuple(ids), tuple(values), tuple(starts), spec.n_origins, tuple(dropped))


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


def policy_keys() -> list[str]:
    """Every schedule the engine evaluates: the named policies and the curve's points."""
    return [
        "never",
        "always",
        *(f"fixed_{s}" for s in FIXED_SEASONS),
        *(f"trigger_{c:g}" for c in TRIGGER_THRESHOLDS),
    ]


def schedules(residuals: np.ndarray, n_train: int, season_length: int) -> dict[str, np.ndarray]:
    """Every policy's schedule for one series (see :func:`policy_keys`)."""
    k = residuals.shape[0]
    out = {"never": never_schedule(k), "always": always_schedule(k)}
    for s in FIXED_SEASONS:
        out[f"fixed_{s}"] = fixed_schedule(k, s * season_length)
    for c in TRIGGER_THRESHOLDS:
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


# ------------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class SeriesRun:
    """What every policy served one series: forecasts (n_origins, h) and fits spent.

    ``fallbacks`` counts the origins whose AutoETS fit failed and fell back to a seasonal
    naive model (the forecaster's ``fallback``), so that one bad fit cannot stop a run.
    """

    uid: str
    forecasts: dict[str, np.ndarray]
    fits: dict[str, int]
    fallbacks: int = 0


@dataclass(frozen=True)
class Batch:
    """Series handed to one worker task (arrays only, so it pickles small)."""

    spec: PanelSpec
    n_origins: int
    ids: tuple[str, ...]
    values: tuple[np.ndarray, ...]
    starts: tuple[pd.Timestamp, ...]


def batches(panel: Panel, size: int) -> list[Batch]:
    """The panel cut into consecutive batches of ``size`` series (sorted, as fit needs)."""
    return [
        Batch(
            panel.spec,
            panel.n_origins,
            panel.ids[lo : lo + size],
            panel.values[lo : lo + size],
            panel.starts[lo : lo + size],
        )
        for lo in range(0, len(panel), size)
    ]


def new_forecaster(spec: PanelSpec) -> Forecaster:
    """The benchmarked model, as every policy uses it."""
    return make_forecaster(
        "AutoETS",
        season_length=spec.season_length,
        freq=spec.freq,
        level=list(LEVELS),
        fallback=True,
    )


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
    fallbacks: dict[str, int] = defaultdict(int)
    residuals = [np.empty((k_total, n)) for n in n_full]
    with warnings.catch_warnings():
        # statsforecast warns on near-singular fits; the fit records them, the bench needs none.
        warnings.simplefilter("ignore")
        for j in range(k_total):
            fc = new_forecaster(spec).fit(_frame(batch, rows, [n + j for n in n_train]))
            fits.append(fc)
            for uid in fc.fallbacks_:
                fallbacks[uid] += 1
            yhat = fc.fitted_values(full)["yhat"].to_numpy(dtype=float)
            bounds = np.cumsum([0, *n_full])
            for r in rows:
                residuals[r][j] = batch.values[r] - yhat[bounds[r] : bounds[r + 1]]
        plans = [schedules(residuals[r], n_train[r], spec.season_length) for r in rows]

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
            )
        )
    return runs


def warm() -> None:
    """Compile (or load from numba's cache) the ETS code paths once in this process."""
    t = np.arange(40, dtype=float)
    y = 10 + np.sin(2 * np.pi * t / 4) + 0.1 * t + 0.3 * np.cos(1.7 * t)
    spec = PanelSpec("warm", "", "QS", 4, 2, 2)
    batch = Batch(spec, 2, ("a",), (y,), (pd.Timestamp("2000-01-01"),))
    run_batch(batch)
