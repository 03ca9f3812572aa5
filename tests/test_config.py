from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chronoguard.config import ChronoguardConfig, dump_config, load_config, parse_config
from chronoguard.errors import ConfigError


def test_defaults_round_trip_through_toml(tmp_path: Path) -> None:
    cfg = ChronoguardConfig()
    p = tmp_path / "c.toml"
    p.write_text(dump_config(cfg))
    assert load_config(p) == cfg
    assert tomllib.loads(dump_config(cfg))["model"]["name"] == "AutoETS"


def test_unknown_model_name_lists_valid_names() -> None:
    with pytest.raises(
        ConfigError, match=r"model.name: unknown model name 'Prophet'; valid names: AutoARIMA"
    ):
        parse_config({"model": {"name": "Prophet"}})


def test_every_problem_is_reported_with_its_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "gate": {"margin": 2, "typo": 1},
                "retraining": {"k": 4, "n": 3},
                "forecast": {"horizon": 0},
            }
        )
    text = str(info.value)
    for key in ("gate.margin", "gate.typo: unknown key", "retraining", "forecast.horizon"):
        assert key in text


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[model\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")


def test_windows_that_cannot_work_together_are_refused_with_the_arithmetic() -> None:
    raw = {
        "data": {"season_length": 52},
        "training": {"initial_window": 100, "retrain_window": 50},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    msg = str(info.value)
    assert "training.initial_window = 100" in msg and "needs (2 seasons of 52" in msg
    assert "= 140" in msg and "training.retrain_window = 50" in msg
    assert parse_config({**raw, "training": {"initial_window": 140}}).training_minimum() == 140


def test_an_error_check_that_could_never_run_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"monitoring\.decay_horizon = 13 is beyond"):
        parse_config({"monitoring": {"decay_horizon": 13}})
    with pytest.raises(ConfigError, match=r"monitoring\.window = 3 holds fewer than 2 errors"):
        parse_config({"monitoring": {"decay_horizon": 3, "window": 3}})
    assert parse_config({"monitoring": {"decay_horizon": 3, "window": 4}}).monitoring.window == 4
