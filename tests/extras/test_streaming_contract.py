"""Shared checks run over every streaming detector exported by chronoguard_extras.streaming."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from chronoguard.drift.types import DriftInputError
from chronoguard_extras import streaming
from chronoguard_extras.streaming import StreamingDetector

DETECTORS = [
    getattr(streaming, name)
    for name in streaming.__all__
    if isinstance(getattr(streaming, name), type)
    and issubclass(getattr(streaming, name), StreamingDetector)
    and getattr(streaming, name) is not StreamingDetector
]
# Small, fast settings where the defaults would make a test slow; never behaviour changes.
FAST = {"CUSUM": {"reference_size": 100, "n_sim": 200, "arl0": 300}}


def make(cls: type[StreamingDetector]) -> StreamingDetector:
    return cls(**FAST.get(cls.__name__, {}))


def stream(n: int = 600, shift_at: int | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    if shift_at is not None:
        x[shift_at:] += 5.0
    return x


def test_every_detector_is_covered() -> None:
    assert {c.__name__ for c in DETECTORS} >= {"ADWIN", "PageHinkley", "KSWIN", "CUSUM"}


@pytest.fixture(params=DETECTORS, ids=lambda c: c.__name__)
def detector(request: pytest.FixtureRequest) -> StreamingDetector:
    return make(request.param)


def test_update_returns_self(detector: StreamingDetector) -> None:
    assert detector.update(0.5) is detector


def test_drift_detected_is_a_read_only_bool(detector: StreamingDetector) -> None:
    for v in stream(150):
        detector.update(v)
        assert isinstance(detector.drift_detected, bool)
    with pytest.raises(AttributeError):
        detector.drift_detected = True  # type: ignore[misc]


def test_repr_names_class_and_arguments(detector: StreamingDetector) -> None:
    text = repr(detector)
    assert text.startswith(type(detector).__name__ + "(")
    for name in detector._get_params():
        assert f"{name}=" in text


def test_constructor_arguments_are_stored_unchanged(detector: StreamingDetector) -> None:
    params = detector._get_params()
    again = type(detector)(**params)
    assert again._get_params() == params


def test_clone_is_unfitted_with_equal_params(detector: StreamingDetector) -> None:
    for v in stream(400, shift_at=200):
        detector.update(v)
    twin = detector.clone()
    assert type(twin) is type(detector)
    assert twin is not detector
    assert twin._get_params() == detector._get_params()
    fresh = make(type(detector))
    outs_twin = [twin.update(v).drift_detected for v in stream(300, seed=5)]
    outs_fresh = [fresh.update(v).drift_detected for v in stream(300, seed=5)]
    assert outs_twin == outs_fresh


def test_pickle_round_trip_preserves_state(detector: StreamingDetector) -> None:
    for v in stream(250, seed=1):
        detector.update(v)
    copy = pickle.loads(pickle.dumps(detector))
    rest = stream(300, shift_at=100, seed=2)
    assert [detector.update(v).drift_detected for v in rest] == [
        copy.update(v).drift_detected for v in rest
    ]


def test_detects_a_large_mean_shift(detector: StreamingDetector) -> None:
    hits = [
        i
        for i, v in enumerate(stream(700, shift_at=400, seed=3))
        if detector.update(v).drift_detected
    ]
    assert hits, f"{type(detector).__name__} missed a 5 sd shift"
    assert 400 <= hits[0] < 500


def test_reset_forgets_what_was_learnt(detector: StreamingDetector) -> None:
    data = stream(300, seed=4)
    first = [detector.update(v).drift_detected for v in data]
    detector.reset()
    assert detector.drift_detected is False
    assert [detector.update(v).drift_detected for v in data] == first


def test_missing_values_are_refused_clearly(detector: StreamingDetector) -> None:
    with pytest.raises(DriftInputError, match="missing value"):
        detector.update(float("nan"))


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.__name__)
def test_docstring_example_runs(cls: type[StreamingDetector]) -> None:
    import doctest
    import importlib

    module = importlib.import_module(cls.__module__)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
