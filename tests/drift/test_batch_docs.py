"""The examples in the docstrings of the batch, profile and multivariate modules run as shown."""

from __future__ import annotations

import doctest

import pytest

from chronoguard.drift import _core, batch, multivariate, profile


@pytest.mark.parametrize("module", [batch, profile, multivariate, _core], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0
