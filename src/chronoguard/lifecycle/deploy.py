"""An alias move in MLflow plus its history in the store, as one unit.

Deployments move series between versions (:mod:`chronoguard.lifecycle.fleet`); the MLflow
``champion`` alias follows them through :func:`move_alias`.

The store's transaction is opened first and the MLflow alias moved inside it, so a failure
on either side leaves both as they were: a failed alias move rolls the store back, and a
failed store commit moves the alias back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chronoguard.registry import ModelRegistry
from chronoguard.store import Store

CHAMPION = "champion"


@dataclass(frozen=True)
class AliasChange:
    model_name: str
    alias: str
    version: str
    previous_version: str | None
    at: pd.Timestamp
    by: str
    reason: str


def move_alias(
    registry: ModelRegistry,
    store: Store,
    model_name: str,
    alias: str,
    version: str,
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
    status: str | None = None,
) -> AliasChange:
    """Point ``alias`` at ``version`` and record who moved it, when and why."""
    version = registry.resolve(model_name, version)
    before = registry.get_alias(model_name, alias)
    try:
        with store.transaction():
            move = store.record_alias_move(model_name, alias, version, by=by, reason=reason, at=at)
            if status:
                store.set_version_status(model_name, version, status, at=at, by=by, reason=reason)
                if alias == CHAMPION and before and before != version:
                    store.set_version_status(
                        model_name, before, "retired", at=at, by=by, reason=f"replaced by {version}"
                    )
            registry.set_alias(model_name, alias, version)
    except BaseException:
        # The store rolled back; put the registry back where it was.
        if before is None:
            registry.delete_alias(model_name, alias)
        elif registry.get_alias(model_name, alias) != before:
            registry.set_alias(model_name, alias, before)
        raise
    return AliasChange(model_name, alias, version, move.previous_version or before, at, by, reason)
