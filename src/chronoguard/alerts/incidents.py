"""The group incidents of one cycle, read from the store: which series alerted at a time,
and how far each one's actual fell from (or rose above) the forecast served for it.

The dashboard shows them on the fleet and alerts pages, and the cycle's notifications carry
them, so a shock that hits many series of a group is said once, in one sentence
(:func:`chronoguard.monitoring.group_incidents` does the counting).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from chronoguard.monitoring.incidents import GroupIncident, SeriesChange, group_incidents
from chronoguard.store import Store


def cycle_incidents(
    store: Store,
    model_name: str,
    ds: datetime | pd.Timestamp,
    groups: Mapping[str, str | None],
    *,
    period: str = "cycle",
) -> list[GroupIncident]:
    """The group incidents at ``ds``: each alerted series' actual at ``ds`` against the
    forecast served for it from the closest origin (only the alerted series can move an
    incident, so only theirs are read). ``groups`` maps every series of the fleet to its
    group (a group's size counts them all)."""
    at = pd.Timestamp(ds).to_pydatetime()
    alerted = sorted({a.unique_id for a in store.list_alerts(ds_from=at, ds_to=at) if a.unique_id})
    change: dict[str, float] = {}
    if alerted:
        actual = store.get_actuals(unique_id=alerted, ds_from=at, ds_to=at)
        fc = store.get_forecasts(
            unique_id=alerted, model_name=model_name, ds_from=at, ds_to=at, served_only=True
        )
        if not actual.empty and not fc.empty:
            first = fc.sort_values(["unique_id", "horizon"]).drop_duplicates("unique_id")
            both = first.merge(actual[["unique_id", "y"]], on="unique_id")
            yhat = both["yhat"].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = (both["y"].to_numpy(dtype=float) - yhat) / np.abs(yhat)
            change = dict(zip(both["unique_id"].astype(str), rel.tolist(), strict=True))
    flagged = set(alerted)
    changes = [SeriesChange(u, g, u in flagged, change.get(u)) for u, g in groups.items()]
    return group_incidents(changes, period=period)


__all__ = ["cycle_incidents"]
