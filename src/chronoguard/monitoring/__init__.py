"""A monitoring run: data quality + drift + performance → typed results."""

from chronoguard.monitoring.reference import (
    PROFILE_FORMAT,
    build_reference,
    one_step_errors,
    prediction_burn_in,
)
from chronoguard.monitoring.run import (
    MonitoringReport,
    data_drift_checks,
    iid_drift_checks,
    is_advisory,
    performance_checks,
    prediction_drift_checks,
    quality_checks,
    run_monitoring,
)

__all__ = [
    "PROFILE_FORMAT",
    "MonitoringReport",
    "build_reference",
    "data_drift_checks",
    "iid_drift_checks",
    "is_advisory",
    "one_step_errors",
    "performance_checks",
    "prediction_burn_in",
    "prediction_drift_checks",
    "quality_checks",
    "run_monitoring",
]
