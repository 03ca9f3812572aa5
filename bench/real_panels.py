"""False alarms and detection delays of chronoguard's default loop on the real datasets.

Run ``python bench/real_panels.py`` (all panels; ``--series 50`` for a sample of each fleet)
or ``--quick`` (seatbelts and Nile around their changes, three tourism series over four
quarters: under a minute). ``--panels``, ``--series`` (a random subset, ``--seed``),
``--periods`` and ``--set SECTION.KEY=VALUE`` change what is run; ``--workers`` replays
panels in parallel processes (default 1). A table is printed, then the last line of output
is one JSON object (``--json-out`` also writes it to a file), with the commit of the code
it measured under ``code``. On this project's 2 cores, shared with other work, ``--quick``
took about 40 s and ``--series 50`` 8 minutes (aus_retail's 3,000 series-periods 3.7 of
them); ``docs/results/real_panels_baseline.json`` is that run.

What is replayed
----------------
Each panel goes through chronoguard's own replay (``chronoguard.orchestration.replay``: the
production cycle on a simulated clock) in a fresh workspace, at the default configuration a
user gets from ``chronoguard init`` with the panel's frequency, season length and horizon
(``bench/loop_value.py``'s ``default_config``: AutoETS, the first model trained on the
calendar up to the first replayed period), changed only by ``--set``:

* ``tourism``: quarterly, season 4, h = 8, the last 20 quarters (2013–2017);
* ``aus_retail``: monthly, season 12, h = 12, the last 60 months (2014–2018);
* ``m3_monthly``: the official 18-month test of each series (its ``split`` column),
  season 12, h = 18; the nominal calendars are aligned to end together, as in loop_value;
* ``seatbelts``: UK drivers killed or seriously injured (``y``), monthly, season 12, h = 12,
  replayed 1977–1984 with a first model on 1969–1976, as ``chronoguard demo`` does (the demo
  also sets ``training.retrain_window = 60``; this bench keeps the default, all data);
  documented change: the seat-belt law, February 1983;
* ``nile``: annual flow at Aswan, season 1, h = 3 (so that the first model's 19 years
  hold the default three backtest windows), replayed 1890–1970 with a first model on
  1871–1889; documented change: the level drop of about 1898;
* ``vic_elec``: Victoria's electricity demand, **aggregated to daily means** (MW) over each
  local (Australia/Melbourne) calendar day of the half-hourly UTC data, season 7, h = 7, the
  last 365 days replayed after a first model on the two years before. The default model
  (AutoETS) takes no exogenous input, so ``temperature`` is not used; it is, as a daily
  mean, when ``--set model.name=...`` names a model that accepts exogenous inputs.

The change dates are chronoguard's own (``chronoguard.data.dataset_info``).

What is measured
----------------
* **Alert episodes.** An alert (store table ``cg_alerts``) is open from the check that
  raised it until a check of the same series, kind, method and feature clears it. At each
  check a series is *alerting* when one of its alerts is open; an episode is a maximal run
  of consecutive checks of a series in which it is alerting. Open alerts are rebuilt from
  the stored check results (``cg_monitoring_results``: a result alerts when it is positive,
  not advisory and, when there was a fleet-wide adjustment, still positive after it), which
  is how chronoguard's alert book opens and resolves them; ``alerts_match_store`` says
  whether the alerts so rebuilt are exactly the ones in ``cg_alerts``.
  ``episodes_per_series_year`` = episodes over the checks before the series' documented
  change (all checks on panels without one) divided by the series-years those checks span
  (checks × ``monitoring.every`` / periods per year). ``by_check`` counts the episodes of
  each check (``kind/method``) alone; one series episode can hold several.
  ``alerting_checks_share`` is the share of those checks with an open alert (long episodes
  show there, not in the count). ``fired_episodes`` counts, the same way, the runs of
  checks in which a series' own positives (what the retraining rule counts,
  ``cg_series_checks``) were not empty.
* **Detection delay** of each documented change: periods from the change to the first
  alert raised or retrain decided on that series at or after it (``None``: never).
* **Retrains**: per series decisions to retrain (the first model and a late series' first
  model excluded) and the gate's verdicts, ``promoted`` or ``rejected``; watches that
  rolled a promotion back are listed under ``watches``.
* ``meets_target``: at most 0.5 alert episodes per series-year (tourism, aus_retail,
  m3_monthly, and vic_elec by the same rule), every documented change found within three
  periods (seatbelts, nile); ``target`` names the rule applied.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

try:
    import _loop_core as core
    import loop_value as lv
except ImportError:  # imported as bench.real_panels
    from bench import _loop_core as core  # type: ignore[no-redef]
    from bench import loop_value as lv  # type: ignore[no-redef]

DATA_DIR = lv.DATA_DIR
PANEL_NAMES = ("seatbelts", "nile", "vic_elec", "tourism", "aus_retail", "m3_monthly")
#: Panels with a documented change, and the first period each replays (full run, --quick).
CHANGE_PANELS = {
    "seatbelts": core.PanelSpec("seatbelts", "seatbelts.csv", "MS", 12, 12, 0),
    "nile": core.PanelSpec("nile", "nile.csv", "YS", 1, 3, 0),
}
FIRST_REPLAYED = {"seatbelts": ("1977-01-01", "1982-01-01"), "nile": ("1890-01-01", "1890-01-01")}
#: --quick: periods kept after the change (the data is cut there).
QUICK_AFTER_CHANGE = 6
VIC_ELEC = core.PanelSpec("vic_elec", "vic_elec.csv", "D", 7, 7, 365)
#: --quick: series and replayed periods of the panels without a documented change.
QUICK = {"tourism": (3, 4), "aus_retail": (3, 4), "m3_monthly": (3, 4), "vic_elec": (1, 14)}
QUICK_PANELS = ("seatbelts", "nile", "tourism")
PERIODS_PER_YEAR = {"YS": 1.0, "QS": 4.0, "MS": 12.0, "W": 52.18, "D": 365.25}
TARGET_EPISODES_PER_SERIES_YEAR = 0.5
TARGET_DELAY_PERIODS = 3
#: Triggers of retrain decisions that are first models, not retrains.
FIRST_MODELS = ("initial", "new_series")
VIC_TZ = "Australia/Melbourne"


# ------------------------------------------------------------------------ episode counting


def result_alerts(
    decision: Sequence[bool], details: Sequence[Mapping[str, Any] | None]
) -> list[bool]:
    """Whether each stored check result raises an alert.

    A result alerts when it is positive (``decision``) and not advisory; when the fleet-wide
    adjustment judged it (``details["alert"]``), that verdict decides instead of ``decision``.
    """
    out = []
    for dec, d in zip(decision, details, strict=True):
        info = d or {}
        if info.get("advisory"):
            out.append(False)
        elif info.get("alert") is not None:
            out.append(bool(info["alert"]))
        else:
            out.append(bool(dec))
    return out


AlertKey = tuple[str, str]  # (check as "kind/method", feature)


def open_alerts(
    results: pd.DataFrame, checks: pd.DataFrame | None = None
) -> dict[str, list[tuple[pd.Timestamp, frozenset[AlertKey]]]]:
    """The alerts open at each check of each series, rebuilt from its check results.

    ``results`` has one row per check result: ``unique_id, ds, check, feature, alerting``
    (bool). ``checks`` (``unique_id, ds``) may add check times with no result. Per series and
    (check, feature), an alert opens at a result that alerts and stays open until a result
    of the same check and feature does not; a check without a result for it leaves it as it
    was. Returns, per series, its check times in order with the keys open after each.
    """
    frames = [results[["unique_id", "ds"]]]
    if checks is not None:
        frames.append(checks[["unique_id", "ds"]])
    times = pd.concat(frames, ignore_index=True).drop_duplicates()
    times["ds"] = pd.to_datetime(times["ds"])
    # Per series and check time: each key's verdict (it alerts if any of its results does).
    verdicts: dict[tuple[str, pd.Timestamp], dict[AlertKey, bool]] = {}
    for uid, ds, check, feature, alerting in zip(
        results["unique_id"].astype(str),
        pd.to_datetime(results["ds"]),
        results["check"].astype(str),
        results["feature"].astype(str),
        results["alerting"].astype(bool),
        strict=True,
    ):
        here = verdicts.setdefault((uid, pd.Timestamp(ds)), {})
        here[(check, feature)] = here.get((check, feature), False) or bool(alerting)
    out: dict[str, list[tuple[pd.Timestamp, frozenset[AlertKey]]]] = {}
    for uid, g in times.groupby(times["unique_id"].astype(str), sort=True):
        state: set[AlertKey] = set()
        seq = []
        for ds in sorted(pd.Timestamp(t) for t in g["ds"]):
            for key, alerting in verdicts.get((str(uid), ds), {}).items():
                if alerting:
                    state.add(key)
                else:
                    state.discard(key)
            seq.append((ds, frozenset(state)))
        out[str(uid)] = seq
    return out


def count_runs(flags: Iterable[bool]) -> int:
    """Maximal runs of ``True`` in ``flags``."""
    runs, before = 0, False
    for f in flags:
        f = bool(f)
        runs += f and not before
        before = f
    return runs


@dataclass(frozen=True)
class Episodes:
    """Alert episodes over the checks of a set of series (see :func:`count_episodes`)."""

    episodes: int
    by_check: dict[str, int]
    checks: int
    alerting: int  # checks with at least one open alert


def count_episodes(
    states: Mapping[str, Sequence[tuple[pd.Timestamp, frozenset[AlertKey]]]],
    before: Mapping[str, pd.Timestamp | None] | None = None,
) -> Episodes:
    """Episodes of each series over its checks before ``before[unique_id]`` (all if absent).

    An episode is a maximal run of consecutive checks with at least one open alert;
    ``by_check[c]`` counts the runs in which check ``c`` (any feature) had one.
    """
    total, checks, alerting = 0, 0, 0
    by_check: Counter[str] = Counter()
    for uid, seq in states.items():
        cut = None if before is None else before.get(uid)
        kept = [keys for ds, keys in seq if cut is None or ds < cut]
        checks += len(kept)
        alerting += sum(bool(k) for k in kept)
        total += count_runs(bool(k) for k in kept)
        for c in sorted({key[0] for keys in kept for key in keys}):
            by_check[c] += count_runs(any(key[0] == c for key in keys) for keys in kept)
    return Episodes(total, dict(sorted(by_check.items())), checks, alerting)


def raised_alerts(
    states: Mapping[str, Sequence[tuple[pd.Timestamp, frozenset[AlertKey]]]],
) -> set[tuple[str, str, str, pd.Timestamp]]:
    """``(unique_id, check, feature, ds)`` of every alert the rebuilt states open."""
    out = set()
    for uid, seq in states.items():
        previous: frozenset[AlertKey] = frozenset()
        for ds, keys in seq:
            out.update((uid, check, feature, ds) for check, feature in keys - previous)
            previous = keys
    return out


def detection_delay(
    timeline: pd.DatetimeIndex, change: pd.Timestamp, signals: Iterable[pd.Timestamp]
) -> tuple[pd.Timestamp | None, int | None]:
    """The first signal at or after ``change`` and its delay in periods of ``timeline``."""
    after = [pd.Timestamp(s) for s in signals if pd.Timestamp(s) >= change]
    if not after:
        return None, None
    first = min(after)
    return first, int(timeline.searchsorted(first) - timeline.searchsorted(change))


# --------------------------------------------------------------------------------- panels


@dataclass(frozen=True)
class Job:
    """One panel to replay: its series, their documented changes, its configuration."""

    name: str
    panel: core.Panel
    changes: tuple[tuple[str, str, str], ...]  # (unique_id, ds, label)
    raw_config: dict[str, Any]
    exog: pd.DataFrame | None = None  # unique_id, ds and exogenous columns


def _single(panel: core.Panel, first: str, last: pd.Timestamp | None) -> core.Panel:
    """A one-series panel cut to end at ``last`` and replayed from ``first``."""
    dates = panel.dates(0)
    n = int(dates.size if last is None else dates.searchsorted(last, side="right"))
    origins = n - int(dates.searchsorted(pd.Timestamp(first)))
    return dataclasses.replace(panel, values=(panel.values[0][:n],), n_origins=origins)


def load_vic_elec_daily(data_dir: Path) -> tuple[core.Panel, pd.DataFrame]:
    """vic_elec as daily mean demand per Melbourne calendar day, and daily mean temperature.

    The published timestamps are UTC; each half-hour is put on its local day. A day with
    fewer than 46 half-hours (a daylight-saving day has 46 or 50) is refused.
    """
    df = pd.read_csv(data_dir / VIC_ELEC.file, parse_dates=["ds"])
    local = df["ds"].dt.tz_localize("UTC").dt.tz_convert(VIC_TZ)
    df["day"] = local.dt.tz_localize(None).dt.normalize()
    daily = df.groupby("day").agg(
        y=("y", "mean"), temperature=("temperature", "mean"), n=("y", "size")
    )
    short = daily.index[daily["n"] < 46]
    if len(short):
        raise ValueError(f"{VIC_ELEC.file}: local days with under 46 half-hours: {list(short)}")
    days = pd.DatetimeIndex(daily.index)
    if not days.equals(pd.date_range(days[0], days[-1], freq="D")):
        raise ValueError(f"{VIC_ELEC.file}: the local days are not consecutive")
    uid = str(df["unique_id"].iloc[0])
    panel = core.Panel(
        VIC_ELEC, (uid,), (daily["y"].to_numpy(float),), (days[0],), VIC_ELEC.n_origins
    )
    exog = pd.DataFrame({"unique_id": uid, "ds": days, "temperature": daily["temperature"]})
    return panel, exog.reset_index(drop=True)


def sample(panel: core.Panel, n_series: int | None, n_origins: int | None, seed: int) -> core.Panel:
    """``n_series`` series drawn at random (seeded), in panel order, with the last origins."""
    idx = np.arange(len(panel))
    if n_series is not None and n_series < len(panel):
        idx = np.sort(np.random.default_rng(seed).choice(len(panel), n_series, replace=False))
    k = panel.n_origins if n_origins is None else min(n_origins, panel.n_origins)
    return dataclasses.replace(
        panel,
        ids=tuple(panel.ids[i] for i in idx),
        values=tuple(panel.values[i] for i in idx),
        starts=tuple(panel.starts[i] for i in idx),
        n_origins=k,
    )


def build_config(
    name: str, panel: core.Panel, overrides: Mapping[str, Mapping[str, Any]], uses_exog: bool
) -> dict[str, Any]:
    """loop_value's default configuration of the panel, with ``overrides`` applied."""
    raw = lv.default_config(panel)
    raw["model"]["registered_name"] = f"real-panels-{name}"
    for section, values in overrides.items():
        raw[section] = {**raw.get(section, {}), **values}
    if uses_exog:
        raw["data"] = {**raw["data"], "exog": ["temperature"]}
    return raw


