"""Build a forecaster from its name, as stored in configuration files and the registry."""

from __future__ import annotations

import difflib
from typing import Any

from chronoguard.errors import UnknownModelError
from chronoguard.forecasting._errors import InvalidParameterError
from chronoguard.forecasting.base import Forecaster
from chronoguard.forecasting.sarimax import SARIMAX
from chronoguard.forecasting.statsforecast_models import AutoARIMA, AutoETS, Naive, SeasonalNaive

__all__ = ["MODEL_NAMES", "make_forecaster"]

_MODELS: dict[str, type[Forecaster]] = {
    cls.__name__: cls for cls in (AutoARIMA, AutoETS, Naive, SARIMAX, SeasonalNaive)
}

#: Names accepted by :func:`make_forecaster`, sorted.
MODEL_NAMES: tuple[str, ...] = tuple(sorted(_MODELS))


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
    chronoguard.errors.UnknownModelError: Unknown model 'Prophet'. Valid names: AutoARIMA, AutoETS, Naive, SARIMAX, SeasonalNaive
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
