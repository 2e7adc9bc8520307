"""The DynamoDB store: the deployed function's memory (see :mod:`offhours.state.base`).

One table per deployment, made by ``offhours deploy`` from :func:`table_definition` (on-demand
billing, TTL on ``expires``, point-in-time recovery, encrypted at rest), items::

    pk                    sk            what
    INC#<resource key>    <period>      an incident (period: start, UTC ISO, or "always");
                                        ``open = "open"`` only while open (the sparse index
                                        OPEN_INDEX lists open incidents without a scan)
    RUN#<run id>          run           a run identity: state, token, lease, receipts;
                                        ``open = "run-posting"`` only while posting (the same
                                        index finds runs that died between posting and
                                        recording, without a scan)
    SNOOZE                <scope>#<target>#<created>   a snooze
    META                  schema        the schema version

Resolved incidents, runs and snoozes carry ``expires`` (epoch seconds: ``keep`` after they
end), so DynamoDB's TTL removes them; open incidents never expire.

Every write that decides something is conditional: a run's claim (``attribute_not_exists``, or
the old attempt's token to take an expired claim over), each incident change (its version),
the run's moves to ``posting`` and ``done`` (its token). A read of the index is only a list of
keys: the items are then read strongly consistent (``BatchGetItem``), so a version is never
stale. Throttling is retried by botocore (adaptive mode, a few attempts, timeouts within the
run's deadline); whatever is left becomes a :class:`StateError` naming the table and the fix.

A run reads no Scan. The reads that are not a run's (resolved incidents, ``history`` for the
weekly digest, ``runs``, ``export``) Scan the table, paginated: it holds ``keep`` days of one
deployment's items. The first use of a store reads ``META``: a table written by a newer
offhours is refused; a new one is marked with this schema's version.
"""

from __future__ import annotations

import html
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from offhours.incidents import Change, Incident, Snooze
from offhours.logs import scrub
from offhours.state.base import (
    SCHEMA_VERSION,
    Claim,
    Loaded,
    Run,
    StateError,
    receipt_record,
)
from offhours.untrusted import one_line

if TYPE_CHECKING:
    from offhours.model import Receipt
    from offhours.transport import Deadline

__all__ = ["ITEM_ACTIONS", "OPEN_INDEX", "TTL_ATTRIBUTE", "DynamoStore", "table_definition"]

#: the sparse index of open incidents (partition key ``open``, sort key ``pk``)
OPEN_INDEX = "open-incidents"
#: the attribute DynamoDB's TTL reads (epoch seconds)
TTL_ATTRIBUTE = "expires"
#: the item operations the function's role is allowed, on exactly its table and OPEN_INDEX.
#: Scan only for the weekly digest (``history``), which the function runs on its schedule.
ITEM_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
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


# The sparse index's partitions.
_OPEN = "open"
_POSTING = "run-posting"
_INCIDENT, _RUN, _SNOOZE, _META = "INC#", "RUN#", "SNOOZE", "META"

Item = dict[str, Any]  # an item in DynamoDB's typed form: {"name": {"S": "…"}, …}

# Per call: short timeouts (capped by what is left of the run's deadline) and few attempts;
# adaptive mode also slows this client down while DynamoDB throttles it.
_CONNECT, _READ, _ATTEMPTS = 3.0, 5.0, 3
#: incidents written at once by apply(), and the client's connections for them
_WRITERS = 16
_FLOOR = 0.5  # no timeout shorter than this: a call must be able to succeed
_TIGHTEST = _ATTEMPTS * 2 * _FLOOR
# BatchGetItem's limit per request, and how often keys it left unprocessed are asked again.
_BATCH, _UNPROCESSED_TRIES = 100, 6
# What a server may echo of credentials: access key ids and long base64 runs are cut out.
_CREDENTIAL = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|[A-Za-z0-9/+=]{64,}")
_MAX_TEXT = 300
_XML_CODE = re.compile(r"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,2000})</Message>")
# The smallest magnitude a DynamoDB number holds.
_SMALLEST = 1e-130

