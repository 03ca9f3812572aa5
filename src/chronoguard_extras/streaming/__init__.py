"""Streaming drift detectors with one interface: ``update(x) -> self``, ``drift_detected``.

ADWIN, PageHinkley and KSWIN are thin adapters over river's implementations (which assume
independent values); :class:`CUSUM` pre-whitens the series and sets its threshold from a
target in-control average run length by simulation on the reference.

Optional detectors, kept for users and benchmarks; the chronoguard loop does not use them
(see :mod:`chronoguard_extras`). Import them from here::

    from chronoguard_extras.streaming import ADWIN, CUSUM, KSWIN, PageHinkley
"""

from chronoguard_extras.streaming.adwin import ADWIN
from chronoguard_extras.streaming.base import StreamingDetector
from chronoguard_extras.streaming.cusum import CUSUM
from chronoguard_extras.streaming.kswin import KSWIN
from chronoguard_extras.streaming.page_hinkley import PageHinkley

__all__ = ["ADWIN", "CUSUM", "KSWIN", "PageHinkley", "StreamingDetector"]
