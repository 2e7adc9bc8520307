"""offhours.toml as text: decoded, parsed, and where each key sits.

tomllib parses but keeps no positions, so a problem found later (by validation) could not name
its line. :class:`KeyLines` scans the text once more, only when there are problems to place,
and maps every key path — ``[table]`` headers, ``[[array]]`` tables counted, dotted keys,
inline tables and array elements — to the line it starts on. It reads text tomllib accepted, so
it follows TOML's grammar only as far as finding keys needs. A path it does not know has no
line, never a guessed one.

:func:`read_toml` accepts a UTF-8 byte-order mark (Windows editors write one) and words
tomllib's syntax errors as ``offhours.toml:3:12: not valid TOML: …`` with a hint for the
common ones (text without quotes, ``True``, a key given twice).
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offhours.errors import ConfigError

__all__ = ["KeyLines", "Loc", "read_toml"]

Loc = tuple[str | int, ...]

_BOM = "\ufeff"
_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# "Invalid value (at line 1, column 12)", "Unterminated string (at end of document)"
_POSITION = re.compile(
    r"^(?P<msg>.*?) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S
)
_KEY_VALUE = re.compile(r"^\s*(?P<key>[^=#\"']+?)\s*=\s*(?P<value>[^#]*?)\s*(?:#.*)?$")
_CURLY = "\u201c\u201d\u2018\u2019"
# tomllib's messages when the file ends inside a value (no position given)
_UNCLOSED = ("Unterminated string", 'Expected "\'"', "Unclosed array", "Unclosed inline table")


def read_toml(raw: bytes, label: str) -> tuple[str, dict[str, Any]]:
    """The text of a TOML file and its document. Raises ConfigError saying where and why."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{label}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    text = text.removeprefix(_BOM)  # a BOM sits before line 1: line numbers stay right
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_error(exc, text, label)) from None


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, label: str) -> str:
    found = _POSITION.match(str(exc))
    msg = found.group("msg") if found else str(exc)
    line = int(found.group("line")) if found and found.group("line") else None
    col = int(found.group("col")) if found and found.group("col") else None
    hint = _hint(msg, text, line, col)
    if msg == "Cannot overwrite a value":
        # tomllib's column is past the value, and at the end of the file it gives no line
        col = None
        line = line or KeyLines.duplicate_in(text)
    if line is None and (msg.startswith(_UNCLOSED) or msg == "Invalid value"):
        line = KeyLines.unclosed_in(text)
        if line is not None and msg == "Invalid value":
            msg, hint = "the file ends inside a value", "close the string, [ or { this line opens"
    where = label if line is None else f"{label}:{line}" + (f":{col}" if col else "")
    return f"{where}: not valid TOML: {_plain(msg)}" + (f"; {hint}" if hint else "")


def _plain(msg: str) -> str:
    declared = re.fullmatch(r"Cannot declare (\(.*\)) twice", msg)
    if declared:
        import ast  # only here: tomllib spells the table as a Python tuple

        try:
            keys = ast.literal_eval(declared.group(1))
        except (ValueError, SyntaxError):
            keys = ()
        if isinstance(keys, tuple) and keys:
            return f"the table [{'.'.join(map(str, keys))}] is declared twice"
    return {
        "Cannot overwrite a value": "a key is given a value twice",
        "Illegal character '\\n'": "a string is not closed on its line",
        "Expected newline or end of document after a statement": "more follows the value on "
        "this line",
        "Unterminated string": "a string is not closed",
        'Expected "\'"': "a string is not closed",
        "Unclosed array": "an array [ … ] is not closed",
        "Unclosed inline table": "an inline table { … } is not closed on its line",
    }.get(msg, msg[:1].lower() + msg[1:])


