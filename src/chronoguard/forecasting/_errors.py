"""Errors raised by chronoguard.forecasting.

They extend the one :class:`~chronoguard.errors.ChronoguardError` hierarchy. They live here
because ``chronoguard/errors.py`` is owned by the package lead; they can move there unchanged
(``chronoguard.forecasting`` re-exports them, so callers import them from one place either way).
"""

from __future__ import annotations

from chronoguard.errors import ChronoguardError


class InvalidParameterError(ChronoguardError, ValueError):
    """A constructor parameter or function argument has a value outside its allowed set.

    Also a :class:`ValueError`, so generic callers that catch bad arguments keep working.
    """


class ModelFitError(ChronoguardError):
    """A model could not be fitted to one or more series.

    ``series`` maps each failing ``unique_id`` to the reason it failed.
    """

    def __init__(self, model: str, series: dict[str, str]) -> None:
        self.model = model
        self.series = dict(series)
        lines = "\n".join(f"  - {uid!r}: {reason}" for uid, reason in self.series.items())
        super().__init__(
            f"{model} failed to fit {len(self.series)} series:\n{lines}\n"
            "Check these series (length, constant values, exogenous columns) or forecast "
            "them with SeasonalNaive instead: set fallback = true under [model.params] in "
            "chronoguard.toml (fallback=True in Python)."
        )


class LeakageError(ChronoguardError):
    """A backtest window would let the model see data from after its forecast origin."""


class UndefinedMetricError(ChronoguardError, ValueError):
    """A metric cannot be computed for the given values (empty input, zero MASE scale...)."""
