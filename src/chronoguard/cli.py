"""The ``chronoguard`` command: thin typer commands over the library's functions.

Every command works on a workspace directory (``--workspace``). The CLI is the edge where
the wall clock may be read: it passes ``now`` into the core, which never reads it itself.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chronoguard import __version__
from chronoguard.config import ChronoguardConfig, load_config, parse_config
from chronoguard.data import ValidatedFrame, dataset_info, dataset_path, load_frame, validate_frame
from chronoguard.errors import ChronoguardError, WorkspaceError

app = typer.Typer(
    name="chronoguard",
    help=(
        "Keep time-series forecasting models healthy: version, forecast, monitor for drift, "
        "retrain under a validation gate, promote and roll back.\n\n"
        "Start with `chronoguard demo --workspace ws` (bundled real data), or "
        "`chronoguard init --workspace ws` then `train`, `forecast`, `monitor`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=False)
err = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace directory (created by `init`).")
]
DataOpt = Annotated[
    Path,
    typer.Option(
        "--data", "-d", help="CSV or Parquet in long format: unique_id, ds, y (+ exogenous)."
    ),
]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Who makes this change (recorded in the alias history and audit log)."
    ),
]


def _now(at: str | None) -> pd.Timestamp:
    # The CLI is the edge: the only place that reads the wall clock, and only when no
    # time is given.
    return pd.Timestamp(at) if at else pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))


def _load(path: Path, cfg: ChronoguardConfig) -> ValidatedFrame:
    return validate_frame(
        load_frame(path), freq=cfg.data.freq, exog=cfg.data.exog or [], source=str(path)
    )


def _open(workspace: Path) -> Any:
    from chronoguard.lifecycle import open_workspace

    return open_workspace(workspace)


@app.command()
def init(
    workspace: WorkspaceOpt,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML config to copy in (default: built-in defaults)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing chronoguard.toml.")
    ] = False,
) -> None:
    """Create a workspace: config file, model registry (MLflow) and state store (migrated)."""
    from chronoguard.lifecycle import CONFIG_FILE, init_workspace

    cfg = load_config(config) if config else ChronoguardConfig()
    exists = (workspace / CONFIG_FILE).exists()
    with init_workspace(workspace, cfg, overwrite_config=force or not exists):
        pass
    console.print(
        f"[green]workspace ready[/] {workspace.resolve()} (edit {CONFIG_FILE} to configure)"
    )


@app.command()
def train(
    workspace: WorkspaceOpt,
    data: DataOpt,
    until: Annotated[
        str | None, typer.Option(help="Train on data up to this timestamp (default: all).")
    ] = None,
    promote_: Annotated[
        bool,
        typer.Option(
            "--promote/--no-promote",
            help="Make the new version champion (default: only if there is none).",
        ),
    ] = False,
    reason: Annotated[
        str, typer.Option(help="Why this version is trained (lineage: trigger).")
    ] = "manual",
    by: ByOpt = "cli",
) -> None:
    """Train the configured model on a window of DATA and register a new version."""
    from chronoguard.lifecycle import promote, train_version, training_window

    with _open(workspace) as ws:
        checked = _load(data, ws.config)
        end = pd.Timestamp(until) if until else checked.df["ds"].max()
        window = training_window(checked.df, end, ws.config.training.retrain_window)
        if window.empty:
            raise ChronoguardError(
                f"no data at or before --until {until}; choose a later timestamp"
            )
        parent = ws.registry.get_alias(ws.model_name, "champion")
        trained = train_version(
            window,
            ws.config,
            ws.registry,
            freq=checked.freq,
            now=end,
            trigger=reason,
            parent_version=parent,
        )
        v = trained.version.version
        ws.store.set_version_status(ws.model_name, v, "candidate", at=end, by=by, reason=reason)
        if promote_ or parent is None:
            promote(
                ws.registry,
                ws.store,
                ws.model_name,
                v,
                by=by,
                reason=reason if parent else "first version",
                at=end,
            )
        console.print(
            f"registered [bold]{ws.model_name}[/] version [bold]{v}[/] "
            f"(train {window['ds'].min().date()} – {end.date()}, backtest MASE "
            f"{trained.metrics.get('backtest_mase', float('nan')):.3f})"
            + (" → champion" if (promote_ or parent is None) else "")
        )


@app.command()
def forecast(
    workspace: WorkspaceOpt,
    data: DataOpt,
    version: Annotated[
        str, typer.Option("--version", "-v", help="Version number or alias (champion, challenger).")
    ] = "champion",
    horizon: Annotated[
        int | None, typer.Option(help="Periods ahead (default: the config's horizon).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the forecast to this CSV instead of printing it."
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option(help="Record the served forecast in the state store.")
    ] = False,
) -> None:
    """Forecast the periods after DATA's last timestamp with a version or alias."""
    from chronoguard.lifecycle import forecast_from, serve_forecasts

    with _open(workspace) as ws:
        loaded = ws.registry.load(ws.model_name, version)
        checked = _load(data, ws.config)
        h = horizon or ws.config.forecast.horizon
        origin = checked.df["ds"].max()
        if record:
            fc = serve_forecasts(
                ws.store,
                loaded.forecaster,
                checked.df,
                origin=origin,
                horizon=h,
                model_name=ws.model_name,
                version=loaded.version.version,
                alias=version if not version.isdigit() else "manual",
            )
        else:
            fc = forecast_from(loaded.forecaster, checked.df, origin=origin, horizon=h)
        if output:
            tmp = output.with_suffix(output.suffix + ".tmp")
            fc.to_csv(tmp, index=False)
            tmp.replace(output)
            console.print(f"version {loaded.version.version}: {len(fc)} rows → {output}")
        else:
            table = Table(title=f"{ws.model_name} v{loaded.version.version} from {origin.date()}")
            for col in fc.columns:
                table.add_column(str(col))
            for row in fc.itertuples(index=False):
                table.add_row(*[f"{x:.2f}" if isinstance(x, float) else str(x) for x in row])
            console.print(table)


