"""The report's figures: drawn off-screen (Agg) as base64 PNG, or written as inline SVG.

The plots of series, drift checks and versions are matplotlib figures; the error charts
(per horizon, rolling) are small hand-written SVG. Every matplotlib function builds its own :class:`matplotlib.figure.Figure` with an Agg canvas, so nothing
touches pyplot's global figure manager or the global ``rcParams``. Inputs are the normalised
frames of :mod:`chronoguard.dashboard.report`: ``ds`` as naive ``datetime64``, ``unique_id`` as
``str``.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import math

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory

DPI = 90
WIDTH = 11.0  # inches: 990 px at DPI, the width of the report's content column
MAX_POINTS = 1500  # per plotted line; longer lines keep each bucket's min and max
ZOOM_AFTER = 600  # a series longer than this gets a zoomed panel of its recent past
ZOOM_POINTS = 240
MAX_FEATURES_PER_PANEL = 8
P_VALUE_FLOOR = 1e-16  # p-values of exactly 0 cannot sit on a log axis

ACTUAL = "#222222"
FORECAST = "#1f77b4"
BAND = "#9ecae1"
PROMOTION = "#2ca02c"
ROLLBACK = "#ff7f0e"
EVENT = "#7f7f7f"
FLAGGED = "#d62728"
ADVISORY = "#6a51a3"  # advisory findings (iid tests): shown, never alerting, never red
THRESHOLD = "#444444"
CHAMPION_BAR = "#6baed6"
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#e6b800"}
OTHER_SEVERITY = "#9467bd"
FEATURE_COLORS = ["#1f77b4", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f"]


def severity_color(severity: str) -> str:
    return SEVERITY_COLORS.get(severity.lower(), OTHER_SEVERITY)


def plot_text(value: object, limit: int = 48) -> str:
    """A user string made safe for matplotlib: shortened, and ``$`` kept literal (no mathtext)."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def to_num(ds: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Matplotlib date numbers (days) of naive timestamps."""
    values = pd.DatetimeIndex(ds).to_numpy(dtype="datetime64[ns]")
    return np.asarray(mdates.date2num(values), dtype=float)


def minmax_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices that thin a line to about ``max_points`` while keeping its peaks and troughs.

    The line is cut into ``max_points // 2`` buckets and each bucket keeps its minimum and
    maximum, so spikes survive (a plain stride would drop them). The ends are always kept.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(max_points // 2, 1)
    edges = np.linspace(0, n, buckets + 1).astype(int)
    finite = np.where(np.isfinite(values), values, np.nan)
    keep = [0, n - 1]
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        chunk = finite[lo:hi]
        if np.isnan(chunk).all():
            keep.append(lo)
            continue
        keep.append(lo + int(np.nanargmin(chunk)))
        keep.append(lo + int(np.nanargmax(chunk)))
    return np.unique(np.asarray(keep))


def new_figure(height: float) -> Figure:
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_base64_png(fig: Figure) -> str:
    buffer = io.BytesIO()
    # No "Software" entry: the same data gives the same bytes.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def format_date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def style_axes(ax: Axes) -> None:
    ax.grid(True, color="#e5e5e5", linewidth=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def _vertical_label(ax: Axes, x: float, text: str, color: str, top: bool) -> None:
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(
        x,
        0.97 if top else 0.03,
        text,
        transform=trans,
        rotation=90,
        ha="right",
        va="top" if top else "bottom",
        fontsize=7.5,
        color=color,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1.0},
        clip_on=True,
    )


def series_figure(
    uid: str,
    actuals: pd.DataFrame,
    forecasts: pd.DataFrame,
    horizon: int | None,
    alerts: pd.DataFrame,
    champions: pd.DataFrame,
    events: pd.DataFrame,
    xlim: tuple[float, float],
    step: float,
    max_points: int = MAX_POINTS,
) -> str:
    """Actuals, the h-step forecasts with their interval, alerts, version changes and events.

    ``actuals`` [ds, y] and ``forecasts`` [ds, yhat, yhat_lo, yhat_hi] of one series, sorted by
    ``ds``; ``alerts`` [ds, severity]; ``champions`` [ds, version, change] with ``change`` in
    {"initial", "promotion", "rollback"}; ``events`` [ds, label]; ``xlim`` and ``step`` (one
    period) in date numbers. A series longer than ``ZOOM_AFTER`` points gets a second panel
    with its last ``ZOOM_POINTS`` periods at full resolution, where the forecast can be read.
    """
    zoom = len(actuals) > ZOOM_AFTER
    fig = new_figure(6.4 if zoom else 3.9)
    axes = fig.subplots(2, 1, height_ratios=[3, 2]) if zoom else [fig.add_subplot()]
    parts = (uid, actuals, forecasts, horizon, alerts, champions, events)
    handles = _draw_series(axes[0], *parts, xlim=xlim, step=step, max_points=max_points)
    axes[0].set_title(plot_text(uid, 80), loc="left", fontsize=11, fontweight="bold")
    if zoom:
        start = to_num(actuals["ds"].iloc[[-ZOOM_POINTS]])[0] - step / 2
        window = (start, xlim[1])
        _draw_series(axes[1], *parts, xlim=window, step=step, max_points=max_points)
        axes[1].set_title(f"last {ZOOM_POINTS} periods", loc="left", fontsize=9)
    if not handles:
        axes[0].text(0.5, 0.5, "no data", transform=axes[0].transAxes, ha="center", color=EVENT)
    else:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 5),
            fontsize=8,
            frameon=False,
        )
    return to_base64_png(fig)


