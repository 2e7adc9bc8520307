"""Each test starts with a fresh boto3 default session (tests/conftest.py): boto3.client()
keeps the credentials its session first found, so one test's keys would reach the next."""

from __future__ import annotations

import boto3
import pytest


@pytest.mark.parametrize("key", ["first-test-key", "second-test-key"])
def test_the_default_session_sees_this_tests_keys(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert boto3.DEFAULT_SESSION is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    boto3.client("sts", region_name="us-east-1")  # creates the default session
    assert boto3.DEFAULT_SESSION is not None
    credentials = boto3.DEFAULT_SESSION.get_credentials()
    assert credentials is not None and credentials.access_key == key