def _hint(msg: str, text: str, line: int | None, col: int | None) -> str | None:
    if msg.startswith("Cannot declare"):
        return "merge the two into one (write [[name]] for a list of tables)"
    if msg == "Cannot overwrite a value":
        return "keep one of them"
    if msg.startswith("Expected '=' after a key"):
        return "write key = value"
    if msg == "Unclosed inline table":
        return "close it with } on the same line, or use a [table] header"
    if msg.startswith("Illegal character '\\n'"):
        return 'close the quote on the same line (use """ for text over several lines)'
    if line is None or not (msg == "Invalid value" or msg.startswith("Expected newline")):
        return None
    lines = text.splitlines()
    if line > len(lines):
        return None
    pair = _KEY_VALUE.match(lines[line - 1])
    if pair is None or not pair.group("value"):
        return None
    key, value = pair.group("key").strip(), pair.group("value")
    # the fix, without quoting what may be the secret itself
    hidden = _may_be_secret(key, value)
    if value.lower() in ("true", "false"):
        return f"write true or false in lower case: {key} = {value.lower()}"
    if value[0] in _CURLY:
        return f'use straight quotes: {key} = "{"…" if hidden else value.strip(_CURLY)}"'
    if value[0] not in "\"'[{" and not any(q in value for q in "\"'"):
        return f'put text in quotes: {key} = "{"…" if hidden else value}"'
    return None


def _may_be_secret(key: str, value: str) -> bool:
    """Whether a hint may not quote ``value``: a plugin's secret key (``password``,
    ``webhook_url``…), or a name or value that looks like a secret, or a URL with a login."""
    from offhours.plugin import secret_fields
    from offhours.registry import builtin_models
    from offhours.secrets.references import secret_looking

    name = key.rpartition(".")[2].strip("\"' ")
    secret = {
        f
        for section in ("sources", "notifiers")
        for m in builtin_models(section)
        for f in secret_fields(m)
    }
    return name in secret or secret_looking(name, value) is not None or "@" in value


# ------------------------------------------------------------------------- key → line


