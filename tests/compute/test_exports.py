"""The compute package's public names exist, and its docstring examples run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import chronoguard.compute


def test_every_exported_name_exists() -> None:
    for name in chronoguard.compute.__all__:
        assert getattr(chronoguard.compute, name) is not None, name


@pytest.mark.parametrize(
    "module",
    [
        "chronoguard.compute._batches",
        "chronoguard.compute._executors",
        "chronoguard.orchestration.prefect_flow",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
