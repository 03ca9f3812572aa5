"""The watch: a promotion checked prospectively against the version it replaced.

The gate compares a challenger with its champion on recent data the challenger was fitted
to (so that it can learn from the change that triggered it). The watch is the other half:
after a promotion, the replaced version keeps forecasting the series in shadow, from the
same origins as the served forecasts. As actuals arrive, both versions have forecast the
same targets that neither had seen; their absolute errors are paired (same origins, same
targets) and averaged per target, and every cycle the paired differences so far go through
an anytime-valid sequential comparison (:func:`chronoguard.monitoring.paired_sequential`, a
confidence sequence for the mean loss difference that may be looked at after every target
without inflating its false decisions). The watch ends as soon as it decides:

* ``worse``: the series is rolled back to the version it replaced, at once;
* ``better``: the promotion is confirmed early;
* neither after ``gate.watch_periods`` periods: the promotion stands (not shown worse).

The bar is evidence, not a point estimate: refits help far more often than they hurt
(``bench/loop_value.py``), and a rollback on noise returns a series to an older model. The
promotion also stands when the series has meanwhile moved to another version (the watch is
``superseded``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from chronoguard.config import ChronoguardConfig
from chronoguard.lifecycle.fleet import VersionCache, deploy_series
from chronoguard.lifecycle.serve import serve_forecasts
from chronoguard.lifecycle.workspace import Workspace
from chronoguard.monitoring import (
    PairedDecision,
    PairedSequentialTest,
    PairedVerdict,
    paired_sequential,
)
from chronoguard.store import (
    SHADOW_ALIAS,
    Deployment,
    Watch,
    WatchClose,
    WatchKind,
    WatchStatus,
)

#: The alias of forecasts a replaced version serves in shadow during a watch.
SHADOW = SHADOW_ALIAS
ROLLBACK_REASON = "rollback: the watch found the challenger worse than the version it replaced"


def periods_between(a: pd.Timestamp, b: pd.Timestamp, freq: str) -> int:
    """Whole periods of ``freq`` from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    if b < a:
        return -periods_between(b, a, freq)
    return len(pd.date_range(a, b, freq=freq)) - 1


def watch_test(cfg: ChronoguardConfig) -> PairedSequentialTest:
    """The sequential comparison a watch runs: at ``gate.watch_alpha``, deciding from
    ``gate.watch_min_targets`` targets on."""
    return PairedSequentialTest(alpha=cfg.gate.watch_alpha, min_targets=cfg.gate.watch_min_targets)


def watch_periods(cfg: ChronoguardConfig) -> int:
    """The most periods a promotion is watched: ``gate.watch_periods``, or by default one
    season or twice the targets the comparison needs before it decides, whichever is longer
    (a watch shorter than ``watch_min_targets`` periods could never decide)."""
    w = cfg.gate.watch_periods
    if w is not None:
        return int(w)
    return int(max(cfg.data.season_length, 2 * cfg.gate.watch_min_targets))


def new_watches(
    ws: Workspace,
    promoted: Mapping[str, str | None],
    *,
    version: str,
    now: pd.Timestamp,
    kind: WatchKind = WatchKind.WATCH,
) -> tuple[list[Watch], list[WatchClose]]:
    """Watches of ``kind`` for series just promoted onto ``version``, or put on trial
    against it (``promoted`` maps each to its champion, the version it replaced; series no
    version served before are not watched), and the closes of their older watches still
    open (superseded by this one)."""
    periods = watch_periods(ws.config)
    if periods == 0:
        return [], []
    ids = [u for u, prev in promoted.items() if prev is not None and prev != version]
    t = now.to_pydatetime()
    watches = [
        Watch(
            model_name=ws.model_name,
            unique_id=u,
            opened_at=t,
            version=version,
            previous_version=str(promoted[u]),
            periods=periods,
            kind=kind.value,
        )
        for u in sorted(ids)
    ]
    older = (
        [
            w
            for w in ws.store.list_watches(ws.model_name, status="open", unique_id=ids)
            if w.opened_at < t
        ]
        if ids
        else []
    )
    forecasts, actuals = _evidence(ws, older, t)
    closes = [
        _superseded(
            w,
            forecasts,
            actuals,
            t,
            f"put on trial against version {version}"
            if kind == WatchKind.SHADOW
            else f"promoted again, onto version {version}",
        )
        for w in older
    ]
    return watches, closes


