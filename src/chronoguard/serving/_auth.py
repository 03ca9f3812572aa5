"""Who calls the service: a bearer token of the workspace, and the role its route needs.

Every ``/v1`` route needs ``Authorization: Bearer <secret>``, the secret of a token of this
workspace (``chronoguard token create NAME --role ROLE``); ``/healthz``, ``/readyz`` and
the OpenAPI pages need none. Reads need ``viewer``; actuals and the snapshot refresh
``operator``; promotions and rollbacks ``operator``; votes ``approver``. A token of another
workspace is no token here, so it reads nothing. The actor recorded for an action is the
token's name and its time the server's clock.

Reads are checked against a :class:`TokenBook`, the active tokens by the SHA-256 of their
secret, reloaded from the store at every poll of the snapshot (a revoked token stops
reading within ``poll_interval`` seconds; a token created since the last poll is looked up
in the store at once). Every action re-authenticates against the store, so a revoked token
never acts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronoguard.lifecycle.access import Principal, authenticate, hash_secret, require
from chronoguard.store import Store

bearer = HTTPBearer(
    auto_error=False,
    description="the secret of a token of this workspace (`chronoguard token create`)",
)


class TokenBook:
    """The active tokens of a store by the SHA-256 of their secret (for the hot reads)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def reload(self) -> None:
        known = {
            t.secret_sha256: Principal(t.name, str(t.role))
            for t in self._store.list_tokens()
            if t.active
        }
        with self._lock:
            self._known = known  # swapped whole

    def cached(self, secret: str) -> Principal | None:
        """The principal of ``secret`` as of the last reload, or ``None``."""
        return self._known.get(hash_secret(secret.strip()))

    def principal(self, secret: str | None, *, fresh: bool) -> Principal:
        """The caller of ``secret``: from the book, or (``fresh``, or not in the book) from
        the store, which raises :class:`~chronoguard.lifecycle.access.AuthenticationError`
        saying what is wrong."""
        if not fresh and secret:
            found = self.cached(secret)
            if found is not None:
                return found
        return authenticate(self._store, secret)


def bearer_secret(header: bytes | None) -> str | None:
    """The secret of an ``Authorization: Bearer <secret>`` header value, or ``None``."""
    if not header:
        return None
    scheme, _, secret = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def caller_with(
    book: Callable[[], TokenBook], role: str, *, fresh: bool = False
) -> Callable[..., Principal]:
    """A FastAPI dependency: the authenticated caller, refused unless its role is ``role``
    or higher (401 without a valid token, 403 with a role too low)."""

    def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Principal:
        secret = credentials.credentials if credentials is not None else None
        return require(book().principal(secret, fresh=fresh), role)

    return dependency


__all__ = ["TokenBook", "bearer", "bearer_secret", "caller_with"]
