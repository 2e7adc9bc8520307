"""The DynamoDB store against moto's server: a run's calls, its failures, the table's items."""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offhours.incidents import Change, Incident, Snooze, incident_key
from offhours.model import resource_key
from offhours.state import SCHEMA_VERSION, STATE_TABLE_ENV, StateError
from offhours.state.dynamodb import (
    ITEM_ACTIONS,
    OPEN_INDEX,
    TTL_ATTRIBUTE,
    DynamoStore,
    table_definition,
)
from offhours.testing.ravello import RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import Deadline
from tests.aws import (
    REGION,
    TEST_KEYS,
    Aws,
    enforce_iam,
    env_for,
    free_port,
    moto_subprocess,
)
from tests.functional.state_contract import StoreContract, race_processes

TABLE = "offhours-state"
NIGHT = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
PERIOD = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
KEY = resource_key("aws", "111111111111", "eu-west-1", "ec2", "i-0abc")

MakeStore = Callable[..., DynamoStore]


@pytest.fixture(scope="session")
def serial_moto(moto_endpoint: str) -> Iterator[str]:
    """moto's application served one request at a time, sharing the ``aws`` fixture's state.

    DynamoDB makes each conditional write atomic; moto's threaded server checks a condition and
    writes in separate steps that two request threads can interleave. Served in turn, each
    request is atomic as in DynamoDB, while the stores under test still call concurrently."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def table(aws: Aws) -> str:
    """The table as ``offhours deploy`` makes it: the definition, then TTL and point-in-time
    recovery."""
    make_table(aws, TABLE)
    return TABLE


def make_table(aws: Aws, name: str, *, ttl: bool = True, pitr: bool = True) -> None:
    client = aws.client("dynamodb")
    client.create_table(**table_definition(name))
    if ttl:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    if pitr:
        client.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


@pytest.fixture
def make_store(table: str, serial_moto: str) -> Iterator[MakeStore]:
    opened: list[DynamoStore] = []

    def make(**kwargs: Any) -> DynamoStore:
        kwargs.setdefault("region", REGION)
        kwargs.setdefault("endpoint_url", serial_moto)
        store = DynamoStore(kwargs.pop("table", table), **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> DynamoStore:
    return make_store()


class TestContract(StoreContract):
    """What every store does, on moto's server: ``make_store`` opens another client (its own
    boto3 session) on the same table."""


def incident(**changes: Any) -> Incident:
    fields: dict[str, Any] = {
        "key": incident_key(KEY, PERIOD),
        "resource_key": KEY,
        "period_start": PERIOD,
        "source": "aws",
        "name": "build-box",
        "owner": "ana@example.com",
        "group": "lab",
        "kind": "ec2 instance",
        "noun": "instance",
        "opened_at": PERIOD,
        "last_seen_at": NIGHT,
        "hourly_cost": 0.1,
        "cost_so_far": 0.4,
        "last_told_at": PERIOD,
        "told_by": "offhours@2026-11-30T18:00:00Z",
        "version": 1,
    }
    fields.update(changes)
    return Incident(**fields)


def of(instance: str, period: datetime = PERIOD, **changes: Any) -> Incident:
    """An incident of another instance, in ``period``; resolved with ``resolution=…``."""
    key = resource_key("aws", "111111111111", "eu-west-1", "ec2", instance)
    fields: dict[str, Any] = {"key": incident_key(key, period), "resource_key": key}
    fields |= {"period_start": period, "opened_at": period}
    if "resolution" in changes:
        fields |= {"state": "resolved", "resolved_at": changes.get("last_seen_at", NIGHT)}
    return incident(**(fields | changes))


def raw(aws: Aws, pk: str, sk: str) -> dict[str, Any]:
    answer = aws.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    item: dict[str, Any] = answer["Item"]
    return item


# ---------------------------------------------------------------- items as the store keeps them


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cost=st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
    so_far=st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
)
def test_costs_survive_exactly(store: DynamoStore, cost: float, so_far: float) -> None:
    """DynamoDB keeps numbers as decimal text: a float goes in as its shortest exact text and
    comes back the same float, whatever DynamoDB normalises."""
    stored = store.find(incident().key)
    version = stored[0].version if stored else None
    item = incident(hourly_cost=cost, cost_so_far=so_far, version=(version or 0) + 1)
    assert store.apply([Change(item, version)], now=NIGHT) == {item.key}
    back = store.find(item.key)[0]
    # Below DynamoDB's smallest magnitude (1e-130), a cost is nothing.
    expected = [x if x >= 1e-130 else 0.0 for x in (cost, so_far)]
    assert [back.hourly_cost, back.cost_so_far] == expected
    assert type(back.hourly_cost) is float and type(back.version) is int


# Text as sources give it (any Unicode but lone surrogates, empty included) and aware times.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_WHEN = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")]),
).filter(
    # A wall time the clocks skip or repeat (a DST change) is never equal to an instant in
    # another zone, by Python's rule (PEP 495): only unambiguous times.
    lambda d: d.replace(fold=0).utcoffset() == d.replace(fold=1).utcoffset()
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_TEXT,
    owner=st.none() | _TEXT,
    group=_TEXT,
    note=st.none() | _TEXT,
    opened=_WHEN,
    seen=_WHEN,
    reminders=st.integers(min_value=0, max_value=10**6),
)
def test_any_text_and_time_survive(
    store: DynamoStore,
    name: str,
    owner: str | None,
    group: str,
    note: str | None,
    opened: datetime,
    seen: datetime,
    reminders: int,
) -> None:
    stored = store.find(incident().key)
    version = stored[0].version if stored else None
    item = incident(
        name=name,
        owner=owner,
        group=group,
        note=note,
        opened_at=opened,
        last_seen_at=seen,
        reminders=reminders,
        version=(version or 0) + 1,
    )
    assert store.apply([Change(item, version)], now=NIGHT) == {item.key}
    (back,) = store.find(item.key)
    assert back == item
    assert back.opened_at.utcoffset() == timedelta(0)


def test_text_that_is_not_utf8_and_numbers_dynamodb_cannot_hold_do_not_lose_an_incident(
    store: DynamoStore,
) -> None:
    odd = incident(name="lab \ud800 box", owner="\udcff", hourly_cost=float("nan"))
    odd = replace(odd, cost_so_far=float("inf"))
    assert store.apply([Change(odd, None)], now=NIGHT) == {odd.key}
    (back,) = store.find(odd.key)
    assert (back.name, back.owner) == ("lab ? box", "?")
    assert (back.hourly_cost, back.cost_so_far) == (None, None)


def test_ttl_is_set_on_resolved_incidents_runs_and_snoozes_never_on_open_ones(
    store: DynamoStore, aws: Aws
) -> None:
    keep = timedelta(days=90)
    gone_at = NIGHT + timedelta(hours=1)
    open_one = incident()
    closed = of("i-0def", resolved_at=gone_at, resolution="gone")
    other = closed.resource_key
    claim = store.claim(
        "fn@2026-11-30T22:00:00Z", now=NIGHT, lease_until=NIGHT + timedelta(minutes=5)
    )
    store.apply([Change(open_one, None), Change(closed, None)], now=NIGHT, claim=claim)
    snooze = Snooze(KEY, "key", NIGHT + timedelta(days=2), NIGHT, reason="demo")
    store.add_snooze(snooze)

    open_item = raw(aws, f"INC#{KEY}", "2026-11-30T18:00:00Z")
    assert TTL_ATTRIBUTE not in open_item
    assert open_item["open"] == {"S": "open"}
    closed_item = raw(aws, f"INC#{other}", "2026-11-30T18:00:00Z")
    assert "open" not in closed_item
    assert int(closed_item[TTL_ATTRIBUTE]["N"]) == int((gone_at + keep).timestamp())
    run_item = raw(aws, "RUN#fn@2026-11-30T22:00:00Z", "run")
    assert run_item["open"] == {"S": "run-posting"}  # found by the index while posting
    assert int(run_item[TTL_ATTRIBUTE]["N"]) > int(NIGHT.timestamp())
    store.complete(claim, [], now=NIGHT + timedelta(minutes=1), told={"new": 1})
    run_item = raw(aws, "RUN#fn@2026-11-30T22:00:00Z", "run")
    assert "open" not in run_item
    done_expiry = NIGHT + timedelta(minutes=1) + keep
    assert int(run_item[TTL_ATTRIBUTE]["N"]) == int(done_expiry.timestamp())
    (snooze_item,) = aws.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "SNOOZE"}},
    )["Items"]
    assert int(snooze_item[TTL_ATTRIBUTE]["N"]) == int((snooze.until + keep).timestamp())


# ---------------------------------------------------------------- a run's identity


def lease(minutes: int = 5) -> datetime:
    return NIGHT + timedelta(minutes=minutes)


def test_an_expired_claim_is_taken_over_once_and_the_old_attempt_can_no_longer_post(
    make_store: MakeStore,
) -> None:
    run_id = "fn@2026-11-30T22:00:00Z"
    old = make_store().claim(run_id, now=NIGHT, lease_until=lease())
    later = lease(6)
    takers = [make_store() for _ in range(2)]
    outcomes = [
        t.claim(run_id, now=later, lease_until=later + timedelta(minutes=5)) for t in takers
    ]
    assert [o.outcome for o in outcomes] == ["claimed", "busy"]
    assert outcomes[0].taken_over
    with pytest.raises(StateError, match="another attempt took this run over"):
        takers[1].apply([Change(incident(), None)], now=later, claim=old, posting=["slack"])
    # Nothing of the old attempt was written.
    assert takers[1].find(incident().key) == []
    with pytest.raises(StateError, match="another attempt took this run over"):
        takers[1].complete(old, [], now=later, told={})


def test_the_same_run_delivered_three_times_in_turn_is_claimed_once(
    make_store: MakeStore,
) -> None:
    run_id = "fn@2026-11-30T22:00:00Z"
    outcomes = []
    for attempt in range(3):
        store = make_store()
        claim = store.claim(run_id, now=NIGHT + timedelta(seconds=attempt), lease_until=lease())
        outcomes.append(claim.outcome)
        if claim.ours:
            store.apply([Change(incident(), None)], now=NIGHT, claim=claim, posting=["slack"])
            store.complete(claim, [], now=NIGHT, told={"new": 1})
    assert outcomes == ["claimed", "done", "done"]


def _claim_in_a_process(endpoint: str, run_id: str) -> str:
    store = DynamoStore(TABLE, region=REGION, endpoint_url=endpoint)
    try:
        return store.claim(run_id, now=NIGHT, lease_until=lease()).outcome
    finally:
        store.close()


def test_the_same_run_delivered_three_times_at_once_from_processes_is_claimed_once(
    table: str, serial_moto: str
) -> None:
    # Each process its own interpreter, boto3 and connection (AWS settings inherited).
    outcomes = race_processes(_claim_in_a_process, [(serial_moto, "fn@2026-11-30T22:00:00Z")] * 3)
    assert outcomes == ["busy", "busy", "claimed"]


# ---------------------------------------------------------------- reading many


def test_load_reads_more_than_one_batch(store: DynamoStore) -> None:
    made = [of(f"i-{n:03}") for n in range(130)]
    assert len(store.apply([Change(i, None) for i in made], now=NIGHT)) == 130
    asked = [i.key for i in made] + [incident_key(i.resource_key, NIGHT) for i in made]
    loaded = store.load(asked, now=NIGHT)
    assert loaded.incidents == {i.key: i for i in made}


# ---------------------------------------------------------------- the table and its schema


def test_check_names_what_deploy_would_set_and_migrate_marks_the_schema(
    make_store: MakeStore, store: DynamoStore, aws: Aws
) -> None:
    assert store.check() == []
    make_table(aws, "no-ttl", ttl=False)
    make_table(aws, "no-pitr", pitr=False)
    (no_ttl,) = make_store(table="no-ttl").check()
    assert no_ttl.startswith("TTL is off") and "offhours deploy" in no_ttl
    (no_pitr,) = make_store(table="no-pitr").check()
    assert no_pitr.startswith("point-in-time recovery is off")
    assert store.migrate() == (0, SCHEMA_VERSION)
    assert store.migrate() == (SCHEMA_VERSION, SCHEMA_VERSION)


def test_a_table_without_the_index_is_refused(make_store: MakeStore, aws: Aws) -> None:
    bare = {k: v for k, v in table_definition("bare").items() if k != "GlobalSecondaryIndexes"}
    bare["AttributeDefinitions"] = bare["AttributeDefinitions"][:2]
    aws.client("dynamodb").create_table(**bare)
    with pytest.raises(StateError, match=f"no index {OPEN_INDEX}") as caught:
        make_store(table="bare").check()
    assert "offhours deploy" in caught.value.fix


def test_a_table_written_by_a_newer_offhours_is_refused(store: DynamoStore, aws: Aws) -> None:
    aws.client("dynamodb").put_item(
        TableName=TABLE,
        Item={"pk": {"S": "META"}, "sk": {"S": "schema"}, "version": {"N": "99"}},
    )
    for use in (
        lambda: store.claim("fn@x", now=NIGHT, lease_until=lease()),
        store.migrate,
        store.check,
    ):
        with pytest.raises(StateError, match="schema 99") as caught:
            use()
        assert "upgrade offhours" in caught.value.fix
        assert caught.value.store == f"dynamodb {TABLE} ({REGION})"


# ---------------------------------------------------------------- failures become StateError


def test_a_missing_table_says_deploy_makes_it(make_store: MakeStore) -> None:
    store = make_store(table="nobody-made-this")
    with pytest.raises(StateError) as caught:
        store.claim("fn@x", now=NIGHT, lease_until=lease())
    assert "no table nobody-made-this" in caught.value.problem
    assert "ResourceNotFoundException" in caught.value.problem
    assert "offhours deploy creates it" in caught.value.fix


Answer = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any]]]


@contextmanager
def busy_dynamodb(answer: Answer) -> Iterator[tuple[str, list[str]]]:
    """A loopback endpoint speaking DynamoDB's JSON protocol as DynamoDB does when it is short
    of capacity (what moto never does): ``answer(operation, request)`` gives the status and
    body. Yields the endpoint and the operations called, in order."""
    called: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            operation = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
            called.append(operation)
            status, document = answer(operation, request)
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", called
    finally:
        server.shutdown()
        thread.join(timeout=10)


THROTTLED = {
    "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
    "message": "Rate of requests exceeds the allowed throughput.",
}
META = {"pk": {"S": "META"}, "sk": {"S": "schema"}, "version": {"N": "1"}}


def test_throttling_beyond_the_retries_says_try_again(aws: Aws) -> None:
    with busy_dynamodb(lambda operation, request: (400, THROTTLED)) as (endpoint, called):
        store = DynamoStore(TABLE, region=REGION, endpoint_url=endpoint)
        with pytest.raises(StateError) as caught:
            store.load([], now=NIGHT)
    assert "throttled beyond 3 attempts" in caught.value.problem
    assert "ThrottlingException" in caught.value.problem
    assert caught.value.fix == "try again; the table is on-demand, so this passes"
    assert called == ["GetItem"] * 3  # botocore retried it before giving up


@pytest.mark.parametrize("busy_for", [1, 99])
def test_keys_a_batch_read_left_unprocessed_are_read_again(
    store: DynamoStore, aws: Aws, busy_for: int
) -> None:
    """BatchGetItem answers what it could and names the rest: asked again, a little later, a
    few times; a table still too busy then is a StateError, never a partial load."""
    store.apply([Change(incident(), None)], now=NIGHT)
    item = raw(aws, f"INC#{KEY}", "2026-11-30T18:00:00Z")
    batches = 0

    def answer(operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        nonlocal batches
        if operation == "GetItem":
            return 200, {"Item": META}
        if operation == "Query":
            return 200, {"Items": [], "Count": 0}
        batches += 1
        if batches <= busy_for:
            return 200, {"Responses": {TABLE: []}, "UnprocessedKeys": request["RequestItems"]}
        return 200, {"Responses": {TABLE: [item]}, "UnprocessedKeys": {}}

    with busy_dynamodb(answer) as (endpoint, called):
        busy = DynamoStore(TABLE, region=REGION, endpoint_url=endpoint)
        if busy_for == 1:
            loaded = busy.load([incident().key], now=NIGHT)
            assert loaded.incidents == {incident().key: incident()}
            assert called.count("BatchGetItem") == 2
        else:
            with pytest.raises(StateError, match="left keys unprocessed") as caught:
                busy.load([incident().key], now=NIGHT)
            assert caught.value.fix == "try again; the table is on-demand, so this passes"
            assert called.count("BatchGetItem") == 6


def test_an_unreachable_endpoint_and_a_passed_deadline_are_state_errors(aws: Aws) -> None:
    closed = DynamoStore(TABLE, region=REGION, endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StateError, match="cannot reach DynamoDB") as caught:
        closed.load([], now=NIGHT)
    assert "check the network" in caught.value.fix
    late = DynamoStore(TABLE, region=REGION, deadline=Deadline(0.0, clock=lambda: 1.0))
    with pytest.raises(StateError, match="deadline passed before dynamodb:GetItem"):
        late.claim("fn@x", now=NIGHT, lease_until=lease())


def test_a_hung_dynamodb_ends_at_the_runs_deadline(aws: Aws) -> None:
    """A server that takes the connection and never answers: the call's timeouts are cut to
    what the run has left, and the error says the deadline passed."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        store = DynamoStore(
            TABLE,
            region=REGION,
            endpoint_url=f"http://127.0.0.1:{port}",
            deadline=Deadline.after(1.0),
        )
        with pytest.raises(StateError) as caught:
            store.claim("fn@x", now=NIGHT, lease_until=lease())
    assert "the run's deadline passed during dynamodb:GetItem" in caught.value.problem
    assert "no answer" in caught.value.problem