def _evidence(
    ws: Workspace, watches: Sequence[Watch], t: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts and actuals of the watched series since the oldest watch opened."""
    if not watches:
        return pd.DataFrame(), pd.DataFrame()
    ids = sorted({w.unique_id for w in watches})
    first = min(w.opened_at for w in watches)
    forecasts = ws.store.get_forecasts(unique_id=ids, origin_from=first, ds_to=t)
    actuals = ws.store.get_actuals(unique_id=ids, ds_from=first, ds_to=t)
    return forecasts, actuals


def _superseded(
    w: Watch, forecasts: pd.DataFrame, actuals: pd.DataFrame, t: datetime, why: str
) -> WatchClose:
    """The close of a watch whose series left the watched version before it ended, with
    the paired errors so far (for the record; nothing is rolled back)."""
    pe = _paired(forecasts, actuals, w, t)
    ch, pv, n = pe.challenger_mae, pe.previous_mae, pe.n_pairs
    so_far = (
        f"; so far MAE {ch:.4g} vs {pv:.4g} for version {w.previous_version} on {n} targets"
        if ch is not None and pv is not None
        else ""
    )
    return WatchClose(
        unique_id=w.unique_id,
        opened_at=w.opened_at,
        status=WatchStatus.SUPERSEDED.value,
        closed_at=t,
        challenger_error=ch,
        previous_error=pv,
        n_pairs=n,
        reason=f"{why} before the watch ended{so_far}",
    )


@dataclass(frozen=True)
class PairedErrors:
    """The watched and the replaced version on the targets both forecast from the same
    origins since the promotion: mean absolute errors over ``n_pairs`` (origin, target)
    pairs, and the sequential comparison's verdict on the per-target loss differences
    (``None`` before any target arrived)."""

    challenger_mae: float | None
    previous_mae: float | None
    n_pairs: int
    n_targets: int
    verdict: PairedVerdict | None


def _paired(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    w: Watch,
    now: datetime,
    test: PairedSequentialTest | None = None,
) -> PairedErrors:
    """Paired errors of watch ``w`` up to ``now`` (see :class:`PairedErrors`).

    The comparison runs on the loss differences ``|e_watched| - |e_replaced|`` averaged per
    target, in the order the targets arrived: forecasts of one target from several origins
    share its surprise, so they count as one observation, not several.
    """
    mine = forecasts[
        (forecasts["unique_id"] == w.unique_id)
        & (forecasts["origin"] >= w.opened_at)
        & (forecasts["ds"] <= now)
    ]
    served = mine[(mine["version"] == w.served_version) & (mine["alias"] != SHADOW)]
    shadow = mine[(mine["version"] == w.shadow_version) & (mine["alias"] == SHADOW)]
    # The challenger is the watched version, whichever of the two serves meanwhile.
    challenger, previous = (shadow, served) if w.kind == WatchKind.SHADOW else (served, shadow)
    pairs = challenger[["origin", "ds", "yhat"]].merge(
        previous[["origin", "ds", "yhat"]], on=["origin", "ds"], suffixes=("_c", "_p")
    )
    y = actuals[actuals["unique_id"] == w.unique_id][["ds", "y"]]
    pairs = pairs.merge(y, on="ds")
    if pairs.empty:
        return PairedErrors(None, None, 0, 0, None)
    yy = pairs["y"].to_numpy(float)
    ae_c = np.abs(yy - pairs["yhat_c"].to_numpy(float))
    ae_p = np.abs(yy - pairs["yhat_p"].to_numpy(float))
    by_target = pd.DataFrame({"ds": pairs["ds"].to_numpy(), "d": ae_c - ae_p, "p": ae_p})
    per = by_target.groupby("ds", sort=True)[["d", "p"]].mean()
    verdict = paired_sequential(
        per["d"].to_numpy(float),
        settings=test or PairedSequentialTest(),
        champion_loss=per["p"].to_numpy(float),
        loss="MAE",
    )
    return PairedErrors(float(np.mean(ae_c)), float(np.mean(ae_p)), len(pairs), len(per), verdict)


@dataclass(frozen=True)
class WatchReview:
    """What the open watches decided at one cycle: the closes to write, the series to roll
    back (each to the version it replaced) and, from shadow trials that passed, the series
    to promote onto their challenger (subject to their tier's approval policy)."""

    closes: list[WatchClose]
    back: dict[str, str]
    forward: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.closes or self.back or self.forward)


def review_watches(
    ws: Workspace,
    *,
    now: pd.Timestamp,
    freq: str,
    deployment: Deployment,
) -> WatchReview:
    """The verdicts of the watches that decide or run out at ``now`` (every open watch is
    compared again on the targets arrived so far). Nothing is written: the caller writes
    the review in one transaction (:func:`chronoguard.lifecycle.rollout.settle_watches`).

    A post-promotion watch or a canary shown worse rolls back; shown better, or not worse
    when it runs out, it stands. A shadow trial shown worse is rejected (the challenger
    never served); shown better, or not worse when it runs out, it is promoted.
    """
    t = now.to_pydatetime()
    open_ = ws.store.list_watches(ws.model_name, status="open")
    if not open_:
        return WatchReview([], {}, {})
    forecasts, actuals = _evidence(ws, open_, t)
    test = watch_test(ws.config)
    closes: list[WatchClose] = []
    back: dict[str, str] = {}
    forward: dict[str, str] = {}
    for w in open_:
        now_on = deployment.version_of(w.unique_id)
        if now_on != w.served_version:
            why = f"moved to version {now_on}" if now_on else "left the deployment"
            closes.append(_superseded(w, forecasts, actuals, t, why))
            continue
        pe = _paired(forecasts, actuals, w, t, test)
        ended = periods_between(pd.Timestamp(w.opened_at), now, freq) >= w.periods
        v = pe.verdict
        decided = v is not None and v.decision != PairedDecision.CONTINUE
        if not (decided or ended):
            continue  # the watch goes on: no decision yet, periods left
        status, reason = _verdict(w, pe)
        if status == WatchStatus.ROLLED_BACK:
            back[w.unique_id] = w.previous_version
        elif status == WatchStatus.PROMOTED:
            forward[w.unique_id] = w.version
        closes.append(
            WatchClose(
                unique_id=w.unique_id,
                opened_at=w.opened_at,
                status=status.value,
                closed_at=t,
                challenger_error=pe.challenger_mae,
                previous_error=pe.previous_mae,
                n_pairs=pe.n_pairs,
                reason=reason,
            )
        )
    return WatchReview(closes, back, forward)


def _verdict(w: Watch, pe: PairedErrors) -> tuple[WatchStatus, str]:
    """How watch ``w`` closes on evidence ``pe`` (it decided, or ran out), and why."""
    trial = w.kind == WatchKind.SHADOW
    v, ch, pv, n = pe.verdict, pe.challenger_mae, pe.previous_mae, pe.n_pairs
    if v is None or ch is None or pv is None:
        if trial:
            return WatchStatus.PROMOTED, (
                f"no target forecast by both versions has arrived in {w.periods} periods; "
                f"version {w.version} passed the gate and is promoted"
            )
        return WatchStatus.CONFIRMED, (
            f"no target forecast by both versions has arrived in {w.periods} periods; "
            f"version {w.version} stays"
        )
    compared = (
        f"version {w.version} MAE {ch:.4g} vs {pv:.4g} for version "
        f"{w.previous_version} on the same {n} forecasts of {pe.n_targets} targets"
    )
    what = "shadow trial" if trial else ("canary" if w.kind == WatchKind.CANARY else "promotion")
    if v.decision == PairedDecision.WORSE:
        if trial:
            return WatchStatus.REJECTED, (
                f"{compared}: {v.reason}; rejected in its shadow trial, it never served"
            )
        return WatchStatus.ROLLED_BACK, (
            f"{compared}: {v.reason}; back to version {w.previous_version}"
        )
    if v.decision == PairedDecision.BETTER:
        if trial:
            return WatchStatus.PROMOTED, f"{compared}: {v.reason}; promoted early from shadow"
        return WatchStatus.CONFIRMED, f"{compared}: {v.reason}; confirmed early, the {what} stands"
    if trial:
        return WatchStatus.PROMOTED, (
            f"{compared}: not shown worse in {w.periods} periods ({v.reason}); promoted from shadow"
        )
    return WatchStatus.CONFIRMED, (
        f"{compared}: not shown worse in {w.periods} periods ({v.reason}); the {what} stands"
    )


def close_and_roll_back(
    ws: Workspace,
    review: WatchReview,
    *,
    now: pd.Timestamp,
    by: str,
    at: pd.Timestamp,
) -> None:
    """Write the watches' verdicts and the rollbacks they call for (inside the caller's
    transaction, when there is one). Promotions from shadow trials are left to
    :func:`chronoguard.lifecycle.rollout.settle_watches`, which calls this first."""
    if review.closes:
        ws.store.close_watches(ws.model_name, review.closes, at=at.to_pydatetime(), by=by)
    if review.back:
        deploy_series(ws, review.back, by=by, reason=ROLLBACK_REASON, at=now, batch=f"watch {now}")


def serve_shadows(
    ws: Workspace,
    data: pd.DataFrame,
    *,
    now: pd.Timestamp,
    cache: VersionCache,
    series: Sequence[str] | None = None,
    future: pd.DataFrame | None = None,
) -> int:
    """Forecast from ``now`` with the version of every open watch that does not serve (the
    replaced one, or a shadow trial's challenger), recorded under the alias ``shadow``;
    returns the number of rows. ``future``: the exogenous inputs after ``now``, as for
    :func:`~chronoguard.lifecycle.serve.serve_forecasts` (``None``: the rows of ``data``
    after ``now``)."""
    by_version: dict[str, list[str]] = {}
    wanted = None if series is None else set(series)
    for w in ws.store.list_watches(ws.model_name, status="open"):
        if wanted is None or w.unique_id in wanted:
            by_version.setdefault(w.shadow_version, []).append(w.unique_id)
    total = 0
    for v, ids in sorted(by_version.items()):
        fc = serve_forecasts(
            ws.store,
            cache.get(v).forecaster,
            data[data["unique_id"].isin(ids)],
            origin=now,
            horizon=ws.config.forecast.horizon,
            model_name=ws.model_name,
            version=v,
            alias=SHADOW,
            if_exists="skip",
            future=None if future is None else future[future["unique_id"].isin(ids)],
        )
        total += len(fc)
    return total