@app.command()
def monitor(
    workspace: WorkspaceOpt,
    data: DataOpt,
    now: Annotated[
        str | None, typer.Option(help="Check time (default: DATA's last timestamp).")
    ] = None,
) -> None:
    """Run one monitoring check of the champion over the recent window of DATA."""
    from chronoguard.alerts import AlertBook
    from chronoguard.monitoring import is_advisory, run_monitoring

    with _open(workspace) as ws:
        checked = _load(data, ws.config)
        t = pd.Timestamp(now) if now else checked.df["ds"].max()
        loaded = ws.registry.load(ws.model_name, "champion")
        timeline = pd.DatetimeIndex(sorted(checked.df.loc[checked.df["ds"] <= t, "ds"].unique()))
        lo = timeline[max(0, len(timeline) - ws.config.monitoring.window)]
        window = checked.df[(checked.df["ds"] >= lo) & (checked.df["ds"] <= t)]
        served = ws.store.get_forecasts(ds_from=lo, ds_to=t)
        reference = loaded.artifacts["reference_profile"]
        trained_to = min(pd.Timestamp(s["train_end"]) for s in reference["series"].values())
        report = run_monitoring(
            reference,
            window,
            served,
            now=t,
            freq=checked.freq,
            monitoring=ws.config.monitoring,
            version=loaded.version.version,
            served_since_reference=ws.store.get_forecasts(
                ds_from=trained_to, ds_to=t, version=loaded.version.version
            ),
        )
        ws.store.record_monitoring_results(f"cli-{t.isoformat()}", t, report.records())
        AlertBook.from_store(ws.store).update(ws.store, report, now=t)
        table = Table(title=f"monitoring of v{loaded.version.version} at {t}")
        for col in (
            "series",
            "kind",
            "method",
            "feature",
            "statistic",
            "p-value",
            "threshold",
            "decision",
        ):
            table.add_column(col)
        for r in report.results:
            table.add_row(
                str(r.unique_id),
                str(r.kind),
                r.method,
                r.feature,
                f"{r.statistic:.4g}",
                "" if r.p_value is None else f"{r.p_value:.3g}",
                f"{r.threshold:.3g}",
                ("flag (advisory, iid test)" if is_advisory(r) else "[red]DRIFT[/]")
                if r.drift
                else "ok",
            )
        console.print(table)


