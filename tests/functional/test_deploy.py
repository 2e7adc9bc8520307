"""`offhours deploy` against moto's server mode: apply, plan, change, destroy."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from offhours.config import Config, load_config
from offhours.deploy.aws import Change, DeployError, Deployment
from offhours.deploy.spec import MANAGED_TAG
from offhours.errors import ConfigError
from offhours.state.dynamodb import ITEM_ACTIONS
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


def stored_document(aws: Aws, fn: str = FN) -> dict[str, Any]:
    value = aws.client("ssm").get_parameter(Name=f"/offhours/{fn}/config")["Parameter"]["Value"]
    return dict(json.loads(value))


def fingerprints(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return dict(document["_offhours_deploy"]["fingerprints"])


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
        f"state table {FN}-state": "create",
        f"iam role {FN}-role": "create",
        f"kms key policy {KEY_ALIAS}": "create",
        f"lambda function {FN}": "create",
        "lambda alias live": "create",
        f"invoke config {FN}:live": "create",
        f"iam role {FN}-scheduler": "create",
        f"schedule offhours/{FN}": "create",
    }  # no alarm, digest schedule or classic rule: not configured, and none there
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
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1",
        "OFFHOURS_STATE_TABLE": f"{FN}-state",
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
    assert statements["StateTableItems"]["Resource"] == [
        f"arn:aws:dynamodb:us-east-1:{account}:table/{FN}-state",
        f"arn:aws:dynamodb:us-east-1:{account}:table/{FN}-state/index/open-incidents",
    ]
    assert statements["StateTableItems"]["Action"] == list(ITEM_ACTIONS)
    assert set(statements) == {
        "OwnLogGroup",
        "ReadConfigAndParameters",
        "DecryptOwnSecrets",
        "StateTableItems",
    }


def test_a_config_change_updates_only_that(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    cfg = config(tmp_path, memory=256)
    plan = deployment(cfg).plan()
    changed = {k: v for k, v in actions(plan).items() if v != "unchanged"}
    assert changed == {f"lambda function {FN}": "update", "lambda alias live": "update"}
    function_change = next(c for c in plan if c.kind == "lambda function")
    assert function_change.details == ("memory 128 MB → 256 MB",)
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
        "secret sources[0].username unchanged",
        "secret sources[0].password re-encrypted with context "
        "LambdaFunctionName=offhours-audit (changed)",
        "secret notifiers[0].webhook_url unchanged",
        "version 2",
    )
    after = json.loads(ssm.get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]["Value"])
    assert after["sources"][0]["username"] == before["sources"][0]["username"]
    assert after["sources"][0]["password"] != before["sources"][0]["password"]
    prints, old_prints = fingerprints(after), fingerprints(before)
    assert prints["sources[0].username"] == old_prints["sources[0].username"]
    assert prints["sources[0].password"] != old_prints["sources[0].password"]
    # A new configuration version, and the function publishes a version naming it.
    assert aws.client("lambda").get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"
    assert {c.action for c in rotated.plan()} == {"unchanged"}


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
    (code,) = next(c for c in plan if c.kind == "lambda function").details
    v1, v2 = (base64.b64encode(hashlib.sha256(tiny_zip(v)).digest()).decode() for v in ("v1", "v2"))
    assert code == f"code: CodeSha256 {v1} → {v2}"
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


def test_destroy_dry_run_lists_what_destroy_deletes_and_deletes_nothing(
    aws: Aws, tmp_path: Path
) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    preview = deployment(cfg).destroy(dry=True)
    assert {c.action for c in preview} == {"delete", "unchanged"}
    assert aws.client("lambda").get_function(FunctionName=FN)
    assert aws.client("kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Enabled"]
    assert [str(c) for c in deployment(cfg).destroy()] == [str(c) for c in preview]


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
    assert message.startswith(f"the IAM role {FN}-role exists but was not created by offhours")
    assert f"Done before the failure: created kms key {KEY_ALIAS}; created ssm" in message
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
    from tests.aws import enforce_iam, env_for, moto_subprocess

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

        def deploy_and_setup(endpoint: str) -> dict[str, str]:
            """Deploy, then give a user the role's policy.

            moto cannot run the function or (with IAM enforced) assume its role, so a user
            holding the role's inline policy stands in for it. moto checks actions against
            the resource "*" only, so here each statement's Resource becomes "*": this proves
            the actions suffice and nothing else is allowed; the exact ARNs are checked in
            test_role_policy_is_least_privilege.
            """
            session = boto3.session.Session(
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
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
            return {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

        with moto_subprocess() as endpoint:
            user = deploy_and_setup(endpoint)
            # IAM enforced from the next call on, however many calls set-up took (a count
            # taken from an earlier run varied with the retries a loaded machine causes).
            enforce_iam(endpoint)
            as_role = {
                **env_for(endpoint),
                "AWS_ACCESS_KEY_ID": user["id"],
                "AWS_SECRET_ACCESS_KEY": user["secret"],
                "AWS_LAMBDA_FUNCTION_NAME": FN,
                # As the deployed function names it: the pinned version.
                "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1",
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


# ---------------------------------------------------------------- trust under failure


def config_with(tmp_path: Path, deploy_extra: str = "", *, fn: str = FN, tail: str = "") -> Config:
    """The standard config, with lines added to [deploy] (and after the file)."""
    path = tmp_path / f"{fn}.toml"
    text = CONFIG.format(
        fn=fn, memory=128, scheduler="scheduler", schedule="cron(0 18-23 ? * MON-FRI *)"
    )
    path.write_text(text.replace("[[sources]]", deploy_extra + "\n\n[[sources]]", 1) + tail)
    return load_config(path)


QUEUE = "arn:aws:sqs:us-east-1:123456789012:offhours-failures"
TOPIC = "arn:aws:sns:us-east-1:123456789012:offhours-alarms"


def test_async_retries_are_off_so_a_failed_run_posts_once(aws: Aws, tmp_path: Path) -> None:
    changes = actions(deployment(config(tmp_path)).apply())
    assert changes[f"invoke config {FN}:live"] == "create"
    found = aws.client("lambda").get_function_event_invoke_config(FunctionName=FN, Qualifier="live")
    assert found["MaximumRetryAttempts"] == 0
    # An hourly schedule: an event is not kept past the next run.
    assert found["MaximumEventAgeInSeconds"] == 3600
    assert not (found.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    again = deployment(config(tmp_path)).plan()
    assert actions(again)[f"invoke config {FN}:live"] == "unchanged"


def test_on_failure_destination_is_set_and_granted_on_exactly_that_arn(
    aws: Aws, tmp_path: Path
) -> None:
    deployment(config(tmp_path)).apply()
    cfg = config_with(tmp_path, f'on_failure = "{QUEUE}"')
    plan = actions(deployment(cfg).plan())
    assert plan[f"invoke config {FN}:live"] == "update"
    assert plan[f"iam role {FN}-role"] == "update"
    deployment(cfg).apply()
    lam = aws.client("lambda")
    found = lam.get_function_event_invoke_config(FunctionName=FN, Qualifier="live")
    assert found["DestinationConfig"]["OnFailure"]["Destination"] == QUEUE
    assert found["MaximumRetryAttempts"] == 0
    policy = aws.client("iam").get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")
    statement = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}["OnFailureDestination"]
    assert (statement["Action"], statement["Resource"]) == ("sqs:SendMessage", QUEUE)
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


def test_alarm_topic_creates_an_errors_alarm_and_destroy_removes_it(
    aws: Aws, tmp_path: Path
) -> None:
    cfg = config_with(tmp_path, f'alarm_topic = "{TOPIC}"')
    assert actions(deployment(cfg).apply())[f"alarm {FN}-errors"] == "create"
    cw = aws.client("cloudwatch")
    (alarm,) = cw.describe_alarms(AlarmNames=[f"{FN}-errors"])["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": FN}]
    assert alarm["AlarmActions"] == [TOPIC]
    assert alarm["Threshold"] == 1.0
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}
    # Removing alarm_topic removes the alarm; destroy would too.
    assert actions(deployment(config(tmp_path)).apply())[f"alarm {FN}-errors"] == "delete"
    assert cw.describe_alarms(AlarmNames=[f"{FN}-errors"])["MetricAlarms"] == []
    deployment(cfg).apply()
    assert actions(deployment(cfg).destroy())[f"alarm {FN}-errors"] == "delete"
    assert cw.describe_alarms(AlarmNames=[f"{FN}-errors"])["MetricAlarms"] == []


def test_an_alarm_of_that_name_not_created_by_offhours_is_refused(aws: Aws, tmp_path: Path) -> None:
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=f"{FN}-errors",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    cfg = config_with(tmp_path, f'alarm_topic = "{TOPIC}"')
    with pytest.raises(DeployError, match=f"alarm '{FN}-errors' exists but was not created"):
        deployment(cfg).apply()
    assert actions(deployment(cfg).destroy())[f"alarm {FN}-errors"] == "unchanged"


CONTEXT = {"StringEquals": {"kms:EncryptionContext:LambdaFunctionName": FN}}
#: what reveals or re-wraps plaintext, and what could hand that out to someone else
DECRYPTING = (
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
)


def assert_only_the_role_decrypts(policy: dict[str, Any], account: str, role_arn: str) -> None:
    """Read the key policy as KMS would, action patterns included: the account's statements
    allow nothing that decrypts; only the role decrypts, only under the function's context."""
    from fnmatch import fnmatchcase

    def listed(statement: dict[str, Any]) -> list[str]:
        action = statement["Action"]
        return [action] if isinstance(action, str) else list(action)

    def grants(statement: dict[str, Any], action: str) -> bool:
        return any(fnmatchcase(action, pattern) for pattern in listed(statement))

    statements = policy["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    for action in DECRYPTING:
        allowing = [s for s in statements if grants(s, action)]
        if action == "kms:Decrypt":
            assert [(s["Principal"], s["Condition"]) for s in allowing] == [
                ({"AWS": role_arn}, CONTEXT)
            ]
        else:
            assert allowing == [], action
    root = f"arn:aws:iam::{account}:root"
    for statement in statements:
        if statement["Principal"] == {"AWS": root} and grants(statement, "kms:Encrypt"):
            assert statement["Condition"] == CONTEXT
        if grants(statement, "kms:CreateGrant"):
            assert statement["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert {s["Principal"]["AWS"] for s in statements} == {root, role_arn}


def test_key_policy_rotation_and_scheduler_trust(aws: Aws, tmp_path: Path) -> None:
    from offhours.deploy.spec import key_policy

    deployment(config(tmp_path)).apply()
    kms = aws.client("kms")
    key = kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    account = aws.client("sts").get_caller_identity()["Account"]
    role_arn = aws.client("iam").get_role(RoleName=f"{FN}-role")["Role"]["Arn"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy == key_policy(account=account, function=FN, role_arn=role_arn)
    assert_only_the_role_decrypts(policy, account, role_arn)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    trust = aws.client("iam").get_role(RoleName=f"{FN}-scheduler")["Role"]
    (statement,) = trust["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}
    # A key policy loosened by hand is put back.
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps({}))
    assert actions(deployment(config(tmp_path)).plan())[f"kms key policy {KEY_ALIAS}"] == "update"


# ---------------------------------------------------------------- stale configuration


NIGHT = "2026-12-01T04:00:00Z"  # 23:00 in New York


def test_each_version_runs_the_configuration_it_was_published_with(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime, timedelta

    from offhours import lambda_handler
    from offhours.testing.ravello import RavelloSimulator, make_app
    from offhours.testing.slack import SlackSink

    start = datetime.fromisoformat(NIGHT) - timedelta(hours=6)
    with (
        RavelloSimulator(
            [make_app(1, "lab-1", "Ada", publish_start=start)], username="u", password=PASSWORD
        ) as sim,
        SlackSink() as sink,
    ):
        path = tmp_path / "offhours.toml"
        text = CONFIG.format(
            fn=FN, memory=128, scheduler="scheduler", schedule="cron(0 18-23 ? * MON-FRI *)"
        ).replace('type = "ravello"', f'type = "ravello"\nbase_url = "{sim.base_url}"')
        environ = {"D_USER": "u", "D_PASSWORD": PASSWORD, "D_HOOK": sink.url}
        path.write_text(text)
        Deployment(load_config(path), code=tiny_zip(), environ=environ).apply()
        # A config-only change: working hours until midnight, so 23:00 is inside them.
        path.write_text(text.replace('end = "18:00"', 'end = "24:00"'))
        changes = Deployment(load_config(path), code=tiny_zip(), environ=environ).apply()
        assert actions(changes)[f"lambda function {FN}"] == "update"
        assert (
            f"configuration /offhours/{FN}/config:1 → /offhours/{FN}/config:2"
            in next(c for c in changes if c.kind == "lambda function").details
        )

        lam = aws.client("lambda")
        assert lam.get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "2"
        pinned = {
            version: lam.get_function_configuration(FunctionName=FN, Qualifier=version)[
                "Environment"
            ]["Variables"]["OFFHOURS_CONFIG_SSM"]
            for version in ("1", "2")
        }
        assert pinned == {"1": f"/offhours/{FN}/config:1", "2": f"/offhours/{FN}/config:2"}

        # One warm container per version: each reads (and caches) its own configuration.
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FN)
        monkeypatch.setattr(lambda_handler, "_CONFIG", None)
        flagged = {}
        for version in ("1", "2", "1"):
            monkeypatch.setenv("OFFHOURS_CONFIG_SSM", pinned[version])
            flagged[version] = lambda_handler.handler({"time": NIGHT}, None)["flagged"]
        assert flagged == {"1": 1, "2": 0}
        # Rolling the alias back restores code and configuration together.
        lam.update_alias(FunctionName=FN, Name="live", FunctionVersion="1")
        live = lam.get_function_configuration(FunctionName=FN, Qualifier="live")
        assert live["Environment"]["Variables"]["OFFHOURS_CONFIG_SSM"] == pinned["1"]


# ---------------------------------------------------------------- one key per deployment


def team(tmp_path: Path, name: str, deploy_extra: str = "") -> Deployment:
    return Deployment(config_with(tmp_path, deploy_extra, fn=name), code=tiny_zip(), environ=ENV)


def stored_password_key(aws: Aws, fn: str) -> str:
    """The key the deployed config's password is encrypted under (decrypting it, as the
    function does)."""
    stored = aws.client("ssm").get_parameter(Name=f"/offhours/{fn}/config")["Parameter"]["Value"]
    ciphertext = json.loads(stored)["sources"][0]["password"]
    answer = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(ciphertext[4:]),
        EncryptionContext={"LambdaFunctionName": fn},
    )
    assert answer["Plaintext"].decode() == PASSWORD
    return str(answer["KeyId"])


def test_two_deployments_never_share_a_key(aws: Aws, tmp_path: Path) -> None:
    kms, lam = aws.client("kms"), aws.client("lambda")
    team(tmp_path, "team-a").apply()
    team(tmp_path, "team-b").apply()
    key_a = kms.describe_key(KeyId="alias/offhours/team-a")["KeyMetadata"]["Arn"]
    key_b = kms.describe_key(KeyId="alias/offhours/team-b")["KeyMetadata"]["Arn"]
    assert key_a != key_b
    assert lam.get_function(FunctionName="team-b")["Configuration"]["KMSKeyArn"] == key_b

    # Pointing team-c at team-a's alias is refused before anything is created.
    with pytest.raises(DeployError, match="belongs to the offhours deployment 'team-a'"):
        team(tmp_path, "team-c", 'key_alias = "alias/offhours/team-a"').apply()
    assert "team-c" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}

    # Destroying team-a leaves team-b able to read its secrets.
    team(tmp_path, "team-a").destroy()
    assert kms.describe_key(KeyId=key_a)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert stored_password_key(aws, "team-b") == key_b


def test_a_key_planted_behind_the_default_alias_is_refused(aws: Aws, tmp_path: Path) -> None:
    """A key someone else made, behind alias/offhours/<fn>, would keep their key policy."""
    kms, lam = aws.client("kms"), aws.client("lambda")
    planted = kms.create_key(Description="not offhours'")["KeyMetadata"]
    kms.create_alias(AliasName="alias/offhours/team-d", TargetKeyId=planted["KeyId"])
    with pytest.raises(DeployError, match="was not created by offhours") as info:
        team(tmp_path, "team-d").apply()
    assert "key_arn or key_alias" in str(info.value)
    assert "team-d" not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert (
        aws.client("ssm").describe_parameters(
            ParameterFilters=[{"Key": "Name", "Values": ["/offhours/team-d/config"]}]
        )["Parameters"]
        == []
    )
    # Named on purpose, it is used as the user's own key (its policy is theirs).
    changes = {
        c.kind: c for c in team(tmp_path, "team-d", 'key_alias = "alias/offhours/team-d"').apply()
    }
    assert changes["kms key"].action == "unchanged"
    assert "not created by offhours" in changes["kms key"].details[1]


def test_a_deployment_on_another_ones_key_moves_to_its_own(aws: Aws, tmp_path: Path) -> None:
    """The state the old shared default (alias/offhours) left: team-b on team-a's key."""
    kms, lam = aws.client("kms"), aws.client("lambda")
    team(tmp_path, "team-a").apply()
    key_a = kms.describe_key(KeyId="alias/offhours/team-a")["KeyMetadata"]["Arn"]
    team(tmp_path, "team-b", f'key_arn = "{key_a}"').apply()
    assert stored_password_key(aws, "team-b") == key_a

    # team-a's destroy does not delete a key team-b still uses.
    destroyed = {c.kind: c for c in team(tmp_path, "team-a").destroy()}
    assert destroyed["kms key"].action == "unchanged"
    assert "still used by team-b" in destroyed["kms key"].details[0]
    assert kms.describe_key(KeyId=key_a)["KeyMetadata"]["KeyState"] == "Enabled"

    # Re-applying team-b gives it its own key: secrets re-encrypted, KMSKeyArn moved.
    plan = {c.kind: c for c in team(tmp_path, "team-b").plan()}
    assert plan["kms key"].action == "create"
    assert any(d.startswith("KMS key arn:aws:kms:") for d in plan["lambda function"].details)
    # moto's UpdateFunctionConfiguration ignores KMSKeyArn: the request itself is checked.
    sent: list[dict[str, Any]] = []
    session = boto3.session.Session(region_name="us-east-1")
    session.events.register(
        "provide-client-params.lambda.UpdateFunctionConfiguration",
        lambda params, **_: sent.append(dict(params)),
    )
    moved = Deployment(
        config_with(tmp_path, fn="team-b"), code=tiny_zip(), environ=ENV, session=session
    )
    changes = {c.kind: c for c in moved.apply()}
    assert changes["ssm parameter"].action == "update"
    assert (
        "secret sources[0].password re-encrypted with context LambdaFunctionName=team-b "
        "(key changed)" in changes["ssm parameter"].details
    )
    key_b = kms.describe_key(KeyId="alias/offhours/team-b")["KeyMetadata"]["Arn"]
    assert [call["KMSKeyArn"] for call in sent] == [key_b]
    assert stored_password_key(aws, "team-b") == key_b
    assert lam.get_alias(FunctionName="team-b", Name="live")["FunctionVersion"] == "2"

    # Once no other function names it (moto still shows team-b's old KMSKeyArn, so here:
    # once team-b is gone), team-a's key can go.
    team(tmp_path, "team-b").destroy()
    assert {c.kind: c for c in team(tmp_path, "team-a").destroy()}["kms key"].action == "delete"
    assert kms.describe_key(KeyId=key_a)["KeyMetadata"]["KeyState"] == "PendingDeletion"


# ---------------------------------------------------------------- wildcard references


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("secretsmanager:*#password", "holds a wildcard"),
        ("ssm:/offhours/*", "holds a wildcard"),
        ("ssm:/offhours/pass?ord", "holds a wildcard"),
        ("ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/p", "is in region eu-west-1"),
        (
            "secretsmanager:arn:aws:secretsmanager:us-east-1:999999999999:secret:p-AbCdEf",
            "belongs to account 999999999999",
        ),
        ("ssm:arn:aws:ssm:us-east-1:*:parameter/p", "holds a wildcard"),
        ("ssm:arn:aws:secretsmanager:us-east-1:123456789012:secret:p", "is not an ARN of ssm"),
        ("ssm:arn:aws-us-gov:ssm:us-east-1:123456789012:parameter/p", "in partition aws-us-gov"),
        ("ssm:/offhours/team-x/config", "another offhours deployment's parameter (team-x)"),
    ],
)
def test_broad_secret_references_are_refused_before_anything_is_created(
    aws: Aws, tmp_path: Path, reference: str, message: str
) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text(
        CONFIG.format(
            fn=FN, memory=128, scheduler="scheduler", schedule="cron(0 18-23 ? * MON-FRI *)"
        ).replace('password = "env:D_PASSWORD"', f'password = "{reference}"')
    )
    with pytest.raises(ConfigError) as info:
        deployment(load_config(path)).plan()
    assert "sources[0].password" in str(info.value)
    assert message in str(info.value)
    with pytest.raises(ConfigError):
        deployment(load_config(path)).apply()
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("iam").list_roles()["Roles"] == []


