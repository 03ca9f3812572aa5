"""Who may do what: API tokens, the roles they carry, and the check every action makes.

A token is a random secret handed out once; the store keeps only its SHA-256. Whoever
presents the secret acts as the token's *name*, which is what the audit log, the
deployment history and the approval votes record: the actor of an action is the caller
who authenticated, never a name typed in. Roles are ordered, each one including the
ones before it:

========  ============================================================================
viewer    read: forecasts, versions, deployments, approvals, the audit log
operator  and act on models: train, forecast --record, monitor, retrain, cycle,
          schedule, promote, rollback
approver  and approve or reject promotions that wait for people
admin     and create, list and revoke tokens
========  ============================================================================

A token belongs to the store of one workspace: a token of another workspace does not
authenticate, so it reads nothing here. The CLI and the HTTP service call the same
functions: :func:`authenticate` turns a secret into a :class:`Principal`, and
:func:`require` refuses a principal whose role is too low, naming the role needed.

Examples
--------
>>> from datetime import datetime
>>> from chronoguard.store import Store
>>> store = Store.open("sqlite://")
>>> admin, secret = create_token(store, "root", "admin", by=None, at=datetime(2024, 1, 1))
>>> me = authenticate(store, secret)
>>> me
Principal(name='root', role='admin')
>>> _, viewer_secret = create_token(store, "eve", "viewer", by=me, at=datetime(2024, 1, 1))
>>> require(authenticate(store, viewer_secret), "operator")
Traceback (most recent call last):
...
chronoguard.lifecycle.access.PermissionDenied: token 'eve' has role viewer; this needs operator or higher: ask an admin for a token with that role
>>> store.close()
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from chronoguard.errors import ChronoguardError
from chronoguard.store import ApiToken, Store, TokenRole

#: The roles, lowest first; a role may do everything the roles before it may.
ROLES: tuple[str, ...] = tuple(r.value for r in TokenRole)
SECRET_PREFIX = "cg_"
#: The actor of the first token's creation (no token exists yet to name).
FIRST_TOKEN_ACTOR = "first-token"


class AccessError(ChronoguardError):
    """Base of the errors of authentication and authorisation."""


class AuthenticationError(AccessError):
    """No token, or a secret that is no token's of this workspace (or a revoked one)."""


class PermissionDenied(AccessError):
    """The caller's token has a role too low for the action; the message names the role
    needed."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the token's name (the actor recorded) and its role."""

    name: str
    role: str

    def can(self, role: str) -> bool:
        """Whether this caller's role is ``role`` or higher."""
        return _rank(self.role) >= _rank(role)


def _rank(role: str) -> int:
    plain = str(role.value) if isinstance(role, TokenRole) else str(role)
    if plain not in ROLES:
        raise AccessError(f"role {role!r} is not one of {list(ROLES)}")
    return ROLES.index(plain)


def hash_secret(secret: str) -> str:
    """The SHA-256 hex of a token's secret: what the store keeps."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh secret: 256 random bits, URL-safe, with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def require(principal: Principal, role: str) -> Principal:
    """``principal`` if its role is ``role`` or higher, else :class:`PermissionDenied`."""
    needed = ROLES[_rank(role)]
    if not principal.can(needed):
        raise PermissionDenied(
            f"token {principal.name!r} has role {principal.role}; this needs {needed} or "
            "higher: ask an admin for a token with that role"
        )
    return principal


def authenticate(store: Store, secret: str | None) -> Principal:
    """The principal of ``secret``, or :class:`AuthenticationError` saying what to do."""
    if not secret or not secret.strip():
        raise AuthenticationError(
            "no token given: set CHRONOGUARD_TOKEN to a token of this workspace (an admin "
            "creates one with `chronoguard token create NAME --role ROLE`)"
        )
    digest = hash_secret(secret.strip())
    found = store.token_by_secret_hash(digest)
    # The lookup is by hash, so a timing difference leaks nothing about the secret; the
    # comparison is constant-time all the same.
    if found is None or not hmac.compare_digest(found.secret_sha256, digest):
        raise AuthenticationError(
            "the token in CHRONOGUARD_TOKEN is not a token of this workspace: check that "
            "it is the secret printed by `chronoguard token create` for this workspace"
        )
    if not found.active:
        raise AuthenticationError(
            f"token {found.name!r} was revoked at {found.revoked_at} by {found.revoked_by}; "
            "ask an admin for a new one"
        )
    return Principal(found.name, found.role)


def create_token(
    store: Store, name: str, role: str, *, by: Principal | None, at: datetime
) -> tuple[ApiToken, str]:
    """Create a token; returns it and its secret, which is shown this once and never stored.

    ``by`` must be an admin. ``by=None`` creates the workspace's first token, which must
    be an admin and is refused once any token exists.
    """
    secret = new_secret()
    if by is None:
        token = store.create_token(
            name, role, hash_secret(secret), by=FIRST_TOKEN_ACTOR, at=at, first=True
        )
    else:
        require(by, TokenRole.ADMIN)
        token = store.create_token(name, role, hash_secret(secret), by=by.name, at=at)
    return token, secret


def revoke_token(store: Store, name: str, *, by: Principal, at: datetime) -> ApiToken:
    """Revoke a token (admin only); its secret authenticates no more."""
    require(by, TokenRole.ADMIN)
    return store.revoke_token(name, by=by.name, at=at)


def list_tokens(store: Store, *, by: Principal) -> list[ApiToken]:
    """Every token of the workspace, revoked ones too (admin only)."""
    require(by, TokenRole.ADMIN)
    return store.list_tokens()


def has_tokens(store: Store) -> bool:
    """Whether the workspace has any token yet (none: its first may be created)."""
    return bool(store.list_tokens())


__all__ = [
    "FIRST_TOKEN_ACTOR",
    "ROLES",
    "AccessError",
    "AuthenticationError",
    "PermissionDenied",
    "Principal",
    "authenticate",
    "create_token",
    "has_tokens",
    "hash_secret",
    "list_tokens",
    "new_secret",
    "require",
    "revoke_token",
]