def takes_exog(raw: Mapping[str, Any], spec: core.PanelSpec) -> bool:
    """Whether the configured model accepts exogenous inputs."""
    from chronoguard.forecasting import make_forecaster

    model = raw.get("model", {}).get("name", "AutoETS")
    return bool(make_forecaster(model, season_length=spec.season_length).supports_exog)


def make_job(
    name: str,
    data_dir: Path,
    *,
    quick: bool,
    n_series: int | None,
    periods: int | None,
    seed: int,
    overrides: Mapping[str, Mapping[str, Any]],
) -> Job:
    """The panel ``name`` as it is replayed (see the module docstring)."""
    from chronoguard.data import dataset_info

    changes: tuple[tuple[str, str, str], ...] = ()
    exog = None
    if name in CHANGE_PANELS:
        spec = CHANGE_PANELS[name]
        full = core.load_panel(spec, data_dir)
        known = dataset_info(name).known_changes
        last = None
        if quick:
            change = pd.Timestamp(known[0][0])
            last = full.dates(0)[full.dates(0).searchsorted(change) + QUICK_AFTER_CHANGE]
        panel = _single(full, FIRST_REPLAYED[name][quick], last)
        changes = tuple((panel.ids[0], ds, label) for ds, label in known)
    else:
        if name == "vic_elec":
            panel, exog = load_vic_elec_daily(data_dir)
        else:
            panel = core.load_panel(core.PANELS[name], data_dir)
        q_series, q_periods = QUICK[name] if quick else (None, None)
        panel = sample(panel, n_series or q_series, periods or q_periods, seed)
    probe = build_config(name, panel, overrides, uses_exog=False)
    uses_exog = exog is not None and takes_exog(probe, panel.spec)
    raw = build_config(name, panel, overrides, uses_exog=uses_exog)
    return Job(name, panel, changes, raw, exog if uses_exog else None)


