"""Connections and transactions of the store: one session per unit of work.

A unit of work is a store call, or every call inside :meth:`StoreBase.transaction`. Writers
take the write lock first (``BEGIN IMMEDIATE`` on SQLite, ``LOCK TABLE cg_audit_log`` on
PostgreSQL), because every write appends to the tail of the audit chain; readers never wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from chronoguard.errors import StoreError
from chronoguard.store import _audit, _migrate
from chronoguard.store._engine import writer
from chronoguard.store._records import AuditEntry

DEFAULT_ACTOR = "chronoguard"

#: The real time of an action, read by the edge that opened the store (the CLI, the
#: server) or given by a replay's caller. A one-method interface: any callable will do.
Clock = Callable[[], datetime]


class _AsAt:
    """The default of ``as_of``: the action concerns the time it was given (``at``)."""


_AS_AT = _AsAt()
#: Set inside :meth:`StoreBase.no_data_time`: audit rows written there concern no data time.
_NO_DATA_TIME: ContextVar[bool] = ContextVar("chronoguard_no_data_time", default=False)


@dataclass
class _Tx:
    """An open write transaction; ``doomed`` once any store call inside it failed."""

    session: Session
    doomed: bool = False


class StoreBase:
    """Engine, sessions and transactions; :class:`chronoguard.store.Store` adds the API."""

    def __init__(
        self,
        engine: Engine,
        *,
        where: str,
        audit_key: bytes | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._engine = engine
        self._audit_key = audit_key
        self._clock = clock
        self._writer = writer(engine)
        self._where = where
        self._closed = False
        self._active: ContextVar[_Tx | None] = ContextVar(f"chronoguard_store_{id(self)}")

    # --- lifecycle ---------------------------------------------------------------------

    def real_time(self, default: datetime) -> datetime:
        """The real time of an action taking place now: a reading of the clock the store
        was opened with (the edge's wall clock), or ``default`` for a store opened without
        one (a replay or a test, whose actions happen at the times they are given)."""
        return self._clock() if self._clock is not None else default

    @contextmanager
    def no_data_time(self) -> Iterator[None]:
        """Audit the writes made inside as actions that concern no data time (their
        ``as_of`` empty): a promotion or a rollback by hand happens at a real time only,
        recorded in ``recorded_at``, whatever time its moves are stamped with."""
        token = _NO_DATA_TIME.set(True)
        try:
            yield
        finally:
            _NO_DATA_TIME.reset(token)

    def close(self) -> None:
        """Release every pooled connection. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._where!r})"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._where

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at."""
        self._check_open()
        with map_errors("reading the schema revision"):
            return _migrate.current_revision(self._engine)

    # --- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one atomic unit.

        Everything written inside the block — rows and their audit rows — is committed
        together when the block ends, or not at all if it raises. Reads inside the block
        see its own writes. A failed store call inside the block dooms the whole unit,
        even if the caller catches the error. Nested blocks join the outer one.

        Examples
        --------
        >>> from datetime import datetime
        >>> from chronoguard.store import Store
        >>> store = Store.open("sqlite://")
        >>> try:
        ...     with store.transaction():
        ...         _ = store.record_alias_move("m", "champion", "2", by="ana",
        ...                                     reason="better", at=datetime(2024, 1, 1))
        ...         raise RuntimeError("approval missing")
        ... except RuntimeError:
        ...     pass
        >>> store.current_alias("m", "champion") is None
        True
        >>> store.close()
        """
        if self._active.get(None) is not None:
            yield
            return
        with map_errors("committing the transaction"), self._new_tx(write=True) as tx:
            token = self._active.set(tx)
            try:
                yield
            finally:
                self._active.reset(token)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self._where} is closed; open it again")

    @contextmanager
    def _new_tx(self, *, write: bool) -> Iterator[_Tx]:
        self._check_open()
        session = Session(
            bind=self._writer if write else self._engine, expire_on_commit=False, autoflush=False
        )
        tx = _Tx(session)
        try:
            with session.begin():
                if write and self.dialect == "postgresql":
                    # One writer at a time: the audit chain appends to its tail, and taking
                    # this lock first (before any row lock) rules out deadlocks. Plain
                    # reads are not blocked by EXCLUSIVE mode.
                    session.execute(text("LOCK TABLE cg_audit_log IN EXCLUSIVE MODE"))
                yield tx
                if tx.doomed:
                    raise StoreError(
                        "a store call inside this transaction failed, so nothing in it was "
                        "written; fix the failing call and run the whole unit again"
                    )
        finally:
            session.close()

    @contextmanager
    def _writing(self, what: str) -> Iterator[Session]:
        tx = self._active.get(None)
        if tx is None:
            with map_errors(what), self._new_tx(write=True) as new:
                yield new.session
            return
        try:
            with map_errors(what):
                yield tx.session
        except BaseException:
            tx.doomed = True
            raise

    @contextmanager
    def _reading(self, what: str) -> Iterator[Session]:
        tx = self._active.get(None)
        if tx is not None:
            with map_errors(what):
                yield tx.session
            return
        with map_errors(what), self._new_tx(write=False) as new:
            yield new.session

    def _audit(
        self,
        session: Session,
        *,
        at: Any,
        by: str,
        action: str,
        entity: str,
        payload: dict[str, Any],
        as_of: datetime | _AsAt | None = _AS_AT,
    ) -> AuditEntry:
        """Append an audit row: ``as_of`` is the data time the action concerns (by default
        ``at``, the time the caller gave; ``None`` for an action with none, and by default
        inside :meth:`no_data_time`) and the real
        time is the store's clock, or ``at`` for a store opened without one (a library
        user's or a test's store, deterministic as everything else it is given)."""
        return _audit.append(
            session,
            as_of=(None if _NO_DATA_TIME.get() else at) if isinstance(as_of, _AsAt) else as_of,
            recorded_at=self._clock() if self._clock is not None else at,
            actor=by,
            action=action,
            entity=entity,
            payload=payload,
            key=self._audit_key,
        )

    # --- forecasts and actuals ---------------------------------------------------------


@contextmanager
def map_errors(what: str) -> Iterator[None]:
    """Turn database exceptions into :class:`StoreError` naming what was being done."""
    try:
        yield
    except StoreError:
        raise
    except IntegrityError as exc:
        raise StoreError(f"{what}: a constraint refused the write: {_orig(exc)}") from exc
    except OperationalError as exc:
        hint = ""
        if "locked" in str(exc.orig):
            hint = " (another process held the write lock past the busy timeout; retry)"
        raise StoreError(f"{what}: the database failed: {_orig(exc)}{hint}") from exc
    except DBAPIError as exc:
        raise StoreError(f"{what}: the database refused it: {_orig(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {exc}") from exc


def _orig(exc: DBAPIError) -> str:
    return " ".join(str(exc.orig).split())
