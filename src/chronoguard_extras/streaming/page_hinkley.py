"""Page–Hinkley test (Page 1954; Hinkley 1971), river's implementation behind our interface."""

from __future__ import annotations

from river import drift as river_drift

from chronoguard_extras.streaming.base import RiverDetector


class PageHinkley(RiverDetector):
    """Cumulative deviation from the running mean, with a fixed threshold ``threshold``.

    A thin adapter over ``river.drift.PageHinkley``; the arguments are river's. Its
    threshold is a constant in data units, not calibrated to any false-alarm rate, and
    assumes independent values: prefer :class:`~chronoguard_extras.streaming.CUSUM` on
    time series.

    Parameters
    ----------
    min_instances
        Updates before a change can be signalled.
    delta
        Magnitude of changes tolerated.
    threshold
        Alarm threshold (lambda) on the cumulative deviation.
    alpha
        Forgetting factor of the cumulative sums.
    mode
        ``"up"``, ``"down"`` or ``"both"``.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> detector = PageHinkley()
    >>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected][:1]
    [1006]
    """

    _river_class = river_drift.PageHinkley

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        super().__init__()
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._reset()
