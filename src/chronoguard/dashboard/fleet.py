"""The report's fleet section: decisions per series, budget per cycle, the loop against peers.

It takes plain values in (:class:`FleetSection`), like the rest of the report: the caller (a
fleet replay, :mod:`chronoguard.orchestration.fleet_summary`) reads the store and fits the
peers; this module only lays the values out and draws two figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from chronoguard.dashboard import plots
from chronoguard.errors import DataContractError

__all__ = ["MAX_DECISION_ROWS", "MAX_SERIES_ROWS", "FleetSection", "fleet_context"]

MAX_DECISION_ROWS = 600  # decisions listed under the cycles; the rest are counted
MAX_SERIES_ROWS = 40  # series in the per-series table, the most decided-about first
_DECISION_KEYS = ("ds", "unique_id", "action", "reason")
_CYCLE_KEYS = ("ds", "candidates", "retrained", "over_budget", "cpu_charged")
_POLICY_KEYS = ("policy", "mase", "refits")
LISTED = ("retrain", "over_budget", "wait", "fallback")  # keep decisions are only counted


@dataclass(frozen=True, eq=False)
class FleetSection:
    """What the fleet section shows, as plain values.

    Parameters
    ----------
    decisions
        One row per series and cycle: ``ds, unique_id, action, reason`` and optionally
        ``group, tier, trigger, expected_loss, cpu_seconds, outcome, gate_reason``.
    cycles
        Per cycle: ``ds, candidates, retrained, over_budget, cpu_charged`` and optionally
        ``first_models, waiting, kept, cpu_left_out, cpu_budget, cpu_measured, binding``.
    policies
        Per policy: ``policy, mase, refits`` and optionally ``label, cpu_seconds,
        mase_rel_always, refits_share, is_loop`` (the loop's own row).
    series
        Per series: ``unique_id, group, tier, retrains, promoted, over_budget, waits, mase,
        mase_always``.
    groups
        Per configured group: ``name, rule, tier, cost_per_unit_error, n_series``.
    cpu_budget
        CPU seconds per cycle (``None``: unlimited).
    n_origins, horizon
        The origins and horizon the policies were scored on.
    """

    decisions: pd.DataFrame
    cycles: list[dict[str, Any]]
    policies: list[dict[str, Any]]
    series: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    cpu_budget: float | None = None
    n_origins: int = 0
    horizon: int = 0

    def __post_init__(self) -> None:
        problems: list[str] = []
        missing = [c for c in _DECISION_KEYS if c not in self.decisions.columns]
        if missing and len(self.decisions):
            problems.append(f"fleet.decisions lacks column(s) {', '.join(missing)}")
        for name, keys in (("cycles", _CYCLE_KEYS), ("policies", _POLICY_KEYS)):
            for i, record in enumerate(getattr(self, name)):
                lacking = [k for k in keys if k not in record]
                if lacking:
                    problems.append(f"fleet.{name}[{i}] lacks key(s) {', '.join(lacking)}")
        if problems:
            raise DataContractError(problems, source="FleetSection")


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{100 * float(value):+.2f} %"


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return str(value)


def budget_figure(cycles: list[dict[str, Any]], budget: float | None) -> str | None:
    """Bars of the CPU seconds charged to each cycle's budget, what it left out on top,
    the fits' measured CPU seconds, and the budget as a line."""
    if not cycles:
        return None
    x = np.arange(len(cycles))
    charged = np.array([float(c["cpu_charged"]) for c in cycles])
    left = np.array([float(c.get("cpu_left_out") or 0.0) for c in cycles])
    measured = [c.get("cpu_measured") for c in cycles]
    fig = plots.new_figure(3.8)
    ax = fig.add_subplot()
    plots.style_axes(ax)
    ax.bar(x, charged, color=plots.FORECAST, label="charged: estimated CPU s of the chosen fits")
    if left.any():
        ax.bar(
            x,
            left,
            bottom=charged,
            color="white",
            edgecolor=plots.FLAGGED,
            hatch="///",
            label="left out: estimated CPU s of candidates over budget",
        )
    # A cycle that trains first models measures them too, outside the budget: not drawn.
    mx = [
        i
        for i, m in enumerate(measured)
        if m is not None and not int(cycles[i].get("first_models") or 0)
    ]
    if mx:
        ax.plot(
            mx,
            [float(measured[i] or 0.0) for i in mx],
            "kx",
            markersize=7,
            label="measured CPU s of the cycle's retrain",
        )
    if budget is not None:
        ax.axhline(budget, color=plots.THRESHOLD, linestyle="--", linewidth=1.2, label="budget")
    for i, c in enumerate(cycles):
        if c["over_budget"]:
            top = charged[i] + left[i]
            ax.annotate(
                f"{c['over_budget']} out",
                (i, top),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
                color=plots.FLAGGED,
            )
    step = max(1, math.ceil(len(cycles) / 10))
    ax.set_xticks(x[::step], [str(c["ds"]) for c in cycles][::step], fontsize=7.5)
    ax.set_xlim(-0.6, len(cycles) - 0.4)
    ax.set_xlabel("cycle", fontsize=9)
    ax.set_ylabel("CPU seconds", fontsize=9)
    ax.set_title("Retraining budget per cycle", loc="left", fontsize=11)
    fig.legend(loc="outside lower center", ncols=2, fontsize=7.5, frameon=False)
    return plots.to_base64_png(fig)


def peers_figure(policies: list[dict[str, Any]]) -> str | None:
    """Error against compute: MASE against refits, and against fit CPU seconds."""
    if not policies:
        return None
    fig = plots.new_figure(3.6)
    axes = fig.subplots(1, 2)
    for ax, key, label in (
        (axes[0], "refits", "refits (series-fits)"),
        (axes[1], "cpu_seconds", "fit CPU seconds"),
    ):
        plots.style_axes(ax)
        pts = [p for p in policies if p.get(key) is not None and float(p[key]) > 0]
        for p in pts:
            loop = bool(p.get("is_loop"))
            ax.plot(
                [float(p[key])],
                [float(p["mase"])],
                marker="*" if loop else "o",
                markersize=14 if loop else 7,
                color=plots.FLAGGED if loop else plots.FORECAST,
                linestyle="none",
            )
            ax.annotate(
                plots.plot_text(p["policy"], 24),
                (float(p[key]), float(p["mase"])),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
            )
        if pts:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(label, fontsize=9)
        ax.set_ylabel("MASE (mean over series)", fontsize=9)
    axes[0].set_title("Error against compute", loc="left", fontsize=11)
    return plots.to_base64_png(fig)


def fleet_context(section: FleetSection | None) -> dict[str, Any] | None:
    """The template's values of the fleet section (``None`` for a run without one)."""
    if section is None:
        return None
    frame = section.decisions.copy()
    for column in ("group", "tier", "trigger", "expected_loss", "cpu_seconds", "outcome"):
        if column not in frame.columns:
            frame[column] = None
    if "gate_reason" not in frame.columns:
        frame["gate_reason"] = None
    frame["ds"] = pd.to_datetime(frame["ds"]).dt.strftime("%Y-%m-%d")
    listed = frame[frame["action"].isin(LISTED)]
    cycles = []
    shown = 0
    for c in section.cycles:
        ds = str(c["ds"])
        rows = listed[listed["ds"] == ds]
        room = max(MAX_DECISION_ROWS - shown, 0)
        shown += min(len(rows), room)
        cycles.append(
            {
                "ds": ds,
                "first_models": _num(c.get("first_models", 0)),
                "candidates": _num(c["candidates"]),
                "retrained": _num(c["retrained"]),
                "over_budget": _num(c["over_budget"]),
                "waiting": _num(c.get("waiting")),
                "kept": _num(c.get("kept")),
                "charged": _num(c["cpu_charged"], 2),
                "left_out": _num(c.get("cpu_left_out"), 2),
                "measured": _num(c.get("cpu_measured"), 2),
                "budget": _num(c.get("cpu_budget"), 2),
                "binding": bool(c.get("binding", c["over_budget"] > 0)),
                "rows": [
                    {
                        "uid": _text(r["unique_id"]),
                        "group": _text(r["group"]),
                        "tier": _text(r["tier"]),
                        "action": _text(r["action"]),
                        "trigger": _text(r["trigger"]) if r["trigger"] else "—",
                        "loss": _num(r["expected_loss"], 2),
                        "cpu": _num(r["cpu_seconds"], 3),
                        "outcome": _text(r["outcome"]),
                        "reason": _text(r["reason"]),
                        "gate": _text(r["gate_reason"]),
                    }
                    for r in rows.head(room).to_dict("records")
                ],
                "not_listed": len(rows) - min(len(rows), room),
            }
        )
    ranked = sorted(
        section.series,
        key=lambda s: (-(s["retrains"] + s["over_budget"]), -s["waits"], str(s["unique_id"])),
    )
    policies = [
        {
            "label": _text(p.get("label", p["policy"])),
            "policy": _text(p["policy"]),
            "mase": _num(p["mase"], 4),
            "vs_always": _pct(p.get("mase_rel_always")),
            "refits": _num(int(p["refits"])),
            "share": "—"
            if p.get("refits_share") is None
            else f"{100 * float(p['refits_share']):.1f} %",
            "cpu": _num(p.get("cpu_seconds"), 1),
            "is_loop": bool(p.get("is_loop")),
        }
        for p in section.policies
    ]
    actions = frame["action"].value_counts()
    critical = [g for g in section.groups if g.get("tier") == "critical"]
    if critical:
        approval = (
            f"{sum(int(g.get('n_series') or 0) for g in critical)} series are tier critical: "
            "a challenger of theirs that passes the gate waits for approval (outcome "
            "awaiting_approval) and serves only once approved, which a replay never does."
        )
    else:
        approval = (
            "No group is tier critical: a critical series' passing challenger waits for "
            "approval, which nobody gives in a replay, so it would never serve."
        )
    return {
        "approval_note": approval,
        "n_series": len(section.series) or int(frame["unique_id"].nunique()),
        "n_cycles": len(section.cycles),
        "n_origins": section.n_origins,
        "horizon": section.horizon,
        "budget": _num(section.cpu_budget, 2) if section.cpu_budget else "unlimited",
        "binding_cycles": sum(bool(c["over_budget"]) for c in section.cycles),
        "groups": [
            {
                "name": _text(g.get("name")),
                "rule": _text(g.get("rule")),
                "tier": _text(g.get("tier")),
                "cost": _num(g.get("cost_per_unit_error"), 2),
                "n_series": _num(g.get("n_series")),
            }
            for g in section.groups
        ],
        "actions": [(str(a), int(n)) for a, n in actions.items()],
        "cycles": cycles,
        "budget_png": budget_figure(section.cycles, section.cpu_budget),
        "policies": policies,
        "peers_png": peers_figure(section.policies),
        "series_rows": [
            {
                "uid": _text(s["unique_id"]),
                "group": _text(s.get("group")),
                "tier": _text(s.get("tier")),
                "retrains": _num(s["retrains"]),
                "promoted": _num(s.get("promoted")),
                "over_budget": _num(s["over_budget"]),
                "waits": _num(s["waits"]),
                "mase": _num(s.get("mase"), 3),
                "mase_always": _num(s.get("mase_always"), 3),
            }
            for s in ranked[:MAX_SERIES_ROWS]
        ],
        "series_omitted": max(len(ranked) - MAX_SERIES_ROWS, 0),
        "decisions_listed": shown,
        "decisions_total": len(listed),
    }
