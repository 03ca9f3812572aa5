"""Run the service with uvicorn, in this process (``chronoguard serve``).

One process, one event loop: the snapshot lives in memory, so a second worker would load a
second copy and refresh it on its own. Forecast requests never leave the event loop; the
store-backed routes run in uvicorn's thread pool.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from chronoguard.serving._app import create_app


def serve(
    workspace: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    poll_interval: float = 1.0,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve the workspace at ``host:port`` until interrupted (Ctrl-C or SIGTERM)."""
    app = create_app(Path(workspace), poll_interval=poll_interval)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level=log_level,
        lifespan="on",
        server_header=False,
    )
