"""Streaming drift detectors with one interface: ``update(x) -> self``, ``drift_detected``.

ADWIN, PageHinkley and KSWIN are thin adapters over river's implementations (which assume
independent values); :class:`CUSUM` pre-whitens the series and sets its threshold from a
target in-control average run length by simulation on the reference.
"""

from chronoguard.drift.streaming.adwin import ADWIN
from chronoguard.drift.streaming.base import StreamingDetector
from chronoguard.drift.streaming.cusum import CUSUM
from chronoguard.drift.streaming.kswin import KSWIN
from chronoguard.drift.streaming.page_hinkley import PageHinkley

__all__ = ["ADWIN", "CUSUM", "KSWIN", "PageHinkley", "StreamingDetector"]
