"""The Terraform export, checked by Terraform itself and against moto.

Equivalence with `offhours deploy apply`, tested the strong way: Terraform applies the export to
moto, then `Deployment.plan()` (what `offhours deploy plan` prints) must find nothing to change.
Needs the terraform binary and a local mirror of the hashicorp/aws provider (no download).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from offhours.config import Config, parse_config
from offhours.deploy.aws import Deployment
from offhours.deploy.export import export
from offhours.deploy.spec import CONTEXT_KEY
from tests.aws import REGION, TEST_KEYS, Aws

FN = "offhours-audit"
PASSWORD = "sentinel-export-password-3e1f"
TF_PLUGINS = Path(os.environ.get("OFFHOURS_TF_PLUGIN_DIR", "/opt/tf-plugins"))
TERRAFORM = shutil.which("terraform")
# What `deploy apply` and the export both touch: each endpoint set to moto.
SERVICES = ("sts", "iam", "kms", "lambda", "ssm", "logs", "scheduler", "events", "cloudwatch")

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not TF_PLUGINS.is_dir(),
    reason="terraform or its local provider mirror (OFFHOURS_TF_PLUGIN_DIR) is not installed",
)

BASE: dict[str, Any] = {
    "hours": {"timezone": "America/New_York", "start": "08:00", "end": "18:00"},
    "deploy": {
        "function_name": FN,
        "region": REGION,
        "memory": 256,
        "schedule": "cron(0 18-23 ? * MON-FRI *)",
        "log_retention_days": 14,
        "environment": {"LOG_LEVEL": "INFO"},
        "tags": {"team": "platform"},
    },
    "sources": [
        {
            "type": "ravello",
            "username": "ssm:/offhours/ravello-user",
            "password": "secretsmanager:offhours/ravello#password",
        }
    ],
    "notifiers": [{"type": "slack", "webhook_url": "ssm:/offhours/slack-hook"}],
}

# Applied one after the other to the same state: each step is also a change of an existing stack.
STEPS: list[tuple[str, dict[str, Any]]] = [
    # Tracing from the start: moto's UpdateFunctionConfiguration ignores TracingConfig.
    # The failure destination too: moto's UpdateFunctionEventInvokeConfig appends a second
    # configuration instead of replacing the first, so it is set once.
    (
        "scheduler-tracing",
        {
            "tracing": "Active",
            "on_failure": "arn:aws:sqs:us-east-1:123456789012:offhours-failures",
        },
    ),
    ("rule", {"scheduler": "rule", "schedule": "cron(0 22 ? * MON-FRI *)"}),
    (
        "vpc",
        {
            "vpc": {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": []},
            "memory": 512,
        },
    ),
    # An alarm; a configuration-only change (a new parameter version that the function must
    # pin); a variable of [deploy.environment] removed.
    (
        "alarm-config",
        {
            "alarm_topic": "arn:aws:sns:us-east-1:123456789012:offhours-alarms",
            "hours_end": "19:00",
            "environment": {},
        },
    ),
]
ROLE_ARN = "arn:aws:iam::123456789012:role/existing-offhours"


def make(**deploy: Any) -> Config:
    data = copy.deepcopy(BASE)
    if "hours_end" in deploy:
        data["hours"]["end"] = deploy.pop("hours_end")
    data["deploy"].update(deploy)
    return parse_config(data)


def code(work: Path) -> bytes:
    path = work / "offhours-lambda.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("offhours/__init__.py", (1980, 1, 1, 0, 0, 0)), "")
    return path.read_bytes()


def terraform(work: Path, *args: str) -> str:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    done = subprocess.run(  # noqa: S603 - a fixed binary and arguments
        [TERRAFORM or "terraform", *args, "-no-color"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def init(work: Path) -> None:
    terraform(work, "init", "-backend=false", "-input=false", f"-plugin-dir={TF_PLUGINS}")


def test_terraform_validates_with_existing_key_and_role(tmp_path: Path) -> None:
    # The other shapes are applied below; this one needs resources moto does not hold.
    key = f"arn:aws:kms:{REGION}:123456789012:key/0f3e8c1a-1111-2222-3333-444455556666"
    cfg = make(publish=False, key_arn=key, role_arn=ROLE_ARN)
    code(tmp_path)
    (tmp_path / "offhours.tf.json").write_text(export(cfg, format="terraform"))
    init(tmp_path)
    result = json.loads(terraform(tmp_path, "validate", "-json"))
    assert result["valid"] is True, result["diagnostics"]


def point_at_moto(work: Path, endpoint: str) -> None:
    # An override file merges into the provider block: the export itself stays as written.
    provider = {
        "region": REGION,
        "access_key": TEST_KEYS["AWS_ACCESS_KEY_ID"],
        "secret_key": TEST_KEYS["AWS_SECRET_ACCESS_KEY"],
        "skip_credentials_validation": True,
        "skip_metadata_api_check": True,
        "endpoints": dict.fromkeys(SERVICES, endpoint),
    }
    (work / "override.tf.json").write_text(json.dumps({"provider": {"aws": provider}}))


def test_terraform_apply_leaves_deploy_plan_nothing_to_do(aws: Aws, tmp_path: Path) -> None:
    zip_bytes = code(tmp_path)
    point_at_moto(tmp_path, aws.endpoint)
    init(tmp_path)
    deploy: dict[str, Any] = {}
    for name, step in STEPS:
        deploy.update(step)
        cfg = make(**deploy)
        (tmp_path / "offhours.tf.json").write_text(export(cfg, format="terraform"))
        terraform(tmp_path, "apply", "-auto-approve", "-input=false")

        changes = Deployment(cfg, code=zip_bytes).plan()
        assert [str(c) for c in changes if c.action != "unchanged"] == [], name
    function = aws.client("lambda").get_function(FunctionName=FN)["Configuration"]
    assert function["KMSKeyArn"].startswith(f"arn:aws:kms:{REGION}:")
    assert (function["MemorySize"], function["TracingConfig"]["Mode"]) == (512, "Active")
    # The last step changed only the configuration: the function names its new version.
    assert function["Environment"]["Variables"] == {
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:2"
    }


def test_kms_secrets_under_an_existing_key(aws: Aws, tmp_path: Path) -> None:
    """Ciphertext made beforehand with the function's context, [deploy] key_arn naming its key."""
    kms = aws.client("kms")
    key_arn = kms.create_key(Description="offhours test key")["KeyMetadata"]["Arn"]
    blob = kms.encrypt(
        KeyId=key_arn, Plaintext=PASSWORD.encode(), EncryptionContext={CONTEXT_KEY: FN}
    )["CiphertextBlob"]
    data = copy.deepcopy(BASE)
    data["sources"][0]["password"] = "kms:" + base64.b64encode(blob).decode()
    # Read locally with the same context, so plan can compare what the function will decrypt.
    data["secrets"] = {"kms": {"context": {CONTEXT_KEY: FN}}}
    data["deploy"].update(key_arn=key_arn, publish=False)
    cfg = parse_config(data)

    zip_bytes = code(tmp_path)
    template = export(cfg, format="terraform")
    assert PASSWORD not in template
    (tmp_path / "offhours.tf.json").write_text(template)
    point_at_moto(tmp_path, aws.endpoint)
    init(tmp_path)
    terraform(tmp_path, "apply", "-auto-approve", "-input=false")

    changes = Deployment(cfg, code=zip_bytes).plan()
    assert [str(c) for c in changes if c.action != "unchanged"] == []
    assert not [a for a in kms.list_aliases()["Aliases"] if "offhours" in a["AliasName"]]
    function = aws.client("lambda").get_function(FunctionName=FN)["Configuration"]
    assert function["KMSKeyArn"] == key_arn
