"""`offhours deploy destroy` and the state table, end to end: kept, then `--delete-state`."""

from __future__ import annotations

from pathlib import Path

from tests.aws import Aws
from tests.e2e.test_cli_deploy import FN, SECRETS, CliRun
from tests.e2e.test_cli_deploy import project as project  # the fixture, used by name

TABLE = f"{FN}-state"


def test_destroy_keeps_the_state_table_unless_delete_state(
    cli: CliRun, project: Path, aws: Aws
) -> None:
    applied = cli("deploy", "apply", "--package", "offhours-lambda.zip", env=SECRETS)
    assert applied.code == 0, applied.stderr
    assert f"+ create    state table {TABLE}" in applied.stdout
    ddb = aws.client("dynamodb")
    assert TABLE in ddb.list_tables()["TableNames"]

    destroyed = cli("deploy", "destroy", "--yes")
    assert destroyed.code == 0, destroyed.stderr
    assert (
        f"= keep      state table {TABLE}\n      kept: state table {TABLE} holds incident "
        "history; offhours deploy destroy --delete-state removes it"
    ) in destroyed.stdout
    assert TABLE in ddb.list_tables()["TableNames"]

    preview = cli("deploy", "destroy", "--dry-run", "--delete-state")
    assert f"- delete    state table {TABLE}" in preview.stdout
    assert TABLE in ddb.list_tables()["TableNames"]
    deleted = cli("deploy", "destroy", "--yes", "--delete-state")
    assert deleted.code == 0, deleted.stderr
    assert f"- delete    state table {TABLE}\n      with its incident history" in deleted.stdout
    assert TABLE not in ddb.list_tables()["TableNames"]
