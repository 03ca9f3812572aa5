"""chronoguard.serving: one HTTP service for every series of a workspace.

``chronoguard serve --workspace ws`` runs it (uvicorn); :func:`create_app` builds the
FastAPI app for embedding or tests. Forecasts are answered from an in-memory snapshot of
the deployment and the forecasts the cycle served (see :mod:`chronoguard.serving._snapshot`
for the design); actuals are checked against the data contract and written whole or not
at all; the store's governance record (versions, deployment, decisions, alerts, audit log)
is readable. The OpenAPI schema is at ``/openapi.json``.
"""

from chronoguard.serving._app import create_app
from chronoguard.serving._run import serve
from chronoguard.serving._snapshot import ServedBlock, ServingState, Snapshot

__all__ = ["ServedBlock", "ServingState", "Snapshot", "create_app", "serve"]
