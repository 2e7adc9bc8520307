"""The aws source's bounded pool and its failure lines, without AWS: a fake piece of work, an
injected deadline clock, and botocore errors built from AWS's documented error shape."""

from __future__ import annotations

import contextlib
import threading

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from offhours.sources.aws.fleet import LATE, describe, run_bounded
from offhours.transport import Deadline


def _aws_error(
    code: str, message: str, operation: str = "DescribeInstances", **meta: int
) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": dict(meta)}, operation
    )


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            _aws_error(
                "UnauthorizedOperation", "You are not authorized to perform this operation."
            ),
            "UnauthorizedOperation: You are not authorized to perform this operation. (grant the "
            "role the actions this source needs (offhours deploy lists them))",
        ),
        (
            _aws_error(
                "AccessDenied",
                "User: arn:aws:iam::111111111111:user/x is not authorized",
                "AssumeRole",
            ),
            "AccessDenied: User: arn:aws:iam::111111111111:user/x is not authorized (allow "
            "sts:AssumeRole on the role to these credentials, and them in the role's trust policy)",
        ),
        (
            _aws_error("ExpiredToken", "The security token included in the request is expired"),
            "ExpiredToken: The security token included in the request is expired (the "
            "credentials expired; renew them (or the role's session) and run again)",
        ),
        (
            _aws_error(
                "ExpiredTokenException", "The security token included in the request is expired"
            ),
            "ExpiredTokenException: The security token included in the request is expired (the "
            "credentials expired",
        ),
        (
            _aws_error("RequestExpired", "Request has expired."),
            "RequestExpired: Request has expired. (the credentials expired",
        ),
        (
            _aws_error("OptInRequired", "You are not subscribed to this service."),
            "OptInRequired: You are not subscribed to this service. (is the region enabled in "
            'this account? regions = "all" reads only enabled ones)',
        ),
        (
            _aws_error(
                "AuthFailure", "AWS was not able to validate the provided access credentials"
            ),
            "AuthFailure: AWS was not able to validate the provided access credentials (is the "
            "region enabled",
        ),
        (
            _aws_error(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            "UnrecognizedClientException: The security token included in the request is "
            "invalid. (is the region enabled",
        ),
        (
            _aws_error("ThrottlingException", "Rate exceeded", RetryAttempts=4),
            "ThrottlingException: Rate exceeded (throttled beyond the retries: raise "
            "max_attempts or lower max_workers (5 attempts))",
        ),
        (
            _aws_error("RequestLimitExceeded", "Request limit exceeded."),
            "RequestLimitExceeded: Request limit exceeded. (throttled beyond the retries",
        ),
        (
            EndpointConnectionError(endpoint_url="https://ec2.xx-moon-1.amazonaws.com/"),
            'cannot connect: Could not connect to the endpoint URL: "https://ec2.xx-moon-1.'
            'amazonaws.com/" (is the region right, and reachable from here?)',
        ),
        (
            ReadTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com/"),
            "no answer in time: Read timeout on endpoint URL",
        ),
        (NoCredentialsError(), "no AWS credentials found (set AWS_PROFILE or the AWS_* variables)"),
        (KeyError("InstanceId"), "unexpected KeyError"),
        # an XML error body botocore could not parse (a JSON client): AWS's code and words
        (
            _aws_error(
                "403",
                '<?xml version="1.0" encoding="utf-8"?>\n<ErrorResponse><Errors><Error>'
                "<Code>AccessDenied</Code><Message>User: x is not authorized to perform: "
                "eks:ListClusters &amp; more</Message><Type>Sender</Type></Error></Errors>"
                "</ErrorResponse>",
                "ListClusters",
            ),
            "AccessDenied: User: x is not authorized to perform: eks:ListClusters & more "
            "(HTTP 403) (grant the role the actions this source needs",
        ),
        (
            _aws_error("400", "<Error><Code>Oops</Code></Error>"),
            "Oops: no message (HTTP 400)",
        ),
        # text that is not an XML body is kept as it is
        (_aws_error("403", "Forbidden <Code>"), "403: Forbidden <Code>"),
        # a server's words stay on one line, bounded
        (_aws_error("Boom", "line\nbreak\x1b[31m" + "x" * 1000), "Boom: line break"),
    ],
)
def test_a_failure_says_what_aws_said_and_what_to_do(exc: BaseException, line: str) -> None:
    said = describe(exc)
    assert said.startswith(line), said
    assert "\n" not in said and "\x1b" not in said
    assert len(said) <= 400 + 200


def test_credentials_a_server_echoes_are_cut_out() -> None:
    key = "ASIA" + "X" * 16
    token = "XXXX" * 40
    said = describe(
        _aws_error(
            "SignatureDoesNotMatch",
            f"The request signature we calculated does not match. The Canonical String for this "
            f"request should have been 'POST / x-amz-security-token:{token}' Credential={key}/x",
        )
    )
    assert key not in said and "XXXXXXXX" not in said
    assert said.startswith("SignatureDoesNotMatch: The request signature we calculated")


def test_every_item_ends_done_or_failed() -> None:
    def work(n: int) -> int:
        if n % 3 == 0:
            raise _aws_error("AccessDenied", f"no {n}")
        return n * 10

    outcome = run_bounded(list(range(1, 8)), work, max_workers=3, deadline=Deadline.never())

    assert outcome.done == {1: 10, 2: 20, 4: 40, 5: 50, 7: 70}
    assert set(outcome.failed) == {3, 6}
    assert outcome.failed[3].startswith("AccessDenied: no 3")
    assert outcome.late == []


@pytest.mark.parametrize("bound", [1, 2, 5])
def test_no_more_items_run_at_once_than_the_bound(bound: int) -> None:
    running = 0
    peak = 0
    lock = threading.Lock()
    # Each item waits until `bound` are running (or all that can be): if the pool allowed more,
    # the peak would show it; the bound must also be reached, so the pool is not serial.
    reached = threading.Barrier(bound)

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        with contextlib.suppress(threading.BrokenBarrierError):
            reached.wait(timeout=10)
        with lock:
            running -= 1
        return n

    outcome = run_bounded(
        list(range(bound * 4)), work, max_workers=bound, deadline=Deadline.never()
    )

    assert len(outcome.done) == bound * 4
    assert peak == bound


def test_items_not_started_by_the_deadline_are_late() -> None:
    now = [0.0]
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        now[0] = 10.0  # the first item takes the run past its deadline
        return n

    outcome = run_bounded([1, 2, 3], work, max_workers=1, deadline=Deadline(5.0, lambda: now[0]))

    assert started == [1]
    assert outcome.done == {1: 1}
    assert sorted(outcome.late) == [2, 3]
    assert LATE == "timed out: not started before the run's deadline"
