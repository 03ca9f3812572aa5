"""chronoguard.drift: drift tests, reference profiles and detectors for time series.

Public names are exported here, once, through ``__all__``. Imports and ``__all__`` entries
are grouped in one block per area, so additions to one area do not touch another.
"""

from chronoguard.drift.batch import (
    DEFAULT_THRESHOLDS,
    anderson_darling_test,
    chi2_test,
    cramer_von_mises_test,
    detect_drift,
    jensen_shannon_test,
    ks_test,
    psi_test,
    wasserstein_test,
)
from chronoguard.drift.profile import (
    CategoricalSummary,
    ColumnKey,
    NumericSummary,
    ReferenceProfile,
)
from chronoguard.drift.types import (
    DriftInputError,
    DriftKind,
    DriftResult,
    InsufficientDataError,
    Severity,
)

# One block per area; each engineer extends ``__all__`` in their own block.

# --- result types and errors (types.py) ---
__all__ = [
    "DriftInputError",
    "DriftKind",
    "DriftResult",
    "InsufficientDataError",
    "Severity",
]

# --- batch two-sample tests, reference profiles ---
# (batch.py, profile.py)
__all__ += [
    "DEFAULT_THRESHOLDS",
    "CategoricalSummary",
    "ColumnKey",
    "NumericSummary",
    "ReferenceProfile",
    "anderson_darling_test",
    "chi2_test",
    "cramer_von_mises_test",
    "detect_drift",
    "jensen_shannon_test",
    "ks_test",
    "psi_test",
    "wasserstein_test",
]

# --- dependence-aware inference, alert control ---
# (inference.py, reference_state.py, seasonal.py, alerting.py)
from chronoguard.drift.alerting import (  # noqa: E402
    DAILY_CHECK_RULE,
    DailyCheckRule,
    PersistenceRule,
    benjamini_hochberg,
    fdr_adjust,
    persistent_alarms,
    severity_from_margin,
    severity_from_pvalue,
)
from chronoguard.drift.inference import (  # noqa: E402
    CalibratedDriftTest,
    SequentialCheck,
    drift_check,
    fit_reference_state,
    sequential_checks,
)
from chronoguard.drift.reference_state import MonitoringCalibration, ReferenceState  # noqa: E402
from chronoguard.drift.seasonal import SeasonalDesign  # noqa: E402

__all__ += [
    "DAILY_CHECK_RULE",
    "CalibratedDriftTest",
    "DailyCheckRule",
    "MonitoringCalibration",
    "PersistenceRule",
    "ReferenceState",
    "SeasonalDesign",
    "SequentialCheck",
    "benjamini_hochberg",
    "drift_check",
    "fdr_adjust",
    "fit_reference_state",
    "persistent_alarms",
    "sequential_checks",
    "severity_from_margin",
    "severity_from_pvalue",
]
