"""A configuration problem in plain English: pydantic's error details → ``key: value must be …``.

Pydantic words its errors for programmers ("Input should be greater than or equal to 0",
"String should match pattern '^[a-z]{2}…'"); a user reads instead what is wrong and what to
write: "must be 0 or more", "is not an AWS region name such as us-east-1". Each built-in error
type has its words here, from the error's ``ctx`` and the field's own constraints; a type this
module does not know falls back to a neutral sentence, never to pydantic's. An error raised
by offhours' own validators (a :class:`~pydantic_core.PydanticCustomError`) is already worded
and passes through.

An unknown key gets a "did you mean" when one is close, and a hint about TOML's table scope
when it is a key of the top level or of another table (``allow_plaintext_secrets`` written
after ``[[notifiers]]`` lands in that table). Values are quoted as JSON, without the userinfo of
any URL in them, and never for a field that holds a secret reference.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from offhours.plugin import secret_fields

__all__ = [
    "PATTERN_WORDS",
    "Loc",
    "Problem",
    "close_match",
    "describe",
    "key_path",
    "show",
    "without_userinfo",
    "words",
]

#: a place in the document: table keys and list indices, e.g. ("sources", 0, "password")
Loc = tuple[str | int, ...]

#: what a value that misses a field's pattern is not; follows the value, e.g.
#: '"useast1" is not an AWS region name such as us-east-1'. Every `pattern=` of a built-in
#: model has its words (a test walks them all); a third party's falls back to a neutral one.
PATTERN_WORDS: dict[str, str] = {
    r"^[a-z]{2}(-[a-z]+)+-\d$": "is not an AWS region name such as us-east-1",
    r"^[A-Za-z0-9_.-]{3,255}$": (
        "is not a DynamoDB table name (3 to 255 letters, digits, '_', '.' or '-')"
    ),
    r"^[A-Za-z0-9_-]{1,64}$": (
        "is not a Lambda function name (1 to 64 letters, digits, '_' or '-')"
    ),
    r"^alias/[A-Za-z0-9/_-]+$": (
        'is not a KMS alias such as "alias/offhours/audit" (after alias/: letters, digits, '
        "'/', '_' or '-')"
    ),
    r"^[A-Za-z][A-Za-z0-9_-]{0,127}$": (
        "is not a Lambda alias name (a letter, then up to 127 letters, digits, '_' or '-')"
    ),
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$": (
        'is not an IAM role ARN such as "arn:aws:iam::123456789012:role/offhours-audit"'
    ),
    r"^[\w+=,.@-]{1,64}$": (
        "is not an IAM role name (1 to 64 letters, digits or any of + = , . @ _ -)"
    ),
    r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$": (
        'is not an http(s) URL such as "https://cloud.ravellosystems.com/api/v1"'
    ),
}

_BUILTIN_TYPES = frozenset(get_args(core_schema.ErrorType))
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# pydantic's repr of each allowed literal in ctx["expected"]: 'a', 'b' or 'c'
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
# user:password@ after a scheme, up to the last "@" of the word (a password may hold "/" or "@").
_USERINFO = re.compile(r"(?<=://)[^\s\"'@]*@(?:[^\s\"'@]*@)*")
_SHOWN_MAX = 60


@dataclass(frozen=True)
class Problem:
    """One problem: where it is (for the line number) and how it reads (``key: what``)."""

    loc: Loc
    text: str


def without_userinfo(text: str) -> str:
    """``text`` with the userinfo of every URL in it masked: ``ftp://u:pw@host`` →
    ``ftp://••••@host``. A config error may quote a value; never the credentials in it."""
    return _USERINFO.sub("••••@", text)


def show(value: object) -> str:
    """A value as TOML would spell it, clipped: a message quotes it, never at length."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = without_userinfo(json.dumps(value, default=str))
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 3] + "…"


def key_path(loc: Loc) -> str:
    """``("sources", 0, "prices", "m5.large")`` → ``sources[0].prices."m5.large"``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part)
        out += f".{name}" if out else name
    return out or "(top level)"


