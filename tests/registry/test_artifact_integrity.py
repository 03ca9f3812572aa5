"""A version's artifacts are checked against the digest recorded when it was logged, before
anything is unpickled: a flipped bit, an edited reference profile or a planted pickle is
refused with a clear error, and the planted pickle's code never runs."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from chronoguard.errors import ArtifactIntegrityError, RegistryError
from chronoguard.forecasting import make_forecaster
from chronoguard.registry import ModelRegistry
from chronoguard.registry.mlflow_registry import DIGEST_TAG
from tests.helpers import seatbelts
from tests.registry.test_registry import REFERENCE, lineage


def _logged(tmp_path: Path) -> tuple[ModelRegistry, Path]:
    reg = ModelRegistry.for_workspace(tmp_path)
    df = seatbelts("1976-12-01")
    f = make_forecaster("SeasonalNaive", season_length=12, freq="MS").fit(df)
    reg.log_version(
        "m",
        f,
        lineage=lineage(df, None, "initial"),
        params={},
        metrics={},
        reference=REFERENCE,
        artifacts={"notes": {"k": 1}},
    )
    return reg, tmp_path / "mlartifacts"


def _one(root: Path, name: str) -> Path:
    found = [p for p in root.rglob(name) if p.is_file()]
    assert len(found) == 1, found
    return found[0]


def test_a_logged_version_records_its_digest_and_loads(tmp_path: Path) -> None:
    reg, _ = _logged(tmp_path)
    v = reg.get_version("m", "1")
    assert v.artifact_sha256 is not None and len(v.artifact_sha256) == 64
    assert reg.load("m", "1").reference == REFERENCE
    # the digest is a fact of the stored bytes: a second registry object agrees
    assert ModelRegistry.for_workspace(tmp_path).get_version("m", "1").artifact_sha256 == (
        v.artifact_sha256
    )


def test_a_version_logged_under_an_older_mlflow_still_loads(tmp_path: Path) -> None:
    """MLflow before 3.18 added a ``registered_model_meta`` file to each download, and the
    digests recorded then covered it: such a version loads, and a changed one is refused."""
    import yaml

    from chronoguard.registry.mlflow_registry import DOWNLOAD_META_FILE, artifact_digest

    reg, art = _logged(tmp_path)
    v = reg.get_version("m", "1")
    model_dir = _one(art, "python_model.pkl").parent
    payloads = {
        p.name: p.read_bytes() for p in _one(art, "reference_profile.json").parent.glob("*.json")
    }
    assert artifact_digest(model_dir, payloads) == v.artifact_sha256  # what this MLflow records
    meta = yaml.safe_dump({"model_name": "m", "model_version": "1"}, default_flow_style=False)
    legacy = artifact_digest(model_dir, payloads, extra={DOWNLOAD_META_FILE: meta.encode()})
    assert legacy != v.artifact_sha256
    reg._client.set_model_version_tag("m", "1", DIGEST_TAG, legacy)
    assert reg.get_version("m", "1").artifact_sha256 == legacy
    assert reg.load("m", "1").reference == REFERENCE
    # The older digest does not excuse a change.
    ref = _one(art, "reference_profile.json")
    ref.write_text(ref.read_text(encoding="utf-8").replace("12", "13", 1), encoding="utf-8")
    with pytest.raises(ArtifactIntegrityError, match="do not match"):
        reg.load("m", "1")


def test_a_flipped_bit_in_the_pickle_is_refused(tmp_path: Path) -> None:
    reg, art = _logged(tmp_path)
    pkl = _one(art, "python_model.pkl")
    data = bytearray(pkl.read_bytes())
    rng = np.random.default_rng(0)
    i = int(rng.integers(len(data)))
    data[i] ^= 1 << int(rng.integers(8))
    pkl.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="do not match the digest") as info:
        reg.load("m", "1")
    assert "version 1 of 'm'" in str(info.value) and "chronoguard rollback" in str(info.value)


def test_an_edited_reference_profile_is_refused(tmp_path: Path) -> None:
    reg, art = _logged(tmp_path)
    ref = _one(art, "reference_profile.json")
    payload = json.loads(ref.read_text(encoding="utf-8"))
    payload["season_length"] = 4
    ref.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ArtifactIntegrityError, match="do not match"):
        reg.load("m", "1")


class _Planted:
    """Unpickling this writes a marker file: proof that a load ran the pickle's code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (_touch, (self.marker, "ran"))


def _touch(path: str, text: str) -> None:
    Path(path).write_text(text)


def test_a_planted_pickle_never_runs(tmp_path: Path) -> None:
    reg, art = _logged(tmp_path)
    marker = tmp_path / "pwned"
    _one(art, "python_model.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))
    with pytest.raises(ArtifactIntegrityError):
        reg.load("m", "1")
    assert not marker.exists()
    # the control: the same bytes do run code when unpickled, so the check above is real
    pickle.loads(pickle.dumps(_Planted(str(marker))))
    assert marker.read_text() == "ran"
    os.remove(marker)


def test_a_version_without_a_digest_is_refused_with_the_fix(tmp_path: Path) -> None:
    reg, _ = _logged(tmp_path)
    reg._client.delete_model_version_tag("m", "1", DIGEST_TAG)
    with pytest.raises(ArtifactIntegrityError, match="no recorded artifact digest") as info:
        reg.load("m", "1")
    assert "chronoguard retrain" in str(info.value)
    assert isinstance(info.value, RegistryError)


def test_the_digest_is_taken_from_this_registry_whatever_mlflow_last_pointed_at(
    tmp_path: Path,
) -> None:
    # Two workspaces with the same model name and version number; MLflow's process-wide
    # URIs last point at the second. Recording the first's digest (as a resumed, interrupted
    # log does) must read the first's artifacts, not the second's.
    reg_a, _ = _logged(tmp_path / "a")
    df = seatbelts("1979-12-01")
    f = make_forecaster("Naive", season_length=12, freq="MS").fit(df)
    reg_b = ModelRegistry.for_workspace(tmp_path / "b")
    reg_b.log_version("m", f, lineage=lineage(df, None, "initial"), params={}, metrics={})
    v_a = reg_a.get_version("m", "1")
    reg_a._client.delete_model_version_tag("m", "1", DIGEST_TAG)
    reg_a._record_digest("m", "1", v_a.run_id)
    assert reg_a.get_version("m", "1").artifact_sha256 == v_a.artifact_sha256
    assert reg_a.load("m", "1").reference == REFERENCE
