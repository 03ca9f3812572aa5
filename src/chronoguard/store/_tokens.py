"""API tokens: the store half (rows, uniqueness, the first-token rule, audit rows).

Hashing secrets and deciding what a role may do belong to
:mod:`chronoguard.lifecycle.access`; this module stores what it is given, and writes the
audit row of every creation and revocation in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._governance import check_value
from chronoguard.store._models import ApiTokenRow
from chronoguard.store._records import ApiToken, TokenRole
from chronoguard.store._session import StoreBase

#: A token's name is the actor recorded for everything done with it: one word, so it
#: can never read as the system's own actors (``chronoguard cycle``).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class TokenError(StoreError):
    """A token cannot be created or revoked as asked (a name taken, an unknown token, a
    first token that is not the first); nothing was written."""


def _to_token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        secret_sha256=row.secret_sha256,
    )


def _by_name(session: Session, name: str) -> ApiTokenRow | None:
    return session.scalars(select(ApiTokenRow).where(ApiTokenRow.name == name)).first()


class TokenStore(StoreBase):
    """API tokens; see :class:`chronoguard.store.Store`."""

    def create_token(
        self,
        name: str,
        role: str,
        secret_sha256: str,
        *,
        by: str,
        at: datetime,
        first: bool = False,
    ) -> ApiToken:
        """Store a token (the SHA-256 hex of its secret, never the secret).

        With ``first=True`` it is the workspace's first token: refused unless no token
        exists yet (checked under the write lock, so two first tokens cannot both win)
        and ``role`` is ``admin``.
        """
        if not NAME_PATTERN.fullmatch(name or ""):
            raise TokenError(
                f"token name {name!r} is not one word of letters, digits and _.@- (at most "
                "100 characters, starting with a letter or digit); choose another"
            )
        try:
            plain_role = check_value(role, TokenRole, "token role")
        except StoreError as exc:
            raise TokenError(f"{exc}; use --role with one of them") from None
        if not _HEX64.fullmatch(secret_sha256):
            raise TokenError("secret_sha256 must be the 64-digit lower-case hex of a SHA-256")
        when = to_utc_naive(at, "at")
        with self._writing(f"creating token {name!r} in cg_api_tokens") as session:
            if first:
                n = session.scalar(select(func.count()).select_from(ApiTokenRow)) or 0
                if n:
                    raise TokenError(
                        f"this workspace already has {n} token(s), so {name!r} is not its "
                        "first: set CHRONOGUARD_TOKEN to an admin token to create more"
                    )
                if plain_role != TokenRole.ADMIN.value:
                    raise TokenError(
                        f"the first token of a workspace must be an admin (--role admin), "
                        f"not {plain_role}: it is the one that creates the others"
                    )
            if _by_name(session, name) is not None:
                raise TokenError(
                    f"a token named {name!r} exists (revoked tokens keep their names, so "
                    "the audit log stays unambiguous); choose another name"
                )
            row = ApiTokenRow(
                name=name,
                role=plain_role,
                secret_sha256=secret_sha256,
                created_at=when,
                created_by=by,
            )
            session.add(row)
            session.flush([row])
            self._audit(
                session,
                at=when,
                as_of=None,  # concerns no data time
                by=by,
                action="create_token",
                entity=f"token:{name}",
                payload={"role": plain_role, "first": first},
            )
            return _to_token(row)

    def revoke_token(self, name: str, *, by: str, at: datetime) -> ApiToken:
        """Revoke a token: it authenticates no more, and keeps its name."""
        when = to_utc_naive(at, "at")
        with self._writing(f"revoking token {name!r} in cg_api_tokens") as session:
            row = _by_name(session, name)
            if row is None:
                raise TokenError(
                    f"there is no token named {name!r}; `chronoguard token list` lists them"
                )
            if row.revoked_at is not None:
                raise TokenError(
                    f"token {name!r} was already revoked at {row.revoked_at} by {row.revoked_by}"
                )
            row.revoked_at = when
            row.revoked_by = by
            session.flush([row])
            self._audit(
                session,
                at=when,
                as_of=None,  # concerns no data time
                by=by,
                action="revoke_token",
                entity=f"token:{name}",
                payload={"role": row.role},
            )
            return _to_token(row)

    def list_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, in the order they were created."""
        with self._reading("reading cg_api_tokens") as session:
            return [
                _to_token(r) for r in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.id))
            ]

    def token_by_secret_hash(self, secret_sha256: str) -> ApiToken | None:
        """The token whose secret hashes to ``secret_sha256`` (revoked or not), or ``None``."""
        with self._reading("reading cg_api_tokens") as session:
            row = session.scalars(
                select(ApiTokenRow).where(ApiTokenRow.secret_sha256 == secret_sha256)
            ).first()
            return None if row is None else _to_token(row)
