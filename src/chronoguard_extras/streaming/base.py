"""The one interface every streaming drift detector shares (river's, by design)."""

from __future__ import annotations

import abc
import inspect
import math
from typing import Any, Self

from chronoguard.drift.types import DriftInputError


class StreamingDetector(abc.ABC):
    """A detector fed one value at a time.

    ``update(x)`` returns the detector itself, ``drift_detected`` (read-only) tells whether
    the last update signalled a change, ``reset()`` forgets everything learnt and
    ``clone()`` returns a fresh detector with the same constructor arguments. Constructor
    arguments are stored unchanged under their own names; learnt state lives in
    attributes with a leading underscore. Any detector can replace any other.
    """

    def __init__(self) -> None:
        self._drift_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the last :meth:`update` signalled a change."""
        return self._drift_detected

    @abc.abstractmethod
    def update(self, x: float) -> Self:
        """Feed one value; returns ``self`` so calls can be chained."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Set the learnt state to its initial value."""

    def reset(self) -> None:
        """Forget everything learnt (the constructor arguments stay)."""
        self._reset()

    def _get_params(self) -> dict[str, Any]:
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self"}

    def clone(self) -> Self:
        """A new, unfitted detector with the same constructor arguments."""
        return type(self)(**self._get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _check_x(x: Any) -> float:
        """``x`` as a float; a missing or infinite value is refused with a clear message."""
        try:
            v = float(x)
        except (TypeError, ValueError) as exc:
            raise DriftInputError(f"update() needs a number, got {x!r}") from exc
        if not math.isfinite(v):
            raise DriftInputError(
                f"update() got x={v}: a streaming detector cannot skip a missing value; "
                "impute it or hold the detector until the value arrives"
            )
        return v


class RiverDetector(StreamingDetector):
    """A thin adapter over one of river's detectors, built from the constructor arguments.

    Subclasses name the river class in ``_river_class`` and store their arguments under
    the same names river uses; river's own validation errors become ``DriftInputError``.
    """

    _river_class: Any

    def _reset(self) -> None:
        self._drift_detected = False
        try:
            self._detector = self._river_class(**self._get_params())
        except ValueError as exc:
            raise DriftInputError(f"{type(self).__name__}: {exc}") from exc

    def update(self, x: float) -> Self:
        self._detector.update(self._check_x(x))
        self._drift_detected = bool(self._detector.drift_detected)
        return self
