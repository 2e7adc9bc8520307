"""moto's AWS emulator in a process of its own on loopback, for the tests and the benches.

A process, not moto's in-process server: IAM enforcement is a process-wide setting, and a bench
measures the emulator's memory apart from its own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["NO_IMAGE_CATALOGUE", "free_port", "moto_process"]

#: moto otherwise loads its catalogue of thousands of images on the first EC2 call
NO_IMAGE_CATALOGUE = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


def free_port() -> int:
    """A port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_process(
    *, launch: tuple[str, ...] = ("-m", "moto.server"), startup: float = 60, **environ: str
) -> Iterator[tuple[str, int]]:
    """moto's server started with ``launch`` (``-c`` code ending in moto.server's ``main``
    starts a patched one) and ``environ``: its URL and pid once it accepts connections (within
    ``startup`` seconds); stopped on exit."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 - moto's own server module, fixed arguments
        [sys.executable, *launch, "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, **NO_IMAGE_CATALOGUE, **environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + startup
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
