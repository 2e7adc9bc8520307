"""External text made safe for terminals: no control, format or surrogate character survives."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.untrusted import escape_json, is_unsafe, lines, one_line

ESC = "\x1b"
HOSTILE = {
    "osc8-link": f"{ESC}]8;;https://evil.example/{ESC}\\click me{ESC}]8;;{ESC}\\",
    "colour": f"{ESC}[31mred{ESC}[0m",
    "erase-line": f"fake{ESC}[2K{ESC}[1Greal",
    "set-title": f"{ESC}]0;pwned\x07lab",
    "c1-csi": "\x9b31mred",
    "rlo": "invoice\u202eexe.txt",
    "isolates": "a\u2066b\u2069c",
    "zero-width": "p\u200ba\u200cy\u200dp\u2060al\ufeff",
    "bell-backspace-cr": "safe\x07\x08\rrm -rf",
    "lone-surrogate": "x\ud800y",
    "tag-characters": "a\U000e0041\U000e007fb",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (HOSTILE["osc8-link"], "]8;;https://evil.example/\\click me]8;;\\"),
        (HOSTILE["colour"], "[31mred[0m"),
        (HOSTILE["erase-line"], "fake[2K[1Greal"),
        (HOSTILE["set-title"], "]0;pwnedlab"),
        (HOSTILE["c1-csi"], "31mred"),
        (HOSTILE["rlo"], "invoiceexe.txt"),
        (HOSTILE["isolates"], "abc"),
        (HOSTILE["zero-width"], "paypal"),
        (HOSTILE["bell-backspace-cr"], "safe rm -rf"),
        (HOSTILE["lone-surrogate"], "xy"),
        (HOSTILE["tag-characters"], "ab"),
        ("two\nlines\tand\x0bmore\u2028here\x85", "two lines and more here"),
        ("  lots   of\u00a0 space ", "lots of space"),
        ("a \u200b b", "a b"),
        ("Zoë 日本 🚀 — ok", "Zoë 日本 🚀 — ok"),
        (
            "[link=https://evil]x[/link] bad [/] markup",
            "[link=https://evil]x[/link] bad [/] markup",
        ),
        ("", ""),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


def test_lines_keeps_line_breaks_and_indentation() -> None:
    text = f"first{ESC}[2K\r\n  second\u202e\tline\x85third"
    assert lines(text) == "first[2K\n  second line\nthird"


@given(st.text())
def test_one_line_leaves_no_control_format_or_surrogate_and_is_idempotent(text: str) -> None:
    clean = one_line(text)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in clean)
    assert "\n" not in clean
    assert one_line(clean) == clean


@given(st.text())
def test_lines_leaves_no_control_but_newline_and_is_idempotent(text: str) -> None:
    clean = lines(text)
    assert not any(is_unsafe(c) for c in clean.replace("\n", ""))
    assert lines(clean) == clean


@given(st.recursive(st.text() | st.integers() | st.none(), lambda inner: st.lists(inner)))
def test_escape_json_keeps_the_data_and_prints_safely(data: object) -> None:
    document = escape_json(json.dumps({"data": data}, ensure_ascii=False, indent=2))
    assert json.loads(document) == {"data": data}
    assert not any(is_unsafe(c) for c in document.replace("\n", ""))
