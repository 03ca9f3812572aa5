"""The hot route, answered before FastAPI's routing: a forecast found in the snapshot.

``GET /v1/models/{model}/series/{unique_id}/forecast[?horizon=h]`` is the one route a
fleet calls thousands of times a second. FastAPI's routing, parameter validation and
dependency resolution cost several times what answering it does (a dictionary look-up and
a write of bytes rendered once per snapshot), so this ASGI middleware answers the requests
it can answer whole: the model served, a series with forecasts in the current snapshot, no
query parameter but an in-range ``horizon``, and a bearer token that is in the service's
token book (any role may read). Everything else (no token or one not in the book, an
unknown series or model, a horizon out of range, other parameters, a service still
loading) goes on to the FastAPI route, which is the documented one (OpenAPI) and answers the same request with the same
body, or with the error. The test suite checks that both give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from chronoguard.serving._auth import bearer_secret

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ROUTE = re.compile(r"^/v1/models/([^/]+)/series/([^/]+)/forecast$")
_HORIZON = re.compile(rb"^horizon=([0-9]{1,4})$")


class ForecastFastPath:
    """ASGI middleware: serve a snapshot forecast directly, pass anything else on.

    ``holder["state"]`` is the app's :class:`~chronoguard.serving.ServingState` once the
    app has started.
    """

    def __init__(self, app: ASGIApp, holder: Mapping[str, Any]) -> None:
        self.app = app
        self.holder = holder

    def _body(self, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        m = _ROUTE.match(path)
        if m is None:
            return None
        state = self.holder.get("state")
        if state is None:
            return None
        secret = bearer_secret(next((v for k, v in headers if k == b"authorization"), None))
        if secret is None or state.tokens.cached(secret) is None:
            return None  # the route answers 401, or authenticates a token newer than the book
        snap = state.snapshot
        if snap is None or m.group(1) != snap.model_name:
            return None
        block = snap.served.get(m.group(2))
        if block is None:
            return None
        if not query:
            h = block.horizon
        else:
            q = _HORIZON.match(query)
            if q is None:
                return None
            h = int(q.group(1))
            if not 1 <= h <= block.horizon:
                return None
        body: bytes = snap.forecast_body(block, h)
        return body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            body = self._body(scope["path"], scope["query_string"], scope["headers"])
            if body is not None:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
