"""The ``chronoguard`` command: thin typer commands over the library's functions.

Every command works on a workspace directory (``--workspace``). The CLI is the edge where
the wall clock may be read: it passes ``now`` into the core, which never reads it itself.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chronoguard import __version__
from chronoguard.config import ChronoguardConfig, load_config, parse_config
from chronoguard.errors import ChronoguardError, WorkspaceError


class _OnFirstUse:
    """A module imported when one of its attributes is first read, not when the CLI starts.

    pandas takes half a second to import, more than the rest of ``--help`` together; the
    commands read ``pd.Timestamp`` and the like freely and pay for pandas only when they run.
    Everything heavier (the data layer, MLflow, the forecasting backends) is imported inside
    the commands that use it; tests/cli/test_cli_startup.py checks that importing this module
    leaves them all out. (importlib.util.LazyLoader would put a half-loaded pandas in
    ``sys.modules`` for every other importer to see; this touches nothing outside this module.)
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    import pandas as pd

    from chronoguard.data import ValidatedFrame
else:
    pd = _OnFirstUse("pandas")

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
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the result as JSON (its keys are listed above) instead of text; only the "
        "JSON goes to stdout, notes to stderr.",
    ),
]


def _now(at: str | None) -> pd.Timestamp:
    # The CLI is the edge: the only place that reads the wall clock, and only when no
    # time is given.
    return pd.Timestamp(at) if at else pd.Timestamp(datetime.now(UTC).replace(tzinfo=None))


def _load(path: Path, cfg: ChronoguardConfig, future: Path | None = None) -> ValidatedFrame:
    """DATA (and the --future file) checked against the contract: for a model with
    exogenous columns, rows with an empty y after the history are its future inputs."""
    from chronoguard.data import load_frame
    from chronoguard.data.contract import validate_with_future

    return validate_with_future(
        load_frame(path),
        freq=cfg.data.freq,
        exog=cfg.data.exog or [],
        future=load_frame(future) if future is not None else None,
        source=str(path),
        future_source=f"--future {future}",
    )


def _plain(x: Any) -> Any:
    """``x`` in JSON's own types, for ``--json``: a dataclass becomes an object of its fields
    (those hidden from its repr, such as a token's secret hash, left out), a mapping an
    object, a sequence or set a list (sets sorted), a time its ISO 8601 text, a path its
    text, a NumPy scalar its value; NaN, infinities and NaT become ``null`` (strict JSON)."""
    import dataclasses
    import math
    from collections.abc import Mapping
    from datetime import date

    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, date):  # datetime and pd.Timestamp too; NaT is the one unequal to itself
        return x.isoformat() if x == x else None
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: _plain(getattr(x, f.name)) for f in dataclasses.fields(x) if f.repr}
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, frozenset | set):
        return [_plain(v) for v in sorted(x, key=str)]
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if type(x).__module__ == "numpy" and hasattr(x, "item"):
        return _plain(x.item())
    if str(x) == "NaT":
        return None
    return str(x)


def _print_json(obj: Any) -> None:
    """``obj`` as one JSON document on stdout (see :func:`_plain`), for scripts: no colour,
    no wrapping, nothing else on stdout (notes and progress go to stderr)."""
    import json

    sys.stdout.write(json.dumps(_plain(obj), indent=2, allow_nan=False) + "\n")


def _print_json_line(obj: Any) -> None:
    """``obj`` as one line of JSON on stdout (JSON Lines: one object per line), flushed."""
    import json

    sys.stdout.write(json.dumps(_plain(obj), allow_nan=False) + "\n")
    sys.stdout.flush()


_STAGES = {"fitting": "fitting series", "profiling": "profiling batches of series"}


@contextlib.contextmanager
def _fit_progress(what: str) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress bar on stderr for the fits of ``what``, when stderr is a terminal.

    Yields the callback the core reports to (``progress(stage, done, total)``), or ``None``
    when stderr is not a terminal (a pipe, a log file, a test): no bar is drawn there, and
    stdout (tables, JSON) never carries one. The bar goes when the work is done.
    """
    if not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn(f"[bold]{escape(what)}[/]"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=_STAGES.get(stage, stage), completed=done, total=total)

        yield report


def _wall_clock() -> datetime:
    """The real time of an action, for its audit entry (``recorded_at``): UTC, naive."""
    return datetime.now(UTC).replace(tzinfo=None)


def _open(workspace: Path) -> Any:
    from chronoguard.lifecycle import open_workspace

    return open_workspace(workspace, clock=_wall_clock)


# --- access: who calls, with which role (chronoguard.lifecycle.access) ------------------

TOKEN_ENV = "CHRONOGUARD_TOKEN"


def _caller(ws: Any, role: str) -> Any:
    """The caller of CHRONOGUARD_TOKEN, authenticated against this workspace's tokens and
    refused unless its role is ``role`` or higher. Its name is the actor recorded."""
    from chronoguard.lifecycle.access import authenticate, require

    return require(authenticate(ws.store, os.environ.get(TOKEN_ENV)), role)


def _reader(ws: Any) -> None:
    """Reads need no token (whoever reads the workspace's files reads its data), but a
    token given must be a token of this workspace (one of another is refused)."""
    if os.environ.get(TOKEN_ENV):
        _caller(ws, "viewer")


def _init_caller(workspace: Path) -> None:
    """``init`` of a workspace that has tokens (re-init, --force) needs an admin."""
    from chronoguard.errors import SchemaOutdatedError
    from chronoguard.lifecycle import CONFIG_FILE

    if not (workspace / CONFIG_FILE).exists():
        return
    try:
        ws = _open(workspace)
    except SchemaOutdatedError:  # a schema from before tokens: none to check
        return
    except WorkspaceError:
        # No audit key yet (a workspace from before keys): init creates it and seals the
        # chain; a chain keyed with a key since lost cannot be sealed, so init then fails.
        return
    with ws:
        if ws.store.list_tokens():
            _caller(ws, "admin")


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
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            "-d",
            help="CSV or Parquet (long format) to infer freq, seasons, model and horizon from.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: config file, model registry (MLflow) and state store (migrated).

    The config file is written with every key's description as a comment. With --data FILE
    its frequency, seasons (a day and a week for sub-daily data), model (MSTL for sub-daily
    data, AutoETS otherwise), horizon and first training window are inferred from FILE.

    --json prints {workspace, config_file, config_written, model}: the paths, whether the
    config file was written (false: an existing one was kept) and the registered model name;
    with --data also inferred: {freq, season_lengths, model, horizon}.
    """
    from chronoguard.config_template import render_config
    from chronoguard.lifecycle import CONFIG_FILE, init_workspace

    if data is not None and config is not None:
        raise ChronoguardError(
            "--data infers a config from the file and --config copies yours in: give one of them"
        )
    _init_caller(workspace)
    header = "chronoguard configuration: edit it, then run `chronoguard cycle`. A key left out keeps its default."
    inferred: dict[str, Any] | None = None
    if data is not None:
        cfg, note, inferred = _config_from_data(data)
        header += "\n" + note
    else:
        cfg = load_config(config) if config else ChronoguardConfig()
    exists = (workspace / CONFIG_FILE).exists()
    written = force or not exists
    with init_workspace(workspace, cfg, overwrite_config=written, clock=_wall_clock) as ws:
        model = ws.model_name
    if written:  # the same configuration, each key with its description
        tmp = workspace / (CONFIG_FILE + ".tmp")
        tmp.write_text(render_config(cfg, header=header))
        tmp.replace(workspace / CONFIG_FILE)
    if as_json:
        _print_json(
            {
                "workspace": workspace.resolve(),
                "config_file": (workspace / CONFIG_FILE).resolve(),
                "config_written": written,
                "model": model,
                **({"inferred": inferred} if inferred is not None else {}),
            }
        )
        return
    if inferred is not None:
        console.print(
            f"inferred from {data}: freq {inferred['freq']}, seasons "
            f"{inferred['season_lengths']} → model {inferred['model']}, horizon "
            f"{inferred['horizon']}"
            + ("" if written else f" (not written: {CONFIG_FILE} exists, use --force)")
        )
    console.print(
        f"[green]workspace ready[/] {workspace.resolve()} (edit {CONFIG_FILE} to configure)"
    )


def _config_from_data(path: Path) -> tuple[ChronoguardConfig, str, dict[str, Any]]:
    """The configuration ``init --data`` infers from a file, a note on it, and what it chose."""
    from chronoguard.config_template import config_for, infer_settings
    from chronoguard.data import load_frame, validate_frame

    # Other columns are not checked: the config written uses none of them (data.exog = []).
    checked = validate_frame(load_frame(path), source=str(path))
    s = infer_settings(checked.df, checked.freq)
    note = (
        f"Inferred from {path.name}: {s.n_series} series of {s.shortest} or more periods, "
        f"freq {s.freq}, seasons {list(s.season_lengths)}, model {s.model}."
    )
    if s.extra_columns:
        note += (
            f"\nOther columns in the file: {', '.join(s.extra_columns)}; list them in data.exog "
            "to use them (AutoARIMA and SARIMAX take exogenous inputs)."
        )
    chosen = {
        "freq": s.freq,
        "season_lengths": list(s.season_lengths),
        "model": s.model,
        "horizon": s.horizon,
    }
    cfg = config_for(s)
    need = cfg.training.initial_window
    if s.shortest < need:
        short = (
            f"The shortest series has {s.shortest} periods, fewer than the {need} a first "
            "model needs (training.initial_window: two seasons, the horizon and the "
            "backtest): train on a longer history, or shorten forecast.horizon, "
            "training.backtest_windows or data.season_length."
        )
        note += "\n" + short
        err.print(f"[yellow]warning[/] {escape(short)}")
    return cfg, note, chosen


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
    as_json: JsonOpt = False,
) -> None:
    """Train the configured model on a window of DATA and register a new version.

    The first version is deployed to every series it was trained on; later ones only with
    --promote (or through the gate: `chronoguard retrain`, `chronoguard cycle`).

    --json prints {model, version, train_start, train_end, series, metrics, lineage,
    deployed}: the window trained on, its series, the backtest metrics, the lineage
    recorded in the registry, and whether the version was deployed.
    """
    from chronoguard.lifecycle import train_version, training_window
    from chronoguard.lifecycle.fleet import deploy_series

    with _open(workspace) as ws:
        by = _caller(ws, "operator").name
        checked = _load(data, ws.config)
        end = pd.Timestamp(until) if until else checked.df["ds"].max()
        window = training_window(checked.df, end, ws.config.training.retrain_window)
        if window.empty:
            raise ChronoguardError(
                f"no data at or before --until {until}; choose a later timestamp"
            )
        parent = ws.registry.get_alias(ws.model_name, "champion")
        with _fit_progress("train") as progress:
            trained = train_version(
                window,
                ws.config,
                ws.registry,
                freq=checked.freq,
                now=end,
                trigger=reason,
                parent_version=parent,
                progress=progress,
            )
        v = trained.version.version
        ws.store.set_version_status(ws.model_name, v, "candidate", at=end, by=by, reason=reason)
        first = not len(ws.store.get_deployment(ws.model_name))
        series = sorted(window["unique_id"].astype(str).unique())
        if promote_ or first:
            with ws.lock(holder=f"train by {by}", at=_now(None)):
                deploy_series(
                    ws,
                    dict.fromkeys(series, v),
                    by=by,
                    reason="first version" if first else reason,
                    at=end,
                )
        if as_json:
            _print_json(
                {
                    "model": ws.model_name,
                    "version": v,
                    "train_start": window["ds"].min(),
                    "train_end": end,
                    "series": series,
                    "metrics": trained.metrics,
                    "lineage": trained.version.lineage,
                    "deployed": promote_ or first,
                }
            )
            return
        console.print(
            f"registered [bold]{ws.model_name}[/] version [bold]{v}[/] "
            f"(train {window['ds'].min().date()} – {end.date()}, backtest MASE "
            f"{trained.metrics.get('backtest_mase', float('nan')):.3f})"
            + (" → deployed" if (promote_ or first) else "")
        )


