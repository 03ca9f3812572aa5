"""Build a forecaster from its name, as stored in configuration files and the registry."""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from chronoguard.errors import UnknownModelError
from chronoguard.forecasting._errors import InvalidParameterError
from chronoguard.forecasting._names import MODEL_MODULES, MODEL_NAMES
from chronoguard.forecasting.base import Forecaster

__all__ = ["MODEL_NAMES", "make_forecaster"]


def _model_class(name: str) -> type[Forecaster]:
    # The classes come from the one table of names (chronoguard.forecasting._names), which the
    # configuration reads without importing any backend; an entry naming no Forecaster fails here,
    # at import, rather than when a user first asks for that model.
    cls = getattr(importlib.import_module(MODEL_MODULES[name]), name, None)
    if not (isinstance(cls, type) and issubclass(cls, Forecaster)):
        raise TypeError(f"{MODEL_MODULES[name]} defines no Forecaster named {name!r}")
    return cls


_MODELS: dict[str, type[Forecaster]] = {name: _model_class(name) for name in MODEL_NAMES}


def make_forecaster(name: str, **params: Any) -> Forecaster:
    """Create an unfitted forecaster from its name and constructor parameters.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES` (the class name, case-sensitive).
    **params
        Constructor parameters, e.g. the output of :meth:`Forecaster.get_params`.

    Returns
    -------
    Forecaster

    Raises
    ------
    UnknownModelError
        If no backend has that name; the message lists the valid names.
    InvalidParameterError
        If a parameter is not accepted by that model.

    Examples
    --------
    >>> make_forecaster("SeasonalNaive", season_length=12)
    SeasonalNaive(season_length=12)
    >>> make_forecaster("Prophet")
    Traceback (most recent call last):
    ...
    chronoguard.errors.UnknownModelError: Unknown model 'Prophet'. Valid names: AutoARIMA, AutoETS, MSTL, Naive, SARIMAX, SeasonalNaive
    """
    cls = _MODELS.get(name)
    if cls is None:
        lowered = {known.lower(): known for known in MODEL_NAMES}
        close = difflib.get_close_matches(str(name).lower(), lowered, n=1, cutoff=0.6)
        hint = f". Did you mean {lowered[close[0]]!r}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {name!r}. Valid names: {', '.join(MODEL_NAMES)}{hint}"
        )
    accepted = cls._param_names()
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InvalidParameterError(
            f"{name} does not accept parameter(s) {unknown}; valid parameters: {accepted}"
        )
    return cls(**params)
