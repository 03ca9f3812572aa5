"""The contract's per-series checks (sort order, gaps, off-grid timestamps) run vectorised over
a fleet; they must name exactly the series a check of each series alone names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chronoguard.data import contract, find_problems


def _fleet(rng: np.random.Generator, freq: str, n: int) -> pd.DataFrame:
    frames = []
    # Off-grid timestamps in only some panels: they send every series to the detailed check.
    off_grid = rng.random() < 0.3
    for i in range(n):
        start = pd.Timestamp("2020-01-01") + int(
            rng.integers(0, 5)
        ) * pd.tseries.frequencies.to_offset(freq)
        ds = pd.date_range(start, periods=int(rng.integers(1, 30)), freq=freq)
        kind = rng.integers(0, 6)
        if kind == 0 and len(ds) > 3:  # a gap
            ds = ds.delete(int(rng.integers(1, len(ds) - 1)))
        elif kind == 1 and off_grid and len(ds) > 2:  # off the grid
            ds = ds.insert(1, ds[0] + (ds[1] - ds[0]) / 2)
        elif kind == 2 and len(ds) > 2:  # unsorted
            ds = ds[[1, 0, *range(2, len(ds))]]
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": 1.0}))
    df = pd.concat(frames, ignore_index=True)
    if rng.random() < 0.5:
        # Interleave the series' rows, each series keeping its own row order.
        keys = rng.random(len(df))
        df["key"] = df.groupby("unique_id")["ds"].transform(lambda g: np.sort(keys[g.index]))
        df = df.sort_values("key").drop(columns="key")
    return df.reset_index(drop=True)


def _exhaustive(df: pd.DataFrame, freq: str) -> list[str]:
    """The problems found when every series is checked on its own (the per-series loop)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(contract, "_series_off_calendar", lambda d, _o: set(d["unique_id"]))
        mp.setattr(
            contract,
            "_unsorted_series",
            lambda d: [
                str(u)
                for u, g in d.groupby("unique_id", sort=False)
                if not g["ds"].is_monotonic_increasing
            ],
        )
        return contract.find_problems(df, freq=freq)[0]


@pytest.mark.parametrize(
    "freq", ["D", "h", "30min", "MS", "QS", "YS", "W", "W-MON", "QS-OCT", "B", "ME"]
)
def test_fleet_checks_find_what_checking_each_series_finds(freq: str) -> None:
    rng = np.random.default_rng(sum(map(ord, freq)))
    seen: set[str] = set()
    for _ in range(30):
        df = _fleet(rng, freq, 12)
        fast, _ = find_problems(df, freq=freq)
        assert fast == _exhaustive(df, freq), freq
        seen |= {p.split()[0] for p in fast}
    # The panels did hold each kind of problem.
    assert {"timestamps", "gaps"} <= seen, seen
