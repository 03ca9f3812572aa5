"""The Python API for notebooks and scripts: :class:`Workspace`, one object per workspace.

Each method runs the same function as the ``chronoguard`` command of the same name (the
cycle, the monitor and retrain steps, serving, and the governed promote and rollback of
:mod:`chronoguard.lifecycle.operations`), and returns typed values (the store's frozen
records, the steps' outcomes) or a DataFrame in the data contract; nothing is printed.

Actions need a token of the workspace, as on the command line: ``token=`` or the
``CHRONOGUARD_TOKEN`` environment variable, checked for the role each action needs
(:mod:`chronoguard.lifecycle.access`); its name is the actor recorded. This object is an
edge like the command line: the real time of an action is the machine's clock, read here,
unless ``at=`` is given.

>>> from chronoguard import Workspace, load_dataset
>>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
>>> with Workspace.example() as ws:
...     first = ws.cycle(df[df.ds <= "1980-12-01"])   # trains and deploys version 1
...     fc = ws.forecast(df[df.ds <= "1980-12-01"], h=3)
>>> first.n_series, len(fc), str(fc.ds.min().date())
(1, 3, '1981-01-01')
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from chronoguard.errors import ChronoguardError, WorkspaceError

if TYPE_CHECKING:
    from chronoguard.config import ChronoguardConfig
    from chronoguard.data import ValidatedFrame
    from chronoguard.lifecycle import Workspace as OpenWorkspace
    from chronoguard.lifecycle.access import Principal
    from chronoguard.lifecycle.approvals import VoteOutcome
    from chronoguard.lifecycle.operations import PromotionOutcome
    from chronoguard.orchestration import CycleOutcome
    from chronoguard.orchestration.steps import BatchResult
    from chronoguard.registry import ModelVersion
    from chronoguard.store import (
        Alert,
        ApprovalRequest,
        AuditEntry,
        AuditVerdict,
        Deployment,
        DeploymentMove,
        SeriesDecision,
    )

#: The environment variable a token is read from when ``token=`` is not given.
TOKEN_ENV = "CHRONOGUARD_TOKEN"
#: The actor recorded for the cycle's own writes when a notebook runs it (the command line
#: records "chronoguard cycle"); promote, rollback and retrain record the token's name.
ACTOR = "chronoguard api"


def _wall_clock() -> datetime:
    """The real time of an action (UTC, naive): this object is an edge, like the CLI."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class MonitorResult:
    """The check of every series at ``now`` (:meth:`Workspace.monitor`).

    ``results`` holds the store's monitoring results at ``now`` (one row per series, kind,
    method and feature, with ``decision``, ``advisory``, ``positive`` and ``alerting``
    columns, see :func:`~chronoguard.orchestration.cycle.check_at`); empty when no check
    was due (the first cycle trains, checks start after it).
    """

    now: pd.Timestamp
    results: pd.DataFrame

    @property
    def alerting(self) -> pd.DataFrame:
        """The checks that raise an alert: positive, not an advisory iid test, and within
        the alert level after the fleet-wide false-discovery adjustment."""
        return self.results[self.results["alerting"]]

    @property
    def ok(self) -> bool:
        """No check alerts (``chronoguard monitor`` exits 0)."""
        return not len(self.alerting)


