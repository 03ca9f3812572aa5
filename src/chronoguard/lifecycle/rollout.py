"""Rollout stages: where a challenger that passed the gate starts, and where its watch ends.

``[rollout] stage`` (:class:`~chronoguard.config.RolloutConfig`):

* ``champion``: the passing series are deployed at once and watched (the replaced version
  in shadow, :mod:`chronoguard.lifecycle.watch`);
* ``shadow``: nothing is deployed; each series runs a *shadow trial*, the challenger
  forecasting every target in shadow beside the champion, recorded and never served;
* ``canary``: the series chosen by :func:`canary_series` are deployed at once as canaries
  (their forecasts recorded under the alias ``canary``, the champion in shadow); the
  others run the shadow trial.

Each watch is judged every cycle by the same anytime-valid paired comparison
(:func:`~chronoguard.lifecycle.watch.review_watches`): a canary shown worse is rolled back
at once; a shadow trial shown better, or not worse when it runs out, is promoted (deployed,
or sent to its approvers when its tier waits for people), and shown worse is rejected,
having served nothing. :func:`settle_watches` writes a review in the caller's transaction:
the watches' closes, the rollbacks, the promotions, the decisions' outcomes and the
version's status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime

import pandas as pd

from chronoguard.lifecycle.approvals import held_series, request_approval, settle_decisions
from chronoguard.lifecycle.fleet import deploy_series
from chronoguard.lifecycle.watch import WatchReview, close_and_roll_back, new_watches
from chronoguard.lifecycle.workspace import Workspace
from chronoguard.store import Watch, WatchKind

CANARY_ALIAS = "canary"
#: The decision outcome of a series while its challenger runs the shadow trial.
_IN_TRIAL = "pending"


def canary_fraction(unique_id: str) -> float:
    """Where ``unique_id`` falls in [0, 1): the first 8 bytes of its SHA-256, so the same
    series is a canary at every rollout and on every machine.

    Examples
    --------
    >>> canary_fraction("NSW") == canary_fraction("NSW")
    True
    >>> 0 <= canary_fraction("VIC") < 1
    True
    """
    digest = hashlib.sha256(unique_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def canary_series(series: Iterable[str], share: float) -> list[str]:
    """The series (of ``series``) whose :func:`canary_fraction` is below ``share``: about
    ``share`` of a large fleet, the same ones every time.

    Examples
    --------
    >>> ids = [f"s{i}" for i in range(1000)]
    >>> 50 < len(canary_series(ids, 0.1)) < 150
    True
    >>> canary_series(ids, 1.0) == sorted(ids)
    True
    """
    return sorted(u for u in series if canary_fraction(u) < share)


def start_rollout(
    ws: Workspace,
    passed: Mapping[str, str | None],
    *,
    version: str,
    held: Iterable[str],
    now: pd.Timestamp,
    by: str,
    reason: str,
    at: pd.Timestamp,
) -> tuple[list[str], list[str]]:
    """Start ``version`` on the series that passed its gate (``passed`` maps each to its
    champion, ``None`` for a series no version served) per ``[rollout] stage``, inside the
    caller's transaction. Returns the series deployed now and those put on shadow trial.

    ``held`` are the series whose tier waits for approval: at stage ``champion`` the caller
    requests their approval; at ``shadow`` and ``canary`` they run the shadow trial first
    (never canaries) and wait for approval when it promotes them.
    """
    cfg = ws.config.rollout
    model = ws.model_name
    held_set = set(held)
    new = sorted(u for u, champ in passed.items() if champ is None and u not in held_set)
    served = {u: c for u, c in passed.items() if c is not None and c != version}
    candidates = [u for u in served if u not in held_set]
    canaries = canary_series(candidates, cfg.canary_share) if cfg.stage == "canary" else []
    trials = sorted(u for u in served if u not in set(canaries))
    t = at.to_pydatetime()
    opened = []
    closes = []
    if canaries:
        w, c = new_watches(
            ws, {u: served[u] for u in canaries}, version=version, now=now, kind=WatchKind.CANARY
        )
        opened += w
        closes += c
    if trials:
        w, c = new_watches(
            ws, {u: served[u] for u in trials}, version=version, now=now, kind=WatchKind.SHADOW
        )
        opened += w
        closes += c
    go = sorted([*new, *canaries])
    if go:
        deploy_series(ws, dict.fromkeys(go, version), by=by, reason=reason, at=now, batch=str(now))
    if closes:
        ws.store.close_watches(model, closes, at=t, by=by)
    if opened:
        ws.store.open_watches(opened, at=t, by=by)
    if canaries:
        ws.store.set_version_status(
            model,
            version,
            "canary",
            at=now,
            by=by,
            reason=f"canary on {len(canaries)} series; {len(trials)} in shadow trial",
        )
    elif trials and not new:
        ws.store.set_version_status(
            model, version, "shadow", at=now, by=by, reason=f"shadow trial on {len(trials)} series"
        )
    if trials:
        settle_decisions(
            ws, now, trials, _IN_TRIAL, f"in shadow trial against its champion ({reason})", by=by
        )
    return go, trials


def settle_watches(
    ws: Workspace,
    review: WatchReview,
    *,
    now: pd.Timestamp,
    by: str,
    at: pd.Timestamp,
) -> None:
    """Write ``review`` inside the caller's transaction: the closes and rollbacks
    (:func:`~chronoguard.lifecycle.watch.close_and_roll_back`), then each shadow trial's
    outcome. Promoted series are deployed onto their challenger, or, when their tier waits
    for approval, an approval request is opened for them; their retrain decisions become
    ``promoted`` (or ``awaiting_approval``), a rejected trial's ``rejected``."""
    close_and_roll_back(ws, review, now=now, by=by, at=at)
    if not review.closes:
        return
    watches = {
        (w.unique_id, w.opened_at): w
        for w in ws.store.list_watches(
            ws.model_name, unique_id=sorted({c.unique_id for c in review.closes})
        )
    }
    _canaries_confirmed(ws, review, watches, at=at, by=by)
    trials = {c.unique_id: c for c in review.closes if c.status in ("promoted", "rejected")}
    if not trials:
        return
    placed = ws.store.latest_decisions(ws.model_name)
    tiers = {u: placed[u].tier if u in placed else None for u in review.forward}
    held = held_series(ws.config.approvals, tiers)
    by_version: dict[str, list[str]] = {}
    for u, v in review.forward.items():
        by_version.setdefault(v, []).append(u)
    for v, ids in sorted(by_version.items()):
        free = sorted(u for u in ids if u not in held)
        if free:
            deploy_series(
                ws,
                dict.fromkeys(free, v),
                by=by,
                reason="promoted from its shadow trial",
                at=now,
                batch=f"trial {now}",
            )
        waiting = {u: held[u] for u in ids if u in held}
        if waiting:
            request_approval(
                ws,
                version=v,
                series=waiting,
                as_of=now,
                at=at,
                by=by,
                reason=f"promoted from its shadow trial at {now}",
            )
    for u, c in trials.items():
        w = watches[(u, c.opened_at)]
        opened = pd.Timestamp(w.opened_at)
        if c.status == "rejected":
            outcome = "rejected"
        else:
            outcome = "awaiting_approval" if u in held else "promoted"
        settle_decisions(ws, opened, [u], outcome, c.reason, by=by)
    _reject_unused(ws, {w.version for w in watches.values()}, at=at, by=by)


