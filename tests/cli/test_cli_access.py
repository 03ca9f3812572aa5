"""Tokens, roles and the audit chain at the command line: `chronoguard token`, the role
check of every mutating command, and `chronoguard audit verify` / `show`.

In-process (``main()`` with its arguments), so one test pays for one import of MLflow."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pandas as pd
import pytest

from chronoguard.cli import main
from chronoguard.data import dataset_path
from chronoguard.lifecycle import open_workspace
from tests.cli.test_cli import write_config


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch) -> None:
        self.capsys, self.mp = capsys, mp
        mp.setenv("COLUMNS", "200")

    def __call__(self, *args: str | Path, token: str | None = None) -> tuple[int, str, str]:
        if token is None:
            self.mp.delenv("CHRONOGUARD_TOKEN", raising=False)
        else:
            self.mp.setenv("CHRONOGUARD_TOKEN", token)
        self.mp.setattr(sys, "argv", ["chronoguard", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out = self.capsys.readouterr()
        return code, out.out, out.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def ws(tmp_path: Path, cli: Cli) -> Path:
    ws = tmp_path / "ws"
    code, _, err = cli(
        "init", "-w", ws, "-c", write_config(tmp_path / "c.toml", name="SeasonalNaive")
    )
    assert code == 0, err
    return ws


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.csv"
    seat = pd.read_csv(dataset_path("seatbelts"))[["unique_id", "ds", "y"]]
    seat.head(120).to_csv(path, index=False)
    return path


def tokens(cli: Cli, ws: Path) -> dict[str, str]:
    code, out, err = cli("token", "create", "root", "--role", "admin", "-w", ws)
    assert code == 0 and "(admin, the first) created" in err, err
    made = {"root": out.strip()}
    for name, role in (("eve", "viewer"), ("ana", "operator"), ("bo", "approver")):
        code, out, err = cli("token", "create", name, "--role", role, "-w", ws, token=made["root"])
        assert code == 0, err
        made[name] = out.strip()
    return made


def test_the_first_token_is_an_admin_and_only_an_admin_makes_more(cli: Cli, ws: Path) -> None:
    code, _, err = cli("token", "create", "ana", "--role", "operator", "-w", ws)
    assert code == 2 and "the first token of a workspace must be an admin" in one_line(err)
    t = tokens(cli, ws)
    code, _, err = cli("token", "create", "mallory", "--role", "admin", "-w", ws)
    assert code == 2 and "no token given: set CHRONOGUARD_TOKEN" in one_line(err)
    code, _, err = cli("token", "create", "mallory", "--role", "admin", "-w", ws, token=t["bo"])
    assert code == 2 and "token 'bo' has role approver; this needs admin" in one_line(err)
    code, out, err = cli("token", "list", "-w", ws, token=t["root"])
    assert code == 0, err
    assert all(n in out for n in ("root", "eve", "ana", "bo")) and "first-token" in out
    assert not any(secret in out for secret in t.values())
    code, out, err = cli("token", "revoke", "eve", "-w", ws, token=t["root"])
    assert code == 0 and "token 'eve' revoked" in out, err
    code, _, err = cli("versions", "-w", ws, token=t["eve"])
    assert code == 2 and "token 'eve' was revoked" in one_line(err)
    with open_workspace(ws) as w:
        assert [e.actor for e in w.store.audit_log(action="create_token")] == ["first-token"] + [
            "root"
        ] * 3


def test_roles_decide_who_acts_and_the_token_is_who_is_recorded(
    cli: Cli, ws: Path, data: Path, tmp_path: Path
) -> None:
    t = tokens(cli, ws)
    code, _, err = cli("train", "-w", ws, "-d", data, "--until", "1976-12-01", token=t["eve"])
    assert code == 2 and "token 'eve' has role viewer; this needs operator" in one_line(err)
    code, _, err = cli("train", "-w", ws, "-d", data, "--until", "1976-12-01")
    assert code == 2 and "no token given" in one_line(err)
    code, _, err = cli("train", "-w", ws, "-d", data, "--until", "1976-12-01", token=t["ana"])
    assert code == 0, err
    code, _, err = cli("train", "-w", ws, "-d", data, token=t["ana"])
    assert code == 0, err
    code, _, err = cli("promote", "2", "-w", ws, token=t["eve"])
    assert code == 2 and "needs operator" in one_line(err)
    code, _, err = cli("promote", "2", "-w", ws, "--by", "ceo", token=t["ana"])
    assert code == 2 and "No such option: --by" in err
    code, out, err = cli("promote", "2", "-w", ws, "--reason", "checked", token=t["ana"])
    assert code == 0 and "deployed v2" in out, err
    code, out, err = cli("rollback", "-w", ws, token=t["bo"])  # an approver may operate
    assert code == 0 and "rolled back 1 series: v2 → v1" in out, err
    with open_workspace(ws) as w:
        moves = w.store.deployment_history(w.model_name)
        assert [(m.version, m.by) for m in moves] == [("1", "ana"), ("2", "ana"), ("1", "bo")]
        now = pd.Timestamp.now("UTC").tz_localize(None)  # a test may read the clock
        assert all(abs(pd.Timestamp(m.at) - now) < pd.Timedelta("1h") for m in moves[1:])
    # a viewer reads; a token of another workspace does not
    code, out, err = cli("deployment", "-w", ws, token=t["eve"])
    assert code == 0, err
    other = tmp_path / "other"
    assert cli("init", "-w", other)[0] == 0
    foreign = tokens(cli, other)["root"]
    code, _, err = cli("deployment", "-w", ws, token=foreign)
    assert code == 2 and "not a token of this workspace" in one_line(err)


def test_audit_verify_names_a_deployment_move_edited_behind_the_chain(
    cli: Cli, ws: Path, data: Path
) -> None:
    t = tokens(cli, ws)
    assert cli("train", "-w", ws, "-d", data, "--until", "1976-12-01", token=t["ana"])[0] == 0
    assert cli("train", "-w", ws, "-d", data, "--promote", token=t["ana"])[0] == 0
    code, out, err = cli("audit", "verify", "-w", ws)
    assert code == 0, err
    assert out.strip().startswith("audit chain ok: ") and "rows checked" in out
    code, out, err = cli("audit", "show", "-w", ws, "--last", "5", token=t["eve"])
    assert code == 0 and "deploy" in out and "head: row" in out, err
    with open_workspace(ws) as w:
        first = w.store.deployment_history(w.model_name)[0]
        (audited,) = [e for e in w.store.audit_log(action="deploy") if e.payload["to"] == {"1": 1}]
    with sqlite3.connect(ws / "state.db") as conn:  # what rollback would move back to
        conn.execute("UPDATE cg_deployment_moves SET version = '9' WHERE id = ?", (first.id,))
    code, out, err = cli("audit", "verify", "-w", ws)
    assert code == 1 and out == ""
    line = err.strip()
    assert line == (
        f"audit chain broken at row {audited.id}: cg_deployment_moves id {first.id} differs "
        f"from audit row {audited.id} (edited, deleted or rewritten behind the chain's back)"
    ), line


def test_a_missing_audit_key_is_one_line_with_the_fix(cli: Cli, ws: Path) -> None:
    (ws / "keys" / "audit.key").rename(ws / "elsewhere.key")
    code, _, err = cli("audit", "verify", "-w", ws)
    assert code == 2 and "the audit key" in one_line(err) and "CHRONOGUARD_AUDIT_KEY_FILE" in err
    cli.mp.setenv("CHRONOGUARD_AUDIT_KEY_FILE", str(ws / "elsewhere.key"))
    code, out, err = cli("audit", "verify", "-w", ws)
    assert code == 0 and "audit chain ok" in out, err
    assert (ws / "elsewhere.key").stat().st_mode & 0o777 == 0o600


def test_init_keys_a_chain_written_before_keys_and_old_rows_still_verify(
    cli: Cli, ws: Path
) -> None:
    from chronoguard.store import Store

    key = ws / "keys" / "audit.key"
    key.unlink()  # as a workspace from before keys: no key, and plain rows
    with Store.open(f"sqlite:///{ws / 'state.db'}") as plain:
        plain.record_alias_move(
            "uk", "champion", "1", by="ana", reason="old", at=pd.Timestamp(2020, 1, 1)
        )
        plain.deploy("uk", {"s": "1"}, by="ana", reason="old", at=pd.Timestamp(2020, 1, 1))
    code, _, err = cli("audit", "verify", "-w", ws)
    assert code == 2 and "run `chronoguard init" in one_line(err)
    code, _, err = cli("init", "-w", ws)
    assert code == 0 and key.exists(), err
    code, out, err = cli("audit", "verify", "-w", ws)
    assert code == 0, err
    assert out.strip() == "audit chain ok: 3 rows checked, 2 written before the key"
    with open_workspace(ws) as w:
        assert w.store.audit_log()[-1].action == "seal_audit_chain"
