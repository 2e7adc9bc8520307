"""A JSON array read one item at a time, each item within a size bound.

``json.loads`` of a whole answer builds every value of it at once, and a source then keeps a
few fields of each item: reading 10,000 Ravello applications that way held ~520,000 Python
objects alive together, beside a decoded copy of the body. :func:`array_items` hands the items
over one by one, so a caller that keeps what it needs holds one item's values at a time; it
parses each item with the standard library's C scanner, so an item costs what ``json.loads``
costs for it.

Each item is parsed from a window of at most ``max_item_bytes`` of the body, decoded on its own,
never from the whole body: whatever an item holds (``[[],[],…]``: a value costs ~50-100 bytes
once read and takes ≥ 2 bytes of JSON), reading it costs at most that window's worth, and an
item longer than the window is refused as :class:`ItemTooLarge` before it is built. No decoded
copy of the whole body is made (UTF-8; a UTF-16 or -32 body is re-encoded first).

Errors are the standard library's: :class:`json.JSONDecodeError` for text that is not JSON (its
position counts characters from the start of the window it was found in), ``ValueError`` for an
integer of thousands of digits or bytes that are not UTF-8, ``RecursionError`` for nesting too
deep; :class:`NotAnArray` when the body does not open an array at all.

:func:`collector_paused` keeps the cyclic garbage collector out of a loop that builds many
records, none of them in a cycle: see there.
"""

from __future__ import annotations

import codecs
import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from threading import Lock

__all__ = ["ItemTooLarge", "NotAnArray", "array_items", "collector_paused"]

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, as json.decoder skips it
#: what may follow a number's digits up to a window's end when the window cut its fraction or
#: exponent: the scanner stopped before it
_NUMBER_TAIL = re.compile(r"[0-9eE.+-]+")
_UTF8 = codecs.getincrementaldecoder("utf-8")
#: a cut near a window's end fails inside the token it cut: a number, a literal, a key's ":"
#: or a \uXXXX\uXXXX escape, all within this many characters of the end (or a string, below)
_CUT_REACH = 16
#: windows smaller than this could hold no whole character (UTF-8 takes up to 4 bytes)
_MIN_WINDOW = 64


class NotAnArray(ValueError):
    """The body does not start with ``[``: the caller reads it whole to say what it is."""


class ItemTooLarge(ValueError):
    """Item ``index`` (from 0) takes ``limit`` bytes or more; reading stopped there."""

    def __init__(self, index: int, limit: int) -> None:
        super().__init__(f"item {index} takes {limit:,} bytes or more")
        self.index = index
        self.limit = limit


class _Window:
    """At most ``size`` bytes of ``body`` from byte ``start``, decoded; positions in ``text``
    count characters. ``final``: it reaches the end of the body."""

    def __init__(self, body: bytes, start: int, size: int) -> None:
        self.body, self.start, self.size = body, start, size
        self.final = start + size >= len(body)
        # Not final: a character cut at the end is left out (the next window starts with it).
        self.text = _UTF8("surrogatepass").decode(body[start : start + size], self.final)

    def moved_to(self, pos: int) -> _Window:
        """The window that starts at character ``pos`` of this one."""
        ahead = (
            pos if self.text.isascii() else len(self.text[:pos].encode("utf-8", "surrogatepass"))
        )
        return _Window(self.body, self.start + ahead, self.size)


def array_items(body: bytes, max_item_bytes: int) -> Iterator[object]:
    """The items of the JSON array ``body``, in order, each parsed on its own.

    The whole body is checked as ``json.loads`` checks it (one array, nothing after it), but an
    item is handed over before the items after it are read: a caller that stops early (an item
    of the wrong shape) may never learn that the body breaks later on.
    """
    encoding = json.detect_encoding(body)
    if encoding != "utf-8":  # a BOM, UTF-16 or UTF-32: rare enough to pay for one copy
        body = body.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")
    size = max(max_item_bytes, _MIN_WINDOW)
    win, pos = _next(_Window(body, 0, size), 0)
    if not win.text.startswith("[", pos):
        raise NotAnArray
    win, pos = _next(win, pos + 1)
    if win.text.startswith("]", pos):
        _expect_end(win, pos + 1)
        return
    index = 0
    while True:
        try:
            item, stop = _DECODER.raw_decode(win.text, pos)
            # A number the window cuts reads as a shorter one: "12" of "123", "1" of "1e+16"
            # (the scanner stops before a bare "e", "." or sign): not an item.
            cut = not win.final and (
                stop >= len(win.text)
                or (_is_number(item) and _NUMBER_TAIL.fullmatch(win.text, stop) is not None)
            )
        except json.JSONDecodeError as exc:
            if win.final or (pos == 0 and not _cut_by_window(exc, len(win.text))):
                raise
            cut = True
        if cut:
            if pos == 0:  # the item alone fills the window
                raise ItemTooLarge(index, size)
            win, pos = win.moved_to(pos), 0  # read it from a window that starts with it
            continue
        yield item
        win, pos = _next(win, stop)
        if win.text.startswith(",", pos):
            win, pos = _next(win, pos + 1)
            index += 1
        elif win.text.startswith("]", pos):
            _expect_end(win, pos + 1)
            return
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", win.text, pos)


def _is_number(item: object) -> bool:
    return isinstance(item, int | float) and not isinstance(item, bool)


def _next(win: _Window, pos: int) -> tuple[_Window, int]:
    """Past the whitespace from ``pos``, moving the window on when it runs out: the window and
    the position of the next character (the end of the text, at the end of the body)."""
    while True:
        space = _SPACE.match(win.text, pos)
        pos = space.end() if space else pos
        if pos < len(win.text) or win.final:
            return win, pos
        win, pos = win.moved_to(pos), 0


def _expect_end(win: _Window, pos: int) -> None:
    win, pos = _next(win, pos)
    if pos != len(win.text):
        raise json.JSONDecodeError("Extra data", win.text, pos)


def _cut_by_window(exc: json.JSONDecodeError, window: int) -> bool:
    """Whether a parse that started at the window's start failed because the window ended.

    A string the window cuts is unterminated wherever it began; any other token the window
    cuts fails within :data:`_CUT_REACH` characters of the end. Text that is broken that close
    to the end of a full window is called too large rather than not JSON: refused either way.
    """
    return exc.msg.startswith("Unterminated string") or exc.pos >= window - _CUT_REACH


# One count for every thread: the collector is off while any of them is in the loop.
_paused_lock = Lock()
_paused = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (and back on after, if it was on).

    Building thousands of records makes the collector run over and over, each full pass
    walking everything alive. Records read from JSON hold no cycles, so reference counting
    frees what the loop drops: pausing loses nothing. Sources read concurrently, so the
    collector comes back when the last thread leaves, not the first.
    """
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