# ------------------------------------------------- the function's role: exactly ITEM_ACTIONS

# moto checks an IAM policy's actions, but asks it about every DynamoDB call with the resource
# "*". The server below first teaches it the resource AWS checks: the table's ARN, or its
# index's for a query of one.
_SCOPED_MOTO = """
import json, sys
from moto.dynamodb.responses import DynamoHandler

def _determine_resource(self):
    body = self.body if isinstance(self.body, dict) else json.loads(self.body or "{}")
    table = body.get("TableName") or next(iter(body.get("RequestItems") or {}), "*")
    arn = f"arn:aws:dynamodb:{self.region}:123456789012:table/{table}"
    return f"{arn}/index/{body['IndexName']}" if body.get("IndexName") else arn

DynamoHandler._determine_resource = _determine_resource
from moto.server import main
main(sys.argv[1:])
"""


@pytest.fixture
def scoped_moto() -> Iterator[str]:
    with moto_subprocess(launch=("-c", _SCOPED_MOTO)) as endpoint:
        yield endpoint


def test_the_functions_role_runs_with_exactly_the_item_actions_and_only_on_its_table(
    scoped_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(scoped_moto).items():
        monkeypatch.setenv(name, value)

    def client(service: str, keys: dict[str, str] = TEST_KEYS) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=scoped_moto,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )

    for name in (TABLE, "someone-elses"):
        client("dynamodb").create_table(**table_definition(name))
    arn = f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}"
    statement = {
        "Effect": "Allow",
        "Action": list(ITEM_ACTIONS),
        "Resource": [arn, f"{arn}/index/{OPEN_INDEX}"],
    }
    iam = client("iam")
    iam.create_user(UserName="function")
    iam.put_user_policy(
        UserName="function",
        PolicyName="state",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName="function")["AccessKey"]
    enforce_iam(scoped_moto)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])

    store = DynamoStore(TABLE, region=REGION)
    run_id = "fn@2026-11-30T22:00:00Z"
    claim = store.claim(run_id, now=NIGHT, lease_until=lease())
    assert claim.ours
    loaded = store.load([incident().key], now=NIGHT)
    assert loaded.incidents == {}
    assert store.apply([Change(incident(), None)], now=NIGHT, claim=claim, posting=["slack"]) == {
        incident().key
    }
    store.complete(claim, [], now=NIGHT, told={"new": 1})
    assert store.load([], now=NIGHT).incidents == {incident().key: incident()}
    assert store.history(PERIOD, NIGHT + timedelta(hours=1)) == [incident()]  # the digest
    store.close()

    elsewhere = DynamoStore("someone-elses", region=REGION)
    with pytest.raises(StateError) as caught:
        elsewhere.claim(run_id, now=NIGHT, lease_until=lease())
    assert "AccessDenied" in caught.value.problem
    assert "dynamodb:GetItem" in caught.value.problem
    assert "allows only the item operations on its own table" in caught.value.fix
    assert key["SecretAccessKey"] not in str(caught.value)
    elsewhere.close()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "XXXXXXXXXXXXXXXXXXXX")
    stranger = DynamoStore(TABLE, region=REGION)
    with pytest.raises(StateError) as caught:
        stranger.load([], now=NIGHT)
    assert "refresh the AWS credentials" in caught.value.fix
    assert "XXXXXXXXXXXXXXXXXXXX" not in str(caught.value)
    stranger.close()