def _draw_series(
    ax: Axes,
    uid: str,
    actuals: pd.DataFrame,
    forecasts: pd.DataFrame,
    horizon: int | None,
    alerts: pd.DataFrame,
    champions: pd.DataFrame,
    events: pd.DataFrame,
    *,
    xlim: tuple[float, float],
    step: float,
    max_points: int,
) -> list[Line2D | Patch]:
    style_axes(ax)
    handles: list[Line2D | Patch] = []
    lo_x, hi_x = xlim
    if len(actuals):
        x = to_num(actuals["ds"])
        inside = (x >= lo_x) & (x <= hi_x)
        y = actuals["y"].to_numpy(dtype=float)[inside]
        x = x[inside]
        idx = minmax_indices(y, max_points)
        ax.plot(x[idx], y[idx], color=ACTUAL, linewidth=1.2, zorder=3)
        handles.append(Line2D([], [], color=ACTUAL, linewidth=1.2, label="actual"))
    if len(forecasts):
        x = to_num(forecasts["ds"])
        inside = (x >= lo_x) & (x <= hi_x)
        x = x[inside]
        yhat = forecasts["yhat"].to_numpy(dtype=float)[inside]
        lo = forecasts["yhat_lo"].to_numpy(dtype=float)[inside]
        hi = forecasts["yhat_hi"].to_numpy(dtype=float)[inside]
        idx = minmax_indices(yhat, max_points)
        band = np.isfinite(lo[idx]) & np.isfinite(hi[idx])
        if band.any():
            ax.fill_between(
                x[idx], lo[idx], hi[idx], where=band, color=BAND, alpha=0.5, linewidth=0, zorder=1
            )
            handles.append(Patch(color=BAND, alpha=0.5, label="prediction interval"))
        ax.plot(x[idx], yhat[idx], color=FORECAST, linewidth=1.2, zorder=2)
        name = "forecast" if horizon is None else f"{horizon}-step-ahead forecast"
        handles.append(Line2D([], [], color=FORECAST, linewidth=1.2, label=name))

    if len(alerts):
        trans = blended_transform_factory(ax.transData, ax.transAxes)
        seen: set[str] = set()
        for ds, severity in zip(to_num(alerts["ds"]), alerts["severity"], strict=True):
            if not lo_x <= ds <= hi_x:
                continue
            color = severity_color(severity)
            ax.axvspan(ds - step / 2, ds + step / 2, color=color, alpha=0.18, linewidth=0)
            # The triangle keeps an alert visible where one period is narrower than a pixel.
            ax.plot([ds], [1.0], marker="v", color=color, markersize=6, transform=trans)
            ax.lines[-1].set_clip_on(False)
            if severity not in seen:
                seen.add(severity)
                handles.append(Patch(color=color, alpha=0.35, label=f"alert ({severity})"))

    kinds_drawn: set[str] = set()
    for ds, version, change in zip(
        to_num(champions["ds"]), champions["version"], champions["change"], strict=True
    ):
        if not lo_x <= ds <= hi_x:
            continue
        rollback = change == "rollback"
        color = ROLLBACK if rollback else PROMOTION
        ax.axvline(ds, color=color, linewidth=1.3, linestyle="--" if rollback else "-", zorder=2)
        label = f"{version} (rollback)" if rollback else str(version)
        _vertical_label(ax, ds, plot_text(label, 28), color, top=True)
        kinds_drawn.add("rollback" if rollback else "promotion")
    if "promotion" in kinds_drawn:
        handles.append(Line2D([], [], color=PROMOTION, linewidth=1.3, label="champion version"))
    if "rollback" in kinds_drawn:
        handles.append(Line2D([], [], color=ROLLBACK, linewidth=1.3, ls="--", label="rollback"))

    drew_event = False
    for ds, label in zip(to_num(events["ds"]), events["label"], strict=True):
        if not lo_x <= ds <= hi_x:
            continue
        ax.axvline(ds, color=EVENT, linewidth=1.2, linestyle=":", zorder=2)
        _vertical_label(ax, ds, plot_text(label, 32), EVENT, top=False)
        drew_event = True
    if drew_event:
        handles.append(Line2D([], [], color=EVENT, linewidth=1.2, ls=":", label="known event"))

    ax.set_xlim(lo_x, hi_x)
    format_date_axis(ax)
    ax.set_xlabel("date (ds)", fontsize=9)
    ax.set_ylabel("y", fontsize=9)
    return handles


