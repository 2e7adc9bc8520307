"""A JSON array read one item at a time: the same items as json.loads, the same refusals, and
no item read from more than its window."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from offhours.sources.json_array import ItemTooLarge, NotAnArray, array_items, collector_paused

WINDOW = 64  # the smallest window: items straddle windows all the time

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)  # any code point: multi-byte UTF-8 and lone surrogates cut by windows
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def items(body: bytes, window: int = WINDOW) -> list[object]:
    return list(array_items(body, window))


def encoded(value: object, ascii_only: bool, indent: int | None = None) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=120, deadline=None)
@given(st.lists(values, max_size=12), st.booleans(), st.sampled_from([WINDOW, 100, 4096]))
@example([1234567, "ab"], True, WINDOW)
def test_items_are_those_json_loads_reads_unless_one_outgrows_its_window(
    array: list[Any], ascii_only: bool, window: int
) -> None:
    body = encoded(array, ascii_only)
    too_large = [n for n, item in enumerate(array) if len(encoded(item, ascii_only)) >= window]
    if not too_large:
        assert items(body, window) == json.loads(body)
        return
    seen = array_items(body, window)
    assert [next(seen) for _ in range(too_large[0])] == array[: too_large[0]]
    with pytest.raises(ItemTooLarge) as info:
        next(seen)
    assert (info.value.index, info.value.limit) == (too_large[0], window)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, max_size=12), st.booleans(), st.sampled_from([0, 1, 4]))
def test_whitespace_anywhere_reads_the_same(
    array: list[Any], ascii_only: bool, indent: int
) -> None:
    body = encoded(array, ascii_only, indent)
    assert items(body, 1 << 20) == json.loads(body)


@settings(max_examples=80, deadline=None)
@given(st.lists(values, min_size=1, max_size=8), st.data())
def test_a_cut_body_is_refused_as_json_loads_refuses_it(
    array: list[Any], data: st.DataObject
) -> None:
    body = encoded(array, ascii_only=False)
    cut = body[: data.draw(st.integers(0, len(body) - 1))]
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        json.loads(cut)
    with pytest.raises((NotAnArray, json.JSONDecodeError, UnicodeDecodeError)):
        items(cut, 1 << 20)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[]", []),
        (b" \n[ \t] \r\n", []),
        (b"[1,2 , 3]", [1, 2, 3]),
        (b'[{"a": [1, {"b": null}]}, "x"]', [{"a": [1, {"b": None}]}, "x"]),
        ('["é", "€"]'.encode(), ["é", "€"]),
        (b"\xef\xbb\xbf[1]", [1]),  # a UTF-8 byte order mark, as json.loads(bytes) reads it
        ('[1, "ü"]'.encode("utf-16"), [1, "ü"]),
        ('[true, "ü"]'.encode("utf-32-le"), [True, "ü"]),
        (b"[" + b" " * 500 + b"1" + b" " * 500 + b"]", [1]),  # whitespace longer than a window
    ],
)
def test_bodies_json_loads_reads(body: bytes, expected: list[object]) -> None:
    assert items(body) == expected == json.loads(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", NotAnArray),
        (b"  ", NotAnArray),
        (b'{"applications": []}', NotAnArray),
        (b"<html>", NotAnArray),
        (b"[", json.JSONDecodeError),
        (b"[1,]", json.JSONDecodeError),
        (b"[1 2]", json.JSONDecodeError),
        (b"[1] x", json.JSONDecodeError),
        (b"[1][2]", json.JSONDecodeError),
        (b"[1, nul]", json.JSONDecodeError),
        (b'["\xff"]', UnicodeDecodeError),
        (b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", RecursionError),
        (b"[1" + b"0" * 5000 + b"]", ValueError),  # Python's limit on an integer's digits
    ],
)
def test_bodies_json_loads_refuses(body: bytes, error: type[BaseException]) -> None:
    with pytest.raises(error):
        items(body, 1 << 20)


@pytest.mark.parametrize(
    "flood",
    [
        b"[" + b",".join([b"[]"] * 100_000) + b"]",  # values: ~70 bytes each once read
        b'"' + b"x" * 300_000 + b'"',  # one long string
        b"1" * 300_000,  # one long number: cut, it would read as a smaller one
        b'{"k": ' * 50_000 + b"0" + b"}" * 50_000,
    ],
)
def test_an_item_past_its_window_is_refused_before_it_is_read(flood: bytes) -> None:
    body = b'[{"id": 1}, ' + flood + b', {"id": 2}]'
    seen = array_items(body, 4096)
    assert next(seen) == {"id": 1}
    with pytest.raises(ItemTooLarge) as info:
        next(seen)
    assert (info.value.index, info.value.limit) == (1, 4096)
    assert str(info.value) == "item 1 takes 4,096 bytes or more"


def test_an_item_just_under_its_window_is_read_wherever_it_starts() -> None:
    item = {"name": "x" * 80}
    size = len(json.dumps(item))
    for pad in range(0, 130, 7):  # the item starts at every offset of the first window
        body = ("[" + " " * pad + json.dumps(item) + "," + json.dumps(item) + "]").encode()
        assert items(body, size + 1) == [item, item]


def test_a_broken_item_is_not_called_too_large() -> None:
    body = b"[" + b"1, " * 100 + b'{"a" 1}' + b"]"
    with pytest.raises(json.JSONDecodeError, match="Expecting ':' delimiter"):
        items(body, 100)


def test_items_come_one_at_a_time() -> None:
    seen = array_items(b'[{"a": 1}, {"b": 2}, oops]', 1 << 20)
    assert next(seen) == {"a": 1}
    assert next(seen) == {"b": 2}
    with pytest.raises(json.JSONDecodeError):
        next(seen)


# ------------------------------------------------------------------ the collector, paused


def test_the_collector_is_off_inside_and_back_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError), collector_paused():
        raise KeyError("x")
    assert gc.isenabled()


def test_a_collector_someone_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_comes_back_when_the_last_thread_leaves() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with collector_paused():
            second_in.set()
            first_out.wait(10)
            seen.append(gc.isenabled())  # the first thread left: still off for this one

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


@pytest.mark.parametrize("pad", range(0, 60))
def test_a_number_whose_fraction_or_exponent_the_window_cuts_is_read_whole(pad: int) -> None:
    """The scanner reads "1e+16" cut after "1e" as 1 and stops before the "e": the item is
    read again from a window that starts with it, never taken as the shorter number."""
    body = json.dumps(["x" * pad, 1e16, 2.5e-3, -7.25, 1e100, 12345678]).encode()
    assert items(body, 64) == json.loads(body)
