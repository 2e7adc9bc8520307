"""The leak guard itself: it must fail a test that shows a secret, and only such a test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest_plugins = ["pytester"]

INNER = r"""
import base64
import json
import logging
from urllib.parse import quote
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

def test_prints_sentinel_in_base64_off_alignment():
    # Two bytes before it: the sentinel starts in the middle of a base64 group.
    print(base64.b64encode(b"{'" + b"sentinel-" + b"b64leak1}").decode())

def test_logs_secret_in_urlsafe_base64():
    Secret("ab?>~" + "never-log-me-in-base64")
    print(base64.urlsafe_b64encode(b"ab?>~" + b"never-log-me-in-base64").decode().rstrip("="))

def test_logs_json_escaped_secret():
    value = 'pass"word\\with' + "-quotes-1"
    Secret(value)
    print(json.dumps({"password": value}))

def test_logs_url_encoded_secret():
    url = "https://hooks.slack.com/services/T0/B0/" + "tokentokentoken3"
    Secret(url)
    print("webhook=" + quote(url, safe=""))

def test_logs_stripped_value_of_padded_secret():
    Secret("  padded-secret-" + "value-99 \n")
    print("value: padded-secret-" + "value-99")

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
    # The project root (for tests.leakguard) ahead of whatever already leads to offhours.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("COLUMNS", "200")  # so the summary lines are not cut short
    pytester.makeconftest('pytest_plugins = ["tests.leakguard"]')
    pytester.makepyfile(test_inner=INNER)
    # In a subprocess, so the inner tests' deliberate leaks stay out of this test's output.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=10)
    for name in (
        "prints_sentinel",
        "prints_sentinel_in_base64_off_alignment",
        "logs_secret_in_urlsafe_base64",
        "logs_json_escaped_secret",
        "logs_url_encoded_secret",
        "logs_stripped_value_of_padded_secret",
        "logs_resolved_secret",
        "logs_token_only",
        "caught_exception_carries_sentinel",
        "chained_cause_carries_sentinel",
    ):
        result.stdout.fnmatch_lines([f"FAILED test_inner.py::test_{name} - secret leak*"])


def test_the_guard_reads_a_secret_of_any_shape() -> None:
    # urlsplit raises for a bracketed host that is not an address: the guard must not.
    from offhours.secrets import Secret
    from tests.leakguard import leaks

    value = "https://[xoxb-0000000000-guardshape]/services/T0/B0/" + "guardshapetoken1"
    Secret(value)
    assert leaks("nothing here") == []
    assert leaks(f"posted to {value}") == ["…ken1"]
    assert leaks("the token guardshapetoken1 alone") == ["…ken1"]