def _panel_layout(n: int) -> tuple[int, int]:
    ncols = 1 if n == 1 else 2 if n <= 4 else 3
    return math.ceil(n / ncols), ncols


def drift_figure(
    uid: str,
    checks: pd.DataFrame,
    xlim: tuple[float, float],
    max_points: int = MAX_POINTS,
) -> str | None:
    """One small panel per (kind, method): the compared quantity, its threshold, the decisions.

    ``checks`` holds one series' rows [ds, kind, method, feature, statistic, p_value,
    threshold, decision, threshold_on]. The plotted quantity is ``p_value`` (log scale) where
    ``threshold_on == "p_value"``, else ``statistic``. ``None`` if there is nothing to plot.
    """
    if checks.empty:
        return None
    groups = list(checks.groupby(["kind", "method", "threshold_on"], sort=True))
    nrows, ncols = _panel_layout(len(groups))
    fig = new_figure(0.7 + 2.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    flagged_any = False
    advisory_any = False
    for ax, ((kind, method, on), group) in zip(axes.flat, groups, strict=False):
        style_axes(ax)
        on_p = on == "p_value"
        column = "p_value" if on_p else "statistic"
        features = _rank_features(group)
        shown = features[:MAX_FEATURES_PER_PANEL]
        positive = False
        for j, feature in enumerate(shown):
            rows = group[group["feature"] == feature].sort_values("ds", kind="stable")
            x = to_num(rows["ds"])
            value = rows[column].to_numpy(dtype=float)
            threshold = rows["threshold"].to_numpy(dtype=float)
            if on_p:
                value = np.where(np.isfinite(value), np.maximum(value, P_VALUE_FLOOR), np.nan)
            positive |= bool(np.any(value > 0)) or bool(np.any(threshold > 0))
            idx = minmax_indices(value, max_points)
            color = FEATURE_COLORS[j % len(FEATURE_COLORS)]
            label = plot_text(feature, 24)
            ax.plot(x[idx], value[idx], color=color, linewidth=1.0, marker="o", markersize=2.5)
            ax.lines[-1].set_label(label)
            finite = threshold[np.isfinite(threshold)]
            if len(finite) and np.ptp(finite) == 0:  # one threshold: span the panel
                x_th, threshold, style = np.asarray(xlim), np.full(2, finite[0]), "default"
            else:
                x_th, style = x, "steps-post"
            ax.plot(x_th, threshold, color=THRESHOLD, lw=0.9, ls="--", drawstyle=style, zorder=1)
            positive_rows = rows["decision"].to_numpy(dtype=bool) & np.isfinite(value)
            advisory = rows["advisory"].to_numpy(dtype=bool) if "advisory" in rows else False
            flags = positive_rows & ~advisory
            findings = positive_rows & advisory
            if flags.any():
                flagged_any = True
                ax.scatter(x[flags], value[flags], color=FLAGGED, s=20, zorder=4, linewidths=0)
            if findings.any():
                advisory_any = True
                ax.scatter(
                    x[findings],
                    value[findings],
                    facecolors="none",
                    edgecolors=ADVISORY,
                    s=24,
                    zorder=4,
                    linewidths=1.0,
                )
        if on_p and positive:
            ax.set_yscale("log")
        title = f"{kind} · {method}"
        if len(features) == 1:
            title += f" · {features[0]}"
        elif len(features) > len(shown):
            title += f" (top {len(shown)} of {len(features)} features)"
        ax.set_title(plot_text(title, 70), loc="left", fontsize=9)
        ax.set_ylabel("p-value (log)" if on_p else "statistic", fontsize=8)
        ax.set_xlim(*xlim)
        format_date_axis(ax)
        if len(features) > 1:
            ax.legend(fontsize=7, loc="best", frameon=False, title="feature", title_fontsize=7)
    for i, ax in enumerate(axes.flat):
        if i >= len(groups):
            ax.set_visible(False)
        elif i + ncols >= len(groups):  # the lowest panel of its column
            ax.set_xlabel("check date (ds)", fontsize=8)
    fig.suptitle(f"{plot_text(uid, 80)}: drift checks", x=0.01, ha="left", fontsize=10)
    handles: list[Line2D] = [
        Line2D([], [], color=FEATURE_COLORS[0], marker="o", markersize=3, label="checked value"),
        Line2D([], [], color=THRESHOLD, linestyle="--", linewidth=0.9, label="threshold"),
    ]
    if flagged_any:
        handles.append(
            Line2D([], [], color=FLAGGED, marker="o", linestyle="none", label="drift alert")
        )
    if advisory_any:
        handles.append(
            Line2D(
                [],
                [],
                color=ADVISORY,
                marker="o",
                markerfacecolor="none",
                linestyle="none",
                label="advisory finding (iid test)",
            )
        )
    fig.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )
    return to_base64_png(fig)


