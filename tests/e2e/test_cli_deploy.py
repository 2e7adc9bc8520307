"""`offhours deploy …` and `offhours schedule` end to end: the CLI against moto (server mode)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.aws import Aws
from tests.conftest import Run
from tests.terminal import on_a_terminal

CliRun = Callable[..., Run]
ROOT = Path(__file__).resolve().parents[2]
FN = "offhours-e2e"

CONFIG = f"""
[hours]
timezone = "Europe/Berlin"
start = "08:00"
end = "18:00"

[deploy]
function_name = "{FN}"
region = "us-east-1"
schedule = "cron(0 19 ? * MON-FRI *)"

[[sources]]
type = "ravello"
username = "env:E_USER"
password = "env:E_PASSWORD"

[[notifiers]]
type = "slack"
webhook_url = "env:E_HOOK"
"""
SECRETS = {
    "E_USER": "e2e-user",
    "E_PASSWORD": "sentinel-e2e-password-4410",
    "E_HOOK": "https://hooks.slack.com/services/T00000000/B00000000/sentinel-e2e-hook",
}


@pytest.fixture
def project(tmp_path: Path, aws: Aws) -> Path:
    (tmp_path / "offhours.toml").write_text(CONFIG)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("offhours/__init__.py", "offhours/lambda_handler.py"):
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), "")
    (tmp_path / "offhours-lambda.zip").write_bytes(buffer.getvalue())
    return tmp_path


def test_apply_plan_destroy(cli: CliRun, project: Path, aws: Aws) -> None:
    # Like terraform plan: the role's permissions in full before they are created.
    first = cli(
        "deploy", "plan", "--package", "offhours-lambda.zip", "--detailed-exitcode", env=SECRETS
    )
    assert first.code == 2, first.stderr  # as terraform's: 2 when there are changes
    assert first.stdout.rstrip().endswith("\n\n11 to create.")
    # Nothing that is not configured nor there: no alarm, digest schedule or classic rule.
    for absent in ("alarm", "events rule", f"{FN}-digest", "\n      none"):
        assert absent not in first.stdout
    assert f"+ create    log group /aws/lambda/{FN}\n      retention: 30 days\n" in first.stdout
    assert f"+ create    iam role {FN}-role\n      permissions:\n      {{" in first.stdout
    assert '"Sid": "DecryptOwnSecrets"' in first.stdout
    assert f"+ create    invoke config {FN}:live" in first.stdout
    applied = cli("deploy", "apply", "--package", "offhours-lambda.zip", env=SECRETS)
    assert applied.code == 0, applied.stderr
    assert f"+ create    lambda function {FN}" in applied.stdout
    assert f"+ create    schedule offhours/{FN}" in applied.stdout
    assert "cron(0 19 ? * MON-FRI *) in Europe/Berlin" in applied.stdout
    assert applied.stdout.rstrip().endswith("\n\n11 created.")
    schedule = aws.client("scheduler").get_schedule(Name=FN, GroupName="offhours")
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Berlin"

    plan = cli(
        "deploy", "plan", "--package", "offhours-lambda.zip", "--detailed-exitcode", env=SECRETS
    )
    assert plan.code == 0, plan.stderr
    assert plan.stdout.rstrip().endswith("no changes.")

    again = cli("deploy", "apply", "--package", "offhours-lambda.zip", env=SECRETS)
    assert again.stdout.rstrip().endswith("no changes.")

    refused = cli("deploy", "destroy")
    assert refused.code == 2
    assert "needs --yes" in refused.stderr
    # A preview needs no confirmation and deletes nothing.
    preview = cli("deploy", "destroy", "--dry-run")
    assert preview.code == 0, preview.stderr
    assert f"- delete    lambda function {FN}" in preview.stdout
    # What goes, what stays and for how long the key waits, and the count.
    assert f"= keep      state table {FN}-state\n      kept: " in preview.stdout
    assert "deletion scheduled: KMS deletes it after 7 days" in preview.stdout
    assert preview.stdout.rstrip().endswith("\n\n7 to delete, 1 kept.")
    assert aws.client("lambda").get_function(FunctionName=FN)
    destroyed = cli("deploy", "destroy", "--yes")
    assert destroyed.code == 0, destroyed.stderr
    assert f"- delete    lambda function {FN}" in destroyed.stdout
    assert destroyed.stdout.rstrip().endswith("\n\n7 deleted, 1 kept.")
    again = cli("deploy", "destroy", "-y")
    assert again.stdout.rstrip().endswith(
        f"= keep      state table {FN}-state\n      kept: "
        "state table offhours-e2e-state holds incident history; offhours deploy destroy "
        "--delete-state removes it\n\nnothing to destroy."
    )
    for run in (first, applied, plan, again, preview, destroyed):
        assert "sentinel-e2e" not in run.stdout + run.stderr


def test_apply_without_the_secrets_exits_2_and_creates_nothing(
    cli: CliRun, project: Path, aws: Aws
) -> None:
    run = cli("deploy", "apply", "--package", "offhours-lambda.zip")
    assert run.code == 2
    assert "sources[0].password: env:E_PASSWORD" in run.stderr
    assert aws.client("lambda").list_functions()["Functions"] == []


def test_import_the_seeds_lambda_json(cli: CliRun, tmp_path: Path) -> None:
    seed = ROOT / "tests" / "data" / "lambda.json"
    run = cli("deploy", "import-lambda-json", str(seed))
    assert run.code == 0, run.stderr
    deploy = tomllib.loads(run.stdout)["deploy"]
    assert deploy["function_name"] == "audit"
    assert deploy["runtime"] == "python3.12"
    assert deploy["role_arn"] == "arn:aws:iam::999999999999:role/lambda_ravello"
    assert "python2.7" in run.stderr
    assert "requirements" in run.stderr

    written = cli("deploy", "import-lambda-json", str(seed), "--write")
    assert written.code == 0, written.stderr
    assert tomllib.loads((tmp_path / "offhours.toml").read_text())["deploy"]["memory"] == 128
    again = cli("deploy", "import-lambda-json", str(seed), "--write")
    assert again.code == 2
    assert "--force" in again.stderr


def test_import_warns_about_the_role_and_a_timeout_the_run_outlasts(
    cli: CliRun, tmp_path: Path
) -> None:
    # The Ravello source and Slack notifier with their default waits: 57 s at worst.
    (tmp_path / "offhours.toml").write_text(CONFIG)
    run = cli("deploy", "import-lambda-json", str(ROOT / "tests" / "data" / "lambda.json"))
    assert run.code == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings[0].startswith(
        "warning: role: arn:aws:iam::999999999999:role/lambda_ravello is used as is"
    )
    assert "Leave role_arn out" in warnings[0]
    assert warnings[1].startswith("warning: timeout: lambda.json's 30 s is not kept")
    assert "worst case 57 s" in warnings[1]
    deploy = tomllib.loads(run.stdout)["deploy"]
    assert "timeout" not in deploy  # offhours' default applies
    assert "# changed: timeout 30 s dropped, too short for this configuration" in run.stdout


def test_import_invalid_lambda_json(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "lambda.json").write_text('{"name": "audit",, }')
    run = cli("deploy", "import-lambda-json", "lambda.json")
    assert run.code == 2
    assert "line 1" in run.stderr


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["cron(0 17 ? * MON-FRI *)", "--tz", "America/New_York"], 0, "17:00 EST  =  22:00 UTC"),
        (["rate(5 minutes)"], 0, "every 5 minutes"),
        (["cron(0 17 * * MON-FRI *)"], 2, 'one of them must be "?"'),
        (["rate(1 hours)"], 2, "rate(1 hour)"),
        (["cron(0 17 ? * 8 *)"], 2, "day-of-week"),
        (["cron(0 17 ? * MON-FRI *)", "--tz", "Mars/Base"], 2, "Mars/Base"),
    ],
)
def test_schedule_command(cli: CliRun, args: list[str], code: int, expected: str) -> None:
    run = cli("schedule", *args, "--now", "2026-11-26T12:00:00Z")
    assert run.code == code, run.stderr
    assert expected in (run.stdout if code == 0 else run.stderr)


def test_schedule_warns_about_utc_rules_across_dst(cli: CliRun) -> None:
    run = cli(
        "schedule",
        "cron(0 22 ? * MON-FRI *)",
        "--rule",
        "--tz",
        "America/New_York",
        "--count",
        "3",
        "--now",
        "2026-10-30T12:00:00Z",
    )
    assert run.code == 0, run.stderr
    assert "Fri 2026-10-30 18:00 EDT  =  22:00 UTC" in run.stdout
    assert "Mon 2026-11-02 17:00 EST  =  22:00 UTC" in run.stdout
    assert "warning: classic EventBridge rules run in UTC" in run.stdout


def test_export_is_json(cli: CliRun, project: Path) -> None:
    (project / "offhours.toml").write_text(
        CONFIG.replace('"env:E_USER"', '"ssm:/offhours/user"')
        .replace('"env:E_PASSWORD"', '"ssm:/offhours/password"')
        .replace('"env:E_HOOK"', '"secretsmanager:offhours/slack"')
    )
    for fmt in ("sam", "terraform"):
        run = cli("deploy", "export", "--format", fmt)
        assert run.code == 0, run.stderr
        assert json.loads(run.stdout)
    refused = cli("deploy", "export", "--format", "yaml")
    assert refused.code == 2


def test_apply_reads_one_secret_from_stdin(cli: CliRun, project: Path, aws: Aws) -> None:
    env = {k: v for k, v in SECRETS.items() if k != "E_PASSWORD"}
    run = cli(
        "deploy",
        "apply",
        "--package",
        "offhours-lambda.zip",
        "--secret-stdin",
        "sources[0].password",
        env=env,
        stdin=SECRETS["E_PASSWORD"] + "\n",
    )
    assert run.code == 0, run.stderr
    stored = aws.client("ssm").get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]
    assert SECRETS["E_PASSWORD"] not in stored["Value"]
    assert "sentinel-e2e" not in run.stdout + run.stderr


def test_the_package_ships_only_the_configured_calendars_holiday_names(
    cli: CliRun, tmp_path: Path, aws: Aws
) -> None:
    # A real, offline build (as tests/functional/test_package.py's) from the CLI: deploy
    # package, plan and apply all build through the same step.
    wheels = Path(os.environ.get("OFFHOURS_WHEELHOUSE", ROOT / ".wheelhouse"))
    if not any(wheels.glob("pydantic_core-*.whl")):
        pytest.fail(f"no wheelhouse at {wheels}: see tests/functional/test_package.py")
    from offhours.deploy.package import default_runtime

    runtime = default_runtime()
    config = CONFIG.replace("[deploy]\n", f'[deploy]\nruntime = "{runtime}"\n')
    (tmp_path / "offhours.toml").write_text(config + '\n[hours.holidays]\ncountry = "DE"\n')
    # The user's cache directory, here the test's own.
    env = {**SECRETS, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = cli(
        "deploy", "package", "--find-links", str(wheels), "--no-index", "-o", "fn.zip",
        env=env, timeout=600,
    )  # fmt: skip
    assert run.code == 0, run.stderr
    assert "building the Lambda package for" in run.stderr
    assert "(holiday names: DE)" in run.stderr
    with zipfile.ZipFile(tmp_path / "fn.zip") as archive:
        catalogues = {n.rsplit("/", 1)[1] for n in archive.namelist() if n.endswith(".mo")}
    assert catalogues == {"DE.mo"}
    # The digest as `sha256sum fn.zip` prints it, and Lambda's CodeSha256, each labelled.
    blob = (tmp_path / "fn.zip").read_bytes()
    assert f"sha256 (as sha256sum prints it):   {hashlib.sha256(blob).hexdigest()}" in run.stdout
    code_sha = base64.b64encode(hashlib.sha256(blob).digest()).decode()
    assert f"CodeSha256 (base64, as Lambda shows it): {code_sha}" in run.stdout

    # The build was kept: plan (which builds when no --package is given) reuses it as it is.
    (cached,) = (tmp_path / "cache" / "offhours" / "lambda-packages").glob("*.zip")
    before = cached.stat()
    plan = cli("deploy", "plan", "--find-links", str(wheels), "--no-index", env=env)
    assert plan.code == 0, plan.stderr
    assert "reusing the Lambda package built before for" in plan.stderr
    assert "building" not in plan.stderr
    after = cached.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert cached.read_bytes() == blob
    assert f"{len(blob):,} bytes" in plan.stdout  # the function as created from that zip


def test_destroy_lists_what_goes_and_asks(cli: CliRun, project: Path, aws: Aws) -> None:
    applied = cli("deploy", "apply", "--package", "offhours-lambda.zip", env=SECRETS)
    assert applied.code == 0, applied.stderr
    lam = aws.client("lambda")

    declined = on_a_terminal(project, "n\n", "deploy", "destroy")
    assert declined.code == 1, declined.stderr
    preview, _, asked = declined.stdout.partition("\n\nDestroy these")
    assert f"- delete    lambda function {FN}\n      with its versions and aliases" in preview
    assert f"= keep      state table {FN}-state" in preview
    assert preview.endswith("7 to delete, 1 kept.")
    assert asked.startswith(" 7 resources? [y/N]")
    assert "destroy cancelled: nothing was deleted" in declined.stderr
    assert lam.get_function(FunctionName=FN)  # still there

    # Enter alone is no: the default.
    assert on_a_terminal(project, "\n", "deploy", "destroy").code == 1
    assert lam.get_function(FunctionName=FN)

    accepted = on_a_terminal(project, "y\n", "deploy", "destroy")
    assert accepted.code == 0, accepted.stderr
    assert accepted.stdout.rstrip().endswith("7 deleted, 1 kept.")
    assert lam.list_functions()["Functions"] == []
