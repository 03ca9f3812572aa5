"""KSWIN: Kolmogorov–Smirnov windowing (Raab et al. 2020), river's implementation."""

from __future__ import annotations

from river import drift as river_drift

from chronoguard_extras.streaming.base import RiverDetector


class KSWIN(RiverDetector):
    """KS test of the newest ``stat_size`` values against a random sample of older ones.

    A thin adapter over ``river.drift.KSWIN``; the arguments are river's, except that the
    seed defaults to 0 so that runs repeat. The KS test assumes independent values: on
    autocorrelated series it fires on stable data (see the calibration benchmark), so feed
    it pre-whitened innovations.

    Parameters
    ----------
    alpha
        Significance level of each KS test.
    window_size
        Values kept.
    stat_size
        Newest values compared with the rest.
    seed
        Seed of the sampling of older values.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> detector = KSWIN(alpha=0.0001, seed=42)
    >>> [i for i, x in enumerate(stream) if detector.update(x).drift_detected][:1]
    [1016]
    """

    _river_class = river_drift.KSWIN

    def __init__(
        self,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int | None = 0,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.window_size = window_size
        self.stat_size = stat_size
        self.seed = seed
        self._reset()

    @property
    def p_value(self) -> float:
        """p-value of the last KS test (0 before the window is full)."""
        return float(self._detector.p_value)
