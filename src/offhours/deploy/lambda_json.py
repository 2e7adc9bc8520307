"""lambda-uploader's ``lambda.json`` → the equivalent ``[deploy]`` section of offhours.toml.

    import_lambda_json(path)          read and map a lambda.json (or a directory holding one)
    convert_lambda_json(text, source) the same, from the file's text
    render_notes(notes)               the report of what was mapped, changed and left out
    write_deploy_section(path, toml)  add the section to offhours.toml, or replace its [deploy]

Every key of the file is accounted for: mapped as is, changed (with the reason) or not mapped
(with the reason). Every problem is reported at once, each naming the key and what is expected.
The mapped values are validated by :class:`~offhours.config.DeployConfig`, so the section
written always loads.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
import textwrap
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

import tomlkit
from pydantic import ValidationError
from tomlkit.items import AoT, Comment, Item, Key, String, StringType, Table, Trivia, Whitespace

from offhours.config import DeployConfig
from offhours.errors import ConfigError
from offhours.secrets import secret_looking

if TYPE_CHECKING:
    from offhours.budget import Budget

__all__ = [
    "HANDLER",
    "ImportResult",
    "Note",
    "NoteAction",
    "convert_lambda_json",
    "import_lambda_json",
    "render_notes",
    "write_deploy_section",
]

#: The function's handler: always offhours' own, whatever lambda.json named.
HANDLER = "offhours.lambda_handler.handler"
#: lambda-uploader's runtime when lambda.json names none.
UPLOADER_DEFAULT_RUNTIME = "python2.7"

# What [deploy] accepts and defaults to, read from DeployConfig so the two cannot drift apart.
_RUNTIMES: tuple[str, ...] = get_args(DeployConfig.model_fields["runtime"].annotation)
#: what a retired runtime maps to: written out, so the imported config pins it
TARGET_RUNTIME: str = "python3.12"
_DEFAULT_TIMEOUT: int = DeployConfig.model_fields["timeout"].default

NoteAction = Literal["mapped", "changed", "unmapped"]


class Note(NamedTuple):
    """What became of one key of lambda.json.

    ``message`` is the text that follows the key in the report: for "mapped" and "changed"
    the mapping (e.g. ``python2.7 → python3.12 (why)``), for "unmapped" the reason.
    """

    key: str
    action: NoteAction
    message: str


@dataclass(frozen=True)
class ImportResult:
    """The ``[deploy]`` values, the same as TOML text (with comments), and the notes."""

    deploy: dict[str, Any]
    toml: str
    notes: list[Note]
    #: what the user must act on before deploying (an imported role, a dropped timeout)
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------- what each key is

_EXPECT = {
    "name": "a string: the function name, 1 to 64 letters, digits, '-' or '_'",
    "description": "a string of at most 256 characters",
    "region": 'a string: an AWS region such as "us-east-1"',
    "handler": "a string",
    "role": "a string: an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME",
    "timeout": "an integer from 1 to 900 (seconds)",
    "memory": "an integer from 128 to 10240 (MB)",
    "runtime": 'a string: a Python runtime such as "python3.12"',
    "publish": "true or false",
    "alias": "a string: a letter, then up to 127 letters, digits, '-' or '_'",
    "alias_description": "a string",
    "variables": "an object whose values are strings",
    "vpc": "an object with subnets and security_groups",
    "vpc.subnets": "a non-empty array of subnet id strings",
    "vpc.security_groups": "a non-empty array of security group id strings",
    "tracing": 'an object {"Mode": "Active"} or {"Mode": "PassThrough"}',
    "tracing.Mode": '"Active" or "PassThrough"',
}

_REQUIRED: dict[str, type] = {
    "name": str,
    "description": str,
    "region": str,
    "handler": str,
    "role": str,
    "timeout": int,
    "memory": int,
}
_OPTIONAL: dict[str, type] = {
    "runtime": str,
    "publish": bool,
    "alias": str,
    "alias_description": str,
    "variables": dict,
    "vpc": dict,
    "tracing": dict,
}
_UNMAPPED = {
    "requirements": "offhours packages its own dependencies, built for the function's runtime",
    "ignore": "the zip is built from the installed offhours package, not from a directory",
    "extra_files": "the zip holds offhours and its dependencies; the configuration travels with it",
    "s3_bucket": "the zip is uploaded directly; it is small",
    "s3_key": "the zip is uploaded directly; it is small",
    "subscription": "Kinesis event sources only; offhours runs on a schedule",
}
_KNOWN = [*_REQUIRED, *_OPTIONAL, *_UNMAPPED]

# [deploy] field → lambda.json key, to report DeployConfig's errors where the user wrote them.
_SOURCE_OF = {
    "function_name": "name",
    "role_arn": "role",
    "environment": "variables",
    "tracing": "tracing.Mode",
}
_VPC_SOURCE_OF = {"subnet_ids": "subnets", "security_group_ids": "security_groups"}

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
# AWS's rule for environment variable names.
_ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_RUNTIME = re.compile(r"python(\d+)\.(\d+)")
_MIN_PYTHON = min(tuple(int(n) for n in r.removeprefix("python").split(".")) for r in _RUNTIMES)

_ROLE_NOTE = (
    "→ role_arn (used as is: offhours grants it nothing, yet the function needs "
    "ssm:GetParameter on its configuration and kms:Decrypt on the new key offhours creates; "
    "without role_arn offhours creates a least-privilege role with exactly those)"
)


# ---------------------------------------------------------------- reading lambda.json


def import_lambda_json(
    path: Path, *, budget: Callable[[int], Budget] | None = None
) -> ImportResult:
    """Read lambda-uploader's ``lambda.json`` (or the one in directory ``path``) and map it.

    Raises ConfigError listing every problem found.
    """
    file = path / "lambda.json" if path.is_dir() else path
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file; give the path of lambda-uploader's lambda.json "
            "(or of the function's directory that holds it)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text (byte {exc.start})") from None
    return convert_lambda_json(text, source=str(file), budget=budget)


def convert_lambda_json(
    text: str, *, source: str = "lambda.json", budget: Callable[[int], Budget] | None = None
) -> ImportResult:
    """Map the text of a lambda.json; ``source`` names it in errors and in the TOML header.

    ``budget``: the worst case of a run of the configuration it is for, against a timeout; an
    imported ``timeout`` it does not fit is dropped (offhours' default is used, and said).
    """
    data = _parse_json(text, source)
    problems: list[str] = []
    notes: list[Note] = []
    deploy = _map(data, problems, notes)
    # The values that passed the type checks are checked too: every problem at once.
    _validate(deploy, problems)
    if problems:
        lines = tuple(f"{source}: {p}" for p in problems)
        noun = "problem" if len(lines) == 1 else "problems"
        raise ConfigError(f"{source}: {len(lines)} {noun}:\n  " + "\n  ".join(lines), lines)
    warnings = []
    if "role_arn" in deploy:
        warnings.append(_role_warning(deploy["role_arn"], deploy.get("function_name", "")))
    if budget is not None and "timeout" in deploy:
        dropped = _fit_timeout(deploy, notes, budget)
        if dropped:
            warnings.append(dropped)
    return ImportResult(
        deploy=deploy,
        toml=_section(deploy, notes, source),
        notes=notes,
        warnings=tuple(warnings),
    )


def _role_warning(role_arn: str, function: str) -> str:
    fn = function or "<function_name>"
    return (
        f"role: {role_arn} is used as is, and offhours grants it nothing. The function reads "
        f"its configuration (ssm:GetParameter on /offhours/{fn}/config) and decrypts its "
        "secrets with the new KMS key offhours creates for it (kms:Decrypt under the context "
        f"LambdaFunctionName={fn}; the key's policy names the role, which is enough only for "
        "a role of the same account). A role made for lambda-uploader, with just "
        "AWSLambdaBasicExecutionRole, cannot read the configuration, and one of another "
        "account can neither decrypt the key nor be given to the function. Leave role_arn "
        "out: offhours then creates a least-privilege role with exactly what the function "
        "needs (`offhours deploy plan` prints it); or add those permissions to this role"
    )


def _fit_timeout(
    deploy: dict[str, Any], notes: list[Note], budget: Callable[[int], Budget]
) -> str | None:
    """Drop an imported timeout the run's worst case does not fit; say why (None: kept)."""
    timeout = int(deploy["timeout"])
    worst = budget(timeout)
    if worst.fits:
        return None
    del deploy["timeout"]
    message = (
        f"{timeout} s dropped, too short for this configuration: {worst.describe()}, and a "
        "run its timeout cuts off cannot report. [deploy] timeout is left out, so offhours' "
        f"default of {_DEFAULT_TIMEOUT} s applies"
    )
    if not budget(_DEFAULT_TIMEOUT).fits:
        message += " (still short: lower the sources' or notifiers' timeouts and retries)"
    notes[:] = [Note("timeout", "changed", message) if n.key == "timeout" else n for n in notes]
    return (
        f"timeout: lambda.json's {timeout} s is not kept, as a run of this configuration can "
        f"take longer ({worst.describe()}); offhours' default of {_DEFAULT_TIMEOUT} s applies"
    )


def _parse_json(text: str, source: str) -> dict[str, Any]:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                duplicates.append(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError:
        raise ConfigError(f"{source}: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise ConfigError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a JSON object of lambda-uploader settings, got {_kind(data)}"
        )
    where = _surrogate_at(data)
    if where is not None:
        raise ConfigError(
            f"{source}: {where}: holds an unpaired surrogate escape (\\uD800–\\uDFFF), "
            "which is not text; remove it"
        )
    if duplicates:
        shown = ", ".join(sorted({_quote(d) for d in duplicates}))
        raise ConfigError(
            f"{source}: duplicate key(s) {shown}: JSON keeps only the last; remove the others"
        )
    return data


def _surrogate_at(data: Any) -> str | None:
    """Where a lone surrogate is (JSON's \\u escapes can make them; UTF-8 and TOML cannot)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:  # a loop, not recursion: JSON may nest as deep as its parser allowed
        path, value = stack.pop()
        if isinstance(value, str) and _has_surrogate(value):
            return path or "(top level)"
        if isinstance(value, dict):
            for key, item in value.items():
                if _has_surrogate(key):
                    return f"{path}.(a key)" if path else "(a key)"
                stack.append((f"{path}.{_label(key)}" if path else _label(key), item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


# ---------------------------------------------------------------- mapping


def _map(data: Mapping[str, Any], problems: list[str], notes: list[Note]) -> dict[str, Any]:
    """Check each key's type and build the [deploy] values; notes in a fixed key order."""
    ok: dict[str, Any] = {}
    for key, cls in _REQUIRED.items():
        if key not in data:
            problems.append(f"{key}: missing; this key is required ({_EXPECT[key]})")
        elif _check(key, data[key], cls, problems):
            ok[key] = data[key]
    for key, cls in _OPTIONAL.items():
        # lambda-uploader treats null as absent.
        if data.get(key) is not None and _check(key, data[key], cls, problems):
            ok[key] = data[key]

    deploy: dict[str, Any] = {}
    if "name" in ok:
        deploy["function_name"] = ok["name"]
        notes.append(Note("name", "mapped", "→ function_name"))
    for key in ("description", "region"):
        if key in ok:
            deploy[key] = ok[key]
            notes.append(Note(key, "mapped", ""))
    if "handler" in ok:
        notes.append(_handler_note(ok["handler"]))
    if "role" in ok:
        if _ROLE_ARN.fullmatch(ok["role"]):
            deploy["role_arn"] = ok["role"]
            notes.append(Note("role", "mapped", _ROLE_NOTE))
        else:
            problems.append(f"role: {_quote(ok['role'])} is not valid; expected {_EXPECT['role']}")
    if "runtime" in ok or data.get("runtime") is None:
        runtime, note = _runtime(ok.get("runtime"))
        deploy["runtime"] = runtime
        notes.append(note)
    if "memory" in ok:
        deploy["memory"] = ok["memory"]
        notes.append(Note("memory", "mapped", f"({ok['memory']} MB)"))
    if "timeout" in ok:
        deploy["timeout"] = ok["timeout"]
        notes.append(Note("timeout", "mapped", _timeout_message(ok["timeout"])))
    for key in ("publish", "alias", "alias_description"):
        if key in ok:
            deploy[key] = ok[key]
            notes.append(Note(key, "mapped", ""))
    if "variables" in ok:
        env = _variables(ok["variables"], problems, notes)
        if env:
            deploy["environment"] = env
    if "vpc" in ok:
        vpc = _vpc(ok["vpc"], problems)
        if vpc is not None:
            deploy["vpc"] = vpc
            notes.append(
                Note(
                    "vpc",
                    "mapped",
                    "→ vpc (subnets → subnet_ids, security_groups → security_group_ids)",
                )
            )
    if "tracing" in ok:
        mode = _tracing(ok["tracing"], problems)
        if mode is not None:
            deploy["tracing"] = mode
            notes.append(Note("tracing", "mapped", "→ tracing (its Mode)"))
    # DeployConfig's order, so the section reads like the documented one.
    deploy = {k: deploy[k] for k in DeployConfig.model_fields if k in deploy}
    for key, reason in _UNMAPPED.items():
        if key in data:
            notes.append(Note(key, "unmapped", reason))
    for key in data:
        if key not in _KNOWN:
            notes.append(Note(_label(key), "unmapped", _unknown_reason(key)))
    return deploy


def _check(key: str, value: Any, cls: type, problems: list[str]) -> bool:
    # JSON true/false are ints to Python; lambda-uploader meant numbers.
    if isinstance(value, cls) and not (cls is int and isinstance(value, bool)):
        return True
    problems.append(f"{key}: expected {_EXPECT[key]}, got {_kind(value, show=key != 'variables')}")
    return False


def _handler_note(handler: str) -> Note:
    if handler == HANDLER:
        return Note("handler", "mapped", "(offhours' handler; fixed, so not a [deploy] key)")
    return Note(
        "handler",
        "changed",
        f"{_quote(handler)} → {HANDLER} (the function runs offhours' handler, which audits "
        "the sources and notifies as offhours.toml says; it is fixed, so not a [deploy] key)",
    )


def _runtime(given: str | None) -> tuple[str, Note]:
    if given is None:
        return TARGET_RUNTIME, Note(
            "runtime",
            "changed",
            f"{UPLOADER_DEFAULT_RUNTIME} (lambda-uploader's default, as lambda.json names none) "
            f"→ {TARGET_RUNTIME} ({UPLOADER_DEFAULT_RUNTIME} can no longer be created or "
            "updated on Lambda)",
        )
    match = _RUNTIME.fullmatch(given)
    if match is None:
        # Left to DeployConfig, which names the runtimes offhours accepts.
        return given, Note("runtime", "mapped", "")
    version = (int(match[1]), int(match[2]))
    if version[0] < 3:
        return TARGET_RUNTIME, Note(
            "runtime",
            "changed",
            f"{given} → {TARGET_RUNTIME} ({given} can no longer be created or updated on Lambda)",
        )
    if version < _MIN_PYTHON:
        need = ".".join(str(n) for n in _MIN_PYTHON)
        return TARGET_RUNTIME, Note(
            "runtime",
            "changed",
            f"{given} → {TARGET_RUNTIME} (offhours needs Python ≥ {need})",
        )
    return given, Note("runtime", "mapped", "")


def _timeout_message(timeout: int) -> str:
    if timeout < _DEFAULT_TIMEOUT:
        return (
            f"({timeout} s, kept; offhours' default is {_DEFAULT_TIMEOUT} s, as a slow source "
            "or Slack's rate limits can take longer)"
        )
    return f"({timeout} s)"


def _variables(
    variables: Mapping[str, Any], problems: list[str], notes: list[Note]
) -> dict[str, str]:
    env: dict[str, str] = {}
    skipped: list[Note] = []
    for name, value in variables.items():
        where = f"variables.{_label(name)}"
        if not _ENV_NAME.fullmatch(name):
            problems.append(
                f"{where}: not a valid variable name; expected a letter, then letters, digits "
                "or '_' (at least two characters)"
            )
        elif not isinstance(value, str):
            # The value is never shown: it may be a secret.
            problems.append(f"{where}: expected a string, got {_kind(value, show=False)}")
        elif (why := secret_looking(name, value)) is not None:
            skipped.append(
                Note(
                    where,
                    "unmapped",
                    f"{why}, which offhours.toml would keep in plain "
                    "text: encrypt it with `offhours secrets encrypt` and give the kms: "
                    "reference where offhours uses it",
                )
            )
        else:
            env[name] = value
    if env or not skipped:
        notes.append(
            Note(
                "variables",
                "mapped",
                f"→ environment ({len(env)} of {len(variables)}; offhours sets these and leaves "
                "any other variable of the function alone)",
            )
        )
    notes.extend(skipped)
    return env


def _vpc(vpc: Mapping[str, Any], problems: list[str]) -> dict[str, list[str]] | None:
    out: dict[str, list[str]] = {}
    for key, target in (("subnets", "subnet_ids"), ("security_groups", "security_group_ids")):
        where = f"vpc.{key}"
        value = vpc.get(key)
        if key not in vpc:
            problems.append(f"{where}: missing; expected {_EXPECT[where]}")
        elif (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            problems.append(f"{where}: expected {_EXPECT[where]}, got {_kind(value)}")
        else:
            out[target] = value
    for key in vpc:
        if key not in ("subnets", "security_groups"):
            problems.append(f"vpc.{_label(key)}: unknown key; expected subnets and security_groups")
    return out if len(out) == 2 and len(vpc) == 2 else None


def _tracing(tracing: Mapping[str, Any], problems: list[str]) -> str | None:
    extra = [k for k in tracing if k != "Mode"]
    for key in extra:
        problems.append(f"tracing.{_label(key)}: unknown key; expected only Mode")
    if "Mode" not in tracing:
        problems.append(f"tracing.Mode: missing; expected {_EXPECT['tracing.Mode']}")
        return None
    mode = tracing["Mode"]
    if not isinstance(mode, str):
        problems.append(f"tracing.Mode: expected {_EXPECT['tracing.Mode']}, got {_kind(mode)}")
        return None
    return None if extra else mode


def _unknown_reason(key: str) -> str:
    close = difflib.get_close_matches(key, _KNOWN, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"not a lambda-uploader key{hint}"


# ---------------------------------------------------------------- validation by DeployConfig


def _validate(deploy: Mapping[str, Any], problems: list[str]) -> None:
    try:
        DeployConfig.model_validate(dict(deploy), strict=True)
    except ValidationError as exc:
        problems.extend(_describe(err) for err in exc.errors())


def _describe(err: Mapping[str, Any]) -> str:
    loc = [str(part) for part in err["loc"]]
    where = _SOURCE_OF.get(loc[0], loc[0])
    if loc[0] == "vpc" and len(loc) > 1:
        where = f"vpc.{_VPC_SOURCE_OF.get(loc[1], loc[1])}"
    expect = _EXPECT.get(where, "")
    value = err.get("input")
    # A variable's value may be a secret: never shown.
    hidden = isinstance(value, dict | list) or loc[0] == "environment"
    shown = "" if hidden else _show(value)
    kind = err["type"]
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        what = "is out of range"
    elif kind == "string_too_long" and isinstance(value, str):
        what = f"is too long ({len(value)} characters)"
    elif kind in ("string_pattern_mismatch", "literal_error"):
        what = "is not valid" if loc[0] != "runtime" else "is not a runtime offhours runs on"
    else:
        what = "is not valid: " + err["msg"]
    if loc[0] == "runtime":
        expect = ", ".join(_RUNTIMES[:-1]) + f" or {_RUNTIMES[-1]}"
    text = f"{where}: {shown} {what}" if shown else f"{where}: {what}"
    return f"{text}; expected {expect}" if expect else text


# ---------------------------------------------------------------- report


def render_notes(notes: list[Note]) -> str:
    """A readable report: what was mapped, what was changed and why, what was left out and why."""
    order: dict[str, int] = {"mapped": 0, "changed": 1, "unmapped": 2}
    lines = [_note_line(n) for n in sorted(notes, key=lambda n: order[n.action])]
    return "\n".join(lines) + ("\n" if lines else "")


def _note_line(note: Note) -> str:
    if note.action == "unmapped":
        return f"not mapped: {note.key} ({note.message})"
    return f"{note.action}: {note.key}" + (f" {note.message}" if note.message else "")


# ---------------------------------------------------------------- TOML text

_DEPLOY_KEY_OF = {"function_name": "name", "role_arn": "role", "environment": "variables"}


def _section(deploy: Mapping[str, Any], notes: list[Note], source: str) -> str:
    by_key = {n.key: n for n in notes}
    written = {_DEPLOY_KEY_OF.get(k, k) for k in deploy}
    head = [
        f"[deploy] imported from {_comment_text(source)} (lambda-uploader's lambda.json)",
        "by `offhours deploy import-lambda-json`.",
    ]
    head += [_note_line(n) for n in notes if n.action != "mapped" and n.key not in written]
    comments: dict[str, str] = {}
    for key in deploy:
        note = by_key.get(_DEPLOY_KEY_OF.get(key, key))
        if note is not None and (note.action != "mapped" or note.key == "role"):
            comments[key] = _note_line(note)
    document = tomlkit.document()
    for line in [line for text in head for line in _comment(text)]:
        document.add(_comment_item(line))
    table = _table(deploy, comments)
    document.add("deploy", table)
    # Right under its header comments (tomlkit would set a blank line between), so that a
    # later forced import replaces them with the table.
    table.trivia.indent = ""
    return document.as_string()


def _comment(text: str) -> list[str]:
    wrapped = textwrap.wrap(
        _comment_text(text), width=96, break_on_hyphens=False, break_long_words=False
    )
    return [("# " if i == 0 else "#   ") + line for i, line in enumerate(wrapped)]


def _comment_text(text: str) -> str:
    # A comment may hold no control character: show them escaped, as in a TOML string.
    return "".join(_escape(ch) if not ch.isprintable() else ch for ch in text)


def _table(table: Mapping[str, Any], comments: Mapping[str, str]) -> Table:
    out = tomlkit.table()
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping) and value:
            subtables.append((key, value))
            continue
        for line in _comment(comments.get(key, "")):
            out.add(_comment_item(line))
        out.add(key, _item(value))
    for key, value in subtables:
        # tomlkit sets a blank line before a sub-table added after a value.
        for line in _comment(comments.get(key, "")):
            out.add(_comment_item(line))
        out.add(key, _table(value, {}))
    return out


def _comment_item(line: str) -> Comment:
    # ``line`` is already "# …": tomlkit.comment() would add a second "# ".
    return Comment(Trivia(comment=line))


def _item(value: Any) -> Item:
    if isinstance(value, str):
        # Escaped here, not by tomlkit: every non-printable character (bidi and zero-width
        # included), so the text is safe on a terminal, not only valid TOML.
        return String(StringType.SLB, value, _quote(value)[1:-1], Trivia())
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_item(v) for v in value)
        return array
    if isinstance(value, Mapping):
        inline = tomlkit.inline_table()
        inline.update({k: _item(v) for k, v in value.items()})
        return inline
    if isinstance(value, bool | int):
        return tomlkit.item(value)
    raise TypeError(f"no TOML form for {type(value).__name__}")


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n"}
_SHORT_ESCAPES |= {"\f": "\\f", "\r": "\\r"}


def _escape(ch: str) -> str:
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def _quote(text: str) -> str:
    """A TOML basic string; non-printable characters escaped, other Unicode kept as is."""
    body = "".join(
        _escape(ch) if ch in _SHORT_ESCAPES or not ch.isprintable() else ch for ch in text
    )
    return f'"{body}"'


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def _label(key: str) -> str:
    return key if key and re.fullmatch(r"[\w.-]+", key, re.ASCII) else _quote(key)


def _kind(value: Any, *, show: bool = True) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    name = names.get(type(value), type(value).__name__)
    return f"{name} ({_show(value)})" if show else name


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = _quote(value)
        return text if len(text) <= 60 else text[:56] + '…"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- offhours.toml


def write_deploy_section(config_path: Path, toml: str, *, force: bool) -> None:
    """Add ``toml`` (a ``[deploy]`` section) to offhours.toml, creating the file if needed.

    An existing ``[deploy]`` table (with its ``[deploy.*]`` sub-tables) is replaced only with
    ``force``; everything else in the file is kept byte for byte. Raises ConfigError.
    """
    section = _section_data(toml)
    if not config_path.exists():
        header = (
            "# offhours configuration. Add [[sources]] and [[notifiers]] before running "
            "`offhours audit`\n# (see examples/offhours.toml); `offhours check` validates "
            "this file.\n\n"
        )
        try:
            with config_path.open("x", encoding="utf-8", newline="") as fh:
                fh.write(header + toml)
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot create ({exc.strerror})") from None
        return
    text = _read_config(config_path)
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{config_path}: not valid TOML ({exc}); fix it first, or print the section "
            "(without --write) and add it by hand"
        ) from None
    newline = "\r\n" if "\r\n" in text else "\n"
    addition = toml.replace("\n", newline) if newline != "\n" else toml
    if "deploy" not in before:
        if text and not text.endswith(("\n", "\r")):
            text += newline
        if text.strip():
            text += newline
        _replace(config_path, text + addition)
        return
    document = tomlkit.parse(text)
    if document.as_string() != text:
        # tomlkit joins the tables of an array written in parts ([[sources]], another table,
        # [[sources]]): rendered back, the file would be reordered.
        raise ConfigError(
            f"{config_path}: cannot replace its [deploy] table and keep the rest of the file as "
            "written (the tables of an array, [[…]], written apart from each other would be "
            "moved together); put them together, or print the section (without --write) and "
            "merge it by hand"
        )
    body = document.body
    first = next((i for i, (key, item) in enumerate(body) if _is_deploy(key, item)), None)
    if first is None:
        raise ConfigError(
            f"{config_path}: [deploy] settings are written there as dotted keys "
            "(deploy.name = …) or an inline table; remove them by hand and re-run, or "
            "print the section (without --write) and merge it by hand"
        )
    if not force:
        line = _render(body[:first]).count("\n") + 1
        raise ConfigError(
            f"{config_path}: already has a [deploy] table (line {line}); re-run with --force "
            "to replace it (the rest of the file is kept as it is), or print the section "
            "(without --write) and merge it by hand"
        )
    kept, at = _without_deploy(body)
    kept[at:at] = tomlkit.parse(addition).body
    new_text = _render(kept)
    _check_replacement(config_path, before, new_text, section)
    _replace(config_path, new_text)


def _section_data(toml: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(toml)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the [deploy] section to write is not valid TOML ({exc})") from None
    if set(data) != {"deploy"}:
        raise ConfigError("the section to write must hold only a [deploy] table")
    return data


def _check_replacement(
    config_path: Path, before: Mapping[str, Any], new_text: str, section: Mapping[str, Any]
) -> None:
    # tomllib, a parser apart from the one that made the edit, proves that it changed [deploy]
    # and nothing else before it is written.
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = {}
    rest_before = {k: v for k, v in before.items() if k != "deploy"}
    rest_after = {k: v for k, v in after.items() if k != "deploy"}
    if after.get("deploy") != section["deploy"] or rest_before != rest_after:
        raise ConfigError(
            f"{config_path}: cannot replace its [deploy] settings safely (some are written "
            "outside the [deploy] table); remove them by hand and re-run"
        )


def _read_config(config_path: Path) -> str:
    try:
        raw = config_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text (byte {exc.start})") from None


def _replace(config_path: Path, text: str) -> None:
    # Written beside the file and renamed over it: a failure never leaves half a config.
    # A symbolic link stays one: its target is what gets replaced.
    target = Path(os.path.realpath(config_path))
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
            shutil.copymode(target, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot write ({exc.strerror})") from None


# ---------------------------------------------------------------- [deploy] in offhours.toml

# The edit works on tomlkit's document, which keeps every comment, blank line and value as
# written: what is not taken out renders back byte for byte. The rule, in lines: a [deploy]
# table (or sub-table) goes with the comment lines directly above its header; the comments and
# blank lines after its last value stay, as they may be about what follows; tables of [deploy]
# apart only by blank lines go as one, with those lines.

_Body = list[tuple[Key | None, Item]]
_Piece = Literal["header", "value"] | Comment | Whitespace


def _is_deploy(key: Key | None, item: Item) -> bool:
    """A top-level ``[deploy]`` (or ``[deploy.*]``) table written with a header."""
    return key is not None and key.key == "deploy" and any(p == "header" for p in _pieces(item))


def _pieces(item: Item) -> Iterator[_Piece]:
    """A table in file order: each header, each value, each comment and blank line."""
    tables = item.body if isinstance(item, AoT) else [item] if isinstance(item, Table) else []
    for table in tables:
        if not table.is_super_table():
            yield "header"
        for _, child in table.value.body:
            if isinstance(child, Table | AoT):
                yield from _pieces(child)
            elif isinstance(child, Comment | Whitespace):
                yield child
            else:
                yield "value"
    if not tables:
        yield "value"  # dotted keys or an inline table: no header


def _without_deploy(body: _Body) -> tuple[_Body, int]:
    """The top-level entries with the [deploy] tables taken out, and where they were."""
    out: _Body = []
    at: int | None = None
    after: _Body = []  # the comments and blank lines since a [deploy] table's last value
    in_deploy = False
    for key, item in body:
        if not _is_deploy(key, item):
            out += [*after, (key, item)]
            after, in_deploy = [], False
            continue
        for piece in _pieces(item):
            if piece == "value":
                after = []  # inside the table: goes with it
            elif piece != "header":
                after.append((None, piece))
            elif in_deploy:
                _drop_attached(after)
                # Only blank lines since the last [deploy] table: both go as one.
                if not all(isinstance(p, Whitespace) for _, p in after):
                    out += after
                after = []
            else:
                _drop_attached(_tail(out))
                in_deploy = True
            if piece == "header" and at is None:
                at = len(out)
    out += after
    assert at is not None  # the caller checked that a [deploy] table is there
    return out, at


def _tail(body: _Body) -> _Body:
    """The list holding the comments and blank lines at the end of ``body``: in tomlkit they
    are inside the last table (its last sub-table's, if it has some)."""
    while body:
        last = body[-1][1]
        if isinstance(last, AoT) and last.body:
            last = last.body[-1]
        if not isinstance(last, Table):
            break
        body = last.value.body
    return body


def _drop_attached(body: _Body) -> None:
    """Remove the comment lines at the end of ``body``."""
    while body and body[-1][0] is None and isinstance(body[-1][1], Comment):
        body.pop()


def _render(body: _Body) -> str:
    document = tomlkit.document()
    document.body.extend(body)
    return document.as_string()