# --------------------------------------------------------------------------------- replay


def _stored_results(ws: Any) -> pd.DataFrame:
    """Every per-series check result of the workspace, with whether it alerts."""
    res = ws.store.get_monitoring_results()
    res = res[res["unique_id"].notna()].reset_index(drop=True)
    details = [d if isinstance(d, dict) else {} for d in res["details"]]
    return pd.DataFrame(
        {
            "unique_id": res["unique_id"].astype(str),
            "ds": pd.to_datetime(res["ds"]),
            "check": res["kind"].astype(str) + "/" + res["method"].astype(str),
            "feature": res["feature"].astype(str),
            "alerting": result_alerts(res["decision"].astype(bool).tolist(), details),
        }
    )


def run_job(job: Job) -> dict[str, Any]:
    """Replay one panel in a fresh workspace and measure it (see the module docstring)."""
    from chronoguard.config import parse_config
    from chronoguard.data import validate_frame
    from chronoguard.lifecycle import init_workspace
    from chronoguard.orchestration.replay import replay

    panel, spec = job.panel, job.panel.spec
    cfg = parse_config(job.raw_config, source=f"real_panels {job.name}")
    frame = lv.replay_frame(panel)
    if job.exog is not None:
        frame = frame.merge(job.exog, on=["unique_id", "ds"], how="left", validate="1:1")
    checked = validate_frame(frame, freq=spec.freq, exog=list(cfg.data.exog), source=job.name)
    timeline = pd.DatetimeIndex(np.sort(frame["ds"].unique()))
    t0 = time.perf_counter()
    with (
        warnings.catch_warnings(),
        tempfile.TemporaryDirectory(prefix="real_panels_") as tmp,
        init_workspace(Path(tmp) / "workspace", cfg) as ws,
    ):
        warnings.simplefilter("ignore")  # statsforecast's near-singular fits; recorded anyway
        replay(checked, ws, source=job.name, events=[(ds, lb) for _, ds, lb in job.changes])
        model = ws.model_name
        results = _stored_results(ws)
        history = ws.store.series_check_history(model, last_n=10**9)
        checks = pd.DataFrame(
            [(u, pd.Timestamp(c.ds), sorted(c.fired)) for u, cs in history.items() for c in cs],
            columns=["unique_id", "ds", "fired"],
        )
        alerts = [a for a in ws.store.list_alerts() if a.unique_id is not None]
        decisions = [
            d
            for d in ws.store.list_series_decisions(model, action="retrain")
            if d.trigger not in FIRST_MODELS
        ]
        watches = Counter(w.status for w in ws.store.list_watches(model))
    seconds = time.perf_counter() - t0

    change_at = {uid: pd.Timestamp(ds) for uid, ds, _ in job.changes}
    states = open_alerts(results, checks)
    episodes = count_episodes(states, change_at)
    fired_states = {
        u: [
            (pd.Timestamp(ds), frozenset((k, "") for k in f))
            for ds, f in zip(g["ds"], g["fired"], strict=True)
        ]
        for u, g in checks.sort_values("ds").groupby("unique_id")
    }
    fired = count_episodes(fired_states, change_at)
    stored = {
        (str(a.unique_id), f"{a.kind}/{a.method}", a.feature, pd.Timestamp(a.ds)) for a in alerts
    }
    every = cfg.monitoring.every
    series_years = episodes.checks * every / PERIODS_PER_YEAR[spec.freq]
    per_year = episodes.episodes / series_years if series_years else None

    changes = []
    for uid, ds, label in job.changes:
        t = pd.Timestamp(ds)
        first_alert, alert_delay = detection_delay(
            timeline, t, [pd.Timestamp(a.ds) for a in alerts if a.unique_id == uid]
        )
        first_retrain, _ = detection_delay(
            timeline, t, [pd.Timestamp(d.ds) for d in decisions if d.unique_id == uid]
        )
        _, delay = detection_delay(
            timeline, t, [s for s in (first_alert, first_retrain) if s is not None]
        )
        changes.append(
            {
                "unique_id": uid,
                "change_ds": str(t.date()),
                "label": label,
                "first_alert_ds": None if first_alert is None else str(first_alert.date()),
                "first_retrain_ds": None if first_retrain is None else str(first_retrain.date()),
                "delay_periods": delay,
                "alert_delay_periods": alert_delay,
            }
        )
    outcomes = Counter(d.outcome for d in decisions)
    before = [d for d in decisions if d.unique_id not in change_at or d.ds < change_at[d.unique_id]]
    if job.changes:
        target = f"every documented change found within {TARGET_DELAY_PERIODS} periods"
        meets = all(
            c["delay_periods"] is not None and c["delay_periods"] <= TARGET_DELAY_PERIODS
            for c in changes
        )
    else:
        target = f"at most {TARGET_EPISODES_PER_SERIES_YEAR} alert episodes per series-year"
        meets = per_year is not None and per_year <= TARGET_EPISODES_PER_SERIES_YEAR
    first_replayed = timeline[int(job.raw_config["training"]["initial_window"])]
    return {
        "series": len(panel),
        "freq": spec.freq,
        "season_length": spec.season_length,
        "horizon": int(cfg.forecast.horizon),
        "replayed": [str(first_replayed.date()), str(timeline[-1].date())],
        "periods": int(len(timeline) - job.raw_config["training"]["initial_window"]),
        "checks_before_change": episodes.checks,
        "series_years": round(series_years, 4),
        "alert_episodes": episodes.episodes,
        "episodes_per_series_year": None if per_year is None else round(per_year, 4),
        "by_check": episodes.by_check,
        "alerting_checks_share": (
            round(episodes.alerting / episodes.checks, 4) if episodes.checks else None
        ),
        "fired_episodes": fired.episodes,
        "fired_by_kind": fired.by_check,
        "alerts_raised": len(alerts),
        "alerts_match_store": raised_alerts(states) == stored,
        "changes": changes,
        "retrains_promoted": int(outcomes.get("promoted", 0)),
        "retrains_rejected": int(outcomes.get("rejected", 0)),
        "retrains_other": {
            k: int(v) for k, v in outcomes.items() if k not in ("promoted", "rejected")
        },
        "retrains_before_change": len(before),
        "watches": dict(sorted(watches.items())),
        "meets_target": bool(meets),
        "target": target,
        "exog": list(cfg.data.exog),
        "seconds": round(seconds, 1),
        "config": job.raw_config,
    }


