"""The model registry of record: MLflow, with aliases (never the deprecated stages).

The embedded default is MLflow on a SQLite file with a local artifact folder inside the
workspace; any other tracking URI (an MLflow server) works the same way.

A workspace is a portable folder: MLflow records absolute artifact locations (where the
workspace was when a version was logged), so the embedded registry finds a version's
artifacts by their path below the workspace's own ``mlartifacts/`` (and points the
experiment there before logging), whatever folder the workspace was copied, moved or
restored to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import pandas as pd
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from chronoguard import __version__
from chronoguard.errors import (
    ArtifactIntegrityError,
    ReferenceFormatError,
    RegistryError,
    UnknownVersionError,
)
from chronoguard.registry.lineage import Lineage
from chronoguard.registry.version_reference import VersionReference

ALIASES = ("champion", "challenger")
EXPERIMENT = "chronoguard"
# Run tag naming the write-ahead intent a run belongs to (see ModelRegistry.find_intent).
INTENT_TAG = "chronoguard.intent"
# Version (and run) tag holding the SHA-256 digest of a version's artifacts: its model
# folder and its JSON artifacts (see artifact_digest). A load checks it before unpickling.
DIGEST_TAG = "chronoguard.artifact_sha256"
# The artifact (``<name>.json``) holding a version's reference profile.
REFERENCE_ARTIFACT = "reference_profile"

# Explicit requirements: letting MLflow infer them costs seconds per logged model.
PIP_REQUIREMENTS = [
    f"chronoguard=={__version__}",
    "statsforecast",
    "statsmodels",
    "pandas",
    "numpy",
]

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class ForecasterModel(PythonModel):
    """pyfunc wrapper so a version also serves through MLflow's own tooling.

    ``predict`` takes a long frame of history (``unique_id, ds, y``) and returns the
    next ``h`` periods (``params={"h": 12}``), conditioning the frozen model on that history.
    """

    def __init__(self, forecaster: Any) -> None:
        self.forecaster = forecaster

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        h = int((params or {}).get("h", 1))
        history = model_input if len(model_input) else None
        return self.forecaster.predict(h, history=history)


@dataclass(frozen=True)
class ModelVersion:
    """A registered version as chronoguard sees it."""

    model_name: str
    version: str
    run_id: str
    model_uri: str
    aliases: tuple[str, ...]
    lineage: Lineage
    metrics: dict[str, float]
    created_ms: int
    #: SHA-256 of the version's artifacts recorded when it was logged (None: none recorded).
    artifact_sha256: str | None = None


# The file some MLflow releases (before 3.18) add to a ``models:/`` download, naming the
# registered model and version: written by the download, not logged, so not digested.
DOWNLOAD_META_FILE = "registered_model_meta"


def artifact_digest(
    model_dir: Path, json_artifacts: dict[str, bytes], *, extra: dict[str, bytes] | None = None
) -> str:
    """SHA-256 over a version's model folder (every file, by relative path, but the
    download's own :data:`DOWNLOAD_META_FILE`) and its JSON artifacts (by name): what a
    load must find unchanged before it unpickles anything.

    hashlib does the hashing; the manifest (sorted ``path NUL sha256(file)`` entries) is
    ours, so the digest does not depend on the order files are listed in.
    """
    h = hashlib.sha256()
    entries = [
        (f"model/{p.relative_to(model_dir).as_posix()}", p.read_bytes())
        for p in sorted(model_dir.rglob("*"))
        if p.is_file() and p.relative_to(model_dir).as_posix() != DOWNLOAD_META_FILE
    ]
    entries += [(f"model/{name}", data) for name, data in sorted((extra or {}).items())]
    entries += [(f"json/{name}", data) for name, data in sorted(json_artifacts.items())]
    for name, data in sorted(entries):
        h.update(name.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def _legacy_digest(version: ModelVersion, model_dir: Path, payloads: dict[str, bytes]) -> str:
    """The digest as recorded under MLflow releases before 3.18, whose ``models:/``
    download added :data:`DOWNLOAD_META_FILE` (the model's name and version, in MLflow's
    YAML), so versions logged then still load: the file's bytes are rebuilt as MLflow
    wrote them, never read from the download."""
    import yaml

    meta = yaml.dump(
        {"model_name": version.model_name, "model_version": str(version.version)},
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=True,
        Dumper=yaml.SafeDumper,
    ).encode("utf-8")
    return artifact_digest(model_dir, payloads, extra={DOWNLOAD_META_FILE: meta})


@dataclass(frozen=True)
class LoadedModel:
    """A version loaded for inference, with what monitoring needs from it.

    ``artifacts`` are the version's other JSON artifacts (its lineage), by name;
    ``reference_profile`` is its reference, parsed once at load (``None`` for a version
    logged without one). Read it as :attr:`reference`, which names the fix when it is missing.
    """

    version: ModelVersion
    forecaster: Any
    artifacts: dict[str, Any]
    reference_profile: VersionReference | None = None

    @property
    def reference(self) -> VersionReference:
        """The version's reference profile; raises :class:`RegistryError` if it has none."""
        if self.reference_profile is None:
            v = self.version
            raise RegistryError(
                f"version {v.version} of '{v.model_name}' carries no reference profile (it "
                "was logged without one): re-train it with `chronoguard retrain`"
            )
        return self.reference_profile


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    # MLflow logs a cloudpickle caution and registration chatter at INFO/WARNING on every
    # call; the CLI prints its own summary instead.
    # Registration messages are printed straight to stderr, so stderr is captured too.
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