def close_match(word: str, choices: Sequence[str], cutoff: float = 0.7) -> str | None:
    """The one of ``choices`` ``word`` most likely misspells, if any is close."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return found[0] if found else None


def _is_tag(part: str | int) -> bool:
    # pydantic's tag of a union member ("list[str]", "literal['all']") or "[key]" of a dict key
    return isinstance(part, str) and "[" in part and not _BARE_KEY.fullmatch(part)


def describe(
    err: Mapping[str, Any],
    model: type[BaseModel],
    prefix: Loc,
    top: type[BaseModel],
    first_table: int | None = None,
) -> Problem:
    """The problem pydantic's ``err`` (validating ``model`` at ``prefix`` of the document whose
    top level ``top`` validates) is, in plain English. ``first_table`` is the line of the
    file's first [table] header, if known (a hint about TOML's table scope names it)."""
    raw: Loc = tuple(err["loc"])
    loc = tuple(p for p in raw if not _is_tag(p))
    where = key_path(prefix + loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        return Problem(
            prefix + loc, f"{where}: {_unknown_key(name, model, loc, prefix, top, first_table)}"
        )
    if kind == "missing":
        return Problem(prefix + loc, f"{where}: {_missing(model, loc)}")
    words = _words(err, _field_at(model, loc), model, raw)
    if kind == "secret_reference" or _is_secret_field(model, loc):
        # The input may be the secret itself: say what is wrong without echoing it.
        return Problem(prefix + loc, f"{where}: {words}")
    value = err.get("input")
    if raw[-1:] == ("[key]",):  # a dict's key, not its value: the path names the dict
        loc = loc[:-1]
        return Problem(
            prefix + loc, f"{key_path(prefix + loc)}: {show(value)} is not a key it takes ({words})"
        )
    if "input" in err and not isinstance(value, dict):
        return Problem(prefix + loc, f"{where}: {show(value)} {words}")
    if kind == "list_type" and isinstance(value, dict) and not prefix and len(loc) == 1:
        # [sources] where [[sources]] was meant: one table, not an array of tables
        table = loc[0]
        return Problem(
            prefix + loc,
            f"{where}: is one [{table}] table, but it takes a list of them: write "
            f"[[{table}]] (two brackets) above each one",
        )
    return Problem(prefix + loc, f"{where}: {words}")


def _missing(model: type[BaseModel], loc: Loc) -> str:
    field = _field_at(model, loc)
    annotation = field.annotation if field is not None else None
    if loc and get_origin(annotation) is list and get_origin(get_args(annotation)[0]) is dict:
        return f"missing; add at least one [[{loc[-1]}]] table"  # a list of plugin tables
    return "missing; this key is required"


def words(err: Mapping[str, Any], model: type[BaseModel]) -> str:
    """What is wrong, in plain words, without the key or the value: "must be 0 or more",
    "is not an AWS region name such as us-east-1" (for messages that place them otherwise)."""
    kind = err["type"]
    if kind == "missing":
        return "missing; this key is required"
    if kind == "extra_forbidden":
        return "unknown key"
    raw: Loc = tuple(err["loc"])
    return _words(err, _field_at(model, tuple(p for p in raw if not _is_tag(p))), model, raw)


def _words(
    err: Mapping[str, Any], field: FieldInfo | None, model: type[BaseModel], raw: Loc
) -> str:
    kind: str = err["type"]
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    msg: str = err.get("msg", "")
    if kind not in _BUILTIN_TYPES:
        return msg  # offhours' own (or a plugin's) words
    if kind == "value_error":
        return _lower_first(msg.removeprefix("Value error, "))
    if kind == "assertion_error":
        return _lower_first(msg.removeprefix("Assertion failed, "))
    if raw and _is_tag(raw[-1]) and raw[-1] != "[key]":
        # the branch a union's discriminator chose refused the whole value: name every branch
        return _union_words(model, tuple(p for p in raw if not _is_tag(p)))
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(str(ctx.get("pattern")), "is not written the way this key takes")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _range_words({**_bounds(field), **ctx})
    if kind in ("literal_error", "enum"):
        return _one_of(str(ctx.get("expected", "")), err.get("input"))
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple
    return _sized(kind, ctx) or _FALLBACK


def _lower_first(msg: str) -> str:
    return msg[:1].lower() + msg[1:] if msg[:2] != "HH" and not msg[:2].isupper() else msg


_DATE = "must be a date such as 2026-12-24"
_DATETIME = "must be a date and time such as 2026-12-24T18:00:00Z"
_LIST = 'must be a list, e.g. ["a", "b"]'
_TABLE = "must be a table: a [name] header with keys under it, or { key = value, … }"
_NUMBER = "must be a number"
_WHOLE = "must be a whole number"
_FALLBACK = "is not a value this key takes"

#: words that need no context, by pydantic error type
_SIMPLE: dict[str, str] = {
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": _WHOLE,
    "int_parsing": _WHOLE,
    "int_from_float": f"{_WHOLE} (no decimals)",
    "int_parsing_size": "is too large a number",
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "decimal_type": _NUMBER,
    "decimal_parsing": _NUMBER,
    "complex_type": _NUMBER,
    "complex_str_parsing": _NUMBER,
    "finite_number": "must be a finite number (not inf or nan)",
    "string_type": 'must be text, in quotes: "…"',
    "string_unicode": "must be text",
    "string_not_ascii": "must be plain ASCII text",
    "bytes_type": 'must be text, in quotes: "…"',
    "bytes_invalid_encoding": "is not validly encoded",
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "frozen_set_type": _LIST,
    "deque_type": _LIST,
    "iterable_type": _LIST,
    "set_item_not_hashable": "must hold only plain values (text, numbers)",
    "dict_type": _TABLE,
    "mapping_type": _TABLE,
    "model_type": _TABLE,
    "model_attributes_type": _TABLE,
    "dataclass_type": _TABLE,
    "dataclass_exact_type": _TABLE,
    "typed_dict_type": _TABLE,
    "invalid_key": "has a key that is not text",
    "none_required": "must be left out",
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": f"{_DATE} (without a time of day)",
    "date_past": "must be a date in the past",
    "date_future": "must be a date in the future",
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_object_invalid": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "datetime_past": "must be a time in the past",
    "datetime_future": "must be a time in the future",
    "timezone_naive": "must have no time zone",
    "timezone_aware": "must have a time zone, e.g. 2026-12-24T18:00:00Z",
    "timezone_offset": "has the wrong time zone offset",
    "time_type": "must be a time of day such as 18:00",
    "time_parsing": "must be a time of day such as 18:00",
    "time_delta_type": "must be a duration",
    "time_delta_parsing": "must be a duration",
    "url_type": "must be a URL such as https://example.com",
    "url_parsing": "must be a URL such as https://example.com",
    "url_syntax_violation": "must be a URL such as https://example.com",
    "uuid_type": "must be a UUID",
    "uuid_parsing": "must be a UUID",
    "uuid_version": "must be a UUID of another version",
    "json_invalid": "is not valid JSON",
    "json_type": "must be JSON text",
    "union_tag_not_found": "needs a type key saying which kind it is",
    "frozen_field": "cannot be changed",
    "frozen_instance": "cannot be changed",
}


def _sized(kind: str, ctx: Mapping[str, Any]) -> str | None:
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters long"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind in ("bytes_too_short", "bytes_too_long"):
        return "has the wrong length"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} entries"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries"
    if kind == "multiple_of":
        return f"must be a multiple of {_number(ctx.get('multiple_of'))}"
    if kind == "url_too_long":
        return f"must be a URL of at most {ctx.get('max_length')} characters"
    if kind == "url_scheme":
        return f"must be a URL starting with {ctx.get('expected_schemes')}"
    if kind == "union_tag_invalid":
        return f"must be one of: {ctx.get('expected_tags')}"
    if kind in ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"):
        return "has too many digits"
    return None


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bounds(field: FieldInfo | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for meta in field.metadata if field is not None else ():
        for name in ("ge", "gt", "le", "lt"):
            bound = getattr(meta, name, None)
            if bound is not None:
                out[name] = bound
    return out


def _range_words(bounds: Mapping[str, object]) -> str:
    ge, gt, le, lt = (bounds.get(name) for name in ("ge", "gt", "le", "lt"))
    if ge is not None and le is not None:
        return f"must be between {_number(ge)} and {_number(le)}"
    parts = []
    if ge is not None:
        parts.append(f"{_number(ge)} or more")
    elif gt is not None:
        parts.append(f"more than {_number(gt)}")
    if le is not None:
        parts.append(f"at most {_number(le)}")
    elif lt is not None:
        parts.append(f"less than {_number(lt)}")
    return "must be " + " and ".join(parts) if parts else _FALLBACK


def _one_of(expected: str, given: object) -> str:
    choices = [m.group(1) for m in _QUOTED.finditer(expected)] or [expected]
    words = (
        f'must be "{choices[0]}"' if len(choices) == 1 else f"must be one of: {', '.join(choices)}"
    )
    guess = close_match(given, choices, cutoff=0.6) if isinstance(given, str) else None
    return f"{words}; did you mean {guess}?" if guess else words


def _union_words(model: type[BaseModel], loc: Loc) -> str:
    # A union chosen by a callable discriminator: its error is the branch's; say every branch.
    field = _field_at(model, loc)
    tags = list(_tags(field.annotation)) if field is not None else []
    branches = sorted((_tag_words(t) for t in tags), key=lambda w: not w.startswith('"'))
    if not branches:
        return _FALLBACK
    return "must be " + (
        branches[0] if len(branches) == 1 else ", ".join(branches[:-1]) + f" or {branches[-1]}"
    )


def _tags(annotation: object) -> Iterator[str]:
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Tag):
            yield meta.tag
    for arg in get_args(annotation):
        yield from _tags(arg)


def _tag_words(tag: str) -> str:
    if tag.startswith("literal["):
        values = [m.group(1) for m in _QUOTED.finditer(tag)]
        return " or ".join(f'"{v}"' for v in values)
    if tag.startswith(("list[", "tuple[", "set[")):
        return 'a list, e.g. ["a", "b"]'
    if tag.startswith("dict["):
        return "a table"
    return tag


# ------------------------------------------------------------------------- fields and keys


def _models_in(annotation: object) -> Iterator[type[BaseModel]]:
    """The models an annotation holds: ``X``, ``X | None``, ``list[X]``, ``Annotated[X, …]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _models_in(get_args(annotation)[0])
    elif origin in (Union, types.UnionType, list, tuple, set, frozenset):
        for arg in get_args(annotation):
            yield from _models_in(arg)
    elif origin is dict:
        yield from _models_in(get_args(annotation)[-1])


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model validating the table at ``loc`` (list indices and dict keys stepped over)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            # a key of a dict[str, Model]: the model stays the value's
            continue
        current = next(_models_in(field.annotation), None)
    return current


