"""Group incidents and the inputs that moved with the error (chronoguard.monitoring.incidents)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from chronoguard.monitoring import (
    GroupIncident,
    SeriesChange,
    group_incidents,
    inputs_moved_with_error,
)


def shock(n_group: int = 33, n_moved: int = 14, seed: int = 0) -> list[SeriesChange]:
    """Group North: ``n_moved`` series alerted and fell 21–29 %, the rest barely moved;
    group South: quiet, one alert."""
    rng = np.random.default_rng(seed)
    out = [
        SeriesChange(
            f"north-{i}",
            "North",
            i < n_moved,
            -float(rng.uniform(0.21, 0.29)) if i < n_moved else float(rng.normal(0, 0.01)),
        )
        for i in range(n_group)
    ]
    out += [SeriesChange(f"south-{i}", "South", i == 0, 0.5 if i == 0 else 0.0) for i in range(40)]
    return out


def test_a_group_shock_gives_one_incident_with_the_right_counts_and_range() -> None:
    [incident] = group_incidents(shock(), period="week")
    assert incident == GroupIncident(
        group="North",
        n_moved=14,
        n_series=33,
        direction="dropped",
        low=0.2,
        high=0.3,
        period="week",
        unique_ids=tuple(sorted(f"north-{i}" for i in range(14))),
    )
    assert incident.sentence == "14 of 33 series in group North dropped 20–30 % in the same week"


def test_a_rise_is_said_as_a_rise() -> None:
    changes = [SeriesChange(f"s{i}", "East", True, 0.31 + i / 1000) for i in range(8)]
    [incident] = group_incidents(changes, period="month")
    assert incident.direction == "rose"
    assert incident.sentence == "8 of 8 series in group East rose 30–35 % in the same month"


def test_scattered_alerts_give_no_incident() -> None:
    rng = np.random.default_rng(1)
    changes = [
        SeriesChange(f"s{i}", f"g{i % 40}", i % 37 == 0, float(rng.uniform(-0.5, 0.5)))
        for i in range(2000)
    ]
    assert sum(c.alerted for c in changes) >= 50
    assert group_incidents(changes) == []


def test_moves_both_ways_unknown_changes_and_no_group_give_none() -> None:
    both = [SeriesChange(f"s{i}", "G", True, -0.3 if i % 2 else 0.3) for i in range(20)]
    assert group_incidents(both) == []
    unknown = [SeriesChange(f"s{i}", "G", True, None if i % 2 else math.nan) for i in range(20)]
    assert group_incidents(unknown) == []
    ungrouped = [SeriesChange(f"s{i}", None, True, -0.3) for i in range(20)]
    assert group_incidents(ungrouped) == []


def test_a_small_share_of_a_large_group_is_no_incident() -> None:
    changes = [SeriesChange(f"s{i}", "Big", i < 6, -0.25 if i < 6 else 0.0) for i in range(100)]
    assert group_incidents(changes) == []  # 6 % of the group
    assert len(group_incidents(changes, min_share=0.05)) == 1


def test_bad_thresholds_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="min_series >= 1"):
        group_incidents([], min_series=0)


def test_the_input_that_moved_with_the_error_is_found() -> None:
    rng = np.random.default_rng(3)
    error = np.r_[np.full(10, 1.0), np.linspace(1.2, 3.0, 10)] + rng.normal(0, 0.05, 20)
    inputs = {
        "price": list(error * 2 + rng.normal(0, 0.05, 20)),  # moved with it
        "noise": list(rng.normal(0, 1, 20)),
        "short": [math.nan] * 18 + [1.0, 2.0],  # too few checks, but drifted now
    }
    moved = inputs_moved_with_error(list(error), inputs, drifted={"short"})
    assert [m.feature for m in moved] == ["price", "short"]
    assert moved[0].correlation > 0.9 and moved[0].n_points == 20 and not moved[0].drifted
    assert math.isnan(moved[1].correlation) and moved[1].drifted


def test_inputs_of_another_length_are_refused() -> None:
    with pytest.raises(ValueError, match="one drift statistic per check"):
        inputs_moved_with_error([1.0, 2.0, 3.0], {"x": [1.0, 2.0]})
