"""The DynamoDB store (to be written): see :mod:`offhours.state.base` for the interface."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offhours.transport import Deadline

__all__ = ["DynamoStore"]


class DynamoStore:
    def __init__(
        self,
        table: str,
        *,
        region: str | None,
        keep: timedelta = timedelta(days=90),
        deadline: Deadline | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.table = table
        self.name = f"dynamodb {table}"
        raise NotImplementedError
