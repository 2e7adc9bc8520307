"""`offhours` run with a terminal as its stdin: what a user at a prompt sees, for the tests of
questions and confirmations (a pseudo-terminal; the typed answer waits in it until read)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import Run

__all__ = ["on_a_terminal"]


def on_a_terminal(cwd: Path, answer: str, *args: str) -> Run:
    """`offhours ARGS` with a pseudo-terminal as stdin, ``answer`` typed on it beforehand; the
    OFFHOURS_ variables of the test run are left out, as a user's shell would not have them."""
    master, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
    try:
        os.write(master, answer.encode())
        proc = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [sys.executable, "-m", "offhours", *args],
            cwd=cwd,
            env=env,
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(master)
        os.close(terminal)
    return Run(proc.returncode, proc.stdout, proc.stderr)
