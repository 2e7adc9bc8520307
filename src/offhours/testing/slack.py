"""A Slack incoming-webhook stand-in on 127.0.0.1: it answers as Slack does and keeps what it got.

    with SlackSink(rate_limit=1) as sink:
        SlackNotifier("team", webhook_url=Secret(sink.url)).send(report)
        assert len(sink.messages) == 1

Like Slack it answers ``200 ok``; ``400 invalid_payload`` for a body that is not a JSON object,
``400 no_text`` without ``text`` or ``blocks``, ``400 invalid_blocks`` for blocks Slack refuses
(see :func:`block_problem`: beyond 50 blocks, an unknown block or rich text element type, an
empty text, a header over 150 or a text over 3,000 characters...), ``404 no_service`` on any
other path, and
``429`` with ``Retry-After`` beyond ``rate_limit`` messages per second. Errors, 429s,
redirects and slow answers can be queued with :meth:`SlackSink.inject`,
:meth:`~SlackSink.inject_429`, :meth:`~SlackSink.inject_redirect` and
:meth:`~SlackSink.inject_slow`.
"""

from __future__ import annotations

import json
import secrets
import socketserver
import string
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from offhours.testing._http import (
    BackgroundServer,
    LoopbackHandler,
    http_server,
    read_body,
    send_text,
)

__all__ = ["SlackSink", "block_problem"]

MAX_BLOCKS = 50
_HEADER_MAX = 150
_TEXT_MAX = 3000  # a text object's text (a section's, a context element's)
_FIELD_MAX = 2000
_MAX_FIELDS = 10
_MAX_CONTEXT_ELEMENTS = 10
_BLOCK_ID_MAX = 255
#: Slack documents no length for a rich_text block; the report packs its lines into blocks of
#: at most a section's 3,000 characters, and the sink holds it to that.
_RICH_TEXT_MAX = 3000

_BLOCK_TYPES = frozenset(
    {"header", "section", "context", "divider", "rich_text", "image", "actions"}
)
_RICH_CONTAINERS = frozenset(
    {"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"}
)
# The inline elements of a rich_text_section, and what each one requires.
_RICH_INLINE: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "link": ("url",),
    "emoji": ("name",),
    "user": ("user_id",),
    "channel": ("channel_id",),
    "usergroup": ("usergroup_id",),
    "team": ("team_id",),
    "broadcast": ("range",),
    "date": ("timestamp",),
    "color": ("value",),
}
_RICH_STYLES = frozenset(
    {"bold", "italic", "strike", "code", "highlight", "client_highlight", "underline", "unlink"}
)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


