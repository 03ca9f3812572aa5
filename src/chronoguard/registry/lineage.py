"""Lineage of a model version: what it was trained on, by what, why."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd


def fingerprint_frame(df: pd.DataFrame) -> str:
    """A SHA-256 of the exact training data: columns, order, dtypes and values.

    Two frames with the same fingerprint hold the same rows in the same order; any changed
    value, row or column changes it.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"unique_id": ["a"], "ds": pd.to_datetime(["2020-01-01"]), "y": [1.0]})
    >>> fingerprint_frame(df) == fingerprint_frame(df.copy())
    True
    """
    h = hashlib.sha256()
    h.update(",".join(map(str, df.columns)).encode())
    h.update(",".join(str(t) for t in df.dtypes).encode())
    # hash_pandas_object hashes values row by row (index excluded so a reset index is equal).
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Lineage:
    """Where a model version comes from; logged as MLflow run params and version tags."""

    model_name: str
    forecaster: str
    train_start: str
    train_end: str
    n_series: int
    n_rows: int
    data_fingerprint: str
    chronoguard_version: str
    parent_version: str | None
    trigger: str
    trained_at: str

    def to_tags(self) -> dict[str, str]:
        return {f"chronoguard.{k}": "" if v is None else str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Lineage:
        vals: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = tags.get(f"chronoguard.{name}", "")
            if name in ("n_series", "n_rows"):
                vals[name] = int(raw or 0)
            elif name == "parent_version":
                vals[name] = raw or None
            else:
                vals[name] = raw
        return cls(**vals)
