"""The :class:`Store`: open, migrate, transact, and the typed API over every table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy import func, select, text

from chronoguard.errors import StoreError
from chronoguard.store import _audit, _coverage, _governance, _migrate, _series
from chronoguard.store._approvals import ApprovalStore
from chronoguard.store._convert import to_utc_naive
from chronoguard.store._engine import make_engine, parse_url, writer
from chronoguard.store._fleet import FleetStore
from chronoguard.store._models import AliasMoveRow, AuditRow, StatusChangeRow, table_of
from chronoguard.store._outbox import OutboxStore
from chronoguard.store._records import (
    ActualsWrite,
    Alert,
    AliasMove,
    AuditEntry,
    AuditVerdict,
    ForecastRecord,
    ModelVersion,
    MonitoringResult,
    RetrainDecision,
    StatusChange,
)
from chronoguard.store._session import DEFAULT_ACTOR, Clock, map_errors
from chronoguard.store._tokens import TokenStore


class Store(FleetStore, ApprovalStore, TokenStore, OutboxStore):
    """The state store: forecasts, actuals, monitoring, alerts, versions and the audit log,
    the per-series state of the production cycle (deployments, check history,
    decisions, the cycle ledger, intents and the workspace lock), approval requests and
    API tokens.

    Open it with :meth:`Store.open`; the constructor is internal. Every method that
    changes state writes its audit row in the same transaction, and takes the time as an
    argument (the store never reads the wall clock). Use :meth:`transaction` to make
    several calls one atomic unit.

    Examples
    --------
    >>> from datetime import datetime
    >>> with Store.open("sqlite://") as store:
    ...     move = store.record_alias_move("demand", "champion", "1", by="ana",
    ...                                    reason="first model", at=datetime(2024, 1, 1))
    ...     store.current_alias("demand", "champion"), store.verify_audit_chain().ok
    ('1', True)
    """

    @classmethod
    def open(
        cls,
        url: str | Path,
        *,
        migrate: bool = True,
        schema: str | None = None,
        audit_key: bytes | None = None,
        clock: Clock | None = None,
    ) -> Store:
        """Open the store at ``url`` and bring its schema up to date.

        Parameters
        ----------
        url
            ``sqlite:///path/state.db`` (or a plain file path) for the embedded default,
            ``sqlite://`` for an in-memory store, ``postgresql+psycopg://user@host/db``
            for PostgreSQL. PostgreSQL options in the URL (``?options=-csearch_path=x``)
            are honoured.
        migrate
            Apply pending migrations (the default). With ``False`` the store refuses to
            open a schema older than this chronoguard and raises
            :class:`~chronoguard.errors.SchemaOutdatedError`.
        schema
            PostgreSQL only: keep every table in this schema (created when missing and
            ``migrate`` is true).
        audit_key
            The secret the audit chain is keyed with (HMAC-SHA256), kept outside the
            database; a workspace reads it from its key file. Without it the store writes
            and checks plain SHA-256 rows, which catch accidents but not a forger who can
            write to the database.
        clock
            Gives the real time of each action, recorded in its audit entry
            (``recorded_at``) next to the data time it concerns (``as_of``). The edge that
            opens the store reads the wall clock (the CLI, the server); a replay passes the
            one its caller gives. Without it an entry's real time is the time its action was
            given.

        Raises
        ------
        SchemaOutdatedError
            ``migrate=False`` and the schema is behind; the message names both revisions.
        StoreError
            The database cannot be reached or was written by a newer chronoguard.
        """
        parsed = parse_url(url)
        where = parsed.render_as_string(hide_password=True)
        engine = make_engine(parsed, schema=schema)
        try:
            with map_errors(f"opening the store at {where}"):
                if schema is not None and migrate:
                    with engine.begin() as conn:
                        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                if migrate:
                    _migrate.upgrade(writer(engine))
                else:
                    _migrate.ensure_current(engine, where)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, where=where, audit_key=audit_key, clock=clock)

    def record_forecasts(
        self,
        forecasts: pd.DataFrame | Sequence[ForecastRecord],
        *,
        model_name: str | None = None,
        version: str | None = None,
        alias: str | None = None,
        created_at: datetime | None = None,
        by: str = DEFAULT_ACTOR,
        if_exists: Literal["error", "skip"] = "error",
    ) -> int:
        """Record served forecasts; returns the number of rows written.

        Parameters
        ----------
        forecasts
            :class:`ForecastRecord` objects, or a frame with their field names as columns
            (``yhat_lo``, ``yhat_hi``, ``level`` optional).
        model_name, version, alias, created_at
            Fill a column the frame does not have (the same value on every row).
        by
            Who recorded them, for the audit log.
        if_exists
            What to do with a forecast whose (unique_id, origin, ds, version) is already
            stored: ``"error"`` (the default) refuses the whole call; ``"skip"`` leaves the
            stored one as it is and writes the others, so a re-run cycle can repeat its
            writes. Skipped rows are not counted.

        Raises
        ------
        StoreError
            A forecast with the same (unique_id, origin, ds, version) is already stored
            (unless ``if_exists="skip"``) or appears twice, a value is missing or not
            finite, or an interval is incomplete.
        """
        if if_exists not in ("error", "skip"):
            raise StoreError(f"if_exists must be 'error' or 'skip', got {if_exists!r}")
        frame = _series.forecast_frame(
            forecasts,
            {
                "model_name": model_name,
                "version": version,
                "alias": alias,
                "created_at": created_at,
            },
        )
        rows = _series.forecast_rows(frame)
        if not rows:
            return 0
        with self._writing("recording forecasts into cg_forecasts") as session:
            if if_exists == "skip":
                written = _series.insert_forecasts(session, rows, skip_stored=True)
                if not written:
                    return 0
            else:
                _series.insert_forecasts(session, rows)
                written = rows
            origins = [r["origin"] for r in written]
            payload: dict[str, Any] = {
                "rows": len(written),
                "series": len({r["unique_id"] for r in written}),
                "versions": sorted({r["version"] for r in written}),
                "origin_min": min(origins),
                "origin_max": max(origins),
            }
            if if_exists == "skip":
                payload["skipped"] = len(rows) - len(written)
            self._audit(
                session,
                at=max(r["created_at"] for r in written),
                by=by,
                action="record_forecasts",
                entity="cg_forecasts",
                payload=payload,
            )
        return len(written)

    def get_forecasts(
        self,
        *,
        unique_id: str | Sequence[str] | None = None,
        version: str | Sequence[str] | None = None,
        model_name: str | None = None,
        alias: str | None = None,
        origin_from: datetime | None = None,
        origin_to: datetime | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
        served_only: bool = False,
    ) -> pd.DataFrame:
        """Stored forecasts matching every given filter (time bounds inclusive).

        ``served_only`` leaves out forecasts made in shadow (alias
        :data:`~chronoguard.store.SHADOW_ALIAS`), which were recorded but never served:
        what was served is what monitoring, scoring and summaries read.

        Columns: ``id, unique_id, origin, ds, horizon, yhat, yhat_lo, yhat_hi, level,
        model_name, version, alias, created_at``, sorted by series, version, origin, ds.
        """
        query = _series.select_forecasts(
            unique_id=unique_id,
            version=version,
            model_name=model_name,
            alias=alias,
            origin_from=origin_from,
            origin_to=origin_to,
            ds_from=ds_from,
            ds_to=ds_to,
            served_only=served_only,
        )
        with self._reading("reading cg_forecasts") as session:
            return _series.forecasts_frame(session.execute(query).all())

    def count_forecasts(
        self,
        *,
        origin_from: datetime | None = None,
        origin_to: datetime | None = None,
        served_only: bool = False,
    ) -> int:
        """How many stored forecasts :meth:`get_forecasts` would return for these filters
        (counted in the database: a fleet's cycle serves tens of thousands)."""
        query = _series.select_forecasts(
            unique_id=None,
            version=None,
            model_name=None,
            alias=None,
            origin_from=origin_from,
            origin_to=origin_to,
            ds_from=None,
            ds_to=None,
            served_only=served_only,
        ).order_by(None)
        with self._reading("counting cg_forecasts") as session:
            return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    def record_actuals(
        self,
        actuals: pd.DataFrame,
        received_at: datetime,
        *,
        revise: bool = False,
        by: str = DEFAULT_ACTOR,
    ) -> ActualsWrite:
        """Record observed values (columns ``unique_id, ds, y``).

        Re-sending a value already stored is a no-op. A *different* value for a stored
        (unique_id, ds) raises :class:`~chronoguard.errors.StoreError` unless
        ``revise=True``, which overwrites it and audits the old and new value.

        Examples
        --------
        >>> from datetime import datetime
        >>> import pandas as pd
        >>> store = Store.open("sqlite://")
        >>> frame = pd.DataFrame({"unique_id": ["s1"], "ds": [datetime(2024, 1, 1)], "y": [3.0]})
        >>> store.record_actuals(frame, received_at=datetime(2024, 1, 2))
        ActualsWrite(inserted=1, unchanged=0, revised=0)
        >>> store.record_actuals(frame, received_at=datetime(2024, 1, 3))
        ActualsWrite(inserted=0, unchanged=1, revised=0)
        >>> store.close()
        """
        when = to_utc_naive(received_at, "received_at")
        with self._writing("recording actuals into cg_actuals (key unique_id, ds)") as session:
            summary, revisions = _series.write_actuals(session, actuals, when, revise=revise)
            if summary.inserted or summary.revised:
                self._audit(
                    session,
                    at=when,
                    by=by,
                    action="revise_actuals" if summary.revised else "record_actuals",
                    entity="cg_actuals",
                    payload={
                        "inserted": summary.inserted,
                        "unchanged": summary.unchanged,
                        "revisions": revisions,
                    },
                )
        return summary

    def get_actuals(
        self,
        *,
        unique_id: str | Sequence[str] | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
    ) -> pd.DataFrame:
        """Stored actuals, columns ``unique_id, ds, y, received_at``, sorted by series, ds."""
        query = _series.select_actuals(unique_id=unique_id, ds_from=ds_from, ds_to=ds_to)
        with self._reading("reading cg_actuals") as session:
            return _series.actuals_frame(session.execute(query).all())

    # --- monitoring and alerts ---------------------------------------------------------

    def record_monitoring_results(
        self,
        run_id: str,
        ds: datetime,
        results: Sequence[MonitoringResult],
        *,
        by: str = DEFAULT_ACTOR,
    ) -> int:
        """Record the results of monitoring run ``run_id`` checked at ``ds``; returns the count."""
        when = to_utc_naive(ds, "ds")
        rows = _series.monitoring_rows(run_id, when, results)
        if not rows:
            return 0
        with self._writing(f"recording monitoring run {run_id!r} into cg_monitoring_results") as s:
            _series.insert_monitoring(s, rows)
            kinds: dict[str, int] = {}
            for r in rows:
                kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            self._audit(
                s,
                at=when,
                by=by,
                action="record_monitoring_results",
                entity=f"cg_monitoring_results:{run_id}",
                payload={
                    "rows": len(rows),
                    "fired": sum(r["decision"] for r in rows),
                    "kinds": kinds,
                },
            )
        return len(rows)

    def get_monitoring_results(
        self,
        *,
        run_id: str | None = None,
        unique_id: str | Sequence[str] | None = None,
        kind: str | None = None,
        version: str | None = None,
        decision: bool | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
        method: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Stored monitoring results, columns as :class:`MonitoringResult` plus ``id, run_id, ds``.

        Each filter given must hold; ``unique_id`` and ``method`` take one value or several."""
        query = _series.select_monitoring(
            run_id=run_id,
            unique_id=unique_id,
            kind=kind,
            version=version,
            decision=decision,
            ds_from=ds_from,
            ds_to=ds_to,
            method=method,
        )
        with self._reading("reading cg_monitoring_results") as session:
            return _series.monitoring_frame(session.execute(query).all())

    def record_alerts(self, alerts: Sequence[Alert], *, by: str = DEFAULT_ACTOR) -> list[Alert]:
        """Store alerts; returns them with their ``id`` filled in."""
        if not alerts:
            return []
        rows = [_governance.alert_row(a, i) for i, a in enumerate(alerts)]
        with self._writing("recording alerts into cg_alerts") as session:
            session.add_all(rows)
            session.flush(rows)
            stored = [_governance.to_alert(r) for r in rows]
            self._audit(
                session,
                at=max(r.ds for r in rows),
                by=by,
                action="record_alerts",
                entity="cg_alerts",
                payload={"ids": [a.id for a in stored]},
            )
        return stored

    def list_alerts(
        self,
        *,
        status: str | None = None,
        unique_id: str | Sequence[str] | None = None,
        kind: str | None = None,
        version: str | None = None,
        ds_from: datetime | None = None,
        ds_to: datetime | None = None,
    ) -> list[Alert]:
        """Stored alerts matching every given filter, oldest first."""
        query = _governance.select_alerts(
            status=status,
            unique_id=unique_id,
            kind=kind,
            version=version,
            ds_from=ds_from,
            ds_to=ds_to,
        )
        with self._reading("reading cg_alerts") as session:
            return [_governance.to_alert(r) for r in session.scalars(query)]

    def set_alert_status(
        self, alert_id: int, status: str, *, at: datetime, by: str, reason: str = ""
    ) -> Alert:
        """Acknowledge, resolve or re-open an alert; returns it as updated."""
        with self._writing(f"updating alert {alert_id} in cg_alerts") as session:
            row, old = _governance.update_alert_status(session, alert_id, status)
            self._audit(
                session,
                at=at,
                by=by,
                action="set_alert_status",
                entity=f"cg_alerts:{alert_id}",
                payload={"from": old, "to": row.status, "reason": reason},
            )
            return _governance.to_alert(row)

    # --- aliases, versions, retrains ---------------------------------------------------

    def record_alias_move(
        self, model_name: str, alias: str, version: str, *, by: str, reason: str, at: datetime
    ) -> AliasMove:
        """Record that ``alias`` of ``model_name`` now points at ``version``.

        Returns the move with ``previous_version`` filled from the alias's last move
        (``None`` for the first), read inside the same transaction.
        """
        with self._writing(f"moving alias {model_name}@{alias} in cg_alias_history") as session:
            move = _governance.move_alias(
                session, model_name, alias, version, by=by, reason=reason, at=at
            )
            self._audit(
                session,
                at=move.moved_at,
                by=by,
                action="move_alias",
                entity=f"alias:{model_name}@{alias}",
                payload={
                    "from": move.previous_version,
                    "to": version,
                    "reason": reason,
                    "covers": [_coverage.cover(session, table_of(AliasMoveRow), move.id, move.id)],
                },
            )
            return move

    def current_alias(self, model_name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or ``None`` if it was never moved."""
        with self._reading("reading cg_alias_history") as session:
            return _governance.current_alias(session, model_name, alias)

    def alias_history(self, model_name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self._reading("reading cg_alias_history") as session:
            return _governance.alias_history(session, model_name, alias)

    def set_version_status(
        self, model_name: str, version: str, status: str, *, at: datetime, by: str, reason: str
    ) -> ModelVersion:
        """Move a model version to lifecycle ``status`` and record the change.

        The store records any move between the :class:`VersionStatus` values; which moves
        are allowed is decided by the lifecycle layer.
        """
        key = f"{model_name}/{version}"
        with self._writing(f"setting the status of {key} in cg_model_versions") as session:
            state, change = _governance.set_status(
                session, model_name, version, status, at=at, by=by, reason=reason
            )
            self._audit(
                session,
                at=change.at,
                by=by,
                action="set_version_status",
                entity=f"model_version:{key}",
                payload={
                    "from": change.from_status,
                    "to": change.to_status,
                    "reason": reason,
                    "covers": [
                        _coverage.cover(session, table_of(StatusChangeRow), change.id, change.id)
                    ],
                },
            )
            return state

    def get_version(self, model_name: str, version: str) -> ModelVersion | None:
        """The lifecycle state of one version, or ``None`` if the store never saw it."""
        with self._reading("reading cg_model_versions") as session:
            return _governance.get_version(session, model_name, version)

    def list_versions(
        self, model_name: str | None = None, *, status: str | None = None
    ) -> list[ModelVersion]:
        """Lifecycle states, optionally of one model and/or in one status."""
        with self._reading("reading cg_model_versions") as session:
            return _governance.list_versions(session, model_name, status)

    def version_history(self, model_name: str, version: str | None = None) -> list[StatusChange]:
        """Every status change of the model's versions (or of one version), oldest first."""
        with self._reading("reading cg_version_status_history") as session:
            return _governance.version_history(session, model_name, version)

    def record_retrain(
        self,
        *,
        ds: datetime,
        model_name: str,
        trigger: str,
        challenger_version: str,
        champion_version: str | None,
        challenger_error: float | None,
        champion_error: float | None,
        outcome: str,
        reason: str,
        by: str = DEFAULT_ACTOR,
    ) -> RetrainDecision:
        """Record a retrain decision: which challenger met which champion, and the outcome."""
        with self._writing(f"recording a retrain of {model_name!r} into cg_retrain_decisions") as s:
            decision = _governance.insert_retrain(
                s,
                ds=ds,
                model_name=model_name,
                trigger=trigger,
                challenger_version=challenger_version,
                champion_version=champion_version,
                challenger_error=challenger_error,
                champion_error=champion_error,
                outcome=outcome,
                reason=reason,
            )
            self._audit(
                s,
                at=decision.ds,
                by=by,
                action="record_retrain",
                entity=f"cg_retrain_decisions:{decision.id}",
                payload={
                    "model_name": model_name,
                    "challenger_version": challenger_version,
                    "champion_version": champion_version,
                    "outcome": decision.outcome,
                },
            )
            return decision

    def list_retrains(self, model_name: str | None = None) -> list[RetrainDecision]:
        """Retrain decisions, optionally of one model, oldest first."""
        with self._reading("reading cg_retrain_decisions") as session:
            return _governance.list_retrains(session, model_name)

    # --- audit -------------------------------------------------------------------------

    def audit(
        self, action: str, entity: str, payload: dict[str, Any], *, by: str, at: datetime
    ) -> AuditEntry:
        """Append an audit entry for an action the store does not record itself (an
        approval, a deployment). Inside :meth:`transaction` it commits with the rest."""
        with self._writing(f"appending {action!r} to cg_audit_log") as session:
            return self._audit(session, at=at, by=by, action=action, entity=entity, payload=payload)

    def audit_log(
        self, *, entity: str | None = None, action: str | None = None, last: int | None = None
    ) -> list[AuditEntry]:
        """Audit entries, optionally of one entity and/or action (only the ``last`` ones
        when given), in the order they happened: by ``recorded_at``, then id (rows from
        before both times were kept count their one time ``at``)."""
        query = select(AuditRow)
        if entity is not None:
            query = query.where(AuditRow.entity == entity)
        if action is not None:
            query = query.where(AuditRow.action == action)
        happened = func.coalesce(AuditRow.recorded_at, AuditRow.at)
        if last is not None:
            query = query.order_by(happened.desc(), AuditRow.id.desc()).limit(max(int(last), 0))
        else:
            query = query.order_by(happened, AuditRow.id)
        with self._reading("reading cg_audit_log") as session:
            rows = [_audit.to_entry(r) for r in session.scalars(query)]
        return rows[::-1] if last is not None else rows

    def seal_audit_chain(self) -> AuditEntry | None:
        """Key a chain written before keys existed: append one keyed row that commits to
        every plain row before it (which stay as they were written, and keep verifying
        by their plain hash). Returns it, or ``None`` when there is nothing to seal.

        Only for a store opened with ``audit_key``. A keyed store refuses to write after
        a plain row otherwise, and ``verify_audit_chain`` fails a chain with no keyed row,
        so a chain rebuilt without the key cannot be sealed by accident: the workspace
        seals only when it creates its key (``chronoguard init``).
        """
        if self._audit_key is None:
            raise StoreError("seal_audit_chain needs a store opened with audit_key")
        key = self._audit_key
        with self._writing("sealing cg_audit_log") as session:
            return _audit.seal(
                session, key, recorded_at=self._clock() if self._clock is not None else None
            )

    def verify_audit_chain(self) -> AuditVerdict:
        """Recompute the hash chain and the digests of the tables it covers.

        A row fails when its content no longer matches its hash (with the store's audit
        key: an HMAC nobody without the key can rebuild), when its ``prev_hash`` is not
        the previous row's hash, when ids skip (a deleted row), or when it is a plain
        SHA-256 row after keyed ones. Then the alias history, the version status changes
        and the deployment moves are compared with the digests their audit rows carry,
        and the current deployments and version statuses with that history: the verdict
        names the first row edited behind the chain's back.
        """
        with self._reading("verifying cg_audit_log") as session:
            return _audit.verify(session, self._audit_key)
