"""Loading, the data contract, bundled real datasets."""

from chronoguard.data.contract import (
    REQUIRED_COLUMNS,
    ValidatedFrame,
    find_problems,
    infer_frequency,
    load_frame,
    validate_frame,
)
from chronoguard.data.datasets import (
    DATASETS,
    DatasetInfo,
    dataset_info,
    dataset_path,
    load_dataset,
)

__all__ = [
    "DATASETS",
    "REQUIRED_COLUMNS",
    "DatasetInfo",
    "ValidatedFrame",
    "dataset_info",
    "dataset_path",
    "find_problems",
    "infer_frequency",
    "load_dataset",
    "load_frame",
    "validate_frame",
]
