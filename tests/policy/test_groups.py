"""Placing series in groups: glob and column rules, first match wins, groups that hold nothing."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pytest

from chronoguard.config import GroupConfig
from chronoguard.errors import ConfigError, DataContractError
from chronoguard.policy import GroupAssignment, SeriesGroup, resolve_groups, series_column_values

IDS = ["NSW1", "NSW2", "VIC1", "QLD1", "SA1"]


def frame(regions: Mapping[str, str | list[str]]) -> pd.DataFrame:
    rows = []
    for uid, region in regions.items():
        values = region if isinstance(region, list) else [region, region]
        for i, v in enumerate(values):
            rows.append(
                {
                    "unique_id": uid,
                    "ds": pd.Timestamp("2024-01-01") + pd.Timedelta(i, "D"),
                    "y": 1.0,
                    "region": v,
                }
            )
    return pd.DataFrame(rows)


REGIONS = {"NSW1": "East", "NSW2": "East", "VIC1": "South", "QLD1": "North", "SA1": "South"}


def test_glob_places_series_and_the_rest_get_the_defaults() -> None:
    groups = [
        GroupConfig(
            name="nsw", match="NSW*", tier="critical", cost_per_unit_error=35.0, model="AutoARIMA"
        ),
        GroupConfig(name="vic", match="VIC?", tier="low"),
    ]
    a = resolve_groups(groups, IDS, None, default_cost_per_unit_error=2.5)
    assert a["NSW1"] == SeriesGroup("nsw", "critical", 35.0, "AutoARIMA")
    assert a["NSW2"] == a["NSW1"]
    # A group without a cost takes the default cost, but keeps its own tier.
    assert a["VIC1"] == SeriesGroup("vic", "low", 2.5, None)
    assert a["QLD1"] == SeriesGroup(None, "standard", 2.5, None)
    assert a.members("nsw") == ("NSW1", "NSW2")
    assert a.members(None) == ("QLD1", "SA1")
    assert list(a) == IDS and len(a) == 5


def test_glob_is_case_sensitive() -> None:
    with pytest.raises(ConfigError, match="group 'lower'"):
        resolve_groups([GroupConfig(name="lower", match="nsw*")], IDS, None)


def test_first_match_wins() -> None:
    groups = [
        GroupConfig(name="one", match="NSW1", tier="critical"),
        GroupConfig(name="all-nsw", match="NSW*", tier="high"),
        GroupConfig(name="east", column="region", value="East", tier="low"),
    ]
    a = resolve_groups(groups, [*IDS, "TAS1"], frame(REGIONS | {"TAS1": "East"}))
    assert (a["NSW1"].group, a["NSW1"].tier) == ("one", "critical")
    assert (a["NSW2"].group, a["NSW2"].tier) == ("all-nsw", "high")
    assert (a["TAS1"].group, a["TAS1"].tier) == ("east", "low")


def test_column_rule_reads_each_series_value_from_the_data() -> None:
    groups = [
        GroupConfig(
            name="south", column="region", value="South", tier="high", cost_per_unit_error=4.0
        )
    ]
    a = resolve_groups(groups, IDS, frame(REGIONS))
    assert a.members("south") == ("VIC1", "SA1")
    assert a["VIC1"].cost_per_unit_error == 4.0
    table = a.to_frame()
    assert list(table.columns) == ["unique_id", "group", "tier", "cost_per_unit_error", "model"]
    assert table.set_index("unique_id").loc["SA1", "group"] == "south"


def test_numeric_column_values_match() -> None:
    df = frame({"a": "x", "b": "y"}).assign(zone=lambda d: d["unique_id"].map({"a": 3, "b": 4}))
    a = resolve_groups([GroupConfig(name="z3", column="zone", value=3)], ["a", "b"], df)
    assert a.members("z3") == ("a",)


def test_a_group_matching_no_series_names_the_group_its_rule_and_some_series() -> None:
    ids = [f"S{i:03d}" for i in range(20)]
    with pytest.raises(ConfigError) as info:
        resolve_groups([GroupConfig(name="critical-load", match="NSW*")], ids, None)
    text = str(info.value)
    assert "group 'critical-load' (match = \"NSW*\") matches none of the 20 series" in text
    assert "'S000', 'S001', 'S002', 'S003', 'S004', …" in text
    assert "'S005'" not in text
    assert "fix each group's rule, or remove the group" in text


def test_a_column_group_matching_nothing_lists_the_values_the_column_holds() -> None:
    groups = [GroupConfig(name="west", column="region", value="West")]
    with pytest.raises(ConfigError) as info:
        resolve_groups(groups, IDS, frame(REGIONS))
    text = str(info.value)
    assert "group 'west' (column = 'region', value = 'West') matches none of the 5 series" in text
    assert "the column holds 'East', 'South', 'North'" in text


def test_every_empty_group_is_reported_at_once() -> None:
    groups = [
        GroupConfig(name="none-a", match="X*"),
        GroupConfig(name="ok", match="NSW*"),
        GroupConfig(name="none-b", match="Y*"),
    ]
    with pytest.raises(ConfigError) as info:
        resolve_groups(groups, IDS, None)
    assert "'none-a'" in str(info.value) and "'none-b'" in str(info.value)
    assert "'ok'" not in str(info.value)


def test_a_group_shadowed_by_earlier_ones_is_an_error() -> None:
    groups = [GroupConfig(name="all", match="*"), GroupConfig(name="nsw", match="NSW*")]
    with pytest.raises(ConfigError) as info:
        resolve_groups(groups, IDS, None)
    text = str(info.value)
    assert "group 'nsw' (match = \"NSW*\") matches 2 series, but earlier groups take all" in text
    assert "'NSW1' by 'all'" in text
    assert "move it above them" in text


def test_column_group_without_data_says_to_pass_the_frame() -> None:
    with pytest.raises(ConfigError, match="no data was given: pass the frame"):
        resolve_groups([GroupConfig(name="g", column="region", value="East")], IDS, None)


def test_column_the_data_lacks_lists_its_columns() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_groups([GroupConfig(name="g", column="zone", value=1)], IDS, frame(REGIONS))
    text = str(info.value)
    assert "group 'g' reads column 'zone', which the data does not have" in text
    assert "unique_id, ds, y, region" in text


def test_a_series_with_several_values_in_the_column_is_an_error() -> None:
    regions = REGIONS | {"VIC1": ["South", "East", "South"]}
    with pytest.raises(ConfigError) as info:
        resolve_groups([GroupConfig(name="g", column="region", value="East")], IDS, frame(regions))
    text = str(info.value)
    assert "1 series hold several values in it: 'VIC1' ('South', 'East')" in text
    assert "must hold one value per series" in text


def test_series_missing_from_the_data_are_reported() -> None:
    with pytest.raises(DataContractError, match="1 series have no rows in the data"):
        resolve_groups(
            [GroupConfig(name="g", column="region", value="East")], [*IDS, "WA1"], frame(REGIONS)
        )


def test_series_column_values_one_per_series() -> None:
    values = series_column_values(frame(REGIONS), "region")
    assert values.to_dict() == REGIONS


def test_assignment_of_an_unknown_series() -> None:
    a = resolve_groups([], ["a"], None)
    assert isinstance(a, GroupAssignment)
    with pytest.raises(KeyError, match="'b' was not among the series"):
        a["b"]


def test_no_series_is_an_error() -> None:
    with pytest.raises(ConfigError, match="at least one series"):
        resolve_groups([], [], None)
