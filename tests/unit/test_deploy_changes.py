"""What deploy says (pure): the field-level differences of a change, the closing line, AWS
errors told with AWS's words, the --package check and the build cache's entries."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from hypothesis import given
from hypothesis import strategies as st

from offhours.deploy.aws_error import Where, explain_aws_error
from offhours.deploy.changes import (
    Change,
    config_diffs,
    document_diff,
    environment_diff,
    field_diffs,
    statement_diffs,
    summary,
    tag_diff,
    tag_line,
)
from offhours.deploy.package import PackageResult, check_package
from offhours.errors import ConfigError

# ---------------------------------------------------------------- the closing line


def changes(**counts: int) -> list[Change]:
    return [Change("k", f"{a}{i}", a) for a, n in counts.items() for i in range(n)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "mode", "line"),
    [
        ({"create": 11}, "plan", "11 to create."),
        ({"create": 8, "unchanged": 3}, "apply", "8 created, 3 unchanged."),
        (
            {"update": 1, "delete": 1, "unchanged": 2},
            "plan",
            "1 to update, 1 to delete, 2 unchanged.",
        ),
        ({"update": 2}, "apply", "2 updated."),
        ({"unchanged": 4}, "plan", "no changes."),
        ({}, "apply", "no changes."),
        ({"delete": 7, "unchanged": 1}, "preview", "7 to delete, 1 kept."),
        ({"delete": 7, "unchanged": 1}, "destroy", "7 deleted, 1 kept."),
        ({"unchanged": 1}, "destroy", "nothing to destroy."),
        ({}, "preview", "nothing to destroy."),
    ],
)
def test_the_closing_line(counts: dict[str, int], mode: Any, line: str) -> None:
    assert summary(changes(**counts), mode) == line


def test_what_stays_reads_keep_in_destroy() -> None:
    kept = Change("state table", "fn-state", "unchanged", ("kept: holds incident history",))
    assert (
        kept.shown("keep") == "= keep      state table fn-state\n      kept: holds incident history"
    )
    assert str(kept).startswith("= unchanged state table fn-state")


# ---------------------------------------------------------------- field-level differences


def statement(sid: str, action: str, resource: str = "*", **more: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource, **more}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("current", "desired", "lines"),
    [
        (
            policy(),
            policy(statement("Read", "ec2:DescribeInstances")),
            ["statement Read added: ec2:DescribeInstances on *"],
        ),
        (
            policy(statement("Q", "sqs:SendMessage", "arn:q")),
            policy(),
            ["statement Q removed: sqs:SendMessage on arn:q"],
        ),
        (
            policy(statement("S", "dynamodb:GetItem", "arn:t")),
            policy(statement("S", ["dynamodb:GetItem", "dynamodb:Scan"], "arn:t")),
            ["statement S changed: Action"],
        ),
        (
            policy(statement("K", "kms:Decrypt")),
            policy(statement("K", "kms:Decrypt", Condition={"StringEquals": {"a": "b"}})),
            ["statement K changed: Condition"],
        ),
        # Without a Sid, a statement is named by its place.
        (
            None,
            policy({"Effect": "Deny", "Action": ["s3:*"], "Resource": ["a", "b"]}),
            ["statement #1 added: deny s3:* on a, b"],
        ),
        (
            policy(statement("Same", "logs:PutLogEvents")),
            policy(statement("Same", "logs:PutLogEvents")),
            [],
        ),
    ],
)
def test_policy_statements_by_sid(current: Any, desired: Any, lines: list[str]) -> None:
    assert statement_diffs(current, desired) == lines


@given(
    st.lists(st.sampled_from("ABCDE"), unique=True), st.lists(st.sampled_from("ABCDE"), unique=True)
)
def test_every_added_and_removed_sid_is_named_once(old: list[str], new: list[str]) -> None:
    lines = statement_diffs(
        policy(*(statement(s, "a:b") for s in old)), policy(*(statement(s, "a:b") for s in new))
    )
    assert sorted(lines) == sorted(
        [f"statement {s} added: a:b on *" for s in new if s not in old]
        + [f"statement {s} removed: a:b on *" for s in old if s not in new]
    )


@pytest.mark.parametrize(
    ("current", "desired", "lines"),
    [
        ({"MemorySize": 128}, {"MemorySize": 256}, ["memory 128 MB → 256 MB"]),
        ({"Timeout": 60}, {"Timeout": 300}, ["timeout 60 s → 300 s"]),
        ({"Runtime": "python3.11"}, {"Runtime": "python3.12"}, ["runtime python3.11 → python3.12"]),
        ({}, {"KMSKeyArn": "arn:k"}, ["KMS key (none) → arn:k"]),
        ({"Description": "a"}, {"Description": "b"}, ["description changed"]),
        ({}, {"TracingConfig": {"Mode": "Active"}}, ["tracing PassThrough → Active"]),
        (
            {"VpcConfig": {"SubnetIds": ["s-1"], "SecurityGroupIds": ["g-1"]}},
            {"VpcConfig": {"SubnetIds": ["s-2", "s-1"], "SecurityGroupIds": ["g-1"]}},
            ["vpc subnets: s-1 → s-1, s-2"],
        ),
        ({"MemorySize": 128, "Timeout": 60}, {"MemorySize": 128, "Timeout": 60}, []),
    ],
)
def test_function_settings_old_to_new(
    current: dict[str, Any], desired: dict[str, Any], lines: list[str]
) -> None:
    assert config_diffs(current, desired) == lines


def test_environment_names_only_never_values() -> None:
    secret_ish = "xoxb-00000000-XXXXXXXX"
    current = {"KEEP": "1", "OLD": secret_ish, "CHANGED": "a", "OFFHOURS_CONFIG_SSM": "/p:1"}
    desired = {"KEEP": "1", "NEW": secret_ish, "CHANGED": "b", "OFFHOURS_CONFIG_SSM": "/p:2"}
    lines = environment_diff(current, desired, shown="OFFHOURS_CONFIG_SSM")
    assert lines == [
        "environment: NEW added, CHANGED changed, OFFHOURS_CONFIG_SSM changed, OLD removed",
        "configuration /p:1 → /p:2",
    ]
    assert secret_ish not in "\n".join(lines)
    assert environment_diff(current, current) == []


def test_schedule_fields_old_to_new() -> None:
    names = {"ScheduleExpression": "schedule", "Description": "description", "Target": "target"}
    current = {
        "ScheduleExpression": "cron(0 19 * * ? *)",
        "Description": "x",
        "Target": {"Arn": "a", "Extra": 1},
    }
    desired = {
        "ScheduleExpression": "cron(0 20 * * ? *)",
        "Description": "y",
        "Target": {"Arn": "a"},
    }
    assert field_diffs(current, desired, names) == [
        "schedule cron(0 19 * * ? *) → cron(0 20 * * ? *)",
        "description changed",  # extra keys AWS adds to the target are not a change
    ]


@pytest.mark.parametrize(
    ("current", "desired", "written", "line"),
    [
        ({"team": "platform"}, {"team": "ops"}, {"team": "ops"}, "tags: team platform → ops"),
        ({}, {"owner": "alice"}, {"owner": "alice"}, "tags: owner added (alice)"),
        ({"team": "ops", "set-by": "others"}, {"team": "ops"}, {}, None),
    ],
)
def test_tags_added_or_changed_others_kept(
    current: dict[str, str], desired: dict[str, str], written: dict[str, str], line: str | None
) -> None:
    assert tag_diff(current, desired) == written
    if line is not None:
        assert tag_line(current, written) == line


# ---------------------------------------------------------------- AWS errors


def client_error(
    code: str, message: str, operation: str = "CreateFunction", status: int = 400
) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


FN = Where("lambda function offhours", "123456789012")
ROLE_ELSEWHERE = Where(
    "lambda function offhours", "123456789012", "arn:aws:iam::999999999999:role/r"
)
ROLE_HERE = Where("lambda function offhours", "123456789012", "arn:aws:iam::123456789012:role/r")


@pytest.mark.parametrize(
    ("error", "where", "said"),
    [
        (
            client_error("AccessDeniedException", "Cross-account pass role is not allowed."),
            ROLE_ELSEWHERE,
            "CreateFunction on lambda function offhours: AccessDeniedException: Cross-account "
            "pass role is not allowed. — [deploy] role_arn is a role of account 999999999999, "
            "but the function is deployed in account 123456789012",
        ),
        (
            client_error(
                "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
                "iam:PassRole on resource: arn:aws:iam::123456789012:role/r",
            ),
            ROLE_HERE,
            "is not authorized to perform: iam:PassRole on resource: "
            "arn:aws:iam::123456789012:role/r — the identity that deploys needs iam:PassRole",
        ),
        (
            client_error(
                "AccessDenied", "not authorized to perform: iam:CreateRole", "CreateRole", 403
            ),
            Where("iam role offhours-role"),
            "CreateRole on iam role offhours-role: AccessDenied: not authorized to perform: "
            "iam:CreateRole — the identity that deploys is not allowed this call",
        ),
        # A 403 whose body botocore could not read is still a refusal.
        (
            client_error("", "", "GetRole", 403),
            Where("iam role r"),
            "GetRole on iam role r: AccessDenied — the identity",
        ),
        (
            client_error("ThrottlingException", "Rate exceeded", "GetParameter"),
            FN,
            "Rate exceeded — AWS throttled",
        ),
        (
            client_error(
                "ExpiredTokenException", "The security token included in the request is expired"
            ),
            FN,
            "refresh them",
        ),
        # No hint known: AWS's words alone.
        (
            client_error("InvalidParameterValueException", "Unzipped size must be smaller"),
            FN,
            "CreateFunction on lambda function offhours: InvalidParameterValueException: "
            "Unzipped size must be smaller",
        ),
        # Before any resource (the account lookup): no "on …".
        (
            client_error("InvalidClientTokenId", "bad", "GetCallerIdentity"),
            Where(""),
            "GetCallerIdentity: InvalidClientTokenId: bad — ",
        ),
        (NoCredentialsError(), Where(""), "no AWS credentials found"),
    ],
)
def test_aws_errors_keep_the_operation_and_aws_words(error: Any, where: Where, said: str) -> None:
    text = explain_aws_error(error, where)
    assert said in text
    assert text.count(" — ") <= 1


def test_aws_message_is_cleaned_and_cut() -> None:
    hostile = "bad\x1b[31m\u202e" + "x" * 2000
    text = explain_aws_error(client_error("ValidationException", hostile), FN)
    assert "\x1b" not in text and "\u202e" not in text
    assert len(text) < 700 and text.endswith("…")


def test_a_resolved_secret_in_aws_message_is_scrubbed() -> None:
    from offhours.secrets import Secret

    value = "sentinel-deploy-aws-error-5521"
    Secret(value)  # resolved in this process: the scrubber knows it
    text = explain_aws_error(client_error("ValidationException", f"value {value} too long"), FN)
    assert value not in text


# ---------------------------------------------------------------- --package


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(name, "")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (b"not a zip", "--package x: not a zip file"),
        (b"", "--package x: not a zip file"),
        (zipped("lambda_handler.py"), "--package x: the zip has no offhours/lambda_handler.py"),
        (zipped("offhours/lambda_handler.py", "offhours/__init__.py"), None),
    ],
)
def test_the_package_must_be_a_zip_holding_the_handler(code: bytes, error: str | None) -> None:
    if error is None:
        check_package(code, "--package x")
        return
    with pytest.raises(ConfigError, match="^" + error.replace(".", r"\.")) as info:
        check_package(code, "--package x")
    assert "offhours deploy package" in str(info.value)


# ---------------------------------------------------------------- the build cache


def test_hex_is_sha256sum_and_base64_is_code_sha256() -> None:
    blob = b"zip bytes"
    result = PackageResult(
        Path("x.zip"), len(blob), base64.b64encode(hashlib.sha256(blob).digest()).decode(), 1
    )
    assert result.sha256_hex == hashlib.sha256(blob).hexdigest()


def entry(directory: Path, name: str, blob: bytes, *, recorded: bytes | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.zip").write_bytes(blob)
    digest = base64.b64encode(hashlib.sha256(recorded or blob).digest()).decode()
    record = {
        "size": len(blob),
        "sha256": digest,
        "files": 1,
        "distributions": [],
        "bytecode": "",
        "notes": [],
    }
    path = directory / f"{name}.json"
    path.write_text(json.dumps(record))
    return path


def test_a_cached_build_is_used_only_with_its_recorded_hash(tmp_path: Path) -> None:
    from offhours.deploy.package_cache import _read

    good = _read(entry(tmp_path, "good", b"zip"))
    assert good is not None and good.path == tmp_path / "good.zip"
    assert _read(entry(tmp_path, "damaged", b"zip", recorded=b"other")) is None
    assert _read(tmp_path / "absent.json") is None
    (tmp_path / "torn.json").write_text("{")
    assert _read(tmp_path / "torn.json") is None


def test_the_cache_keeps_the_newest_builds(tmp_path: Path) -> None:
    import os

    from offhours.deploy.package_cache import KEEP, _prune

    for age in range(KEEP + 2):
        record = entry(tmp_path, f"e{age}", b"z")
        os.utime(record, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))  # e0 newest
    _prune(tmp_path)
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == [f"e{i}" for i in range(KEEP)]
    assert sorted(p.stem for p in tmp_path.glob("*.zip")) == [f"e{i}" for i in range(KEEP)]


def test_an_equal_build_is_copied_from_the_cache_without_building(tmp_path: Path) -> None:
    """A hit needs no pip: the key is found from the build's inputs alone."""
    from offhours.deploy.package import build_inputs
    from offhours.deploy.package_cache import cache_key, cached_package

    inputs = build_inputs(runtime="python3.12", architecture="arm64", holiday_countries=["DE"])
    entry(tmp_path / "cache", cache_key(inputs), b"the zip")

    def building() -> None:  # what is called just before a build
        raise AssertionError("built although an equal build was cached")

    result, reused = cached_package(
        tmp_path / "out.zip", runtime="python3.12", architecture="arm64",
        holiday_countries=["DE"], directory=tmp_path / "cache", building=building,
    )  # fmt: skip
    assert reused
    assert (tmp_path / "out.zip").read_bytes() == b"the zip"
    assert result.path == tmp_path / "out.zip"
    # Another calendar is another build.
    with pytest.raises(AssertionError, match="built although"):
        cached_package(
            tmp_path / "out.zip", runtime="python3.12", architecture="arm64",
            holiday_countries=["FR"], directory=tmp_path / "cache", building=building,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("current", "desired", "places"),
    [
        ({"sources": [{"a": 1}, {"b": 2}]}, {"sources": [{"a": 1}]}, ["sources[1] removed"]),
        (
            {"sources": [{"a": 1}]},
            {"sources": [{"a": 2}, {"c": 3}]},
            ["sources[0]", "sources[1] added"],
        ),
        ({"hours": {"start": "08:00"}}, {"hours": {"start": "09:00"}}, ["hours"]),
        ({}, {"memory": {"store": "off"}}, ["memory added"]),
        ({"memory": {}}, {}, ["memory removed"]),
        ({"hours": {"x": 1}, "notifiers": []}, {"hours": {"x": 1}, "notifiers": []}, []),
    ],
)
def test_a_configuration_change_says_where_never_what(
    current: dict[str, Any], desired: dict[str, Any], places: list[str]
) -> None:
    assert document_diff(current, desired) == places
