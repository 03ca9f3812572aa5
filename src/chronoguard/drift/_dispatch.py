"""Shared plumbing of the batch tests in :mod:`chronoguard.drift.batch`.

A batch test turns its reference into a :class:`ReferenceProfile` (sorting a raw one once),
matches the current columns to the profile's blocks (:class:`_Group`: current columns of one
length against reference columns of one block), runs its per-group arithmetic and wraps the
numbers into :class:`DriftResult` objects in the current data's column order. The per-group
helpers here pick the faster ``_core`` strategy (search in the sorted reference, or merge
both samples in column chunks of bounded memory).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chronoguard.drift import _core
from chronoguard.drift._columns import ColumnKey, ColumnSet, to_columns
from chronoguard.drift._core import FloatArray
from chronoguard.drift.profile import ProfileBlock, ReferenceProfile
from chronoguard.drift.types import DriftInputError, DriftKind, DriftResult, Severity

# Merged-strategy work arrays hold ~60 bytes per pooled point and column; chunk the columns
# so one chunk stays near 120 MB whatever the number of columns.
_MERGE_CHUNK_POINTS = 2_000_000


@dataclass(slots=True)
class _Group:
    """Current columns matched to reference columns of one profile block, same length."""

    block: ProfileBlock
    ref_idx: list[int]
    keys: list[ColumnKey]
    order: list[int]
    cur: FloatArray  # (m, g), time order as given

    @property
    def n(self) -> int:
        return self.block.n

    @property
    def m(self) -> int:
        return int(self.cur.shape[0])

    def ref_sorted(self, idx: Sequence[int]) -> FloatArray:
        cols = [self.ref_idx[i] for i in idx]
        srt = self.block.sorted
        if cols == list(range(cols[0], cols[0] + len(cols))):
            return srt[:, cols[0] : cols[0] + len(cols)]  # a view, no copy of a big reference
        return srt[:, cols]

    def ref_col(self, i: int) -> FloatArray:
        return self.block.sorted[:, self.ref_idx[i]]

    def chunks(self) -> list[list[int]]:
        g = len(self.keys)
        size = max(1, _MERGE_CHUNK_POINTS // (self.block.sorted.shape[0] + self.m))
        return [list(range(a, min(a + size, g))) for a in range(0, g, size)]

    def searchsorted_wins(self) -> bool:
        # Locating m points in a sorted reference beats merging once the reference is
        # clearly bigger; below ~2k points the vectorised merge has less overhead.
        n_store = self.block.sorted.shape[0]
        return n_store >= 2048 and n_store >= 4 * self.m


def _as_profile(reference: Any, **kw: Any) -> ReferenceProfile:
    if isinstance(reference, ReferenceProfile):
        return reference
    return ReferenceProfile.for_check(to_columns(reference, what="reference", **kw))


def _groups(profile: ReferenceProfile, cur: ColumnSet, features: list[str] | None) -> list[_Group]:
    ref_keys = [k for b in profile.blocks for k in b.keys]
    if features is not None:
        wanted = set(features)
        ref_keys = [k for k in ref_keys if k.feature in wanted]
    cur_keys = cur.numeric_keys
    if not cur_keys and not ref_keys:
        return []
    if not cur_keys:
        raise DriftInputError(
            "the current data has no numeric column to test; pass numeric columns or use "
            "chi2_test for categorical ones."
        )
    series = {k.unique_id for k in cur_keys}
    have = set(cur_keys)
    missing = [k.label() for k in ref_keys if k.unique_id in series and k not in have]
    if missing:
        raise DriftInputError(
            f"the reference has {len(ref_keys)} numeric column(s) but the current data lacks "
            f"{missing[:10]}{'…' if len(missing) > 10 else ''}; pass the same columns (and "
            "feature names) as the reference, or select columns with `features=`."
        )
    groups: dict[tuple[int, int], _Group] = {}
    block_ids = {id(b): i for i, b in enumerate(profile.blocks)}
    pos = 0
    for cb, raw in enumerate(cur.numeric):
        for key in raw.keys:
            blk, i = profile.locate(key)
            g = groups.get((block_ids[id(blk)], cb))
            if g is None:
                g = groups[(block_ids[id(blk)], cb)] = _Group(blk, [], [], [], raw.data[:, :0])
            g.ref_idx.append(i)
            g.keys.append(key)
            g.order.append(pos)
            pos += 1
    for (_, cb), g in groups.items():
        src = cur.numeric[cb]
        where = {k: j for j, k in enumerate(src.keys)}
        cols = [where[k] for k in g.keys]
        whole = cols == list(range(src.data.shape[1]))
        g.cur = src.data if whole else np.asarray(src.data[:, cols], dtype=np.float64)
    return list(groups.values())


def _result(
    method: str,
    key: ColumnKey,
    statistic: float,
    p_value: float | None,
    threshold: float,
    kind: DriftKind,
    details: dict[str, Any],
) -> DriftResult:
    on_p = p_value is not None and method not in ("wasserstein", "psi", "jensen_shannon")
    drift = (p_value < threshold) if on_p and p_value is not None else statistic >= threshold
    drift = bool(drift) and not np.isnan(statistic)
    return DriftResult(
        method=method,
        statistic=float(statistic),
        p_value=None if p_value is None else float(p_value),
        threshold=float(threshold),
        drift=drift,
        threshold_on="p_value" if on_p else "statistic",
        feature=key.feature,
        unique_id=key.unique_id,
        kind=kind,
        severity=Severity.WARNING if drift else Severity.INFO,
        details=details,
    )


def _run(
    reference: Any,
    current: Any,
    per_group: Callable[[_Group], list[DriftResult]],
    *,
    features: list[str] | None,
    id_col: str,
    time_col: str,
) -> list[DriftResult]:
    profile = _as_profile(reference, features=features, id_col=id_col, time_col=time_col)
    cur = to_columns(current, features=features, id_col=id_col, time_col=time_col, what="current")
    out: list[tuple[int, DriftResult]] = []
    for grp in _groups(profile, cur, features):
        out.extend(zip(grp.order, per_group(grp), strict=True))
    return [r for _, r in sorted(out, key=lambda t: t[0])]


def _sizes(grp: _Group) -> dict[str, Any]:
    d: dict[str, Any] = {"n_reference": grp.n, "n_current": grp.m}
    if grp.block.sketch:
        d["reference_sketch_points"] = int(grp.block.sorted.shape[0])
    return d


def _no_sketch(grp: _Group, method: str) -> None:
    if grp.block.sketch:
        raise DriftInputError(
            f"{method} needs the full reference sample, but the profile holds a quantile sketch "
            f"for {grp.keys[0].label()} (n={grp.n}); rebuild the profile with a larger "
            "`sketch_above` (or None), or use ks/wasserstein/psi/jensen_shannon."
        )


# --------------------------------------------------------------------------------------
# per-group statistics: the faster strategy for each group
# --------------------------------------------------------------------------------------


def _ks_statistic(grp: _Group, cur_s: FloatArray) -> FloatArray:
    g = len(grp.keys)
    if grp.searchsorted_wins():
        return _core.ks_sorted(grp.block.sorted, cur_s, grp.ref_idx)
    out = np.empty(g)
    for idx in grp.chunks():
        out[idx] = _core.ks_merged(_core.merge_sorted(grp.ref_sorted(idx), cur_s[:, idx]))
    return out


def _wasserstein(grp: _Group, cur_s: FloatArray) -> FloatArray:
    g = len(grp.keys)
    if grp.searchsorted_wins():
        return _core.wasserstein_sorted(grp.block.sorted, cur_s, grp.ref_idx)
    out = np.empty(g)
    for idx in grp.chunks():
        out[idx] = _core.wasserstein_merged(_core.merge_sorted(grp.ref_sorted(idx), cur_s[:, idx]))
    return out


def _bins(grp: _Group, n_bins: int) -> tuple[FloatArray, FloatArray]:
    """Reference bin edges and counts-as-proportions for the group's columns."""
    blk = grp.block
    edges_all = blk.arrays["bin_edges"]
    if edges_all is not None and edges_all.shape[0] == n_bins - 1:
        return edges_all[:, grp.ref_idx], blk.get("bin_props")[:, grp.ref_idx]
    if blk.sketch:
        raise DriftInputError(
            f"the profile's bins for {grp.keys[0].label()} have "
            f"{0 if edges_all is None else edges_all.shape[0] + 1} bins, not n_bins={n_bins}, "
            "and it holds only a sketch to recompute them from; use the profile's n_bins or "
            "rebuild the profile."
        )
    ref = grp.ref_sorted(list(range(len(grp.keys))))
    edges = _core.quantile_edges(ref, n_bins)
    return edges, _core.bin_counts_sorted(ref, edges) / blk.n


def _merged_stat(grp: _Group, fn: Callable[[_core.Merged], Any]) -> list[Any]:
    cur_s = _core.sort_columns(grp.cur)
    return [
        (idx, fn(_core.merge_sorted(grp.ref_sorted(idx), cur_s[:, idx]))) for idx in grp.chunks()
    ]
