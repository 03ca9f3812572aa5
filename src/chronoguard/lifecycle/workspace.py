"""A workspace: one directory that holds a project's config, registry and state.

Layout::

    DIR/chronoguard.toml   the configuration
    DIR/mlflow.db          MLflow tracking + registry (embedded default)
    DIR/mlartifacts/       MLflow artifacts
    DIR/state.db           chronoguard's state store (SQLite, WAL)
    DIR/keys/audit.key     the audit chain's HMAC key (mode 0600), outside the store
    DIR/reports/           HTML reports
    DIR/summary.json       the last replay's summary

``CHRONOGUARD_TRACKING_URI`` and ``CHRONOGUARD_STORE_URL`` point a workspace at an MLflow
server and a PostgreSQL database instead, and ``CHRONOGUARD_AUDIT_KEY_FILE`` at a key file
kept elsewhere (a secrets mount), so that whoever can write the database or the workspace
folder still cannot rebuild the audit chain.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from chronoguard.config import ChronoguardConfig, dump_config, load_config
from chronoguard.errors import WorkspaceError
from chronoguard.registry import ModelRegistry
from chronoguard.store import Store

#: The real time of an action, for its audit entry (a one-method interface).
Clock = Callable[[], datetime]

CONFIG_FILE = "chronoguard.toml"
AUDIT_KEY_ENV = "CHRONOGUARD_AUDIT_KEY_FILE"


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


def audit_key_file(root: Path) -> Path:
    """Where the workspace's audit key lives: ``CHRONOGUARD_AUDIT_KEY_FILE`` if set,
    else ``keys/audit.key`` in the workspace."""
    env = os.environ.get(AUDIT_KEY_ENV)
    return Path(env) if env else Path(root) / "keys" / "audit.key"


def _create_key(path: Path) -> bool:
    """Write a new random 256-bit key, readable by its owner only; an existing key is
    kept (it is what the chain was written with). Whether a key was created."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return True


def read_audit_key(root: Path) -> bytes:
    """The workspace's audit key, or a :class:`WorkspaceError` saying how to get one."""
    path = audit_key_file(root)
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise WorkspaceError(
            f"the audit key {path} is missing, so the audit chain cannot be written or "
            f"checked; restore it (or set {AUDIT_KEY_ENV} to where it is), or run "
            f"`chronoguard init --workspace {root}` to create one for a workspace that "
            "never had one"
        ) from None
    except OSError as exc:
        raise WorkspaceError(f"cannot read the audit key {path}: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise WorkspaceError(
            f"the audit key {path} is not 64 or more hex digits; restore the original key "
            "file (a new key cannot verify the rows written with the old one)"
        )
    return key


def init_workspace(
    root: Path,
    config: ChronoguardConfig,
    *,
    overwrite_config: bool = False,
    clock: Clock | None = None,
) -> Workspace:
    """Create (or upgrade) a workspace: write the config, create the audit key if there is
    none (see :func:`audit_key_file`; a chain written before it is sealed with it), migrate
    the store, open the registry. ``clock`` gives the real time of each audited action
    (see :func:`open_workspace`)."""
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
    created = _create_key(audit_key_file(root))
    store = Store.open(_store_url(root), migrate=True, audit_key=read_audit_key(root), clock=clock)
    if created:
        # A chain written before this workspace had a key: its rows stay as written and
        # the first keyed row commits to them. Only with a key made just now, so a chain
        # rebuilt without an existing key is never sealed over.
        try:
            store.seal_audit_chain()
        except BaseException:
            store.close()
            raise
    return Workspace(root, config, _registry(root), store)


def open_workspace(root: Path, *, clock: Clock | None = None) -> Workspace:
    """Open an initialised workspace; a clear error says how to create one.

    ``clock`` gives the real time of each action, recorded in its audit entry next to the
    data time it concerns: the CLI and the server pass the wall clock, a replay or a test
    the clock its caller gives. Without one an entry's real time is the time its action
    was given (see :meth:`~chronoguard.store.Store.open`).
    """
    root = Path(root).resolve()
    cfg_path = root / CONFIG_FILE
    if not cfg_path.exists():
        raise WorkspaceError(
            f"{root} is not a chronoguard workspace (no {CONFIG_FILE}); "
            f"create it with `chronoguard init --workspace {root}`"
        )
    config = load_config(cfg_path)
    store = Store.open(_store_url(root), migrate=False, audit_key=read_audit_key(root), clock=clock)
    return Workspace(root, config, _registry(root), store)
