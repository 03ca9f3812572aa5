"""The calibration bench's fast peer decisions equal scipy's tests, decision for decision."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bench import _third_party_peers as peers
from bench import drift_calibration as calib


@pytest.mark.parametrize("phi", [0.0, 0.9])
def test_daily_ks_peer_equals_scipy_p_below_five_percent(phi: float) -> None:
    rng = np.random.default_rng(4)
    sim = calib.simulate(phi, "none", 40, rng)
    y = calib.inject(sim, "level_1sd", rng.integers(10, 71, size=40), rng)
    fast = calib.peers_daily(y)["ks"]
    for d in (7, 8, 30, 61, 90):
        slow = [
            stats.ks_2samp(row[: calib.N_REF], row[calib.N_REF : calib.N_REF + d]).pvalue < 0.05
            for row in y
        ]
        np.testing.assert_array_equal(fast[:, d - 1], slow)
    assert not fast[:, :6].any()  # no check before the seventh day
    assert 0 < fast.sum() < fast.size  # both decisions occur, so the comparison can fail


def test_ks_critical_value_is_the_smallest_rejecting_statistic() -> None:
    n, m = 365, 20
    lcm = n * m // np.gcd(n, m)
    h = peers.ks_critical_h(n, m, 0.05)
    below = calib._core.ks_pvalues(np.array([(h - 1) / lcm, h / lcm]), n, m)[1]
    assert below[0] > 0.05 >= below[1]


def test_paired_ratio_interval_covers_the_ratio_and_narrows_with_pairing() -> None:
    rng = np.random.default_rng(5)
    orc = rng.random(500) < 0.4
    same = calib.paired_ratio_ci([(orc, orc)], np.random.default_rng(0))
    assert same == [1.0, 1.0]  # a detector paired with itself: no sampling error in the ratio
    ours = orc & (rng.random(500) < 0.8)  # finds 80 % of what the oracle finds
    lo, hi = calib.paired_ratio_ci([(ours, orc), (ours, orc)], np.random.default_rng(0))
    ratio = ours.sum() / orc.sum()
    assert lo < ratio < hi
    assert hi - lo < 0.1  # paired: far narrower than the interval of either power alone
