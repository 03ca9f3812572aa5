"""The fleet part of a replay's summary: decisions per series, budget per cycle, and peers.

A replay of a fleet (``chronoguard demo --fleet``, or :func:`~chronoguard.orchestration.replay`
with ``peers=True``) adds to its summary what the decision engine did and what it was worth:

- every stored per-series decision with its reason, its group and its tier;
- per cycle, the candidates, what was retrained and what the budget left out, the CPU seconds
  the engine charged to the budget (its estimates of the chosen fits) and the CPU seconds the
  cycle's retrain measured;
- the loop's error and compute against the simple policies of
  :mod:`chronoguard.forecasting.peers` (``never``, ``always``, ``fixed`` every season, a naive
  trigger), fitted with the replay's model on the replay's own origins and scored the same
  way: MASE over every scored (origin, horizon) pair, each series scaled by the in-sample
  seasonal-naive MAE of its data up to the first origin, the mean over series of each
  series' mean; refits in series-fits (the first fit of each series included); fit CPU
  seconds as measured on this machine (the loop's from each version's
  ``fit_cpu_seconds``, the peers' around each origin's batch fit).

The peers fit every series on all its data up to each origin, as the replay's retrains do
with ``training.retrain_window = 0``; with a shorter retrain window the loop's fits see less.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.config import GroupConfig
from chronoguard.dashboard.fleet import FleetSection
from chronoguard.errors import ChronoguardError
from chronoguard.forecasting.peers import (
    Panel,
    PanelSpec,
    PeerModel,
    PeerPolicies,
    PolicyRun,
    PolicyScore,
    run_peers,
    score_policies,
    series_mase,
    served_matrices,
)
from chronoguard.lifecycle import Workspace
from chronoguard.lifecycle.train import compute_executor
from chronoguard.policy import SeriesGroup, resolve_groups
from chronoguard.registry import ModelVersion
from chronoguard.store import SeriesDecision

#: The loop's key among the policies.
LOOP = "chronoguard"
#: The peers a fleet replay is compared with: never, always, fixed every season, a trigger at
#: 3 × the median residual (the policies ``bench/loop_value.py`` reports by name).
PEERS = PeerPolicies(fixed_seasons=(1,), trigger_thresholds=(3.0,))
#: Triggers of a series' first model (the first cycle's version, a late series' first fit).
FIRST_MODELS = ("initial", "new_series")
LABELS = {
    LOOP: "chronoguard (this replay)",
    "never": "never (fit once, then update the state)",
    "always": "always (refit every series at every origin)",
    "fixed_1": "fixed (refit every season)",
    "trigger_3": "naive trigger (newest residual > 3 × median)",
}


@dataclass(frozen=True)
class CycleBudget:
    """What one cycle's decisions spent of the budget.

    ``first_models`` counts the series given a first model (the first cycle's, and a late
    series' once it has the history), which the budget does not limit; ``candidates`` the
    series the retraining rule put forward to the engine, ``retrained`` + ``over_budget``.

    ``cpu_charged`` is the engine's estimate of the chosen fits (what the budget is charged
    with), ``cpu_left_out`` its estimate of the candidates it had no room for, and
    ``cpu_measured`` the fit CPU seconds the cycle's retrain took (``None`` without one).
    ``cpu_budget`` is ``None`` when the budget is unlimited.
    """

    ds: str
    first_models: int
    candidates: int
    retrained: int
    over_budget: int
    waiting: int
    kept: int
    cpu_charged: float
    cpu_left_out: float
    cpu_budget: float | None
    cpu_measured: float | None

    @property
    def binding(self) -> bool:
        """Whether the budget left a candidate out this cycle."""
        return self.over_budget > 0


@dataclass(frozen=True)
class SeriesOutcome:
    """One series over the replay: its group, what was decided for it, and its error."""

    unique_id: str
    group: str | None
    tier: str
    cost_per_unit_error: float
    retrains: int  # after its first model
    promoted: int
    over_budget: int
    waits: int
    mase: float
    mase_always: float


@dataclass(frozen=True)
class FleetSummary:
    """The fleet part of a replay's summary (see the module docstring)."""

    n_series: int
    n_origins: int
    horizon: int
    cpu_budget: float | None
    groups: tuple[dict[str, Any], ...]
    cycles: tuple[CycleBudget, ...]
    series: tuple[SeriesOutcome, ...]
    decisions: pd.DataFrame
    scores: Mapping[str, PolicyScore]
    fallback_fits: int

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready values (``summary.json``'s ``fleet``)."""
        return {
            "n_series": self.n_series,
            "n_origins": self.n_origins,
            "horizon": self.horizon,
            "cpu_seconds_per_cycle": self.cpu_budget,
            "groups": [dict(g) for g in self.groups],
            "budget_per_cycle": [
                {**_rounded(asdict(c)), "binding": c.binding} for c in self.cycles
            ],
            "cycles_over_budget": sum(c.binding for c in self.cycles),
            "policies": {k: _rounded(asdict(s)) for k, s in self.scores.items()},
            "peer_fallback_fits": self.fallback_fits,
            "series": [_rounded(asdict(s)) for s in self.series],
            "decisions": _records(self.decisions),
        }

    def to_report(self) -> FleetSection:
        """The report's fleet section."""
        return FleetSection(
            decisions=self.decisions,
            cycles=[{**asdict(c), "binding": c.binding} for c in self.cycles],
            policies=[
                {**asdict(s), "label": LABELS.get(k, k), "is_loop": k == LOOP}
                for k, s in self.scores.items()
            ],
            series=[asdict(s) for s in self.series],
            groups=[dict(g) for g in self.groups],
            cpu_budget=self.cpu_budget,
            n_origins=self.n_origins,
            horizon=self.horizon,
        )


def _rounded(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: round(v, 6) if isinstance(v, float) and math.isfinite(v) else v
        for k, v in record.items()
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.assign(ds=frame["ds"].dt.strftime("%Y-%m-%d")).astype(object)
    records = out.where(out.notna(), None).to_dict("records")
    return [_rounded({str(k): v for k, v in r.items()}) for r in records]


def check_peers_possible(
    df: pd.DataFrame, timeline: pd.DatetimeIndex, start: int, *, exog: Sequence[str] = ()
) -> None:
    """Raise before a replay when its peers could not be compared on its origins.

    The peers fit the model without exogenous inputs, and every series must run from the
    first cycle (``timeline[start - 1]``) to the last timestamp, so that each origin is the
    same time for every series and every policy.
    """
    if exog:
        raise ChronoguardError(
            f"the peers fit the model without exogenous inputs; this replay uses "
            f"{', '.join(exog)}: compare peers on a replay without data.exog"
        )
    ends = df.groupby("unique_id")["ds"].agg(["min", "max"])
    late = ends.index[(ends["max"] < timeline[-1]) | (ends["min"] > timeline[start - 1])]
    if len(late):
        raise ChronoguardError(
            f"the peers compare on the replay's origins, which every series must cover from "
            f"{timeline[start - 1].date()} to {timeline[-1].date()}; {len(late)} do not: "
            f"{', '.join(map(str, late[:5]))}"
        )


def summarise_fleet(
    ws: Workspace, df: pd.DataFrame, timeline: pd.DatetimeIndex, start: int, *, freq: str
) -> FleetSummary:
    """The fleet summary of the replay in ``ws`` over ``df`` (its cycles ran at
    ``timeline[start - 1:]``, at frequency ``freq``).

    Fits the peers on the replay's origins (the cycles that served scored forecasts), on the
    workspace's compute backend. Every series must run from the first cycle to the last
    timestamp, so that each origin is the same time for every series and every policy.
    """
    cfg = ws.config
    model = ws.model_name
    check_peers_possible(df, timeline, start, exog=cfg.data.exog)
    n_origins = len(timeline) - start
    spec = PanelSpec(model, freq, cfg.data.season_length, cfg.forecast.horizon)
    panel = Panel.from_frame(df, spec, n_origins)

    decisions = ws.store.list_series_decisions(model)
    versions = {v.version: v for v in ws.registry.list_versions(model)}
    first = min(versions, key=int)
    loop = _loop_run(ws, panel, df, decisions, versions, first)

    # The peers, on the same origins, with the replay's model.
    peer_model = PeerModel(cfg.model.name, tuple(cfg.model.levels), dict(cfg.model.params))
    # In batches of compute.batch_size series, like the replay's own per-series work: a fleet
    # that fits one batch runs in this process, a larger one on the replay's workers.
    with compute_executor(cfg) as ex:
        peers = run_peers(
            panel,
            model=peer_model,
            policies=PEERS,
            executor=ex,
            batch_size=cfg.compute.batch_size,
        )
    runs = {LOOP: loop, **peers}
    scores = score_policies(panel, runs)

    groups = resolve_groups(
        cfg.groups,
        list(panel.ids),
        df if any(g.column for g in cfg.groups) else None,
        default_cost_per_unit_error=cfg.budget.default_cost_per_unit_error,
    )
    frame = _decision_frame(decisions, groups.to_frame())
    mase_loop = series_mase(panel, loop.forecasts)
    mase_always = series_mase(panel, peers["always"].forecasts)
    series = tuple(
        _series_outcome(u, groups[u], frame[frame["unique_id"] == u], mase_loop[i], mase_always[i])
        for i, u in enumerate(panel.ids)
    )
    budget = cfg.budget.cpu_seconds_per_cycle or None
    measured = {
        str(pd.Timestamp(r.ds).date()): versions[r.challenger_version].metrics.get(
            "fit_cpu_seconds"
        )
        for r in ws.store.list_retrains(model)
        if r.challenger_version in versions
    }
    measured[str(timeline[start - 1].date())] = versions[first].metrics.get("fit_cpu_seconds")
    cycles = tuple(
        _cycle_budget(pd.Timestamp(str(ds)), g, budget, measured)
        for ds, g in frame.groupby("ds", sort=True)
    )
    return FleetSummary(
        n_series=len(panel),
        n_origins=n_origins,
        horizon=spec.horizon,
        cpu_budget=budget,
        groups=_group_rows(cfg.groups, groups.to_frame()),
        cycles=cycles,
        series=series,
        decisions=frame,
        scores=scores,
        fallback_fits=peers["always"].fallbacks,
    )


def _loop_run(
    ws: Workspace,
    panel: Panel,
    df: pd.DataFrame,
    decisions: Sequence[SeriesDecision],
    versions: Mapping[str, ModelVersion],
    first: str,
) -> PolicyRun:
    """The loop as a policy: what it served at each origin, and its fits per series."""
    served = ws.store.get_forecasts(served_only=True)  # shadow forecasts were not served
    forecasts = served_matrices(panel, df, served)
    unserved = [u for u, m in zip(panel.ids, forecasts, strict=True) if _unscored(m)]
    if unserved:
        raise ChronoguardError(
            f"{len(unserved)} series were not served at every origin of the replay, so the "
            f"loop cannot be scored against its peers: {', '.join(unserved[:5])}"
        )
    # A fit is a (series, version) pair: the first version's series, then every retrain
    # decision that trained a challenger (the first cycle records its own as "initial").
    trained = {
        (m.unique_id, first)
        for m in ws.store.deployment_history(ws.model_name)
        if m.previous_version is None and m.version == first
    }
    trained |= {
        (d.unique_id, str(d.challenger_version))
        for d in decisions
        if d.action == "retrain" and d.challenger_version in versions
    }
    fits: Counter[str] = Counter(u for u, _ in trained)
    cpu: dict[str, float] = dict.fromkeys(panel.ids, 0.0)
    for u, v in trained:
        cpu[u] += float(versions[v].metrics.get("fit_cpu_seconds_per_series", 0.0))
    return PolicyRun(
        LOOP, forecasts, tuple(fits[u] for u in panel.ids), tuple(cpu[u] for u in panel.ids)
    )


def _unscored(cells: np.ndarray) -> bool:
    """Whether a scored cell (an origin's steps up to the series end) has no forecast."""
    k_total, h = cells.shape
    return any(not np.isfinite(cells[k, : min(h, k_total - k)]).all() for k in range(k_total))


_DECISION_COLUMNS = (
    "ds",
    "unique_id",
    "group",
    "tier",
    "action",
    "trigger",
    "reason",
    "expected_loss",
    "cpu_seconds",
    "outcome",
    "challenger_version",
    "champion_version",
    "gate_reason",
)


def _decision_frame(decisions: Sequence[SeriesDecision], groups: pd.DataFrame) -> pd.DataFrame:
    """Every stored decision (one row per series and cycle) with its series' group."""
    rows = [{k: getattr(d, k) for k in _DECISION_COLUMNS if k != "group"} for d in decisions]
    frame = pd.DataFrame(rows, columns=[c for c in _DECISION_COLUMNS if c != "group"])
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame = frame.merge(
        groups[["unique_id", "group", "tier"]].rename(columns={"tier": "series_tier"}),
        on="unique_id",
        how="left",
    )
    # A first model's decision records no tier; the series has its group's.
    frame["tier"] = frame["tier"].where(frame["tier"].notna(), frame["series_tier"])
    return frame[list(_DECISION_COLUMNS)].sort_values(["ds", "unique_id"], ignore_index=True)


def _series_outcome(
    uid: str, group: SeriesGroup, mine: pd.DataFrame, mase: float, mase_always: float
) -> SeriesOutcome:
    # A series' first model is not a retrain (the cycle budget leaves it out the same way).
    first = (mine["action"] == "retrain") & mine["trigger"].isin(FIRST_MODELS)
    actions = mine.loc[~first, "action"].value_counts()
    return SeriesOutcome(
        unique_id=uid,
        group=group.group,
        tier=str(group.tier),
        cost_per_unit_error=float(group.cost_per_unit_error),
        retrains=int(actions.get("retrain", 0)),
        promoted=int((mine["outcome"] == "promoted").sum()),
        over_budget=int(actions.get("over_budget", 0)),
        waits=int(actions.get("wait", 0)),
        mase=float(mase),
        mase_always=float(mase_always),
    )


def _cycle_budget(
    ds: pd.Timestamp, g: pd.DataFrame, budget: float | None, measured: Mapping[str, Any]
) -> CycleBudget:
    cpu = pd.to_numeric(g["cpu_seconds"], errors="coerce").fillna(0.0)
    # A series' first model is outside the budget: nothing serves it until then.
    first = (g["action"] == "retrain") & g["trigger"].isin(FIRST_MODELS)
    charged = (g["action"] == "retrain") & ~first
    actions = g.loc[~first, "action"].value_counts()
    fit = measured.get(str(ds.date()))
    return CycleBudget(
        ds=str(ds.date()),
        first_models=int(first.sum()),
        candidates=int(actions.get("retrain", 0) + actions.get("over_budget", 0)),
        retrained=int(actions.get("retrain", 0)),
        over_budget=int(actions.get("over_budget", 0)),
        waiting=int(actions.get("wait", 0)),
        kept=int(actions.get("keep", 0)),
        cpu_charged=float(cpu[charged].sum()),
        cpu_left_out=float(cpu[g["action"] == "over_budget"].sum()),
        cpu_budget=budget,
        cpu_measured=None if fit is None else float(fit),
    )


def _group_rows(
    configured: Sequence[GroupConfig], assigned: pd.DataFrame
) -> tuple[dict[str, Any], ...]:
    counts = assigned["group"].value_counts(dropna=False)
    rows = [
        {
            "name": g.name,
            "rule": f"unique_id ~ {g.match}" if g.match else f"{g.column} = {g.value!r}",
            "tier": g.tier,
            "cost_per_unit_error": float(
                assigned.loc[assigned["group"] == g.name, "cost_per_unit_error"].iloc[0]
            )
            if counts.get(g.name, 0)
            else g.cost_per_unit_error,
            "n_series": int(counts.get(g.name, 0)),
        }
        for g in configured
    ]
    rest = assigned[assigned["group"].isna()]
    if len(rest):
        rows.append(
            {
                "name": None,
                "rule": "no group matched (the defaults)",
                "tier": "standard",
                "cost_per_unit_error": float(rest["cost_per_unit_error"].iloc[0]),
                "n_series": len(rest),
            }
        )
    return tuple(rows)
