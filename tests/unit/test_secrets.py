"""The Secret type and secret references: nothing ever prints a value."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.errors import SecretError
from offhours.logs import RedactingFilter, scrub
from offhours.secrets import Resolver, Secret, SecretRef, SecretSettings, redact_url

HOOK = "https://hooks.slack.com/services/T00000000/B00000000/" + "X" * 20 + "abcd"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (HOOK, "hooks.slack.com/…/••••abcd"),
        ("hooks.slack.com/services/T00000000/B00000000/XXXXXXXXwxyz", "hooks.slack.com/…/••••wxyz"),
        ("http://127.0.0.1:8080/services/T0/B0/tokentoken1234", "127.0.0.1:8080/…/••••1234"),
        ("a-long-password-of-some-length", "••••ngth"),
        ("short-pass", "••••"),
    ],
)
def test_secret_shows_at_most_host_and_last_four(value: str, shown: str) -> None:
    secret = Secret(value, label="sources[0].password")
    assert str(secret) == shown
    assert f"{secret}" == shown
    assert f"{secret:>40}".strip() == shown
    assert repr(secret) == f"Secret('sources[0].password', {shown!r})"
    assert secret.reveal() == value


def test_secret_refuses_serialisation() -> None:
    secret = Secret("sentinel-" + "serialise-me")
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        copy.deepcopy(secret)


@given(st.text(min_size=5, max_size=200))
def test_no_rendering_contains_the_value(value: str) -> None:
    secret = Secret(value, label="sources[0].password")
    shown = str(secret)
    assert value not in shown
    assert format(secret) == f"{secret!s}" == shown
    # repr adds only the label and the same redacted text.
    assert repr(secret) == f"Secret('sources[0].password', {shown!r})"


def test_redact_url_without_scheme() -> None:
    assert redact_url("hooks.slack.com/services/T0/B0/abcdefghijklmnop") == (
        "hooks.slack.com/…/••••mnop"
    )


def test_log_filter_scrubs_resolved_values_a_library_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("http://127.0.0.1:9/services/T0/B0/" + "librarylogged12")
    logger = logging.getLogger("some.library")
    record = logger.makeRecord(
        "some.library", logging.DEBUG, "f", 1, "POST %s", (secret.reveal(),), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "POST 127.0.0.1:9/…/••••ed12"
    assert scrub(f"url={secret.reveal()}") == "url=127.0.0.1:9/…/••••ed12"


@pytest.mark.parametrize(
    ("text", "scheme", "shown"),
    [
        ("env:RAVELLO_PASSWORD", "env", "env:RAVELLO_PASSWORD"),
        ("file:~/.config/offhours/pw", "file", "file:~/.config/offhours/pw"),
        ("kms:AQICAHhNSZNrOg1IZ0wkoZle+c+FHFCa", "kms", "kms:<ciphertext, 32 chars>"),
        ("ssm:/offhours/ravello/password", "ssm", "ssm:/offhours/ravello/password"),
        (
            "secretsmanager:offhours/slack#url",
            "secretsmanager",
            "secretsmanager:offhours/slack#url",
        ),
    ],
)
def test_reference_kinds_and_how_they_are_shown(text: str, scheme: str, shown: str) -> None:
    ref = SecretRef.parse(text, "sources[0].password")
    assert ref.scheme == scheme
    assert str(ref) == shown
    assert repr(ref) == f"SecretRef('sources[0].password', {shown!r})"


@pytest.mark.parametrize("text", ["hunter2", "kms:", "vault:x/y", "", "https://hooks.slack.com/x"])
def test_a_literal_is_refused_with_advice(text: str) -> None:
    with pytest.raises(ValueError, match="takes a secret reference, not a value") as info:
        SecretRef.parse(text, "x")
    assert "allow_plaintext_secrets" in str(info.value)


def test_a_literal_is_let_through_only_when_allowed() -> None:
    ref = SecretRef.parse("sentinel-" + "inline-value", "sources[0].password", allow_plaintext=True)
    assert str(ref) == repr(ref).split(", ")[1][1:-2] == "an inline value"
    assert Resolver().resolve(ref).reveal() == "sentinel-inline-value"


def test_env_and_file_resolution(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-a-file\n")
    resolver = Resolver(environ={"PW": "from-the-env"})
    assert resolver.resolve(SecretRef.parse("env:PW", "a")).reveal() == "from-the-env"
    assert resolver.resolve(SecretRef.parse(f"file:{tmp_path}/pw", "b")).reveal() == "from-a-file"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("env:NOPE", {}, "sources[0].password: env:NOPE: environment variable NOPE is not set"),
        ("env:EMPTY", {"EMPTY": ""}, "sources[0].password: env:EMPTY: the secret is empty"),
        ("file:/nonexistent/pw", {}, "file:/nonexistent/pw: cannot read the file (No such file"),
    ],
)
def test_resolution_errors_name_the_key_and_cause(
    text: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SecretError) as info:
        Resolver(environ=environ).resolve(SecretRef.parse(text, "sources[0].password"))
    assert message in str(info.value)


def test_kms_context_reads_dollar_names_from_the_environment() -> None:
    settings = SecretSettings(
        kms_context={"LambdaFunctionName": "$AWS_LAMBDA_FUNCTION_NAME", "app": "offhours"}
    )
    resolver = Resolver(settings, {"AWS_LAMBDA_FUNCTION_NAME": "offhours-audit"})
    assert resolver.kms_context() == {"LambdaFunctionName": "offhours-audit", "app": "offhours"}
    with pytest.raises(SecretError, match=r"secrets.kms.context.LambdaFunctionName"):
        Resolver(settings, {}).kms_context()
