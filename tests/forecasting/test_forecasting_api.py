"""The public surface: exports, the model factory and the docstring examples."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import chronoguard.forecasting as forecasting
from chronoguard.errors import ChronoguardError, UnknownModelError
from chronoguard.forecasting import (
    MODEL_NAMES,
    Forecaster,
    InvalidParameterError,
    LeakageError,
    ModelFitError,
    UndefinedMetricError,
    make_forecaster,
)

MODULES = [
    "chronoguard.forecasting",
    "chronoguard.forecasting.base",
    "chronoguard.forecasting.backtest",
    "chronoguard.forecasting.factory",
    "chronoguard.forecasting.metrics",
    "chronoguard.forecasting.sarimax",
    "chronoguard.forecasting.splits",
    "chronoguard.forecasting.statsforecast_models",
]


def test_exports_match_all() -> None:
    public = {name for name in dir(forecasting) if not name.startswith("_")}
    modules = {name for name in public if inspect.ismodule(getattr(forecasting, name))}
    assert sorted(public - modules) == sorted(forecasting.__all__)
    assert all(hasattr(forecasting, name) for name in forecasting.__all__)


def test_errors_belong_to_the_chronoguard_hierarchy() -> None:
    for error in (InvalidParameterError, LeakageError, ModelFitError, UndefinedMetricError):
        assert issubclass(error, ChronoguardError)


def test_model_names() -> None:
    assert MODEL_NAMES == ("AutoARIMA", "AutoETS", "MSTL", "Naive", "SARIMAX", "SeasonalNaive")
    for name in MODEL_NAMES:
        model = make_forecaster(name)
        assert isinstance(model, Forecaster) and model.name == name
        assert isinstance(type(model).supports_exog, bool)


def test_unknown_model_lists_the_valid_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        make_forecaster("Prophet")
    assert str(info.value) == (
        "Unknown model 'Prophet'. Valid names: AutoARIMA, AutoETS, MSTL, Naive, SARIMAX, "
        "SeasonalNaive"
    )
    with pytest.raises(UnknownModelError, match="Did you mean 'AutoETS'"):
        make_forecaster("autoets")


def test_unknown_parameter_is_named() -> None:
    with pytest.raises(InvalidParameterError, match=r"\['seasonality'\].*season_length"):
        make_forecaster("AutoETS", seasonality=12)


def test_init_only_stores_parameters() -> None:
    # Invalid values are accepted by __init__ and reported by fit (scikit-learn convention).
    model = make_forecaster("SARIMAX", order="nonsense", season_length=-3)
    assert model.get_params()["order"] == "nonsense"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
