"""`offhours deploy` and incident memory, against moto's server: the state table, the role's
one statement on it, and the digest's schedule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from offhours.config import Config, load_config
from offhours.deploy.aws import DeployError, Deployment
from offhours.deploy.spec import DIGEST_INPUT, MANAGED_TAG, STATE_STATEMENT
from offhours.state.dynamodb import ITEM_ACTIONS, OPEN_INDEX, TTL_ATTRIBUTE, table_definition
from tests.aws import Aws
from tests.functional.test_deploy import CONFIG, ENV, FN, actions, deployment, tiny_zip

TABLE = f"{FN}-state"
DIGEST = "cron(0 9 ? * MON *)"


def config(
    tmp_path: Path,
    *,
    scheduler: str = "scheduler",
    digest: str | None = None,
    store: str | None = None,
) -> Config:
    text = CONFIG.format(
        fn=FN, memory=128, scheduler=scheduler, schedule="cron(0 18-23 ? * MON-FRI *)"
    )
    if digest is not None:
        text = text.replace("memory = 128\n", f'memory = 128\ndigest_schedule = "{digest}"\n')
    if store is not None:
        text += f'\n[memory]\nstore = "{store}"\n'
    path = tmp_path / "offhours.toml"
    path.write_text(text)
    return load_config(path)


def ttl_and_recovery(aws: Aws) -> tuple[dict[str, str], str]:
    ddb = aws.client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    backups = ddb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    return ttl, backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]


def role_statements(aws: Aws) -> dict[str, dict[str, object]]:
    policy = aws.client("iam").get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def function_env(aws: Aws) -> dict[str, str]:
    function = aws.client("lambda").get_function_configuration(FunctionName=FN)
    return dict(function["Environment"]["Variables"])


# ---------------------------------------------------------------- the state table


def test_apply_creates_the_state_table_then_changes_nothing(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert actions(deployment(cfg).apply())[f"state table {TABLE}"] == "create"
    table = aws.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == table_definition(TABLE)["KeySchema"]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == OPEN_INDEX
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [
        ("open", "HASH"),
        ("pk", "RANGE"),
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl, recovery = ttl_and_recovery(aws)
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", TTL_ATTRIBUTE)
    assert recovery == "ENABLED"
    tags = aws.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "team": "platform",
        MANAGED_TAG: "offhours",
        "offhours:function": FN,
    }
    assert function_env(aws)["OFFHOURS_STATE_TABLE"] == TABLE
    again = deployment(cfg).apply()
    assert {c.action for c in again} == {"unchanged"}


def test_ttl_and_point_in_time_recovery_drift_is_repaired(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    ddb = aws.client("dynamodb")
    ddb.update_time_to_live(
        TableName=TABLE,
        TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": False},
    )
    ddb.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    plan = next(c for c in deployment(cfg).plan() if c.kind == "state table")
    assert (plan.action, plan.details) == (
        "update",
        (f"TTL turned on for {TTL_ATTRIBUTE}", "point-in-time recovery turned on"),
    )
    assert ttl_and_recovery(aws)[1] == "DISABLED"  # plan changed nothing
    applied = next(c for c in deployment(cfg).apply() if c.kind == "state table")
    assert applied == plan
    ttl, recovery = ttl_and_recovery(aws)
    assert (ttl["TimeToLiveStatus"], recovery) == ("ENABLED", "ENABLED")
    assert {c.action for c in deployment(cfg).plan()} == {"unchanged"}


def test_destroy_keeps_the_table_and_delete_state_removes_it(aws: Aws, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    deployment(cfg).apply()
    kept = next(c for c in deployment(cfg).destroy() if c.kind == "state table")
    assert kept.action == "unchanged"
    assert kept.details == (
        f"kept: state table {TABLE} holds incident history; "
        "offhours deploy destroy --delete-state removes it",
    )
    ddb = aws.client("dynamodb")
    assert ddb.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"
    preview = next(
        c for c in deployment(cfg).destroy(dry=True, delete_state=True) if c.kind == "state table"
    )
    assert preview.action == "delete"
    assert ddb.describe_table(TableName=TABLE)
    deleted = next(c for c in deployment(cfg).destroy(delete_state=True) if c.kind == "state table")
    assert str(deleted) == str(preview)
    assert TABLE not in ddb.list_tables()["TableNames"]


def plant_table(aws: Aws, key: str, tags: dict[str, str] | None = None) -> Any:
    """A table named as the deployment's, made by someone else: one hash key ``key``."""
    ddb = aws.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return ddb


def test_a_table_of_that_name_not_created_by_offhours_is_never_touched(
    aws: Aws, tmp_path: Path
) -> None:
    ddb = plant_table(aws, "id")
    cfg = config(tmp_path)
    with pytest.raises(DeployError, match=r"not created by offhours.*\[memory\] table"):
        deployment(cfg).apply()
    left = next(c for c in deployment(cfg).destroy(delete_state=True) if c.kind == "state table")
    assert (left.action, left.details) == ("unchanged", ("not created by offhours: left alone",))
    assert ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"][0]["AttributeName"] == "id"


