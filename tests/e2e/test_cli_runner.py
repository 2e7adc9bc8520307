"""The `cli` fixture's in-process mode answers as the subprocess does: same exit code, same
output, same environment rules (offhours' own variables of the test process left out)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run, _offhours_in_process

CliRun = Callable[..., Run]

CASES = [
    ("schema",),  # exit 0, a long stdout
    ("check", "--config", "missing.toml"),  # exit 2, the error on stderr
    ("audit", "--now", "2026-11-30T23:00"),  # a usage error from the option parser
    ("no-such-command",),  # click's own usage error
    ("check",),  # offhours.toml from the working directory
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_in_process_matches_the_subprocess(
    cli: CliRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    (tmp_path / "offhours.toml").write_text('[hours]\ntimezone = "Nowhere/Special"\n')
    # Left out in both modes: a stray config path in the test process changes nothing.
    monkeypatch.setenv("OFFHOURS_CONFIG", str(tmp_path / "elsewhere.toml"))
    sub = cli(*args)
    inner = _offhours_in_process(args, tmp_path, {}, "")
    assert (inner.code, inner.stdout, inner.stderr) == (sub.code, sub.stdout, sub.stderr)
    assert sub.code == (0 if args == ("schema",) else 2)
