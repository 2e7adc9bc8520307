"""Bad inputs to `offhours deploy …`, end to end: each row an argv (in a project with a valid
offhours.toml and a few files), the exit code and a fragment of the one error line."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.aws import Aws
from tests.e2e.test_cli_deploy import CONFIG, FN, SECRETS, CliRun

pytestmark = pytest.mark.cli_in_process


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), "")
    return buffer.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    (tmp_path / "notes.txt").write_text("not a zip\n")
    (tmp_path / "other.zip").write_bytes(zipped("app/main.py", "offhours/__init__.py"))
    (tmp_path / "ok.zip").write_bytes(zipped("offhours/__init__.py", "offhours/lambda_handler.py"))
    return tmp_path


ROWS = [
    # --package is checked before anything reaches AWS.
    (["plan", "--package", "notes.txt"], 2, "--package notes.txt: not a zip file"),
    (
        ["apply", "--package", "other.zip"],
        2,
        "--package other.zip: the zip has no offhours/lambda_handler.py, the handler Lambda runs",
    ),
    (["plan", "--package", "missing.zip"], 2, "--package missing.zip: cannot read"),
    # With --detailed-exitcode, 2 means "changes": every error is 1, as terraform's.
    (["plan", "--package", "notes.txt", "--detailed-exitcode"], 1, "not a zip file"),
    # No AWS credentials here (the tests reach no AWS): plan did nothing, and says so.
    (["plan", "--package", "ok.zip"], 1, "Could not plan: no AWS credentials found"),
    (["plan", "--package", "ok.zip", "--detailed-exitcode"], 1, "Could not plan: "),
    # destroy asks first; without a terminal it says how not to be asked.
    (["destroy"], 2, "destroy needs --yes when there is no terminal to confirm on: pass --yes"),
    (["export", "--format", "yaml"], 2, "choose sam or terraform"),
    (["import-lambda-json", "missing.json"], 2, "missing.json: no such file"),
]


@pytest.mark.parametrize(("argv", "code", "message"), ROWS, ids=[" ".join(r[0]) for r in ROWS])
def test_bad_input(cli: CliRun, files: Path, argv: list[str], code: int, message: str) -> None:
    run = cli("deploy", *argv, env=SECRETS)
    assert run.code == code, run.stderr
    assert run.stderr.startswith("offhours: error: ")
    assert message in run.stderr
    assert "Done before the failure" not in run.stderr  # nothing was done
    assert "Traceback" not in run.stderr


def test_a_role_of_another_account_keeps_aws_words_and_adds_the_fix(
    cli: CliRun, files: Path, aws: Aws
) -> None:
    """Lambda refuses to be given a role of another account (moto as AWS: "Cross-account pass
    role is not allowed."): the operation, the resource, AWS's code and message stay, and the
    hint follows them."""
    role = "arn:aws:iam::999999999999:role/lambda_ravello"
    config = CONFIG.replace("[deploy]\n", f'[deploy]\nrole_arn = "{role}"\n')
    (files / "offhours.toml").write_text(config)
    run = cli("deploy", "apply", "--package", "ok.zip", env=SECRETS)
    assert run.code == 1, run.stderr
    # (In this process, moto's server logs its requests to the same stderr.)
    first = next(line for line in run.stderr.splitlines() if line.startswith("offhours: error"))
    assert first.startswith(
        f"offhours: error: CreateFunction on lambda function {FN}: AccessDeniedException: "
        "Cross-account pass role is not allowed. — [deploy] role_arn is a role of account "
        "999999999999, but the function is deployed in account 123456789012"
    )
    assert "Leave role_arn out" in first
    assert f"Done before the failure: created kms key alias/offhours/{FN}" in run.stderr
    assert "run `offhours deploy apply` again" in run.stderr
