"""Alembic migrations of the state store, run by :func:`chronoguard.store.Store.open`."""
