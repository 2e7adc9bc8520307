"""The leak guard itself: it must fail a test that shows a secret, and only such a test."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]

INNER = """
import logging
import pytest
from offhours.secrets import Secret

def test_prints_sentinel():
    print("password is sentinel-" + "abc123")

def test_logs_resolved_secret():
    secret = Secret("https://hooks.slack.com/services/T0/B0/" + "tokentokentoken1")
    logging.getLogger("x").warning("posting to %s", secret.reveal())

def test_logs_token_only():
    Secret("https://hooks.slack.com/services/T0/B0/" + "tokentokentoken2")
    logging.getLogger("x").warning("path ends in %s", "tokentokentoken2")

def test_caught_exception_carries_sentinel():
    with pytest.raises(ValueError):
        raise ValueError("bad value sentinel-" + "xyz789")

def test_chained_cause_carries_sentinel():
    with pytest.raises(RuntimeError):
        try:
            raise KeyError("sentinel-" + "cause1")
        except KeyError as exc:
            raise RuntimeError("wrapped") from exc

def test_clean():
    secret = Secret("sentinel-" + "neverprinted")
    print("redacted:", secret, repr(secret))
    with pytest.raises(ValueError, match="no secret"):
        raise ValueError(f"no secret here {secret}")
"""


@pytest.mark.shows_leaks  # the inner run's report repeats its deliberate leaks
def test_guard_fails_exactly_the_leaking_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest('pytest_plugins = ["tests.leakguard"]')
    pytester.makepyfile(test_inner=INNER)
    # In a subprocess, so the inner tests' deliberate leaks stay out of this test's output.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=5)
    for name in (
        "prints_sentinel",
        "logs_resolved_secret",
        "logs_token_only",
        "caught_exception_carries_sentinel",
        "chained_cause_carries_sentinel",
    ):
        result.stdout.fnmatch_lines([f"FAILED test_inner.py::test_{name} - secret leak*"])
