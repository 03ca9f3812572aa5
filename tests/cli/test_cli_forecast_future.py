"""`chronoguard forecast` with future inputs and with new series, end to end.

A SARIMAX version with the petrol price and the seatbelt law as exogenous inputs, trained
with `chronoguard init` and `train` in a temporary workspace, forecasts with `--future FILE`
and with rows of an empty y after the history; the mistakes around them are named, exit 2.
A SeasonalNaive version of three series meets a fourth: an error naming it, or the config's
fallback model. Commands run in-process (one import of MLflow for the module)."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from chronoguard.data import dataset_path
from chronoguard.lifecycle import open_workspace
from tests.cli.test_cli_access import Cli

EXOG = ["PetrolPrice", "law"]
H = 6
CONFIG = """
[data]
freq = "MS"
season_length = 12
exog = {exog}

[model]
name = "{name}"
registered_name = "uk"

[forecast]
horizon = 6
{forecast}

[training]
initial_window = 96
backtest_windows = 2
"""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def _workspace(root: Path, cli: Cli, *, name: str, exog: list[str], data: Path) -> str:
    cfg = root.parent / "config.toml"
    cfg.write_text(CONFIG.format(exog=exog, name=name, forecast=""))
    code, _, err = cli("init", "-w", root, "-c", cfg)
    assert code == 0, err
    code, out, err = cli("token", "create", "root", "--role", "admin", "-w", root)
    assert code == 0, err
    token = out.strip()
    code, out, err = cli("train", "-w", root, "-d", data, token=token)
    assert code == 0 and "deployed" in out, err
    return token


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("future-files")
    seat = pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y", *EXOG]]
    history, ahead = seat.iloc[:180], seat.iloc[180 : 180 + H]
    paths = {k: d / f"{k}.csv" for k in ("history", "future", "both", "short", "extra", "lacks")}
    history.to_csv(paths["history"], index=False)
    ahead.drop(columns="y").to_csv(paths["future"], index=False)
    pd.concat([history, ahead.assign(y=float("nan"))]).to_csv(paths["both"], index=False)
    ahead.drop(columns="y").head(4).to_csv(paths["short"], index=False)
    ahead.drop(columns="y").assign(kms=1).to_csv(paths["extra"], index=False)
    ahead.drop(columns=["y", "law"]).to_csv(paths["lacks"], index=False)
    # Three series for a version without inputs, and the same with a fourth, new one.
    y = seat[["unique_id", "ds", "y"]].iloc[:120]
    fleet = [y.assign(unique_id=u, y=y["y"] * (1 + 0.1 * i)) for i, u in enumerate("abcd")]
    pd.concat(fleet[:3]).to_csv(d / "three.csv", index=False)
    pd.concat(fleet).to_csv(d / "four.csv", index=False)
    paths["three"], paths["four"] = d / "three.csv", d / "four.csv"
    return paths


@pytest.fixture(scope="module")
def exog_ws(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> tuple[Path, str]:
    mp = pytest.MonkeyPatch()
    try:
        root = tmp_path_factory.mktemp("exog") / "ws"
        token = _workspace(root, _ModuleCli(mp), name="SARIMAX", exog=EXOG, data=files["history"])
    finally:
        mp.undo()
    return root, token


class _ModuleCli(Cli):
    """The in-process CLI for a module fixture (no capsys there): output read from
    redirected streams."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        self.mp = mp
        mp.setenv("COLUMNS", "200")
        self.capsys = self  # type: ignore[assignment]
        self._out, self._err = io.StringIO(), io.StringIO()

    def __call__(self, *args: str | Path, token: str | None = None) -> tuple[int, str, str]:
        with contextlib.redirect_stdout(self._out), contextlib.redirect_stderr(self._err):
            return super().__call__(*args, token=token)

    def readouterr(self) -> SimpleNamespace:
        out, err = self._out.getvalue(), self._err.getvalue()
        self._out.seek(0), self._out.truncate(), self._err.seek(0), self._err.truncate()
        return SimpleNamespace(out=out, err=err)


def test_forecast_with_a_future_file_and_with_trailing_rows(
    cli: Cli, exog_ws: tuple[Path, str], files: dict[str, Path], tmp_path: Path
) -> None:
    ws, token = exog_ws
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    code, out, err = cli(
        "forecast", "-w", ws, "-d", files["history"], "--future", files["future"], "-o", a
    )
    assert code == 0 and f"{H} rows" in out, err
    code, out, err = cli("forecast", "-w", ws, "-d", files["both"], "-o", b)
    assert code == 0, err
    fa, fb = pd.read_csv(a), pd.read_csv(b)
    pd.testing.assert_frame_equal(fa, fb)
    expected = pd.read_csv(files["future"])["ds"].tolist()
    assert fa["ds"].str[:10].tolist() == expected and fa["yhat"].notna().all()
    # The inputs matter: without the seatbelt law the forecast is higher.
    no_law = tmp_path / "no_law.csv"
    pd.read_csv(files["future"]).assign(law=0).to_csv(no_law, index=False)
    c = tmp_path / "c.csv"
    assert cli("forecast", "-w", ws, "-d", files["history"], "-f", no_law, "-o", c)[0] == 0
    assert (pd.read_csv(c)["yhat"] - fa["yhat"] > 100).all()
    # --record stores what was served.
    code, _, err = cli("forecast", "-w", ws, "-d", files["both"], "--record", "-o", c, token=token)
    assert code == 0, err
    with open_workspace(ws) as w:
        assert len(w.store.get_forecasts()) == H


