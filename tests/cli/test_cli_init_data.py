"""`chronoguard init --data FILE`: a commented configuration inferred from the file.

Commands run in-process, on small cuts of the bundled quarterly tourism and half-hourly
Victoria electricity data.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.config import ChronoguardConfig, load_config
from chronoguard.data import load_dataset
from tests.cli.test_cli_access import Cli


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("init-data")
    tourism = load_dataset("tourism")
    paths = {k: d / f"{k}.csv" for k in ("quarterly", "half_hourly", "broken")}
    tourism[tourism["unique_id"].isin(tourism["unique_id"].unique()[:2])].to_csv(
        paths["quarterly"], index=False
    )
    # Three weeks of demand with temperature: two weeks for the weekly season, and more.
    elec = load_dataset("vic_elec").iloc[: 3 * 336]
    elec.to_csv(paths["half_hourly"], index=False)
    pd.concat([elec.head(5), elec.head(1)]).to_csv(paths["broken"], index=False)
    return paths


def test_quarterly_file_gives_qs_and_season_4(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    code, out, err = cli("init", "-w", ws, "--data", files["quarterly"])
    assert code == 0, err
    assert "freq QS, seasons [4] → model AutoETS" in out
    text = (ws / "chronoguard.toml").read_text()
    raw = tomllib.loads(text)
    assert raw["data"] == {"freq": "QS", "season_length": 4, "exog": []}
    assert raw["model"]["name"] == "AutoETS"
    assert "# Inferred from quarterly.csv: 2 series of 80 or more periods" in text
    assert load_config(ws / "chronoguard.toml").training.initial_window == 80


def test_half_hourly_file_gives_30min_seasons_48_336_and_mstl(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    code, out, err = cli("init", "-w", ws, "--data", files["half_hourly"], "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["inferred"] == {
        "freq": "30min",
        "season_lengths": [48, 336],
        "model": "MSTL",
        "horizon": 48,
    }
    cfg = load_config(ws / "chronoguard.toml")
    assert (cfg.data.freq, cfg.data.season_length) == ("30min", 48)
    assert (cfg.model.name, cfg.model.params) == ("MSTL", {"season_lengths": [48, 336]})
    text = (ws / "chronoguard.toml").read_text()
    assert "Other columns in the file: temperature, holiday; list them in data.exog" in text
    assert "# the forecaster: AutoETS, AutoARIMA, SARIMAX" in text

    # The workspace trains and forecasts with what was inferred.
    code, out, err = cli("token", "create", "root", "--role", "admin", "-w", ws)
    assert code == 0, err
    token = out.strip()
    code, out, err = cli("train", "-w", ws, "-d", files["half_hourly"], token=token)
    assert code == 0 and "deployed" in out, err
    forecast = tmp_path / "fc.csv"
    code, out, err = cli("forecast", "-w", ws, "-d", files["half_hourly"], "-o", forecast)
    assert code == 0, err
    assert len(pd.read_csv(forecast)) == 48


def test_plain_init_writes_a_commented_config_too(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code, _, err = cli("init", "-w", ws)
    assert code == 0, err
    text = (ws / "chronoguard.toml").read_text()
    assert "# periods ahead each forecast covers\nhorizon = 12" in text
    assert load_config(ws / "chronoguard.toml") == ChronoguardConfig()


def test_data_and_config_together_are_refused(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nname = 'Naive'\n")
    code, out, err = cli("init", "-w", tmp_path / "ws", "-d", files["quarterly"], "-c", cfg)
    assert code == 2 and not out
    assert "give one of them" in err
    assert not (tmp_path / "ws").exists()


def test_a_file_that_breaks_the_contract_is_named_and_nothing_is_written(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    code, _, err = cli("init", "-w", tmp_path / "ws", "--data", files["broken"])
    assert code == 2
    assert "duplicate" in err
    assert not (tmp_path / "ws").exists()