def test_plan_prints_the_role_policy_on_create_and_its_diff_on_change(
    aws: Aws, tmp_path: Path
) -> None:
    created = next(c for c in deployment(config(tmp_path)).plan() if c.name == f"{FN}-role")
    assert created.details[0] == "permissions:"
    assert '      "Sid": "DecryptOwnSecrets"' in created.details
    deployment(config(tmp_path)).apply()
    cfg = config_with(tmp_path, f'on_failure = "{QUEUE}"')
    changed = next(c for c in deployment(cfg).plan() if c.name == f"{FN}-role")
    assert changed.details[:4] == (
        "permissions changed:",
        f"statement OnFailureDestination added: sqs:SendMessage on {QUEUE}",
        "--- current",
        "+++ desired",
    )
    added = [d for d in changed.details if d.startswith("+") and not d.startswith("+++")]
    assert f'+      "Resource": "{QUEUE}",' in added
    assert '+      "Sid": "OnFailureDestination"' in added
    assert not [d for d in changed.details if d.startswith("-") and not d.startswith("---")]


# ---------------------------------------------------------------- [deploy.environment]


def test_a_variable_removed_from_the_config_is_removed_from_the_function(
    aws: Aws, tmp_path: Path
) -> None:
    lam = aws.client("lambda")
    both = '[deploy.environment]\nLOG_LEVEL = "DEBUG"\nFEATURE = "on"'
    deployment(config_with(tmp_path, both)).apply()
    env = lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    assert env["OFFHOURS_ENVIRONMENT"] == "FEATURE,LOG_LEVEL"
    lam.update_function_configuration(
        FunctionName=FN, Environment={"Variables": {**env, "SET_BY_SOMEONE_ELSE": "1"}}
    )
    one = deployment(config_with(tmp_path, '[deploy.environment]\nLOG_LEVEL = "DEBUG"'))
    change = next(c for c in one.plan() if c.kind == "lambda function")
    assert change.details == ("environment: OFFHOURS_ENVIRONMENT changed, FEATURE removed",)
    one.apply()
    env = lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    assert env == {
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1",
        "OFFHOURS_STATE_TABLE": f"{FN}-state",
        "LOG_LEVEL": "DEBUG",
        "OFFHOURS_ENVIRONMENT": "LOG_LEVEL",
        "SET_BY_SOMEONE_ELSE": "1",
    }
    deployment(config(tmp_path)).apply()
    env = lam.get_function_configuration(FunctionName=FN)["Environment"]["Variables"]
    assert env == {
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1",
        "OFFHOURS_STATE_TABLE": f"{FN}-state",
        "SET_BY_SOMEONE_ELSE": "1",
    }


