"""What plan, apply and destroy say: one :class:`Change` per resource, and the field-level
differences it lists (pure: no AWS call, no printing).

A change names what differs, as a reviewer reads it: ``memory 128 MB → 256 MB``, ``environment:
OFFHOURS_STATE_TABLE added``, ``statement AwsRead1A2B added: ec2:DescribeInstances on *``,
``tags: team platform → ops``. Values are shown only where they cannot be secret: the
function's environment gives names only, never values.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Action",
    "Change",
    "config_diffs",
    "differs",
    "document_diff",
    "environment_diff",
    "field_diffs",
    "policy_diff",
    "pretty",
    "statement_diffs",
    "summary",
    "tag_diff",
    "tag_line",
]

Action = Literal["create", "update", "delete", "unchanged"]
_SYMBOL = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
_ORDER: tuple[Action, ...] = ("create", "update", "delete", "unchanged")


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.shown()

    def shown(self, unchanged: str = "unchanged") -> str:
        """The change as printed; ``unchanged``: the word for what stays (destroy: "keep")."""
        word = unchanged if self.action == "unchanged" else self.action
        head = f"{_SYMBOL[self.action]} {word:<9} {self.kind} {self.name}"
        return "\n".join([head, *(f"      {d}" for d in self.details)])


#: how each action reads in the closing line of plan, apply, destroy's preview and destroy
_WORDS: dict[str, dict[Action, str]] = {
    "plan": {
        "create": "to create",
        "update": "to update",
        "delete": "to delete",
        "unchanged": "unchanged",
    },
    "apply": {
        "create": "created",
        "update": "updated",
        "delete": "deleted",
        "unchanged": "unchanged",
    },
    "preview": {"delete": "to delete", "unchanged": "kept"},
    "destroy": {"delete": "deleted", "unchanged": "kept"},
}


def summary(changes: Sequence[Change], mode: Literal["plan", "apply", "preview", "destroy"]) -> str:
    """The closing line: ``11 to create, 1 to update, 4 unchanged.`` (plan), ``8 created``
    (apply), ``7 to delete, 1 kept`` (destroy's preview), or that there is nothing to do."""
    counts = {a: sum(1 for c in changes if c.action == a) for a in _ORDER}
    if not counts["create"] + counts["update"] + counts["delete"]:
        return "nothing to destroy." if mode in ("preview", "destroy") else "no changes."
    words = _WORDS[mode]
    return ", ".join(f"{counts[a]} {words[a]}" for a in _ORDER if counts[a] and a in words) + "."


def pretty(document: object) -> list[str]:
    return json.dumps(document, indent=2, sort_keys=True).splitlines()


def _one_line(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, sort_keys=True)


def _statements(document: object) -> dict[str, Mapping[str, Any]]:
    """A policy's statements by Sid (one without a Sid: by its position)."""
    found = document.get("Statement", []) if isinstance(document, Mapping) else []
    if isinstance(found, Mapping):
        found = [found]
    named: dict[str, Mapping[str, Any]] = {}
    for index, statement in enumerate(found if isinstance(found, list) else []):
        if isinstance(statement, Mapping):
            named[str(statement.get("Sid") or f"#{index + 1}")] = statement
    return named


def _what(statement: Mapping[str, Any]) -> str:
    verb = "" if statement.get("Effect", "Allow") == "Allow" else "deny "
    action = _one_line(statement.get("Action", statement.get("NotAction", "?")))
    return f"{verb}{action} on {_one_line(statement.get('Resource', '*'))}"


def statement_diffs(current: object, desired: object) -> list[str]:
    """Which statements a policy change adds, removes or changes, by Sid: ``statement X
    added: s3:GetObject on arn:…``; changed ones say which fields."""
    have, want = _statements(current), _statements(desired)
    lines = [f"statement {sid} added: {_what(want[sid])}" for sid in want if sid not in have]
    lines += [f"statement {sid} removed: {_what(have[sid])}" for sid in have if sid not in want]
    for sid in want:
        if sid in have and have[sid] != want[sid]:
            keys = {*have[sid], *want[sid]}
            fields = sorted(k for k in keys if have[sid].get(k) != want[sid].get(k))
            lines.append(f"statement {sid} changed: {', '.join(fields)}")
    return lines


def policy_diff(title: str, current: object, desired: object) -> list[str]:
    """``title``, the statements added/removed/changed, then the unified diff of the two
    documents, as ``terraform plan`` shows one."""
    diff = difflib.unified_diff(
        pretty(current), pretty(desired), "current", "desired", lineterm="", n=3
    )
    return [f"{title}:", *statement_diffs(current, desired), *diff]


def tag_diff(current: Mapping[str, str], desired: Mapping[str, str] | None) -> dict[str, str]:
    """The tags to write: those missing or with another value (tags set by others stay)."""
    return {k: v for k, v in (desired or {}).items() if current.get(k) != v}


def tag_line(current: Mapping[str, str], changed: Mapping[str, str]) -> str:
    """``tags: team platform → ops, owner added (alice)``."""
    parts = [
        f"{k} {current[k]} → {v}" if k in current else f"{k} added ({v})"
        for k, v in sorted(changed.items())
    ]
    return "tags: " + ", ".join(parts)


def environment_diff(
    current: Mapping[str, str], desired: Mapping[str, str], *, shown: str = ""
) -> list[str]:
    """Which variables are added, changed or removed, by name only (a value may be secret);
    ``shown``: the one variable whose old and new value may be printed (the configuration's
    parameter version)."""
    added = [f"{k} added" for k in sorted(desired) if k not in current]
    changed = [f"{k} changed" for k in sorted(desired) if k in current and current[k] != desired[k]]
    removed = [f"{k} removed" for k in sorted(current) if k not in desired]
    every = added + changed + removed
    lines = [f"environment: {', '.join(every)}"] if every else []
    if shown and shown in current and shown in desired and current[shown] != desired[shown]:
        lines.append(f"configuration {current[shown]} → {desired[shown]}")
    return lines


#: a function setting → how a reviewer reads it (and its unit)
_SETTINGS = {
    "MemorySize": ("memory", " MB"),
    "Timeout": ("timeout", " s"),
    "Runtime": ("runtime", ""),
    "Handler": ("handler", ""),
    "Role": ("role", ""),
    "KMSKeyArn": ("KMS key", ""),
}


def _shown(value: object) -> str:
    return "(none)" if value in (None, "") else str(value)


def config_diffs(
    current: Mapping[str, Any], desired: Mapping[str, Any], *, shown_variable: str = ""
) -> list[str]:
    """What differs between a Lambda function's configuration and the one wanted (both in
    ``update_function_configuration``'s shape), one line per setting."""
    diffs: list[str] = []
    for key, want in desired.items():
        have = current.get(key)
        if key == "Environment":
            diffs += environment_diff(
                (have or {}).get("Variables", {}), want["Variables"], shown=shown_variable
            )
        elif key == "TracingConfig":
            mode = (have or {}).get("Mode", "PassThrough")
            if mode != want["Mode"]:
                diffs.append(f"tracing {mode} → {want['Mode']}")
        elif key == "VpcConfig":
            for part, noun in (("SubnetIds", "subnets"), ("SecurityGroupIds", "security groups")):
                old, new = sorted((have or {}).get(part, [])), sorted(want[part])
                if old != new:
                    before, after = ", ".join(old) or "(none)", ", ".join(new) or "(none)"
                    diffs.append(f"vpc {noun}: {before} → {after}")
        elif key == "Description":
            if (have or "") != want:
                diffs.append("description changed")
        elif have != want:
            noun, unit = _SETTINGS.get(key, (key, ""))
            diffs.append(f"{noun} {_shown(have)}{unit if have else ''} → {_shown(want)}{unit}")
    return diffs


def field_diffs(
    current: Mapping[str, Any], desired: Mapping[str, Any], names: Mapping[str, str]
) -> list[str]:
    """``name old → new`` for each top-level setting that differs (``names``: how each key
    reads; a setting that is a document says only that it changed)."""
    lines = []
    for key, want in desired.items():
        have = current.get(key)
        if not differs(want, have):
            continue
        noun = names.get(key, key)
        # A description repeats what the other lines say: only that it changed.
        if key != "Description" and isinstance(want, str | int | float):
            lines.append(f"{noun} {_shown(have)} → {want}")
        else:
            lines.append(f"{noun} changed")
    return lines


def differs(desired: object, current: object) -> bool:
    """True when ``desired`` differs from what ``current`` holds (extra keys in it ignored)."""
    if isinstance(desired, Mapping):
        if not isinstance(current, Mapping):
            return True
        return any(differs(v, current.get(k)) for k, v in desired.items())
    return desired != current


def document_diff(current: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Where two configurations differ, by place only (``hours``, ``sources[1] added``,
    ``notifiers[0]``): never a value, which may be a secret's."""
    places = []
    for key in sorted({*current, *desired}):
        have, want = current.get(key), desired.get(key)
        if json.dumps(have, sort_keys=True) == json.dumps(want, sort_keys=True):
            continue
        if key not in current or key not in desired:
            places.append(f"{key} {'added' if key in desired else 'removed'}")
        elif isinstance(have, list) and isinstance(want, list):
            for i in range(max(len(have), len(want))):
                if i >= len(have):
                    places.append(f"{key}[{i}] added")
                elif i >= len(want):
                    places.append(f"{key}[{i}] removed")
                elif json.dumps(have[i], sort_keys=True) != json.dumps(want[i], sort_keys=True):
                    places.append(f"{key}[{i}]")
        else:
            places.append(key)
    return places
