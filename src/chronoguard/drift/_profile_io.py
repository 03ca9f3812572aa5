"""Serialisation of reference profiles: array encoding and ``.json`` / ``.npz`` files.

Arrays go into the JSON-safe dict as base64 of their little-endian bytes in Fortran order
(exact and compact), or, in a ``.npz`` file, as binary members referenced from the JSON
header. The profile's structure (blocks, keys, counts, format marker) is encoded by
:class:`~chronoguard.drift.profile.ReferenceProfile` itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from chronoguard.drift._core import FloatArray
from chronoguard.drift.types import DriftInputError

T = TypeVar("T")


def encode_array(arr: np.ndarray | None, sink: dict[str, np.ndarray] | None, ref: str) -> Any:
    """``arr`` as base64 (``sink`` None) or stored in ``sink`` under ``ref`` (for ``.npz``)."""
    if arr is None:
        return None
    if sink is None:
        return _b64(arr)
    sink[ref] = arr
    return {"npz": ref}


def decode_array(v: Any, arrays: Any) -> FloatArray | None:
    """Inverse of :func:`encode_array`; ``arrays`` holds the ``.npz`` members (or None)."""
    if v is None:
        return None
    if "npz" in v:
        return np.asfortranarray(arrays[v["npz"]])
    return _unb64(v)


def save(
    path: str | Path,
    to_dict: Callable[[], dict[str, Any]],
    encode: Callable[[dict[str, np.ndarray]], dict[str, Any]],
) -> Path:
    """Write ``to_dict()`` as ``.json``, or ``encode(sink)`` and the sink's arrays as ``.npz``."""
    p = Path(path)
    if p.suffix == ".json":
        p.write_text(json.dumps(to_dict(), allow_nan=False))
    elif p.suffix == ".npz":
        sink: dict[str, np.ndarray] = {}
        meta = encode(sink)
        with p.open("wb") as fh:
            members = {"__profile__": np.array(json.dumps(meta, allow_nan=False)), **sink}
            np.savez(fh, **members)  # type: ignore[arg-type]
    else:
        raise DriftInputError(
            f"cannot save a reference profile as {p.name!r}: use a .json or .npz path."
        )
    return p


def load(
    path: str | Path,
    from_dict: Callable[[dict[str, Any]], T],
    decode: Callable[[dict[str, Any], Any], T],
) -> T:
    """Read a file written by :func:`save`: ``from_dict`` for ``.json``, ``decode`` for ``.npz``."""
    p = Path(path)
    if not p.exists():
        raise DriftInputError(f"no reference profile at {p}: check the path.")
    if p.suffix == ".json":
        return from_dict(json.loads(p.read_text()))
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            return decode(json.loads(str(z["__profile__"])), z)
    raise DriftInputError(f"cannot read a reference profile from {p.name!r}: use .json or .npz.")


def _b64(arr: np.ndarray) -> dict[str, Any]:
    a = np.asarray(arr)
    le = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": le.dtype.str,
        "shape": list(a.shape),
        "b64": base64.b64encode(np.ascontiguousarray(le.T).tobytes()).decode("ascii"),
        "order": "F",
    }


def _unb64(v: dict[str, Any]) -> FloatArray:
    shape = tuple(int(s) for s in v["shape"])
    flat = np.frombuffer(base64.b64decode(v["b64"]), dtype=np.dtype(v["dtype"]))
    # Stored as the transpose's C order, i.e. the array's Fortran order (columns contiguous).
    out = flat.reshape(shape[::-1]).T if len(shape) > 1 else flat.reshape(shape)
    return np.asarray(out, dtype=np.float64, order="F").copy(order="F")
