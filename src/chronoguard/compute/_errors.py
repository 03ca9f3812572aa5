"""Errors of the compute backends."""

from __future__ import annotations

from chronoguard.errors import ChronoguardError


class ComputeUnavailableError(ChronoguardError):
    """The configured compute backend cannot run work: its scheduler does not answer, or the
    optional package it needs is not installed. Raised before any work starts."""


class MissingExtraError(ChronoguardError, ImportError):
    """An optional part of chronoguard was used without its extra installed; the message
    names the ``pip install 'chronoguard[...]'`` that adds it."""