_MISSING_FIX = "offhours deploy creates it; or set [memory] table to the deployed table's name"
_DENIED_FIX = (
    "the function's role allows only the item operations on its own table: check [memory] table "
    "(or --deployment) names that table, or run `offhours deploy` to grant them"
)
_THROTTLED_FIX = "try again; the table is on-demand, so this passes"
_CREDENTIALS_FIX = "refresh the AWS credentials (or the role's session) and run again"
_FIXES = {
    "ResourceNotFoundException": _MISSING_FIX,
    **dict.fromkeys(("AccessDeniedException", "AccessDenied"), _DENIED_FIX),
    **dict.fromkeys(
        (
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
            "Throttling",
        ),
        _THROTTLED_FIX,
    ),
    **dict.fromkeys(
        (
            "ExpiredTokenException",
            "ExpiredToken",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "InvalidClientTokenId",
        ),
        _CREDENTIALS_FIX,
    ),
    "ValidationException": (
        "the table does not have the layout offhours expects: `offhours state check` "
        "compares it; a table made by `offhours deploy` has it"
    ),
}


class _ConditionFailed(Exception):
    """A conditional write found the item otherwise: not an error, an answer."""


class DynamoStore:
    """The table ``table`` in ``region`` (``endpoint_url``, or boto3's ``AWS_ENDPOINT_URL``,
    for another endpoint). Opening never touches the network: the client is made on first
    use, with a boto3 session of its own and timeouts within ``deadline``."""

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
        self.region = region
        self.keep = keep
        self.deadline = deadline
        self.endpoint_url = endpoint_url
        self.name = f"dynamodb {table}" + (f" ({region})" if region else "")
        self._client: Any = None
        self._session: Any = None
        self._worst = math.inf  # the longest a call with the current client can take
        self._schema_checked = False
        # apply() writes from a few threads: one client made at a time, none closed in use
        self._lock = threading.Lock()
        self._retired: list[Any] = []

    # ------------------------------------------------------------------ a run

    def claim(self, run_id: str, *, now: datetime, lease_until: datetime) -> Claim:
        self._check_schema()
        mine = Run(run_id, "claimed", secrets.token_hex(16), now, lease_until)
        # Few rounds: each ends unless another attempt changed the run between our two calls.
        for _ in range(4):
            try:
                self._put(_run_item(mine, self.keep), "attribute_not_exists(pk)", {})
                return Claim("claimed", mine)
            except _ConditionFailed:
                pass
            found = self._get_run(run_id)
            if found is None:
                continue  # gone meanwhile (its TTL passed): claim it afresh
            if found.state == "done":
                return Claim("done", found)
            if found.state in ("posting", "gap-reported"):
                return Claim("posting", found)
            if found.state == "claimed" and now < found.lease_until:
                return Claim("busy", found)
            # Released, or claimed by an attempt whose lease passed: take it over on the old
            # token and state, so of two attempts taking over only one wins, and an old attempt
            # that reached posting meanwhile keeps its run.
            try:
                self._put(
                    _run_item(mine, self.keep),
                    "#token = :old AND #state = :was",
                    {":old": _s(found.token), ":was": _s(found.state)},
                )
                return Claim("claimed", mine, taken_over=found.state == "claimed")
            except _ConditionFailed:
                continue
        raise StateError(
            self.name,
            f"run {run_id}: its record kept changing while it was claimed",
            "another attempt of this run is busy with it; try again",
        )

    def release(self, claim: Claim, *, now: datetime) -> None:
        if not claim.ours:
            return
        # A failed condition: another attempt holds it now, nothing of ours to release.
        with suppress(_ConditionFailed):
            self._update(
                _run_key(claim.run.run_id),
                "SET #state = :released REMOVE #open",
                "#token = :token",
                {":released": _s("released"), ":token": _s(claim.run.token)},
            )

    def load(self, keys: Iterable[str], *, now: datetime) -> Loaded:
        self._check_schema()
        wanted = {_incident_key(key) for key in keys}
        for partition in (_OPEN, _POSTING):
            wanted.update(self._index_keys(partition))
        # The index is eventually consistent: it says which items to read, the consistent read
        # says what they hold (a version read here is never stale).
        items = self._batch_get(sorted(wanted, key=lambda k: (k[0], k[1])))
        incidents: dict[str, Incident] = {}
        gaps: list[Run] = []
        for item in items:
            pk = item["pk"]["S"]
            if pk.startswith(_INCIDENT):
                incident = _incident(item)
                incidents[incident.key] = incident
            elif pk.startswith(_RUN):
                run = _run(item)
                if run.state == "posting" and run.lease_until <= now:
                    gaps.append(run)
        active = [s for s in self._snoozes() if s.until > now]
        return Loaded(
            incidents=incidents,
            snoozes=tuple(active),
            gaps=tuple(sorted(gaps, key=lambda r: (r.started_at, r.run_id))),
        )

    def apply(
        self,
        changes: Sequence[Change],
        *,
        now: datetime,
        claim: Claim | None = None,
        posting: Sequence[str] = (),
        gaps_reported: Sequence[str] = (),
    ) -> set[str]:
        self._check_schema()
        if claim is not None:
            # First: an attempt whose run was taken over must write nothing.
            self._to_posting(claim, now, posting)
        written = self._write_all(changes)
        for run_id in gaps_reported:
            with suppress(_ConditionFailed):  # reported by another run already
                self._update(
                    _run_key(run_id),
                    "SET #state = :reported REMOVE #open",
                    "#state = :posting",
                    {":reported": _s("gap-reported"), ":posting": _s("posting")},
                )
        return written

    def _write_all(self, changes: Sequence[Change]) -> set[str]:
        """Each change as its own conditional write (a batch write takes no condition), a few
        at a time: 10,000 incidents one after another would take most of a Lambda run."""

        def write(change: Change) -> str | None:
            expected = change.expected_version
            if expected is None:
                condition, values = "attribute_not_exists(pk)", {}
            else:
                condition, values = "#version = :expected", {":expected": _n(expected)}
            # The store counts writes, whatever version the incident says.
            written_as = replace(change.incident, version=(expected or 0) + 1)
            try:
                self._put(_incident_item(written_as, self.keep), condition, values)
            except _ConditionFailed:
                return None  # another run wrote it first: that run tells it
            return change.incident.key

        if len(changes) <= 1:
            return {k for k in map(write, changes) if k is not None}
        pool = ThreadPoolExecutor(min(_WRITERS, len(changes)), "offhours-dynamodb")
        try:
            return {k for k in pool.map(write, changes) if k is not None}
        finally:
            # A failed write (a StateError) ends the rest: what was not started is not.
            pool.shutdown(wait=True, cancel_futures=True)

    def complete(
        self,
        claim: Claim,
        receipts: Sequence[Receipt],
        *,
        now: datetime,
        told: Mapping[str, int],
    ) -> None:
        records = [receipt_record(r) for r in receipts]
        try:
            self._update(
                _run_key(claim.run.run_id),
                "SET #state = :done, #done_at = :now, #receipts = :receipts, #told = :told, "
                "#expires = :expires REMOVE #open",
                "#token = :token",
                {
                    ":done": _s("done"),
                    ":now": _t(now),
                    ":receipts": _s(json.dumps(records, sort_keys=True)),
                    ":told": {"M": {k: _n(v) for k, v in told.items()}},
                    ":expires": _expires(now, self.keep),
                    ":token": _s(claim.run.token),
                },
            )
        except _ConditionFailed:
            raise self._taken_over(claim.run.run_id) from None

    # ------------------------------------------------------------------ inspection

    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int | None = None
    ) -> list[Incident]:
        """Open ones through the index; resolved ones by a Scan (an administrator's command)."""
        found = [_incident(item) for item in self._query_index(_OPEN)]
        found = [i for i in found if i.open]
        if not open_only:
            found.extend(
                i
                for i in self._scan_incidents()
                if not i.open and (since is None or (i.resolved_at or i.last_seen_at) >= since)
            )
        found.sort(key=lambda i: (i.opened_at, i.key), reverse=True)
        return found if limit is None else found[:limit]

    def find(self, key: str) -> list[Incident]:
        if "@" in key:
            item = self._get(_incident_key(key))
            return [] if item is None else [_incident(item)]
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(_INCIDENT + key)},
            ConsistentRead=True,
        )
        found = [_incident(item) for item in items]
        return sorted(found, key=lambda i: (i.opened_at, i.key), reverse=True)

    def history(self, start: datetime, end: datetime) -> list[Incident]:
        """A Scan of the incidents (paginated): once a week, for the digest, on a table that
        holds ``keep`` days of one deployment's incidents — small, and cheaper than an index
        kept for it on every write."""
        found = [i for i in self._scan_incidents() if i.opened_at < end and i.last_seen_at >= start]
        return sorted(found, key=lambda i: (i.opened_at, i.key), reverse=True)

    def add_snooze(self, snooze: Snooze) -> None:
        self._check_schema()
        self._put(_snooze_item(snooze, self.keep), None, {})

    def snoozes(self, *, now: datetime) -> list[Snooze]:
        return [s for s in self._snoozes() if s.until > now]

    def runs(self, *, since: datetime | None = None, limit: int | None = None) -> list[Run]:
        """Newest first, by a Scan (an administrator's command)."""
        found = [
            _run(item)
            for item in self._scan(_RUN)
            if since is None or _time(item["started_at"]) >= since
        ]
        found.sort(key=lambda r: (r.started_at, r.run_id), reverse=True)
        return found if limit is None else found[:limit]

    # ------------------------------------------------------------------ administration

    def check(self) -> list[str]:
        """The table's layout, TTL and point-in-time recovery against what deploy makes: each
        difference a line. Unusable (missing, refused, a newer schema) → StateError."""
        with self._aws("DescribeTable"):
            table = self._dynamodb().describe_table(TableName=self.table)["Table"]
        want = table_definition(self.table)
        problems: list[str] = []
        if table.get("TableStatus") not in (None, "ACTIVE", "UPDATING"):
            problems.append(f"the table is {table['TableStatus']}, not ACTIVE")
        if _key_schema(table.get("KeySchema")) != _key_schema(want["KeySchema"]):
            raise StateError(
                self.name,
                f"the table's key is {_key_schema(table.get('KeySchema'))}, not pk (hash) and sk "
                "(range)",
                "it is not an offhours state table: set [memory] table to the deployed one",
            )
        index = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}.get(OPEN_INDEX)
        if index is None:
            raise StateError(
                self.name,
                f"the table has no index {OPEN_INDEX}: a run cannot find the open incidents",
                "`offhours deploy` makes the table with it; or set [memory] table to that one",
            )
        if _key_schema(index.get("KeySchema")) != _key_schema(
            want["GlobalSecondaryIndexes"][0]["KeySchema"]
        ):
            problems.append(f"index {OPEN_INDEX} is not keyed by open (hash) and pk (range)")
        problems.extend(self._check_settings())
        # A table no run has used yet has no version: the first run (or migrate) records it.
        self._refuse_newer(self._schema_version())
        return problems

    def migrate(self) -> tuple[int, int]:
        found = self._schema_version()
        self._check_schema()
        return (found or 0, SCHEMA_VERSION)

    def export(self) -> dict[str, Any]:
        """Everything, by a Scan (an administrator's command), in the order SQLite's has."""
        items = list(self._scan(None))
        by_prefix: dict[str, list[Item]] = {_INCIDENT: [], _RUN: [], _SNOOZE: []}
        for item in items:
            pk = item["pk"]["S"]
            for prefix, bucket in by_prefix.items():
                if pk.startswith(prefix):
                    bucket.append(item)
        incidents = sorted(map(_incident, by_prefix[_INCIDENT]), key=lambda i: (i.opened_at, i.key))
        snoozes = sorted(map(_snooze, by_prefix[_SNOOZE]), key=lambda s: s.created_at)
        runs = sorted(map(_run, by_prefix[_RUN]), key=lambda r: (r.started_at, r.run_id))
        return {
            "schema": self._schema_version() or 0,
            "incidents": [_jsonable(i) for i in incidents],
            "snoozes": [_jsonable(s) for s in snoozes],
            "runs": [_jsonable(r) for r in runs],
        }

    def close(self) -> None:
        with self._lock:
            clients, self._client, self._retired = [self._client, *self._retired], None, []
        for client in clients:
            if client is not None:
                client.close()

    # ------------------------------------------------------------------ the calls

    def _dynamodb(self) -> Any:
        """The client, made on first use; made again, with shorter timeouts, when a call with
        the current one could outlast what is left of the run's deadline (botocore's timeouts
        are fixed per client)."""
        with self._lock:
            left = self.deadline.remaining() if self.deadline is not None else math.inf
            if self._client is not None and (left >= self._worst or self._worst <= _TIGHTEST):
                return self._client
            import boto3
            from botocore.config import Config

            each = left / _ATTEMPTS
            connect, read = max(_FLOOR, min(_CONNECT, each)), max(_FLOOR, min(_READ, each))
            config = Config(
                connect_timeout=connect,
                read_timeout=read,
                retries={"total_max_attempts": _ATTEMPTS, "mode": "adaptive"},
                max_pool_connections=_WRITERS,
            )
            if self._session is None:
                self._session = boto3.session.Session(region_name=self.region)
            if self._client is not None:
                # Another thread may be mid-call on it: closed with the store.
                self._retired.append(self._client)
            self._client = self._session.client(
                "dynamodb", endpoint_url=self.endpoint_url, config=config
            )
            self._worst = _ATTEMPTS * (connect + read)
            return self._client

    @contextmanager
    def _aws(self, action: str) -> Iterator[None]:
        """One call to DynamoDB: every botocore error becomes a StateError (or, for a failed
        condition, :class:`_ConditionFailed`)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self.deadline is not None and self.deadline.passed:
            raise StateError(
                self.name,
                f"the run's deadline passed before dynamodb:{action}",
                "raise the function's timeout, or read fewer sources",
            )
        try:
            yield
        except ClientError as exc:
            code, message = _aws_words(exc.response.get("Error", {}))
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailed from None
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise self._client_error(action, code, message, status) from None
        except BotoCoreError as exc:
            # Not chained: botocore's words can carry request parameters.
            problem, fix = _botocore_problem(action, exc)
            if self.deadline is not None and self.deadline.passed:
                problem = f"the run's deadline passed during dynamodb:{action} ({problem})"
            raise StateError(self.name, problem, fix) from None

    def _client_error(self, action: str, code: str, message: str, status: object) -> StateError:
        if code not in _FIXES and status == 403:
            code = "AccessDenied"  # an IAM refusal whose body botocore could not parse
        words = _clean(f"{code}: {message.rstrip('.')}" if message else code)
        if code == "ResourceNotFoundException":
            where = f" in {self.region}" if self.region else ""
            problem = f"no table {self.table}{where} ({words})"
        elif _FIXES.get(code) is _THROTTLED_FIX:
            problem = f"dynamodb:{action} throttled beyond {_ATTEMPTS} attempts ({words})"
        else:
            problem = f"dynamodb:{action} refused: {words}"
        fix = _FIXES.get(
            code, "AWS's words say what is wrong; `offhours state check` looks the table over"
        )
        return StateError(self.name, problem, fix)

    def _taken_over(self, run_id: str) -> StateError:
        return StateError(
            self.name,
            f"run {run_id}: another attempt took this run over (this one outlived its lease)",
            "nothing is lost: that attempt tells these incidents; raise the function's timeout "
            "if runs outlive their deadline",
        )

    def _put(self, item: Item, condition: str | None, values: Mapping[str, Any]) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": item}
        if condition is not None:
            kwargs["ConditionExpression"] = condition
            names = _names(condition)
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if values:
                kwargs["ExpressionAttributeValues"] = dict(values)
        with self._aws("PutItem"):
            self._dynamodb().put_item(**kwargs)

    def _update(self, key: Item, update: str, condition: str, values: Mapping[str, Any]) -> None:
        with self._aws("UpdateItem"):
            self._dynamodb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=_names(f"{update} {condition}"),
                ExpressionAttributeValues=dict(values),
            )

    def _get(self, key: tuple[str, str]) -> Item | None:
        with self._aws("GetItem"):
            answer = self._dynamodb().get_item(
                TableName=self.table, Key=_key(*key), ConsistentRead=True
            )
        item: Item | None = answer.get("Item")
        return item

    def _get_run(self, run_id: str) -> Run | None:
        item = self._get((_RUN + run_id, "run"))
        return None if item is None else _run(item)

    def _query(self, **kwargs: Any) -> Iterator[Item]:
        with self._aws("Query"):
            pages = self._dynamodb().get_paginator("query").paginate(TableName=self.table, **kwargs)
            for page in pages:
                yield from page.get("Items", [])

    def _query_index(self, partition: str, *, keys_only: bool = False) -> Iterator[Item]:
        kwargs: dict[str, Any] = {
            "IndexName": OPEN_INDEX,
            "KeyConditionExpression": "#open = :open",
            "ExpressionAttributeNames": {"#open": "open"},
            "ExpressionAttributeValues": {":open": _s(partition)},
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        return self._query(**kwargs)

    def _index_keys(self, partition: str) -> set[tuple[str, str]]:
        return {
            (item["pk"]["S"], item["sk"]["S"])
            for item in self._query_index(partition, keys_only=True)
        }

    def _scan(self, prefix: str | None) -> Iterator[Item]:
        kwargs: dict[str, Any] = {"TableName": self.table}
        if prefix is not None:
            kwargs["FilterExpression"] = "begins_with(pk, :prefix)"
            kwargs["ExpressionAttributeValues"] = {":prefix": _s(prefix)}
        with self._aws("Scan"):
            for page in self._dynamodb().get_paginator("scan").paginate(**kwargs):
                yield from page.get("Items", [])

    def _scan_incidents(self) -> list[Incident]:
        return [_incident(item) for item in self._scan(_INCIDENT)]

    def _snoozes(self) -> list[Snooze]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(_SNOOZE)},
            ConsistentRead=True,
        )
        found = [_snooze(item) for item in items]
        return sorted(found, key=lambda s: (s.created_at, s.scope, s.target))

    def _batch_get(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        """Every item of ``keys`` that exists, read strongly consistent, 100 keys a request;
        keys DynamoDB leaves unprocessed (it was busy) are asked again, a little later."""
        found: list[Item] = []
        for start in range(0, len(keys), _BATCH):
            request: Any = {
                self.table: {
                    "Keys": [_key(*k) for k in keys[start : start + _BATCH]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(_UNPROCESSED_TRIES):
                if attempt:
                    pause = min(1.0, 0.05 * 2**attempt)
                    if self.deadline is not None and self.deadline.remaining() <= pause:
                        break
                    time.sleep(pause)
                with self._aws("BatchGetItem"):
                    answer = self._dynamodb().batch_get_item(RequestItems=request)
                found.extend(answer.get("Responses", {}).get(self.table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:
                raise StateError(
                    self.name,
                    "dynamodb:BatchGetItem left keys unprocessed after "
                    f"{_UNPROCESSED_TRIES} requests (the table is throttled)",
                    _THROTTLED_FIX,
                )
        return found

    def _to_posting(self, claim: Claim, now: datetime, posting: Sequence[str]) -> None:
        if not claim.ours:
            raise self._taken_over(claim.run.run_id)
        try:
            self._update(
                _run_key(claim.run.run_id),
                "SET #state = :posting, #posting_at = :now, #pending = :pending, #open = :marker",
                "#token = :token AND #state IN (:claimed, :posting)",
                {
                    ":posting": _s("posting"),
                    ":claimed": _s("claimed"),
                    ":now": _t(now),
                    ":pending": {"L": [_s(p) for p in posting]},
                    ":marker": _s(_POSTING),
                    ":token": _s(claim.run.token),
                },
            )
        except _ConditionFailed:
            raise self._taken_over(claim.run.run_id) from None

    # ------------------------------------------------------------------ the schema

    def _schema_version(self) -> int | None:
        item = self._get((_META, "schema"))
        return None if item is None else int(item["version"]["N"])

    def _check_schema(self) -> None:
        """Once per store: a table written by a newer offhours is refused; a new table gets
        this schema's version (deploy makes the table, the first run marks it)."""
        if self._schema_checked:
            return
        version = self._schema_version()
        if version is None:
            try:
                self._put(
                    {**_key(_META, "schema"), "version": _n(SCHEMA_VERSION)},
                    "attribute_not_exists(pk)",
                    {},
                )
            except _ConditionFailed:
                version = self._schema_version()  # another run marked it first
        self._refuse_newer(version)
        self._schema_checked = True

    def _refuse_newer(self, version: int | None) -> None:
        if version is not None and version > SCHEMA_VERSION:
            raise StateError(
                self.name,
                f"written by a newer offhours (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION})",
                "upgrade offhours, or set [memory] table to another table",
            )

    def _check_settings(self) -> list[str]:
        """TTL and point-in-time recovery: what is off, or cannot be read."""
        problems: list[str] = []
        try:
            with self._aws("DescribeTimeToLive"):
                ttl = self._dynamodb().describe_time_to_live(TableName=self.table)
            spec = ttl.get("TimeToLiveDescription", {})
            if spec.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                problems.append(
                    f"TTL is off: old incidents and runs are never removed; "
                    f"`offhours deploy` turns it on ({TTL_ATTRIBUTE})"
                )
            elif spec.get("AttributeName") != TTL_ATTRIBUTE:
                problems.append(
                    f"TTL reads {spec.get('AttributeName')}, not {TTL_ATTRIBUTE}: "
                    "old items are never removed; `offhours deploy` repairs it"
                )
        except StateError as exc:
            problems.append(f"TTL not checked: {exc.problem}")
        try:
            with self._aws("DescribeContinuousBackups"):
                backups = self._dynamodb().describe_continuous_backups(TableName=self.table)
            pitr = (
                backups.get("ContinuousBackupsDescription", {})
                .get("PointInTimeRecoveryDescription", {})
                .get("PointInTimeRecoveryStatus")
            )
            if pitr != "ENABLED":
                problems.append(
                    "point-in-time recovery is off: a damaged table cannot be restored; "
                    "`offhours deploy` turns it on"
                )
        except StateError as exc:
            problems.append(f"point-in-time recovery not checked: {exc.problem}")
        return problems


