"""Reference profiles: what a drift check compares against, computed once at training time.

A :class:`ReferenceProfile` holds, per series × feature, everything the batch tests and the
dependence-aware inference need, so that a monitoring run never re-reads training data:

* the sorted reference sample (or, above a size the caller chooses, a quantile sketch whose
  error is measured and stored, so that the profile's size stops growing with the
  reference's length), from which KS, Wasserstein, Cramér–von Mises and Anderson–Darling
  are computed;
* PSI / Jensen–Shannon bin edges (reference quantiles) and the reference bin proportions;
* n, mean, standard deviation (ddof=0), min and max;
* autocorrelations, AR coefficients by Yule–Walker (for pre-whitening) and, when a
  ``season_length`` is given, the mean per season position;
* value counts of categorical columns;
* optionally a nested profile of model residuals, with their mean absolute and RMS size.

Columns of equal length are stored together as one Fortran-ordered 2-D block, so a check
runs vectorised over all of them (see ``_core``). Profiles serialise to a JSON-safe dict
(arrays as base64 of little-endian bytes: exact and compact) and to ``.json`` or ``.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chronoguard.drift import _core, _profile_io
from chronoguard.drift._columns import ColumnKey, ColumnSet, RawBlock, to_columns, value_counts
from chronoguard.drift._core import FloatArray
from chronoguard.drift.types import DriftInputError

FORMAT = "chronoguard.reference_profile"
FORMAT_VERSION = 1
# KS p-values are exact up to this many points and need the full sample there.
MIN_SKETCH_ABOVE = _core.KS_EXACT_MAX_N


# --------------------------------------------------------------------------------------
# the profile
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumericSummary:
    """Reference statistics of one numeric column (a read-only view into the profile)."""

    n: int
    mean: float
    std: float
    min: float
    max: float
    bin_edges: FloatArray
    bin_proportions: FloatArray
    acf: FloatArray
    ar_coef: FloatArray
    ar_noise_var: float
    seasonal_means: FloatArray | None
    sketch: bool
    sketch_ks_error: float
    sketch_w1_error: float
    mean_abs: float | None = None
    rms: float | None = None

    @property
    def acf1(self) -> float:
        """Lag-1 autocorrelation."""
        return float(self.acf[1]) if self.acf.shape[0] > 1 else 0.0


@dataclass(frozen=True, slots=True)
class CategoricalSummary:
    """Reference value counts of one categorical column."""

    n: int
    counts: dict[str, int]


class ProfileBlock:
    """Numeric columns of equal reference length, sorted column-wise (internal storage)."""

    ARRAYS = (
        "sorted",
        "mean",
        "std",
        "vmin",
        "vmax",
        "bin_edges",
        "bin_props",
        "acf",
        "ar_coef",
        "ar_noise_var",
        "seasonal",
        "sketch_ks_error",
        "sketch_w1_error",
        "mean_abs",
        "rms",
    )

    def __init__(self, keys: list[ColumnKey], n: int, sketch: bool, **arrays: Any) -> None:
        self.keys = keys
        self.n = n
        self.sketch = sketch
        self.arrays: dict[str, FloatArray | None] = {a: arrays.get(a) for a in self.ARRAYS}

    @property
    def sorted(self) -> FloatArray:
        out = self.arrays["sorted"]
        assert out is not None
        return out

    def get(self, name: str) -> FloatArray:
        out = self.arrays[name]
        assert out is not None, name
        return out


def _summarise_block(
    raw: RawBlock,
    *,
    n_bins: int,
    ar_order: int,
    season_length: int | None,
    sketch_above: int | None,
    sketch_size: int,
    residual: bool,
    minimal: bool = False,
) -> ProfileBlock:
    n, k = raw.data.shape
    # One column-major copy serves both needs: time-order statistics are taken from it
    # first (contiguous columns), then it is sorted in place — never two copies at once.
    work = _core.fortran_copy(raw.data)
    if minimal:  # what a one-off check against a raw reference needs; the rest is lazy
        work.sort(axis=0)
        return ProfileBlock(list(raw.keys), n, False, sorted=work, std=_core.column_std(work))
    rho = _core.acf(work, max(ar_order, 1))
    phi, err = _core.yule_walker(rho, ar_order)
    seasonal = _core.seasonal_means(work, season_length) if season_length else None
    work.sort(axis=0)
    srt = work
    std = _core.column_std(srt)
    arrays: dict[str, Any] = {
        "mean": np.mean(srt, axis=0),
        "std": std,
        "vmin": srt[0].copy(),
        "vmax": srt[-1].copy(),
        "acf": rho,
        "ar_coef": phi,
        "ar_noise_var": std**2 * err,
        "seasonal": seasonal,
        "sketch_ks_error": np.zeros(k),
        "sketch_w1_error": np.zeros(k),
    }
    edges = _core.quantile_edges(srt, n_bins)
    arrays["bin_edges"] = edges
    arrays["bin_props"] = _core.bin_counts_sorted(srt, edges) / n
    if residual:
        arrays["mean_abs"] = np.abs(srt).mean(axis=0)
        arrays["rms"] = np.sqrt(np.einsum("ij,ij->j", srt, srt) / n)
    sketch = sketch_above is not None and n > sketch_above
    if sketch:
        sk = _core.quantile_sketch(srt, sketch_size)
        # Measured once, here: by the triangle inequality a KS (Wasserstein) statistic
        # computed against the sketch is within these of the one against the full sample.
        arrays["sketch_ks_error"] = _core.ks_sorted(srt, sk)
        arrays["sketch_w1_error"] = _core.wasserstein_sorted(srt, sk)
        srt = sk
    arrays["sorted"] = srt
    return ProfileBlock(list(raw.keys), n, sketch, **arrays)


def _value_counts(cols: ColumnSet) -> dict[ColumnKey, CategoricalSummary]:
    return {
        key: CategoricalSummary(int(v.size), value_counts(v)) for key, v in cols.categorical.items()
    }


class ReferenceProfile:
    """What drift checks compare against, built once from reference (training) data.

    Build it with :meth:`build`; pass it wherever a batch test accepts a reference. Against
    a profile holding full sorted samples (the default) every statistic equals the one
    computed from the raw reference. Above ``sketch_above`` observations a column keeps a
    ``sketch_size``-point quantile sketch instead; its KS and Wasserstein error bounds are
    measured at build time (``numeric[key].sketch_ks_error`` / ``sketch_w1_error``) and
    reported in each result's ``details``.

    Examples
    --------
    >>> import numpy as np
    >>> from chronoguard.drift import ReferenceProfile, ks_test
    >>> rng = np.random.default_rng(0)
    >>> profile = ReferenceProfile.build(rng.normal(size=(500, 2)), features=["a", "b"])
    >>> profile.numeric[profile.columns[0]].n
    500
    >>> same = ReferenceProfile.from_dict(profile.to_dict())
    >>> cur = rng.normal(size=(100, 2)) + [0.0, 1.0]
    >>> [r.drift for r in ks_test(same, cur, features=["a", "b"])]
    [False, True]
    """

    def __init__(
        self,
        blocks: list[ProfileBlock],
        categorical: dict[ColumnKey, CategoricalSummary],
        params: dict[str, Any],
        residuals: ReferenceProfile | None = None,
    ) -> None:
        self._blocks = blocks
        self._where = {
            key: (b, j) for b, blk in enumerate(blocks) for j, key in enumerate(blk.keys)
        }
        self.categorical = categorical
        self.params = params
        self.residuals = residuals

    # ---------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        reference: Any,
        *,
        features: list[str] | None = None,
        categorical: list[str] | None = None,
        id_col: str = "unique_id",
        time_col: str = "ds",
        n_bins: int = 10,
        ar_order: int = 2,
        season_length: int | None = None,
        residuals: Any = None,
        sketch_above: int | None = None,
        sketch_size: int = 4096,
        exact_ks: bool = True,
    ) -> ReferenceProfile:
        """Profile ``reference`` (array, Series, wide or long DataFrame; see ``to_columns``).

        Parameters
        ----------
        n_bins
            Quantile bins for PSI and Jensen–Shannon.
        ar_order
            Order of the Yule–Walker AR fit kept for pre-whitening (0 to skip).
        season_length
            When given, the mean per season position (``t mod season_length`` from the
            first row of each series) is kept.
        residuals
            Model residuals on the reference period (same layout rules); profiled into
            ``self.residuals`` for concept-drift checks.
        sketch_above
            Keep a quantile sketch instead of the full sorted sample for columns longer
            than this (``None``: always the full sample). At least 10,000, because KS
            p-values are exact, and need every point, up to that size (see ``exact_ks``).
        sketch_size
            Points in a sketch; its ECDF is within about ``1 / (2 sketch_size)`` of the
            sample's.
        exact_ks
            ``False`` lifts the 10,000 floor on ``sketch_above`` (it must then be at least
            ``sketch_size``): a short column may be sketched too, and its KS statistic is
            then the sketch's, within the measured ``sketch_ks_error`` of the exact one
            (reported in each result's ``details["max_error"]``). For profiles that must
            stay small at any reference length, such as the advisory iid profile a model
            version stores.

        Examples
        --------
        A profile of bounded size: each column keeps at most 256 points, whatever its length.

        >>> rng = np.random.default_rng(1)
        >>> small = ReferenceProfile.build(
        ...     rng.normal(size=(5_000, 1)), sketch_above=256, sketch_size=256, exact_ks=False
        ... )
        >>> s = small.numeric[small.columns[0]]
        >>> s.n, s.sketch, small.sorted_sample(small.columns[0]).shape, s.sketch_ks_error < 1 / 256
        (5000, True, (256,), True)
        """
        return cls._build(
            reference,
            features=features,
            categorical=categorical,
            id_col=id_col,
            time_col=time_col,
            n_bins=n_bins,
            ar_order=ar_order,
            season_length=season_length,
            residuals=residuals,
            sketch_above=sketch_above,
            sketch_size=sketch_size,
            exact_ks=exact_ks,
            residual=False,
        )

    @classmethod
    def _build(cls, reference: Any, *, residual: bool, **kw: Any) -> ReferenceProfile:
        n_bins, ar_order = int(kw["n_bins"]), int(kw["ar_order"])
        season_length, sketch_above = kw["season_length"], kw["sketch_above"]
        sketch_size = int(kw["sketch_size"])
        if n_bins < 2:
            raise DriftInputError(f"n_bins={n_bins}: use at least 2 bins (10 is usual).")
        if ar_order < 0 or (season_length is not None and season_length < 1):
            raise DriftInputError(
                f"ar_order={ar_order}, season_length={season_length}: use ar_order >= 0 and "
                "season_length >= 1 (or None)."
            )
        if sketch_above is not None and not kw["exact_ks"]:
            if sketch_size < 16 or sketch_above < sketch_size:
                raise DriftInputError(
                    f"sketch_above={sketch_above}, sketch_size={sketch_size}: use sketch_size "
                    ">= 16 and sketch_above >= sketch_size (a column no longer than its sketch "
                    "is kept whole)."
                )
        elif sketch_above is not None and (sketch_above < MIN_SKETCH_ABOVE or sketch_size < 16):
            raise DriftInputError(
                f"sketch_above={sketch_above}, sketch_size={sketch_size}: sketches are for big "
                f"columns; use sketch_above >= {MIN_SKETCH_ABOVE} (exact KS p-values need the "
                "full sample below that) and sketch_size >= 16, sketch_above=None, or "
                "exact_ks=False to accept KS statistics within the sketch's measured error."
            )
        cols = to_columns(
            reference,
            features=kw["features"],
            categorical=kw["categorical"],
            id_col=kw["id_col"],
            time_col=kw["time_col"],
            what="residuals" if residual else "reference",
        )
        blocks = [
            _summarise_block(
                raw,
                n_bins=n_bins,
                ar_order=ar_order,
                season_length=season_length,
                sketch_above=sketch_above,
                sketch_size=sketch_size,
                residual=residual,
            )
            for raw in cols.numeric
        ]
        cats = _value_counts(cols)
        params = {
            "n_bins": n_bins,
            "ar_order": ar_order,
            "season_length": season_length,
            "sketch_above": sketch_above,
            "sketch_size": sketch_size,
            "residual": residual,
        }
        res = None
        if kw.get("residuals") is not None:
            res = cls._build(
                kw["residuals"], residual=True, **{**kw, "residuals": None, "features": None}
            )
        return cls(blocks, cats, params, res)

    @classmethod
    def for_check(cls, cols: ColumnSet) -> ReferenceProfile:
        """A minimal profile (sorted samples, std, value counts) of already-validated columns.

        Used by the batch tests when handed a raw reference: the reference is sorted once
        and shared by every test of the call.
        """
        blocks = [
            _summarise_block(
                raw,
                n_bins=10,
                ar_order=0,
                season_length=None,
                sketch_above=None,
                sketch_size=0,
                residual=False,
                minimal=True,
            )
            for raw in cols.numeric
        ]
        return cls(blocks, _value_counts(cols), {"minimal": True})

    # ---------------------------------------------------------------- access
    @property
    def columns(self) -> tuple[ColumnKey, ...]:
        """Every profiled column: numeric ones first (in block order), then categorical."""
        return tuple(k for b in self._blocks for k in b.keys) + tuple(self.categorical)

    @property
    def blocks(self) -> list[ProfileBlock]:
        return self._blocks

    def locate(self, key: ColumnKey) -> tuple[ProfileBlock, int]:
        """The block holding numeric column ``key`` and its index there."""
        try:
            b, j = self._where[key]
        except KeyError:
            raise DriftInputError(
                f"the reference profile has no numeric column {key.label()}; it has "
                f"{[k.label() for k in list(self._where)[:10]]}… Rebuild the profile with "
                "this column or leave it out of the check."
            ) from None
        return self._blocks[b], j

    @property
    def numeric(self) -> dict[ColumnKey, NumericSummary]:
        """Per-column numeric summaries (views built on access; see :meth:`summary`)."""
        return {key: self.summary(key) for blk in self._blocks for key in blk.keys}

    def summary(self, key: ColumnKey) -> NumericSummary:
        """Reference statistics of one numeric column."""
        blk, j = self.locate(key)
        a = blk.arrays
        seas = a["seasonal"]
        mabs, rms = a["mean_abs"], a["rms"]
        if a["mean"] is None:
            raise DriftInputError(
                f"this profile of {key.label()} is a minimal one made for a single check; "
                "build a full one with ReferenceProfile.build."
            )
        return NumericSummary(
            n=blk.n,
            mean=float(blk.get("mean")[j]),
            std=float(blk.get("std")[j]),
            min=float(blk.get("vmin")[j]),
            max=float(blk.get("vmax")[j]),
            bin_edges=blk.get("bin_edges")[:, j],
            bin_proportions=blk.get("bin_props")[:, j],
            acf=blk.get("acf")[:, j],
            ar_coef=blk.get("ar_coef")[:, j],
            ar_noise_var=float(blk.get("ar_noise_var")[j]),
            seasonal_means=None if seas is None else seas[:, j],
            sketch=blk.sketch,
            sketch_ks_error=float(blk.get("sketch_ks_error")[j]),
            sketch_w1_error=float(blk.get("sketch_w1_error")[j]),
            mean_abs=None if mabs is None else float(mabs[j]),
            rms=None if rms is None else float(rms[j]),
        )

    def sorted_sample(self, key: ColumnKey) -> FloatArray:
        """The stored sorted sample (or sketch) of a numeric column, as a read-only view."""
        blk, j = self.locate(key)
        view = blk.sorted[:, j]
        view.flags.writeable = False
        return view

    # ---------------------------------------------------------------- serialising
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (``json.dumps(..., allow_nan=False)`` works); exact round trip."""
        return self._encode(None, "")

    def _encode(self, sink: dict[str, np.ndarray] | None, prefix: str) -> dict[str, Any]:
        blocks = []
        for i, blk in enumerate(self._blocks):
            enc: dict[str, Any] = {}
            for name, arr in blk.arrays.items():
                enc[name] = _profile_io.encode_array(arr, sink, f"{prefix}block{i}.{name}")
            blocks.append(
                {"keys": [list(k) for k in blk.keys], "n": blk.n, "sketch": blk.sketch, **enc}
            )
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "params": dict(self.params),
            "blocks": blocks,
            "categorical": [
                {"key": list(k), "n": s.n, "counts": dict(s.counts)}
                for k, s in self.categorical.items()
            ],
            "residuals": None
            if self.residuals is None
            else self.residuals._encode(sink, prefix + "residuals."),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_dict` output."""
        return cls._decode(d, None)

    @classmethod
    def _decode(cls, d: dict[str, Any], arrays: Any) -> ReferenceProfile:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise DriftInputError(
                "not a chronoguard reference profile (missing format marker "
                f"{FORMAT!r}); load a file written by ReferenceProfile.save/to_dict."
            )
        if d.get("version") != FORMAT_VERSION:
            raise DriftInputError(
                f"reference profile format version {d.get('version')} is not supported by "
                f"this chronoguard (reads version {FORMAT_VERSION}); rebuild the profile."
            )
        blocks = []
        for b in d["blocks"]:
            arrs: dict[str, Any] = {
                name: _profile_io.decode_array(b.get(name), arrays) for name in ProfileBlock.ARRAYS
            }
            keys = [ColumnKey(None if k[0] is None else str(k[0]), str(k[1])) for k in b["keys"]]
            blk = ProfileBlock(keys, int(b["n"]), bool(b["sketch"]), **arrs)
            blocks.append(blk)
        cats = {
            ColumnKey(c["key"][0], c["key"][1]): CategoricalSummary(
                int(c["n"]), {str(a): int(v) for a, v in c["counts"].items()}
            )
            for c in d["categorical"]
        }
        res = None if d.get("residuals") is None else cls._decode(d["residuals"], arrays)
        return cls(blocks, cats, dict(d["params"]), res)

    def save(self, path: str | Path) -> Path:
        """Write to ``.json`` (text, base64 arrays) or ``.npz`` (binary arrays + JSON header)."""
        return _profile_io.save(path, self.to_dict, lambda sink: self._encode(sink, ""))

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`."""
        return _profile_io.load(path, cls.from_dict, cls._decode)

    def __repr__(self) -> str:
        n_num = sum(len(b.keys) for b in self._blocks)
        return (
            f"ReferenceProfile(numeric_columns={n_num}, categorical_columns="
            f"{len(self.categorical)}, residuals={self.residuals is not None})"
        )


__all__ = [
    "CategoricalSummary",
    "ColumnKey",
    "NumericSummary",
    "ReferenceProfile",
]
