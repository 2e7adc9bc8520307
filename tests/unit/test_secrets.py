"""The Secret type and secret references: nothing ever prints a value."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import os
import pickle
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.config import load_config
from offhours.errors import SecretError
from offhours.logs import BODY_LOGGERS, RedactingFilter, configure, scrub
from offhours.secrets import (
    Resolver,
    Secret,
    SecretRef,
    SecretSettings,
    derived_forms,
    redact_url,
)

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


@given(st.text(min_size=5, max_size=200).map(lambda text: "\x00" + text))
def test_no_rendering_contains_the_value(value: str) -> None:
    # The NUL keeps each value apart from ordinary text: a Secret is remembered for the rest of
    # the process (so logs are scrubbed of it), and hypothesis also draws strings from the
    # project's own constants ("offhours-audit"), which other tests print legitimately.
    secret = Secret(value, label="sources[0].password")
    shown = str(secret)
    assert value not in shown
    assert format(secret) == f"{secret!s}" == shown
    # repr adds only the label and the same redacted text.
    assert repr(secret) == f"Secret('sources[0].password', {shown!r})"


def test_redact_url_without_scheme() -> None:
    assert redact_url("hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXmnop") == (
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


# ------------------------------------------------------------ derived forms and scrubbing

DERIVED = 'sentinel-derived-Pw+/?~"é\\x 42'


def _b64_at(offset: int, value: str, urlsafe: bool = False) -> str:
    """``value`` base64-encoded inside a longer buffer, starting ``offset`` bytes in."""
    data = b"x" * offset + value.encode() + b" tail"
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(data).decode()


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("stripped", DERIVED.strip()),
        ("base64", base64.b64encode(DERIVED.encode()).decode()),
        ("base64 unpadded", base64.b64encode(DERIVED.encode()).decode().rstrip("=")),
        ("urlsafe base64", base64.urlsafe_b64encode(DERIVED.encode()).decode()),
        ("base64 at offset 1", _b64_at(1, DERIVED)),
        ("base64 at offset 2", _b64_at(2, DERIVED)),
        ("urlsafe base64 at offset 2", _b64_at(2, DERIVED, urlsafe=True)),
        ("JSON-escaped", json.dumps(DERIVED)[1:-1]),
        ("JSON-escaped, not ASCII", json.dumps(DERIVED, ensure_ascii=False)[1:-1]),
        ("URL-encoded", quote(DERIVED, safe="")),
        ("form-encoded", quote_plus(DERIVED)),
    ],
)
def test_scrub_removes_derived_forms(name: str, form: str) -> None:
    Secret("  " + DERIVED + "\n")  # as a resolver that forgot to strip would make it
    cleaned = scrub(f"body: {form} end")
    assert cleaned.startswith("body: ") and cleaned.endswith(" end")
    # What is left of a base64 form is at most the partial groups at its two ends.
    assert not any(f in cleaned for f in derived_forms(DERIVED)), name
    assert "••••" in cleaned


@given(
    prefix=st.binary(max_size=7),
    suffix=st.binary(max_size=7),
    value=st.text(min_size=12, max_size=60).filter(lambda v: v == v.strip()),
    urlsafe=st.booleans(),
)
def test_a_secret_inside_any_base64_buffer_is_found(
    prefix: bytes, suffix: bytes, value: str, urlsafe: bool
) -> None:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(prefix + value.encode() + suffix).decode()
    forms = derived_forms(value)
    # Whatever surrounds it, one of the three alignments' cores lies inside the encoding.
    assert any(form in blob for form in forms)


def test_derived_forms_skip_short_and_identical_forms() -> None:
    assert "abcd" not in derived_forms("abcd")
    forms = derived_forms("plain-value-123")
    assert "plain-value-123" not in forms  # the value itself is the scrubber's own case
    assert all(len(f) >= 8 for f in forms)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("proxy user:pw@proxy:3128 set", "proxy ••••@proxy:3128 set"),
        ("http://user:pw@proxy:3128", "http://••••@proxy:3128"),
        (
            "https_proxy=alice:s3cr%40t@proxy.corp.example:8080/",
            "https_proxy=••••@proxy.corp.example:8080/",
        ),
        ("Proxy: socks5h://u:p@10.0.0.1:1080", "Proxy: socks5h://••••@10.0.0.1:1080"),
        ("{'https': 'user:pw@[::1]:3128'}", "{'https': '••••@[::1]:3128'}"),
        ("owner ada@example.com", "owner ada@example.com"),  # an address has no password
        ("at 12:30 utc", "at 12:30 utc"),
        ("ssh git@github.com:org/repo", "ssh git@github.com:org/repo"),
    ],
)
def test_scrub_removes_proxy_credentials(text: str, shown: str) -> None:
    assert scrub(text) == shown


# ------------------------------------------------------------ body-bearing library loggers


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, level, "f", 1, message, (), None)


@pytest.mark.parametrize(
    ("name", "level", "kept"),
    [
        ("botocore.parsers", logging.DEBUG, False),
        ("botocore.endpoint", logging.DEBUG, False),
        ("botocore.auth", logging.DEBUG, False),
        ("botocore.hooks", logging.DEBUG, False),
        ("boto3.resources.action", logging.DEBUG, False),
        ("botocore.parsers", logging.WARNING, True),
        ("botocore.credentials", logging.DEBUG, True),
        ("botocore.retries.standard", logging.DEBUG, True),
        ("urllib3.connectionpool", logging.DEBUG, True),
        ("botocore.parsersx", logging.DEBUG, True),  # a prefix is not a parent
    ],
)
def test_filter_drops_debug_records_of_body_loggers(name: str, level: int, kept: bool) -> None:
    record = _record(name, level, 'Response body: b\'{"Value": "x"}\'')
    assert RedactingFilter().filter(record) is kept


@pytest.mark.parametrize(
    ("verbosity", "offhours_level", "library_level"),
    [
        (-5, logging.WARNING, logging.ERROR),
        (0, logging.WARNING, logging.ERROR),
        (2, logging.DEBUG, logging.WARNING),
        (3, logging.DEBUG, logging.DEBUG),
        (99, logging.DEBUG, logging.DEBUG),
    ],
)
def test_configure_clamps_verbosity_and_holds_body_loggers_at_info(
    verbosity: int, offhours_level: int, library_level: int
) -> None:
    configure(verbosity, stream=io.StringIO())
    assert logging.getLogger().level == offhours_level
    assert logging.getLogger("botocore").level == library_level
    for name in BODY_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO


# ------------------------------------------------------------ resolution: strip, file: rules


def test_every_value_is_stripped_at_resolution(tmp_path: Path) -> None:
    resolver = Resolver(environ={"HOOK": " https://hooks.example/T0/B0/strip-me-please \n"})
    value = resolver.resolve(SecretRef.parse("env:HOOK", "notifiers[0].webhook_url")).reveal()
    assert value == "https://hooks.example/T0/B0/strip-me-please"
    inline = SecretRef.parse("inline-value-1234\t", "x", allow_plaintext=True)
    assert Resolver().resolve(inline).reveal() == "inline-value-1234"
    with pytest.raises(SecretError, match="the secret is empty"):
        Resolver(environ={"BLANK": " \n"}).resolve(SecretRef.parse("env:BLANK", "x"))


def _secret_file(tmp_path: Path, mode: int, name: str = "pw") -> Path:
    path = tmp_path / name
    path.write_text("sentinel-file-secret-0x1\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("mode", "warning"),
    [
        (0o600, None),
        (0o400, None),
        (0o640, "readable by its group (mode 640)"),
        (0o604, "readable by everyone (mode 604)"),
        (0o644, "readable by its group and everyone (mode 644)"),
    ],
)
def test_file_secret_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, warning: str | None
) -> None:
    path = _secret_file(tmp_path, mode)
    caplog.set_level(logging.WARNING, "offhours")
    ref = SecretRef.parse(f"file:{path}", "sources[0].password")
    assert Resolver().resolve(ref).reveal() == "sentinel-file-secret-0x1"
    messages = [r.getMessage() for r in caplog.records]
    if warning is None:
        assert messages == []
    else:
        assert len(messages) == 1
        assert messages[0].startswith(f"sources[0].password: the secret file {path} is {warning}")
        assert f"chmod 600 {path}" in messages[0]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_file_secret_owned_by_another_user_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _secret_file(tmp_path, 0o600)
    os.chown(path, 65534, -1)
    caplog.set_level(logging.WARNING, "offhours")
    Resolver().resolve(SecretRef.parse(f"file:{path}", "notifiers[0].webhook_url"))
    [message] = [r.getMessage() for r in caplog.records]
    assert "notifiers[0].webhook_url: " in message
    assert "owned by another user (uid 65534)" in message


def test_relative_file_secret_is_read_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    _secret_file(conf, 0o600, "ravello.pw")
    (conf / "offhours.toml").write_text(
        '[[sources]]\ntype = "ravello"\nusername = "env:U"\npassword = "file:ravello.pw"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _secret_file(elsewhere, 0o600, "ravello.pw").write_text("the-wrong-file-value\n")
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("../conf/offhours.toml"))
    [ref] = [ref for _, _, ref in config.secret_refs() if ref.scheme == "file"]
    resolver = Resolver(config.secret_settings(), {})
    assert resolver.resolve(ref).reveal() == "sentinel-file-secret-0x1"


def test_home_still_expands_in_file_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _secret_file(tmp_path, 0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = SecretSettings(config_dir=tmp_path / "not-here")
    ref = SecretRef.parse("file:~/pw", "x")
    assert Resolver(settings, {}).resolve(ref).reveal() == "sentinel-file-secret-0x1"


def test_missing_relative_file_names_the_path_looked_at(tmp_path: Path) -> None:
    settings = SecretSettings(config_dir=tmp_path)
    with pytest.raises(SecretError) as info:
        Resolver(settings, {}).resolve(SecretRef.parse("file:nope.pw", "sources[0].password"))
    assert f"cannot read the file (No such file or directory): {tmp_path / 'nope.pw'}" in str(
        info.value
    )


# ---------------------------------------------------------------- secrets of any shape

# Shapes urlsplit refuses or half-reads: a bracketed "host" that is not an IPv6 address, an
# unbalanced bracket, a port that is not a number or is out of range.
ODD_SHAPES = [
    "https://[xoxb-0000000000-XXXXXXXXXX]/services/T0/B0/",
    "https://[::1/services/T0/B0/",
    "https://hooks.slack.com:abc/services/T0/B0/",
    "https://hooks.slack.com:99999/services/T0/B0/",
    "hooks.slack.com:port/services/T0/B0/",
    "https://user@[v1.x]/p/",
]

_PREFIXES = st.sampled_from(["", "https://", "https://[", "http://h.co:", "hooks.", "x://a@b/"])


def _odd_secret(prefix: str, middle: str, suffix: str) -> str:
    # The NUL keeps a drawn value apart from ordinary text (see above); it sits inside, so the
    # URL shapes before it stay as they are.
    return f"{prefix}{middle}\x00{suffix}"


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_redacting_a_secret_of_an_odd_shape_never_raises(shape: str) -> None:
    value = shape + "odd-shape-tail-" + str(ODD_SHAPES.index(shape)) + "wxyz"
    secret = Secret(value)
    for shown in (secret.redacted(), str(secret), repr(secret), f"{secret}", redact_url(value)):
        assert value not in shown
    assert secret.redacted().endswith("••••wxyz")
    assert "xoxb" not in secret.redacted() and "abc" not in secret.redacted()


@given(st.text(max_size=80))
def test_redacted_shows_at_most_a_host_and_the_last_four(text: str) -> None:
    # Any string, URL-like or not: never raises; the whole value is never shown once it is 8
    # characters or more; what is shown is a host (DNS name, IP address or localhost, with a
    # port), the mask and at most the last four characters of a value of 16 or more.
    for value in (text, f"https://{text}", f"hooks.{text}", f"https://[{text}]/{text}"):
        shown = redact_url(value)
        if len(value) >= 8:
            assert value not in shown
        host, sep, tail = shown.rpartition("/…/")
        assert tail in ("••••", "••••" + value[-4:] if len(value) >= 16 else "••••")
        if sep:
            assert re.fullmatch(r"([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d+)?", host), shown
            name = host.rsplit(":", 1)[0] if host[:1] != "[" else ""  # IPv6: shown compressed
            # urllib drops tabs and line breaks from a URL before splitting it (as WHATWG does)
            assert name in value.lower().translate({9: None, 10: None, 13: None})


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            "https://hooks.slack.com:abc/services/T0/B0/abcdefghijklmnop",
            "hooks.slack.com/…/••••mnop",
        ),
        (
            "https://hooks.slack.com:99999/services/T0/B0/abcdefghijklmnop",
            "hooks.slack.com/…/••••mnop",
        ),
        ("https://[::1]:8080/services/T0/B0/abcdefghijklmnop", "[::1]:8080/…/••••mnop"),
        # A token where the host goes is not a host: only the tail.
        ("https://xoxb-0000000000-XXXXXXXX/tail", "••••tail"),
        ("https://[xoxb-0000000000-XXXXXXXX]/tail", "••••tail"),
        # The host form would spell out the whole value.
        ("hooks.abcdefghijklmn", "••••klmn"),
        ("hooks.a/…", "••••"),
    ],
)
def test_redact_url_of_odd_values(value: str, shown: str) -> None:
    assert redact_url(value) == shown


@pytest.mark.parametrize("shape", ODD_SHAPES)
def test_a_log_record_holding_an_odd_secret_is_scrubbed_not_raised(shape: str) -> None:
    value = shape + "odd-log-tail-" + str(ODD_SHAPES.index(shape)) + "wxyz"
    Secret(value)
    stream = io.StringIO()
    configure(1, stream=stream)
    try:
        logging.getLogger("some.library").warning("POST %s", value)
    finally:
        configure(0)
    assert value not in stream.getvalue()
    assert "odd-log-tail" not in stream.getvalue()
    assert "POST " in stream.getvalue()


@given(_PREFIXES, st.text(max_size=40), st.text(max_size=40))
def test_scrub_never_raises_and_never_shows_a_secret(prefix: str, middle: str, suffix: str) -> None:
    value = _odd_secret(prefix, middle, suffix)
    Secret(value)
    clean = scrub(f"before {value} after")
    if len(value) >= 8:
        assert value not in clean
