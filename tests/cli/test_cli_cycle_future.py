"""`chronoguard cycle` and `schedule` for a model with exogenous inputs, end to end.

A SARIMAX version with the petrol price and the seatbelt law as inputs serves its forecasts
from each cycle's time. Past the data's history the inputs come from `--future FILE` or
from rows with an empty y, and the cycle serves the whole horizon from them, the same
forecasts as `chronoguard forecast` with the same inputs; where the inputs end, it serves
what they cover and says so. Commands run in-process against real workspaces (MLflow and
SQLite).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.data import dataset_path
from chronoguard.lifecycle import open_workspace
from tests.cli.test_cli_access import Cli

EXOG = ["PetrolPrice", "law"]
H = 6
CONFIG = f"""
[data]
freq = "MS"
season_length = 12
exog = {EXOG}

[model]
name = "SARIMAX"
registered_name = "uk"

[forecast]
horizon = {H}

[training]
initial_window = 96
backtest_windows = 2
"""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cycle-future")
    seat = pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y", *EXOG]]
    history, ahead = seat.iloc[:180], seat.iloc[180 : 180 + H]
    paths = {k: d / f"{k}.csv" for k in ("history", "future", "both", "config")}
    history.to_csv(paths["history"], index=False)
    ahead.drop(columns="y").to_csv(paths["future"], index=False)
    pd.concat([history, ahead.assign(y=float("nan"))]).to_csv(paths["both"], index=False)
    paths["config"].write_text(CONFIG)
    return paths


def _first_cycle(cli: Cli, root: Path, files: dict[str, Path]) -> str:
    """A workspace whose first cycle ran one period before the history's end: it trained
    version 1 and served what the inputs in the data cover from there (one period)."""
    assert cli("init", "-w", root, "-c", files["config"])[0] == 0
    code, out, err = cli("token", "create", "root", "--role", "admin", "-w", root)
    assert code == 0, err
    token = out.strip()
    code, out, err = cli(
        "cycle", "-w", root, "-d", files["history"], "--now", "1983-11-01", "--json", token=token
    )
    assert code == 0, err
    assert json.loads(out)["forecasts_served"] == 1
    assert f"1 of the {H} forecasts due from 1983-11-01" in err and "--future FILE" in err
    return token


def _served(root: Path, origin: str) -> pd.DataFrame:
    with open_workspace(root) as ws:
        fc = ws.store.get_forecasts()
    fc = fc[fc["origin"] == pd.Timestamp(origin)]
    return fc.sort_values("ds")[["ds", "yhat", "version", "alias"]].reset_index(drop=True)


def test_a_cycle_serves_the_whole_horizon_from_future_inputs(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    token = _first_cycle(cli, a, files)
    code, out, err = cli(
        "cycle", "-w", a, "-d", files["history"], "--future", files["future"], "--json", token=token
    )
    assert code == 0, err
    got = json.loads(out)
    assert (got["now"][:10], got["forecasts_served"]) == ("1983-12-01", H)
    assert "note:" not in err
    served = _served(a, "1983-12-01")
    expected_ds = pd.to_datetime(pd.read_csv(files["future"])["ds"])
    assert served["ds"].tolist() == expected_ds.tolist()
    assert set(served["version"]) == {"1"} and set(served["alias"]) == {"champion"}
    # The same forecasts as `chronoguard forecast` with the same inputs.
    out_csv = tmp_path / "fc.csv"
    code, _, err = cli(
        "forecast", "-w", a, "-d", files["history"], "-f", files["future"], "-o", out_csv
    )
    assert code == 0, err
    direct = pd.read_csv(out_csv)
    assert served["yhat"].to_numpy() == pytest.approx(direct["yhat"].to_numpy(), rel=1e-9)
    # The inputs matter: without them the cycle could not have served these targets.
    assert served["yhat"].notna().all()

    # The same inputs as rows with an empty y, read by `schedule` at its one tick.
    token_b = _first_cycle(cli, b, files)
    code, out, err = cli(
        "schedule", "-w", b, "-d", files["both"], "--ticks", "1", "--json", token=token_b
    )
    assert code == 0, err
    (line,) = [json.loads(x) for x in out.splitlines() if x.strip()]
    assert (line["now"][:10], line["forecasts_served"]) == ("1983-12-01", H)
    pd.testing.assert_frame_equal(_served(b, "1983-12-01"), served)
    # The other commands read the same file: its future rows are not history.
    code, out, err = cli("monitor", "-w", b, "-d", files["both"], "--json", token=token_b)
    assert code in (0, 3), err
    assert json.loads(out)["at"][:10] == "1983-12-01"


def test_future_inputs_missing_or_given_twice(
    cli: Cli, files: dict[str, Path], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    token = _first_cycle(cli, root, files)
    # Given twice: named, exit 2, and the cycle was not begun.
    code, out, err = cli(
        "cycle", "-w", root, "-d", files["both"], "-f", files["future"], token=token
    )
    assert code == 2 and not out.strip()
    assert "future inputs are given twice" in err
    with open_workspace(root) as ws:
        assert [pd.Timestamp(c.now) for c in ws.store.list_cycles(ws.model_name)] == [
            pd.Timestamp("1983-11-01")
        ]
    # None at all at the history's end: the cycle runs (actuals, check), serves nothing
    # and says what is missing and how to give it.
    code, out, err = cli("cycle", "-w", root, "-d", files["history"], "--json", token=token)
    assert code == 0, err
    assert json.loads(out)["forecasts_served"] == 0
    note = " ".join(err.split())
    assert f"0 of the {H} forecasts due from 1983-12-01" in note
    assert "PetrolPrice, law" in note and "--future FILE" in note
    # A model without inputs refuses a --future file.
    plain = tmp_path / "plain.toml"
    plain.write_text(CONFIG.replace(f"exog = {EXOG}\n", "").replace("SARIMAX", "SeasonalNaive"))
    other = tmp_path / "plain"
    assert cli("init", "-w", other, "-c", plain)[0] == 0
    code, out, _ = cli("token", "create", "root", "--role", "admin", "-w", other)
    code, _, err = cli(
        "cycle", "-w", other, "-d", files["history"], "-f", files["future"], token=out.strip()
    )
    assert code == 2 and "the model uses no exogenous columns" in err
