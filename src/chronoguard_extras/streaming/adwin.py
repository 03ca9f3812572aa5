"""ADWIN: adaptive windowing (Bifet & Gavaldà 2007), river's implementation behind our interface."""

from __future__ import annotations

from river import drift as river_drift

from chronoguard_extras.streaming.base import RiverDetector


class ADWIN(RiverDetector):
    """Adaptive windowing: drops the older part of a window whose mean differs from the newer.

    A thin adapter over ``river.drift.ADWIN``; the arguments are river's. Its bound assumes
    independent values in [0, 1]-like ranges: on autocorrelated series feed it
    pre-whitened innovations (see :class:`~chronoguard_extras.streaming.CUSUM` for a
    detector that pre-whitens and calibrates itself).

    Parameters
    ----------
    delta
        Confidence of the cut (smaller: fewer false alarms, later detection).
    clock
        How often (in updates) the window is checked for a cut.
    max_buckets
        Buckets of each size kept by the exponential histogram.
    min_window_length
        Smallest sub-window compared.
    grace_period
        Updates before the first check.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> detector = ADWIN()
    >>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected]
    [1023]
    """

    _river_class = river_drift.ADWIN

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        super().__init__()
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    @property
    def width(self) -> float:
        """Current window length."""
        return float(self._detector.width)

    @property
    def estimation(self) -> float:
        """Mean of the current window."""
        return float(self._detector.estimation)