# ---------------------------------------------------------------------- errors


def _aws_words(error: Mapping[str, Any]) -> tuple[str, str]:
    """AWS's error code and message: botocore's, or those of an XML error body that reached
    the JSON client unparsed (IAM's refusals: code "403", the body as message)."""
    code, message = str(error.get("Code") or "Error"), str(error.get("Message") or "")
    if message.lstrip().startswith("<") and (found := _XML_CODE.search(message)):
        said = _XML_MESSAGE.search(message)
        return html.unescape(found.group(1)).strip(), html.unescape(said.group(1)) if said else ""
    return code, message


def _clean(text: str) -> str:
    text = _CREDENTIAL.sub("…", one_line(scrub(text)))
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _botocore_problem(action: str, exc: Exception) -> tuple[str, str]:
    from botocore.exceptions import (
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found",
            "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an "
            "IAM role applies",
        )
    if isinstance(exc, NoRegionError):
        return "no AWS region", "set [deploy] region or AWS_REGION"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return (
            f"cannot reach DynamoDB for dynamodb:{action} ({_clean(str(exc))})",
            "check the network and the region (or AWS_ENDPOINT_URL)",
        )
    if isinstance(exc, ReadTimeoutError):
        return (
            f"no answer to dynamodb:{action} in time ({_clean(str(exc))})",
            "try again; if it lasts, check the network to DynamoDB",
        )
    return (
        f"dynamodb:{action} failed: {type(exc).__name__}: {_clean(str(exc))}",
        "try again; `offhours state check` looks the table over",
    )


