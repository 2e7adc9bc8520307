"""Slack through an incoming webhook: the report as one grouped Block Kit message.

The webhook URL is a secret: it is checked once (https to hooks.slack.com, a host listed in
``allow_hosts`` or loopback; plain http only to loopback, for local sinks) and shown only
through :func:`redact_url` — or, when the value is not a URL at all (a pasted token), only by
its last four characters. A URL without a scheme (``hooks.slack.com/services/…``) is https.

The post goes through :mod:`offhours.transport` (urllib3): a redirect is never followed (it
would carry the message, and the secret path, to another host) but reported; a 429 is retried
after ``Retry-After`` and a 5xx after a short backoff, at most ``max_retries`` times a message,
with every wait of a run charged to ``max_wait`` and nothing waiting past the run's deadline;
one attempt takes at most ``timeout`` seconds. ``HTTPS_PROXY``/``NO_PROXY`` are honoured.

Its receipts carry no message id: an incoming webhook answers ``ok`` and nothing else
(:data:`~offhours.model.NO_ID_WEBHOOK`), so a webhook's message cannot be updated later.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

from offhours.budget import attempts_worst_case
from offhours.errors import ConfigError, NotifierError
from offhours.logs import scrub
from offhours.model import NO_ID_WEBHOOK, MessageReceipt, Receipt
from offhours.notifiers.base import Notifier
from offhours.notifiers.slack.blocks import ROLLUP_ABOVE, slack_messages
from offhours.plugin import PluginConfig, SecretReference
from offhours.report import plural
from offhours.secrets import Secret, redact_url, tail
from offhours.transport import (
    BodyTooLarge,
    BoundedRetry,
    DeadlinePassed,
    HttpAnswer,
    HttpClient,
    RequestFailed,
    TransportFault,
    WaitBudget,
    is_loopback,
)

if TYPE_CHECKING:
    from offhours.digest import Digest
    from offhours.report import Report

__all__ = ["SLACK_ERRORS", "SLACK_HOST", "SlackNotifier", "SlackNotifierConfig"]

log = logging.getLogger(__name__)

SLACK_HOST = "hooks.slack.com"
_BODY_MAX = 200
#: Slack answers "ok" or an error word: anything longer is read this far, no further
_ANSWER_MAX = 64 * 1024
#: statuses retried (429 after Retry-After, 5xx after a backoff)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")

_RECREATE = "create a new incoming webhook (Slack app → Incoming Webhooks) and update the secret"

#: Slack's webhook error bodies → what they mean and how to fix them.
SLACK_ERRORS: dict[str, str] = {
    "invalid_payload": (
        "Slack could not read the message (malformed JSON or an invalid block); "
        "this is a bug in offhours: report it with the output of --dry-run"
    ),
    "invalid_blocks": (
        "Slack rejected the message's blocks; this is a bug in offhours: "
        "report it with the output of --dry-run"
    ),
    "channel_not_found": f"the webhook's channel no longer exists; {_RECREATE}",
    "channel_is_archived": f"the webhook's channel is archived; unarchive it or {_RECREATE}",
    "no_service": (
        f"the webhook is disabled, was removed, or the URL is wrong; check the URL or {_RECREATE}"
    ),
    "no_service_id": "the webhook URL lacks its service ID (the B… part); copy the full URL again",
    "no_team": "the webhook URL's team ID (the T… part) is wrong; copy the full URL again",
    "team_disabled": "the Slack workspace is disabled; point the webhook at an active workspace",
    "invalid_token": f"the webhook's token is invalid (revoked or mistyped); {_RECREATE}",
    "no_active_hooks": f"the webhook is disabled; re-enable it in the Slack app or {_RECREATE}",
    "action_prohibited": (
        "a workspace admin restricted posting to this channel; ask an admin, "
        f"or {_RECREATE} for another channel"
    ),
    "posting_to_general_channel_denied": (
        f"only admins may post to the workspace's general channel; {_RECREATE} for another channel"
    ),
    "user_not_found": f"the user this webhook posts to no longer exists; {_RECREATE}",
    "no_text": "the message had neither text nor blocks; this is a bug in offhours",
    "too_many_attachments": "the message had more than 100 attachments; this is a bug in offhours",
    "msg_blocks_too_long": (
        "Slack found the message too long; this is a bug in offhours (it splits long reports): "
        "report it with the output of --dry-run"
    ),
    "rollup_error": "Slack had an internal error; it is usually temporary, try again later",
}


def _hostlike(host: str) -> bool:
    """A name or address a person would recognise as a host (not a pasted token)."""
    return is_loopback(host) or (len(host) <= 253 and bool(_HOSTNAME.match(host)))


def _check_url(raw: str, allow_hosts: Sequence[str]) -> tuple[str, str]:
    """The URL to post to and its host; ConfigError when policy refuses it.

    A refused value is never echoed: a URL is shown redacted (host and last four characters),
    anything else (a bot token, a pasted fragment) only by its last four characters."""
    raw = raw.strip()
    # The legacy form "hooks.slack.com/services/…" (as stored in the seed's KMS blob) means https.
    url = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        readable = True
    except ValueError:  # its message quotes the value: raised outside, with no context
        readable = False
    if not readable:
        raise ConfigError(
            f"webhook_url ({tail(raw)}): is not a valid URL (its host or port cannot be read); "
            f"copy it again from Slack: https://{SLACK_HOST}/services/…"
        )
    if not _hostlike(host):
        shown = f"webhook_url ({tail(raw)})"
        if not host:
            raise ConfigError(
                f"{shown}: has no host; it should start https://{SLACK_HOST}/services/"
            )
        raise ConfigError(
            f"{shown}: is not a webhook URL (a token or a fragment?); the secret should hold "
            f"the whole URL, https://{SLACK_HOST}/services/…"
        )
    where = f"webhook_url ({redact_url(url)})"
    scheme = parts.scheme.lower()
    allowed = {SLACK_HOST, *(h.strip().lower() for h in allow_hosts)}
    if scheme not in ("https", "http"):
        raise ConfigError(f"{where}: scheme {scheme[:20]!r} is not supported; use https://")
    # A loopback address never leaves the machine: local sinks need no allow_hosts entry.
    if host not in allowed and not is_loopback(host):
        raise ConfigError(
            f"{where}: host {host!r} is not {SLACK_HOST}; if this is intended "
            f"(a proxy or a test sink), add it to allow_hosts"
        )
    if scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{where}: plain http would send the webhook secret in clear; use https:// "
            "(http is accepted only for loopback addresses such as 127.0.0.1)"
        )
    return url, host


class SlackNotifierConfig(PluginConfig):
    """A Slack incoming webhook: one grouped message per run."""

    type: Literal["slack"]
    webhook_url: SecretReference
    allow_hosts: list[str] = Field(
        default_factory=list, description="Hosts other than hooks.slack.com that may receive it"
    )
    notify_when_empty: bool = Field(False, description="Post an all-clear when nothing is flagged")
    timeout: float = Field(4.0, gt=0, le=120, description="Total seconds for one attempt")
    max_wait: float = Field(
        8.0, ge=0, le=900, description="Total seconds a run waits between retries (429, 5xx)"
    )
    max_retries: int = Field(
        2, ge=0, le=20, description="Resends of one message after a 429, a 5xx or no connection"
    )
    pace: float = Field(1.1, ge=0, le=60, description="Seconds between messages of one run")
    rollup_above: int = Field(
        ROLLUP_ABOVE,
        ge=0,
        description="Above this many findings, one section per owner (or group): count, cost "
        "and the top lines; 0: never",
    )


class SlackNotifier(Notifier):
    """Posts the report to a Slack incoming webhook (``type = "slack"``).

    Its settings are those of :class:`SlackNotifierConfig`, validated there and trusted here;
    the webhook URL, a secret only resolved at run time, is checked here (:func:`_check_url`)."""

    type = "slack"
    config_model = SlackNotifierConfig

    def __init__(
        self,
        name: str,
        *,
        webhook_url: Secret,
        allow_hosts: Sequence[str] = (),
        notify_when_empty: bool = False,
        timeout: float = 4.0,
        max_wait: float = 8.0,
        max_retries: int = 2,
        pace: float = 1.1,
        rollup_above: int = ROLLUP_ABOVE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name)
        if not isinstance(webhook_url, Secret):
            raise ConfigError("webhook_url must be a secret reference (env:NAME or file:PATH)")
        self._url, self._host = _check_url(webhook_url.reveal(), allow_hosts)
        self.destination = redact_url(self._url)
        self.notify_when_empty = notify_when_empty
        self.timeout = timeout
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.pace = pace
        self.rollup_above = rollup_above
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        retry = BoundedRetry(
            total=max_retries,
            connect=max_retries,
            # A request that was sent may have been posted: never send it again on a read error.
            read=0,
            status=max_retries,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            backoff_factor=0.5,
            backoff_max=max(max_wait, 0.0),
            backoff_jitter=0.1,  # parallel runs do not retry in step
            respect_retry_after_header=True,
            # No cap: a wait longer than what is left of max_wait is refused, not shortened
            # (an early retry would only earn another 429).
            retry_after_cap=math.inf,
            raise_on_status=False,
            redirect=False,
        )
        self._http = HttpClient(
            self._url,
            retry=retry,
            connect_timeout=timeout,
            read_timeout=timeout,
            request_timeout=timeout,
            max_bytes=_ANSWER_MAX,
            headers={"Content-Type": "application/json;charset=utf-8", "User-Agent": "offhours"},
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"SlackNotifier({self.name!r}, webhook={self.destination!r})"

    @classmethod
    def worst_case_seconds(cls, options: Mapping[str, Any]) -> float:
        """One message: every attempt as long as ``timeout``, every wait within ``max_wait``."""
        timeout = options.get("timeout")
        retries = options.get("max_retries")
        wait = options.get("max_wait")
        return attempts_worst_case(
            4.0 if timeout is None else float(timeout), 2 if retries is None else int(retries), 0
        ) + (8.0 if wait is None else float(wait))

    def _should_send(self, report: Report) -> bool:
        memory = report.memory
        if memory is None:
            return bool(
                report.findings or report.failures or report.problems or self.notify_when_empty
            )
        if memory.skipped is not None:
            return False  # this run's identity was delivered already, or is being delivered
        # With memory, tag problems alone are not news: they ride along with a message.
        return bool(
            report.findings
            or memory.resolved
            or report.failures
            or memory.gaps
            or memory.problem
            or self.notify_when_empty
        )

    def send(self, report: Report) -> Receipt:
        if not self._should_send(report):
            log.info("notifier %r: nothing to report, no message sent", self.name)
            return self.receipt()
        # Built one at a time as they are posted: never all of a large report's at once.
        messages = slack_messages(report, rollup_above=self.rollup_above)
        total = messages.total
        budget = WaitBudget(self.max_wait)
        delivered: list[MessageReceipt] = []
        # One send at a time per webhook: Slack's limit is per URL.
        with self._lock:
            last = -math.inf
            for i, message in enumerate(messages, 1):
                # Slack allows about one message a second: keep to it rather than earn 429s.
                gap = min(self.pace - (self._clock() - last), self.deadline.remaining())
                if i > 1 and gap > 0:
                    self._sleep(gap)
                last = self._clock()
                self._post(budget, message, i, total, tuple(delivered))
                delivered.append(MessageReceipt(i, no_id=NO_ID_WEBHOOK))
                log.info("notifier %r: posted message %d of %d", self.name, i, total)
                del message  # before the next is built: one message alive, not two
        return self.receipt(tuple(delivered), planned=total)

    def _post(
        self,
        budget: WaitBudget,
        message: dict[str, Any],
        index: int,
        total: int,
        delivered: tuple[MessageReceipt, ...],
    ) -> None:
        tally = f"delivered {len(delivered)} of {total} message{'s' if total != 1 else ''}"
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        fault: TransportFault | None = None
        try:
            answer = self._http.request(
                "POST", self._url, body=body, deadline=self.deadline, budget=budget
            )
        except TransportFault as exc:
            fault = exc
        if fault is not None:
            # Raised outside the except block, with no cause or context: urllib3's errors may
            # carry the URL, and the URL is the secret.
            raise NotifierError(
                self.name, f"{self._fault(fault)}; {tally} (webhook {self.destination})", delivered
            )
        if answer.status == 200 and answer.body.strip() == b"ok":
            return
        refusal = self._refusal(answer, budget, index, total, tally)
        raise NotifierError(self.name, refusal, delivered)

    def _fault(self, fault: TransportFault) -> str:
        if isinstance(fault, DeadlinePassed):
            if fault.limit == "run":
                return (
                    f"timed out: the run's deadline came before {self._host} answered "
                    f"({plural(fault.attempts, 'attempt')})"
                )
            return f"{self._host} did not answer within {self.timeout:g} s"
        if isinstance(fault, BodyTooLarge):
            return f"{self._host} answered with more than {fault.cap:,} bytes; not Slack?"
        assert isinstance(fault, RequestFailed)
        reason = fault.reason
        # NewConnectionError is a ConnectTimeoutError to urllib3: test it first.
        if isinstance(reason, NewConnectionError):
            cause = reason.__cause__ or reason.__context__
            why = getattr(cause, "strerror", None) or str(reason).rpartition(": ")[2]
            return f"{self._host} cannot be reached ({self._scrub(str(why))})"
        if isinstance(reason, ReadTimeoutError | ConnectTimeoutError):
            return f"{self._host} did not answer within {self.timeout:g} s"
        return (
            f"{self._host} cannot be reached ({type(reason).__name__}: "
            f"{self._scrub(str(reason))[:_BODY_MAX]})"
        )

    def _refusal(
        self, answer: HttpAnswer, budget: WaitBudget, index: int, total: int, tally: str
    ) -> str:
        status = answer.status
        if 300 <= status < 400:
            try:
                target = urlsplit(answer.headers.get("Location") or "").hostname or "?"
            except ValueError:
                target = "?"
            return (
                f"Slack answered message {index} of {total} with a redirect (HTTP {status} to "
                f"host {self._scrub(target)[:100]!r}); redirects are never followed, they would "
                f"take the message elsewhere. Check the webhook URL; {tally} "
                f"(webhook {self.destination})"
            )
        if status == 429:
            asked = f"{answer.last_wait:g} s" if answer.last_wait is not None else "a while"
            if budget.spent:
                why = (
                    f"the next wait ({asked}) would exceed the wait budget "
                    f"(max_wait = {self.max_wait:g} s, {budget.waited:.1f} s already spent)"
                )
            elif answer.stopped_early == "deadline":
                why = f"the next wait ({asked}) would pass the run's deadline"
            else:
                why = f"still limited after {answer.attempts - 1} retries (max_retries)"
            return (
                f"Slack rate-limited the webhook {self.destination} (HTTP 429) and {why}; "
                f"{tally}. Post less often, or raise max_wait."
            )
        text = answer.body.decode("utf-8", "replace").strip()
        explanation = SLACK_ERRORS.get(text)
        if explanation is None:
            shown = self._scrub(" ".join(text.split()))
            if len(shown) > _BODY_MAX:
                shown = shown[: _BODY_MAX - 1] + "…"
            explanation = f"unexpected answer {shown!r}" if shown else "empty answer"
            label = f"HTTP {status}"
        else:
            label = f"HTTP {status} {text}"
        if status in RETRY_STATUSES and answer.attempts > 1:
            label += f", {plural(answer.attempts, 'attempt')}"
        return (
            f"Slack refused message {index} of {total} ({label}): {explanation}; {tally} "
            f"(webhook {self.destination})"
        )

    def _scrub(self, text: str) -> str:
        return scrub(text)

    def preview(self, report: Report) -> str:
        if not self._should_send(report):
            return (
                f"Slack webhook {self.destination}: nothing to send "
                f"({_nothing_why(report)}; notify_when_empty is off)\n"
            )
        messages = slack_messages(report, rollup_above=self.rollup_above)
        total = messages.total
        out = [f"Slack webhook {self.destination}: {total} message{'s' if total != 1 else ''}"]
        for i, message in enumerate(messages, 1):
            out.append(f"--- message {i} of {total} ---")
            out.append(json.dumps(message, indent=2, ensure_ascii=False))
        return "\n".join(out) + "\n"

    def digest(self, digest: Digest, *, dry_run: bool = False, png: bytes | None = None) -> Receipt:
        """The digest as one Block Kit message. An incoming webhook cannot upload a file: the
        chart (``png``) is not attached (``offhours digest --output`` saves it)."""
        from offhours.notifiers.slack.digest_blocks import digest_message

        message = digest_message(digest)
        if dry_run:
            preview = json.dumps(message, indent=2, ensure_ascii=False)
            return self.receipt(
                dry_run=True, preview=f"Slack webhook {self.destination}:\n{preview}\n"
            )
        try:
            with self._lock:
                self._post(WaitBudget(self.max_wait), message, 1, 1, ())
        except NotifierError as exc:
            log.info("notifier %r failed: %s", self.name, exc.detail)
            return self.receipt(error=scrub(exc.detail))
        log.info("notifier %r: posted the digest", self.name)
        return self.receipt((MessageReceipt(1, no_id=NO_ID_WEBHOOK),), planned=1)


def _nothing_why(report: Report) -> str:
    """Why a report needs no message, in a dry run's preview."""
    if report.memory is not None and report.memory.deduplicated and report.flagged:
        return "nothing new, due a reminder or resolved; no failures"
    return "nothing flagged, no failures"