class ModelRegistry:
    """Log, register, alias and load model versions in MLflow.

    Parameters
    ----------
    tracking_uri
        Any MLflow tracking URI: ``sqlite:///path/mlflow.db`` (embedded default) or
        ``http://mlflow:5000``.
    artifact_location
        Where a new experiment keeps artifacts (a local folder for the embedded default);
        ignored when the experiment exists.
    """

    def __init__(self, tracking_uri: str, artifact_location: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        # The embedded workspace's artifact folder (set by for_workspace): stored artifact
        # locations are resolved below it, so a copied or moved workspace loads.
        self._artifact_root: Path | None = None
        self._homed = False
        with _quiet_mlflow():
            self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            try:
                exp = self._client.get_experiment_by_name(EXPERIMENT)
                self._experiment_id = (
                    exp.experiment_id
                    if exp is not None
                    else self._client.create_experiment(
                        EXPERIMENT, artifact_location=artifact_location
                    )
                )
            except MlflowException as exc:
                raise RegistryError(
                    f"cannot open the MLflow registry at {tracking_uri}: {exc}"
                ) from exc

    @classmethod
    def for_workspace(cls, workspace: Path) -> ModelRegistry:
        ws = Path(workspace).resolve()
        registry = cls(f"sqlite:///{ws / 'mlflow.db'}", (ws / "mlartifacts").as_uri())
        registry._artifact_root = ws / "mlartifacts"
        return registry

    # -- writing -------------------------------------------------------------------------
    def log_version(
        self,
        model_name: str,
        forecaster: Any,
        *,
        lineage: Lineage,
        params: dict[str, Any],
        metrics: dict[str, float],
        reference: VersionReference | None = None,
        artifacts: dict[str, Any] | None = None,
        tables: dict[str, pd.DataFrame] | None = None,
        intent: str | None = None,
    ) -> ModelVersion:
        """Log one training run and register it as a new version of ``model_name``.

        ``reference`` is the version's reference profile, saved as ``reference_profile.json``
        (its ``to_dict()``); ``artifacts`` are other JSON-serialisable dicts saved as
        ``<key>.json``; ``tables`` are frames saved as CSV (the backtest). ``intent``
        tags the run first thing (``chronoguard.intent``), so a caller interrupted half-way
        can find what it logged (:meth:`find_intent`) and finish it instead of logging twice.
        """
        if REFERENCE_ARTIFACT in (artifacts or {}):
            raise RegistryError(
                f"'{REFERENCE_ARTIFACT}' is the reference profile's artifact: pass the "
                "VersionReference as reference=, not in artifacts"
            )
        self._use_uris()
        try:
            self._home_experiment()
            # The intent tag is set with the run's creation, so no run exists without it.
            tags = {INTENT_TAG: intent} if intent is not None else None
            with (
                _quiet_mlflow(),
                mlflow.start_run(experiment_id=self._experiment_id, tags=tags) as run,
            ):
                mlflow.set_tags(lineage.to_tags())
                mlflow.log_params({k: _param(v) for k, v in params.items()})
                mlflow.log_metrics({k: float(v) for k, v in metrics.items() if pd.notna(v)})
                if reference is not None:
                    mlflow.log_dict(reference.to_dict(), f"{REFERENCE_ARTIFACT}.json")
                for key, payload in (artifacts or {}).items():
                    mlflow.log_dict(payload, f"{key}.json")
                with tempfile.TemporaryDirectory() as tmp:
                    for key, frame in (tables or {}).items():
                        path = Path(tmp) / f"{key}.csv"
                        frame.to_csv(path, index=False)
                        mlflow.log_artifact(str(path))
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=ForecasterModel(forecaster),
                    pip_requirements=PIP_REQUIREMENTS,
                    registered_model_name=model_name,
                )
                version = str(info.registered_model_version)
                for k, v in lineage.to_tags().items():
                    self._client.set_model_version_tag(model_name, version, k, v)
                self._record_digest(model_name, version, run.info.run_id)
        except MlflowException as exc:
            raise RegistryError(f"logging a version of '{model_name}' failed: {exc}") from exc
        del run
        return self.get_version(model_name, version)

    def find_intent(self, model_name: str, intent: str) -> ModelVersion | None:
        """The version an interrupted :meth:`log_version` with ``intent`` registered, if any.

        A version registered but killed before its lineage tags were copied gets them now
        (they are on its run, set first). Runs of the intent that never reached registration
        are marked failed and deleted, so the caller logs the version again from scratch.
        """
        try:
            with _quiet_mlflow():
                runs = self._client.search_runs(
                    [self._experiment_id],
                    filter_string=f"tags.`{INTENT_TAG}` = '{intent}'",
                    run_view_type=ViewType.ACTIVE_ONLY,
                )
                found: ModelVersion | None = None
                for run in runs:
                    mvs = self._client.search_model_versions(
                        f"name='{model_name}' and run_id='{run.info.run_id}'"
                    )
                    if mvs and found is None:
                        mv = mvs[0]
                        tags = {
                            k: v for k, v in run.data.tags.items() if k.startswith("chronoguard.")
                        }
                        for k, v in tags.items():
                            if (mv.tags or {}).get(k) != v:
                                self._client.set_model_version_tag(model_name, mv.version, k, v)
                        if DIGEST_TAG not in (mv.tags or {}):
                            # Killed between registration and the digest: the artifacts
                            # were written by this intent a moment ago, so record them now.
                            self._record_digest(model_name, mv.version, run.info.run_id)
                        if run.info.status != "FINISHED":
                            self._client.set_terminated(run.info.run_id, "FINISHED")
                        found = self.get_version(model_name, mv.version)
                    else:
                        if run.info.status == "RUNNING":
                            self._client.set_terminated(run.info.run_id, "FAILED")
                        self._client.delete_run(run.info.run_id)
        except MlflowException as exc:
            raise RegistryError(f"looking up the interrupted run {intent!r} failed: {exc}") from exc
        return found

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        self.get_version(model_name, version)  # unknown version -> clear error
        with _quiet_mlflow():
            self._client.set_registered_model_alias(model_name, alias, str(version))

    def delete_alias(self, model_name: str, alias: str) -> None:
        with _quiet_mlflow(), contextlib.suppress(MlflowException):
            self._client.delete_registered_model_alias(model_name, alias)

    # -- reading -------------------------------------------------------------------------
    def resolve(self, model_name: str, ref: str | int) -> str:
        """The version number a version or alias names; raises UnknownVersionError."""
        ref = str(ref)
        if ref.isdigit():
            return self.get_version(model_name, ref).version
        try:
            with _quiet_mlflow():
                mv = self._client.get_model_version_by_alias(model_name, ref)
        except MlflowException:
            raise UnknownVersionError(
                f"model '{model_name}' has no alias '{ref}'; known aliases: "
                f"{self._known_aliases(model_name) or 'none'}. Use a version number or "
                "one of the aliases (see `chronoguard versions`)"
            ) from None
        return str(mv.version)

    def get_alias(self, model_name: str, alias: str) -> str | None:
        try:
            return self.resolve(model_name, alias)
        except UnknownVersionError:
            return None

    def get_version(self, model_name: str, version: str | int) -> ModelVersion:
        try:
            with _quiet_mlflow():
                mv = self._client.get_model_version(model_name, str(version))
        except MlflowException:
            known = (
                [v.version for v in self.list_versions(model_name)]
                if self._exists(model_name)
                else []
            )
            raise UnknownVersionError(
                f"model '{model_name}' has no version {version}; known versions: "
                f"{', '.join(known) or 'none (train one with `chronoguard train`)'}"
            ) from None
        return self._entity(mv)

    def list_versions(self, model_name: str) -> list[ModelVersion]:
        if not self._exists(model_name):
            return []
        with _quiet_mlflow():
            found = self._client.search_model_versions(f"name='{model_name}'")
            # search_model_versions leaves each version's aliases empty; the registered
            # model has them all (alias -> version).
            by_version: dict[str, list[str]] = {}
            for alias, v in self._client.get_registered_model(model_name).aliases.items():
                by_version.setdefault(str(v), []).append(alias)
        versions = (
            replace(e, aliases=tuple(sorted(by_version.get(e.version, []))))
            for e in (self._entity(mv) for mv in found)
        )
        return sorted(versions, key=lambda v: int(v.version))

    def load(self, model_name: str, ref: str | int = "champion") -> LoadedModel:
        """Load a version (number) or alias for inference, with its reference profile
        (parsed once into a :class:`VersionReference`) and its other JSON artifacts.

        Raises :class:`~chronoguard.errors.ReferenceFormatError` when the stored reference
        has a format this chronoguard does not read, naming the version and the fix.
        """
        version = self.get_version(model_name, self.resolve(model_name, ref))
        self._use_uris()
        try:
            with _quiet_mlflow(), tempfile.TemporaryDirectory() as tmp:
                model_dir, payloads = self._download(version.model_name, version.version, tmp)
                self._verify(version, model_dir, payloads)
                # Only now, with every byte as it was logged, is the pickle read.
                pyfunc = mlflow.pyfunc.load_model(str(model_dir))
                wrapper = pyfunc.unwrap_python_model()
                artifacts: dict[str, Any] = {}
                stored_reference: dict[str, Any] | None = None
                for name, data in payloads.items():
                    payload = json.loads(data)
                    if name == f"{REFERENCE_ARTIFACT}.json":
                        stored_reference = payload
                    else:
                        artifacts[name[: -len(".json")]] = payload
        except (MlflowException, OSError, pickle.UnpicklingError, ValueError) as exc:
            raise RegistryError(
                f"cannot load version {version.version} of '{model_name}': {exc}"
            ) from exc
        try:
            reference = (
                None if stored_reference is None else VersionReference.from_dict(stored_reference)
            )
        except ReferenceFormatError as exc:
            raise ReferenceFormatError(
                f"version {version.version} of '{model_name}': {exc}"
            ) from exc
        return LoadedModel(
            version=version,
            forecaster=wrapper.forecaster,
            artifacts=artifacts,
            reference_profile=reference,
        )

    # -- helpers -------------------------------------------------------------------------
    def _download(self, model_name: str, version: str, tmp: str) -> tuple[Path, dict[str, bytes]]:
        """A version's model folder and JSON artifacts (by name), downloaded into ``tmp``.

        In an embedded workspace that was copied or moved, they are copied from where they
        are now, below its ``mlartifacts/`` (see :meth:`_moved_here`), not from where
        MLflow recorded them; the files are the same either way.
        """
        # ``models:/`` URIs resolve against the process-wide registry URI: this registry's.
        self._use_uris()
        mv = self._client.get_model_version(model_name, version)
        run_id = str(mv.run_id)
        model_dst = Path(tmp) / "model"
        source = str(mv.source or "")
        model_id = source[len("models:/") :] if source.startswith("models:/") else None
        moved_model = self._moved_here(
            self._client.get_model_version_download_uri(model_name, version),
            [(model_id, 1), (run_id, 0)],
        )
        if moved_model is None:
            model_dir = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{model_name}/{version}", dst_path=str(model_dst)
                )
            )
        else:
            model_dir = Path(shutil.copytree(moved_model, model_dst))
        payloads: dict[str, bytes] = {}
        moved_run = self._moved_here(
            str(self._client.get_run(run_id).info.artifact_uri), [(run_id, 0)]
        )
        if moved_run is None:
            for f in self._client.list_artifacts(run_id):
                if f.path.endswith(".json"):
                    local = self._client.download_artifacts(run_id, f.path, str(Path(tmp) / "json"))
                    payloads[f.path] = Path(local).read_bytes()
        else:
            for p in sorted(moved_run.iterdir()):
                if p.is_file() and p.name.endswith(".json"):
                    payloads[p.name] = p.read_bytes()
        return model_dir, payloads

    def _moved_here(self, stored: str, anchors: list[tuple[str | None, int]]) -> Path | None:
        """Where artifacts MLflow recorded at ``stored`` are in this embedded workspace, if it
        was copied or moved since they were logged; ``None`` when they are where MLflow
        recorded them (or not found here: MLflow's own error then names the location).

        MLflow stores absolute locations: where the workspace was when they were logged. A
        location's path below the artifact folder starts at an anchor (the model's id, with
        ``up`` folders above it, or the run's id), so it is looked up below this workspace's
        ``mlartifacts/``. The digest check runs on what is read, either way.
        """
        path = _local_path(stored)
        if self._artifact_root is None or path is None:
            return None
        parts = path.parts
        for anchor, up in anchors:
            if anchor and anchor in parts:
                at = len(parts) - 1 - parts[::-1].index(anchor) - up
                here = self._artifact_root.joinpath(*parts[max(at, 0) :])
                if here == path:
                    return None  # where MLflow recorded it: the workspace did not move
                if here.is_dir():
                    return here
        return None

    def _home_experiment(self) -> None:
        """Point the embedded workspace's experiment at its own ``mlartifacts/`` before a
        version is logged. MLflow fixes an experiment's artifact location (an absolute
        URI) when it is created and offers no call to change it; in a workspace that was
        copied or moved it still names the old folder, where new versions would be
        written, outside the workspace. The workspace's own SQLite file is updated."""
        if self._homed or self._artifact_root is None or self.artifact_location is None:
            return
        if not self.tracking_uri.startswith("sqlite:///"):
            return
        with _quiet_mlflow():
            exp = self._client.get_experiment(self._experiment_id)
        stored = _local_path(exp.artifact_location)
        if stored is None or stored == self._artifact_root:
            self._homed = True
            return
        db_path = self.tracking_uri[len("sqlite:///") :]
        try:
            with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as db, db:
                db.execute(
                    "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                    (self.artifact_location, int(self._experiment_id)),
                )
        except sqlite3.Error as exc:
            raise RegistryError(
                f"cannot point the experiment at {self.artifact_location} (it names "
                f"{exp.artifact_location}, where the workspace was): {exc}"
            ) from exc
        self._homed = True

    def _record_digest(self, model_name: str, version: str, run_id: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            digest = artifact_digest(*self._download(model_name, version, tmp))
        self._client.set_tag(run_id, DIGEST_TAG, digest)
        self._client.set_model_version_tag(model_name, version, DIGEST_TAG, digest)

    @staticmethod
    def _verify(version: ModelVersion, model_dir: Path, payloads: dict[str, bytes]) -> None:
        where = f"version {version.version} of '{version.model_name}'"
        if version.artifact_sha256 is None:
            raise ArtifactIntegrityError(
                f"{where} has no recorded artifact digest ({DIGEST_TAG}), so its pickle is "
                "not loaded: it was logged outside chronoguard or by an older chronoguard. "
                "Retrain the series it serves (`chronoguard retrain`) and roll back to the "
                "new version"
            )
        found = artifact_digest(model_dir, payloads)
        if found != version.artifact_sha256 and _legacy_digest(version, model_dir, payloads) != (
            version.artifact_sha256
        ):
            raise ArtifactIntegrityError(
                f"{where}: its artifacts do not match the digest recorded when it was logged "
                f"(recorded {version.artifact_sha256[:12]}…, found {found[:12]}…); they were "
                "changed, corrupted or replaced, and are not loaded. Restore the workspace's "
                "mlartifacts/ from a backup, or roll the series back to another version "
                "(`chronoguard rollback`)"
            )

    def _use_uris(self) -> None:
        # mlflow's fluent API (start_run, log_model, pyfunc.load_model) reads process-wide
        # URIs; point them at this registry before each such call.
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    def _exists(self, model_name: str) -> bool:
        try:
            with _quiet_mlflow():
                self._client.get_registered_model(model_name)
            return True
        except MlflowException:
            return False

    def _known_aliases(self, model_name: str) -> str:
        if not self._exists(model_name):
            return ""
        with _quiet_mlflow():
            rm = self._client.get_registered_model(model_name)
        return ", ".join(sorted(rm.aliases))

    def _entity(self, mv: Any) -> ModelVersion:
        with _quiet_mlflow():
            run = self._client.get_run(mv.run_id)
        return ModelVersion(
            model_name=mv.name,
            version=str(mv.version),
            run_id=mv.run_id,
            model_uri=f"models:/{mv.name}/{mv.version}",
            aliases=tuple(sorted(getattr(mv, "aliases", []) or [])),
            lineage=Lineage.from_tags(dict(run.data.tags)),
            metrics=dict(run.data.metrics),
            created_ms=int(mv.creation_timestamp or 0),
            artifact_sha256=(mv.tags or {}).get(DIGEST_TAG),
        )


def _local_path(uri: str) -> Path | None:
    """The local path a ``file:`` URI (or a plain path) names; ``None`` for other schemes."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(uri)
    return None


def _param(v: Any) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s[:500]  # MLflow caps parameter values
