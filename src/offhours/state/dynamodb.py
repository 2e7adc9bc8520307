"""The DynamoDB store: the deployed function's memory (see :mod:`offhours.state.base`).

One table per deployment, made by ``offhours deploy`` from :func:`table_definition` (on-demand
billing, TTL on ``expires``, point-in-time recovery, encrypted at rest), items::

    pk                    sk            what
    INC#<resource key>    <period>      an incident (period: start, UTC ISO, or "always");
                                        ``open = "open"`` only while open (the sparse index
                                        OPEN_INDEX lists open incidents without a scan)
    RUN#<run id>          run           a run identity: state, token, lease, receipts
    SNOOZE                <scope>#<target>#<created>   a snooze
    META                  schema        the schema version

Resolved incidents, runs and snoozes carry ``expires`` (epoch seconds: ``keep`` after they
end), so DynamoDB's TTL removes them; open incidents never expire.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offhours.transport import Deadline

__all__ = ["ITEM_ACTIONS", "OPEN_INDEX", "TTL_ATTRIBUTE", "DynamoStore", "table_definition"]

#: the sparse index of open incidents (partition key ``open``, sort key ``pk``)
OPEN_INDEX = "open-incidents"
#: the attribute DynamoDB's TTL reads (epoch seconds)
TTL_ATTRIBUTE = "expires"
#: the item operations the function's role is allowed, on exactly its table and OPEN_INDEX
ITEM_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)


def table_definition(name: str) -> dict[str, Any]:
    """``CreateTable`` arguments of a state table (TTL and point-in-time recovery are set
    after creation: ``UpdateTimeToLive``, ``UpdateContinuousBackups``)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "open", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": OPEN_INDEX,
                "KeySchema": [
                    {"AttributeName": "open", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "SSESpecification": {"Enabled": True},
    }


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