class _Unclosed(Exception):
    """The text ends inside a string, array or inline table opened on ``line``."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@dataclass
class KeyLines:
    """Where each key path of a TOML text starts (1-based lines)."""

    lines: dict[Loc, int]
    #: the line of the first [table] or [[array]] header, if any
    first_table: int | None
    #: the line of the first key given a value twice (invalid TOML), if any
    duplicate: int | None = None

    @classmethod
    def of(cls, text: str) -> KeyLines:
        """The positions in ``text`` (text tomllib parsed; other text may map partly)."""
        scan = _Scan(text.removeprefix(_BOM))
        # On text tomllib refused, what was mapped before the trouble stays right.
        with contextlib.suppress(_Unclosed, IndexError, ValueError, tomllib.TOMLDecodeError):
            scan.run()
        return cls(scan.lines, scan.first_table, scan.duplicate)

    @staticmethod
    def duplicate_in(text: str) -> int | None:
        return KeyLines.of(text).duplicate

    @staticmethod
    def unclosed_in(text: str) -> int | None:
        """The line where a string, array or inline table that the text never closes opens."""
        try:
            _Scan(text.removeprefix(_BOM)).run()
        except _Unclosed as exc:
            return exc.line
        except (IndexError, ValueError, tomllib.TOMLDecodeError):
            return None
        return None

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, else of the nearest table or key holding it (a missing key is
        missing from its table), else None."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


class _Scan:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Loc, int] = {}
        self.first_table: int | None = None
        self.duplicate: int | None = None
        self.arrays: dict[Loc, int] = {}  # array-of-tables path → tables so far
        self.tables: set[Loc] = set()
        self.leaves: set[Loc] = set()

    # -- statements

    def run(self) -> None:
        table: Loc = ()
        while True:
            self._skip(newlines=True)
            if self.i >= len(self.s):
                return
            if self.s[self.i] == "[":
                table = self._header()
            else:
                self._key_value(table)

    def _header(self) -> Loc:
        line = self.line
        if self.first_table is None:
            self.first_table = line
        many = self.s.startswith("[[", self.i)
        self.i += 2 if many else 1
        keys = self._keys()
        self._skip()
        self.i += 2 if many else 1
        if many:
            path = (*self._resolve(keys[:-1]), keys[-1])
            count = self.arrays.get(path, 0)
            self.arrays[path] = count + 1
            self._implied(path, line)
            self.lines.setdefault(path, line)
            table: Loc = (*path, count)
        else:
            table = self._resolve(keys)
            self._implied(table, line)
        self._define_table(table, line)
        self.lines[table] = line  # an explicit header wins over an earlier implied mention
        return table

    def _resolve(self, keys: Loc) -> Loc:
        # a header's key naming an array of tables means its last table
        out: Loc = ()
        for key in keys:
            out = (*out, key)
            if out in self.arrays:
                out = (*out, self.arrays[out] - 1)
        return out

    def _key_value(self, table: Loc) -> None:
        line = self.line
        path = table + self._keys()
        self._skip()
        self.i += 1  # "="
        self._skip()
        self._implied(path, line)
        if path in self.leaves or path in self.tables:
            self._twice(line)
        self.leaves.add(path)
        self.lines[path] = line
        self._value(path)

    def _implied(self, path: Loc, line: int) -> None:
        for end in range(1, len(path)):
            prefix = path[:end]
            if prefix in self.leaves and not isinstance(path[end], int):
                self._twice(line)
            self.tables.add(prefix)
            self.lines.setdefault(prefix, line)

    def _define_table(self, table: Loc, line: int) -> None:
        if table in self.leaves:
            self._twice(line)
        self.tables.add(table)

    def _twice(self, line: int) -> None:
        if self.duplicate is None:
            self.duplicate = line

    # -- values

    def _value(self, path: Loc) -> None:
        char = self.s[self.i]
        if char in "\"'":
            self._string()
        elif char == "[":
            self._items("]", lambda index: self._element((*path, index)))
        elif char == "{":
            self._items("}", lambda _: self._inline_key_value(path))
        else:  # number, boolean, date-time: up to the next delimiter
            while self.i < len(self.s) and self.s[self.i] not in ",]}\r\n#":
                self.i += 1

    def _items(self, close: str, item: Callable[[int], None]) -> None:
        """An array's or inline table's items up to ``close``, each read by ``item(index)``."""
        start = self.line
        self.i += 1
        index = 0
        while True:
            self._skip(newlines=True)
            if self.i >= len(self.s):
                raise _Unclosed(start)
            if self.s[self.i] == close:
                self.i += 1
                return
            item(index)
            self._skip(newlines=True)
            if self.s[self.i : self.i + 1] == ",":
                self.i += 1
            index += 1

    def _element(self, path: Loc) -> None:
        self.lines[path] = self.line
        self._value(path)

    def _inline_key_value(self, table: Loc) -> None:
        line = self.line
        path = table + self._keys()
        self._skip()
        self.i += 1  # "="
        self._skip()
        for end in range(len(table) + 1, len(path)):
            self.lines.setdefault(path[:end], line)
        self.lines[path] = line
        self._value(path)

    def _string(self) -> None:
        start = self.line
        quote = self.s[self.i]
        if self.s.startswith(quote * 3, self.i):
            self.i += 3
            while True:
                if self.i >= len(self.s):
                    raise _Unclosed(start)
                char = self.s[self.i]
                if char == "\\" and quote == '"':
                    self.i += 1
                    if self.s[self.i : self.i + 1] == "\n":
                        self.line += 1
                elif self.s.startswith(quote * 3, self.i):
                    self.i += 3
                    # up to two quotes of the content may touch the closing delimiter
                    for _ in range(2):
                        if self.s[self.i : self.i + 1] == quote:
                            self.i += 1
                    return
                elif char == "\n":
                    self.line += 1
                self.i += 1
        self.i += 1
        while True:
            if self.i >= len(self.s) or self.s[self.i] == "\n":
                raise _Unclosed(start)
            char = self.s[self.i]
            if char == "\\" and quote == '"':
                self.i += 2
                continue
            self.i += 1
            if char == quote:
                return

    # -- keys and blanks

    def _keys(self) -> Loc:
        keys: list[str] = []
        while True:
            self._skip()
            char = self.s[self.i]
            if char in "\"'":
                begin = self.i
                self._string()
                quoted = self.s[begin : self.i]
                # tomllib decodes the escapes exactly as it did when it read the document
                keys.append(tomllib.loads(f"k = {quoted}")["k"] if char == '"' else quoted[1:-1])
            else:
                begin = self.i
                while self.i < len(self.s) and self.s[self.i] in _BARE:
                    self.i += 1
                if self.i == begin:
                    raise ValueError(f"no key at line {self.line}")
                keys.append(self.s[begin : self.i])
            self._skip()
            if self.s[self.i : self.i + 1] != ".":
                return tuple(keys)
            self.i += 1

    def _skip(self, *, newlines: bool = False) -> None:
        while self.i < len(self.s):
            char = self.s[self.i]
            if char in " \t\r":
                self.i += 1
            elif char == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            elif char == "\n" and newlines:
                self.line += 1
                self.i += 1
            else:
                return