# ----------------------------------------------------------------------------------- main


def table(panels: Mapping[str, Mapping[str, Any]]) -> str:
    """The human-readable summary of the measured panels."""
    head = (
        f"{'panel':11s} {'series':>6s} {'ser-yrs':>8s} {'episodes':>8s} {'per s-y':>8s} "
        f"{'promoted':>8s} {'rejected':>8s} {'target':>6s} {'secs':>7s}  changes / top checks"
    )
    lines = [head, "-" * len(head)]
    for name, p in panels.items():
        per = p["episodes_per_series_year"]
        top = sorted(p["by_check"].items(), key=lambda kv: -kv[1])[:3]
        detail = ", ".join(
            f"{c['change_ds']}: +{c['delay_periods']}"
            if c["delay_periods"] is not None
            else f"{c['change_ds']}: never"
            for c in p["changes"]
        )
        checks = ", ".join(f"{c} {n}" for c, n in top) or "none"
        lines.append(
            f"{name:11s} {p['series']:6d} {p['series_years']:8.2f} {p['alert_episodes']:8d} "
            f"{'-' if per is None else f'{per:.3f}':>8s} {p['retrains_promoted']:8d} "
            f"{p['retrains_rejected']:8d} {'yes' if p['meets_target'] else 'no':>6s} "
            f"{p['seconds']:7.1f}  {(detail + '; ') if detail else ''}{checks}"
        )
    return "\n".join(lines)