def test_a_table_of_another_layout_is_an_error_with_the_fix(aws: Aws, tmp_path: Path) -> None:
    plant_table(aws, "pk", {MANAGED_TAG: "offhours", "offhours:function": FN})
    with pytest.raises(DeployError, match=r"another version of offhours.*--delete-state"):
        deployment(config(tmp_path)).plan()


@pytest.mark.parametrize(
    ("store", "why"),
    [
        ("off", '[memory] store = "off": the function keeps no memory'),
        ("sqlite", "a Lambda function keeps no SQLite file between runs"),
    ],
)
def test_without_dynamodb_memory_no_table_statement_or_variable(
    aws: Aws, tmp_path: Path, store: str, why: str
) -> None:
    cfg = config(tmp_path, store=store)
    # No table and none wanted: plan says nothing of one.
    assert not [c for c in deployment(cfg).plan() if c.kind == "state table"]
    deployment(cfg).apply()
    assert TABLE not in aws.client("dynamodb").list_tables()["TableNames"]
    assert STATE_STATEMENT not in role_statements(aws)
    assert "OFFHOURS_STATE_TABLE" not in function_env(aws)


def test_turning_memory_off_removes_the_grant_and_keeps_the_table(aws: Aws, tmp_path: Path) -> None:
    deployment(config(tmp_path)).apply()
    off = config(tmp_path, store="off")
    plan = {f"{c.kind} {c.name}": c for c in deployment(off).plan()}
    role = plan[f"iam role {FN}-role"]
    assert role.action == "update"
    assert any(STATE_STATEMENT in line and line.startswith("-") for line in role.details)
    # [memory] is in the function's configuration too: a new version of it is pinned.
    changed = plan[f"lambda function {FN}"].details[0]
    assert changed == "environment: OFFHOURS_CONFIG_SSM changed, OFFHOURS_STATE_TABLE removed"
    # The table from before stays, and plan says why the function no longer uses it.
    table = plan[f"state table {TABLE}"]
    assert table.action == "unchanged"
    assert table.details == (
        '[memory] store = "off": the function keeps no memory, every run tells everything',
        "an existing table is left as it is",
    )
    deployment(off).apply()
    assert STATE_STATEMENT not in role_statements(aws)
    assert "OFFHOURS_STATE_TABLE" not in function_env(aws)
    assert aws.client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"]


def test_the_role_uses_its_table_and_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With moto enforcing IAM, the role's statement allows the item operations offhours uses.

    moto checks actions against the resource "*" only, so a user holding the statement with
    its Resource made "*" stands in for the role: this proves which actions are allowed and
    refused; the exact table and index ARNs are checked in test_deploy's least-privilege test.
    """
    from tests.aws import enforce_iam, moto_subprocess

    cfg = config(tmp_path)
    with moto_subprocess() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        admin = boto3.session.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        Deployment(cfg, code=tiny_zip(), environ=ENV, session=admin).apply()
        iam = admin.client("iam")
        policy = iam.get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")
        (statement,) = [
            s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == STATE_STATEMENT
        ]
        assert sorted(statement["Action"]) == sorted(ITEM_ACTIONS)
        statement["Resource"] = "*"
        iam.create_user(UserName="function-stand-in")
        iam.put_user_policy(
            UserName="function-stand-in",
            PolicyName="offhours",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        key = iam.create_access_key(UserName="function-stand-in")["AccessKey"]
        enforce_iam(endpoint)
        ddb = boto3.session.Session(
            region_name="us-east-1",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        ).client("dynamodb")
        item = {"pk": {"S": "INC#x"}, "sk": {"S": "always"}, "open": {"S": "open"}}
        ddb.put_item(TableName=TABLE, Item=item)
        assert ddb.get_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
        found = ddb.query(
            TableName=TABLE,
            IndexName=OPEN_INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "open"},
            ExpressionAttributeValues={":o": {"S": "open"}},
        )
        assert found["Count"] == 1
        refused = [
            lambda: ddb.delete_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]}),
            lambda: ddb.delete_table(TableName=TABLE),
            lambda: ddb.describe_table(TableName=TABLE),
            lambda: ddb.list_tables(),
            lambda: ddb.update_time_to_live(
                TableName=TABLE,
                TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": False},
            ),
        ]
        for call in refused:
            with pytest.raises(Exception, match=r"AccessDenied|not authorized|403"):
                call()


#: (action, resource after the account, allowed)
REACH = [
    ("dynamodb:PutItem", f"table/{TABLE}", True),
    ("dynamodb:UpdateItem", f"table/{TABLE}", True),
    ("dynamodb:Query", f"table/{TABLE}/index/{OPEN_INDEX}", True),
    ("dynamodb:PutItem", "table/another-table", False),
    ("dynamodb:GetItem", f"table/{TABLE}-other", False),
    ("dynamodb:Query", f"table/{TABLE}/index/another-index", False),
    ("dynamodb:Scan", f"table/{TABLE}", True),  # the weekly digest's history
    ("dynamodb:DeleteItem", f"table/{TABLE}", False),  # TTL removes what ended
    ("dynamodb:DeleteTable", f"table/{TABLE}", False),
    ("dynamodb:PutItem", "table/*", False),
]


def test_the_deployed_policy_names_exactly_its_table(aws: Aws, tmp_path: Path) -> None:
    """What moto's server cannot enforce (it checks every DynamoDB call against "*"), its
    policy evaluator shows on the deployed document: the table and index, nothing else."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    deployment(config(tmp_path)).apply()
    policy = aws.client("iam").get_role_policy(RoleName=f"{FN}-role", PolicyName="offhours")
    evaluator = IAMPolicy(json.dumps(policy["PolicyDocument"]))
    account = aws.client("sts").get_caller_identity()["Account"]
    prefix = f"arn:aws:dynamodb:us-east-1:{account}:"
    got = [
        (action, resource, evaluator.is_action_permitted(action, prefix + resource))
        for action, resource, _ in REACH
    ]
    assert [(a, r, result == PermissionResult.PERMITTED) for a, r, result in got] == REACH


