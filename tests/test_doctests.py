"""Docstring examples are tests: they run here."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "chronoguard",
    "chronoguard.api",
    "chronoguard.config_template",
    "chronoguard.data.contract",
    "chronoguard.data.datasets",
    "chronoguard.dashboard.report",
    "chronoguard.forecasting.statsforecast_models",
    "chronoguard.lifecycle.access",
    "chronoguard.monitoring.incidents",
    "chronoguard.monitoring.paired",
    "chronoguard.policy.rules",
    "chronoguard.registry.lineage",
    "chronoguard.registry.version_reference",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
