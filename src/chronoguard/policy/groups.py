"""Which group, tier, cost of error and model each series belongs to.

The ``[[groups]]`` tables of the configuration are tried in order and the first whose rule
matches a series wins; series that no group matches get the defaults (tier ``standard``,
``budget.default_cost_per_unit_error``, the configuration's model). A rule is a glob on
``unique_id`` (``match = "NSW*"``) or a column of the data with a value
(``column = "region"``, ``value = "North"``).

Whether a rule matches anything is only known once the series are known, so the check that
every group holds at least one series happens here, not when the file is read.

Examples
--------
>>> from chronoguard.config import GroupConfig
>>> groups = [GroupConfig(name="nsw", match="NSW*", tier="critical", cost_per_unit_error=35.0)]
>>> a = resolve_groups(groups, ["NSW1", "VIC1"], None)
>>> a["NSW1"].tier, a["NSW1"].cost_per_unit_error, a["VIC1"].group, a["VIC1"].tier
('critical', 35.0, None, 'standard')
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chronoguard.config import GroupConfig, Tier
from chronoguard.errors import ConfigError, DataContractError

_SHOWN = 5  # series ids or values quoted in a message


@dataclass(frozen=True, slots=True)
class SeriesGroup:
    """What a series' group says about it.

    ``group`` is ``None`` for a series no group matched (it gets the defaults); ``model`` is
    ``None`` when the group does not choose one (the configuration's ``model.name`` applies).
    """

    group: str | None
    tier: Tier
    cost_per_unit_error: float
    model: str | None = None


@dataclass(frozen=True)
class GroupAssignment:
    """The group of every series, in the order the series were given."""

    series: Mapping[str, SeriesGroup]

    def __getitem__(self, unique_id: str) -> SeriesGroup:
        try:
            return self.series[unique_id]
        except KeyError:
            raise KeyError(
                f"series {unique_id!r} was not among the series the groups were resolved for"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def members(self, group: str | None) -> tuple[str, ...]:
        """The series of ``group`` (``None``: the series no group matched)."""
        return tuple(u for u, g in self.series.items() if g.group == group)

    def to_frame(self) -> pd.DataFrame:
        """One row per series: ``unique_id, group, tier, cost_per_unit_error, model``."""
        return pd.DataFrame(
            {
                "unique_id": list(self.series),
                "group": [g.group for g in self.series.values()],
                "tier": [g.tier for g in self.series.values()],
                "cost_per_unit_error": [g.cost_per_unit_error for g in self.series.values()],
                "model": [g.model for g in self.series.values()],
            }
        )


def series_column_values(
    frame: pd.DataFrame, column: str, *, group: str | None = None
) -> pd.Series:
    """The one value each series holds in ``column``, indexed by ``unique_id``.

    Raises
    ------
    ConfigError
        When the frame has no such column, or a series holds several values in it (a group
        rule on the column could not place that series). ``group`` names the group asking,
        for the message.

    Examples
    --------
    >>> df = pd.DataFrame({"unique_id": ["a", "a", "b"], "region": ["N", "N", "S"]})
    >>> series_column_values(df, "region").to_dict()
    {'a': 'N', 'b': 'S'}
    """
    asking = f"group '{group}' reads column {column!r}" if group else f"column {column!r}"
    if column not in frame.columns:
        raise ConfigError(
            f"{asking}, which the data does not have; its columns are "
            f"{', '.join(map(str, frame.columns))}: fix the group's column"
        )
    pairs = frame[["unique_id", column]].drop_duplicates()
    several = pairs["unique_id"].duplicated(keep=False)
    if several.any():
        bad = pairs[several].groupby("unique_id", sort=True, observed=True)[column]
        shown = [
            f"{uid!r} ({', '.join(map(repr, vals.tolist()[:3]))})"
            for uid, vals in list(bad)[:_SHOWN]
        ]
        raise ConfigError(
            f"{asking}, but {bad.ngroups} series hold several values in it: "
            f"{'; '.join(shown)}; a group column must hold one value per series "
            "(use a glob on unique_id, or a column that is constant within each series)"
        )
    return pairs.set_index("unique_id")[column]


def resolve_groups(
    groups: Sequence[GroupConfig],
    series_ids: Iterable[str],
    frame: pd.DataFrame | None,
    *,
    default_cost_per_unit_error: float = 1.0,
) -> GroupAssignment:
    """Place every series in the first group whose rule matches it.

    Parameters
    ----------
    groups
        The configuration's ``groups``, in file order.
    series_ids
        The series to place (duplicates are placed once).
    frame
        The data in the long format, needed when a group selects by ``column``; it must hold
        rows for every series (``None`` is fine when every rule is a glob).
    default_cost_per_unit_error
        The cost of error of series no group matches, and of groups that state none
        (``budget.default_cost_per_unit_error``).

    Raises
    ------
    ConfigError
        Naming each group whose rule matches none of the series, or whose series are all
        taken by earlier groups (first match wins), with a few series ids; or a column group
        without data, a column the data lacks, a column with several values in one series.
    DataContractError
        When a column group needs the data and the frame lacks some of the series.
    """
    ids = list(dict.fromkeys(series_ids))
    if not ids:
        raise ConfigError("resolve_groups needs at least one series id; pass the fleet's series")
    n = len(ids)
    owner = np.full(n, -1, dtype=np.int64)  # index of the winning group, -1 for the defaults
    problems: list[str] = []
    columns: dict[str, pd.Series] = {}  # each column's value per series, read once
    for gi, g in enumerate(groups):
        hit = _matches(g, ids, frame, columns)
        won = hit & (owner < 0)
        if not hit.any():
            problems.append(
                f"{_describe(g)} matches none of the {n} series{_found(g, ids, columns)}"
            )
        elif not won.any():
            firsts: dict[str, str] = {}  # the first series each earlier group takes
            for i in np.flatnonzero(hit)[:_SHOWN].tolist():
                firsts.setdefault(groups[owner[i]].name, ids[i])
            taken = ", ".join(f"{uid!r} by '{name}'" for name, uid in firsts.items())
            problems.append(
                f"{_describe(g)} matches {int(hit.sum())} series, but earlier groups take all "
                f"of them (first match wins; e.g. {taken}): move it above them or narrow them"
            )
        owner[won] = gi
    if problems:
        raise ConfigError(
            "groups that hold no series:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nfix each group's rule, or remove the group"
        )
    default = SeriesGroup(None, "standard", float(default_cost_per_unit_error), None)
    resolved = [
        SeriesGroup(
            g.name,
            g.tier,
            float(
                default_cost_per_unit_error
                if g.cost_per_unit_error is None
                else g.cost_per_unit_error
            ),
            g.model,
        )
        for g in groups
    ]
    return GroupAssignment(
        {u: (resolved[o] if o >= 0 else default) for u, o in zip(ids, owner.tolist(), strict=True)}
    )


def _describe(g: GroupConfig) -> str:
    return f"group '{g.name}' ({g.rule()})"


def _matches(
    g: GroupConfig, ids: list[str], frame: pd.DataFrame | None, columns: dict[str, pd.Series]
) -> np.ndarray:
    if g.match is not None:
        rx = re.compile(fnmatch.translate(g.match))  # case-sensitive, like fnmatchcase
        return np.fromiter((rx.match(str(u)) is not None for u in ids), dtype=bool, count=len(ids))
    assert g.column is not None  # GroupConfig holds exactly one rule
    if frame is None:
        raise ConfigError(
            f"{_describe(g)} selects series by a column of the data, but no data was given: "
            "pass the frame to resolve_groups"
        )
    if g.column not in columns:
        values = series_column_values(frame, g.column, group=g.name)
        missing = [u for u in ids if u not in values.index]
        if missing:
            raise DataContractError(
                [
                    f"{len(missing)} series have no rows in the data, so {_describe(g)} cannot "
                    f"place them (e.g. {', '.join(map(repr, missing[:_SHOWN]))}); pass the "
                    "frame that holds every series"
                ]
            )
        columns[g.column] = values.reindex(ids)
    return (columns[g.column] == g.value).to_numpy(dtype=bool, na_value=False)


def _found(g: GroupConfig, ids: list[str], columns: dict[str, pd.Series]) -> str:
    """What the rule was tried on, so the reader can see why it missed."""
    if g.column is not None:
        held = columns[g.column].dropna().drop_duplicates().tolist()
        return f"; the column holds {', '.join(map(repr, held[:_SHOWN]))}" + (
            ", …" if len(held) > _SHOWN else ""
        )
    more = ", …" if len(ids) > _SHOWN else ""
    return f" (e.g. {', '.join(map(repr, ids[:_SHOWN]))}{more})"