# ---------------------------------------------------------------- regions


def test_aws_region_alone_is_enough(
    aws: Aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_REGION, as the messages say, and no AWS_DEFAULT_REGION nor [deploy] region."""
    from offhours import lambda_handler
    from offhours.secrets.aws import AwsSecretStore

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    path = tmp_path / "offhours.toml"
    text = CONFIG.format(
        fn=FN, memory=128, scheduler="scheduler", schedule="cron(0 18-23 ? * MON-FRI *)"
    )
    path.write_text(text.replace('region = "us-east-1"\n', ""))
    dep = deployment(load_config(path))
    assert dep.region == "eu-west-1"
    dep.apply()
    import boto3

    ssm = boto3.client("ssm", region_name="eu-west-1", endpoint_url=aws.endpoint)
    assert ssm.get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]["Version"] == 1
    ssm.put_parameter(Name="/offhours/region-probe", Value="eu", Type="String")
    assert AwsSecretStore().fetch("ssm", "/offhours/region-probe") == "eu"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FN)
    loaded = lambda_handler.load_lambda_config(
        {"OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:1", "AWS_REGION": "eu-west-1"}
    )
    assert loaded.hours.end == "18:00"


# ---------------------------------------------------------------- fingerprints, not decryption


def test_apply_twice_never_decrypts_and_the_second_changes_nothing(
    aws: Aws, tmp_path: Path
) -> None:
    """The key policy no longer lets the deployer decrypt, so `apply` must not need to: every
    KMS call both applies make is recorded. (moto's IAM enforcement cannot stand in for a
    deployer here: with it on, its signature check refuses Lambda's GET calls, and it never
    evaluates a key policy's Allow statements.)"""
    calls: list[str] = []
    session = boto3.session.Session(region_name="us-east-1")
    session.events.register("before-call.kms", lambda model, **_: calls.append(f"kms:{model.name}"))
    cfg = config(tmp_path)

    def apply() -> list[Change]:
        return Deployment(cfg, code=tiny_zip(), environ=ENV, session=session).apply()

    assert actions(apply())[f"ssm parameter /offhours/{FN}/config"] == "create"
    assert calls.count("kms:Encrypt") == 3  # username, password, webhook
    calls.clear()
    assert {c.action for c in apply()} == {"unchanged"}
    assert not set(calls) & {*DECRYPTING, "kms:Encrypt"}, calls
    assert aws.client("lambda").get_alias(FunctionName=FN, Name="live")["FunctionVersion"] == "1"
    param = aws.client("ssm").get_parameter(Name=f"/offhours/{FN}/config")["Parameter"]
    assert param["Version"] == 1


def test_a_document_without_fingerprints_is_re_encrypted_once_then_stable(
    aws: Aws, tmp_path: Path
) -> None:
    """What an earlier offhours stored: ciphertext and no fingerprints."""
    cfg = config(tmp_path)
    deployment(cfg).apply()
    old = stored_document(aws)
    del old["_offhours_deploy"]
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FN}/config", Value=json.dumps(old), Type="String", Overwrite=True
    )
    changes = deployment(cfg).apply()
    change = next(c for c in changes if c.kind == "ssm parameter")
    reason = "with context LambdaFunctionName=offhours-audit (no fingerprint stored yet)"
    assert change.details == (
        f"secret sources[0].username re-encrypted {reason}",
        f"secret sources[0].password re-encrypted {reason}",
        f"secret notifiers[0].webhook_url re-encrypted {reason}",
        "version 3",
    )
    new = stored_document(aws)
    assert set(fingerprints(new)) == {
        "sources[0].username",
        "sources[0].password",
        "notifiers[0].webhook_url",
    }
    key_arn = aws.client("kms").describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Arn"]
    assert {entry["key"] for entry in fingerprints(new).values()} == {key_arn}
    assert {c.action for c in deployment(cfg).apply()} == {"unchanged"}
    assert stored_document(aws) == new
    # Never shown: no fingerprint, no ciphertext, no secret in what plan and apply say.
    said = "\n".join(str(c) for c in [*changes, *deployment(cfg).plan()])
    assert "scrypt$" not in said and "kms:A" not in said
    for entry in fingerprints(new).values():
        assert entry["fingerprint"].split("$")[-1] not in said


