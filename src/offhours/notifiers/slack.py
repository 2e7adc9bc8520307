"""Slack through an incoming webhook: the report as one grouped Block Kit message.

The webhook URL is a secret: it is checked once (https to hooks.slack.com, a host listed in
``allow_hosts`` or loopback; plain http only to loopback, for local sinks) and shown only
through :func:`redact_url`. A URL without a scheme (``hooks.slack.com/services/…``) is https.
A 429 is retried after ``Retry-After``, with the total wait of a run bounded by ``max_wait``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.http_retry import ConnectionErrorRetryHandler, RetryHandler, RetryState
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.webhook import WebhookClient

from offhours.errors import ConfigError, NotifierError
from offhours.logs import RedactingFilter, scrub
from offhours.notifiers.base import Notifier
from offhours.report import render_slack
from offhours.secrets import Secret, redact_url

if TYPE_CHECKING:
    from offhours.report import Report

__all__ = ["SLACK_ERRORS", "SLACK_HOST", "SlackNotifier"]

log = logging.getLogger(__name__)

SLACK_HOST = "hooks.slack.com"
_BODY_MAX = 200

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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(raw: str, allow_hosts: Sequence[str]) -> tuple[str, str]:
    """The URL to post to and its host; ConfigError (URL redacted) when policy refuses it."""
    raw = raw.strip()
    # The legacy form "hooks.slack.com/services/…" (as stored in the seed's KMS blob) means https.
    url = raw if "://" in raw else f"https://{raw}"
    where = f"webhook_url ({redact_url(url)})"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        raise ConfigError(f"{where}: is not a valid URL; copy it again from Slack") from None
    scheme = parts.scheme.lower()
    allowed = {SLACK_HOST, *(h.strip().lower() for h in allow_hosts)}
    if scheme not in ("https", "http"):
        raise ConfigError(f"{where}: scheme {scheme!r} is not supported; use https://")
    if not host:
        raise ConfigError(f"{where}: has no host; it should start https://{SLACK_HOST}/services/")
    # A loopback address never leaves the machine: local sinks need no allow_hosts entry.
    if host not in allowed and not _is_loopback(host):
        raise ConfigError(
            f"{where}: host {host!r} is not {SLACK_HOST}; if this is intended "
            f"(a proxy or a test sink), add it to allow_hosts"
        )
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"{where}: plain http would send the webhook secret in clear; use https:// "
            "(http is accepted only for loopback addresses such as 127.0.0.1)"
        )
    return url, host


# slack_sdk logs the request URL at DEBUG and INFO: its records are scrubbed here too, not only
# by the handler that offhours.logs configures, so any handler (tests, embedding) is safe.
_sdk_log = logging.getLogger(f"{__name__}.sdk")
_sdk_log.addFilter(RedactingFilter())


def _retry_after(response: HttpResponse) -> float:
    """Seconds asked by ``Retry-After``; 1 s when absent or not a number (e.g. an HTTP date)."""
    for key, values in response.headers.items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return 1.0
            return seconds if seconds >= 0 and seconds == seconds else 1.0  # NaN → 1 s
    return 1.0


class _RateLimitBudget(RetryHandler):
    """Retries a 429 after ``Retry-After`` while the run's total wait stays within ``max_wait``.

    slack_sdk's RateLimitErrorRetryHandler waits as long as told and fails on a non-numeric
    header; a scheduled run must end, so every wait is charged to one budget per ``send``.
    """

    def __init__(self, max_retries: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retries)
        self.remaining = max_wait
        self.waited = 0.0
        self.retries = 0
        self.last_asked: float | None = None
        self.budget_spent = False

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        self.last_asked = _retry_after(response)
        if self.last_asked > self.remaining:
            self.budget_spent = True
            return False
        return True

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = self.last_asked if self.last_asked is not None else 1.0
        # A little jitter, never beyond the budget, so parallel runs do not retry in step.
        wait = min(self.remaining, wait + random.uniform(0, 0.1))  # noqa: S311 - not crypto
        self.remaining -= wait
        self.waited += wait
        self.retries += 1
        log.info("Slack rate limit: waiting %.1f s as Retry-After asks", wait)
        time.sleep(wait)
        state.next_attempt_requested = True
        state.increment_current_attempt()


class SlackNotifier(Notifier):
    """Posts the report to a Slack incoming webhook (``type = "slack"``)."""

    type = "slack"

    def __init__(
        self,
        name: str,
        *,
        webhook_url: Secret,
        allow_hosts: Sequence[str] = (),
        notify_when_empty: bool = False,
        timeout: float = 10.0,
        max_wait: float = 60.0,
        max_retries: int = 5,
        pace: float = 1.1,
    ) -> None:
        super().__init__(name)
        if not isinstance(webhook_url, Secret):
            raise ConfigError("webhook_url must be a secret reference (env:NAME or file:PATH)")
        if timeout <= 0 or max_wait < 0 or max_retries < 0:
            raise ConfigError(
                f"timeout={timeout}, max_wait={max_wait}, max_retries={max_retries}: "
                "timeout must be > 0, max_wait and max_retries >= 0"
            )
        self._url, self._host = _check_url(webhook_url.reveal(), allow_hosts)
        self.destination = redact_url(self._url)
        self.notify_when_empty = notify_when_empty
        self.timeout = timeout
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.pace = pace
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SlackNotifier({self.name!r}, webhook={self.destination!r})"

    def _should_send(self, report: Report) -> bool:
        return bool(report.findings or report.failures or report.problems or self.notify_when_empty)

    def _client(self, budget: _RateLimitBudget) -> WebhookClient:
        client = WebhookClient(
            self._url,
            # urllib takes float seconds; slack_sdk's annotation is narrower than its use.
            timeout=cast(int, self.timeout),
            logger=_sdk_log,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), budget],
        )
        if _is_loopback(self._host):
            # slack_sdk reads HTTPS_PROXY but not NO_PROXY: a local sink is never behind one.
            client.proxy = None
        return client

    def _scrub(self, text: str) -> str:
        return scrub(text)

    def _cause(self, exc: BaseException) -> BaseException | None:
        """``exc`` to chain, unless its text carries the URL (a traceback would print it)."""
        path = urlsplit(self._url).path
        text = f"{exc!s} {exc!r}"
        return None if self._url in text or (len(path) > 1 and path in text) else exc

    def send(self, report: Report) -> int:
        if not self._should_send(report):
            log.info("notifier %r: nothing to report, no message sent", self.name)
            return 0
        messages = render_slack(report)
        total = len(messages)
        budget = _RateLimitBudget(self.max_retries, self.max_wait)
        client = self._client(budget)
        delivered = 0
        # One send at a time per webhook: Slack's limit is per URL.
        with self._lock:
            last = 0.0
            for i, message in enumerate(messages, 1):
                # Slack allows about one message a second: keep to it rather than earn 429s.
                gap = self.pace - (time.monotonic() - last)
                if i > 1 and gap > 0:
                    time.sleep(gap)
                last = time.monotonic()
                self._post(client, budget, message, i, total, delivered)
                delivered += 1
                log.info("notifier %r: posted message %d of %d", self.name, i, total)
        return delivered

    def _post(
        self,
        client: WebhookClient,
        budget: _RateLimitBudget,
        message: dict[str, Any],
        index: int,
        total: int,
        delivered: int,
    ) -> None:
        tally = f"delivered {delivered} of {total} message{'s' if total != 1 else ''}"
        try:
            response = client.send_dict(message)
        except TimeoutError as exc:
            raise NotifierError(
                self.name,
                f"{self._host} did not answer within {self.timeout:g} s; {tally} "
                f"(webhook {self.destination})",
            ) from self._cause(exc)
        except (URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, URLError) else exc
            if isinstance(reason, TimeoutError):
                detail = f"did not answer within {self.timeout:g} s"
            else:
                detail = f"cannot be reached ({self._scrub(str(reason))})"
            raise NotifierError(
                self.name, f"{self._host} {detail}; {tally} (webhook {self.destination})"
            ) from self._cause(exc)
        except Exception as exc:  # noqa: BLE001 - slack_sdk may raise its own errors too
            raise NotifierError(
                self.name,
                f"posting to {self.destination} failed ({type(exc).__name__}: "
                f"{self._scrub(str(exc))[:_BODY_MAX]}); {tally}",
            ) from self._cause(exc)
        status, body = response.status_code, (response.body or "").strip()
        if status == 200 and body == "ok":
            return
        if status == 429:
            asked = f"{budget.last_asked:g} s" if budget.last_asked is not None else "a while"
            if budget.budget_spent:
                why = (
                    f"the next wait ({asked}) would exceed the wait budget "
                    f"(max_wait = {self.max_wait:g} s, {budget.waited:.1f} s already spent)"
                )
            else:
                why = f"still limited after {budget.retries} retries (max_retries)"
            raise NotifierError(
                self.name,
                f"Slack rate-limited the webhook {self.destination} (HTTP 429) and {why}; "
                f"{tally}. Post less often, or raise max_wait.",
            )
        explanation = SLACK_ERRORS.get(body)
        if explanation is None:
            shown = self._scrub(" ".join(body.split()))
            if len(shown) > _BODY_MAX:
                shown = shown[: _BODY_MAX - 1] + "…"
            explanation = f"unexpected answer {shown!r}" if shown else "empty answer"
            label = f"HTTP {status}"
        else:
            label = f"HTTP {status} {body}"
        raise NotifierError(
            self.name,
            f"Slack refused message {index} of {total} ({label}): {explanation}; {tally} "
            f"(webhook {self.destination})",
        )

    def preview(self, report: Report) -> str:
        if not self._should_send(report):
            return (
                f"Slack webhook {self.destination}: nothing to send "
                "(nothing flagged, no failures; notify_when_empty is off)\n"
            )
        messages = render_slack(report)
        total = len(messages)
        out = [f"Slack webhook {self.destination}: {total} message{'s' if total != 1 else ''}"]
        for i, message in enumerate(messages, 1):
            out.append(f"--- message {i} of {total} ---")
            out.append(json.dumps(message, indent=2, ensure_ascii=False))
        return "\n".join(out) + "\n"
