"""A workspace: one directory that holds a project's config, registry and state.

Layout::

    DIR/chronoguard.toml   the configuration
    DIR/mlflow.db          MLflow tracking + registry (embedded default)
    DIR/mlartifacts/       MLflow artifacts
    DIR/state.db           chronoguard's state store (SQLite, WAL)
    DIR/reports/           HTML reports
    DIR/summary.json       the last replay's summary

``CHRONOGUARD_TRACKING_URI`` and ``CHRONOGUARD_STORE_URL`` point a workspace at an MLflow
server and a PostgreSQL database instead.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chronoguard.config import ChronoguardConfig, dump_config, load_config
from chronoguard.errors import WorkspaceError
from chronoguard.registry import ModelRegistry
from chronoguard.store import Store

CONFIG_FILE = "chronoguard.toml"


@dataclass
class Workspace:
    root: Path
    config: ChronoguardConfig
    registry: ModelRegistry
    store: Store

    @property
    def model_name(self) -> str:
        return self.config.model.registered_name

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def lock(self, *, holder: str, at: datetime) -> AbstractContextManager[None]:
        """The workspace's one-at-a-time lock, held by every command that changes what
        serves: the cycle, train, retrain, promote and rollback. A second holder gets
        :class:`~chronoguard.errors.WorkspaceBusyError` naming the first."""
        return self.store.lock(f"cycle-{self.model_name}", holder=holder, at=at)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _store_url(root: Path) -> str:
    return os.environ.get("CHRONOGUARD_STORE_URL") or f"sqlite:///{root / 'state.db'}"


def _registry(root: Path) -> ModelRegistry:
    uri = os.environ.get("CHRONOGUARD_TRACKING_URI")
    if uri:
        return ModelRegistry(uri)
    return ModelRegistry.for_workspace(root)


def init_workspace(
    root: Path, config: ChronoguardConfig, *, overwrite_config: bool = False
) -> Workspace:
    """Create (or upgrade) a workspace: write the config, migrate the store, open the registry."""
    root = Path(root).resolve()
    cfg_path = root / CONFIG_FILE
    if cfg_path.exists() and not overwrite_config:
        config = load_config(cfg_path)
    root.mkdir(parents=True, exist_ok=True)
    (root / "reports").mkdir(exist_ok=True)
    if overwrite_config or not cfg_path.exists():
        tmp = cfg_path.with_suffix(".toml.tmp")
        tmp.write_text(dump_config(config))
        tmp.replace(cfg_path)
    store = Store.open(_store_url(root), migrate=True)
    return Workspace(root, config, _registry(root), store)


def open_workspace(root: Path) -> Workspace:
    """Open an initialised workspace; a clear error says how to create one."""
    root = Path(root).resolve()
    cfg_path = root / CONFIG_FILE
    if not cfg_path.exists():
        raise WorkspaceError(
            f"{root} is not a chronoguard workspace (no {CONFIG_FILE}); "
            f"create it with `chronoguard init --workspace {root}`"
        )
    config = load_config(cfg_path)
    store = Store.open(_store_url(root), migrate=False)
    return Workspace(root, config, _registry(root), store)