@app.command()
def forecast(
    workspace: WorkspaceOpt,
    data: DataOpt,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            "-v",
            help="Version number or alias (champion, challenger); default: the deployment, "
            "each series by the version that serves it.",
        ),
    ] = None,
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
    future: Annotated[
        Path | None,
        typer.Option(
            "--future",
            "-f",
            help=FUTURE_HELP,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Forecast the periods after each series' last observation in DATA with a version.

    A model with exogenous columns needs their future values (--future FILE, or rows with
    an empty y after the history in DATA). A series the version has no model for is
    forecast by forecast.fallback_model when the config names one, else it is an error.

    Without --version each series is forecast by the version that serves it (`chronoguard
    deployment`), its rows tagged with a version column.

    --json prints {model, version, versions, origin, horizon, recorded, new_series,
    fallback_model, rows, output, forecasts}: version is the one given, or "deployment"
    (versions: those that forecast); forecasts is a list of rows (unique_id, ds, yhat, the
    interval columns, and version by the deployment), or null when --output wrote them to
    a file; new_series are the series forecast by fallback_model.
    """
    from chronoguard.data import load_frame
    from chronoguard.lifecycle.serve import DEPLOYMENT, forecast_version, record_forecasts

    if horizon is not None and horizon < 1:
        raise ChronoguardError(f"--horizon must be 1 or more, got {horizon}")
    with _open(workspace) as ws:
        if record:
            _caller(ws, "operator")
        else:
            _reader(ws)
        served = forecast_version(
            ws,
            load_frame(data),
            version=version,
            horizon=horizon,
            future=load_frame(future) if future is not None else None,
            source=str(data),
            future_source=f"--future {future}",
            horizon_name="--horizon",
        )
        v, origin, result = served.version, served.origin, served.forecasts
        fc = result.frame
        if record:
            if v == DEPLOYMENT:  # each version's rows recorded as that version's
                parts = [(str(pv), part) for pv, part in fc.groupby("version", sort=False)]
                alias = "champion"
            else:
                parts = [(v, fc)]
                alias = "manual" if version is not None and version.isdigit() else str(version)
            fc = pd.concat(
                [
                    record_forecasts(
                        ws.store,
                        part,
                        origin=origin,
                        model_name=ws.model_name,
                        version=pv,
                        alias=alias,
                    )
                    for pv, part in parts
                ],
                ignore_index=True,
            )
        new = result.new_series
        which = "the deployment" if v == DEPLOYMENT else f"version {v}"
        if new:
            fc = served.combined(fc)
            err.print(
                f"{len(new)} series have no model in {which} "
                f"({_series_shown(new)}): forecast by the fallback model "
                f"{result.fallback_model} fitted on their history"
                + (" (not recorded: no version served them)" if record else "")
            )
        if output:
            tmp = output.with_suffix(output.suffix + ".tmp")
            fc.to_csv(tmp, index=False)
            tmp.replace(output)
        if as_json:
            _print_json(
                {
                    "model": ws.model_name,
                    "version": v,
                    "versions": list(served.versions),
                    "origin": origin,
                    "horizon": result.horizon,
                    "recorded": record,
                    "new_series": new,
                    "fallback_model": result.fallback_model,
                    "rows": len(fc),
                    "output": output.resolve() if output else None,
                    "forecasts": None if output else fc.to_dict("records"),
                }
            )
        elif output:
            console.print(f"{_forecast_by(served)}: {len(fc)} rows → {output}")
        else:
            table = Table(title=f"{ws.model_name}: {_forecast_by(served)} from {_when(origin)}")
            for col in fc.columns:
                table.add_column(str(col))
            for row in fc.itertuples(index=False):
                table.add_row(*[f"{x:.2f}" if isinstance(x, float) else str(x) for x in row])
            console.print(table)


SeriesOpt = Annotated[
    list[str] | None,
    typer.Option("--series", "-s", help="Series id (repeat for several; default: all)."),
]
GroupOpt = Annotated[
    str | None,
    typer.Option("--group", "-g", help="A configured group: its series as of the latest cycle."),
]
#: The exit code of `chronoguard monitor` when a check raised an alert.
MONITOR_ALERT_EXIT = 3
NowOpt = Annotated[
    str | None, typer.Option("--now", help="The cycle's time (default: DATA's last timestamp).")
]
FUTURE_HELP = (
    "CSV or Parquet of the future values of the model's exogenous columns: unique_id, ds "
    "and those columns, a row per series and forecast period. They may instead be rows "
    "with an empty y after each series' history in DATA."
)
CycleFutureOpt = Annotated[Path | None, typer.Option("--future", "-f", help=FUTURE_HELP)]


def _cycle_time(checked: ValidatedFrame, now: str | None) -> pd.Timestamp:
    from chronoguard.orchestration.cycle import cycle_time

    return cycle_time(checked.df, checked.freq, now or None)


def _verdict(x: dict[str, Any]) -> str:
    """A check's verdict for `chronoguard monitor`: ALERT (raises an alert), flag (positive
    at the series' own level: evidence the retraining rule counts, no alert), note (a
    positive advisory iid test), ok."""
    if x["alert"]:
        return "ALERT"
    if x["flagged"]:
        return "note " if x["advisory"] else "flag "
    return "ok   "


def _print_checks(rows: list[dict[str, Any]], *, model: str, at: Any, show_all: bool) -> None:
    """The counts per kind, then one line per check that flagged (--all: every check),
    verdict first; advisory notes are counted only, unless --all."""
    counts: dict[str, list[int]] = {}
    for x in rows:
        c = counts.setdefault(x["kind"], [0, 0, 0, 0])
        c[0] += 1
        c[1] += int(x["flagged"] and not x["advisory"])
        c[2] += int(x["alert"])
        c[3] += int(x["flagged"] and x["advisory"])
    summary = Table(title=f"monitoring of {model} at {_when(at)}: {len(rows)} checks")
    for col in ("kind", "checks", "flagged", "alerting", "advisory notes"):
        summary.add_column(col)
    for kind, (n, flagged, alerts, notes) in sorted(counts.items()):
        summary.add_row(
            kind, str(n), str(flagged), f"[red]{alerts}[/]" if alerts else "0", str(notes)
        )
    console.print(summary)
    shown = rows if show_all else [x for x in rows if x["flagged"] and not x["advisory"]]
    if shown:
        title = "every check" if show_all else "checks that flagged"
        console.print(f"[bold]{title} ({len(shown)})[/]")
    for x in shown:
        on = f" on {x['feature']}" if x["feature"] and x["feature"] != x["unique_id"] else ""
        p = "" if x["p_value"] is None else f", p {x['p_value']:.3g}"
        note = " (advisory iid test)" if x["advisory"] else ""
        line = (
            f"{x['unique_id']}  v{x['version']}  {x['kind']}  {x['method']}{on}: statistic "
            f"{x['statistic']:.4g}{p}, threshold {x['threshold']:.3g}{note}"
        )
        verdict = _verdict(x)
        shown_verdict = "[red]ALERT[/]" if verdict == "ALERT" else verdict
        console.print(f"{shown_verdict}  {escape(line)}", highlight=False, soft_wrap=True)
    if any(x["flagged"] and not x["alert"] and not x["advisory"] for x in shown):
        console.print(
            "flag: positive at the series' own level, which the retraining rule counts (k "
            "of n); an alert also needs the alert level after the fleet-wide false-discovery "
            "control"
        )
    notes = sum(1 for x in rows if x["flagged"] and x["advisory"])
    if notes and not show_all:
        console.print(
            f"{notes} advisory notes (iid tests, which never alert or trigger) are counted "
            "above; --all lists every check"
        )


def _forecast_by(served: Any) -> str:
    """Who forecast: ``version 3``, or ``the deployment (v1, v2)``."""
    from chronoguard.lifecycle.serve import DEPLOYMENT

    if served.version != DEPLOYMENT:
        return f"version {served.version}"
    return "the deployment (" + ", ".join(f"v{x}" for x in served.versions) + ")"


def _note_short_inputs(ws: Any, outcome: Any) -> None:
    from chronoguard.orchestration.cycle import short_inputs_note

    note = short_inputs_note(
        outcome,
        horizon=ws.config.forecast.horizon,
        exog=ws.config.data.exog or [],
        how="with --future FILE or as rows with an empty y after the history in DATA",
    )
    if note:
        err.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)


def _print_cycle(outcome: Any) -> None:
    head = f"cycle {outcome.model_name} at {outcome.now}"
    if outcome.already_done:
        console.print(f"{head}: already done, nothing changed")
        return
    parts = [
        f"{outcome.n_series} series",
        "checked" if outcome.checked else "no check due",
        f"{outcome.alerts_raised} alerts raised",
    ]
    if outcome.retrained:
        parts.append(
            f"retrained {len(outcome.retrained)} as v{outcome.challenger_version}: "
            f"{len(outcome.promoted)} promoted, {len(outcome.rejected)} rejected"
        )
    if outcome.rolled_back:
        shown = ", ".join(outcome.rolled_back[:5])
        more = f" and {len(outcome.rolled_back) - 5} more" if len(outcome.rolled_back) > 5 else ""
        parts.append(f"rolled back by their watch: {shown}{more}")
    parts.append(f"{outcome.forecasts_served} forecasts served")
    # One line per cycle, never wrapped: `schedule` appends them to a log.
    console.print(f"{head}: " + "; ".join(parts), soft_wrap=True)


def _cycle_json(outcome: Any, delivery: Any) -> dict[str, Any]:
    """A cycle's outcome for --json: its fields, and the alert delivery that followed it
    (sent, failed, held, errors; null when no channel is configured)."""
    body: dict[str, Any] = _plain(outcome)
    body["delivery"] = _plain(delivery)
    return body


@app.command()
def cycle(
    workspace: WorkspaceOpt,
    data: DataOpt,
    now: NowOpt = None,
    future: CycleFutureOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run one production cycle at --now: record actuals, check, decide, retrain, gate, deploy, serve.

    Running it again for the same --now changes nothing; a cycle that stopped half-way
    resumes where it stopped. The first cycle of a workspace trains and deploys the first
    version. A model with exogenous columns forecasts from --now with their values after
    it: the rows of DATA after --now, then --future FILE (or rows with an empty y after
    the history); where they end, fewer periods are served, and a note says so.

    --json prints {model_name, now, checked, n_series, alerts_raised, retrained, promoted,
    rejected, rolled_back, challenger_version, forecasts_served, already_done, delivery}:
    the lists are series ids; delivery is the alert delivery after the cycle (sent,
    failed, held, errors), null when no channel is configured.
    """
    from chronoguard.orchestration import run_cycle

    with _open(workspace) as ws:
        _caller(ws, "operator")
        checked = _load(data, ws.config, future)
        t = _cycle_time(checked, now)
        with _fit_progress("cycle") as progress:
            outcome = run_cycle(
                ws,
                checked.df,
                freq=checked.freq,
                now=t,
                by="chronoguard cycle",
                recorded_at=_now(None),
                progress=progress,
                future=checked.future,
            )
        _note_short_inputs(ws, outcome)
        if as_json:
            _print_json(_cycle_json(outcome, _deliver_after_cycle(ws, out=None)))
        else:
            _print_cycle(outcome)
            _deliver_after_cycle(ws)


@app.command()
def schedule(
    workspace: WorkspaceOpt,
    data: DataOpt,
    poll: Annotated[
        float, typer.Option(help="Seconds between looks at DATA while a period is late.")
    ] = 60.0,
    ticks: Annotated[
        int | None, typer.Option(help="Stop after this many ticks (default: run until stopped).")
    ] = None,
    future: CycleFutureOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print each cycle as one line of JSON (JSON Lines, the keys listed above) "
            "as it ends; only those lines go to stdout, notes to stderr.",
        ),
    ] = False,
) -> None:
    """Run the production cycle on the real clock, at the data's frequency (Ctrl-C stops).

    At each tick DATA (and --future FILE) is read again; every timestamp that has arrived
    and had no cycle yet gets one, oldest first.

    --json prints one JSON object per cycle, one per line (JSON Lines), as each cycle
    ends, with the keys of `chronoguard cycle --json`: {model_name, now, checked,
    n_series, alerts_raised, retrained, promoted, rejected, rolled_back,
    challenger_version, forecasts_served, already_done, delivery}.
    """
    import time

    from chronoguard.orchestration import LoadedData, run_schedule

    with _open(workspace) as ws:
        _caller(ws, "operator")

        def load() -> LoadedData:
            checked = _load(data, ws.config, future)
            return LoadedData(checked.df, checked.freq, checked.future)

        def after_cycle(outcome: Any) -> None:
            _note_short_inputs(ws, outcome)
            if as_json:
                _print_json_line(_cycle_json(outcome, _deliver_after_cycle(ws, out=None)))
            else:
                _print_cycle(outcome)
                _deliver_after_cycle(ws)

        def sleep(seconds: float) -> None:
            # Retries and notifications held by quiet hours go out between cycles too.
            _deliver_after_cycle(ws, quiet=True, out=err if as_json else console)
            time.sleep(seconds)

        run_schedule(
            ws,
            load,
            clock=lambda: _now(None),
            sleep=sleep,
            poll_seconds=poll,
            max_ticks=ticks,
            on_cycle=after_cycle,
        )