def _rank_features(group: pd.DataFrame) -> list[str]:
    """Features of a panel, the most often flagged first (ties by name)."""
    flagged = group.groupby("feature", sort=True)["decision"].sum()
    ranked = sorted(flagged.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return [str(feature) for feature, _ in ranked]


def versions_figure(
    champions: pd.DataFrame,
    retrains: pd.DataFrame,
    events: pd.DataFrame,
    xlim: tuple[float, float],
) -> str | None:
    """A Gantt chart: one row per version, bars while it was champion, retrain attempts marked.

    ``champions`` [ds, version, change] sorted by ``ds``; ``retrains`` [ds, version, outcome];
    the last champion holds until ``xlim[1]``. ``None`` if there are no versions at all.
    """
    versions: list[str] = []
    for version in [*champions["version"], *retrains["version"]]:
        if str(version) not in versions:
            versions.append(str(version))
    if not versions:
        return None
    row = {version: i for i, version in enumerate(versions)}
    fig = new_figure(min(1.6 + 0.3 * len(versions), 12.0))
    ax = fig.add_subplot()
    style_axes(ax)
    lo_x, hi_x = xlim
    starts = to_num(champions["ds"])
    ends = [*starts[1:], hi_x]
    for start, end, version, change in zip(
        starts, ends, champions["version"], champions["change"], strict=True
    ):
        y = row[str(version)]
        ax.broken_barh(
            [(start, max(end - start, 0.0))], (y - 0.32, 0.64), color=CHAMPION_BAR, edgecolor="none"
        )
        if change == "rollback":
            ax.plot([start], [y], marker=">", color=ROLLBACK, markersize=8, zorder=4)
    handles: list[Line2D | Patch] = [Patch(color=CHAMPION_BAR, label="champion")]
    if (champions["change"] == "rollback").any():
        handles.append(
            Line2D([], [], marker=">", color=ROLLBACK, linestyle="none", label="rollback to")
        )
    styles = {
        "promoted": ("^", PROMOTION, "retrain promoted"),
        "rejected": ("X", FLAGGED, "retrain rejected"),
    }
    x_retrain = to_num(retrains["ds"])
    outcomes = retrains["outcome"].astype(str)
    for outcome in sorted(set(outcomes)):
        marker, color, label = styles.get(outcome, ("o", EVENT, f"retrain {outcome}"))
        mask = (outcomes == outcome).to_numpy()
        ys = [row[str(v)] for v in retrains["version"][mask]]
        ax.scatter(x_retrain[mask], ys, marker=marker, color=color, s=55, zorder=5, linewidths=0)
        handles.append(
            Line2D([], [], marker=marker, color=color, linestyle="none", label=plot_text(label))
        )
    drew_event = False
    for ds, label in zip(to_num(events["ds"]), events["label"], strict=True):
        if lo_x <= ds <= hi_x:
            ax.axvline(ds, color=EVENT, linewidth=1.0, linestyle=":", zorder=1)
            ax.text(
                ds,
                -0.6,
                plot_text(label, 32),
                fontsize=7.5,
                color=EVENT,
                ha="center",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
            )
            drew_event = True
    if drew_event:
        handles.append(Line2D([], [], color=EVENT, linestyle=":", label="known event"))
    ax.set_yticks(range(len(versions)), [plot_text(v, 28) for v in versions], fontsize=8)
    ax.set_ylim(len(versions) - 0.5, -0.9)  # first version on top, room for event labels
    ax.set_xlim(lo_x, hi_x)
    format_date_axis(ax)
    ax.set_xlabel("date (ds)", fontsize=9)
    ax.set_ylabel("model version", fontsize=9)
    ax.set_title("Champion versions and retrain attempts", loc="left", fontsize=11)
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 6),
        fontsize=8,
        frameon=False,
    )
    return to_base64_png(fig)