# ---------------------------------------------------------------------- items


def _s(value: str) -> dict[str, str]:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a name read from a source as it was) is not UTF-8, which
        # DynamoDB refuses: shown as "?", rather than the incident lost.
        value = value.encode("utf-8", "replace").decode("utf-8")
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    # repr is the shortest text that reads back as the same float: costs survive exactly.
    # DynamoDB keeps no magnitude below 1e-130: as a cost (or a count), that is nothing.
    return {"N": repr(value) if abs(value) >= _SMALLEST else "0"}


def _t(value: datetime) -> dict[str, str]:
    return {"S": value.astimezone(UTC).isoformat()}


def _time(value: Mapping[str, str]) -> datetime:
    return datetime.fromisoformat(value["S"])


def _expires(end: datetime, keep: timedelta) -> dict[str, str]:
    return {"N": str(int((end + keep).timestamp()))}


def _key(pk: str, sk: str) -> Item:
    return {"pk": _s(pk), "sk": _s(sk)}


def _run_key(run_id: str) -> Item:
    return _key(_RUN + run_id, "run")


def _incident_key(key: str) -> tuple[str, str]:
    """An incident key's item key: the resource key and the period (split on the last ``@``:
    resource keys never hold one)."""
    resource, _, period = key.rpartition("@")
    return (_INCIDENT + resource, period)


