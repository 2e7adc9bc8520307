"""The log formatters: a message quoting external text cannot act on a terminal."""

from __future__ import annotations

import io
import json
import logging
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.logs import configure

HOSTILE = (
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m \x1b[2K "
    "\x9b2J \u202etxt.exe pay\u200bpal \x07\x08\x7f \ud800"
)


def _unsafe(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    yield io.StringIO()
    configure(0)


@pytest.mark.parametrize("verbosity", [1, 2, 3])
def test_terminal_log_lines_carry_no_control_bidi_or_zero_width_character(
    stream: io.StringIO, verbosity: int
) -> None:
    configure(verbosity, stream=stream)
    logging.getLogger("offhours.sources.ravello").warning("server said: %s", HOSTILE)
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        logging.getLogger("offhours.audit").error("crashed", exc_info=True)
    text = stream.getvalue()
    assert _unsafe(text) == []
    assert "WARNING offhours.sources.ravello: server said: ]8;;https://evil.example" in text
    assert "txt.exe paypal" in text
    assert "RuntimeError" in text


def test_json_log_lines_escape_every_such_character(stream: io.StringIO) -> None:
    configure(1, json_lines=True, stream=stream)
    message = HOSTILE.replace("\ud800", "")  # a lone surrogate cannot be %-formatted to UTF-8
    logging.getLogger("offhours.sources.ravello").warning("server said: %s", message)
    [line] = stream.getvalue().splitlines()
    assert _unsafe(line) == [] and line.isascii()
    assert json.loads(line)["message"] == f"server said: {message}"  # the data, exact


@given(st.text(max_size=60))
def test_any_message_prints_inert_in_both_formats(text: str) -> None:
    for json_lines in (False, True):
        out = io.StringIO()
        configure(1, json_lines=json_lines, stream=out)
        try:
            logging.getLogger("offhours.any").warning("%s", text)
        finally:
            configure(0)
        assert _unsafe(out.getvalue()) == []


@pytest.mark.parametrize(
    ("verbosity", "level", "expected"),
    [
        (0, logging.WARNING, "warning: zone EST has no DST\n"),
        (0, logging.ERROR, "offhours: error: zone EST has no DST\n"),
        (1, logging.WARNING, "WARNING offhours.audit: zone EST has no DST\n"),
        (2, logging.ERROR, "ERROR offhours.audit: zone EST has no DST\n"),
        (1, logging.INFO, "INFO offhours.audit: zone EST has no DST\n"),
    ],
)
def test_without_v_warnings_read_as_the_commands_own_lines(
    stream: io.StringIO, verbosity: int, level: int, expected: str
) -> None:
    configure(verbosity, stream=stream)
    logging.getLogger("offhours.audit").log(level, "zone %s has no DST", "EST")
    assert stream.getvalue() == expected
