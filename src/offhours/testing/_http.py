"""Tiny servers on 127.0.0.1 for the simulators and the tests: real sockets, no outside network.

:class:`BackgroundServer` is the one lifecycle they share: ``start()`` binds an ephemeral port
and serves from a daemon thread, ``stop()`` (or leaving a ``with`` block) shuts it down, and the
port stays known afterwards. A subclass says only what it serves, in ``_bind()``.

``LoopbackServer(handler_class, context=obj)`` is the HTTP one. Handlers reach ``context``
through ``self.server.context`` (or :attr:`LoopbackHandler.context`) and answer with
:func:`send_json` or :func:`send_text`.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

__all__ = [
    "BackgroundServer",
    "LoopbackHandler",
    "LoopbackServer",
    "http_server",
    "read_body",
    "send_json",
    "send_text",
]

# A client that gives up (a read timeout, a closed pool) leaves the handler writing to a dead
# socket; that is the client's choice, not a server failure worth a traceback.
_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout)


class BackgroundServer(ABC):
    """A ``socketserver`` server on 127.0.0.1, port 0, served from a daemon thread.

    :attr:`stopping` is set when the server stops: a handler that waits should wait on it,
    not sleep, so that stopping never hangs on a deliberately slow answer.
    """

    def __init__(self) -> None:
        self._served: socketserver.TCPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self.stopping = threading.Event()

    @abstractmethod
    def _bind(self) -> socketserver.TCPServer:
        """A new server bound to ``("127.0.0.1", 0)``; it must not block on close."""

    @property
    def port(self) -> int:
        """The bound port; still known after stop(), so a test can aim at a closed port."""
        if self._port is None:
            raise RuntimeError("the server was never started; call start() or use `with`")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._served is not None:
            return self
        self.stopping = threading.Event()
        served = self._bind()
        self._port = int(served.server_address[1])
        thread = threading.Thread(
            target=served.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{type(self).__name__}:{self._port}",
            daemon=True,
        )
        thread.start()
        self._served, self._thread = served, thread
        return self

    def stop(self) -> None:
        served, thread = self._served, self._thread
        if served is None:
            return
        self._served = self._thread = None
        self.stopping.set()
        served.shutdown()
        served.server_close()
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler a test made deliberately slow
    context: Any = None
    stopping: threading.Event

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Anything else is a bug in a handler: let socketserver print it as usual.
        if not isinstance(sys.exc_info()[1], _GONE):
            super().handle_error(request, client_address)


def http_server(
    handler_class: type[BaseHTTPRequestHandler], context: Any, stopping: threading.Event
) -> socketserver.TCPServer:
    """An HTTP server on 127.0.0.1, port 0, whose handlers see ``context`` and ``stopping``."""
    httpd = _Server(("127.0.0.1", 0), handler_class)
    httpd.context = context
    httpd.stopping = stopping
    return httpd


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


class LoopbackServer(BackgroundServer):
    """An HTTP server answering with ``handler_class``, whose handlers see ``context``."""

    def __init__(self, handler_class: type[BaseHTTPRequestHandler], context: Any = None) -> None:
        super().__init__()
        self._handler_class = handler_class
        self._context = context

    def _bind(self) -> socketserver.TCPServer:
        return http_server(self._handler_class, self._context, self.stopping)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return self.origin


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
