"""Secret references (``env:NAME``, ``file:PATH``) and a value type that never prints itself.

A reference is resolved once per run; the resolved :class:`Secret` lives in memory only and
shows at most its last four characters (or, for a URL, :func:`redact_url`'s host form).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from offhours.errors import SecretError

__all__ = ["SCHEMES", "Secret", "SecretRef", "known_values", "redact_url"]

SCHEMES = ("env", "file")
_MASK = "••••"

# Every resolved value, so the log filter can scrub one that a library logs on its own
# (slack_sdk and urllib3 log request URLs at DEBUG).
_KNOWN: set[str] = set()


def known_values() -> frozenset[str]:
    """The plaintexts of every Secret made in this process (for redaction only)."""
    return frozenset(_KNOWN)


def _tail(value: str) -> str:
    # Only long values show a tail: the last four of a short password would give too much away.
    return _MASK + value[-4:] if len(value) >= 16 else _MASK


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/abcdWXYZ`` → ``hooks.slack.com/…/••••WXYZ``."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.hostname or "?"
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{host}/…/{_tail(url)}"


class Secret:
    """A resolved secret. ``str``, ``repr``, ``format`` and pickling never reveal the value."""

    __slots__ = ("_value", "label")

    def __init__(self, value: str, label: str = "secret") -> None:
        self._value = value
        self.label = label
        if len(value) >= 4:
            _KNOWN.add(value)

    def reveal(self) -> str:
        """The plaintext, for the one call that needs it (an HTTP header, a URL)."""
        return self._value

    def redacted(self) -> str:
        if "://" in self._value or self._value.startswith("hooks."):
            return redact_url(self._value)
        return _tail(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.label!r}, {self.redacted()!r})"

    __str__ = redacted

    def __format__(self, spec: str) -> str:
        return format(self.redacted(), spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")

    def __getstate__(self) -> Any:  # pragma: no cover - belt and braces for copy/pickle
        raise TypeError("a Secret cannot be serialised")


@dataclass(frozen=True)
class SecretRef:
    """``scheme:target`` as written in the config; ``where`` is its key path for messages."""

    scheme: str
    target: str
    where: str

    @classmethod
    def parse(cls, text: str, where: str) -> SecretRef:
        scheme, sep, target = text.partition(":")
        if not sep or scheme not in SCHEMES or not target:
            raise ValueError(
                "takes a secret reference, not a value: write env:NAME or file:PATH "
                "and keep the secret in that variable or file"
            )
        return cls(scheme, target, where)

    def __str__(self) -> str:
        # The target of env:/file: is a name or a path, never the secret itself.
        return f"{self.scheme}:{self.target}"

    def resolve(self, environ: os._Environ[str] | dict[str, str] | None = None) -> Secret:
        env = os.environ if environ is None else environ
        if self.scheme == "env":
            value = env.get(self.target)
            if value is None:
                raise SecretError(
                    f"{self.where}: env:{self.target}: environment variable {self.target} "
                    "is not set; export it or point the reference elsewhere"
                )
        else:
            path = Path(self.target).expanduser()
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise SecretError(
                    f"{self.where}: file:{self.target}: cannot read the file ({reason})"
                ) from None
        if not value:
            raise SecretError(f"{self.where}: {self}: the secret is empty")
        return Secret(value, label=self.where)