def test_future_input_mistakes_are_named(
    cli: Cli, exog_ws: tuple[Path, str], files: dict[str, Path]
) -> None:
    ws, _ = exog_ws
    code, out, err = cli("forecast", "-w", ws, "-d", files["history"])
    assert code == 2 and not out.strip()
    assert "future inputs are missing for 1 series: 'uk_drivers_ksi' at 1984-01-01" in err
    assert "--future" in err
    code, _, err = cli("forecast", "-w", ws, "-d", files["history"], "-f", files["short"])
    assert code == 2 and "'uk_drivers_ksi' at 1984-05-01, 1984-06-01" in err
    # Four periods of inputs are enough for four periods.
    code, out, err = cli(
        "forecast", "-w", ws, "-d", files["history"], "-f", files["short"], "--horizon", "4"
    )
    assert code == 0, err
    code, _, err = cli("forecast", "-w", ws, "-d", files["history"], "-f", files["extra"])
    assert code == 2 and "column(s) ['kms'] are not inputs of the model" in err
    code, _, err = cli("forecast", "-w", ws, "-d", files["history"], "-f", files["lacks"])
    assert code == 2 and "column(s) ['law'] are missing" in err
    code, _, err = cli("forecast", "-w", ws, "-d", files["both"], "-f", files["future"])
    assert code == 2 and "future inputs are given twice" in err
    code, _, err = cli("forecast", "-w", ws, "-d", files["history"], "--horizon", "0")
    assert code == 2 and "--horizon must be 1 or more" in err
    # An empty y inside the history is still an error.
    broken = files["both"].parent / "hole.csv"
    df = pd.read_csv(files["both"])
    df.loc[50, "y"] = float("nan")
    df.to_csv(broken, index=False)
    code, _, err = cli("forecast", "-w", ws, "-d", broken)
    assert code == 2 and "target y is NaN at rows 50 (1 rows)" in err


@pytest.fixture(scope="module")
def plain_ws(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> tuple[Path, str]:
    mp = pytest.MonkeyPatch()
    try:
        root = tmp_path_factory.mktemp("plain") / "ws"
        token = _workspace(root, _ModuleCli(mp), name="SeasonalNaive", exog=[], data=files["three"])
    finally:
        mp.undo()
    return root, token


def test_future_inputs_for_a_model_without_inputs_are_refused(
    cli: Cli, plain_ws: tuple[Path, str], files: dict[str, Path]
) -> None:
    ws, _ = plain_ws
    code, _, err = cli("forecast", "-w", ws, "-d", files["three"], "-f", files["future"])
    assert code == 2 and "the model uses no exogenous columns" in err
    trailing = files["three"].parent / "three_trailing.csv"
    df = pd.read_csv(files["three"])
    extra = df[df["unique_id"] == "a"].tail(1).assign(ds="1979-01-01", y=float("nan"))
    pd.concat([df, extra]).sort_values(["unique_id", "ds"]).to_csv(trailing, index=False)
    code, _, err = cli("forecast", "-w", ws, "-d", trailing)
    assert code == 2 and "future inputs" in err and "this model has none" in err


def test_a_new_series_is_named_or_forecast_by_the_configured_fallback(
    cli: Cli, plain_ws: tuple[Path, str], files: dict[str, Path], tmp_path: Path
) -> None:
    ws, token = plain_ws
    code, out, err = cli("forecast", "-w", ws, "-d", files["four"])
    assert code == 2 and not out.strip()
    assert "1 series have no model in this version: 'd'" in err
    assert "forecast.fallback_model" in err and "chronoguard train" in err
    # A copy of the workspace whose config names a fallback model forecasts all four.
    copy = tmp_path / "copy"
    shutil.copytree(ws, copy)
    toml = copy / "chronoguard.toml"
    toml.write_text(
        toml.read_text().replace("[forecast]\n", '[forecast]\nfallback_model = "Naive"\n')
    )
    out_csv = tmp_path / "fc.csv"
    code, out, err = cli("forecast", "-w", copy, "-d", files["four"], "-o", out_csv)
    assert code == 0, err
    assert (
        "1 series have no model in the deployment (d): forecast by the fallback model Naive" in err
    )
    fc = pd.read_csv(out_csv)
    assert sorted(fc["unique_id"].unique()) == ["a", "b", "c", "d"]
    assert set(fc.loc[fc["unique_id"] == "d", "model"]) == {"fallback Naive"}
    assert set(fc.loc[fc["unique_id"] != "d", "model"]) == {"v1"}
    last_d = pd.read_csv(files["four"]).query("unique_id == 'd'")["y"].iloc[-1]
    assert (fc.loc[fc["unique_id"] == "d", "yhat"] == last_d).all()
    # Recorded: the version's forecasts only, and the fallback's said to be left out.
    code, _, err = cli(
        "forecast", "-w", copy, "-d", files["four"], "--record", "-o", out_csv, token=token
    )
    assert code == 0 and "not recorded" in err, err
    with open_workspace(copy) as w:
        stored = w.store.get_forecasts()
    assert sorted(stored["unique_id"].unique()) == ["a", "b", "c"]
