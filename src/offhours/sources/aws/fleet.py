"""The bounded pool the aws source runs its work on, and what a failed piece of work says.

Work items (accounts, then (account, region, kind) tasks) run on at most ``max_workers``
threads, so no more calls are in flight than that. An item not started when the run's
deadline passes is never started; one still running then is left to its own timeouts. Each
item ends in one of three ways: done (its result), failed (why, in AWS's words), or late.
"""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from offhours.logs import scrub
from offhours.transport import Deadline
from offhours.untrusted import one_line

__all__ = ["LATE", "Outcome", "describe", "run_bounded"]

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")

#: what an item not started before the deadline reports
LATE = "timed out: not started before the run's deadline"
# What a server may echo of the credentials (SignatureDoesNotMatch quotes the canonical
# request, session token included): access key ids and long base64 runs are cut out.
_CREDENTIAL = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|[A-Za-z0-9/+=]{64,}")
#: the longest AWS message kept (they are one sentence; a huge one is not read whole)
_MAX_TEXT = 400

# What to do about an AWS error code, said after AWS's own words.
_DENIED = "grant the role the actions this source needs (offhours deploy lists them)"
_NOT_ASSUMED = (
    "allow sts:AssumeRole on the role to these credentials, and them in the role's trust policy"
)
_EXPIRED = "the credentials expired; renew them (or the role's session) and run again"
_REGION_OFF = 'is the region enabled in this account? regions = "all" reads only enabled ones'
_THROTTLED = "throttled beyond the retries: raise max_attempts or lower max_workers"
_HINTS = {
    **dict.fromkeys(
        ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"),
        _DENIED,
    ),
    **dict.fromkeys(("ExpiredToken", "ExpiredTokenException", "RequestExpired"), _EXPIRED),
    **dict.fromkeys(
        ("AuthFailure", "OptInRequired", "UnrecognizedClientException", "InvalidClientTokenId"),
        _REGION_OFF,
    ),
    **dict.fromkeys(
        (
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "RequestThrottled",
        ),
        _THROTTLED,
    ),
}

# An error body botocore could not parse for the protocol it expected (an XML ErrorResponse to a
# JSON client) reaches it as Code "<HTTP status>" and the whole body as Message.
_XML_CODE = re.compile(r"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,2000})</Message>")

log = logging.getLogger(__name__)


def _aws_words(error: dict[str, str]) -> tuple[str, str | None]:
    """AWS's error code and message: botocore's, or those in an unparsed XML error body."""
    code, message = str(error.get("Code") or "Error"), error.get("Message")
    if message and message.lstrip().startswith("<") and (found := _XML_CODE.search(message)):
        said = _XML_MESSAGE.search(message)
        status = f" (HTTP {code})" if code.isdigit() else ""
        text = html.unescape(said.group(1)) if said else None
        return html.unescape(found.group(1)).strip(), f"{text or 'no message'}{status}"
    return code, message


@dataclass
class Outcome(Generic[T, R]):
    """How each item of one :func:`run_bounded` ended."""

    done: dict[T, R] = field(default_factory=dict)
    failed: dict[T, str] = field(default_factory=dict)
    late: list[T] = field(default_factory=list)


class _NotStarted(Exception):
    """The deadline passed before the item's turn came."""


def describe(exc: BaseException) -> str:
    """One line saying why a call failed: AWS's error code and words, and what to do. Never
    a credential (scrubbed, as any server text)."""
    if isinstance(exc, ClientError):
        code, message = _aws_words(exc.response.get("Error", {}))
        text = f"{code}: {message or exc}"
        hint = _HINTS.get(code)
        if hint is _DENIED and exc.operation_name == "AssumeRole":
            hint = _NOT_ASSUMED
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        if hint is _THROTTLED and attempts:
            hint = f"{hint} ({attempts + 1} attempts)"
    elif isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        text, hint = f"cannot connect: {exc}", "is the region right, and reachable from here?"
    elif isinstance(exc, ReadTimeoutError):
        text, hint = f"no answer in time: {exc}", "raise read_timeout if AWS is slow here"
    elif isinstance(exc, NoCredentialsError):
        text, hint = "no AWS credentials found", "set AWS_PROFILE or the AWS_* variables"
    elif isinstance(exc, BotoCoreError):
        text, hint = f"{type(exc).__name__}: {exc}", None
    else:
        # A bug, not AWS's answer: the report says what, the log has the traceback.
        log.error("aws: unexpected failure", exc_info=exc)
        text, hint = f"unexpected {type(exc).__name__}", None
    text = _CREDENTIAL.sub("…", one_line(scrub(text)))
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return f"{text} ({hint})" if hint else text


def run_bounded(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    max_workers: int,
    deadline: Deadline,
) -> Outcome[T, R]:
    """``work`` on every item, at most ``max_workers`` at a time, until ``deadline``."""
    outcome: Outcome[T, R] = Outcome()
    if not items:
        return outcome

    def guarded(item: T) -> R:
        if deadline.passed:
            raise _NotStarted
        return work(item)

    pool = ThreadPoolExecutor(min(max_workers, len(items)), thread_name_prefix="offhours-aws")
    try:
        futures = {pool.submit(guarded, item): item for item in items}
        left = deadline.remaining()
        finished, pending = wait(futures, timeout=None if math.isinf(left) else left)
        for future in finished:
            item = futures[future]
            exc = future.exception()
            if exc is None:
                outcome.done[item] = future.result()
            elif isinstance(exc, _NotStarted):
                outcome.late.append(item)
            else:
                outcome.failed[item] = describe(exc)
        outcome.late.extend(futures[f] for f in pending)
    finally:
        # Never wait for what is still running at the deadline: its own timeouts end it.
        pool.shutdown(wait=False, cancel_futures=True)
    return outcome
