"""The model registry of record: MLflow, with aliases (never the deprecated stages).

The embedded default is MLflow on a SQLite file with a local artifact folder inside the
workspace; any other tracking URI (an MLflow server) works the same way.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from chronoguard import __version__
from chronoguard.errors import ReferenceFormatError, RegistryError, UnknownVersionError
from chronoguard.registry.lineage import Lineage
from chronoguard.registry.version_reference import VersionReference

ALIASES = ("champion", "challenger")
EXPERIMENT = "chronoguard"
# Run tag naming the write-ahead intent a run belongs to (see ModelRegistry.find_intent).
INTENT_TAG = "chronoguard.intent"
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
        return cls(f"sqlite:///{ws / 'mlflow.db'}", (ws / "mlartifacts").as_uri())

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
            with _quiet_mlflow():
                pyfunc = mlflow.pyfunc.load_model(f"models:/{model_name}/{version.version}")
                wrapper = pyfunc.unwrap_python_model()
                artifacts: dict[str, Any] = {}
                stored_reference: dict[str, Any] | None = None
                with tempfile.TemporaryDirectory() as tmp:
                    for f in self._client.list_artifacts(version.run_id):
                        if f.path.endswith(".json"):
                            local = self._client.download_artifacts(version.run_id, f.path, tmp)
                            with open(local, encoding="utf-8") as fh:
                                payload = json.load(fh)
                            if f.path == f"{REFERENCE_ARTIFACT}.json":
                                stored_reference = payload
                            else:
                                artifacts[f.path[: -len(".json")]] = payload
        except (MlflowException, OSError, pickle.UnpicklingError) as exc:
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
        )


def _param(v: Any) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s[:500]  # MLflow caps parameter values