@app.command()
def retrain(
    workspace: WorkspaceOpt,
    data: DataOpt,
    reason: Annotated[str, typer.Option(help="Trigger recorded in the lineage.")] = "manual",
    promote_: Annotated[
        bool, typer.Option("--promote/--no-promote", help="Promote when the gate passes.")
    ] = True,
    by: ByOpt = "cli",
) -> None:
    """Train a challenger, validate it against the champion on a held-out window, promote if it wins."""
    from chronoguard.lifecycle import retrain as run_retrain

    with _open(workspace) as ws:
        checked = _load(data, ws.config)
        champion = ws.registry.load(ws.model_name, "champion")
        res = run_retrain(
            ws,
            checked.df,
            freq=checked.freq,
            now=checked.df["ds"].max(),
            trigger=reason,
            champion=champion.forecaster,
            champion_version=champion.version.version,
            by=by,
            promote_if_passed=promote_,
        )
        passed = res.gate.passed
        shown = (
            res.outcome if res.outcome == "promoted" or not passed else "validated, not promoted"
        )
        colour = "green" if passed else "red"
        console.print(
            f"challenger v{res.challenger.version.version}: [{colour}]{shown}[/] — {res.gate.reason}"
        )


@app.command("promote")
def promote_cmd(
    workspace: WorkspaceOpt,
    version: Annotated[str, typer.Argument(help="Version number to make champion.")],
    reason: Annotated[
        str, typer.Option(help="Why (recorded in the alias history).")
    ] = "manual promotion",
    by: ByOpt = "cli",
    at: Annotated[str | None, typer.Option(help="Time of the move (default: now).")] = None,
) -> None:
    """Make VERSION the champion, recording who, when and why."""
    from chronoguard.lifecycle import promote

    with _open(workspace) as ws:
        change = promote(
            ws.registry, ws.store, ws.model_name, version, by=by, reason=reason, at=_now(at)
        )
        console.print(f"champion: v{change.previous_version} → [bold]v{change.version}[/]")


@app.command()
def rollback(
    workspace: WorkspaceOpt,
    reason: Annotated[
        str, typer.Option(help="Why (recorded in the alias history).")
    ] = "manual rollback",
    by: ByOpt = "cli",
    at: Annotated[str | None, typer.Option(help="Time of the move (default: now).")] = None,
) -> None:
    """Restore the previous champion in one step."""
    from chronoguard.lifecycle import rollback as do_rollback

    with _open(workspace) as ws:
        change = do_rollback(
            ws.registry, ws.store, ws.model_name, by=by, reason=reason, at=_now(at)
        )
        console.print(
            f"rolled back: champion v{change.previous_version} → [bold]v{change.version}[/]"
        )


@app.command()
def versions(workspace: WorkspaceOpt) -> None:
    """List registered versions with aliases, lifecycle status and lineage."""
    with _open(workspace) as ws:
        found = ws.registry.list_versions(ws.model_name)
        statuses = {v.version: v.status for v in ws.store.list_versions(ws.model_name)}
        table = Table(title=f"versions of {ws.model_name}")
        for col in (
            "version",
            "aliases",
            "status",
            "model",
            "train window",
            "trigger",
            "parent",
            "data sha256",
            "backtest MASE",
        ):
            table.add_column(col)
        for v in found:
            lin = v.lineage
            table.add_row(
                v.version,
                ",".join(v.aliases),
                statuses.get(v.version, ""),
                lin.forecaster,
                f"{lin.train_start[:10]} – {lin.train_end[:10]}",
                lin.trigger,
                lin.parent_version or "",
                lin.data_fingerprint[:12],
                f"{v.metrics.get('backtest_mase', float('nan')):.3f}",
            )
        console.print(table)


