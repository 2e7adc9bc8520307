"""A loopback reverse proxy that waits before forwarding each request: what a far API costs.

moto answers on loopback in a millisecond or two; AWS answers from tens of milliseconds away.
Put this proxy in front of moto (``AWS_ENDPOINT_URL`` at :attr:`LatencyProxy.url`) and every
call pays ``delay`` seconds first, so concurrency shows what it saves. It counts the calls.

    with LatencyProxy("http://127.0.0.1:5000", delay=0.05) as proxy:
        ...  # AWS_ENDPOINT_URL=proxy.url
        print(proxy.calls)
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["LatencyProxy"]

# Not forwarded either way: they describe one connection, not the message (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a pool of workers connects at once

    def __init__(self, target: str, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urllib.parse.urlsplit(target)
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or 80
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()
        self.local = threading.local()  # one upstream connection per proxy thread, kept alive


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's pooled connections expect
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per request on stderr would cost more than the calls

    def _upstream(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self.server.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(
                self.server.target_host, self.server.target_port, timeout=300
            )
            self.server.local.conn = conn
        return conn

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.server.lock:
            self.server.calls += 1
        time.sleep(self.server.delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            answer = self._request(body, headers)
        except (OSError, http.client.HTTPException):
            # A kept-alive connection the server closed: once more on a new one.
            self.server.local.conn = None
            answer = self._request(body, headers)
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _request(self, body: bytes | None, headers: dict[str, str]) -> http.client.HTTPResponse:
        conn = self._upstream()
        conn.request(self.command, self.path, body=body, headers=headers)
        return conn.getresponse()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class LatencyProxy:
    """Forwards to ``target`` (``http://host:port``) after ``delay`` seconds, per request."""

    def __init__(self, target: str, *, delay: float) -> None:
        self._server = _Server(target, delay)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def calls(self) -> int:
        """Requests received so far."""
        with self._server.lock:
            return self._server.calls

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
