"""A monitoring run: data quality + drift + performance → typed results."""

from chronoguard.monitoring.incidents import (
    GroupIncident,
    InputMovement,
    SeriesChange,
    group_incidents,
    inputs_moved_with_error,
)
from chronoguard.monitoring.levels import (
    DECAY_METHOD,
    SEQUENTIAL_METHOD,
    CheckLevels,
    check_levels,
    periods_per_year,
)
from chronoguard.monitoring.paired import (
    PairedDecision,
    PairedInputError,
    PairedSequentialTest,
    PairedVerdict,
    paired_bounds,
    paired_sequential,
)
from chronoguard.monitoring.reference import (
    build_reference,
    one_step_errors,
    prediction_burn_in,
)
from chronoguard.monitoring.run import (
    MonitoringReport,
    data_drift_checks,
    fleet_alerts,
    iid_drift_checks,
    is_advisory,
    performance_checks,
    prediction_drift_checks,
    quality_checks,
    run_monitoring,
)
from chronoguard.registry import PROFILE_FORMAT

__all__ = [
    "DECAY_METHOD",
    "PROFILE_FORMAT",
    "SEQUENTIAL_METHOD",
    "CheckLevels",
    "GroupIncident",
    "InputMovement",
    "MonitoringReport",
    "PairedDecision",
    "PairedInputError",
    "PairedSequentialTest",
    "PairedVerdict",
    "SeriesChange",
    "build_reference",
    "check_levels",
    "data_drift_checks",
    "fleet_alerts",
    "group_incidents",
    "iid_drift_checks",
    "inputs_moved_with_error",
    "is_advisory",
    "one_step_errors",
    "paired_bounds",
    "paired_sequential",
    "performance_checks",
    "periods_per_year",
    "prediction_burn_in",
    "prediction_drift_checks",
    "quality_checks",
    "run_monitoring",
]
