"""`offhours deploy` against moto's server mode: apply, plan, change, destroy."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from offhours.config import Config, load_config
from offhours.deploy.aws import MANAGED_TAG, Change, DeployError, Deployment
from offhours.errors import ConfigError
from tests.aws import Aws

FN = "offhours-audit"
KEY_ALIAS = f"alias/offhours/{FN}"
PASSWORD = "sentinel-deploy-password-91c3"
HOOK = "https://hooks.slack.com/services/T00000000/B00000000/" + "sentinelhooktoken0000"

CONFIG = """
[hours]
timezone = "America/New_York"
start = "08:00"
end = "18:00"

[deploy]
function_name = "{fn}"
region = "us-east-1"
schedule = "{schedule}"
scheduler = "{scheduler}"
memory = {memory}
tags = {{ team = "platform" }}

[[sources]]
type = "ravello"
username = "env:D_USER"
password = "env:D_PASSWORD"

[[notifiers]]
type = "slack"
webhook_url = "env:D_HOOK"
"""

ENV = {"D_USER": "deploy-user", "D_PASSWORD": PASSWORD, "D_HOOK": HOOK}


def tiny_zip(text: str = "v1") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        info = zipfile.ZipInfo("offhours/__init__.py", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, f"# {text}\n")
    return buffer.getvalue()


def config(
    tmp_path: Path,
    *,
    memory: int = 128,
    scheduler: str = "scheduler",
    schedule: str = "cron(0 18-23 ? * MON-FRI *)",
) -> Config:
    path = tmp_path / "offhours.toml"
    path.write_text(CONFIG.format(fn=FN, memory=memory, scheduler=scheduler, schedule=schedule))
    return load_config(path)


def deployment(cfg: Config, code: bytes | None = None) -> Deployment:
    return Deployment(cfg, code=code or tiny_zip(), environ=ENV)


def actions(changes: list[Change]) -> dict[str, str]:
    return {f"{c.kind} {c.name}": c.action for c in changes}


def test_apply_creates_everything_then_a_second_apply_changes_nothing(
    aws: Aws, tmp_path: Path
) -> None:
    cfg = config(tmp_path)
    first = deployment(cfg).apply()
    assert {c.action for c in first} <= {"create", "unchanged"}
    assert actions(first) == {
        f"kms key {KEY_ALIAS}": "create",
        f"ssm parameter /offhours/{FN}/config": "create",
        f"log group /aws/lambda/{FN}": "create",
        f"iam role {FN}-role": "create",
        f"kms key policy {KEY_ALIAS}": "create",
        f"lambda function {FN}": "create",
        "lambda alias live": "create",
        f"invoke config {FN}:live": "create",
        f"alarm {FN}-errors": "unchanged",
        f"iam role {FN}-scheduler": "create",
        f"schedule offhours/{FN}": "create",
        f"events rule {FN}": "unchanged",
    }
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}
    assert {c.action for c in deployment(cfg).apply()} == {"unchanged"}


def test_what_apply_creates(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    lam = aws.client("lambda")
    function = lam.get_function(FunctionName=FN)["Configuration"]
    key = aws.client("kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    assert function["KMSKeyArn"] == key["Arn"]
    assert function["Handler"] == "offhours.lambda_handler.handler"
    # The version of the configuration this version of the function runs.
    assert function["Environment"]["Variables"] == {
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1"
    }
    assert function["MemorySize"] == 128
    assert lam.list_tags(Resource=function["FunctionArn"])["Tags"][MANAGED_TAG] == "offhours"

    stored = aws.client("ssm").get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]["Value"]
    assert PASSWORD not in stored and "sentinelhooktoken" not in stored
    document = json.loads(stored)
    assert "deploy" not in document
    assert document["secrets"]["kms"]["context"] == {
        "LambdaFunctionName": "$AWS_LAMBDA_FUNCTION_NAME"
    }
    secret = document["sources"][0]["password"]
    plain = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(secret[4:]),
        EncryptionContext={"LambdaFunctionName": FN},
    )["Plaintext"]
    assert plain.decode() == PASSWORD

    schedule = aws.client("scheduler").get_schedule(Name=FN, GroupName="offhours")
    assert schedule["ScheduleExpression"] == "cron(0 18-23 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
    assert schedule["Target"]["Arn"].endswith(f":function:{FN}:live")
    assert json.loads(schedule["Target"]["Input"])["time"] == "<aws.scheduler.scheduled-time>"
    assert lam.get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"


def test_role_policy_is_least_privilege(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    iam = aws.client("iam")
    policy = iam.get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")["PolicyDocument"]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    key_arn = aws.client("kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Arn"]
    account = aws.client("sts").get_caller_identity()["Account"]
    assert statements["DecryptOwnSecrets"]["Resource"] == key_arn
    assert statements["DecryptOwnSecrets"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:LambdaFunctionName": FN}
    }
    assert statements["ReadConfigAndParameters"]["Resource"] == [
        f"arn:aws:ssm:us-east-1:{account}:parameter/offhours/{FN}/config"
    ]
    assert statements["OwnLogGroup"]["Resource"] == (
        f"arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/{FN}:*"
    )
    for statement in policy["Statement"]:
        listed = statement["Action"]
        for action in [listed] if isinstance(listed, str) else listed:
            assert "*" not in action
        assert statement["Resource"] != "*"
    assert set(statements) == {"OwnLogGroup", "ReadConfigAndParameters", "DecryptOwnSecrets"}


def test_a_config_change_updates_only_that(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    cfg = config(tmp_path, memory=256)
    plan = deployment(cfg).plan()
    changed = {k: v for k, v in actions(plan).items() if v != "unchanged"}
    assert changed == {f"lambda function {FN}": "update", "lambda alias live": "update"}
    function_change = next(c for c in plan if c.kind == "lambda function")
    assert function_change.details == ("MemorySize: 128 → 256",)
    applied = deployment(cfg).apply()
    assert {k: v for k, v in actions(applied).items() if v != "unchanged"} == changed
    lam = aws.client("lambda")
    assert lam.get_function(FunctionName=FN)["Configuration"]["MemorySize"] == 256
    assert lam.get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


def test_a_changed_secret_is_re_encrypted_and_others_kept(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    ssm = aws.client("ssm")
    before = json.loads(ssm.get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]["Value"])
    rotated = Deployment(cfg, code=tiny_zip(), environ={**ENV, "D_PASSWORD": PASSWORD + "-new"})
    change = next(c for c in rotated.apply() if c.kind == "ssm parameter")
    assert change.action == "update"
    assert change.details == (
        "secret sources[0].password encrypted with context LambdaFunctionName=offhours-audit",
        "version 2",
    )
    after = json.loads(ssm.get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]["Value"])
    assert after["sources"][0]["username"] == before["sources"][0]["username"]
    assert after["sources"][0]["password"] != before["sources"][0]["password"]


def test_environment_variables_set_by_others_are_kept(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    lam = aws.client("lambda")
    env = lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=FN, Environment={"Variables": {**env, "SET_BY_SOMEONE_ELSE": "1"}}
    )
    deployment(config(tmp_path, memory=192)).apply()
    variables = lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    assert variables["SET_BY_SOMEONE_ELSE"] == "1"
    assert variables["OFFHOURS_CONFIG_SSM"] == f"/offhours/{FN}/config:1"


def test_new_code_is_deployed_and_published(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg, tiny_zip("v1")).apply()
    plan = deployment(cfg, tiny_zip("v2")).plan()
    assert next(c for c in plan if c.kind == "lambda function").details == ("code",)
    deployment(cfg, tiny_zip("v2")).apply()
    assert aws.client("lambda").get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"


def test_classic_rule_in_utc(aws: Aws, tmp_path: Path) -> None:
    changes = deployment(config(tmp_path, scheduler="rule")).apply()
    assert actions(changes)[f"events rule {FN}"] == "create"
    rule = aws.client("events").describe_rule(Name=FN)
    assert rule["ScheduleExpression"] == "cron(0 18-23 ? * MON-FRI *)"
    targets = aws.client("events").list_targets_by_rule(Rule=FN)["Targets"]
    assert targets[0]["Arn"].endswith(f":function:{FN}:live")
    policy = json.loads(
        aws.client("lambda").get_policy(FunctionName=FN, Qualifier="live")["Policy"]
    )
    assert policy["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    # Switching to Scheduler replaces the rule.
    switched = actions(deployment(config(tmp_path)).apply())
    assert switched[f"events rule {FN}"] == "delete"
    assert switched[f"schedule offhours/{FN}"] == "create"


def test_destroy_removes_only_what_offhours_created(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    iam = aws.client("iam")
    iam.create_role(RoleName="someone-elses-role", AssumeRolePolicyDocument="{}")
    aws.client("ssm").put_parameter(Name="/offhours/other/config", Value="x", Type="String")
    changes = deployment(cfg).destroy()
    assert {c.action for c in changes} == {"delete", "unchanged"}
    assert actions(changes)[f"lambda function {FN}"] == "delete"
    assert actions(changes)[f"kms key {KEY_ALIAS}"] == "delete"
    with pytest.raises(aws.client("lambda").exceptions.ResourceNotFoundException):
        aws.client("lambda").get_function(FunctionName=FN)
    assert iam.get_role(RoleName="someone-elses-role")["Role"]
    assert aws.client("ssm").get_parameter(Name="/offhours/other/config")
    assert {c.action for c in deployment(cfg).destroy()} == {"unchanged"}


def test_destroy_leaves_a_same_named_function_it_did_not_create(aws: Aws, tmp_path: Path) -> None:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="theirs", AssumeRolePolicyDocument=json.dumps({}))["Role"]
    aws.client("lambda").create_function(
        FunctionName=FN,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="x.handler",
        Code={"ZipFile": tiny_zip()},
    )
    changes = actions(deployment(config(tmp_path)).destroy())
    assert changes[f"lambda function {FN}"] == "unchanged"
    assert aws.client("lambda").get_function(FunctionName=FN)


@pytest.mark.parametrize(
    ("schedule", "scheduler", "message"),
    [
        ("cron(0 17 * * MON-FRI *)", "scheduler", "deploy.schedule"),
        ("rate(1 hours)", "scheduler", "deploy.schedule"),
        ("at(2026-12-24T18:00:00)", "rule", "needs EventBridge Scheduler"),
    ],
)
def test_bad_schedule_is_refused_before_any_aws_call(
    aws: Aws, tmp_path: Path, schedule: str, scheduler: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        deployment(config(tmp_path, schedule=schedule, scheduler=scheduler))
    assert aws.client("lambda").list_functions()["Functions"] == []


def test_unreadable_secret_is_reported_before_anything_is_created(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with pytest.raises(ConfigError, match=r"sources\[0\].password: env:D_PASSWORD"):
        Deployment(cfg, code=tiny_zip(), environ={"D_USER": "u", "D_HOOK": HOOK}).apply()
    assert aws.client("kms").list_aliases()["Aliases"] == [] or all(
        a["AliasName"].startswith("alias/aws/") for a in aws.client("kms").list_aliases()["Aliases"]
    )


def test_prompted_secret_is_used(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    asked: list[str] = []

    def prompt(what: str) -> str:
        asked.append(what)
        return PASSWORD

    Deployment(cfg, code=tiny_zip(), environ={"D_USER": "u", "D_HOOK": HOOK}, prompt=prompt).apply()
    assert asked == ["sources[0].password (env:D_PASSWORD)"]


def test_failure_midway_reports_and_rerun_converges(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    # A role of that name that offhours did not create stops the run after key, parameter
    # and log group exist.
    iam = aws.client("iam")
    iam.create_role(RoleName=f"{FN}-role", AssumeRolePolicyDocument=json.dumps({}))
    with pytest.raises(DeployError) as info:
        deployment(cfg).apply()
    message = str(info.value)
    assert f"the IAM role {FN}-role exists but was not created by offhours" in message
    assert f"Done before the failure: + create    kms key {KEY_ALIAS}" in message
    assert "run `offhours deploy apply` again" in message
    iam.delete_role(RoleName=f"{FN}-role")
    converged = actions(deployment(cfg).apply())
    assert converged[f"kms key {KEY_ALIAS}"] == "unchanged"
    assert converged[f"ssm parameter /offhours/{FN}/config"] == "unchanged"
    assert converged[f"iam role {FN}-role"] == "create"
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


def test_the_role_allows_the_functions_own_calls_and_refuses_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With moto enforcing IAM, the deployed role runs the real handler and nothing more."""
    import boto3

    from offhours import lambda_handler
    from offhours.testing.ravello import RavelloSimulator, make_app
    from offhours.testing.slack import SlackSink
    from tests.aws import env_for, moto_subprocess

    night = "2026-12-01T04:00:00Z"
    with (
        RavelloSimulator([make_app(1, "lab-1", "Ada")], username="u", password=PASSWORD) as sim,
        SlackSink() as sink,
    ):
        path = tmp_path / "offhours.toml"
        path.write_text(
            CONFIG.format(
                fn=FN, memory=128, scheduler="scheduler", schedule="rate(1 hour)"
            ).replace('type = "ravello"', f'type = "ravello"\nbase_url = "{sim.base_url}"')
            + '\n[[notifiers]]\ntype = "console"\n'
        )
        cfg = load_config(path)
        environ = {"D_USER": "u", "D_PASSWORD": PASSWORD, "D_HOOK": sink.url}
        # Slack's host check lets loopback through; the deployed copy keeps the sink's URL.

        def deploy_and_setup(endpoint: str) -> tuple[int, dict[str, str]]:
            """Deploy, then give a user the role's policy; return the calls made.

            moto cannot run the function or (with IAM enforced) assume its role, so a user
            holding the role's inline policy stands in for it. moto checks actions against
            the resource "*" only, so here each statement's Resource becomes "*": this proves
            the actions suffice and nothing else is allowed; the exact ARNs are checked in
            test_role_policy_is_least_privilege.
            """
            calls = 0

            def count(**_: Any) -> None:
                nonlocal calls
                calls += 1

            session = boto3.session.Session(
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            session.events.register("before-call", count)
            monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
            Deployment(cfg, code=tiny_zip(), environ=environ, session=session).apply()
            iam = session.client("iam")
            policy = iam.get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")
            iam.create_user(UserName="function-stand-in")
            document = policy["PolicyDocument"]
            for statement in document["Statement"]:
                statement["Resource"] = "*"
            iam.put_user_policy(
                UserName="function-stand-in",
                PolicyName="offhours",
                PolicyDocument=json.dumps(document),
            )
            key = iam.create_access_key(UserName="function-stand-in")["AccessKey"]
            return calls, {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

        # First on a moto that does not enforce, to count the calls set-up takes …
        with moto_subprocess() as endpoint:
            setup_calls, _ = deploy_and_setup(endpoint)
        # … then on one that enforces IAM from the first call after set-up.
        with moto_subprocess(INITIAL_NO_AUTH_ACTION_COUNT=str(setup_calls)) as endpoint:
            _, user = deploy_and_setup(endpoint)
            as_role = {
                **env_for(endpoint),
                "AWS_ACCESS_KEY_ID": user["id"],
                "AWS_SECRET_ACCESS_KEY": user["secret"],
                "AWS_LAMBDA_FUNCTION_NAME": FN,
                "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config",
            }
            for name, value in as_role.items():
                monkeypatch.setenv(name, value)
            monkeypatch.setattr(lambda_handler, "_CONFIG", None)
            summary = lambda_handler.handler({"time": night}, None)
            assert summary["status"] == "success"
            assert summary["flagged"] == 1
            assert len(sink.messages) == 1

            role_session = boto3.session.Session(region_name="us-east-1")
            refused = [
                lambda: role_session.client("lambda").list_functions(),
                lambda: role_session.client("ssm").put_parameter(
                    Name=f"/offhours/{FN}/config", Value="{}", Type="String", Overwrite=True
                ),
                lambda: role_session.client("kms").encrypt(KeyId=KEY_ALIAS, Plaintext=b"x"),
                lambda: role_session.client("iam").list_roles(),
                lambda: role_session.client("kms").list_keys(),
            ]
            for call in refused:
                with pytest.raises(Exception, match=r"AccessDenied|not authorized|403"):
                    call()


def test_a_secret_given_at_deploy_time_is_encrypted(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    given = {"sources[0].password": PASSWORD}
    Deployment(cfg, code=tiny_zip(), environ={"D_USER": "u", "D_HOOK": HOOK}, given=given).apply()
    stored = aws.client("ssm").get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]
    ciphertext = json.loads(stored["Value"])["sources"][0]["password"]
    plain = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(ciphertext[4:]),
        EncryptionContext={"LambdaFunctionName": FN},
    )["Plaintext"]
    assert plain.decode() == PASSWORD


def test_a_secret_given_for_an_unknown_key_is_refused(aws: Aws, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\].pasword is not a secret"):
        Deployment(
            config(tmp_path), code=tiny_zip(), environ=ENV, given={"sources[0].pasword": "x"}
        ).apply()