class Workspace:
    """A workspace opened from Python: forecast, run the cycle, monitor, retrain, promote,
    roll back, and read its versions, deployment, decisions, alerts and audit log.

    It wraps :class:`chronoguard.lifecycle.Workspace` (the open config, model registry and
    state store that every part of chronoguard takes; here :attr:`inner`) and is exported
    as ``chronoguard.Workspace``; the wrapped class stays importable from
    :mod:`chronoguard.lifecycle` under its own name. Open one with :meth:`open`, create one
    with :meth:`init`; use it as a context manager or call :meth:`close`.

    >>> from chronoguard import Workspace
    >>> with Workspace.example() as ws:
    ...     ws.deployment().versions
    {'uk_drivers_ksi': '1'}
    """

    def __init__(
        self,
        inner: OpenWorkspace,
        *,
        token: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.inner = inner
        self._token = token
        self._clock = clock or _wall_clock
        self._owned_dir: Path | None = None  # the folder of an example, removed by close()

    # --- opening and closing -------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], token: str | None = None) -> Workspace:
        """Open the workspace at ``path`` (created by :meth:`init` or ``chronoguard init``).

        ``token``: the secret of a token of this workspace, for actions (default: the
        ``CHRONOGUARD_TOKEN`` environment variable). Reads need none.

        >>> import tempfile
        >>> from chronoguard import Workspace
        >>> Workspace.open(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chronoguard.errors.WorkspaceError: ... is not a chronoguard workspace ...
        """
        from chronoguard.lifecycle import open_workspace

        return cls(open_workspace(Path(path), clock=_wall_clock), token=token)

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        config: ChronoguardConfig | None = None,
        token: str | None = None,
    ) -> Workspace:
        """Create a workspace at ``path`` with ``config`` (default: the built-in defaults):
        its config file, model registry and migrated state store. An existing workspace is
        refused (open it with :meth:`open`; ``chronoguard init --force`` rewrites one).

        >>> import tempfile
        >>> from chronoguard import Workspace, parse_config
        >>> cfg = parse_config({"data": {"freq": "MS", "season_length": 12}})
        >>> with Workspace.init(tempfile.mkdtemp(), cfg) as ws:
        ...     ws.versions()
        []
        """
        from chronoguard.config import ChronoguardConfig
        from chronoguard.lifecycle import CONFIG_FILE, init_workspace

        root = Path(path)
        if (root / CONFIG_FILE).exists():
            raise WorkspaceError(
                f"{root.resolve()} is already a chronoguard workspace; open it with "
                "Workspace.open(path), or choose an empty folder"
            )
        cfg = config if config is not None else ChronoguardConfig()
        inner = init_workspace(root, cfg, overwrite_config=True, clock=_wall_clock)
        return cls(inner, token=token)

    @classmethod
    def example(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        """A small workspace to try the API on: monthly data, a seasonal naive model, a
        3-month horizon, version 1 trained and deployed by a first cycle on the bundled
        seatbelts data up to December 1980, and an admin token named ``notebook`` in use.

        Without ``path`` it lives in a temporary folder removed by :meth:`close`.

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     [v.version for v in ws.versions()], ws.caller().role
        (['1'], 'admin')
        """
        from chronoguard.config import parse_config
        from chronoguard.data import load_dataset
        from chronoguard.lifecycle.access import create_token

        owned = Path(tempfile.mkdtemp(prefix="chronoguard-example-")) if path is None else None
        root = owned if owned is not None else Path(path)  # type: ignore[arg-type]
        cfg = parse_config(
            {
                "data": {"freq": "MS", "season_length": 12},
                "model": {"name": "SeasonalNaive", "registered_name": "seatbelts"},
                "forecast": {"horizon": 3},
                "training": {"initial_window": 120, "backtest_windows": 1},
                "gate": {"validation_window": 3, "margin": 0.05, "max_mase": 5.0},
            }
        )
        try:
            ws = cls.init(root, cfg)
            ws._owned_dir = owned
            df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
            now = ws._clock()
            _, ws._token = create_token(ws.inner.store, "notebook", "admin", by=None, at=now)
            ws.cycle(df[df["ds"] <= pd.Timestamp("1980-12-01")])
        except BaseException:
            if owned is not None:
                shutil.rmtree(owned, ignore_errors=True)
            raise
        return ws

    @property
    def path(self) -> Path:
        """The workspace's folder."""
        return self.inner.root

    @property
    def config(self) -> ChronoguardConfig:
        """The workspace's configuration (its ``chronoguard.toml``)."""
        return self.inner.config

    @property
    def model_name(self) -> str:
        """The registered model's name (``model.registered_name``)."""
        return self.inner.model_name

    def close(self) -> None:
        """Close the state store (and remove the folder of an :meth:`example`)."""
        self.inner.close()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, model={self.model_name!r})"

    # --- access and time -----------------------------------------------------------------

    def caller(self, role: str = "viewer") -> Principal:
        """Who acts: the token's principal, refused unless its role is ``role`` or higher
        (:class:`~chronoguard.lifecycle.access.AuthenticationError` without a valid token,
        :class:`~chronoguard.lifecycle.access.PermissionDenied` with too low a role)."""
        from chronoguard.lifecycle.access import authenticate, require

        secret = self._token if self._token is not None else os.environ.get(TOKEN_ENV)
        return require(authenticate(self.inner.store, secret), role)

    def _reader(self) -> None:
        # Reads need no token, but a token given must be one of this workspace (the CLI's rule).
        if self._token is not None or os.environ.get(TOKEN_ENV):
            self.caller("viewer")

    def _at(self, at: datetime | str | None) -> pd.Timestamp:
        return pd.Timestamp(at) if at is not None else pd.Timestamp(self._clock())

    def _checked(self, df: pd.DataFrame, future: pd.DataFrame | None = None) -> ValidatedFrame:
        from chronoguard.data.contract import validate_with_future

        cfg = self.inner.config
        return validate_with_future(
            df, freq=cfg.data.freq, exog=cfg.data.exog or [], future=future, source="df"
        )

    def _cycle_time(self, checked: ValidatedFrame, now: datetime | str | None) -> pd.Timestamp:
        from chronoguard.orchestration.cycle import cycle_time

        return cycle_time(checked.df, checked.freq, now, name="now")

    # --- the operations ------------------------------------------------------------------

    def forecast(
        self,
        df: pd.DataFrame,
        h: int | None = None,
        future: pd.DataFrame | None = None,
        version: str | None = None,
    ) -> pd.DataFrame:
        """Forecast ``h`` periods (default: the config's horizon) after each series' last
        observation in ``df`` with ``version`` (a number or an alias; default the
        deployment: each series by the version that serves it, named in a ``version``
        column), as ``chronoguard forecast`` does. A model with exogenous columns takes their future
        values from ``future`` (or from rows of ``df`` with an empty ``y``). Nothing is
        recorded; no token is needed.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     fc = ws.forecast(df[df.ds <= "1980-12-01"], h=2)
        >>> list(fc.columns[:3]), len(fc)
        (['unique_id', 'ds', 'yhat'], 2)
        """
        from chronoguard.lifecycle.serve import forecast_version

        self._reader()
        served = forecast_version(
            self.inner,
            df,
            version=version,
            horizon=h,
            future=future,
            source="df",
            future_source="future",
            horizon_name="h",
        )
        return served.combined()

    def cycle(
        self,
        df: pd.DataFrame,
        now: datetime | str | None = None,
        future: pd.DataFrame | None = None,
    ) -> CycleOutcome:
        """Run one production cycle at ``now`` (default: the data's last timestamp), as
        ``chronoguard cycle`` does: record actuals, check, decide, retrain, gate, deploy,
        serve. Run again for the same ``now`` it changes nothing. Needs an operator.
        A model with exogenous columns forecasts with their values from ``future`` (or
        rows of ``df`` with an empty ``y``); where they end before the horizon, a
        ``UserWarning`` says how many forecasts were served.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     out = ws.cycle(df[df.ds <= "1981-01-01"])
        ...     again = ws.cycle(df[df.ds <= "1981-01-01"])
        >>> out.checked, out.forecasts_served, again.already_done
        (True, 3, True)
        """
        from chronoguard.orchestration import run_cycle
        from chronoguard.orchestration.cycle import short_inputs_note

        self.caller("operator")
        checked = self._checked(df, future)
        t = self._cycle_time(checked, now)
        outcome = run_cycle(
            self.inner,
            checked.df,
            freq=checked.freq,
            now=t,
            by=ACTOR,
            recorded_at=self._at(None),
            future=checked.future,
        )
        cfg = self.inner.config
        note = short_inputs_note(
            outcome,
            horizon=cfg.forecast.horizon,
            exog=cfg.data.exog or [],
            how="as future= (or as rows of df with an empty y after the history)",
        )
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        return outcome

    def monitor(self, df: pd.DataFrame, now: datetime | str | None = None) -> MonitorResult:
        """Run the check step of the cycle at ``now`` (default: the data's last timestamp),
        as ``chronoguard monitor`` does, and return its results; a cycle at the same ``now``
        continues from it. Needs an operator.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     checked = ws.monitor(df[df.ds <= "1981-01-01"])
        >>> sorted(set(checked.results["kind"]))[:2], type(checked.ok)
        (['data_drift', 'data_quality'], <class 'bool'>)
        """
        from chronoguard.orchestration.cycle import check_at

        self.caller("operator")
        checked = self._checked(df)
        t = self._cycle_time(checked, now)
        results = check_at(
            self.inner, checked.df, freq=checked.freq, now=t, by=ACTOR, recorded_at=self._at(None)
        )
        return MonitorResult(t, results)

    def retrain(
        self,
        df: pd.DataFrame,
        series: Sequence[str] | None = None,
        reason: str = "manual",
        now: datetime | str | None = None,
        at: datetime | str | None = None,
    ) -> BatchResult:
        """Retrain ``series`` (every deployed series by default) on ``df`` up to ``now`` as
        one version, gate each and deploy the winners, as ``chronoguard retrain`` does; the
        decision is recorded with ``reason`` as its trigger. Needs an operator.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     res = ws.retrain(df[df.ds <= "1981-01-01"], reason="new quarter")
        >>> res.version, len(res.gates), res.trigger
        ('2', 1, 'new quarter')
        """
        from chronoguard.orchestration.steps import retrain_by_hand

        caller = self.caller("operator")
        checked = self._checked(df)
        t = self._cycle_time(checked, now)
        return retrain_by_hand(
            self.inner,
            checked.df,
            series=list(series) if series else None,
            reason=reason,
            now=t,
            freq=checked.freq,
            by=caller.name,
            at=self._at(at),
        )

    def promote(
        self,
        version: str,
        series: Sequence[str] | None = None,
        group: str | None = None,
        reason: str = "manual promotion",
        at: datetime | str | None = None,
    ) -> PromotionOutcome:
        """Deploy ``version`` to the series it was trained on (or ``series``, or a
        ``group``'s), as ``chronoguard promote`` does; series whose tier waits for approval
        get an approval request instead. Needs an operator.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     v = ws.retrain(df[df.ds <= "1981-01-01"]).version
        ...     out = ws.promote(v, reason="looks better")
        ...     served = ws.deployment().versions
        >>> served, [(m.unique_id, m.version) for m in out.moves]
        ({'uk_drivers_ksi': '2'}, [('uk_drivers_ksi', '2')])
        """
        from chronoguard.lifecycle.operations import Selection, promote

        caller = self.caller("operator")
        return promote(
            self.inner,
            str(version),
            caller=caller,
            selection=Selection.of(list(series) if series else None, group),
            reason=reason,
            at=self._at(at),
        )

    def rollback(
        self,
        series: Sequence[str] | None = None,
        group: str | None = None,
        reason: str = "manual rollback",
        at: datetime | str | None = None,
    ) -> list[DeploymentMove]:
        """Move series (all by default, or ``series``, or a ``group``'s) back to the version
        that served them before, in one step, as ``chronoguard rollback`` does. Needs an
        operator.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     v = ws.retrain(df[df.ds <= "1981-01-01"]).version
        ...     _ = ws.promote(v)
        ...     [(m.previous_version, m.version) for m in ws.rollback(reason="too risky")]
        [('2', '1')]
        """
        from chronoguard.lifecycle.operations import Selection
        from chronoguard.lifecycle.operations import rollback as roll_back

        caller = self.caller("operator")
        return roll_back(
            self.inner,
            caller=caller,
            selection=Selection.of(list(series) if series else None, group),
            reason=reason,
            at=self._at(at),
        )

    def approve(self, request_id: int, reason: str = "approved") -> VoteOutcome:
        """Approve the approval request ``request_id`` (see :meth:`approvals`), as
        ``chronoguard approve`` does. Needs an approver who is not the change's author; the
        vote that completes the request's approvals deploys its series.

        >>> from chronoguard import ChronoguardError, Workspace
        >>> with Workspace.example() as ws:
        ...     try:
        ...         ws.approve(7)
        ...     except ChronoguardError as e:
        ...         print(e)
        there is no approval request 7; `chronoguard approvals --all` lists them
        """
        return self._vote(request_id, "approve", reason)

    def reject(self, request_id: int, reason: str) -> VoteOutcome:
        """Reject the approval request ``request_id``, as ``chronoguard reject`` does:
        one rejection by an approver closes it and nothing is deployed."""
        return self._vote(request_id, "reject", reason)

    def _vote(self, request_id: int, choice: str, reason: str) -> VoteOutcome:
        from chronoguard.lifecycle.operations import cast_vote

        caller = self.caller("approver")
        return cast_vote(
            self.inner,
            int(request_id),
            caller=caller,
            choice=choice,
            reason=reason,
            at=self._at(None),
        )

    # --- reads ---------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        """The registered versions with aliases, metrics and lineage (``chronoguard
        versions``), oldest first.

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     (v,) = ws.versions()
        >>> v.version, v.aliases, v.lineage.forecaster
        ('1', ('champion',), 'SeasonalNaive')
        """
        self._reader()
        return self.inner.registry.list_versions(self.model_name)

    def deployment(self) -> Deployment:
        """Which version serves which series (``chronoguard deployment``).

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     ws.deployment().versions_in_use()
        ['1']
        """
        self._reader()
        return self.inner.store.get_deployment(self.model_name)

    def decisions(
        self,
        series: Sequence[str] | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
    ) -> list[SeriesDecision]:
        """The decision engine's choices per series and cycle, and why, oldest first
        (``chronoguard decisions``); filtered by series, ``action`` (``retrain``,
        ``keep`` …) and cycles at or after ``since``.

        >>> from chronoguard import Workspace, load_dataset
        >>> df = load_dataset("seatbelts")[["unique_id", "ds", "y"]]
        >>> with Workspace.example() as ws:
        ...     _ = ws.cycle(df[df.ds <= "1981-01-01"])
        ...     [(str(d.ds.date()), d.action) for d in ws.decisions(since="1981-01-01")]
        [('1981-01-01', 'keep')]
        """
        self._reader()
        return self.inner.store.list_series_decisions(
            self.model_name,
            unique_id=list(series) if series else None,
            action=action,
            ds_from=pd.Timestamp(since).to_pydatetime() if since is not None else None,
        )

    def alerts(self, status: str | None = None, series: Sequence[str] | None = None) -> list[Alert]:
        """Alerts raised by monitoring, oldest first (``chronoguard alerts list``); ``status``
        ``open``, ``acknowledged`` or ``resolved`` (default: all).

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     ws.alerts(status="open")
        []
        """
        self._reader()
        return self.inner.store.list_alerts(
            status=status, unique_id=list(series) if series else None
        )

    def approvals(self, include_closed: bool = False) -> list[ApprovalRequest]:
        """The promotions waiting for approval (``chronoguard approvals``; with
        ``include_closed`` every request and how it closed). Requests past their expiry are
        closed first, as on the command line.

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     ws.approvals()
        []
        """
        from chronoguard.lifecycle.approvals import expire_approvals, pending_approvals

        self._reader()
        expire_approvals(self.inner, self._at(None))
        return pending_approvals(self.inner, include_closed=include_closed)

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        """The newest ``limit`` rows of the audit log, in the order they were recorded
        (``chronoguard audit show``).

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     rows = ws.audit(limit=3)
        >>> len(rows), rows[-1].id > rows[0].id
        (3, True)
        """
        if limit < 1:
            raise ChronoguardError(f"limit must be 1 or more, got {limit}")
        self._reader()
        return self.inner.store.audit_log(last=limit)

    def verify_audit(self) -> AuditVerdict:
        """Check the audit chain with the workspace's key and the tables it covers
        (``chronoguard audit verify``); the verdict names the first broken row.

        >>> from chronoguard import Workspace
        >>> with Workspace.example() as ws:
        ...     ws.verify_audit().ok
        True
        """
        self._reader()
        return self.inner.store.verify_audit_chain()


__all__ = ["MonitorResult", "Workspace"]
