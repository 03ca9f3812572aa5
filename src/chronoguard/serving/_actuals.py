"""Actuals posted over HTTP: checked against the data contract, then written in one call.

A batch is written whole or not at all. Before anything is written every row is checked:
the series must be deployed, ``y`` finite, ``ds`` not in the future of the clock and on
the series' time grid, and the batch must pass the data contract
(:func:`chronoguard.data.find_problems`: duplicates, gaps, grid). Every offending row is
named by its position in the request. Posting rows already stored with the same value is
a no-op success (so a client may retry a batch freely); a different value for a stored
``(unique_id, ds)`` is a revision and is refused unless the request says ``revise=true``,
naming the stored and the sent value. The write itself is
:meth:`chronoguard.store.Store.record_actuals` (one transaction, audited), which checks
revisions again under its write lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from chronoguard.data.contract import find_problems
from chronoguard.errors import StoreError
from chronoguard.serving._problems import ProblemError
from chronoguard.serving._schemas import ActualIn, ActualsOut
from chronoguard.store import Store

_FREQ_UNKNOWN = "irregular or unknown frequency"
_MAX_IN = 500  # series named in one query; above it the time range alone selects
_LOW = datetime(1678, 1, 1)
_HIGH = datetime(2262, 1, 1)


def _utc_naive(t: datetime) -> datetime:
    return t if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)


def _on_grid(ts: pd.Timestamp, anchor: pd.Timestamp, offset: Any) -> bool:
    if isinstance(offset, pd.offsets.Tick):
        return (ts - anchor).value % offset.nanos == 0
    return bool(offset.is_on_offset(ts)) and (ts - ts.normalize()) == (anchor - anchor.normalize())


def check_and_record(
    store: Store,
    rows: Sequence[ActualIn],
    *,
    deployed: Callable[[str], bool],
    anchor: Callable[[str], datetime | None],
    freq: str | None,
    now: datetime,
    revise: bool,
    by: str,
) -> ActualsOut:
    """Validate ``rows`` and record them; raises :class:`ProblemError` naming bad rows.

    ``deployed`` says whether a series is served; ``anchor`` gives a timestamp on the
    series' grid (a served forecast's target), ``freq`` the grid's step, ``now`` the time
    at the edge (rows after it are refused; it is also the rows' ``received_at``).
    """
    stamps = [_utc_naive(r.ds) for r in rows]
    # pandas keeps nanoseconds: years outside 1677–2262 cannot be stored or compared.
    in_range = [_LOW < t < _HIGH for t in stamps]
    frame = pd.DataFrame(
        {
            "unique_id": [r.unique_id for r in rows],
            "ds": pd.to_datetime(
                pd.Series([t if ok else None for t, ok in zip(stamps, in_range, strict=True)])
            ),
            "y": np.array([r.y for r in rows], dtype=float),
        }
    )
    offset = pd.tseries.frequencies.to_offset(freq) if freq else None
    bad: list[dict[str, Any]] = []
    for i, (u, ts, y) in enumerate(zip(frame["unique_id"], frame["ds"], frame["y"], strict=True)):
        problems = []
        if not deployed(u):
            problems.append(
                f"series {u!r} is not deployed: actuals are taken for deployed series "
                "(a cycle trains a new series once its history is long enough)"
            )
        if not np.isfinite(y):
            problems.append(f"y is {y}: send a finite number, or leave the row out")
        if not in_range[i]:
            problems.append(f"ds {stamps[i]} is outside the years 1678–2261 that can be stored")
            bad.append(
                {"row": i, "unique_id": u, "ds": stamps[i].isoformat(), "problems": problems}
            )
            continue
        if ts > pd.Timestamp(now):
            problems.append(f"ds {ts} is after the current time {now} (UTC)")
        a = anchor(u)
        if offset is not None and a is not None and not _on_grid(ts, pd.Timestamp(a), offset):
            problems.append(f"ds {ts} is not on the series' '{freq}' grid (e.g. {a})")
        if problems:
            bad.append({"row": i, "unique_id": u, "ds": ts.isoformat(), "problems": problems})
    dup = frame.duplicated(["unique_id", "ds"], keep=False) & np.array(in_range)
    for i in np.flatnonzero(dup).tolist():
        bad.append(
            {
                "row": i,
                "unique_id": frame.at[i, "unique_id"],
                "ds": pd.Timestamp(frame["ds"].iloc[i]).isoformat(),
                "problems": ["(unique_id, ds) appears more than once in the batch"],
            }
        )
    valid = frame[in_range]
    ordered = valid.sort_values(["unique_id", "ds"], kind="stable")  # index: request rows
    contract, _ = find_problems(ordered, freq=freq) if len(ordered) else ([], freq)
    contract = [p for p in contract if not p.startswith(_FREQ_UNKNOWN)]
    if bad or contract:
        named = sorted({r["row"] for r in bad})
        raise ProblemError(
            422,
            "invalid_rows",
            f"{len(named)} of {len(frame)} row(s) are refused and the batch breaks the data "
            f"contract in {len(contract)} way(s); nothing was written: fix or remove the "
            "rows named and send the batch again",
            problems=contract,
            rows=sorted(bad, key=lambda r: r["row"]),
        )
    changed = _revisions(store, frame)
    if changed and not revise:
        raise ProblemError(
            409,
            "revision_refused",
            f"{len(changed)} row(s) change values already stored; actuals are not revised "
            "silently and nothing was written: send the batch again with ?revise=true to "
            "replace them (each revision is audited), or drop those rows",
            rows=changed,
        )
    try:
        written = store.record_actuals(frame, received_at=now, revise=revise, by=by)
    except StoreError as exc:  # a value changed under us since the check above
        raise ProblemError(
            409, "conflict", f"{exc}; nothing was written: read the actuals and send again"
        ) from exc
    return ActualsOut(
        rows=len(frame),
        inserted=written.inserted,
        unchanged=written.unchanged,
        revised=written.revised,
    )


def _revisions(store: Store, frame: pd.DataFrame) -> list[dict[str, Any]]:
    ids = sorted(frame["unique_id"].unique())
    stored = store.get_actuals(
        unique_id=ids if len(ids) <= _MAX_IN else None,
        ds_from=frame["ds"].min().to_pydatetime(),
        ds_to=frame["ds"].max().to_pydatetime(),
    )
    if stored.empty:
        return []
    old = {
        (u, pd.Timestamp(d)): float(y)
        for u, d, y in zip(stored["unique_id"], stored["ds"], stored["y"], strict=True)
    }
    out = []
    for i, (u, ts, y) in enumerate(zip(frame["unique_id"], frame["ds"], frame["y"], strict=True)):
        was = old.get((u, ts))
        if was is not None and was != y:
            out.append(
                {"row": i, "unique_id": u, "ds": ts.isoformat(), "stored_y": was, "y": float(y)}
            )
    return out
