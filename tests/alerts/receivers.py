"""Real local receivers for the channel tests: a threaded HTTP server that records every
request and can be told to fail (HTTP 500) or hang (past the client's timeout) for its
next requests, and an aiosmtpd SMTP server that keeps every message."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpReceiver:
    """What the server got (``requests``: every request, failed ones included) and what
    it does next: ``fail`` answers the next N with 500, then ``hang`` sleeps
    ``hang_seconds`` before answering the N after them (500 too)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    fail: int = 0
    hang: int = 0
    hang_seconds: float = 2.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    state = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got = Received(self.path, {k: v for k, v in self.headers.items()}, json.loads(raw))
            with state.lock:
                state.requests.append(got)
                fail = state.fail > 0
                hang = not fail and state.hang > 0
                state.hang -= hang
                state.fail -= fail
            if hang:
                time.sleep(state.hang_seconds)
            if fail or hang:
                try:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"receiver down")
                except OSError:  # the client gave up waiting
                    pass
                return
            with state.lock:
                state.accepted.append(got)
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "success"}')

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class SmtpReceiver:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)


@contextmanager
def smtp_receiver(
    logins: list[tuple[bytes, bytes]] | None = None, tls: ssl.SSLContext | None = None
) -> Iterator[SmtpReceiver]:
    """An SMTP server; with ``logins`` it takes a login (recorded there); with ``tls`` it
    requires STARTTLS (and a login only over TLS)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    with socket.socket() as probe:  # a free port: the controller checks it by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = SmtpReceiver("127.0.0.1", port)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.original_content))
            box.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        assert logins is not None and isinstance(auth, LoginPassword)
        logins.append((auth.login, auth.password))
        return AuthResult(success=True)

    auth: dict[str, Any] = {}
    if logins is not None:  # without TLS, a plain-text login: a loopback test server only
        auth = {"authenticator": authenticator, "auth_require_tls": tls is not None}
    if tls is not None:
        auth |= {"tls_context": tls, "require_starttls": True}
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **auth)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
