"""Where incident memory is kept: one small interface (:mod:`offhours.state.base`), two stores.

    sqlite.py    the default on the command line: one file in the user's state directory,
                 WAL, a versioned schema with migrations
    dynamodb.py  the deployed function's: the table ``offhours deploy`` creates (conditional
                 writes, TTL, point-in-time recovery), boto3 imported only when it is used

:func:`open_store` picks one from ``[memory]``; each module is imported only when chosen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from offhours.errors import ConfigError
from offhours.state.base import (
    SCHEMA_VERSION,
    Claim,
    Loaded,
    Run,
    StateError,
    Store,
    receipt_record,
)

if TYPE_CHECKING:
    from offhours.config import Config
    from offhours.transport import Deadline

__all__ = [
    "SCHEMA_VERSION",
    "STATE_TABLE_ENV",
    "Claim",
    "Loaded",
    "Run",
    "StateError",
    "Store",
    "default_table",
    "open_store",
    "receipt_record",
    "sqlite_path",
    "store_kind",
]

log = logging.getLogger(__name__)

#: the environment variable ``offhours deploy`` sets on the function: its table's name
STATE_TABLE_ENV = "OFFHOURS_STATE_TABLE"


def store_kind(config: Config, *, on_lambda: bool) -> Literal["sqlite", "dynamodb", "off"]:
    """The store ``[memory] store`` means here (``auto``: DynamoDB on Lambda, else SQLite)."""
    kind = config.memory.store
    if kind == "auto":
        return "dynamodb" if on_lambda else "sqlite"
    return kind


def default_table(config: Config) -> str:
    """``[memory] table``, else ``<function_name>-state``: the table deploy creates."""
    return config.memory.table or f"{config.deploy.function_name}-state"


def sqlite_path(config: Config) -> Path:
    """``[memory] path`` (``~`` expanded, relative to the config file), else
    ``offhours/<function_name>.db`` in the user's state directory (platformdirs: on Linux
    ``$XDG_STATE_HOME``, else ``~/.local/state``)."""
    given = config.memory.path
    if given:
        path = Path(given).expanduser()
        if not path.is_absolute() and config.path is not None:
            path = config.path.resolve().parent / path
        return path
    try:
        import platformdirs
    except ModuleNotFoundError:
        raise ConfigError(
            "[memory] path is not set and the user's state directory cannot be found "
            "without platformdirs: set [memory] path, or pip install 'offhours[cli]'"
        ) from None
    return Path(platformdirs.user_state_dir()) / "offhours" / f"{config.deploy.function_name}.db"


def open_store(
    config: Config,
    *,
    on_lambda: bool = False,
    environ: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
    table: str | None = None,
    region: str | None = None,
) -> Store | None:
    """The store ``[memory]`` names, or ``None`` when memory is off. ``table``/``region``
    (``--deployment``, the function's environment) replace the configured table. Opening never
    touches the network; a store that cannot be used raises StateError on first use."""
    env = os.environ if environ is None else environ
    kind = "dynamodb" if table else store_kind(config, on_lambda=on_lambda)
    keep = timedelta(days=config.memory.keep_days)
    if kind == "off":
        return None
    if on_lambda and config.memory.store == "auto" and not table and not env.get(STATE_TABLE_ENV):
        # A function not deployed by `offhours deploy` (nor from its export) has no table.
        log.warning(
            "memory is off: %s is not set (offhours deploy sets it to the table it creates); "
            'set [memory] store = "dynamodb" and table to use an existing table',
            STATE_TABLE_ENV,
        )
        return None
    if kind == "sqlite":
        from offhours.state.sqlite import SqliteStore

        return SqliteStore(sqlite_path(config), keep=keep)
    from offhours.aws_region import aws_region
    from offhours.state.dynamodb import DynamoStore

    name = table or (env.get(STATE_TABLE_ENV) if on_lambda else None) or default_table(config)
    return DynamoStore(
        name,
        region=region or aws_region(config.deploy.region, env),
        keep=keep,
        deadline=deadline,
    )