def _field_at(model: type[BaseModel], loc: Loc) -> FieldInfo | None:
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    owner = _model_at(model, loc[: max(i for i, p in enumerate(loc) if isinstance(p, str))])
    return owner.model_fields.get(keys[-1]) if owner is not None else None


def _is_secret_field(model: type[BaseModel], loc: Loc) -> bool:
    return len(loc) == 1 and isinstance(loc[0], str) and loc[0] in secret_fields(model)


@cache
def _tables(top: type[BaseModel]) -> dict[str, list[str]]:
    """Key → the core tables ("[hours]", "[hours.holidays]") that take it."""
    out: dict[str, list[str]] = {}

    def walk(model: type[BaseModel], name: str) -> None:
        for key, field in model.model_fields.items():
            if name:
                out.setdefault(key, []).append(f"[{name}]")
            for inner in _models_in(field.annotation):
                walk(inner, f"{name}.{key}" if name else key)

    walk(top, "")
    return out


def _unknown_key(
    name: str,
    model: type[BaseModel],
    loc: Loc,
    prefix: Loc,
    top: type[BaseModel],
    first_table: int | None,
) -> str:
    table = _model_at(model, loc[:-1])
    known = list(table.model_fields) if table is not None else []
    at_top = not (prefix + loc[:-1])
    scope = "TOML puts every key after a [table] header inside that table"
    if not at_top and name in top.model_fields:
        line = f" (line {first_table})" if first_table is not None else ""
        return (
            f"unknown key; {name} belongs at the top level: {scope}, so move it above the "
            f"first [table] line{line}"
        )
    guess = close_match(name, known)
    if guess is not None:
        return f"unknown key; did you mean {guess}?"
    here = _table_name(prefix + loc[:-1])
    tables = {k: [t for t in ts if t != here] for k, ts in _tables(top).items()}
    homes = tables.get(name, [])
    if homes:
        return (
            f"unknown key; {name} belongs in {' or '.join(homes)}: {scope}, so put it under "
            f"{homes[0]}"
        )
    guess = close_match(name, [k for k, ts in tables.items() if ts])
    if guess is not None:
        return (
            f"unknown key; did you mean {guess}, a key of {' or '.join(tables[guess])}? ({scope})"
        )
    return f"unknown key; expected one of: {', '.join(known)}" if known else "unknown key"


def _table_name(loc: Loc) -> str:
    return "[" + ".".join(str(p) for p in loc if isinstance(p, str)) + "]"
