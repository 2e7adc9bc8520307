"""Text that came from outside (names, owners, descriptions, tag values, server messages).

Such text is data. Before it reaches a terminal it loses every character that a terminal or a
bidi-aware viewer would act on instead of showing:

* ``Cc`` controls: C0 (ESC starts colour, erase-line, set-title and OSC 8 link sequences; BEL,
  BS and CR rewrite what was shown), DEL and C1 (``U+009B`` is a one-character CSI);
* ``Cf`` format characters: bidi overrides and isolates (``U+202E`` shows ``exe.txt`` as
  ``txt.exe``), zero-width spaces and joiners, the BOM, soft hyphens;
* ``Cs`` lone surrogates (from a JSON ``"\\ud800"``): they cannot be encoded, so printing one
  would crash the command instead of showing the report.

:func:`one_line` is for fields shown on one line (whitespace, including line breaks and tabs,
becomes one space); :func:`lines` keeps line breaks, for messages that may span several lines;
:func:`escape_json` keeps a JSON document exact while making it safe to print: each such
character inside a string becomes its ``\\uXXXX`` escape, which reads back as the same text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["UNSAFE_CATEGORIES", "escape_json", "is_unsafe", "lines", "one_line"]

#: Unicode general categories that never reach a terminal from external text.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

# Anything but printable ASCII is a candidate; its category decides (no table of code points to
# build at start-up, and the common all-ASCII text costs one regex scan).
_CANDIDATE = re.compile(r"[^\x20-\x7e]")
_CANDIDATE_BUT_NEWLINE = re.compile(r"[^\x20-\x7e\n]")
# The line breaks str.splitlines() knows; split() on them keeps a trailing empty line, so
# lines() is idempotent.
_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# Whitespace str.split() knows (tab, CR, LF, VT, FF, FS..US, NEL, LS, PS, NBSP...) → one space.
_SPACES = re.compile(r"\s+")


def is_unsafe(char: str) -> bool:
    """Whether ``char`` (one character) is a control, format or surrogate character."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def _drop(match: re.Match[str]) -> str:
    char = match.group()
    return "" if is_unsafe(char) else char


def one_line(text: str) -> str:
    """``text`` on one line, safe for a terminal: whitespace runs become one space, the ends are
    trimmed, and every control, format and surrogate character is removed.

    Idempotent, and the result never contains a ``Cc``/``Cf``/``Cs`` character.
    """
    # Whitespace first (a tab or newline between two words must leave a space), then the rest;
    # removing a zero-width character may bring two spaces together, hence the second pass.
    return _SPACES.sub(" ", _CANDIDATE.sub(_drop, _SPACES.sub(" ", text))).strip()


def lines(text: str) -> str:
    """``text`` safe for a terminal with its line structure kept (a message that spans lines):
    line breaks (CR, VT, FF, NEL, U+2028... count) become ``\\n``, a tab one space, and every
    other control, format and surrogate character is removed. Indentation is kept."""
    return "\n".join(_CANDIDATE.sub(_drop, line.replace("\t", " ")) for line in _BREAKS.split(text))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if not is_unsafe(char):
        return char
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    # Beyond the BMP (tag characters, musical format marks): JSON spells it as a surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json(document: str) -> str:
    """A JSON document with every control, format and surrogate character escaped as ``\\uXXXX``.

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls but leaves DEL, C1, bidi
    overrides, zero-width characters and lone surrogates raw. Outside strings a JSON document
    holds only ASCII punctuation, spaces and newlines, so every match here is inside a string and
    its escape decodes to the same character: the data stays exact.
    """
    return _CANDIDATE_BUT_NEWLINE.sub(_escape, document)
