"""Where the aws source reads, against moto's server: regions, assumed-role accounts, an
Organization, "all" regions, and the failures of one part (a denied region, a refused role,
expired credentials) that never hide the rest; the pool's bound and the run's deadline.

Some tests put a loopback proxy in front of moto: it counts the calls in flight, records who
called what, and can answer for AWS where moto cannot (see :class:`Proxy`).
"""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from offhours.errors import SourceError
from offhours.sources.aws import AwsSource
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.testing._http import LoopbackHandler, LoopbackServer, read_body, send_text
from offhours.transport import Deadline
from tests.aws import TEST_KEYS, Aws, enforce_iam, moto_subprocess

ME = "123456789012"  # moto's default account: the caller's own
DEV, OPS = "111111111111", "222222222222"
US, EU = "us-east-1", "eu-west-1"
AMI = "ami-12c6146b"  # one of moto's default images, in every region (listing them is slow)


# ------------------------------------------------------------------ helpers


def _client(
    endpoint: str, service: str, region: str = US, creds: dict[str, str] | None = None
) -> Any:
    keys = creds or {
        "aws_access_key_id": TEST_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TEST_KEYS["AWS_SECRET_ACCESS_KEY"],
    }
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **keys)


def _assume(endpoint: str, account: str, role: str = "audit") -> dict[str, str]:
    """Credentials inside ``account`` (moto keeps each account id's state apart)."""
    sts = _client(endpoint, "sts")
    got = sts.assume_role(RoleArn=_role(account, role), RoleSessionName="setup")["Credentials"]
    return {
        "aws_access_key_id": got["AccessKeyId"],
        "aws_secret_access_key": got["SecretAccessKey"],
        "aws_session_token": got["SessionToken"],
    }


def _role(account: str, role: str = "audit") -> str:
    return f"arn:aws:iam::{account}:role/{role}"


def _launch(
    endpoint: str, region: str = US, creds: dict[str, str] | None = None, owner: str = "ann"
) -> str:
    ec2 = _client(endpoint, "ec2", region, creds)
    tags = [{"Key": "Owner", "Value": owner}, {"Key": "Project", "Value": "atlas"}]
    got = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return str(got["Instances"][0]["InstanceId"])


def _source(**table: Any) -> AwsSource:
    """The source as a validated ``[[sources]]`` table builds it."""
    table.setdefault("kinds", ["ec2"])
    cfg = AwsSourceConfig.model_validate({"type": "aws", **table})
    return AwsSource(cfg.display_name(), **cfg.plugin_kwargs())


def _where(source: AwsSource) -> list[tuple[str, str]]:
    return [(f.source, f.message) for f in source.failures]


# ------------------------------------------------------------------ a proxy in front of moto


@dataclass
class Seen:
    """One request as the proxy saw it."""

    action: str
    region: str
    key: str  # the access key id that signed it
    params: dict[str, str]


_SCOPE = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/")


@dataclass
class Proxy:
    """Forwards to ``upstream``; counts the calls in flight (their peak in ``peak``); records
    every call; ``answer`` may answer one itself (status, XML body) and ``resign`` may re-sign
    one with other credentials before it goes on."""

    upstream: str
    answer: Callable[[Seen], tuple[int, str] | None] = lambda seen: None
    resign: Callable[[Seen], Credentials | None] = lambda seen: None
    hold: Callable[[Seen], float] = lambda seen: 0.0  # seconds a call is held before it goes on
    seen: list[Seen] = field(default_factory=list)
    peak: int = 0
    #: sees (and may change) each answer from upstream
    on_answer: Callable[[Seen, bytes], bytes] = lambda seen, body: body
    _flying: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def actions(self, name: str) -> list[Seen]:
        return [s for s in self.seen if s.action == name]