@app.command()
def monitor(
    workspace: WorkspaceOpt,
    data: DataOpt,
    now: NowOpt = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every check, not only the ones that flagged.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the check step of the cycle at --now and show its results: the counts per kind,
    then the checks that flagged (--all: every check).

    The same check the cycle runs (and records, once: `chronoguard cycle` at the same
    --now continues from it without checking again). A check flags at the series' own
    level (evidence the retraining rule counts) and alerts when it also passes the alert
    level after the fleet-wide false-discovery control. Exit code 3 when a check
    alerts (advisory iid tests never do), 0 otherwise, 2 on an error: scripts and
    schedulers can act on it.

    --json prints {model, at, checks, positive, alerting, results}: the number of checks,
    of those that flagged (advisory ones apart) and of those that alert, and every check
    {unique_id, version, kind, method, feature, statistic, p_value, threshold, flagged,
    advisory, alert}.
    """
    from chronoguard.orchestration.cycle import check_at

    with _open(workspace) as ws:
        _caller(ws, "operator")
        checked = _load(data, ws.config)
        t = _cycle_time(checked, now)
        results: Any = check_at(  # its rows' cells are read as the scalars they are
            ws,
            checked.df,
            freq=checked.freq,
            now=t,
            by="chronoguard monitor",
            recorded_at=_now(None),
        )
        model = ws.model_name
    rows: list[dict[str, Any]] = []
    for r in results.itertuples(index=False):
        rows.append(
            {
                "unique_id": str(r.unique_id),
                "version": str(r.version),
                "kind": str(r.kind),
                "method": str(r.method),
                "feature": str(r.feature),
                "statistic": float(r.statistic),
                "p_value": None if pd.isna(r.p_value) else float(r.p_value),
                "threshold": float(r.threshold),
                "flagged": bool(r.decision),
                "advisory": bool(r.advisory),
                "alert": bool(r.alerting),
            }
        )
    alerting = [x for x in rows if x["alert"]]
    if as_json:
        _print_json(
            {
                "model": model,
                "at": t,
                "checks": len(rows),
                "positive": sum(1 for x in rows if x["flagged"] and not x["advisory"]),
                "alerting": len(alerting),
                "results": rows,
            }
        )
    elif not rows:
        console.print(f"no check at {t}: the first cycle trains, checks start after it")
    else:
        _print_checks(rows, model=model, at=t, show_all=show_all)
    if alerting:
        raise typer.Exit(MONITOR_ALERT_EXIT)


@app.command()
def retrain(
    workspace: WorkspaceOpt,
    data: DataOpt,
    series: SeriesOpt = None,
    reason: Annotated[str, typer.Option(help="Trigger recorded in the lineage.")] = "manual",
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrain series now (all by default) as one version, gate each, deploy the winners.

    The same retrain step the cycle runs for the series its decision engine chose.

    --json prints {model, version, trigger, now, window_start, train_start, train_end,
    promoted, rejected, awaiting_approval, gates}: the three lists are series ids (passed
    and deployed; failed the gate; passed, held for approval), gates maps every series to
    its verdict {unique_id, passed, metric, challenger_error, champion_error,
    champion_version, reason}.
    """
    from chronoguard.orchestration.steps import retrain_by_hand

    with _open(workspace) as ws:
        by = _caller(ws, "operator").name
        checked = _load(data, ws.config)
        t = _cycle_time(checked, now)
        with _fit_progress("retrain") as progress:
            res = retrain_by_hand(
                ws,
                checked.df,
                series=series,
                reason=reason,
                now=t,
                freq=checked.freq,
                by=by,
                at=_now(None),
                progress=progress,
            )
        if as_json:
            _print_json(
                {
                    "model": ws.model_name,
                    "version": res.version,
                    "trigger": res.trigger,
                    "now": t,
                    "window_start": res.window_start,
                    "train_start": res.train_start,
                    "train_end": res.train_end,
                    "promoted": res.promoted,
                    "rejected": res.rejected,
                    "awaiting_approval": res.awaiting_approval,
                    "gates": dict(sorted(res.gates.items())),
                }
            )
            return
        colour = "green" if res.promoted else "red"
        console.print(
            f"challenger v{res.version}: [{colour}]{len(res.promoted)} promoted[/], "
            f"{len(res.rejected)} rejected"
        )
        for u, g in sorted(res.gates.items())[:20]:
            console.print(f"  {u}: {'promoted' if g.passed else 'rejected'} — {g.reason}")


@app.command("promote")
def promote_cmd(
    workspace: WorkspaceOpt,
    version: Annotated[str, typer.Argument(help="Version number to deploy.")],
    series: SeriesOpt = None,
    group: GroupOpt = None,
    reason: Annotated[
        str, typer.Option(help="Why (recorded in the deployment history).")
    ] = "manual promotion",
    as_json: JsonOpt = False,
) -> None:
    """Deploy VERSION to the series it was trained on (or --series, or a --group's).

    Series whose tier waits for approval get an approval request instead (`chronoguard
    approve` deploys them). Needs an operator token (CHRONOGUARD_TOKEN): its name is who,
    the machine's clock when.

    --json prints {model, version, moves, requests, unchanged}: the series moved now, each
    {id, model_name, unique_id, version, previous_version, at, by, reason, batch}; the approval requests opened (as `chronoguard approvals --json` lists them);
    the series VERSION already served.
    """
    from chronoguard.lifecycle.operations import Selection, promote

    with _open(workspace) as ws:
        caller = _caller(ws, "operator")
        before = ws.store.get_deployment(ws.model_name)
        out = promote(
            ws,
            version,
            caller=caller,
            selection=Selection.of(series, group),
            reason=reason,
            at=_now(None),
        )
        model = ws.model_name
    v = out.version
    if as_json:
        _print_json(
            {
                "model": model,
                "version": v,
                "moves": out.moves,
                "requests": out.requests,
                "unchanged": out.unchanged,
            }
        )
        return
    if out.moves:
        was = sorted({before.versions.get(m.unique_id, "-") for m in out.moves})
        console.print(
            f"deployed [bold]v{v}[/] to {len(out.moves)} series (from v{', v'.join(was)})"
        )
    for r in out.requests:
        console.print(
            f"approval request {r.id}: {len(r.series)} series of tier {r.tier} wait for "
            f"{r.required_approvals} approval(s) ({r.policy}) before v{v} serves them; "
            f"`chronoguard approve {r.id}` by an approver other than {r.author}"
        )
    if not out.moves and not out.requests:
        console.print(
            f"v{v} already serves {'these' if series or group else 'its'} series: no change"
        )


@app.command()
def rollback(
    workspace: WorkspaceOpt,
    series: SeriesOpt = None,
    group: GroupOpt = None,
    reason: Annotated[
        str, typer.Option(help="Why (recorded in the deployment history).")
    ] = "manual rollback",
    as_json: JsonOpt = False,
) -> None:
    """Move series (all by default, or --series, or a --group's) back to the version that
    served them before, in one step.

    Needs an operator token (CHRONOGUARD_TOKEN): its name is who, the machine's clock when.

    Series named with --series must each have an earlier version; of a group or the
    fleet, those that never had another version stay, and are named.

    --json prints {model, moves, stayed}: each move {id, model_name, unique_id, version,
    previous_version, at, by, reason, batch}, previous_version being the version left;
    stayed the selected series that had no earlier version.
    """
    from collections import Counter

    from chronoguard.lifecycle.operations import Selection, resolve
    from chronoguard.lifecycle.operations import rollback as roll_back

    with _open(workspace) as ws:
        caller = _caller(ws, "operator")
        selection = Selection.of(series, group)
        chosen = resolve(ws, selection)
        moves = roll_back(ws, caller=caller, selection=selection, reason=reason, at=_now(None))
        model = ws.model_name
        selected = chosen if chosen is not None else sorted(ws.store.get_deployment(model).versions)
    moved = {m.unique_id for m in moves}
    stayed = [u for u in selected if u not in moved]
    if as_json:
        _print_json({"model": model, "moves": moves, "stayed": stayed})
        return
    pairs = Counter((m.previous_version, m.version) for m in moves)
    for (a, b), n in sorted(pairs.items()):
        console.print(f"rolled back {n} series: v{a} → [bold]v{b}[/]")
    if stayed:
        console.print(
            f"{len(stayed)} series stay on the only version that served them: "
            f"{escape(_series_shown(stayed))}",
            soft_wrap=True,
        )


@app.command()
def deployment(
    workspace: WorkspaceOpt,
    series: SeriesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which version serves which series, the promotions under watch, and (with --series)
    each series' moves and watch verdicts.

    --json prints {model, versions, since, watches, verdicts, history}: versions and since
    map each series to the version serving it and the time it started; watches are the
    open watches and trials (of --series), each a watch {model_name, unique_id, opened_at,
    version, previous_version, periods, kind, status, closed_at, challenger_error,
    previous_error, n_pairs, reason, served_version}; with --series, verdicts are its
    closed watches and history its moves (as `chronoguard promote --json` lists them),
    both null without --series.
    """
    with _open(workspace) as ws:
        _reader(ws)
        dep = ws.store.get_deployment(ws.model_name)
        watches = [  # open and still on the version they expect (a manual move ends them)
            w
            for w in ws.store.list_watches(ws.model_name, status="open", unique_id=series or None)
            if dep.version_of(w.unique_id) == w.served_version
        ]
        if as_json:
            chosen = list(series) if series else None
            closed = (
                [
                    w
                    for w in ws.store.list_watches(ws.model_name, unique_id=chosen)
                    if w.status != "open"
                ]
                if chosen
                else None
            )
            _print_json(
                {
                    "model": ws.model_name,
                    "versions": dep.versions,
                    "since": dep.since,
                    "watches": [{**_plain(w), "served_version": w.served_version} for w in watches],
                    "verdicts": closed,
                    "history": ws.store.deployment_history(ws.model_name, chosen)
                    if chosen
                    else None,
                }
            )
            return
        table = Table(title=f"deployment of {ws.model_name} ({len(dep)} series)")
        for col in ("version", "series", "examples"):
            table.add_column(col)
        for v in dep.versions_in_use():
            ids = dep.series_of(v)
            table.add_row(v, str(len(ids)), ", ".join(ids[:5]) + (" …" if len(ids) > 5 else ""))
        console.print(table)
        if watches:
            watch = Table(title=f"watches and trials ({len(watches)} open)")
            for col in ("series", "kind", "since", "challenger", "champion", "serves", "periods"):
                watch.add_column(col)
            for w in watches[:20]:
                watch.add_row(
                    w.unique_id,
                    w.kind,
                    _when(w.opened_at),
                    w.version,
                    w.previous_version,
                    w.served_version,
                    str(w.periods),
                )
            console.print(watch)
            if len(watches) > 20:
                console.print(f"… and {len(watches) - 20} more; --series S shows one series")
        if series:
            closed = [
                w
                for w in ws.store.list_watches(ws.model_name, unique_id=list(series))
                if w.status != "open"
            ]
            if closed:
                verdicts = Table(title="watch verdicts")
                for col in ("series", "since", "closed", "version", "verdict", "reason"):
                    verdicts.add_column(col)
                for w in closed:
                    verdicts.add_row(
                        w.unique_id,
                        _when(w.opened_at),
                        _when(w.closed_at),
                        w.version,
                        w.status,
                        w.reason or "",
                    )
                console.print(verdicts)
            hist = Table(title="history")
            for col in ("series", "at", "from", "to", "by", "reason"):
                hist.add_column(col)
            for m in ws.store.deployment_history(ws.model_name, list(series)):
                hist.add_row(
                    m.unique_id, _when(m.at), m.previous_version or "", m.version, m.by, m.reason
                )
            console.print(hist)


@app.command()
def versions(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List registered versions with aliases, lifecycle status and lineage.

    --json prints {model, versions}: each version {model_name, version, run_id, model_uri,
    aliases, lineage, metrics, created_ms, artifact_sha256, status}, lineage being
    {model_name, forecaster, train_start, train_end, n_series, n_rows, data_fingerprint,
    chronoguard_version, parent_version, trigger, trained_at} and status the lifecycle
    status (null if none is recorded).
    """
    with _open(workspace) as ws:
        _reader(ws)
        found = ws.registry.list_versions(ws.model_name)
        statuses = {v.version: v.status for v in ws.store.list_versions(ws.model_name)}
        if as_json:
            _print_json(
                {
                    "model": ws.model_name,
                    "versions": [{**_plain(v), "status": statuses.get(v.version)} for v in found],
                }
            )
            return
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


# --- approvals: promotions that wait for people (chronoguard.lifecycle.approvals) -------

RequestArg = Annotated[
    int,
    typer.Argument(
        metavar="ID", help="The approval request's id (`chronoguard approvals` lists them)."
    ),
]


def _request_json(r: Any) -> dict[str, Any]:
    """An approval request for --json: its fields, and who approved it."""
    return {**_plain(r), "approvers": list(r.approvers)}


def _series_shown(ids: Any, n: int = 5) -> str:
    ids = list(ids)
    return ", ".join(ids[:n]) + (f" … ({len(ids)} in all)" if len(ids) > n else "")


@app.command("approvals")
def approvals_cmd(
    workspace: WorkspaceOpt,
    all_: Annotated[
        bool, typer.Option("--all", help="Every request, closed ones too, with how they closed.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the promotions waiting for approval (--all: every request and how it closed).

    Requests past their expiry are closed first (expired: they never deploy).

    --json prints {model, requests}: each request {id, model_name, version, series, tier,
    policy, required_approvals, author, requested_at, as_of, expires_at, status, reason,
    closed_at, closed_reason, row_version, votes, approvers}, votes being {id, request_id,
    by, at, vote, reason}.
    """
    from chronoguard.lifecycle.approvals import expire_approvals, pending_approvals

    with _open(workspace) as ws:
        _reader(ws)
        expire_approvals(ws, _now(None))
        found = pending_approvals(ws, include_closed=all_)
        if as_json:
            _print_json({"model": ws.model_name, "requests": [_request_json(r) for r in found]})
            return
        if not found:
            console.print(
                f"no approval request {'' if all_ else 'is pending '}for {ws.model_name}"
                + ("" if all_ else " (--all lists closed ones)")
            )
            return
        table = Table(title=f"approval requests of {ws.model_name}")
        for col in (
            "id",
            "version",
            "series",
            "tier",
            "policy",
            "approvals",
            "author",
            "requested",
            "as of",
            "expires",
            "status",
        ):
            table.add_column(col)
        for r in found:
            votes = ", ".join(f"{v.by} ({v.vote})" for v in r.votes) or "-"
            table.add_row(
                str(r.id),
                r.version,
                _series_shown(r.series),
                r.tier,
                r.policy,
                f"{len(r.approvers)} of {r.required_approvals}: {votes}",
                r.author,
                str(r.requested_at)[:19],
                str(r.as_of)[:19],
                str(r.expires_at)[:19],
                r.status if r.closed_reason is None else f"{r.status}: {r.closed_reason}",
            )
        console.print(table)


def _vote(workspace: Path, request: int, *, choice: str, reason: str, as_json: bool) -> None:
    from chronoguard.lifecycle.operations import cast_vote

    with _open(workspace) as ws:
        caller = _caller(ws, "approver")  # the voter: never the author of the change
        by = caller.name
        out = cast_vote(ws, request, caller=caller, choice=choice, reason=reason, at=_now(None))
    if as_json:
        _print_json(
            {
                "vote": out.vote,
                "request": _request_json(out.request),
                "moves": out.moves,
                "stayed": out.stayed,
                "watches_opened": out.watches_opened,
                "deployed": out.deployed,
            }
        )
        return
    r = out.request
    head = f"approval request {r.id} (v{r.version}, {len(r.series)} series)"
    if r.status == "pending":
        console.print(
            f"{head}: {choice} by {by} recorded, {len(r.approvers)} of "
            f"{r.required_approvals} approvals; it waits for {r.missing_approvals} more, "
            f"from someone other than {', '.join([r.author, *r.approvers])}"
        )
    elif r.status == "approved":
        watched = f"; {out.watches_opened} watched" if out.watches_opened else ""
        console.print(
            f"{head} [green]approved[/] ({r.closed_reason}): v{r.version} now serves "
            f"{len(out.deployed)} series ({_series_shown(out.deployed)}){watched}"
        )
        if out.stayed:
            console.print(f"  had moved on and stay: {_series_shown(out.stayed)}")
    else:
        console.print(f"{head} [red]{r.status}[/]: {r.closed_reason}; nothing deployed")


@app.command()
def approve(
    workspace: WorkspaceOpt,
    request: RequestArg,
    reason: Annotated[str, typer.Option(help="Why (recorded with the vote).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending promotion; the vote that completes its approvals deploys it.

    Policy `one` needs one approver, `four_eyes` two distinct ones; the author of the
    change never counts, and nobody votes twice. Needs an approver token (CHRONOGUARD_TOKEN);
    the token's name is the voter.

    --json prints {vote, request, moves, stayed, watches_opened, deployed}: the vote {id,
    request_id, by, at, vote, reason}; the request after it (as `chronoguard approvals
    --json` lists them); when the vote closed it approved, the moves made (as `chronoguard
    promote --json` lists them), the series that had moved on and stayed, the number of
    watches opened and the series deployed.
    """
    _vote(workspace, request, choice="approve", reason=reason, as_json=as_json)


@app.command()
def reject(
    workspace: WorkspaceOpt,
    request: RequestArg,
    reason: Annotated[str, typer.Option(help="Why not (required; recorded with the vote).")],
    as_json: JsonOpt = False,
) -> None:
    """Reject a pending promotion: it closes at once and its series stay where they are.

    Needs an approver token (CHRONOGUARD_TOKEN); the token's name is the voter.

    --json prints {vote, request, moves, stayed, watches_opened, deployed}: the vote {id,
    request_id, by, at, vote, reason}; the request after it (as `chronoguard approvals
    --json` lists them); when the vote closed it approved, the moves made (as `chronoguard
    promote --json` lists them), the series that had moved on and stayed, the number of
    watches opened and the series deployed.
    """
    _vote(workspace, request, choice="reject", reason=reason, as_json=as_json)


# --- end of approvals ------------------------------------------------------------------


def _run_replay(
    checked: ValidatedFrame,
    cfg: ChronoguardConfig,
    workspace: Path,
    source: str,
    events: list[tuple[str, str]],
    *,
    peers: bool = False,
    as_json: bool = False,
) -> None:
    from chronoguard.lifecycle import CONFIG_FILE, init_workspace
    from chronoguard.orchestration.replay import replay as run_replay

    if (workspace / CONFIG_FILE).exists() or (workspace.exists() and any(workspace.iterdir())):
        raise WorkspaceError(
            f"workspace {workspace} is not empty; a replay starts from nothing: choose a new directory"
        )
    created = not workspace.exists()
    try:
        with (
            init_workspace(workspace, cfg, overwrite_config=True, clock=_wall_clock) as ws,
            Progress(
                TextColumn("[bold]replay[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=err if as_json else console,  # stdout holds only the JSON
                transient=False,
            ) as bar,
        ):
            task = bar.add_task("", total=None)

            def step(i: int, total: int, now: pd.Timestamp) -> None:
                said = str(now.date())
                if peers and i == total:  # the peers are fitted after the last cycle
                    said += ": fitting the peers (never, always, fixed, trigger) …"
                bar.update(task, completed=i, total=total, description=said)

            summary = run_replay(
                checked, ws, source=source, events=events, progress=step, peers=peers
            )
    except BaseException:
        if created:  # nothing half-written: a failed replay leaves no workspace behind
            shutil.rmtree(workspace, ignore_errors=True)
        raise
    if as_json:
        _print_json(summary)
    else:
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
    if "fleet" in s:
        _print_fleet(s["fleet"])
    console.print(f"report: {s['report']}")


def _print_fleet(f: dict[str, Any]) -> None:
    cycles = f["budget_per_cycle"]
    budget = f["cpu_seconds_per_cycle"]
    bt = Table(
        title=f"retraining budget per cycle, CPU s ({budget or 'unlimited'}; over budget in "
        f"{f['cycles_over_budget']} of {len(cycles)} cycles)"
    )
    for col in ("cycle", "candidates", "retrained", "over budget", "charged", "measured"):
        bt.add_column(col, justify="right")
    for c in cycles:
        if c["candidates"]:
            measured = c["cpu_measured"]
            bt.add_row(
                c["ds"],
                str(c["candidates"]),
                str(c["retrained"]),
                str(c["over_budget"]),
                f"{c['cpu_charged']:.2f}",
                "" if measured is None else f"{measured:.2f}",
            )
    console.print(bt)
    pt = Table(
        title=f"against the peers ({f['n_series']} series, {f['n_origins']} origins, "
        f"h = {f['horizon']})"
    )
    for col in ("policy", "MASE", "vs always", "refits", "fit CPU s"):
        pt.add_column(col, justify="right")
    for key, p in f["policies"].items():
        cpu = p["cpu_seconds"]
        pt.add_row(
            key,
            f"{p['mase']:.4f}",
            f"{100 * p['mase_rel_always']:+.2f} %",
            str(p["refits"]),
            "" if cpu is None else f"{cpu:.1f}",
        )
    console.print(pt)


@app.command()
def replay(
    data: DataOpt,
    config: Annotated[
        Path, typer.Option("--config", "-c", help="TOML configuration (see `chronoguard init`).")
    ],
    workspace: WorkspaceOpt,
    as_json: JsonOpt = False,
) -> None:
    """Replay DATA period by period through the whole lifecycle; write summary.json and an HTML report.

    --json prints the summary it writes to summary.json: {chronoguard_version, source,
    model, registered_model, period, n_periods, n_checks, alerts, retrains,
    champion_history, watches, champion, deployment, mae, rmse, smape, mase, mae_h1,
    mase_h1, errors_by_horizon, known_changes, report} (coverage_<level> with intervals,
    fleet with the peers); the progress bar goes to stderr.
    """
    cfg = load_config(config)
    checked = _load(data, cfg)
    _run_replay(checked, cfg, workspace, str(data), [], as_json=as_json)


DEMO_CONFIG: dict[str, Any] = {
    "data": {"freq": "MS", "season_length": 12},
    "model": {"name": "AutoETS", "registered_name": "uk-drivers-ksi"},
    "forecast": {"horizon": 12},
    "training": {"initial_window": 96, "retrain_window": 60, "backtest_windows": 3},
    "monitoring": {"window": 6},
    "retraining": {"k": 2, "n": 3, "cooldown": 3},
    "gate": {"validation_window": 6, "margin": 0.05, "max_mase": 2.0},
}


#: The fleet demo's series: the 48 of Queensland (12 regions × 4 purposes), the largest
#: state subset whose replay and peers finish within the demo's 10 minutes on 2 cores.
FLEET_DEMO_SERIES = "*/Queensland/*"
FLEET_DEMO_QUARTERS = 20  # replayed: 2013-Q1 – 2017-Q4, the bench's tourism origins
FLEET_DEMO_CONFIG: dict[str, Any] = {
    "data": {"freq": "QS", "season_length": 4},
    "model": {"name": "AutoETS", "registered_name": "tourism-fleet"},
    "forecast": {"horizon": 8},
    "training": {"backtest_windows": 3},  # initial_window: all but the replayed quarters
    "gate": {"validation_window": 6},
    # By purpose, the last part of unique_id (Region/State/Purpose). Money per thousand trips
    # of absolute error per quarter; no group is tier critical (see `_fleet_demo`).
    "groups": [
        {"name": "business", "match": "*/Business", "tier": "high", "cost_per_unit_error": 4.0},
        {"name": "holiday", "match": "*/Holiday", "tier": "standard", "cost_per_unit_error": 2.0},
        {
            "name": "visiting",
            "match": "*/Visiting",
            "tier": "standard",
            "cost_per_unit_error": 1.0,
        },
        {"name": "other", "match": "*/Other", "tier": "low", "cost_per_unit_error": 0.5},
    ],
    "budget": {"cpu_seconds_per_cycle": 0.3},
    # Two batches of Queensland's 48: the replay's references and the peers' fits use both cores.
    "compute": {"batch_size": 24},
}


def _fleet_demo(workspace: Path, series: str, quarters: int, *, as_json: bool) -> None:
    """Replay the bundled tourism panel's ``series`` (a glob on unique_id) over its last
    ``quarters`` quarters, under FLEET_DEMO_CONFIG, with the peers.

    No group is tier ``critical``: a critical series' challenger that passes the gate waits
    for two approvers, and nobody approves in a replay, so it would never serve and the
    comparison with the peers would measure the missing approval, not the engine.
    """
    import fnmatch

    from chronoguard.data import dataset_path, load_frame, validate_frame

    least = FLEET_DEMO_CONFIG["gate"]["validation_window"] + 2
    if quarters < least:
        raise ChronoguardError(
            f"--fleet-quarters {quarters}: replay at least {least} quarters (the gate's "
            "validation window of 6 and two more)"
        )
    frame = load_frame(dataset_path("tourism"))
    ids = sorted(u for u in frame["unique_id"].unique() if fnmatch.fnmatchcase(str(u), series))
    if not ids:
        raise ChronoguardError(
            f"--fleet-series {series!r} matches none of tourism's 304 series (Region/State/"
            "Purpose, e.g. 'Gold_Coast/Queensland/Holiday'); try '*/Queensland/*' or '*'"
        )
    frame = frame[frame["unique_id"].isin(ids)]
    raw = {**FLEET_DEMO_CONFIG, "training": dict(FLEET_DEMO_CONFIG["training"])}
    raw["training"]["initial_window"] = int(frame["ds"].nunique()) - quarters
    cfg = parse_config(raw, source="built-in fleet demo config")
    checked = validate_frame(frame, freq=cfg.data.freq, source="tourism")
    _run_replay(
        checked,
        cfg,
        workspace,
        f"tourism ({series}, {len(ids)} series)",
        [],
        peers=True,
        as_json=as_json,
    )


@app.command()
def demo(
    workspace: WorkspaceOpt = Path("demo-workspace"),
    fleet: Annotated[
        bool,
        typer.Option(
            "--fleet",
            help="Replay a fleet instead: the bundled tourism panel (Queensland's 48 "
            "quarterly series, the last 20 quarters) with groups, tiers, costs and a CPU "
            "budget per cycle, against never, always and fixed retraining.",
        ),
    ] = False,
    fleet_series: Annotated[
        str | None,
        typer.Option(help="With --fleet: a glob on unique_id choosing the series ('*': all 304)."),
    ] = None,
    fleet_quarters: Annotated[
        int | None, typer.Option(help="With --fleet: the quarters replayed (default 20).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay the bundled seatbelts data (UK road casualties, seat-belt law of Feb 1983).

    With --fleet, replay a fleet of Australian tourism series (`chronoguard demo --fleet`).

    --json prints the replay's summary, as `chronoguard replay --json` does.
    """
    if not fleet and (fleet_series is not None or fleet_quarters is not None):
        raise ChronoguardError("--fleet-series and --fleet-quarters go with --fleet")
    if fleet:
        _fleet_demo(
            workspace,
            FLEET_DEMO_SERIES if fleet_series is None else fleet_series,
            FLEET_DEMO_QUARTERS if fleet_quarters is None else fleet_quarters,
            as_json=as_json,
        )
        return
    from chronoguard.data import dataset_info, dataset_path, load_frame, validate_frame

    cfg = parse_config(DEMO_CONFIG, source="built-in demo config")
    info = dataset_info("seatbelts")
    checked = validate_frame(
        load_frame(dataset_path("seatbelts"))[["unique_id", "ds", "y"]],
        freq=cfg.data.freq,
        source="seatbelts",
    )
    _run_replay(checked, cfg, workspace, "seatbelts", list(info.known_changes), as_json=as_json)


# --- tokens and the audit chain (chronoguard.lifecycle.access) -------------------------

alerts_app = typer.Typer(
    help="Alerts raised by monitoring: list, acknowledge, resolve; deliver and the outbox."
)
app.add_typer(alerts_app, name="alerts")
AlertArg = Annotated[
    int, typer.Argument(metavar="ID", help="The alert's id (`chronoguard alerts list`).")
]


@alerts_app.command("list")
def alerts_list(
    workspace: WorkspaceOpt,
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged or resolved (default: all).")
    ] = None,
    series: SeriesOpt = None,
    kind: Annotated[str | None, typer.Option(help="data_drift, performance_decay …")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N shown.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Alerts, newest first, with their status.

    --json prints {total, alerts}: the number found, and the newest --limit of them, each
    {id, ds, kind, method, statistic, threshold, severity, message, version, unique_id, feature, p_value, status}.
    """
    with _open(workspace) as ws:
        _reader(ws)
        found = ws.store.list_alerts(status=status, unique_id=series or None, kind=kind)[::-1]
    if as_json:
        _print_json({"total": len(found), "alerts": found[:limit]})
        return
    # One line per alert, newest first, as `chronoguard decisions` prints its log.
    newest = f", newest {limit}" if len(found) > limit else ""
    console.print(f"[bold]alerts ({len(found)}{newest})[/]")
    for a in found[:limit]:
        head = "  ".join(
            x
            for x in (
                f"#{a.id}",
                _when(a.ds),
                a.unique_id or "",
                f"{a.kind} ({a.method})",
                a.severity,
                a.status,
            )
            if x
        )
        console.print(f"{escape(head)}: {escape(a.message)}", highlight=False, soft_wrap=True)


def _alert_status(
    workspace: Path, alert_id: int, status: str, reason: str, *, as_json: bool
) -> None:
    from chronoguard.lifecycle.operations import set_alert_status

    with _open(workspace) as ws:
        caller = _caller(ws, "operator")
        a = set_alert_status(ws, alert_id, status, caller=caller, reason=reason, at=_now(None))
    if as_json:
        _print_json(a)
        return
    console.print(f"alert {a.id} ({a.kind}, {a.unique_id or 'fleet'}): {a.status}")


@alerts_app.command("ack")
def alerts_ack(
    workspace: WorkspaceOpt,
    alert: AlertArg,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an alert: someone is on it. Needs an operator token.

    --json prints the alert after the change, as `chronoguard alerts list --json` lists it.
    """
    _alert_status(workspace, alert, "acknowledged", reason, as_json=as_json)


@alerts_app.command("resolve")
def alerts_resolve(
    workspace: WorkspaceOpt,
    alert: AlertArg,
    reason: Annotated[str, typer.Option(help="Why (recorded).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Resolve an alert. Needs an operator token.

    --json prints the alert after the change, as `chronoguard alerts list --json` lists it.
    """
    _alert_status(workspace, alert, "resolved", reason, as_json=as_json)


def _deliver(ws: Any, holder: str) -> Any:
    """Send the workspace's due notifications at the wall clock's time (read here)."""
    from chronoguard.alerts import build_channels, deliver_pending

    cfg = ws.config.alerting
    return deliver_pending(ws.store, build_channels(cfg), cfg, now=_now(None), holder=holder)


def _print_delivery(report: Any, out: Console = console) -> None:
    out.print(
        f"alerts delivered: {report.sent} sent, {report.failed} failed (retried later), "
        f"{report.held} held"
    )
    for e in report.errors:
        err.print(f"  {escape(e)}")


def _deliver_after_cycle(ws: Any, *, quiet: bool = False, out: Console | None = console) -> Any:
    """Deliver what is due; a receiver that is down leaves it in the outbox. ``quiet``:
    say nothing when nothing was sent or failed; ``out``: where the report is said (None:
    nowhere, the caller shows it). The report, or None when no channel is configured or
    another deliverer is sending."""
    from chronoguard.errors import WorkspaceBusyError

    if not ws.config.alerting.channels:
        return None
    try:
        report = _deliver(ws, f"chronoguard cycle pid {os.getpid()}")
    except WorkspaceBusyError as exc:  # another deliverer is sending them
        if not quiet:
            err.print(f"alerts not delivered by this cycle: {exc}")
        return None
    if out is not None and (not quiet or report.sent or report.failed):
        _print_delivery(report, out)
    return report


@alerts_app.command("deliver")
def alerts_deliver(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """Send the queued notifications that are due, retrying failed ones. Needs an operator token.

    Exits 1 when a send failed (it stays queued and is retried with backoff).

    --json prints {sent, failed, held, errors}: messages sent and failed, notifications
    held back (quiet hours, a digest still open, a channel no longer configured), and
    the errors met.
    """
    with _open(workspace) as ws:
        _caller(ws, "operator")
        report = _deliver(ws, f"chronoguard alerts deliver pid {os.getpid()}")
    if as_json:
        _print_json(report)
    else:
        _print_delivery(report)
    if report.failed:
        raise typer.Exit(1)


@alerts_app.command("outbox")
def alerts_outbox(
    workspace: WorkspaceOpt,
    status: Annotated[str, typer.Option(help="pending (the default), sent, or all.")] = "pending",
    limit: Annotated[int, typer.Option(min=1, help="Newest N shown.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Queued notifications per channel: pending ones with their attempts and last error.

    --json prints {total, notifications}: the number found and the newest --limit, each
    {id, channel, event, severity, key, status, failing, attempts, created_at,
    next_attempt_at, sent_at, last_error}.
    """
    with _open(workspace) as ws:
        _reader(ws)
        if status not in ("pending", "sent", "all"):
            raise ChronoguardError(f"--status {status!r} is unknown; use pending, sent or all")
        found = ws.store.list_outbox(status=None if status == "all" else status)[::-1]
    rows = [
        {
            "id": e.id,
            "channel": e.channel,
            "event": e.event,
            "severity": e.severity,
            "key": e.key,
            "status": e.status,
            "failing": e.status == "pending" and e.last_error is not None,
            "attempts": e.attempts,
            "created_at": e.created_at,
            "next_attempt_at": e.next_attempt_at,
            "sent_at": e.sent_at,
            "last_error": e.last_error,
        }
        for e in found[:limit]
    ]
    if as_json:
        _print_json({"total": len(found), "notifications": rows})
        return
    table = Table(title=f"alert outbox, {status} ({len(found)})")
    for col in ("id", "channel", "event", "severity", "status", "attempts", "next", "last error"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["channel"]),
            str(r["event"]),
            str(r["severity"]),
            "failing" if r["failing"] else str(r["status"]),
            str(r["attempts"]),
            str(r["next_attempt_at"]),
            escape(str(r["last_error"] or "")),
        )
    console.print(table)


@app.command()
def report(
    workspace: WorkspaceOpt,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The HTML file to write (replaced whole).")
    ] = Path("report.html"),
    until: Annotated[
        str | None,
        typer.Option(help="Show the workspace as it was at this data time (default: all of it)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the HTML report of a live workspace: its series' actuals, served forecasts and
    intervals, error per horizon and rolling error, checks (alerts apart from advisory
    findings), alerts, decisions and the versions that served, read from its store (the
    report a replay writes, for the workspace a team runs every day).

    --json prints {report, model, until}: the file written, the model and the data time
    shown up to (null: all of it).
    """
    from chronoguard.dashboard.report import write_workspace_report

    with _open(workspace) as ws:
        _reader(ws)
        path = write_workspace_report(ws, out, until=until)
        if as_json:
            _print_json({"report": path.resolve(), "model": ws.model_name, "until": until})
            return
        console.print(f"report written: {path}")


@app.command()
def decisions(
    workspace: WorkspaceOpt,
    series: SeriesOpt = None,
    action: Annotated[
        str | None, typer.Option(help="retrain, keep, over_budget, wait … (default: all).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only cycles at or after this time.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N shown.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The decision engine's choices per series and cycle, and why: retrain or keep, the
    trigger, the gate's verdict and the versions compared (newest first).

    --json prints {total, decisions}: the number found and the newest --limit, each
    {model_name, ds, unique_id, action, reason, trigger, expected_loss, retrain_cost,
    cpu_seconds, tier, group, outcome, challenger_version, champion_version,
    challenger_error, champion_error, gate_reason, id}.
    """
    with _open(workspace) as ws:
        _reader(ws)
        found = ws.store.list_series_decisions(
            ws.model_name,
            unique_id=series or None,
            action=action,
            ds_from=pd.Timestamp(since).to_pydatetime() if since else None,
        )[::-1]
    if as_json:
        _print_json({"total": len(found), "decisions": found[:limit]})
        return
    # One line per decision, newest first (a log: readable in any width, and grep-able).
    newest = f", newest {limit}" if len(found) > limit else ""
    console.print(f"[bold]decisions ({len(found)}{newest})[/]")
    for d in found[:limit]:
        what = d.action + (f" {d.outcome}" if d.outcome and d.outcome != "none" else "")
        champion = f"v{d.champion_version}" if d.champion_version else ""
        versions = champion + (f" → v{d.challenger_version}" if d.challenger_version else "")
        why = d.reason + (f"; gate: {d.gate_reason}" if d.gate_reason else "")
        line = "  ".join(x for x in (_when(d.ds), d.unique_id, what, versions) if x)
        console.print(f"{escape(line)}: {escape(why)}", highlight=False, soft_wrap=True)


def _when(t: Any) -> str:
    """A time for a human: the date alone at midnight, else to the minute (or second)."""
    ts = pd.Timestamp(t)
    if ts is pd.NaT:
        return ""
    if ts == ts.normalize():
        return f"{ts:%Y-%m-%d}"
    return f"{ts:%Y-%m-%d %H:%M}" if ts.second == 0 else f"{ts:%Y-%m-%d %H:%M:%S}"


token_app = typer.Typer(
    help="API tokens: who may act on this workspace, with which role (admin only).",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The hash-chained audit log: verify it, show its last rows.")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")

RoleOpt = Annotated[
    str,
    typer.Option(
        "--role", help="viewer | operator | approver | admin (each includes the ones before)."
    ),
]


@token_app.command("create")
def token_create(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Argument(help="The token's name: the actor it records.")],
    role: RoleOpt,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print its secret (once; only its hash is stored).

    Needs an admin token in CHRONOGUARD_TOKEN, except the workspace's first token, which
    anyone who can open the workspace creates, as an admin, while no token exists.

    --json prints {name, role, created_at, created_by, revoked_at, revoked_by, active,
    first, secret}: the token (as `chronoguard token list --json` lists it), whether it is
    the workspace's first, and its secret.
    """
    from chronoguard.lifecycle.access import create_token

    with _open(workspace) as ws:
        first = not os.environ.get(TOKEN_ENV) and not ws.store.list_tokens()
        by = None if first else _caller(ws, "admin")
        token, secret = create_token(ws.store, name, role, by=by, at=_now(None))
    err.print(
        f"token {token.name!r} ({token.role}{', the first' if first else ''}) created; its "
        "secret follows, shown this once: keep it, e.g. `export CHRONOGUARD_TOKEN=…`",
        highlight=False,
    )
    if as_json:
        _print_json({**_token_json(token), "first": first, "secret": secret})
        return
    sys.stdout.write(secret + "\n")


def _token_json(t: Any) -> dict[str, Any]:
    """A token for --json: its fields but the secret's hash, and whether it is active."""
    return {**_plain(t), "active": t.active}


@token_app.command("revoke")
def token_revoke(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Argument(help="The token to revoke.")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token: its secret authenticates no more (its name stays in the history).

    --json prints the token after the change, as `chronoguard token list --json` lists it.
    """
    from chronoguard.lifecycle.access import revoke_token

    with _open(workspace) as ws:
        token = revoke_token(ws.store, name, by=_caller(ws, "admin"), at=_now(None))
    if as_json:
        _print_json(_token_json(token))
        return
    console.print(f"token {token.name!r} revoked at {token.revoked_at} by {token.revoked_by}")


@token_app.command("list")
def token_list(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """List the workspace's tokens (never their secrets), revoked ones too.

    --json prints {tokens}: each {name, role, created_at, created_by, revoked_at,
    revoked_by, active}.
    """
    from chronoguard.lifecycle.access import list_tokens

    with _open(workspace) as ws:
        found = list_tokens(ws.store, by=_caller(ws, "admin"))
    if as_json:
        _print_json({"tokens": [_token_json(t) for t in found]})
        return
    table = Table(title="tokens")
    for col in ("name", "role", "created", "by", "revoked"):
        table.add_column(col)
    for t in found:
        revoked = "" if t.active else f"{str(t.revoked_at)[:19]} by {t.revoked_by}"
        table.add_row(t.name, t.role, str(t.created_at)[:19], t.created_by, revoked)
    console.print(table)


@audit_app.command("verify")
def audit_verify(workspace: WorkspaceOpt, as_json: JsonOpt = False) -> None:
    """Check the chain with the workspace's key and the tables it covers: exit 0 if intact,
    1 naming the first broken row.

    --json prints {ok, rows_checked, keyed_rows, broken_id, reason, message}: the verdict,
    the rows checked and those hashed with the key, the first broken row and why (null
    when intact), and the verdict in words (also on stderr when broken); the exit code is
    the same.
    """
    with _open(workspace) as ws:
        _reader(ws)
        verdict = ws.store.verify_audit_chain()
    if as_json:
        _print_json({**_plain(verdict), "message": str(verdict)})
    elif verdict.ok:
        console.print(str(verdict), highlight=False, soft_wrap=True)
    if verdict.ok:
        return
    err.print(str(verdict), highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    workspace: WorkspaceOpt,
    last: Annotated[int, typer.Option(help="How many of the newest rows.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Show the newest rows of the audit log; the last hash is the head to keep elsewhere.

    --json prints {entries, head}: the rows in the order they were recorded, each {id, at,
    actor, action, entity, payload, prev_hash, hash, as_of, recorded_at}, and the head
    {id, hash} (null for an empty log).
    """
    with _open(workspace) as ws:
        _reader(ws)
        rows = ws.store.audit_log(last=max(last, 1))
    if as_json:
        head = {"id": rows[-1].id, "hash": rows[-1].hash} if rows else None
        _print_json({"entries": rows, "head": head})
        return
    table = Table(
        title=f"audit log (last {len(rows)} rows, in the order they were recorded)",
        caption="recorded: the real time of the action; as of: the data time it concerns",
    )
    for col in ("id", "recorded", "as of", "actor", "action", "entity", "hash"):
        table.add_column(col)
    for e in rows:
        table.add_row(
            str(e.id),
            str(e.recorded_at)[:19],
            "–" if e.as_of is None else str(e.as_of)[:19],
            e.actor,
            e.action,
            e.entity,
            e.hash[:16],
        )
    console.print(table)
    if rows:
        console.print(f"head: row {rows[-1].id} {rows[-1].hash}", highlight=False)


# --- serve: the HTTP service (chronoguard.serving) ------------------------------------


@app.command()
def serve(
    workspace: WorkspaceOpt,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    poll: Annotated[
        float, typer.Option(help="Seconds between looks at the store for a new deployment.")
    ] = 1.0,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = False,
) -> None:
    """Serve forecasts, take actuals and show the governance record over HTTP (docs at /docs)."""
    from chronoguard.serving import serve as run_service

    with _open(workspace):  # a missing or outdated workspace fails here, clearly
        pass
    err.print(f"serving {workspace.resolve()} on http://{host}:{port} (OpenAPI at /docs)")
    run_service(workspace, host=host, port=port, poll_interval=poll, access_log=access_log)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        console.print(f"chronoguard {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point: ChronoguardError becomes a clear message and exit code 2.

    typer runs in its standalone mode, which owns everything about the command line itself: a
    usage mistake (unknown command or option, missing or malformed value) prints the usage, a
    "Try 'chronoguard --help'" hint and the error, and exits 2; ``--help``, ``--version`` and
    ``typer.Exit`` exit with their code; Ctrl-C exits 130. typer vendors its click (since 0.26),
    so its usage errors are no ``click.ClickException``: catching them here would rely on
    typer's private modules. The program name is fixed so that ``python -m chronoguard`` gives
    the same hints.
    """
    try:
        app(prog_name="chronoguard")
    except ChronoguardError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


__all__ = ["app", "main"]
