"""The chronoguard CUSUM: threshold from a target ARL0, same arithmetic as the batch check."""

from __future__ import annotations

import numpy as np

from chronoguard.drift import _engine
from chronoguard.drift._sequential import monitor_paths
from chronoguard_extras.streaming import CUSUM


def ar(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    e = rng.normal(size=n + 100)
    x = np.zeros(n + 100)
    for t in range(1, n + 100):
        x[t] = phi * x[t - 1] + e[t]
    return x[100:]


def test_in_control_run_length_is_close_to_the_target() -> None:
    rng = np.random.default_rng(0)
    arl0, horizon = 200, 1500
    run_lengths = []
    for rep in range(12):
        data = ar(300 + horizon, 0.5, rng)
        det = CUSUM(arl0=arl0, reference_size=300, n_sim=300, seed=rep).fit(data[:300])
        f = det._fitted
        assert f is not None
        u = _engine.deseasonalise(f, data[None], np.arange(data.size, dtype=float))
        z = _engine.innovations(f, u[:, 300:], contiguous=True)
        g = monitor_paths(
            z,
            _engine.monitor_weights(f),
            _engine.shift_in_innovations(f, det.shift),
            alternative="two-sided",
            scale_ratio=None,
        )[0]
        # Restart after each alarm, as the detector does, to collect several run lengths.
        start = 0
        while start < horizon:
            seg = monitor_paths(
                z[:, start:],
                _engine.monitor_weights(f),
                _engine.shift_in_innovations(f, det.shift),
                alternative="two-sided",
                scale_ratio=None,
            )[0]
            hit = np.flatnonzero(seg > det.threshold)
            if not hit.size:
                run_lengths.append(horizon - start)  # censored: counted as is (conservative)
                break
            run_lengths.append(int(hit[0]) + 1)
            start += int(hit[0]) + 1
        assert g.shape == (horizon,)
    mean_rl = float(np.mean(run_lengths))
    assert 100 <= mean_rl <= 450, mean_rl


def test_streaming_updates_equal_the_batch_statistic() -> None:
    rng = np.random.default_rng(1)
    data = ar(600, 0.7, rng)
    det = CUSUM(reference_size=300, n_sim=200, arl0=5000).fit(data[:300])
    f = det._fitted
    assert f is not None
    stats = []
    for v in data[300:400]:
        stats.append(det.update(v).statistic)
        if det.drift_detected:  # after a detection the detector restarts: compare up to here
            break
    u = _engine.deseasonalise(f, data[None], np.arange(600, dtype=float))
    z = _engine.innovations(f, u[:, 300:400], contiguous=True)
    g = monitor_paths(
        z,
        _engine.monitor_weights(f),
        _engine.shift_in_innovations(f, det.shift),
        alternative="two-sided",
        scale_ratio=None,
    )[0]
    np.testing.assert_allclose(stats, g[: len(stats)], rtol=1e-9, atol=1e-12)
    assert len(stats) > 20


def test_seasonal_cusum_stays_quiet_on_a_stable_weekly_series() -> None:
    rng = np.random.default_rng(2)
    n = 800
    x = ar(n, 0.3, rng) + np.tile([4.0, 2.0, 0.0, 0.0, 1.0, -3.0, -4.0], n // 7 + 1)[:n]
    det = CUSUM(season_length=7, reference_size=300, arl0=2000, n_sim=300)
    alarms = [i for i, v in enumerate(x) if det.update(v).drift_detected]
    assert not alarms
    x[600:] += 4.0
    det.reset()
    assert next(i for i, v in enumerate(x) if det.update(v).drift_detected) >= 600
