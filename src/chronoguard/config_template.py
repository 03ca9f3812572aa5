"""A configuration to start from: settings inferred from a data file, written as commented TOML.

:func:`infer_settings` reads what a file says about itself (its frequency, and from it the
seasons and a model that suits them); :func:`config_for` turns that into a
:class:`~chronoguard.config.ChronoguardConfig` whose windows fit the data; and
:func:`render_config` writes any configuration as TOML with every key preceded by its
description, so that the file a user edits explains itself.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"unique_id": "a", "y": 1.0,
...                    "ds": pd.date_range("2020-01-01", periods=40, freq="QS")})
>>> s = infer_settings(df, "QS-OCT")
>>> s.freq, s.season_lengths, s.model
('QS', (4,), 'AutoETS')
>>> text = render_config(config_for(s))
>>> 'freq = "QS"' in text and "# pandas frequency alias" in text
True
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Tick
from pydantic import BaseModel

from chronoguard.config import ChronoguardConfig, _toml_value, parse_config

__all__ = ["DataSettings", "config_for", "infer_settings", "render_config"]

_DAY = pd.Timedelta(days=1)
_INITIAL_WINDOW = ChronoguardConfig().training.initial_window
_WIDTH = 95

#: Seasons (periods per cycle) and a horizon for the frequencies above a day, by the offset's
#: name without its anchor (``QS-OCT`` -> ``QS``).
_CALENDAR: dict[str, tuple[tuple[int, ...], int]] = {
    "YS": ((1,), 4),
    "YE": ((1,), 4),
    "QS": ((4,), 8),
    "QE": ((4,), 8),
    "MS": ((12,), 12),
    "ME": ((12,), 12),
    "SMS": ((24,), 24),
    "W": ((52,), 13),
    "B": ((5,), 10),
    "D": ((7,), 14),
}

# A heading for each section: what the table is for.
_SECTIONS: dict[str, str] = {
    "data": "The data: its frequency, its main season and the exogenous columns used.",
    "model": "The forecaster every version trains, and its parameters.",
    "forecast": "What a forecast covers.",
    "training": "The windows of training and of the backtest that measures the reference.",
    "monitoring": "The checks each cycle runs against a version's reference.",
    "retraining": "When checks that fired start a retrain.",
    "gate": "What a challenger must show before it serves.",
    "groups": "Groups of series, each a [[groups]] table; the first whose rule matches wins.",
    "budget": "What the retrains of one cycle may spend (0 = unlimited).",
    "compute": "Where per-series work runs, in batches of series.",
    "approvals": "Who must agree before a passing challenger serves.",
    "rollout": "What a challenger that passes the gate becomes: champion, shadow or canary.",
    "alerting": "Delivery of alerts to people (channels are [[alerting.channels]] tables).",
}


@dataclass(frozen=True)
class DataSettings:
    """What a data file says about the configuration it needs.

    Attributes
    ----------
    freq : str
        The pandas frequency alias, in its simplest equivalent form (``QS``, not ``QS-OCT``).
    season_lengths : tuple of int
        The seasons found, shortest first: one for data of a day or longer (4 quarterly,
        12 monthly, 7 daily), two for sub-daily data (a day and a week, e.g. 48 and 336
        half-hourly) when every series holds two weeks; 1 means none.
    model : str
        ``MSTL`` for sub-daily data with its seasons, ``AutoETS`` otherwise.
    horizon : int
        Periods ahead to forecast: a day of sub-daily data, otherwise one to two seasons.
    shortest : int
        Observations in the shortest series.
    n_series : int
        Number of series.
    extra_columns : tuple of str
        Columns besides ``unique_id``, ``ds`` and ``y`` (candidates for ``data.exog``).
    """

    freq: str
    season_lengths: tuple[int, ...]
    model: str
    horizon: int
    shortest: int
    n_series: int
    extra_columns: tuple[str, ...] = ()

    @property
    def season_length(self) -> int:
        """The main (shortest) season: what monitoring and the fallback model use."""
        return self.season_lengths[0]


def _simplest_alias(freq: str, first: pd.Timestamp) -> str:
    """``freq`` without its anchor when that names the same timestamps from ``first``.

    pandas infers quarterly data starting in January as ``QS-OCT`` and annual data as
    ``YS-JAN``; both name the same dates as ``QS`` and ``YS``, which a user recognises.
    """
    base = freq.split("-", 1)[0]
    if base == freq:
        return freq
    try:
        same = pd.date_range(first, periods=12, freq=freq).equals(
            pd.date_range(first, periods=12, freq=base)
        )
    except ValueError:
        return freq
    return base if same else freq


def infer_settings(df: pd.DataFrame, freq: str) -> DataSettings:
    """Seasons, a model and a horizon for ``df``, a validated long frame of frequency ``freq``.

    Parameters
    ----------
    df : pandas.DataFrame
        ``unique_id``, ``ds``, ``y`` (+ other columns), as validated by
        :func:`chronoguard.data.validate_frame`.
    freq : str
        Its frequency, as the data contract inferred it.

    Returns
    -------
    DataSettings
    """
    first = pd.Timestamp(df["ds"].min())
    alias = _simplest_alias(freq, first)
    offset = to_offset(alias)
    sizes = df.groupby("unique_id", sort=False).size()
    shortest = int(sizes.min())
    extra = tuple(str(c) for c in df.columns if c not in ("unique_id", "ds", "y"))
    step = pd.Timedelta(offset) if isinstance(offset, Tick) else None
    if step is not None and step < _DAY and _DAY % step == pd.Timedelta(0):
        per_day = int(_DAY // step)
        # A season the STL decomposition can estimate needs two full cycles in every series.
        seasons = tuple(m for m in (per_day, 7 * per_day) if 2 * m <= shortest)
        if seasons:
            return DataSettings(alias, seasons, "MSTL", per_day, shortest, len(sizes), extra)
        return DataSettings(alias, (1,), "AutoETS", per_day, shortest, len(sizes), extra)
    base = alias.split("-", 1)[0]
    seasons, horizon = _CALENDAR.get(base, ((1,), 4))
    if seasons[0] > 1 and 2 * seasons[0] > shortest:
        seasons = (1,)  # less than two seasons: a season cannot be estimated
    return DataSettings(alias, seasons, "AutoETS", horizon, shortest, len(sizes), extra)


def config_for(settings: DataSettings) -> ChronoguardConfig:
    """A configuration for data with these settings: the defaults, with the windows fitted.

    The model, frequency, seasons and horizon come from ``settings``. The first training
    window is the default (96 periods), shortened to the shortest series, and lengthened to
    what the seasons and the backtest need; a series shorter than that cannot be trained (the
    configuration is valid, and training names the short series).
    """
    s = settings
    model: dict[str, Any] = {"name": s.model}
    if s.model == "MSTL":
        model["params"] = {"season_lengths": list(s.season_lengths)}
    raw: dict[str, Any] = {
        "data": {"freq": s.freq, "season_length": s.season_length},
        "model": model,
        "forecast": {"horizon": s.horizon},
    }
    need = parse_config({**raw, "training": {"initial_window": 10**9}}).training_minimum()
    raw["training"] = {"initial_window": max(need, min(_INITIAL_WINDOW, s.shortest))}
    return parse_config(raw, source="(inferred from the data)")


def render_config(cfg: ChronoguardConfig, *, header: str = "") -> str:
    """``cfg`` as TOML, every section and key preceded by its description as a comment.

    Keys whose value is unset (no TOML null exists) are written commented out, so the file
    still shows them. ``header`` opens the file, each line as a comment. The text parses
    back to ``cfg`` (:func:`chronoguard.config.parse_config`).
    """
    out: list[str] = []
    if header:
        out += [wrapped for line in header.splitlines() for wrapped in _wrap(line)] + [""]
    values = cfg.to_dict()
    for section, field in type(cfg).model_fields.items():
        value = values[section]
        out += _wrap(_SECTIONS.get(section, field.description or ""))
        if isinstance(value, list):  # an array of tables: [[groups]]
            if not value:
                out += [f"# [[{section}]]", ""]
            for item in value:
                out += [f"[[{section}]]", *_keys(getattr(cfg, section)[0].__class__, item), ""]
            continue
        sub = getattr(cfg, section)
        out.append(f"[{section}]")
        tables: list[str] = []
        for key, val in value.items():
            if isinstance(val, list) and val and all(isinstance(v, dict) for v in val):
                item_cls = _item_class(type(sub), key)
                for item in val:
                    tables += ["", f"[[{section}.{key}]]", *_keys(item_cls, item)]
                continue
            out += _key(type(sub), key, val)
        out += tables
        out.append("")
    return "\n".join(out)


def _item_class(cls: type[BaseModel], key: str) -> type[BaseModel]:
    annotation = cls.model_fields[key].annotation
    (item,) = getattr(annotation, "__args__", (None,))
    if not (isinstance(item, type) and issubclass(item, BaseModel)):
        raise TypeError(f"{cls.__name__}.{key} is not a list of tables")
    return item


def _keys(cls: type[BaseModel], values: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, val in values.items():
        lines += _key(cls, key, val)
    return lines


def _key(cls: type[BaseModel], key: str, val: Any) -> list[str]:
    field = cls.model_fields.get(key)
    lines = _wrap(field.description or "") if field is not None else []
    if val is None:
        return [*lines, f"# {key} = (unset)"]
    if isinstance(val, list) and not val and field is not None:
        return [*lines, f"{key} = []"]
    return [*lines, f"{key} = {_toml_value(val)}"]


def _comment(line: str) -> str:
    return f"# {line}".rstrip()


def _wrap(text: str) -> list[str]:
    if not text:
        return []
    return [_comment(line) for line in textwrap.wrap(text, _WIDTH - 2)]