def _run_replay(
    checked: ValidatedFrame,
    cfg: ChronoguardConfig,
    workspace: Path,
    source: str,
    events: list[tuple[str, str]],
) -> None:
    from chronoguard.lifecycle import CONFIG_FILE, init_workspace
    from chronoguard.orchestration import replay as run

    if (workspace / CONFIG_FILE).exists() or (workspace.exists() and any(workspace.iterdir())):
        raise WorkspaceError(
            f"workspace {workspace} is not empty; a replay starts from nothing: choose a new directory"
        )
    created = not workspace.exists()
    try:
        with (
            init_workspace(workspace, cfg, overwrite_config=True) as ws,
            Progress(
                TextColumn("[bold]replay[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as bar,
        ):
            task = bar.add_task("", total=None)

            def step(i: int, total: int, now: pd.Timestamp) -> None:
                bar.update(task, completed=i, total=total, description=str(now.date()))

            summary = run.replay(checked, ws, source=source, events=events, progress=step)
    except BaseException:
        if created:  # nothing half-written: a failed replay leaves no workspace behind
            shutil.rmtree(workspace, ignore_errors=True)
        raise
    _print_summary(summary)


def _print_summary(s: dict[str, Any]) -> None:
    table = Table(
        title=f"replay of {s['source']} ({s['period'][0]} – {s['period'][1]}, {s['n_periods']} periods)"
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    rows = [
        ("checks", s["n_checks"]),
        ("alerts", len(s["alerts"])),
        ("retrains", len(s["retrains"])),
        ("promoted", sum(r["outcome"] == "promoted" for r in s["retrains"])),
        ("rejected", sum(r["outcome"] == "rejected" for r in s["retrains"])),
        ("champion", f"v{s['champion']}"),
        ("MAE (all horizons)", f"{s['mae']:.2f}"),
        ("MASE (all horizons)", f"{s['mase']:.3f}"),
        ("MASE (1 step)", f"{s['mase_h1']:.3f}"),
    ]
    for c in s.get("known_changes", []):
        rows.append(
            (
                f"{c['label']} ({c['ds']})",
                f"first alert {c['first_alert']} (+{c['delay_periods']}), {c['alerts_before']} alerts before",
            )
        )
    for k, v in rows:
        table.add_row(k, str(v))
    console.print(table)
    if s["retrains"]:
        rt = Table(title="retrains")
        for col in ("ds", "trigger", "version", "outcome", "challenger", "champion"):
            rt.add_column(col)
        for r in s["retrains"]:
            rt.add_row(
                r["ds"],
                r["trigger"],
                r["version"],
                r["outcome"],
                f"{r['challenger_error']:.3f}",
                f"{r['champion_error']:.3f}",
            )
        console.print(rt)
    console.print(f"report: {s['report']}")


@app.command()
def replay(
    data: DataOpt,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="TOML configuration (see `chronoguard init`).")
    ],
    workspace: WorkspaceOpt,
) -> None:
    """Replay DATA period by period through the whole lifecycle; write summary.json and an HTML report."""
    cfg = load_config(config)
    checked = _load(data, cfg)
    _run_replay(checked, cfg, workspace, str(data), [])


DEMO_CONFIG: dict[str, Any] = {
    "data": {"freq": "MS", "season_length": 12},
    "model": {"name": "AutoETS", "registered_name": "uk-drivers-ksi"},
    "forecast": {"horizon": 12},
    "training": {"initial_window": 96, "retrain_window": 60, "backtest_windows": 3},
    "monitoring": {"window": 6, "alpha": 0.01},
    "retraining": {"k": 2, "n": 3, "cooldown": 3},
    "gate": {"validation_window": 6, "margin": 0.05, "max_mase": 2.0},
}


@app.command()
def demo(workspace: WorkspaceOpt = Path("demo-workspace")) -> None:
    """Replay the bundled seatbelts data (UK road casualties, seat-belt law of Feb 1983)."""
    cfg = parse_config(DEMO_CONFIG, source="built-in demo config")
    info = dataset_info("seatbelts")
    checked = validate_frame(
        load_frame(dataset_path("seatbelts"))[["unique_id", "ds", "y"]],
        freq=cfg.data.freq,
        source="seatbelts",
    )
    _run_replay(checked, cfg, workspace, "seatbelts", list(info.known_changes))


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"chronoguard {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point: ChronoguardError becomes a clear message and exit code 2."""
    try:
        app(standalone_mode=False)
    except ChronoguardError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


__all__ = ["app", "main"]