def test_ciphertext_edited_by_hand_is_re_encrypted(aws: Aws, tmp_path: Path) -> None:
    """Each fingerprint covers the ciphertext beside it: swapped ciphertexts do not pass."""
    cfg = config(tmp_path)
    deployment(cfg).apply()
    document = stored_document(aws)
    source = document["sources"][0]
    source["username"], source["password"] = source["password"], source["username"]
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FN}/config", Value=json.dumps(document), Type="String", Overwrite=True
    )
    change = next(c for c in deployment(cfg).apply() if c.kind == "ssm parameter")
    assert [d.rsplit("(", 1)[-1] for d in change.details[:2]] == ["changed)", "changed)"]
    assert stored_password_key(aws, FN)  # decrypts to the password again
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


# ---------------------------------------------------------------- what a change says


def test_plan_says_what_changed_in_each_resource(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    # Someone made the log group keep its events for ever.
    aws.client("logs").delete_retention_policy(logGroupName=f"/aws/lambda/{FN}")
    path = tmp_path / "offhours.toml"
    path.write_text(
        path.read_text()
        .replace('team = "platform"', 'team = "ops", owner = "alice"')
        .replace("cron(0 18-23 ? * MON-FRI *)", "cron(0 19-23 ? * MON-FRI *)")
        .replace("memory = 128", "memory = 256")
    )
    cfg = load_config(path)
    plan = {f"{c.kind} {c.name}": c for c in deployment(cfg).plan()}
    tags = "tags: owner added (alice), team platform → ops"
    assert plan[f"lambda function {FN}"].details == ("memory 128 MB → 256 MB", tags)
    assert plan[f"log group /aws/lambda/{FN}"].details == (
        "retention: never expires → 30 days",
        tags,
    )
    assert plan[f"iam role {FN}-role"].details == (tags,)
    assert plan[f"state table {FN}-state"].details[-1] == tags
    assert plan[f"schedule offhours/{FN}"].details == (
        "schedule cron(0 18-23 ? * MON-FRI *) → cron(0 19-23 ? * MON-FRI *)",
        "description changed",
    )
    # Every resource that carries tags says so: apply writes them, and then all is in line.
    assert all(c.action == "update" for k, c in plan.items() if tags in c.details)
    applied = deployment(cfg).apply()
    lam = aws.client("lambda")
    function_arn = lam.get_function(FunctionName=FN)["Configuration"]["FunctionArn"]
    assert lam.list_tags(Resource=function_arn)["Tags"]["team"] == "ops"
    assert aws.client("iam").list_role_tags(RoleName=f"{FN}-role")["Tags"]
    assert {c.action for c in applied} >= {"update"}
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


def test_a_role_of_another_account_is_flagged_by_plan(aws: Aws, tmp_path: Path) -> None:
    role = "arn:aws:iam::999999999999:role/lambda_ravello"
    plan = deployment(config_with(tmp_path, f'role_arn = "{role}"')).plan()
    (change,) = [c for c in plan if c.kind == "iam role" and c.name.startswith(role)]
    assert change.details == (
        "a role of account 999999999999, not of 123456789012 where the function is deployed: "
        "Lambda refuses it (iam:PassRole across accounts); leave role_arn out",
    )