def _canaries_confirmed(
    ws: Workspace,
    review: WatchReview,
    watches: Mapping[tuple[str, datetime], Watch],
    *,
    at: pd.Timestamp,
    by: str,
) -> None:
    """A canary version whose canaries all stood (none open, none rolled back this cycle)
    and that still serves becomes ``champion``."""
    model = ws.model_name
    stood = {
        watches[(c.unique_id, c.opened_at)].version
        for c in review.closes
        if c.status == "confirmed" and watches[(c.unique_id, c.opened_at)].kind == "canary"
    }
    if not stood:
        return
    still = {w.version for w in ws.store.list_watches(model, status="open") if w.kind == "canary"}
    deployment = ws.store.get_deployment(model)
    for v in sorted(stood - still):
        current = ws.store.get_version(model, v)
        if current is not None and current.status == "canary" and deployment.series_of(v):
            ws.store.set_version_status(
                model, v, "champion", at=at, by=by, reason="its canaries stood their watch"
            )


def _reject_unused(ws: Workspace, versions: Iterable[str], *, at: pd.Timestamp, by: str) -> None:
    """A version in shadow that serves nothing, has no trial left and waits for no
    approval is rejected: its trials turned it down."""
    model = ws.model_name
    deployment = ws.store.get_deployment(model)
    open_trials = {w.version for w in ws.store.list_watches(model, status="open")}
    pending = {r.version for r in ws.store.list_approvals(model, status="pending")}
    for v in sorted(versions):
        if deployment.series_of(v) or v in open_trials or v in pending:
            continue
        current = ws.store.get_version(model, v)
        if current is not None and current.status in ("shadow", "validated"):
            ws.store.set_version_status(
                model, v, "rejected", at=at, by=by, reason="its shadow trials found it worse"
            )


__all__ = [
    "CANARY_ALIAS",
    "canary_fraction",
    "canary_series",
    "settle_watches",
    "start_rollout",
]
