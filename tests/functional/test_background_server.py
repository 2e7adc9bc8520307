"""BackgroundServer: the one start/stop lifecycle of every test server."""

from __future__ import annotations

import socket
import socketserver
import urllib.request

import pytest

from offhours.testing._http import BackgroundServer, LoopbackHandler, LoopbackServer, send_text
from offhours.testing.ravello import RavelloSimulator
from offhours.testing.slack import SlackSink


class _Echo(BackgroundServer):
    """A raw TCP server: the lifecycle is not tied to HTTP."""

    def _bind(self) -> socketserver.TCPServer:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(self.rfile.readline())

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server


class _Hello(LoopbackHandler):
    def do_GET(self) -> None:
        send_text(self, 200, f"hello {self.context}")


def test_a_tcp_server_serves_between_start_and_stop() -> None:
    with _Echo() as echo:
        with socket.create_connection(("127.0.0.1", echo.port), timeout=10) as sock:
            sock.sendall(b"ping\n")
            assert sock.makefile("rb").readline() == b"ping\n"
        assert not echo.stopping.is_set()
    assert echo.stopping.is_set()
    with pytest.raises(ConnectionRefusedError):  # the port is still known, and closed
        socket.create_connection(("127.0.0.1", echo.port), timeout=1).close()


def test_the_port_is_unknown_before_the_first_start() -> None:
    with pytest.raises(RuntimeError, match="never started; call start"):
        _ = _Echo().port


def test_start_and_stop_are_idempotent() -> None:
    server = LoopbackServer(_Hello, context="there")
    assert server.start() is server.start()
    with urllib.request.urlopen(server.url, timeout=10) as answer:  # noqa: S310 - loopback
        assert answer.read() == b"hello there"
    server.stop()
    server.stop()


@pytest.mark.parametrize("make", [RavelloSimulator, SlackSink])
def test_the_simulators_share_the_lifecycle(make: type[BackgroundServer]) -> None:
    with make() as served:
        assert isinstance(served, BackgroundServer)
        assert served.origin == f"http://127.0.0.1:{served.port}"
    assert served.stopping.is_set()
