"""The package imports its backends on first use, and the table of names is the factory's."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import chronoguard.forecasting as forecasting
from chronoguard.forecasting import factory
from chronoguard.forecasting._names import MODEL_MODULES, MODEL_NAMES


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_names_and_errors_come_without_the_backends() -> None:
    res = run(
        """
        import sys
        from chronoguard.forecasting import MODEL_NAMES, InvalidParameterError, ModelFitError
        heavy = ("statsforecast", "statsmodels", "numba", "scipy", "pandas")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_the_factory_builds_its_models_from_the_one_table() -> None:
    assert tuple(factory._MODELS) == MODEL_NAMES == tuple(sorted(MODEL_MODULES))
    for name, cls in factory._MODELS.items():
        assert cls.__name__ == name and cls.__module__ == MODEL_MODULES[name]
        assert getattr(forecasting, name) is cls


def test_a_name_shared_with_its_submodule_stays_the_function() -> None:
    # A doctest runner imports chronoguard.forecasting.backtest before anything asks the package
    # for backtest; the import system then binds the submodule on the package.
    res = run(
        """
        import chronoguard.forecasting.backtest as direct
        from chronoguard.forecasting import backtest
        import chronoguard.forecasting as pkg
        print(callable(backtest), backtest is pkg.backtest, type(direct).__name__)
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "True", "function"]


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Prophet'"):
        _ = forecasting.Prophet  # type: ignore[attr-defined]
