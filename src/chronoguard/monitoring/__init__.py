"""A monitoring run: data quality + drift + performance → typed results."""

from chronoguard.monitoring.reference import PROFILE_FORMAT, build_reference, one_step_errors
from chronoguard.monitoring.run import (
    MonitoringReport,
    data_drift_checks,
    performance_checks,
    quality_checks,
    run_monitoring,
)

__all__ = [
    "PROFILE_FORMAT",
    "MonitoringReport",
    "build_reference",
    "data_drift_checks",
    "one_step_errors",
    "performance_checks",
    "quality_checks",
    "run_monitoring",
]
