"""The one error hierarchy of chronoguard.

Every message names the offending thing and says how to fix it. The CLI turns any
:class:`ChronoguardError` into a short message and exit code 2, without a traceback.
"""

from __future__ import annotations


class ChronoguardError(Exception):
    """Base class of every error chronoguard raises on purpose."""


class DataContractError(ChronoguardError):
    """The input frame breaks the data contract (``unique_id, ds, y`` + exogenous columns).

    ``problems`` lists every problem found, not only the first one.
    """

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} data contract problem(s){where}:\n{lines}")


class ConfigError(ChronoguardError):
    """The configuration file is missing, unreadable or invalid."""


class NotFittedError(ChronoguardError):
    """A forecaster or detector was used before ``fit``."""


class UnknownModelError(ChronoguardError):
    """A model name that no backend provides."""


class UnknownVersionError(ChronoguardError):
    """A model version or alias that the registry does not hold."""


class RegistryError(ChronoguardError):
    """The model registry (MLflow) refused or failed an operation."""


class ArtifactIntegrityError(RegistryError):
    """A model version's stored artifacts differ from the digest recorded when it was
    logged (or it has none): they were changed, corrupted or planted, and are never
    unpickled."""


class ReferenceFormatError(ChronoguardError):
    """A model version's stored reference profile cannot be read: a format this chronoguard
    does not read, or an incomplete or corrupt profile. The message names the format found
    and the fix (re-train the version, or upgrade chronoguard)."""


class StoreError(ChronoguardError):
    """The state store failed; the transaction was rolled back."""


class SchemaOutdatedError(StoreError):
    """The store's schema is older than this chronoguard; run ``chronoguard init`` to migrate."""


class WorkspaceBusyError(ChronoguardError):
    """Another process holds the workspace lock (a cycle, a promotion or a rollback runs);
    the message names the lock, its holder and since when."""


class WorkspaceError(ChronoguardError):
    """The workspace directory is missing or not initialised."""


class GateRejected(ChronoguardError):
    """Raised by ``promote`` when asked to promote a version that failed its validation gate."""
