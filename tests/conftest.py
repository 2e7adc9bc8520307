"""Shared fixtures: the package's own simulators on loopback, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from offhours.testing.ravello import RavelloSimulator
from offhours.testing.slack import SlackSink

# Unique sentinels: any appearance in output is a leak.
RAVELLO_USER = "sentinel-user-8f3a"
RAVELLO_PASSWORD = "sentinel-password-7d91c2e4b6"


@pytest.fixture
def ravello() -> Iterator[RavelloSimulator]:
    with RavelloSimulator([], username=RAVELLO_USER, password=RAVELLO_PASSWORD) as sim:
        yield sim


@pytest.fixture
def slack() -> Iterator[SlackSink]:
    with SlackSink() as sink:
        yield sink


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(tmp_path: Path) -> object:
    """Run the real `offhours` entry point in a subprocess, in tmp_path."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
        full_env.update(env or {})
        proc = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [sys.executable, "-m", "offhours", *args],
            cwd=tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run