def _names(expression: str) -> dict[str, str]:
    """``#name`` placeholders of an expression (reserved words, e.g. ``state``, ``open``)."""
    return {f"#{n}": n for n in re.findall(r"#(\w+)", expression)}


# Each record's fields and their types: the item's attributes are the fields, by name.
_INCIDENT_TYPES = get_type_hints(Incident)
_SNOOZE_TYPES = get_type_hints(Snooze)


def _encode(value: object) -> dict[str, Any] | None:
    """A Python value as DynamoDB's typed value (``None``: left out of the item)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        # DynamoDB has no infinity or NaN: such a cost is unknown.
        return _n(value) if math.isfinite(value) else None
    if isinstance(value, datetime):
        return _t(value)
    if isinstance(value, str):
        return _s(value)
    raise TypeError(f"no DynamoDB form for {type(value).__name__}")


def _decode(hint: Any, value: Mapping[str, Any]) -> object:
    """DynamoDB's typed value back as the field's type (``hint``)."""
    kinds = {a for a in get_args(hint) if a is not type(None)} or {hint}
    if "S" in value:
        text = value["S"]
        return datetime.fromisoformat(text) if datetime in kinds else text
    if "N" in value:
        return int(value["N"]) if int in kinds else float(value["N"])
    if "BOOL" in value:
        return bool(value["BOOL"])
    raise ValueError(f"unexpected attribute {sorted(value)}")


def _fields_item(record: object, types: Mapping[str, Any]) -> Item:
    item: Item = {}
    for name in types:
        encoded = _encode(getattr(record, name))
        if encoded is not None:
            item[name] = encoded
    return item


def _fields_of(item: Item, types: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an item holds; those left out were ``None`` (or keep their default)."""
    found: dict[str, Any] = {}
    for name, hint in types.items():
        if name in item:
            found[name] = _decode(hint, item[name])
        elif type(None) in get_args(hint):
            found[name] = None
    return found


