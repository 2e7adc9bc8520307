"""Shared fixtures: the package's own simulators on loopback, and a CLI runner."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import runpy
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from hypothesis import settings

from offhours.testing.ravello import RavelloSimulator
from offhours.testing.slack import SlackSink
from tests.aws import NO_IMAGE_CATALOGUE, TEST_KEYS, Aws, env_for

pytest_plugins = ["tests.leakguard", "tests.packaging"]

# No per-example deadline: a loaded 2-core machine must not turn slowness into failures.
# On CI the examples are derived from each test, so a run can be repeated exactly.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Unique sentinels: any appearance in output is a leak (tests/leakguard.py checks every test).
RAVELLO_USER = "ravello-user-8f3a"
RAVELLO_PASSWORD = "sentinel-password-7d91c2e4b6"


@pytest.fixture
def ravello() -> Iterator[RavelloSimulator]:
    with RavelloSimulator([], username=RAVELLO_USER, password=RAVELLO_PASSWORD) as sim:
        yield sim


@pytest.fixture
def slack() -> Iterator[SlackSink]:
    with SlackSink() as sink:
        yield sink
        # What reached "Slack" is output too: no sentinel secret in any form may be in it.
        # (Imported here: the guard is a plugin, registered and rewritten by pytest first.)
        from tests.leakguard import leaks

        found = leaks(json.dumps(sink.messages, ensure_ascii=False))
        if found:
            pytest.fail(f"secret leak in a message the Slack sink received: {found}")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def _offhours_in_process(args: tuple[str, ...], cwd: Path, env: dict[str, str], stdin: str) -> Run:
    """``python -m offhours ARGS`` in this process: the same module, argv, working directory
    and environment (less OFFHOURS_*), with stdin, stdout and stderr swapped for buffers."""
    out, err = io.StringIO(), io.StringIO()
    code: int = 0
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("OFFHOURS_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        mp.chdir(cwd)
        mp.setattr(sys, "argv", ["offhours", *args])
        mp.setattr(sys, "stdin", io.StringIO(stdin))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module("offhours", run_name="__main__", alter_sys=True)
            except SystemExit as exc:
                if isinstance(exc.code, int) or exc.code is None:
                    code = exc.code or 0
                else:  # as the interpreter does: the message to stderr, exit status 1
                    print(exc.code, file=sys.stderr)
                    code = 1
            except Exception:  # noqa: BLE001 - as the interpreter does: traceback, status 1
                traceback.print_exc()
                code = 1
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(tmp_path: Path, request: pytest.FixtureRequest) -> object:
    """Run the real `offhours` entry point in tmp_path: in a subprocess, or under the marker
    ``cli_in_process`` in this process (no interpreter start-up per call; for tests that check
    only exit codes and output, not verbosity, logging, terminal or deadline behaviour)."""
    mark = request.node.get_closest_marker("cli_in_process")
    in_process = mark is not None and mark.args[:1] != (False,)

    def run(
        *args: str, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60
    ) -> Run:
        if in_process:
            return _offhours_in_process(args, tmp_path, env or {}, stdin)
        # The test process's environment (AWS settings included), less offhours' own.
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("OFFHOURS_")}
        full_env.update(env or {})
        proc = subprocess.run(  # noqa: S603 - our own entry point, fixed arguments
            [sys.executable, "-m", "offhours", *args],
            cwd=tmp_path,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


# ---------------------------------------------------------------- AWS (moto server mode)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    # Read by moto whenever a region's EC2 state is created (after every reset): set for good.
    os.environ.update(NO_IMAGE_CATALOGUE)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """A clean moto account, with this process's environment pointing boto3 at it."""
    state = Aws(moto_endpoint, env_for(moto_endpoint))
    state.reset()
    for key, value in state.env.items():
        monkeypatch.setenv(key, value)
    return state


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may reach real AWS: no profile, no ~/.aws files, no instance metadata; each test
    starts with a fresh boto3 default session."""
    empty = tmp_path_factory.getbasetemp() / "no-aws-config"
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", *TEST_KEYS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3.client() uses one default session, which keeps the credentials it first found: a
    # test that sets other keys would otherwise call with an earlier test's.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture(autouse=True)
def _private_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test's incident memory (the SQLite store's default place) is its own, never the
    user's state directory: runs in one test cannot quieten another's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Code under test may configure logging (the Lambda handler does): undo it afterwards,
    so no test sees another's handlers or logger levels."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    # pytest puts its own capture handlers back for each phase; only ours must go.
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))