def code_version() -> dict[str, Any]:
    """chronoguard's version, and the commit of the source tree it was imported from (with
    whether that tree's ``src`` has uncommitted changes); ``None`` where git cannot say."""
    import chronoguard

    where = Path(chronoguard.__file__).resolve().parent

    def git(*argv: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(where), *argv], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", ".") if commit else None
    return {
        "chronoguard": chronoguard.__version__,
        "commit": commit,
        "src_modified": None if status is None else bool(status),
    }


def _run(job: Job) -> tuple[str, dict[str, Any]]:
    return job.name, run_job(job)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"{', '.join(QUICK_PANELS)} (unless --panels), short replays: under a minute",
    )
    ap.add_argument(
        "--panels", default=None, help=f"comma-separated, from {', '.join(PANEL_NAMES)}"
    )
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--series", type=int, default=None, help="series per panel (random, seeded)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the --series draw")
    ap.add_argument(
        "--periods",
        type=int,
        default=None,
        help="replayed periods of the panels without a documented change (their last ones)",
    )
    ap.add_argument("--workers", type=int, default=1, help="panels replayed in parallel")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change the default configuration (repeatable), e.g. monitoring.alpha=0.005; "
        "VALUE is read as JSON, else as text",
    )
    ap.add_argument("--json-out", type=Path, default=None, help="also write the JSON here")
    args = ap.parse_args(argv)
    try:
        overrides = lv.parse_overrides(args.set)
    except ValueError as exc:
        ap.error(str(exc))
    default_panels = QUICK_PANELS if args.quick else PANEL_NAMES
    names = lv._names(args.panels or ",".join(default_panels), PANEL_NAMES, "panels", ap)
    for flag in ("workers", "series", "periods"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            ap.error(f"--{flag} must be at least 1, got {value}")

    t0 = time.perf_counter()
    jobs = []
    for name in names:
        job = make_job(
            name,
            args.data_dir,
            quick=args.quick,
            n_series=args.series,
            periods=args.periods,
            seed=args.seed,
            overrides=overrides,
        )
        jobs.append(job)
        print(
            f"{name}: {len(job.panel)} series, {job.panel.n_origins} periods replayed",
            file=sys.stderr,
            flush=True,
        )
    out: dict[str, dict[str, Any]] = {}
    if args.workers == 1 or len(jobs) == 1:
        for job in jobs:
            out[job.name] = run_job(job)
            print(f"{job.name}: done in {out[job.name]['seconds']} s", file=sys.stderr, flush=True)
    else:
        # The longest replays first (series × periods), so the last to finish are short.
        jobs.sort(key=lambda j: -len(j.panel) * j.panel.n_origins)
        with ProcessPoolExecutor(max_workers=min(args.workers, len(jobs))) as pool:
            for name, result in pool.map(_run, jobs):
                out[name] = result
                print(f"{name}: done in {result['seconds']} s", file=sys.stderr, flush=True)
    panels = {name: out[name] for name in names}
    result = {
        "panels": panels,
        "config": overrides,
        "quick": args.quick,
        "series": args.series,
        "seed": args.seed,
        "workers": args.workers,
        "code": code_version(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(result)
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n")
    print(table(panels))
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