def _incident_item(incident: Incident, keep: timedelta) -> Item:
    item = {**_key(*_incident_key(incident.key)), **_fields_item(incident, _INCIDENT_TYPES)}
    if incident.open:
        item["open"] = _s(_OPEN)
    else:
        item[TTL_ATTRIBUTE] = _expires(incident.resolved_at or incident.last_seen_at, keep)
    return item


def _incident(item: Item) -> Incident:
    return Incident(**_fields_of(item, _INCIDENT_TYPES))


def _snooze_item(snooze: Snooze, keep: timedelta) -> Item:
    sk = f"{snooze.scope}#{snooze.target}#{snooze.created_at.astimezone(UTC).isoformat()}"
    return {
        **_key(_SNOOZE, sk),
        **_fields_item(snooze, _SNOOZE_TYPES),
        TTL_ATTRIBUTE: _expires(snooze.until, keep),
    }


def _snooze(item: Item) -> Snooze:
    return Snooze(**_fields_of(item, _SNOOZE_TYPES))


def _run_item(run: Run, keep: timedelta) -> Item:
    """A freshly claimed run; later states are written by updates. It expires ``keep`` after
    its lease, unless completed (then ``keep`` after that)."""
    return {
        **_run_key(run.run_id),
        "run_id": _s(run.run_id),
        "state": _s(run.state),
        "token": _s(run.token),
        "started_at": _t(run.started_at),
        "lease_until": _t(run.lease_until),
        TTL_ATTRIBUTE: _expires(run.lease_until, keep),
    }


def _run(item: Item) -> Run:
    def when(name: str) -> datetime | None:
        return _time(item[name]) if name in item else None

    receipts = json.loads(item["receipts"]["S"]) if "receipts" in item else []
    return Run(
        run_id=item["run_id"]["S"],
        state=item["state"]["S"],
        token=item["token"]["S"],
        started_at=_time(item["started_at"]),
        lease_until=_time(item["lease_until"]),
        posting_at=when("posting_at"),
        done_at=when("done_at"),
        pending=tuple(p["S"] for p in item.get("pending", {}).get("L", [])),
        receipts=tuple(receipts),
        told={k: int(v["N"]) for k, v in item.get("told", {}).get("M", {}).items()},
    )


def _key_schema(schema: Iterable[Mapping[str, str]] | None) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema or ()]


def _jsonable(record: Incident | Snooze | Run) -> dict[str, Any]:
    """A record's fields as JSON: times ISO, tuples lists."""

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    return {f.name: plain(getattr(record, f.name)) for f in fields(record)}
