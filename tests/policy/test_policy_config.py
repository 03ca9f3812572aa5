"""The [[groups]] and [budget] sections: parsing, round trip, and errors that name key and fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chronoguard.config import ChronoguardConfig, dump_config, load_config, parse_config
from chronoguard.errors import ConfigError

EXAMPLE = """
[[groups]]
name = "critical-load"
match = "NSW*"
tier = "critical"
cost_per_unit_error = 35.0
model = "AutoETS"

[[groups]]
name = "north"
column = "region"
value = "North"
tier = "high"
cost_per_unit_error = 12.5

[budget]
cpu_seconds_per_cycle = 600
money_per_cycle = 0.05
price_per_cpu_second = 0.0001
default_cost_per_unit_error = 1.0
"""


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


def test_the_documented_example_parses(tmp_path: Path) -> None:
    p = tmp_path / "chronoguard.toml"
    p.write_text(EXAMPLE)
    cfg = load_config(p)
    assert [g.name for g in cfg.groups] == ["critical-load", "north"]
    assert cfg.groups[0].match == "NSW*" and cfg.groups[0].tier == "critical"
    assert cfg.groups[0].model == "AutoETS"
    assert cfg.groups[1].column == "region" and cfg.groups[1].value == "North"
    assert cfg.budget.cpu_seconds_per_cycle == 600
    assert cfg.budget.price_per_cpu_second == 0.0001
    assert cfg.budget.limited


def test_groups_and_budget_round_trip_through_toml(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text(EXAMPLE)
    cfg = load_config(p)
    text = dump_config(cfg)
    assert tomllib.loads(text)["groups"][1]["value"] == "North"
    p.write_text(text)
    assert load_config(p) == cfg


def test_defaults_have_no_groups_and_no_limit() -> None:
    cfg = ChronoguardConfig()
    assert cfg.groups == []
    assert not cfg.budget.limited
    assert cfg.budget.default_cost_per_unit_error == 1.0


@pytest.mark.parametrize(
    "key", ["cpu_seconds_per_cycle", "money_per_cycle", "price_per_cpu_second"]
)
def test_negative_budget_names_the_key_and_the_fix(key: str) -> None:
    text = _error({"budget": {key: -5}})
    assert f"budget.{key} = -5.0 must be a finite number ≥ 0" in text
    assert "use 0 (or leave it out) for no limit" in text


def test_infinite_default_cost_is_refused() -> None:
    text = _error({"budget": {"default_cost_per_unit_error": float("inf")}})
    assert "budget.default_cost_per_unit_error = inf must be a finite number ≥ 0" in text


def test_money_budget_needs_a_price() -> None:
    text = _error({"budget": {"money_per_cycle": 5}})
    assert "budget.money_per_cycle = 5.0 needs budget.price_per_cpu_second" in text
    assert "price_per_cpu_second = 0.0001" in text


def test_money_budget_needs_every_groups_cost_and_names_the_group() -> None:
    text = _error(
        {
            "budget": {"money_per_cycle": 5, "price_per_cpu_second": 0.001},
            "groups": [
                {"name": "priced", "match": "A*", "cost_per_unit_error": 2.0},
                {"name": "unpriced", "match": "B*", "tier": "high"},
            ],
        }
    )
    assert "groups.1 ('unpriced', tier high): cost_per_unit_error is missing" in text
    assert "'priced'" not in text
    assert "set cost_per_unit_error in each group" in text


def test_a_group_without_cost_is_fine_without_a_money_budget() -> None:
    cfg = parse_config({"groups": [{"name": "a", "match": "A*"}]})
    assert cfg.groups[0].cost_per_unit_error is None


@pytest.mark.parametrize(
    ("group", "has"),
    [
        ({"match": "A*", "column": "region", "value": "North"}, "sets both"),
        ({"tier": "low"}, "sets neither"),
    ],
)
def test_exactly_one_of_match_and_column(group: dict, has: str) -> None:
    text = _error({"groups": [{"name": "g", **group}]})
    assert f"groups.0: group 'g' {has} of match and column: set exactly one" in text
    assert 'match = "NSW*"' in text and 'column = "region" with value = "North"' in text


def test_column_needs_a_value_and_value_needs_a_column() -> None:
    text = _error({"groups": [{"name": "g", "column": "region"}]})
    assert "group 'g': column = 'region' needs a value" in text
    text = _error({"groups": [{"name": "g", "match": "A*", "value": 3}]})
    assert "group 'g': value is only read with column" in text


def test_unknown_tier_lists_the_tiers() -> None:
    text = _error({"groups": [{"name": "g", "match": "A*", "tier": "urgent"}]})
    assert "groups.0: group 'g': tier = 'urgent' is unknown" in text
    assert "set tier to one of critical, high, standard, low" in text


def test_unknown_group_model_lists_the_models() -> None:
    text = _error({"groups": [{"name": "g", "match": "A*", "model": "Prophet"}]})
    assert "group 'g': unknown model name 'Prophet'; valid names: AutoARIMA" in text


def test_a_group_may_choose_its_own_model() -> None:
    own = {"groups": [{"name": "east", "match": "E*", "model": "SeasonalNaive"}]}
    cfg = parse_config({"model": {"name": "AutoETS"}, **own})
    assert (cfg.model.name, cfg.groups[0].model) == ("AutoETS", "SeasonalNaive")
    # The guards of model.name hold for a group's model too: a seasonal ARIMA on a long
    # season is refused at load, naming the group.
    arima = {"groups": [{"name": "east", "match": "E*", "model": "SARIMAX"}]}
    text = _error({"data": {"freq": "h", "season_length": 168}, **arima})
    assert "groups 'east': model = 'SARIMAX' with data.season_length = 168" in text


def test_negative_group_cost_names_the_group() -> None:
    text = _error({"groups": [{"name": "g", "match": "A*", "cost_per_unit_error": -1}]})
    assert "group 'g': cost_per_unit_error = -1.0 must be a finite number ≥ 0" in text


def test_duplicate_group_names_are_refused() -> None:
    text = _error({"groups": [{"name": "g", "match": "A*"}, {"name": "g", "match": "B*"}]})
    assert "the name(s) 'g' appear more than once" in text


def test_unknown_keys_in_the_new_sections_are_reported() -> None:
    text = _error({"budget": {"cpu_per_cycle": 1}, "groups": [{"name": "g", "match": "A", "x": 1}]})
    assert "budget.cpu_per_cycle: unknown key" in text
    assert "groups.0.x: unknown key" in text