# ---------------------------------------------------------------- as the function opens it


def test_the_function_opens_its_table_from_its_environment(table: str, aws: Aws) -> None:
    """On Lambda: ``[memory] store = "auto"`` is DynamoDB, the table deploy named in the
    function's environment, the endpoint boto3 reads from AWS_ENDPOINT_URL."""
    from offhours.config import parse_config
    from offhours.state import open_store

    source = {"type": "ravello", "username": "env:RU", "password": "env:RP"}
    config = parse_config({"sources": [source], "deploy": {"region": REGION}})
    store = open_store(
        config, on_lambda=True, environ={STATE_TABLE_ENV: table}, deadline=Deadline.after(60)
    )
    assert isinstance(store, DynamoStore)
    assert store.name == f"dynamodb {table} ({REGION})"
    try:
        assert store.claim("fn@x", now=NIGHT, lease_until=lease()).ours
    finally:
        store.close()


def test_the_same_scheduled_event_delivered_three_times_to_the_function_posts_once(
    aws: Aws,
    serial_moto: str,
    ravello: RavelloSimulator,
    slack: SlackSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Lambda door, its memory the deployed table: the same event three times in turn,
    then another night's event three times at once (a fresh table: all of it is new)."""
    from offhours import lambda_handler
    from tests.functional.test_lambda_handler import EVENT, FUNCTION, NIGHT, deployed_config

    config = deployed_config(aws, ravello, slack)
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FUNCTION}/config", Value=json.dumps(config), Type="String"
    )
    for name in ("in-turn", "at-once"):
        make_table(aws, name)
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"/offhours/{FUNCTION}/config")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", serial_moto)  # each call atomic, as in DynamoDB
    monkeypatch.setattr(lambda_handler, "_CONFIG", None)
    start = NIGHT - timedelta(hours=6)
    ravello.set_apps([make_app(i, f"lab-{i}", "Ada", publish_start=start) for i in range(3)])

    monkeypatch.setenv(STATE_TABLE_ENV, "in-turn")
    summaries = [lambda_handler.handler(EVENT, None) for _ in range(3)]
    assert [s["told"] for s in summaries] == [3, 0, 0]
    assert ["skipped" in s for s in summaries] == [False, True, True]
    assert len(slack.messages) == 1

    monkeypatch.setenv(STATE_TABLE_ENV, "at-once")
    barrier = threading.Barrier(3)
    results: list[dict[str, Any]] = []

    def invoke() -> None:
        barrier.wait(timeout=30)
        results.append(lambda_handler.handler(EVENT, None))

    threads = [threading.Thread(target=invoke) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(s["told"] for s in results) == [0, 0, 3]
    assert len(slack.messages) == 2


def test_killed_after_slack_took_the_message_its_retry_posts_nothing_and_the_next_run_says_so(
    table: str, ravello: RavelloSimulator, slack: SlackSink, tmp_path: Path
) -> None:
    """At most once per run identity, with the table as memory: the documented crash."""
    from tests.functional import test_memory_runs as runs

    def state_of(identity: str) -> str:
        store = DynamoStore(table, region=REGION)
        try:
            return {r.run_id: r.state for r in store.runs()}.get(identity, "absent")
        finally:
            store.close()

    ravello.set_apps([runs.lab()])
    runs.cli_config(tmp_path, ravello, store="dynamodb", table=table)
    slack.inject_slow(30, accept_first=True)
    proc = runs.offhours(tmp_path, slack, "--now", runs.NOW, "--run-id", "killed")
    runs._wait_for(lambda: len(slack.messages) == 1, "Slack to take the message")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert state_of("killed") == "posting"
    code, _, err = runs.finish(
        runs.offhours(tmp_path, slack, "--now", runs.NOW, "--run-id", "killed")
    )
    assert code == 0 and "nothing sent" in err
    assert len(slack.messages) == 1
    later = "2026-11-30T23:10:00-05:00"
    code, _, err = runs.finish(runs.offhours(tmp_path, slack, "--now", later, "--run-id", "next"))
    assert code == 0, err
    assert len(slack.messages) == 2
    assert "killed" in json.dumps(slack.messages[1])
    assert state_of("killed") == "gap-reported"


def test_the_digest_schedules_event_sends_the_week_from_the_deployed_table(
    aws: Aws,
    ravello: RavelloSimulator,
    slack: SlackSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A night of audits into the table, then the second schedule's event (what deploy's
    DIGEST_INPUT carries) on the next Monday: one digest message with that night's lab."""
    from offhours import lambda_handler
    from offhours.deploy.spec import DIGEST_INPUT
    from tests.functional.test_lambda_handler import EVENT, FUNCTION, NIGHT, deployed_config

    config = deployed_config(aws, ravello, slack)
    aws.client("ssm").put_parameter(
        Name=f"/offhours/{FUNCTION}/config", Value=json.dumps(config), Type="String"
    )
    make_table(aws, "digest-table")
    monkeypatch.setenv("OFFHOURS_CONFIG_SSM", f"/offhours/{FUNCTION}/config")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.setenv(STATE_TABLE_ENV, "digest-table")
    monkeypatch.setattr(lambda_handler, "_CONFIG", None)
    ravello.set_apps([make_app(1, "lab-night", "Ada", publish_start=NIGHT - timedelta(hours=6))])
    for hour in range(3):
        at = (NIGHT + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
        lambda_handler.handler({**EVENT, "time": at}, None)
    before = len(slack.messages)
    assert json.loads(DIGEST_INPUT)["offhours"] == "digest"
    monday = {"time": "2026-12-07T14:00:00Z", "id": "digest-1", "offhours": "digest"}
    summary = lambda_handler.handler(monday, None)
    assert summary["status"] == "success"
    assert summary["notified"] == {"slack": 1}
    assert summary["digest"].startswith("2026-11-30T00:00:00-05:00/")
    assert len(slack.messages) == before + 1
    assert "lab-night" in json.dumps(slack.messages[-1])