def _check_payload(raw: bytes) -> tuple[_Answer | None, dict[str, Any] | None]:
    """Slack's checks: ``(error answer, None)`` or ``(None, payload)``."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _Answer(400, "invalid_payload"), None
    if not isinstance(payload, dict):
        return _Answer(400, "invalid_payload"), None
    blocks = payload.get("blocks")
    if not payload.get("text") and not blocks:
        return _Answer(400, "no_text"), None
    if blocks is not None and block_problem(blocks) is not None:
        return _Answer(400, "invalid_blocks"), None
    return None, payload


def block_problem(blocks: Any) -> str | None:
    """What Slack would refuse in ``blocks`` (None: nothing), for the block types offhours
    sends (header, context, rich_text) and section and divider: Block Kit's required fields,
    types and lengths, unknown block and element types, empty text."""
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > MAX_BLOCKS:
        return f"{len(blocks)} blocks (at most {MAX_BLOCKS})"
    for i, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem is not None:
            return f"blocks[{i}]: {problem}"
    return None


def _text_problem(obj: Any, kinds: tuple[str, ...], limit: int) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return f"a text object of type {' or '.join(kinds)} is required"
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return "text is empty"
    if len(text) > limit:
        return f"text of {len(text)} characters (at most {limit})"
    if "emoji" in obj and (obj["type"] != "plain_text" or not isinstance(obj["emoji"], bool)):
        return "emoji is for plain_text only, and a boolean"
    if "verbatim" in obj and (obj["type"] != "mrkdwn" or not isinstance(obj["verbatim"], bool)):
        return "verbatim is for mrkdwn only, and a boolean"
    return None


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "not a block with a type"
    kind = block["type"]
    if kind not in _BLOCK_TYPES:
        return f"unknown block type {kind!r}"
    block_id = block.get("block_id")
    if block_id is not None and not (isinstance(block_id, str) and len(block_id) <= _BLOCK_ID_MAX):
        return "block_id must be a string of at most 255 characters"
    if kind == "header":
        return _text_problem(block.get("text"), ("plain_text",), _HEADER_MAX)
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return "a section needs text or fields"
        if "text" in block:
            problem = _text_problem(block["text"], ("plain_text", "mrkdwn"), _TEXT_MAX)
            if problem:
                return problem
        fields = block.get("fields", [])
        if not isinstance(fields, list) or len(fields) > _MAX_FIELDS:
            return f"fields: a list of at most {_MAX_FIELDS}"
        for field in fields:
            problem = _text_problem(field, ("plain_text", "mrkdwn"), _FIELD_MAX)
            if problem:
                return f"fields: {problem}"
        return None
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= _MAX_CONTEXT_ELEMENTS:
            return f"context elements: a list of 1 to {_MAX_CONTEXT_ELEMENTS}"
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "image":
                continue
            problem = _text_problem(element, ("plain_text", "mrkdwn"), _TEXT_MAX)
            if problem:
                return f"context: {problem}"
        return None
    if kind == "rich_text":
        return _rich_text_problem(block.get("elements"))
    return None


def _rich_text_problem(elements: Any) -> str | None:
    if not isinstance(elements, list) or not elements:
        return "rich_text elements: a non-empty list"
    total = 0
    for container in elements:
        if not isinstance(container, dict) or container.get("type") not in _RICH_CONTAINERS:
            kind = container.get("type") if isinstance(container, dict) else None
            return f"unknown rich_text element type {kind!r}"
        # A list holds sections; the others hold inline elements.
        inlines: Any
        if container["type"] == "rich_text_list":
            if container.get("style") not in ("bullet", "ordered"):
                return "rich_text_list style must be bullet or ordered"
            sections = container.get("elements")
            if not isinstance(sections, list) or not sections:
                return "rich_text_list elements: a non-empty list"
            for section in sections:
                if not isinstance(section, dict) or section.get("type") != "rich_text_section":
                    return "rich_text_list holds rich_text_section elements only"
            inlines = [e for section in sections for e in section.get("elements") or [None]]
        else:
            inlines = container.get("elements")
        if not isinstance(inlines, list) or not inlines:
            return f"{container['type']} elements: a non-empty list"
        for inline in inlines:
            problem = _inline_problem(inline)
            if problem:
                return problem
            total += len(inline["text"]) if inline["type"] == "text" else 0
    if total > _RICH_TEXT_MAX:
        return f"rich_text of {total} characters (at most {_RICH_TEXT_MAX})"
    return None


def _inline_problem(inline: Any) -> str | None:
    if not isinstance(inline, dict) or inline.get("type") not in _RICH_INLINE:
        kind = inline.get("type") if isinstance(inline, dict) else None
        return f"unknown rich text element type {kind!r}"
    if inline["type"] == "text" and not isinstance(inline.get("text"), str):
        return "text element: text must be a string"
    for key in _RICH_INLINE[inline["type"]]:
        if not isinstance(inline.get(key), str | int) or inline.get(key) == "":
            return f"{inline['type']} element: {key} is required and must not be empty"
    style = inline.get("style")
    if style is not None and (
        not isinstance(style, dict)
        or not set(style) <= _RICH_STYLES
        or not all(isinstance(v, bool) for v in style.values())
    ):
        return f"{inline['type']} element: style takes booleans among {sorted(_RICH_STYLES)}"
    return None


class _Handler(LoopbackHandler):
    def do_POST(self) -> None:
        sink: SlackSink = self.context
        raw = read_body(self)
        if urlsplit(self.path).path != sink.path:
            send_text(self, 404, "no_service", content_type="text/html")
            return
        delay, accept_first = sink._take_delay()
        # accept_first: the message is taken (as Slack would post it) before the answer is
        # held, as when the sender dies between Slack's post and its reply.
        answer = sink._answer(raw) if accept_first else None
        if delay:
            self.stopping.wait(delay)
        answer = answer or sink._answer(raw)
        send_text(
            self, answer.status, answer.body, content_type="text/html", headers=dict(answer.headers)
        )


class SlackSink(BackgroundServer):
    """A real HTTP server on 127.0.0.1 posing as one Slack incoming webhook."""

    def __init__(self, *, rate_limit: float | None = None, retry_after: str = "1") -> None:
        if rate_limit is not None and rate_limit <= 0:
            raise ValueError("rate_limit is messages per second and must be > 0")
        super().__init__()
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
        self._delays: deque[tuple[float, bool]] = deque()
        self._last_accepted: float | None = None

    # ------------------------------------------------------------ lifecycle

    def _bind(self) -> socketserver.TCPServer:
        # start, stop and `with` come from BackgroundServer
        return http_server(_Handler, self, self.stopping)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/services/T00000000/B00000000/<token>``: treat it as a secret."""
        return self.origin + self.path

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

    def inject_slow(self, delay: float, count: int = 1, *, accept_first: bool = False) -> None:
        """Hold the next ``count`` answers for ``delay`` seconds (cut short when the sink stops);
        with ``accept_first`` the message is accepted before the answer is held."""
        with self._lock:
            self._delays.extend([(delay, accept_first)] * count)

    # ------------------------------------------------------------ server side

    def _take_delay(self) -> tuple[float, bool]:
        with self._lock:
            return self._delays.popleft() if self._delays else (0.0, False)

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
