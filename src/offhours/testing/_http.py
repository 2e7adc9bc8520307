"""A tiny HTTP server on 127.0.0.1 for the simulators: real sockets, no outside network.

``LoopbackServer(handler_class, context=obj)`` binds an ephemeral port, serves from a daemon
thread and stops by itself when used as a context manager. Handlers reach ``context`` through
``self.server.context`` (or :attr:`LoopbackHandler.context`) and answer with :func:`send_json`
or :func:`send_text`.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = ["LoopbackHandler", "LoopbackServer", "read_body", "send_json", "send_text"]

# A client that gives up (a read timeout, a closed pool) leaves the handler writing to a dead
# socket; that is the client's choice, not a server failure worth a traceback.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler a test made deliberately slow
    context: Any = None
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Anything else is a bug in a handler: let socketserver print it as usual.
        if not isinstance(sys.exc_info()[1], _GONE):
            super().handle_error(request, client_address)


class LoopbackHandler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, silent access log, access to the server's context."""

    protocol_version = "HTTP/1.1"
    server: _Server

    @property
    def context(self) -> Any:
        return self.server.context

    @property
    def stopping(self) -> threading.Event:
        """Set when the server stops; a handler that waits should wait on it, not sleep."""
        return self.server.stopping

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; the simulators record requests themselves."""


class LoopbackServer:
    """``ThreadingHTTPServer`` on 127.0.0.1, port 0, served from a daemon thread."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], context: Any = None) -> None:
        self._handler_class = handler_class
        self._context = context
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port; still known after stop(), so a test can aim at a closed port."""
        if self._port is None:
            raise RuntimeError("the server was never started; call start() or use `with`")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), self._handler_class)
        httpd.context = self._context
        httpd.stopping = threading.Event()
        self._port = int(httpd.server_address[1])
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{httpd.server_address[1]}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._httpd = self._thread = None
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body (by Content-Length; keep-alive needs it consumed)."""
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def send_text(
    handler: BaseHTTPRequestHandler,
    status: int,
    text: str | bytes = b"",
    *,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete response; an empty body for 204/304 as HTTP requires."""
    body = text.encode("utf-8") if isinstance(text, str) else text
    handler.send_response(status)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    if status in (204, 304):
        body = b""
    else:
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
) -> None:
    """Send ``payload`` as ``application/json``."""
    send_text(
        handler,
        status,
        json.dumps(payload).encode("utf-8"),
        content_type="application/json",
        headers=headers,
    )
