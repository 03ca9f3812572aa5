"""Tokens and roles (chronoguard.lifecycle.access) on a real store, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine, text

from chronoguard.lifecycle.access import (
    ROLES,
    AuthenticationError,
    PermissionDenied,
    Principal,
    authenticate,
    create_token,
    hash_secret,
    list_tokens,
    require,
    revoke_token,
)
from chronoguard.store import Store, TokenError

AT = datetime(2024, 1, 1)


def _admin(store: Store) -> tuple[Principal, str]:
    _, secret = create_token(store, "root", "admin", by=None, at=AT)
    return authenticate(store, secret), secret


def test_the_roles_are_ordered_and_require_names_the_role_needed() -> None:
    assert ROLES == ("viewer", "operator", "approver", "admin")
    viewer, approver = Principal("eve", "viewer"), Principal("ana", "approver")
    with pytest.raises(PermissionDenied, match="token 'eve' has role viewer; this needs operator"):
        require(viewer, "operator")
    assert require(approver, "operator") is approver and require(approver, "approver")
    with pytest.raises(PermissionDenied, match="needs admin"):
        require(approver, "admin")


def test_a_secret_is_never_stored_only_its_sha256(store: Store, raw_engine: Engine) -> None:
    admin, admin_secret = _admin(store)
    token, secret = create_token(store, "ana", "operator", by=admin, at=AT)
    assert secret.startswith("cg_") and len(secret) > 40
    assert token.secret_sha256 == hash_secret(secret) and secret not in repr(token)
    with raw_engine.connect() as conn:
        stored = " ".join(
            str(v)
            for t in ("cg_api_tokens", "cg_audit_log")
            for row in conn.execute(text(f"SELECT * FROM {t}"))
            for v in row
        )
    assert secret not in stored and admin_secret not in stored
    assert hash_secret(secret) in stored
    assert [e.action for e in store.audit_log()] == ["create_token", "create_token"]
    assert store.verify_audit_chain().ok


def test_authenticate_gives_the_principal_and_refuses_what_is_not_a_token(store: Store) -> None:
    admin, _ = _admin(store)
    _, secret = create_token(store, "bo", "approver", by=admin, at=AT)
    assert authenticate(store, secret) == Principal("bo", "approver")
    assert authenticate(store, f"  {secret}\n") == Principal("bo", "approver")
    with pytest.raises(AuthenticationError, match="no token given: set CHRONOGUARD_TOKEN"):
        authenticate(store, None)
    with pytest.raises(AuthenticationError, match="is not a token of this workspace"):
        authenticate(store, secret + "x")


def test_a_token_of_another_workspace_is_refused(store: Store) -> None:
    with Store.open("sqlite://") as other:
        _, foreign = create_token(other, "root", "admin", by=None, at=AT)
    with pytest.raises(AuthenticationError, match="not a token of this workspace"):
        authenticate(store, foreign)


def test_a_revoked_token_fails_and_keeps_its_name(store: Store) -> None:
    admin, _ = _admin(store)
    _, secret = create_token(store, "cy", "operator", by=admin, at=AT)
    revoked = revoke_token(store, "cy", by=admin, at=datetime(2024, 2, 1))
    assert revoked.revoked_by == "root" and not revoked.active
    with pytest.raises(AuthenticationError, match="token 'cy' was revoked at 2024-02-01"):
        authenticate(store, secret)
    with pytest.raises(TokenError, match="already revoked"):
        revoke_token(store, "cy", by=admin, at=AT)
    with pytest.raises(TokenError, match="a token named 'cy' exists"):
        create_token(store, "cy", "viewer", by=admin, at=AT)
    with pytest.raises(TokenError, match="no token named 'zed'"):
        revoke_token(store, "zed", by=admin, at=AT)


def test_only_an_admin_manages_tokens_and_the_first_token_is_an_admin(store: Store) -> None:
    with pytest.raises(TokenError, match="first token of a workspace must be an admin"):
        create_token(store, "ana", "operator", by=None, at=AT)
    admin, _ = _admin(store)
    with pytest.raises(TokenError, match="already has 1 token"):
        create_token(store, "mallory", "admin", by=None, at=AT)
    _, secret = create_token(store, "ana", "approver", by=admin, at=AT)
    ana = authenticate(store, secret)
    for act in (
        lambda: create_token(store, "x", "viewer", by=ana, at=AT),
        lambda: revoke_token(store, "root", by=ana, at=AT),
        lambda: list_tokens(store, by=ana),
    ):
        with pytest.raises(PermissionDenied, match="needs admin"):
            act()
    assert [(t.name, t.role, t.created_by) for t in list_tokens(store, by=admin)] == [
        ("root", "admin", "first-token"),
        ("ana", "approver", "root"),
    ]


@pytest.mark.parametrize("name", ["", "chronoguard cycle", "a" * 101, "-x", "ana;drop"])
def test_a_token_name_is_one_word(store: Store, name: str) -> None:
    admin, _ = _admin(store)
    with pytest.raises(TokenError, match="is not one word"):
        create_token(store, name, "viewer", by=admin, at=AT)


def test_an_unknown_role_is_refused(store: Store) -> None:
    admin, _ = _admin(store)
    with pytest.raises(TokenError, match="token role 'root' is not one of"):
        create_token(store, "ana", "root", by=admin, at=AT)
