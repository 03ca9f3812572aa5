"""The configuration a data file implies, written as commented TOML; and the long-season guard."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.config import (
    ARIMA_SEASON_LIMIT,
    ChronoguardConfig,
    load_config,
    parse_config,
)
from chronoguard.config_template import DataSettings, config_for, infer_settings, render_config
from chronoguard.data import load_dataset, validate_frame
from chronoguard.errors import ConfigError


def _settings(df: pd.DataFrame) -> DataSettings:
    checked = validate_frame(df, exog=[c for c in df.columns if c not in ("unique_id", "ds", "y")])
    return infer_settings(checked.df, checked.freq)


@pytest.fixture(scope="module")
def quarterly() -> pd.DataFrame:
    """Three series of the bundled tourism data (80 quarters each, from 1998-01)."""
    df = load_dataset("tourism")
    return df[df["unique_id"].isin(df["unique_id"].unique()[:3])].reset_index(drop=True)


@pytest.fixture(scope="module")
def half_hourly() -> pd.DataFrame:
    """Three weeks of the bundled half-hourly electricity demand, with temperature."""
    return load_dataset("vic_elec").iloc[: 3 * 336].reset_index(drop=True)


def test_quarterly_data_gets_qs_and_a_season_of_four(quarterly: pd.DataFrame) -> None:
    s = _settings(quarterly)
    # pandas calls quarters from January QS-OCT; the same dates as QS, which users know.
    assert (s.freq, s.season_lengths, s.model) == ("QS", (4,), "AutoETS")
    cfg = config_for(s)
    assert (cfg.data.freq, cfg.data.season_length, cfg.model.name) == ("QS", 4, "AutoETS")
    # The default first window (96) is longer than the 80 quarters: cut to the data.
    assert cfg.training.initial_window == 80


def test_half_hourly_data_gets_a_day_and_a_week_and_mstl(half_hourly: pd.DataFrame) -> None:
    s = _settings(half_hourly)
    assert (s.freq, s.season_lengths, s.model, s.horizon) == ("30min", (48, 336), "MSTL", 48)
    assert s.extra_columns == ("temperature", "holiday")
    cfg = config_for(s)
    assert cfg.data.season_length == 48
    assert cfg.model.params == {"season_lengths": [48, 336]}
    # Two weeks + a day of horizon + two more backtest days.
    assert cfg.training.initial_window == cfg.training_minimum() == 2 * 336 + 48 + 2 * 48


def test_sub_daily_data_shorter_than_two_weeks_keeps_the_day_only(
    half_hourly: pd.DataFrame,
) -> None:
    s = _settings(half_hourly.iloc[: 10 * 48])
    assert (s.season_lengths, s.model) == ((48,), "MSTL")


def test_other_calendars() -> None:
    def frame(freq: str, n: int) -> pd.DataFrame:
        ds = pd.date_range("2021-01-04", periods=n, freq=freq)
        return pd.DataFrame({"unique_id": "a", "ds": ds, "y": range(n)})

    assert _settings(frame("D", 60)).season_lengths == (7,)
    assert _settings(frame("MS", 48)).season_lengths == (12,)
    assert _settings(frame("h", 24 * 15)).season_lengths == (24, 168)
    assert _settings(frame("YS", 30)).season_lengths == (1,)
    assert _settings(frame("MS", 18)).season_lengths == (1,)  # under two years: no season


def test_written_toml_loads_back_and_explains_every_key(
    half_hourly: pd.DataFrame, tmp_path: Path
) -> None:
    cfg = config_for(_settings(half_hourly))
    text = render_config(cfg, header="made for a test")
    path = tmp_path / "chronoguard.toml"
    path.write_text(text)
    assert load_config(path) == cfg
    lines = text.splitlines()
    assert lines[0] == "# made for a test"
    assert 'freq = "30min"' in lines and "params = {season_lengths = [48, 336]}" in lines
    # Every key line is preceded by a comment line: its description.
    keys = [i for i, line in enumerate(lines) if line and not line.startswith(("#", "["))]
    assert keys and all(lines[i - 1].startswith("# ") for i in keys)
    assert "# pandas frequency alias (MS, QS, D, h, 30min...); inferred when omitted" in text
    # An unset key (TOML has no null) is shown commented out.
    assert "# fallback_model = (unset)" in lines


def test_every_setting_has_a_description() -> None:
    missing = []
    for section, field in ChronoguardConfig.model_fields.items():
        cls = getattr(field.annotation, "model_fields", None)
        for key, sub in (cls or {}).items():
            if not sub.description:
                missing.append(f"{section}.{key}")
    assert missing == []


def test_tables_of_tables_are_written_and_load_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CG_TEST_HOOK", "https://example.org/hook")
    cfg = parse_config(
        {
            "groups": [{"name": "big", "match": "a*", "tier": "high"}],
            "alerting": {
                "channels": [{"name": "ops", "kind": "webhook", "url_env": "CG_TEST_HOOK"}]
            },
            "approvals": {"policy": {"high": "one"}},
        }
    )
    text = render_config(cfg)
    assert "[[groups]]" in text and "[[alerting.channels]]" in text
    assert parse_config(tomllib.loads(text)) == cfg


# --- the guard against seasonal ARIMA with long seasons --------------------------------


def test_sarimax_with_a_season_of_48_is_refused_saying_what_to_use() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"data": {"season_length": 48}, "model": {"name": "SARIMAX"}})
    message = str(caught.value)
    assert "model.name = 'SARIMAX' with data.season_length = 48" in message
    assert f"longer than {ARIMA_SEASON_LIMIT} periods" in message
    assert 'model.name = "MSTL" with model.params = {season_lengths = [48, 336]}' in message
    assert "Fourier terms" in message and "shorter season" in message
    assert "model.allow_long_season = true" in message


def test_the_guard_covers_autoarima_and_the_fallback_model() -> None:
    with pytest.raises(ConfigError, match=r"model\.name = 'AutoARIMA'"):
        parse_config({"data": {"season_length": 48}, "model": {"name": "AutoARIMA"}})
    with pytest.raises(ConfigError, match=r"forecast\.fallback_model = 'SARIMAX'"):
        parse_config({"data": {"season_length": 48}, "forecast": {"fallback_model": "SARIMAX"}})


def test_the_guard_lets_through_short_seasons_non_seasonal_arima_and_the_override() -> None:
    limit = ARIMA_SEASON_LIMIT
    base = {"training": {"initial_window": 400}}
    assert parse_config({**base, "data": {"season_length": limit}, "model": {"name": "SARIMAX"}})
    assert parse_config(
        {
            **base,
            "data": {"season_length": 48},
            "model": {"name": "AutoARIMA", "params": {"seasonal": False}},
        }
    )
    cfg = parse_config(
        {
            **base,
            "data": {"season_length": 48},
            "model": {"name": "SARIMAX", "allow_long_season": True},
        }
    )
    assert cfg.model.allow_long_season


def test_season_lengths_belong_to_mstl_and_size_the_training_window() -> None:
    with pytest.raises(ConfigError, match="season_lengths is a parameter of MSTL, not of AutoETS"):
        parse_config({"model": {"params": {"season_lengths": [48, 336]}}})
    with pytest.raises(ConfigError, match="must be a list of integers >= 2"):
        parse_config({"model": {"name": "MSTL", "params": {"season_lengths": [1]}}})
    # The weekly season of 336 sets how long a first window must be, not the daily 48.
    with pytest.raises(ConfigError, match="2 seasons of 336"):
        parse_config(
            {
                "data": {"freq": "30min", "season_length": 48},
                "model": {"name": "MSTL", "params": {"season_lengths": [48, 336]}},
                "forecast": {"horizon": 48},
                "training": {"initial_window": 300},
            }
        )