# ---------------------------------------------------------------- the digest's schedule


def test_digest_schedule_passes_the_digest_input_and_goes_when_removed(
    aws: Aws, tmp_path: Path
) -> None:
    with_digest = config(tmp_path, digest=DIGEST)
    first = actions(deployment(with_digest).apply())
    assert first[f"schedule offhours/{FN}-digest"] == "create"
    scheduler = aws.client("scheduler")
    schedule = scheduler.get_schedule(Name=f"{FN}-digest", GroupName="offhours")
    assert schedule["ScheduleExpression"] == DIGEST
    assert schedule["ScheduleExpressionTimezone"] == "America/New_York"
    assert schedule["Target"]["Arn"].endswith(f":function:{FN}:live")
    assert json.loads(schedule["Target"]["Input"]) == json.loads(DIGEST_INPUT)
    assert json.loads(schedule["Target"]["Input"])["offhours"] == "digest"
    # The audit's own schedule is unchanged beside it.
    audit = scheduler.get_schedule(Name=FN, GroupName="offhours")
    assert "offhours" not in json.loads(audit["Target"]["Input"])
    assert {c.action for c in deployment(with_digest).plan()} == {"unchanged"}

    without = config(tmp_path)
    plan = next(c for c in deployment(without).plan() if c.name == f"offhours/{FN}-digest")
    assert (plan.action, plan.details) == ("delete", ("digest_schedule removed",))
    deployment(without).apply()
    names = [s["Name"] for s in scheduler.list_schedules(GroupName="offhours")["Schedules"]]
    assert names == [FN]
    destroyed = actions(deployment(without).destroy())
    # Gone already: destroy has nothing to say of it.
    assert f"schedule offhours/{FN}-digest" not in destroyed


def test_digest_as_a_classic_rule_keeps_the_events_time(aws: Aws, tmp_path: Path) -> None:
    with_digest = config(tmp_path, scheduler="rule", digest=DIGEST)
    assert actions(deployment(with_digest).apply())[f"events rule {FN}-digest"] == "create"
    events = aws.client("events")
    rule = events.describe_rule(Name=f"{FN}-digest")
    assert rule["ScheduleExpression"] == DIGEST
    (target,) = events.list_targets_by_rule(Rule=f"{FN}-digest")["Targets"]
    assert target["Arn"].endswith(f":function:{FN}:live")
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"time": "$.time", "id": "$.id"}
    # What EventBridge sends: the template with the event's time and id put in.
    sent = transformer["InputTemplate"].replace("<time>", '"2026-12-07T14:00:00Z"')
    assert json.loads(sent.replace("<id>", '"e1"')) == {
        "time": "2026-12-07T14:00:00Z",
        "id": "e1",
        "offhours": "digest",
    }
    (audit,) = events.list_targets_by_rule(Rule=FN)["Targets"]
    assert "InputTransformer" not in audit
    policy = aws.client("lambda").get_policy(FunctionName=FN, Qualifier="live")["Policy"]
    sources = {s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in json.loads(policy)["Statement"]}
    assert sources == {rule["Arn"], events.describe_rule(Name=FN)["Arn"]}
    assert {c.action for c in deployment(with_digest).plan()} == {"unchanged"}

    without = config(tmp_path, scheduler="rule")
    plan = next(c for c in deployment(without).plan() if c.name == f"{FN}-digest")
    assert (plan.action, plan.details) == ("delete", ("digest_schedule removed",))
    deployment(without).apply()
    assert [r["Name"] for r in events.list_rules()["Rules"]] == [FN]
