"""A Slack incoming-webhook stand-in on 127.0.0.1: it answers as Slack does and keeps what it got.

    with SlackSink(rate_limit=1) as sink:
        SlackNotifier("team", webhook_url=Secret(sink.url)).send(report)
        assert len(sink.messages) == 1

Like Slack it answers ``200 ok``; ``400 invalid_payload`` for a body that is not a JSON object,
``400 no_text`` without ``text`` or ``blocks``, ``400 invalid_blocks`` beyond 50 blocks (or a
header over 150 / a section over 3,000 characters), ``404 no_service`` on any other path, and
``429`` with ``Retry-After`` beyond ``rate_limit`` messages per second. Errors, 429s,
redirects and slow answers can be queued with :meth:`SlackSink.inject`,
:meth:`~SlackSink.inject_429`, :meth:`~SlackSink.inject_redirect` and
:meth:`~SlackSink.inject_slow`.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from offhours.testing._http import LoopbackHandler, LoopbackServer, read_body, send_text

__all__ = ["SlackSink"]

MAX_BLOCKS = 50
_HEADER_MAX = 150
_SECTION_MAX = 3000


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def _check_payload(raw: bytes) -> tuple[_Answer | None, dict[str, Any] | None]:
    """Slack's minimal checks: ``(error answer, None)`` or ``(None, payload)``."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _Answer(400, "invalid_payload"), None
    if not isinstance(payload, dict):
        return _Answer(400, "invalid_payload"), None
    blocks = payload.get("blocks")
    if not payload.get("text") and not blocks:
        return _Answer(400, "no_text"), None
    if blocks is not None and not _blocks_ok(blocks):
        return _Answer(400, "invalid_blocks"), None
    return None, payload


def _blocks_ok(blocks: Any) -> bool:
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return False
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return False
        text = block.get("text")
        length = len(text.get("text", "")) if isinstance(text, dict) else 0
        if block["type"] == "header" and length > _HEADER_MAX:
            return False
        if block["type"] == "section" and length > _SECTION_MAX:
            return False
    return True


class _Handler(LoopbackHandler):
    def do_POST(self) -> None:
        sink: SlackSink = self.context
        raw = read_body(self)
        if urlsplit(self.path).path != sink.path:
            send_text(self, 404, "no_service", content_type="text/html")
            return
        delay = sink._take_delay()
        if delay:
            self.stopping.wait(delay)
        answer = sink._answer(raw)
        send_text(
            self, answer.status, answer.body, content_type="text/html", headers=dict(answer.headers)
        )


class SlackSink:
    """A real HTTP server on 127.0.0.1 posing as one Slack incoming webhook."""

    def __init__(self, *, rate_limit: float | None = None, retry_after: str = "1") -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit is messages per second and must be > 0")
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        # Looks like a real webhook secret, so tests can check it never leaks.
        alphabet = string.ascii_letters + string.digits
        self.token = "".join(secrets.choice(alphabet) for _ in range(24))
        self.path = f"/services/T00000000/B00000000/{self.token}"
        #: (time.monotonic(), payload) of every accepted message, in arrival order
        self.received: list[tuple[float, dict[str, Any]]] = []
        #: every POST to the webhook path (accepted or not), as (status, body) answered
        self.answers: list[tuple[int, str]] = []
        self.rejected_429 = 0
        self._lock = threading.Lock()
        self._queued: deque[_Answer | None] = deque()  # None: answer normally
        self._delays: deque[float] = deque()
        self._last_accepted: float | None = None
        self._server = LoopbackServer(_Handler, context=self)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/services/T00000000/B00000000/<token>``: treat it as a secret."""
        return self._server.url + self.path

    # ------------------------------------------------------------ what arrived

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted payloads, in arrival order."""
        with self._lock:
            return [payload for _, payload in self.received]

    @property
    def attempts(self) -> int:
        """POSTs to the webhook path, whatever the answer."""
        with self._lock:
            return len(self.answers)

    # ------------------------------------------------------------ scripted trouble

    def inject(
        self, body: str = "channel_not_found", status: int = 404, count: int = 1, *, after: int = 0
    ) -> None:
        """Answer ``count`` posts with ``status`` and ``body`` (Slack's error strings), once
        ``after`` more posts have been answered normally."""
        with self._lock:
            self._queued.extend([None] * after + [_Answer(status, body)] * count)

    def inject_429(self, retry_after: str = "2", count: int = 1) -> None:
        """Answer the next ``count`` posts with 429 and this ``Retry-After`` (any text)."""
        with self._lock:
            self._queued.extend(
                [_Answer(429, "rate_limited", (("Retry-After", retry_after),))] * count
            )

    def inject_redirect(self, location: str, status: int = 302, count: int = 1) -> None:
        """Answer the next ``count`` posts with a redirect to ``location`` (a hostile proxy, or
        a server that wants the webhook's secret path sent elsewhere)."""
        with self._lock:
            self._queued.extend([_Answer(status, "", (("Location", location),))] * count)

    def inject_slow(self, delay: float, count: int = 1) -> None:
        """Hold the next ``count`` answers for ``delay`` seconds (cut short when the sink stops)."""
        with self._lock:
            self._delays.extend([delay] * count)

    # ------------------------------------------------------------ server side

    def _take_delay(self) -> float:
        with self._lock:
            return self._delays.popleft() if self._delays else 0.0

    def _answer(self, raw: bytes) -> _Answer:
        with self._lock:
            answer = self._decide(raw)
            self.answers.append((answer.status, answer.body))
            if answer.status == 429:
                self.rejected_429 += 1
            return answer

    def _decide(self, raw: bytes) -> _Answer:
        scripted = self._queued.popleft() if self._queued else None
        if scripted is not None:
            return scripted
        now = time.monotonic()
        if (
            self.rate_limit is not None
            and self._last_accepted is not None
            and now - self._last_accepted < 1 / self.rate_limit
        ):
            return _Answer(429, "rate_limited", (("Retry-After", self.retry_after),))
        error, payload = _check_payload(raw)
        if error is not None or payload is None:
            return error or _Answer(400, "invalid_payload")
        self._last_accepted = now
        self.received.append((now, payload))
        return _Answer(200, "ok")
