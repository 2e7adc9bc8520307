"""The :class:`Secret` value type, which never prints itself, and the forms a value may take
on the way to a log line (what the log scrubber searches for).

A resolved :class:`Secret` lives in memory only and shows at most its last four characters
(or, for a URL, :func:`redact_url`'s host form).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

__all__ = [
    "MIN_FORM_LENGTH",
    "Secret",
    "derived_forms",
    "known_forms",
    "known_values",
    "redact_url",
    "tail",
    "url_path",
]

_MASK = "••••"

# Every resolved value, so the log filter can scrub one that a library logs on its own
# (slack_sdk and urllib3 log request URLs at DEBUG), and the forms it may take on the way.
_KNOWN: set[str] = set()
_FORMS: dict[str, str] = {}  # a derived form → what the scrubber writes instead
#: derived forms shorter than this are not searched for: they would match ordinary text
MIN_FORM_LENGTH = 8


def known_values() -> frozenset[str]:
    """The plaintexts of every Secret made in this process (for redaction only)."""
    return frozenset(_KNOWN)


def known_forms() -> Mapping[str, str]:
    """Every derived form of every known value (see :func:`derived_forms`) → its redaction
    (a read-only view: the scrubber asks for it on every record)."""
    return MappingProxyType(_FORMS)


def _b64_cores(data: bytes) -> Iterable[bytes]:
    # Inside a longer base64 text a value starts at any byte offset; whatever surrounds it,
    # the whole 3-byte groups that lie within it always encode to the same characters. The
    # three starting alignments give three such cores (unpadded: padding belongs to the end).
    for skip in range(3):
        part = data[skip:]
        part = part[: len(part) - len(part) % 3]
        if part:
            yield base64.b64encode(part)


def derived_forms(value: str) -> frozenset[str]:
    """The strings ``value`` turns into on the way to a log line, itself excluded: stripped,
    base64 (standard and URL-safe, whole with its padding and the core of each of the three
    alignments), JSON-escaped (ASCII or not) and URL-encoded. Forms shorter than
    :data:`MIN_FORM_LENGTH` are left out."""
    forms: set[str] = set()
    for text in {value, value.strip()}:
        data = text.encode("utf-8")
        encoded = [base64.b64encode(data), *_b64_cores(data)]
        for blob in encoded:
            for form in (blob, base64.urlsafe_b64encode(base64.b64decode(blob))):
                forms.add(form.decode("ascii"))
                forms.add(form.rstrip(b"=").decode("ascii"))
        forms.add(text)
        forms.add(json.dumps(text)[1:-1])
        forms.add(json.dumps(text, ensure_ascii=False)[1:-1])
        forms.add(quote(text, safe=""))
        forms.add(quote(text))
        forms.add(quote_plus(text))
    forms.discard(value)
    return frozenset(f for f in forms if len(f) >= MIN_FORM_LENGTH)


def tail(value: str) -> str:
    """``••••`` and the last four characters of a long value; only ``••••`` of a short one."""
    # Only long values show a tail: the last four of a short password would give too much away.
    return _MASK + value[-4:] if len(value) >= 16 else _MASK


# A DNS name of two labels or more: what a person recognises as a host, not a pasted token.
_DNS_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def _split(url: str) -> SplitResult | None:
    """``urlsplit`` of ``url`` (``https://`` assumed without a scheme), or None where it raises
    (a bracketed host that is not an IPv6 address, an unbalanced bracket...)."""
    try:
        return urlsplit(url if "://" in url else f"https://{url}")
    except ValueError:
        return None


def url_path(url: str) -> str:
    """The path of ``url`` ("" when there is none or it cannot be read). Never raises: it is
    asked of every resolved secret, whatever its shape, each time a log record is scrubbed."""
    parts = _split(url)
    if parts is not None:
        return parts.path
    # Read by hand: the path starts at the first "/" after the authority.
    rest = url.partition("://")[2] if "://" in url else url
    slash = rest.find("/")
    return "" if slash == -1 else re.split(r"[?#]", rest[slash:], maxsplit=1)[0]


def _shown_host(url: str) -> str | None:
    """The host of ``url`` with its port, when it is a DNS name, an IP address or
    ``localhost``; None for anything else (a token written where a host goes)."""
    parts = _split(url)
    if parts is None:
        return None
    host = parts.hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        host = f"[{address}]" if address.version == 6 else str(address)
    elif host != "localhost" and not (len(host) <= 253 and _DNS_NAME.fullmatch(host)):
        return None
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range: left out, never quoted
        port = None
    return f"{host}:{port}" if port is not None else host


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T00000000/B00000000/XXXXWXYZ`` →
    ``hooks.slack.com/…/••••WXYZ``.

    Never raises, and shows no more than a recognisable host (a DNS name, an IP address or
    ``localhost``) and the last four characters of a long value; a value whose host is not
    one (a pasted token) shows only its tail, and so does one the host form would spell out."""
    host = _shown_host(url)
    shown = f"{host}/…/{tail(url)}" if host else tail(url)
    return tail(url) if url in shown else shown


class Secret:
    """A resolved secret. ``str``, ``repr``, ``format`` and pickling never reveal the value."""

    __slots__ = ("_value", "label")

    def __init__(self, value: str, label: str = "secret") -> None:
        self._value = value
        self.label = label
        if len(value) >= 4 and value not in _KNOWN:
            _KNOWN.add(value)
            # Computed once here, so the scrubber's work per log record stays a lookup.
            for form in derived_forms(value):
                _FORMS.setdefault(form, _MASK)

    def reveal(self) -> str:
        """The plaintext, for the one call that needs it (an HTTP header, a URL)."""
        return self._value

    def redacted(self) -> str:
        if "://" in self._value or self._value.startswith("hooks."):
            return redact_url(self._value)
        return tail(self._value)

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