class _Forward(LoopbackHandler):
    def do_POST(self) -> None:
        proxy: Proxy = self.context
        body = read_body(self)
        params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        scope = _SCOPE.search(self.headers.get("Authorization", ""))
        key, region = scope.groups() if scope else ("", "")
        target = self.headers.get("X-Amz-Target", "")
        seen = Seen(params.get("Action") or target.rpartition(".")[2], region, key, params)
        with proxy._lock:
            proxy.seen.append(seen)
            proxy._flying += 1
            proxy.peak = max(proxy.peak, proxy._flying)
        try:
            wait = proxy.hold(seen)
            if wait:
                self.stopping.wait(wait)
            canned = proxy.answer(seen)
            if canned is not None:
                send_text(self, canned[0], canned[1], content_type="text/xml")
                return
            status, headers, answer = self._forward(proxy, seen, body)
        finally:
            with proxy._lock:
                proxy._flying -= 1
        answer = proxy.on_answer(seen, answer)
        send_text(self, status, answer, content_type=headers.get("Content-Type", "text/xml"))

    def _forward(self, proxy: Proxy, seen: Seen, body: bytes) -> tuple[int, dict[str, str], bytes]:
        skip = {"content-length", "connection", "accept-encoding"}  # Host is signed: kept
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        url = proxy.upstream + self.path
        other = proxy.resign(seen)
        if other is not None:
            for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
                headers.pop(name, None)
            signed = AWSRequest("POST", url, data=body, headers=headers)
            service = self.headers["Authorization"].split("/")[3]  # Credential=K/date/region/svc
            SigV4Auth(other, service, seen.region).add_auth(signed)
            headers = dict(signed.headers.items())
        request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return answer.status, dict(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as refused:
            return refused.code, dict(refused.headers.items()), refused.read()


@pytest.fixture
def proxy(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    """A proxy in front of the test's moto, which the source (through AWS_ENDPOINT_URL) uses."""
    state = Proxy(aws.endpoint)
    with LoopbackServer(_Forward, state) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        yield state


@contextmanager
def _proxied(state: Proxy, keys: dict[str, str] | None = None) -> Iterator[Proxy]:
    """The proxy in front of ``state.upstream``, with boto3's environment pointing at it."""
    with LoopbackServer(_Forward, state) as server, pytest.MonkeyPatch.context() as env:
        for name, value in {**TEST_KEYS, **(keys or {})}.items():
            env.setenv(name, value)
        env.setenv("AWS_ENDPOINT_URL", server.url)
        env.setenv("AWS_REGION", US)
        yield state


def _ec2_error(code: str, message: str) -> str:
    """EC2's documented error body (a query-protocol service's <Response><Errors>)."""
    return (
        f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        "</Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
    )


# ------------------------------------------------------------------ regions and accounts


def test_two_regions_are_both_read_in_key_order(aws: Aws) -> None:
    made = {_launch(aws.endpoint, region) for region in (US, EU, EU)}

    source = _source(regions=[US, EU])
    found = source.collect()

    assert {r.id for r in found} == made
    assert sorted(r.region for r in found) == [EU, EU, US]
    assert [r.key for r in found] == sorted(r.key for r in found)
    assert source.failures == []


def test_the_order_is_the_keys_whatever_order_the_answers_come_in(proxy: Proxy, aws: Aws) -> None:
    for region in (US, EU):
        _launch(aws.endpoint, region)
    # EU's answer is held: it comes after US's, though EU's task starts first.
    proxy.hold = lambda seen: 0.2 if seen.region == EU and seen.action == "DescribeInstances" else 0
    first = _source(regions=[EU, US], max_workers=4).collect()
    proxy.hold = lambda seen: 0.0
    second = _source(regions=[US, EU], max_workers=1).collect()

    assert [r.key for r in first] == [r.key for r in second] == sorted(r.key for r in first)


def test_assumed_role_accounts_are_read_with_their_own_credentials(aws: Aws) -> None:
    mine = _launch(aws.endpoint)
    dev = _launch(aws.endpoint, creds=_assume(aws.endpoint, DEV), owner="dev-team")
    ops = _launch(aws.endpoint, EU, creds=_assume(aws.endpoint, OPS), owner="ops-team")

    source = _source(
        regions=[US, EU],
        accounts=[
            {"id": DEV, "role_arn": _role(DEV), "name": "dev"},
            {"id": OPS, "role_arn": _role(OPS), "external_id": "XXXX-not-a-secret"},
        ],
    )
    found = source.collect()

    assert {(r.account, r.id, r.owner) for r in found} == {
        (ME, mine, "ann"),
        (DEV, dev, "dev-team"),
        (OPS, ops, "ops-team"),
    }
    assert source.failures == []


def test_without_the_current_account_only_the_members_are_read(aws: Aws) -> None:
    _launch(aws.endpoint)
    dev = _launch(aws.endpoint, creds=_assume(aws.endpoint, DEV))

    source = _source(
        regions=[US], current_account=False, accounts=[{"id": DEV, "role_arn": _role(DEV)}]
    )

    assert [r.id for r in source.collect()] == [dev]


def test_an_assumed_role_names_offhours_and_its_external_id(proxy: Proxy, aws: Aws) -> None:
    _source(
        regions=[US],
        current_account=False,
        accounts=[{"id": DEV, "role_arn": _role(DEV), "external_id": "XXXX-not-a-secret"}],
    ).collect()

    (call,) = proxy.actions("AssumeRole")
    assert call.params["RoleArn"] == _role(DEV)
    assert call.params["RoleSessionName"] == "offhours"
    assert call.params["ExternalId"] == "XXXX-not-a-secret"


def test_an_organization_is_read_through_one_role_name(proxy: Proxy, aws: Aws) -> None:
    org = _client(aws.endpoint, "organizations")
    org.create_organization(FeatureSet="ALL")
    ids = [
        org.create_account(AccountName=n, Email=f"{n}@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        for n in ("dev", "ops", "old")
    ]
    role = "OrganizationAccountAccessRole"
    made = {ident: _launch(aws.endpoint, creds=_assume(aws.endpoint, ident, role)) for ident in ids}
    mine = _launch(aws.endpoint)
    proxy.seen.clear()

    source = _source(regions=[US], organization={"role_name": role, "exclude": [ids[2]]})
    found = source.collect()

    assert {(r.account, r.id) for r in found} == {
        (ME, mine),
        (ids[0], made[ids[0]]),
        (ids[1], made[ids[1]]),
    }
    # The management account is read with its own credentials, never by assuming into itself.
    assert sorted(c.params["RoleArn"] for c in proxy.actions("AssumeRole")) == sorted(
        _role(i, role) for i in ids[:2]
    )
    assert source.failures == []


def test_an_organization_that_cannot_be_listed_is_one_failure(proxy: Proxy, aws: Aws) -> None:
    mine = _launch(aws.endpoint)
    denied = '{"__type": "AccessDeniedException", "Message": "You don\'t have permissions."}'
    proxy.answer = lambda seen: (400, denied) if seen.action == "ListAccounts" else None

    source = _source(regions=[US], organization={"role_name": "audit"})

    assert [r.id for r in source.collect()] == [mine]
    assert _where(source) == [
        (
            "aws organization",
            "AccessDeniedException: You don't have permissions. (grant the role the actions "
            "this source needs (offhours deploy lists them))",
        )
    ]


def test_all_regions_reads_the_enabled_ones_and_notes_the_opt_in_ones_skipped() -> None:
    # Its own moto: a region's state is slow to build and to reset, and this reads them all.
    with moto_subprocess() as endpoint, _proxied(Proxy(endpoint)) as proxy:
        _all_regions(Aws(endpoint), proxy)


def _all_regions(aws: Aws, proxy: Proxy) -> None:
    sydney = _launch(aws.endpoint, "ap-southeast-2")
    listed = _client(aws.endpoint, "ec2").describe_regions(AllRegions=True)["Regions"]
    # moto lists GovCloud and China too, which a commercial account never sees
    ours = [r for r in listed if not r["RegionName"].startswith(("us-gov-", "cn-"))]
    enabled = {r["RegionName"] for r in ours if r["OptInStatus"] != "not-opted-in"}
    skipped = sorted(r["RegionName"] for r in ours if r["OptInStatus"] == "not-opted-in")
    assert len(skipped) > 1
    proxy.seen.clear()

    source = _source(regions="all")
    found = source.collect()

    assert [r.id for r in found] == [sydney]
    assert {c.region for c in proxy.actions("DescribeInstances")} == enabled
    opt_in = f"aws: {len(skipped)} opt-in regions not enabled in {ME}, skipped: " + ", ".join(
        skipped
    )
    # Beside it, only the price table's line (its date), once.
    assert len(source.notes) == 2
    assert opt_in in source.notes
    others = [n for n in source.notes if n != opt_in]
    assert others[0].startswith("Prices: AWS on-demand list prices of "), source.notes
    assert source.failures == []


def test_without_any_region_the_error_says_where_to_set_one(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(SourceError, match=r"no region: set regions = \[\.\.\.\]"):
        _source().collect()


# ------------------------------------------------------------------ failures


def test_expired_credentials_of_one_account_fail_that_account_only(proxy: Proxy, aws: Aws) -> None:
    # moto never expires what it issues: the proxy answers for AWS, in EC2's words, to every
    # call signed with the keys offhours got for DEV.
    _launch(aws.endpoint)
    ops = _launch(aws.endpoint, creds=_assume(aws.endpoint, OPS))
    expired: set[str] = set()

    def remember(seen: Seen, body: bytes) -> bytes:
        if seen.action == "AssumeRole" and DEV in seen.params["RoleArn"]:
            expired.update(re.findall(r"<AccessKeyId>([^<]+)</AccessKeyId>", body.decode()))
        return body

    proxy.on_answer = remember
    proxy.answer = lambda seen: (
        (400, _ec2_error("RequestExpired", "Request has expired.")) if seen.key in expired else None
    )

    source = _source(
        regions=[US, EU],
        current_account=False,
        accounts=[{"id": DEV, "role_arn": _role(DEV)}, {"id": OPS, "role_arn": _role(OPS)}],
    )
    found = source.collect()

    assert [r.id for r in found] == [ops]
    # One line for the account, not one per region and kind.
    assert _where(source) == [
        (
            f"aws {DEV}",
            "RequestExpired: Request has expired. (the credentials expired; renew them (or "
            "the role's session) and run again)",
        )
    ]


def test_assumed_credentials_are_renewed_before_they_expire(proxy: Proxy, aws: Aws) -> None:
    dev = _launch(aws.endpoint, creds=_assume(aws.endpoint, DEV))
    now = [datetime.now(UTC)]
    issued: list[str] = []

    def remember(seen: Seen, body: bytes) -> bytes:
        if seen.action != "AssumeRole":
            return body
        issued.extend(re.findall(r"<AccessKeyId>([^<]+)</AccessKeyId>", body.decode()))
        # Issued for an hour of the test's clock (moto's is the real one).
        expiry = (now[0] + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return re.sub(
            rb"<Expiration>[^<]+</Expiration>", f"<Expiration>{expiry}</Expiration>".encode(), body
        )

    proxy.on_answer = remember
    # Keys older than the newest are expired: a call signed with one would fail.
    proxy.answer = lambda seen: (
        (400, _ec2_error("RequestExpired", "Request has expired."))
        if seen.key in issued[:-1]
        else None
    )
    source = AwsSource(
        "aws",
        clock=lambda: now[0],
        **AwsSourceConfig.model_validate(
            {
                "type": "aws",
                "kinds": ["ec2"],
                "regions": [US],
                "current_account": False,
                "accounts": [{"id": DEV, "role_arn": _role(DEV)}],
            }
        ).plugin_kwargs(),
    )

    assert [r.id for r in source.collect()] == [dev]
    now[0] += timedelta(hours=2)  # past the hour the credentials last
    assert [r.id for r in source.collect()] == [dev]

    assert len(proxy.actions("AssumeRole")) == 2
    assert source.failures == []


def test_a_denied_region_and_a_refused_role_with_iam_enforced() -> None:
    # moto 5.2.5 does not evaluate aws:RequestedRegion (a policy conditioned on it allows every
    # region), so the proxy re-signs the calls to EU with a user moto denies EC2 to: the
    # refusal is moto's own enforcement, as the refused AssumeRole is.
    with moto_subprocess() as endpoint:
        allow = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": _role(DEV)},
            ],
        }
        iam = _client(endpoint, "iam")
        keys = {}
        for user, policy in (("auditor", allow), ("nobody", None)):
            iam.create_user(UserName=user)
            if policy:
                iam.put_user_policy(
                    UserName=user, PolicyName="p", PolicyDocument=json.dumps(policy)
                )
            got = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = {
                "aws_access_key_id": got["AccessKeyId"],
                "aws_secret_access_key": got["SecretAccessKey"],
            }
        # DEV's role, inside DEV, may read EC2.
        dev = _assume(endpoint, DEV)
        dev_iam = _client(endpoint, "iam", creds=dev)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
        dev_iam.create_role(RoleName="audit", AssumeRolePolicyDocument=json.dumps(trust))
        read = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
        dev_iam.put_role_policy(RoleName="audit", PolicyName="p", PolicyDocument=json.dumps(read))
        mine = _launch(endpoint)
        dev_box = _launch(endpoint, creds=dev)
        enforce_iam(endpoint)

        nobody = Credentials(
            keys["nobody"]["aws_access_key_id"], keys["nobody"]["aws_secret_access_key"]
        )
        state = Proxy(endpoint, resign=lambda seen: nobody if seen.region == EU else None)
        auditor = {
            "AWS_ACCESS_KEY_ID": keys["auditor"]["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": keys["auditor"]["aws_secret_access_key"],
        }
        with _proxied(state, auditor):
            source = _source(
                regions=[US, EU],
                accounts=[
                    {"id": DEV, "role_arn": _role(DEV)},
                    {"id": OPS, "role_arn": _role(OPS)},
                ],
            )
            found = source.collect()

    assert {(r.account, r.region, r.id) for r in found} == {(ME, US, mine), (DEV, US, dev_box)}
    failures = _where(source)
    # The refused role: one line for its account; the denied region: one per account read.
    assert [w for w, _ in failures] == [f"aws {OPS}", f"aws {DEV}/{EU}", f"aws {ME}/{EU}"]
    assert failures[0][1].startswith(f"through {_role(OPS)}: AccessDenied: ")
    assert "allow sts:AssumeRole" in failures[0][1]
    for _, message in failures[1:]:
        assert message.startswith("AccessDenied: ") and message.endswith("[ec2]"), message


def test_when_every_part_fails_the_source_fails(proxy: Proxy, aws: Aws) -> None:
    proxy.answer = lambda seen: (
        (403, _ec2_error("UnauthorizedOperation", "You are not authorized to perform this."))
        if seen.action == "DescribeInstances"
        else None
    )

    with pytest.raises(SourceError, match=r"aws 123456789012: UnauthorizedOperation: You"):
        _source(regions=[US, EU]).collect()


# ------------------------------------------------------------------ the pool and the deadline


def test_no_more_calls_are_in_flight_than_max_workers(proxy: Proxy, aws: Aws) -> None:
    for account in (DEV, OPS):
        _launch(aws.endpoint, creds=_assume(aws.endpoint, account))
    proxy.hold = lambda seen: 0.02  # calls overlap, if the pool let them
    proxy.seen.clear()

    source = _source(
        regions=[US, EU, "ap-southeast-2"],
        max_workers=2,
        accounts=[{"id": a, "role_arn": _role(a)} for a in (DEV, OPS)],
    )
    found = source.collect()

    assert len(found) == 2
    assert len(proxy.actions("DescribeInstances")) == 9  # 3 accounts × 3 regions
    assert proxy.peak <= 2


def test_tasks_not_started_by_the_deadline_are_reported_as_timed_out(
    proxy: Proxy, aws: Aws
) -> None:
    for region in (US, EU):
        _launch(aws.endpoint, region)
    clock = [0.0]

    def passes_at_the_first_read(seen: Seen) -> tuple[int, str] | None:
        if seen.action == "DescribeInstances":
            clock[0] = 100.0
        return None

    proxy.answer = passes_at_the_first_read
    source = _source(regions=[EU, US], max_workers=1)
    source.deadline = Deadline(50.0, clock=lambda: clock[0])
    found = source.collect()

    assert [r.region for r in found] == [EU]
    assert _where(source) == [
        (f"aws {ME}/{US}", "timed out: not started before the run's deadline [ec2]")
    ]
    assert len(proxy.actions("DescribeInstances")) == 1


def test_a_deadline_already_passed_reads_nothing(proxy: Proxy, aws: Aws) -> None:
    source = _source(regions=[US])
    source.deadline = Deadline(0.0, clock=lambda: 1.0)

    with pytest.raises(SourceError, match="timed out: not started before the run's deadline"):
        source.collect()
    assert proxy.actions("DescribeInstances") == []
