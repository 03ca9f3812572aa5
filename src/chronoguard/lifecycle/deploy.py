"""Promotion and rollback: an alias move in MLflow plus its history in the store, as one unit.

The store's transaction is opened first and the MLflow alias moved inside it, so a failure
on either side leaves both as they were: a failed alias move rolls the store back, and a
failed store commit moves the alias back.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from chronoguard.errors import ChronoguardError, UnknownVersionError
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


def promote(
    registry: ModelRegistry,
    store: Store,
    model_name: str,
    version: str,
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
) -> AliasChange:
    """Make ``version`` the champion."""
    return move_alias(
        registry,
        store,
        model_name,
        CHAMPION,
        version,
        by=by,
        reason=reason,
        at=at,
        status="champion",
    )


def rollback_target(store: Store, model_name: str, current: str) -> str:
    """The champion before the current one, skipping versions that were rolled back from."""
    history = store.alias_history(model_name, CHAMPION)
    rolled_back: set[str] = set()
    for move in reversed(history):
        if move.reason.startswith("rollback") and move.previous_version:
            rolled_back.add(move.previous_version)
    rolled_back.add(current)
    for move in reversed(history):
        if move.version not in rolled_back:
            return move.version
    raise ChronoguardError(
        f"model '{model_name}' has no earlier champion to roll back to (champion history: "
        f"{[m.version for m in history] or 'empty'}); promote a version explicitly instead"
    )


def rollback(
    registry: ModelRegistry,
    store: Store,
    model_name: str,
    *,
    by: str,
    reason: str,
    at: pd.Timestamp,
) -> AliasChange:
    """Restore the previous champion in one step; the rolled-back version is retired."""
    current = registry.get_alias(model_name, CHAMPION)
    if current is None:
        raise UnknownVersionError(
            f"model '{model_name}' has no champion to roll back; train and promote one first"
        )
    target = rollback_target(store, model_name, current)
    change = move_alias(
        registry,
        store,
        model_name,
        CHAMPION,
        target,
        by=by,
        reason=f"rollback: {reason}",
        at=at,
        status="champion",
    )
    return change
