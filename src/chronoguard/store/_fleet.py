"""The store API of the per-series production cycle: deployments, check history, decisions,
the cycle ledger, intents and the workspace lock.

:class:`chronoguard.store.Store` inherits these methods; they live here so each module
keeps one job. Every change writes one audit row in its transaction (one per call, not
per series: a fleet is thousands of series), and a write that changes nothing writes no
audit row either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Engine

from chronoguard.store import _decisions, _deploy, _ledger, _lock, _watch
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._records import (
    CycleRecord,
    DecisionOutcomeUpdate,
    Deployment,
    DeploymentMove,
    Intent,
    SeriesCheck,
    SeriesDecision,
    Watch,
    WatchClose,
)
from chronoguard.store._session import DEFAULT_ACTOR, Clock, StoreBase


def _entity(table: str, model_names: set[str]) -> str:
    return f"{table}:{next(iter(model_names))}" if len(model_names) == 1 else table


class FleetStore(StoreBase):
    """Per-series state of the production cycle; see :class:`chronoguard.store.Store`."""

    def __init__(
        self,
        engine: Engine,
        *,
        where: str,
        audit_key: bytes | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(engine, where=where, audit_key=audit_key, clock=clock)
        self._local_locks = _lock.LocalLocks()

    # --- deployments -------------------------------------------------------------------

    def deploy(
        self,
        model_name: str,
        assignments: Mapping[str, str],
        *,
        by: str,
        reason: str,
        at: datetime,
        batch: str | None = None,
    ) -> list[DeploymentMove]:
        """Serve each series of ``assignments`` (``unique_id -> version``) with its version.

        One transaction: the current version of each series is replaced, and one move is
        recorded per series whose version changes, with the version it replaces as
        ``previous_version``. A series already on its version is left as it is and gets
        no move. Rolling a series back is deploying its earlier version.

        Parameters
        ----------
        model_name
            The registered model the versions belong to.
        assignments
            The series to move and their new versions; series not named keep theirs.
        by, reason, at
            Who moved them, why and when (recorded on every move and in the audit row).
        batch
            What the moves belong together as (a retrain batch, a rollback command), to
            find them again in the history.

        Returns
        -------
        list of DeploymentMove
            The moves made, in the order of ``assignments``; empty when nothing changed.

        Examples
        --------
        >>> from datetime import datetime
        >>> from chronoguard.store import Store
        >>> with Store.open("sqlite://") as store:
        ...     at = datetime(2024, 1, 1)
        ...     _ = store.deploy("demand", {"s1": "1", "s2": "1"}, by="ana", reason="first", at=at)
        ...     moves = store.deploy("demand", {"s1": "2", "s2": "1"}, by="bot", reason="retrain",
        ...                          at=at, batch="retrain-2024-01-01")
        ...     [(m.unique_id, m.previous_version, m.version) for m in moves]
        [('s1', '1', '2')]
        """
        with self._writing(f"deploying {model_name!r} into cg_deployments") as session:
            moves, unchanged = _deploy.deploy(
                session, model_name, assignments, by=by, reason=reason, at=at, batch=batch
            )
            if moves:
                self._audit(
                    session,
                    at=moves[0].at,
                    by=by,
                    action="deploy",
                    entity=f"deployment:{model_name}",
                    payload={
                        **_deploy.audit_payload(moves, unchanged, batch=batch, reason=reason),
                        "covers": [_deploy.cover(session, moves)],
                    },
                )
        return moves

    def get_deployment(self, model_name: str) -> Deployment:
        """Which version serves which series of ``model_name`` now (one query)."""
        with self._reading("reading cg_deployments") as session:
            return _deploy.get_deployment(session, model_name)

    def deployment_history(
        self, model_name: str, unique_id: str | Sequence[str] | None = None
    ) -> list[DeploymentMove]:
        """Every deployment move of the model (or of some series), oldest first."""
        with self._reading("reading cg_deployment_moves") as session:
            return _deploy.history(session, model_name, unique_id)

    # --- check history -----------------------------------------------------------------

    def record_series_checks(
        self, checks: Sequence[SeriesCheck], *, by: str = DEFAULT_ACTOR
    ) -> int:
        """Record per-series checks; returns the number of new ones.

        Re-recording a stored (model_name, unique_id, ds) with the same version and fired
        kinds is a no-op, so a re-run cycle can write its checks again. A different check
        for a stored key raises :class:`~chronoguard.errors.StoreError` naming the key, and
        nothing of the call is written.
        """
        with self._writing("recording series checks into cg_series_checks") as session:
            count, rows = _decisions.record_checks(session, checks)
            if rows:
                dss = [r["ds"] for r in rows]
                self._audit(
                    session,
                    at=max(dss),
                    by=by,
                    action="record_series_checks",
                    entity=_entity("cg_series_checks", {r["model_name"] for r in rows}),
                    payload={
                        "inserted": count.inserted,
                        "unchanged": count.unchanged,
                        "series": len({r["unique_id"] for r in rows}),
                        "fired": sum(bool(r["fired"]) for r in rows),
                        "ds_min": min(dss),
                        "ds_max": max(dss),
                    },
                )
        return count.inserted

    def series_check_history(
        self,
        model_name: str,
        *,
        last_n: int,
        until: datetime | None = None,
        after: Mapping[str, datetime] | None = None,
    ) -> dict[str, list[SeriesCheck]]:
        """The last ``last_n`` checks of each series with ``ds <= until``, oldest first.

        Where ``after`` gives a time for a series, only its checks after that time count
        (say, since its last retrain): of its last ``last_n`` checks, those with
        ``ds > after[unique_id]``. A series with no check left is not in the result.
        One query, whatever the number of series.

        Examples
        --------
        >>> from datetime import datetime
        >>> from chronoguard.store import SeriesCheck, Store
        >>> with Store.open("sqlite://") as store:
        ...     _ = store.record_series_checks([
        ...         SeriesCheck(model_name="m", unique_id="s1", ds=datetime(2024, 1, d),
        ...                     version="1", fired=frozenset({"concept_drift"} if d > 2 else ()))
        ...         for d in range(1, 6)])
        ...     got = store.series_check_history("m", last_n=3, until=datetime(2024, 1, 4),
        ...                                      after={"s1": datetime(2024, 1, 2)})
        >>> [(c.ds.day, sorted(c.fired)) for c in got["s1"]]
        [(3, ['concept_drift']), (4, ['concept_drift'])]
        """
        with self._reading("reading cg_series_checks") as session:
            return _decisions.check_history(
                session, model_name, last_n=last_n, until=until, after=after
            )

    # --- decisions ---------------------------------------------------------------------

    def record_series_decisions(
        self, decisions: Sequence[SeriesDecision], *, by: str = DEFAULT_ACTOR
    ) -> int:
        """Record what the decision engine chose per series; returns the number of new ones.

        Re-recording a stored (model_name, ds, unique_id) with the same content is a
        no-op. A decision re-recorded as ``pending`` also matches a stored one whose outcome
        the gate has set since (then only the decision's own fields are compared, not the
        gate's), so a resumed cycle can write its decisions again. Any other difference
        raises
        :class:`~chronoguard.errors.StoreError` naming the key and the fields, and nothing
        of the call is written.
        """
        with self._writing("recording series decisions into cg_series_decisions") as session:
            count, rows = _decisions.record_decisions(session, decisions)
            if rows:
                dss = [r["ds"] for r in rows]
                self._audit(
                    session,
                    at=max(dss),
                    by=by,
                    action="record_series_decisions",
                    entity=_entity("cg_series_decisions", {r["model_name"] for r in rows}),
                    payload={
                        "inserted": count.inserted,
                        "unchanged": count.unchanged,
                        "actions": dict(sorted(Counter(r["action"] for r in rows).items())),
                        "ds_min": min(dss),
                        "ds_max": max(dss),
                    },
                )
        return count.inserted

    def set_decision_outcomes(
        self,
        model_name: str,
        ds: datetime,
        outcomes: Mapping[str, DecisionOutcomeUpdate],
        *,
        by: str = DEFAULT_ACTOR,
    ) -> int:
        """Set the gate's verdict on the decisions of the cycle at ``ds``; returns the count.

        One transaction. A series with no decision at ``ds`` raises
        :class:`~chronoguard.errors.StoreError` naming it, and nothing is updated.
        """
        if not outcomes:
            return 0
        when = to_utc_naive(ds, "ds")
        with self._writing(f"setting decision outcomes of {model_name!r} at {when}") as session:
            counts = _decisions.set_outcomes(session, model_name, when, outcomes)
            self._audit(
                session,
                at=when,
                by=by,
                action="set_decision_outcomes",
                entity=f"cg_series_decisions:{model_name}",
                payload={"ds": when, "outcomes": dict(sorted(counts.items()))},
            )
        return sum(counts.values())

    def list_series_decisions(
        self,
        model_name: str,
        *,
        unique_id: str | Sequence[str] | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
        action: str | None = None,
    ) -> list[SeriesDecision]:
        """Stored decisions matching every given filter (bounds inclusive), by ds, series."""
        with self._reading("reading cg_series_decisions") as session:
            return _decisions.list_decisions(
                session,
                model_name,
                unique_id=unique_id,
                ds_from=ds_from,
                ds_to=ds_to,
                action=action,
            )

    def latest_decisions(self, model_name: str) -> dict[str, SeriesDecision]:
        """Per series, its decision of the latest cycle that decided for it: where the
        series' group and tier stand now (rollback by group and approvals read them)."""
        with self._reading("reading cg_series_decisions") as session:
            return _decisions.latest_decisions(session, model_name)

    def last_retrains(
        self, model_name: str, *, until: datetime | None = None
    ) -> dict[str, datetime]:
        """Per series, the latest ``ds`` (``<= until``) of a decision to retrain it."""
        with self._reading("reading cg_series_decisions") as session:
            return _decisions.last_retrains(session, model_name, until)

    # --- cycle ledger ------------------------------------------------------------------

    def begin_cycle(
        self, model_name: str, now: datetime, *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> CycleRecord:
        """The ledger entry of the cycle at ``now``: created ``running`` at stage ``start``
        (begun at ``at``), or the stored one unchanged, whatever its status."""
        label = _ledger.cycle_label(model_name, now)
        with self._writing(f"beginning the cycle {label} in cg_cycles") as session:
            record, created = _ledger.begin_cycle(session, model_name, now, at)
            if created:
                self._audit(
                    session,
                    at=record.started_at,
                    as_of=record.now,  # the data time it concerns; started_at is real time
                    by=by,
                    action="begin_cycle",
                    entity=f"cycle:{label}",
                    payload={"model_name": model_name, "now": record.now},
                )
        return record

    def advance_cycle(self, model_name: str, now: datetime, stage: str) -> CycleRecord:
        """Record that the running cycle at ``now`` reached ``stage`` (not audited: a
        stage is progress, not a change of state anyone acts on)."""
        label = _ledger.cycle_label(model_name, now)
        with self._writing(f"advancing the cycle {label} in cg_cycles") as session:
            return _ledger.advance_cycle(session, model_name, now, stage)

    def finish_cycle(
        self,
        model_name: str,
        now: datetime,
        *,
        summary: Mapping[str, object],
        at: datetime,
        by: str = DEFAULT_ACTOR,
    ) -> CycleRecord:
        """Mark the cycle at ``now`` ``done`` at ``at`` with the caller's ``summary``.

        Finishing it again with the same summary is a no-op; with another one, a
        :class:`~chronoguard.errors.StoreError`.
        """
        label = _ledger.cycle_label(model_name, now)
        with self._writing(f"finishing the cycle {label} in cg_cycles") as session:
            record, changed = _ledger.finish_cycle(session, model_name, now, summary, at)
            if changed:
                self._audit(
                    session,
                    at=record.finished_at,
                    as_of=record.now,  # the data time it concerns; finished_at is real time
                    by=by,
                    action="finish_cycle",
                    entity=f"cycle:{label}",
                    payload={
                        "model_name": model_name,
                        "now": record.now,
                        "summary": record.summary,
                    },
                )
        return record

    def get_cycle(self, model_name: str, now: datetime) -> CycleRecord | None:
        """The ledger entry of the cycle at ``now``, or ``None``."""
        with self._reading("reading cg_cycles") as session:
            return _ledger.get_cycle(session, model_name, now)

    def list_cycles(self, model_name: str) -> list[CycleRecord]:
        """Every cycle of the model, by ``now``."""
        with self._reading("reading cg_cycles") as session:
            return _ledger.list_cycles(session, model_name)

    def last_cycle(self, model_name: str) -> CycleRecord | None:
        """The cycle with the latest ``now`` (running or done), or ``None``."""
        with self._reading("reading cg_cycles") as session:
            return _ledger.last_cycle(session, model_name)

    # --- intents -----------------------------------------------------------------------

    def open_intent(
        self,
        model_name: str,
        kind: str,
        key: str,
        payload: Mapping[str, object],
        *,
        at: datetime,
        by: str = DEFAULT_ACTOR,
    ) -> Intent:
        """Write down a move before making it; returns the intent.

        If an intent with the same (model_name, kind, key) exists, whatever its status, it
        is returned unchanged (a retried move finds the intent of its first attempt).
        """
        with self._writing(f"opening intent {kind} {key!r} in cg_intents") as session:
            intent, created = _ledger.open_intent(session, model_name, kind, key, payload, at)
            if created:
                self._audit(
                    session,
                    at=intent.opened_at,
                    by=by,
                    action="open_intent",
                    entity=f"intent:{intent.id}",
                    payload={"model_name": model_name, "kind": kind, "key": key},
                )
        return intent

    def close_intent(
        self, intent_id: int, status: str, *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> Intent:
        """Close an intent ``done`` (both halves written) or ``undone`` (first half
        reverted). Closing it again the same way is a no-op."""
        with self._writing(f"closing intent {intent_id} in cg_intents") as session:
            intent, changed = _ledger.close_intent(session, intent_id, status, at)
            if changed:
                self._audit(
                    session,
                    at=intent.closed_at,
                    by=by,
                    action="close_intent",
                    entity=f"intent:{intent.id}",
                    payload={"kind": intent.kind, "key": intent.key, "status": intent.status},
                )
        return intent

    def open_intents(self, model_name: str) -> list[Intent]:
        """The intents of the model still open (interrupted moves), oldest first."""
        with self._reading("reading cg_intents") as session:
            return _ledger.open_intents(session, model_name)

    def get_intent(self, model_name: str, kind: str, key: str) -> Intent | None:
        """The intent (model_name, kind, key), whatever its status, or ``None``."""
        with self._reading("reading cg_intents") as session:
            return _ledger.get_intent(session, model_name, kind, key)

    # --- watches ------------------------------------------------------------------------

    def open_watches(
        self, watches: Sequence[Watch], *, at: datetime, by: str = DEFAULT_ACTOR
    ) -> list[Watch]:
        """Open a watch for each promotion that has none yet; returns those opened.

        A watch already stored with the same series, time, versions and length is skipped
        (a resumed step repeats its writes); one that differs is refused.
        """
        with self._writing("opening watches in cg_watches") as session:
            opened = _watch.open_watches(session, watches)
            if opened:
                self._audit(
                    session,
                    at=at,
                    by=by,
                    action="open_watches",
                    entity=_entity("cg_watches", {w.model_name for w in opened}),
                    payload={
                        "n_series": len(opened),
                        "versions": sorted({w.version for w in opened}),
                    },
                )
        return opened

    def close_watches(
        self,
        model_name: str,
        closes: Sequence[WatchClose],
        *,
        at: datetime,
        by: str = DEFAULT_ACTOR,
    ) -> list[Watch]:
        """Close open watches with their verdicts; returns those that changed. Closing a
        watch again with the same verdict is a no-op; with another, it is refused."""
        with self._writing(f"closing watches of {model_name!r} in cg_watches") as session:
            changed = _watch.close_watches(session, model_name, closes)
            if changed:
                self._audit(
                    session,
                    at=at,
                    by=by,
                    action="close_watches",
                    entity=f"cg_watches:{model_name}",
                    payload=dict(Counter(w.status for w in changed)),
                )
        return changed

    def list_watches(
        self,
        model_name: str,
        *,
        status: str | None = None,
        unique_id: str | Sequence[str] | None = None,
        closed_at: datetime | None = None,
    ) -> list[Watch]:
        """The model's watches (optionally of one status, some series, or closed at one
        time), oldest first."""
        with self._reading("reading cg_watches") as session:
            return _watch.list_watches(
                session, model_name, status=status, unique_id=unique_id, closed_at=closed_at
            )

    # --- workspace lock ----------------------------------------------------------------

    def lock(self, name: str, *, holder: str, at: datetime) -> AbstractContextManager[None]:
        """Hold the workspace lock ``name`` for the ``with`` block, or fail at once.

        Exactly one holder at a time across processes on the same store; a second
        acquisition, in this process too, raises
        :class:`~chronoguard.errors.WorkspaceBusyError` naming the lock, its ``holder``
        (free text, e.g. ``"cycle pid 123 on host x"``) and since when (``at``). The lock
        is released when the block ends, and by the operating system or the database
        server when the holding process dies, however it dies.

        Examples
        --------
        >>> from datetime import datetime
        >>> from chronoguard.errors import WorkspaceBusyError
        >>> from chronoguard.store import Store
        >>> store = Store.open("sqlite://")
        >>> with store.lock("cycle", holder="cycle of demand", at=datetime(2024, 1, 1)):
        ...     try:
        ...         with store.lock("cycle", holder="a second cycle", at=datetime(2024, 1, 1)):
        ...             pass
        ...     except WorkspaceBusyError as busy:
        ...         print(str(busy).split(". ")[0])
        the workspace lock 'cycle' of the store at sqlite:// is held by cycle of demand since 2024-01-01 00:00:00
        >>> store.close()
        """
        self._check_open()
        return _lock.hold(
            self._engine, self._local_locks, name, holder=holder, at=at, where=self._where
        )
