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
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
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
SERVICES = (
    "sts",
    "iam",
    "kms",
    "lambda",
    "ssm",
    "logs",
    "scheduler",
    "events",
    "cloudwatch",
    "dynamodb",
)

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
        "scheduler-tracing-digest",
        {
            "tracing": "Active",
            "on_failure": "arn:aws:sqs:us-east-1:123456789012:offhours-failures",
            "digest_schedule": "cron(0 9 ? * MON *)",
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


# Set by `one_provider`: where the running provider listens.
_REATTACH: dict[str, str] = {}


@pytest.fixture(scope="module")
def one_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One AWS provider process for every terraform command of this module, and the
    directory they all run in (the provider's own working directory, so that it reads the zip
    by the export's relative path, as it does when Terraform starts it).

    Terraform otherwise starts the 700 MB provider afresh for each validate, plan and apply
    (several times per apply); in debug mode it starts once and each command attaches to it
    (TF_REATTACH_PROVIDERS). The commands and what they do are unchanged."""
    work = tmp_path_factory.mktemp("terraform")
    binary = next(
        TF_PLUGINS.glob("registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*")
    )
    log = tmp_path_factory.mktemp("provider") / "provider.log"  # outside `work`
    # In debug mode the provider refuses AWS_CA_BUNDLE ("unable to add custom RootCAs"); moto
    # is plain HTTP on loopback, where no CA bundle is used anyway.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - the provider binary of the local mirror
            [binary, "-debug"], cwd=work, stdout=out, stderr=subprocess.STDOUT, text=True, env=env
        )
    try:
        deadline = time.monotonic() + 180
        while not (found := re.search(r"TF_REATTACH_PROVIDERS='([^']+)'", log.read_text())):
            assert process.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the provider did not start in 180 s"
            time.sleep(0.2)
        _REATTACH["TF_REATTACH_PROVIDERS"] = found[1]
        yield work
    finally:
        _REATTACH.clear()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def work(one_provider: Path) -> Path:
    """The provider's directory, emptied of the previous test's files and state (the
    providers `init` installed are kept)."""
    for path in one_provider.iterdir():
        if path.name not in (".terraform", ".terraform.lock.hcl"):
            path.unlink()
    return one_provider


def terraform(work: Path, *args: str) -> str:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", **_REATTACH}
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


def test_terraform_validates_with_existing_key_and_role(work: Path) -> None:
    # The other shapes are applied below; this one needs resources moto does not hold.
    key = f"arn:aws:kms:{REGION}:123456789012:key/0f3e8c1a-1111-2222-3333-444455556666"
    cfg = make(publish=False, key_arn=key, role_arn=ROLE_ARN)
    code(work)
    (work / "offhours.tf.json").write_text(export(cfg, format="terraform"))
    init(work)
    result = json.loads(terraform(work, "validate", "-json"))
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


def test_terraform_apply_leaves_deploy_plan_nothing_to_do(aws: Aws, work: Path) -> None:
    zip_bytes = code(work)
    point_at_moto(work, aws.endpoint)
    init(work)
    deploy: dict[str, Any] = {}
    for name, step in STEPS:
        deploy.update(step)
        cfg = make(**deploy)
        (work / "offhours.tf.json").write_text(export(cfg, format="terraform"))
        terraform(work, "apply", "-auto-approve", "-input=false")

        changes = Deployment(cfg, code=zip_bytes).plan()
        assert [str(c) for c in changes if c.action != "unchanged"] == [], name
    function = aws.client("lambda").get_function(FunctionName=FN)["Configuration"]
    assert function["KMSKeyArn"].startswith(f"arn:aws:kms:{REGION}:")
    assert (function["MemorySize"], function["TracingConfig"]["Mode"]) == (512, "Active")
    # The last step changed only the configuration: the function names its new version.
    assert function["Environment"]["Variables"] == {
        "OFFHOURS_CONFIG_SSM": f"/offhours/{FN}/config:2",
        "OFFHOURS_STATE_TABLE": f"{FN}-state",
    }


def test_kms_secrets_under_an_existing_key(aws: Aws, work: Path) -> None:
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

    zip_bytes = code(work)
    template = export(cfg, format="terraform")
    assert PASSWORD not in template
    (work / "offhours.tf.json").write_text(template)
    point_at_moto(work, aws.endpoint)
    init(work)
    terraform(work, "apply", "-auto-approve", "-input=false")

    changes = Deployment(cfg, code=zip_bytes).plan()
    assert [str(c) for c in changes if c.action != "unchanged"] == []
    assert not [a for a in kms.list_aliases()["Aliases"] if "offhours" in a["AliasName"]]
    function = aws.client("lambda").get_function(FunctionName=FN)["Configuration"]
    assert function["KMSKeyArn"] == key_arn
