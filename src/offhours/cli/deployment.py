"""Which store a memory command works on: the local one ``[memory]`` names, or with
``--deployment NAME`` the table of the deployed function NAME.

The deployed table is read from the function's own environment (``OFFHOURS_STATE_TABLE``, set by
``offhours deploy``), so a table renamed in ``[memory] table`` or a function deployed from
another config file is still found; the lookup is one ``lambda:GetFunctionConfiguration``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offhours.errors import ConfigError

if TYPE_CHECKING:
    from offhours.config import Config
    from offhours.state import Store

__all__ = ["DeploymentOpt", "RegionOpt", "deployed_table", "memory_store"]

DeploymentOpt = Annotated[
    str | None,
    typer.Option(
        "--deployment",
        metavar="NAME",
        help="Work on the deployed function NAME's DynamoDB table instead of the local store",
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        metavar="REGION",
        help="AWS region of --deployment [default: [deploy] region, then AWS_REGION]",
    ),
]

#: the one call made, and how long it may take: a lookup, not a run
_LOOKUP = "lambda:GetFunctionConfiguration"
_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 10}


def deployed_table(function: str, region: str) -> str:
    """The state table of the deployed function ``function``: its ``OFFHOURS_STATE_TABLE``.

    Raises ConfigError (exit 2) when the function or the variable is missing, StateError
    (exit 1) when AWS cannot be asked."""
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError

    from offhours.state import STATE_TABLE_ENV

    where = f"lambda function {function} ({region})"
    config = BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, **_TIMEOUTS)
    try:
        client: Any = boto3.session.Session(region_name=region).client("lambda", config=config)
        answer = client.get_function_configuration(FunctionName=function)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise ConfigError(
                f"--deployment {function!r}: no Lambda function of that name in {region}; "
                "give the deployed [deploy] function_name, and --region where it runs"
            ) from None
        raise _unreachable(where, exc) from None
    except BotoCoreError as exc:
        raise _unreachable(where, exc) from None
    variables = (answer.get("Environment") or {}).get("Variables") or {}
    table = variables.get(STATE_TABLE_ENV)
    if not isinstance(table, str) or not table.strip():
        raise ConfigError(
            f"--deployment {function!r}: the function in {region} has no {STATE_TABLE_ENV} "
            "variable, so it keeps no incident memory; deploy it with this offhours "
            '(`offhours deploy apply`) and [memory] store not "off"'
        )
    return table.strip()


def _unreachable(where: str, exc: BaseException) -> Exception:
    from offhours.secrets.aws import explain
    from offhours.state import StateError

    return StateError(
        where,
        f"cannot read its configuration: {explain(exc, _LOOKUP, {})}",
        f"check the AWS credentials and that they may call {_LOOKUP} on it",
    )


@contextmanager
def memory_store(
    config: Config, *, deployment: str | None = None, region: str | None = None
) -> Iterator[Store]:
    """The store these commands work on, closed afterwards. Memory off in the config is a
    usage error: there is nothing to inspect or steer."""
    from offhours.state import open_store

    if config.memory.store == "off":
        raise ConfigError(f"memory is off in {config.label} ([memory] store)")
    table = where = None
    if deployment is not None:
        from offhours.aws_region import aws_region

        where = aws_region(region or config.deploy.region)
        if where is None:
            raise ConfigError(
                "no AWS region for --deployment; give --region, or set [deploy] region or "
                "AWS_REGION"
            )
        table = deployed_table(deployment, where)
    store = open_store(config, table=table, region=where)
    if store is None:  # memory off: refused above
        raise ConfigError(f"memory is off in {config.label} ([memory] store)")
    try:
        yield store
    finally:
        store.close()
