from __future__ import annotations

import importlib

import pytest

import chronoguard

PACKAGES = [
    "chronoguard",
    "chronoguard.data",
    "chronoguard.forecasting",
    "chronoguard.registry",
    "chronoguard.store",
    "chronoguard.drift",
    "chronoguard.monitoring",
    "chronoguard.policy",
    "chronoguard.alerts",
    "chronoguard.lifecycle",
    "chronoguard.dashboard",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    for public in module.__all__:
        assert getattr(module, public) is not None, f"{name}.{public}"


def test_unknown_top_level_name() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = chronoguard.nope  # type: ignore[attr-defined]