# --------------------------------------------------------------------------- SVG charts
#
# Small charts written as inline SVG by hand: a few dozen elements each, crisp at any zoom,
# searchable text, and every drawn value also kept in a ``data-*`` attribute, so a reader
# (or a test) can check the chart against the numbers it claims to show.

SVG_WIDTH = 990
SVG_HEIGHT = 300
_MARGIN = {"left": 84, "right": 24, "top": 34, "bottom": 56}
ROLLING_RAW = "#9ecae1"


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks and ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _svg_num(value: float) -> str:
    if value == int(value) and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Canvas:
    """Maps data to pixels of one plot area and collects SVG elements."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = _MARGIN["left"], SVG_WIDTH - _MARGIN["right"]
        self.y0, self.y1 = SVG_HEIGHT - _MARGIN["bottom"], _MARGIN["top"]
        self.xr, self.yr = x_range, y_range
        self.parts: list[str] = []

    def x(self, value: float) -> float:
        lo, hi = self.xr
        return self.x0 + (value - lo) / ((hi - lo) or 1.0) * (self.x1 - self.x0)

    def y(self, value: float) -> float:
        lo, hi = self.yr
        return self.y0 - (value - lo) / ((hi - lo) or 1.0) * (self.y0 - self.y1)

    def axes(
        self,
        y_ticks: list[float],
        x_ticks: list[tuple[float, str]],
        x_label: str,
        y_label: str,
        title: str,
    ) -> None:
        add = self.parts.append
        for t in y_ticks:
            py = self.y(t)
            add(
                f'<line x1="{self.x0}" y1="{py:.1f}" x2="{self.x1}" y2="{py:.1f}" '
                'stroke="#e5e5e5" stroke-width="1"/>'
            )
            add(
                f'<text x="{self.x0 - 6}" y="{py + 4:.1f}" text-anchor="end" '
                f'font-size="11" fill="#444">{_esc(_svg_num(t))}</text>'
            )
        for value, label in x_ticks:
            px = self.x(value)
            add(
                f'<line x1="{px:.1f}" y1="{self.y0}" x2="{px:.1f}" y2="{self.y0 + 5}" '
                'stroke="#444" stroke-width="1"/>'
            )
            add(
                f'<text x="{px:.1f}" y="{self.y0 + 18}" text-anchor="middle" font-size="11" '
                f'fill="#444">{_esc(label)}</text>'
            )
        add(
            f'<line x1="{self.x0}" y1="{self.y0}" x2="{self.x1}" y2="{self.y0}" '
            'stroke="#444" stroke-width="1"/>'
        )
        add(
            f'<line x1="{self.x0}" y1="{self.y0}" x2="{self.x0}" y2="{self.y1}" '
            'stroke="#444" stroke-width="1"/>'
        )
        middle_x = (self.x0 + self.x1) / 2
        middle_y = (self.y0 + self.y1) / 2
        add(
            f'<text class="x-label" x="{middle_x:.1f}" y="{SVG_HEIGHT - 14}" '
            f'text-anchor="middle" font-size="12" fill="#222">{_esc(x_label)}</text>'
        )
        add(
            f'<text class="y-label" x="16" y="{middle_y:.1f}" text-anchor="middle" '
            f'font-size="12" fill="#222" transform="rotate(-90 16 {middle_y:.1f})">'
            f"{_esc(y_label)}</text>"
        )
        add(
            f'<text x="{self.x0}" y="20" font-size="14" font-weight="bold" fill="#222">'
            f"{_esc(title)}</text>"
        )

    def svg(self, css_class: str, label: str) -> str:
        body = "".join(self.parts)
        return (
            f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="{_esc(label)}" viewBox="0 0 {SVG_WIDTH} {SVG_HEIGHT}" '
            f'width="100%" font-family="sans-serif">{body}</svg>'
        )


def horizon_error_svg(per_horizon: pd.DataFrame, metric: str = "MAE") -> str | None:
    """Bars of the error per forecast horizon, as inline SVG.

    ``per_horizon`` has one row per horizon: ``horizon`` (steps ahead), ``error`` (the
    metric over every scored forecast of that horizon) and ``n`` (how many were scored).
    ``None`` if no horizon has a finite error.
    """
    rows = per_horizon[np.isfinite(per_horizon["error"].to_numpy(dtype=float))]
    rows = rows.sort_values("horizon", kind="stable")
    if rows.empty:
        return None
    horizons = rows["horizon"].to_numpy(dtype=int)
    errors = rows["error"].to_numpy(dtype=float)
    counts = rows["n"].to_numpy(dtype=int)
    y_ticks = _nice_ticks(min(0.0, float(errors.min())), float(errors.max()))
    canvas = _Canvas((0.5, len(horizons) + 0.5), (y_ticks[0], y_ticks[-1]))
    every = max(1, math.ceil(len(horizons) / 24))  # at most ~24 tick labels
    x_ticks = [(i + 1.0, str(h)) for i, h in enumerate(horizons) if i % every == 0]
    canvas.axes(
        y_ticks,
        x_ticks,
        "forecast horizon (steps ahead)",
        metric,
        f"{metric} per forecast horizon (served forecasts against actuals)",
    )
    width = 0.7 * (canvas.x(1.0) - canvas.x(0.0))
    base = canvas.y(max(0.0, y_ticks[0]))
    for i, (h, err, n) in enumerate(zip(horizons, errors, counts, strict=True)):
        top = canvas.y(err)
        px = canvas.x(i + 1.0) - width / 2
        canvas.parts.append(
            f'<rect class="bar" data-horizon="{h}" data-error="{float(err)!r}" data-n="{n}" '
            f'x="{px:.1f}" y="{min(top, base):.1f}" width="{width:.1f}" '
            f'height="{abs(base - top):.1f}" fill="{FORECAST}">'
            f"<title>horizon {h}: {metric} {_svg_num(err)} over {n} forecasts</title></rect>"
        )
    return canvas.svg("chart horizon-error", f"{metric} per forecast horizon")


def rolling_error_svg(
    errors: pd.DataFrame,
    window: int,
    horizon: int | None,
    date_format: str,
    metric: str = "MAE",
    max_points: int = MAX_POINTS,
) -> str | None:
    """The error over time and its rolling mean, as inline SVG.

    ``errors`` has one row per target time, sorted: ``ds`` (naive timestamps) and
    ``error`` (the metric over the series forecast for that time). The rolling mean is
    over the last ``window`` of these times (fewer at the start). ``None`` if there are no
    finite errors.
    """
    rows = errors[np.isfinite(errors["error"].to_numpy(dtype=float))]
    if rows.empty:
        return None
    x = to_num(rows["ds"])
    raw = rows["error"].to_numpy(dtype=float)
    rolling = pd.Series(raw).rolling(window, min_periods=1).mean().to_numpy(dtype=float)
    y_ticks = _nice_ticks(min(0.0, float(raw.min())), float(raw.max()))
    lo_x, hi_x = float(x.min()), float(x.max())
    if hi_x <= lo_x:
        lo_x, hi_x = lo_x - 1.0, hi_x + 1.0
    canvas = _Canvas((lo_x, hi_x), (y_ticks[0], y_ticks[-1]))
    stamps = pd.DatetimeIndex(rows["ds"])
    picks = np.unique(np.linspace(0, len(x) - 1, min(len(x), 7)).round().astype(int))
    x_ticks = [(float(x[i]), stamps[i].strftime(date_format)) for i in picks]
    steps = "" if horizon is None else f"{horizon}-step-ahead "
    canvas.axes(
        y_ticks,
        x_ticks,
        "target date (ds)",
        metric,
        f"Rolling {metric} of the {steps}forecasts (window: {window} periods)",
    )
    for name, values, color, width in (
        ("raw", raw, ROLLING_RAW, 1.0),
        ("rolling", rolling, FORECAST, 2.0),
    ):
        idx = minmax_indices(values, max_points)
        points = " ".join(f"{canvas.x(x[i]):.1f},{canvas.y(values[i]):.1f}" for i in idx)
        canvas.parts.append(
            f'<polyline class="{name}" data-points="{len(values)}" '
            f'data-last="{float(values[-1])!r}" points="{points}" fill="none" stroke="{color}" '
            f'stroke-width="{width}"/>'
        )
    legend_y = _MARGIN["top"] - 12
    for i, (label, color) in enumerate(
        ((f"{metric} per period", ROLLING_RAW), (f"rolling mean over {window}", FORECAST))
    ):
        lx = SVG_WIDTH - _MARGIN["right"] - 330 + i * 170
        canvas.parts.append(
            f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 22}" y2="{legend_y}" stroke="{color}" '
            f'stroke-width="3"/><text x="{lx + 28}" y="{legend_y + 4}" font-size="11" '
            f'fill="#444">{_esc(label)}</text>'
        )
    return canvas.svg("chart rolling-error", f"rolling {metric} over time")
