"""Real datasets bundled with chronoguard (provenance and licence in datasets/PROVENANCE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from chronoguard.errors import ChronoguardError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    filename: str
    freq: str
    season_length: int
    description: str
    known_changes: tuple[tuple[str, str], ...]  # (ds, label)


DATASETS: dict[str, DatasetInfo] = {
    "seatbelts": DatasetInfo(
        "seatbelts",
        "seatbelts.csv",
        "MS",
        12,
        "UK car drivers killed or seriously injured, monthly 1969-01 – 1984-12",
        (("1983-02-01", "seat-belt law (31 Jan 1983)"),),
    ),
    "vic_elec": DatasetInfo(
        "vic_elec",
        "vic_elec.csv.gz",
        "30min",
        48,
        "Victoria electricity demand (MW) with temperature, half-hourly 2012–2014",
        (),
    ),
    "tourism": DatasetInfo(
        "tourism",
        "tourism.csv.gz",
        "QS",
        4,
        "Australian overnight trips (thousands) by region, state and purpose: 304 series, "
        "quarterly 1998–2017",
        (),
    ),
    "nile": DatasetInfo(
        "nile",
        "nile.csv",
        "YS",
        1,
        "Nile flow at Aswan (10^8 m^3), annual 1871–1970",
        (("1898-01-01", "Aswan dam works / level drop (~1898)"),),
    ),
}


def dataset_path(name: str) -> Path:
    """Path of a bundled dataset's file."""
    info = dataset_info(name)
    return Path(str(resources.files("chronoguard.data").joinpath("datasets", info.filename)))


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ChronoguardError(
            f"Unknown dataset '{name}'. Bundled datasets: {', '.join(sorted(DATASETS))}"
        ) from None


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a long frame (``ds`` parsed; not yet validated).

    >>> load_dataset("seatbelts").shape
    (192, 9)
    """
    dataset_info(name)
    df = pd.read_csv(dataset_path(name))
    # vic_elec's timestamps are UTC as published; the contract uses naive timestamps.
    df["ds"] = pd.to_datetime(df["ds"])
    df["unique_id"] = df["unique_id"].astype(str)
    return df
