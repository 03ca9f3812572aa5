"""The examples in the docstrings of the batch and profile modules run as shown."""

from __future__ import annotations

import doctest

import pytest

from chronoguard.drift import _core, batch, profile


@pytest.mark.parametrize("module", [batch, profile, _core], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
