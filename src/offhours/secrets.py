"""Secret references, their resolvers, and a value type that never prints itself.

    env:NAME                         an environment variable
    file:PATH                        a file's content; a relative PATH is read from the config
                                     file's directory, ``~`` expands
    kms:BASE64                       KMS ciphertext, decrypted with the configured context
    ssm:/path/name                   an SSM parameter (SecureString, decrypted)
    secretsmanager:NAME-OR-ARN[#KEY] a Secrets Manager secret, or one key of its JSON

Every reference is resolved once per run, all before any source is read, and all failures are
reported together. Every value is stripped of surrounding whitespace (a trailing newline in a
webhook URL would otherwise be a different string, missed by the log scrubber). Resolution
fails closed: nothing ever falls back to using a reference (or a
ciphertext) as the value. The resolved :class:`Secret` lives in memory only and shows at most
its last four characters (or, for a URL, :func:`redact_url`'s host form).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

from offhours.errors import SecretError

if TYPE_CHECKING:
    from offhours.aws_secrets import AwsSecretStore
    from offhours.transport import Deadline

__all__ = [
    "AWS_SCHEMES",
    "SCHEMES",
    "Resolver",
    "Secret",
    "SecretRef",
    "SecretSettings",
    "derived_forms",
    "known_forms",
    "known_values",
    "redact_url",
    "secret_looking",
    "tail",
    "url_path",
    "wildcard_in",
]

AWS_SCHEMES = ("kms", "ssm", "secretsmanager")
SCHEMES = ("env", "file", *AWS_SCHEMES)
#: the scheme of a literal value let through by ``allow_plaintext_secrets = true``
INLINE = "inline"
_MASK = "••••"

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, repr=False)
class SecretRef:
    """``scheme:target`` as written in the config; ``where`` is its key path for messages.

    ``str`` and ``repr`` never show a kms: ciphertext or an inline value.
    """

    scheme: str
    target: str
    where: str

    @classmethod
    def parse(cls, text: str, where: str, *, allow_plaintext: bool = False) -> SecretRef:
        scheme, sep, target = text.partition(":")
        if sep and scheme in SCHEMES and target:
            return cls(scheme, target, where)
        if allow_plaintext and text:
            return cls(INLINE, text, where)
        raise ValueError(
            "takes a secret reference, not a value: write env:NAME, file:PATH, kms:CIPHERTEXT, "
            "ssm:/NAME or secretsmanager:NAME (see `offhours secrets encrypt`); "
            "allow_plaintext_secrets = true lets a literal through for local experiments"
        )

    def __str__(self) -> str:
        if self.scheme == "kms":
            return f"kms:<ciphertext, {len(self.target)} chars>"
        if self.scheme == INLINE:
            return "an inline value"
        # The other targets are names, paths or ARNs, never the secret itself.
        return f"{self.scheme}:{self.target}"

    def __repr__(self) -> str:
        return f"SecretRef({self.where!r}, {str(self)!r})"

    @property
    def is_aws(self) -> bool:
        return self.scheme in AWS_SCHEMES


# Names whose values are secrets by their own account (API_KEY, DB_PASSWD, SLACK_TOKEN, …).
_SECRET_NAME = re.compile(
    r"PASS(WORD|WD|PHRASE)?(_|$)|PWD|SECRET|TOKEN|WEBHOOK|HOOK_URL|API_?KEY|PRIVATE_KEY|"
    r"ACCESS_KEY|(^|_)KEY$|CREDENTIAL|(^|_)AUTH(_|$)|AUTHORIZATION|BEARER|COOKIE|SESSION|DSN",
    re.IGNORECASE,
)
# Values that are secrets whatever they are called.
_SECRET_VALUE = re.compile(
    r"hooks\.slack\.com/|xox[abposre]-|xapp-|://[^/@\s]+:[^/@\s]*@|^\s*(Bearer|Basic)\s|"
    r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY",
    re.IGNORECASE,
)


def secret_looking(name: str, value: str | None = None) -> str | None:
    """Why a plain ``name = value`` setting looks like a secret (never quoting the value), or
    None. Plain settings end up in plain text (a Lambda function's configuration)."""
    if _SECRET_NAME.search(name):
        return "its name says it holds a secret"
    if value is not None and _SECRET_VALUE.search(value):
        return "its value looks like a secret (a webhook, a token, or a URL with credentials)"
    return None


def wildcard_in(ref: SecretRef) -> bool:
    """Whether an ``ssm:`` or ``secretsmanager:`` reference holds ``*`` or ``?``: IAM reads
    them as wildcards, so the role granted to read it could read every match."""
    if ref.scheme == "ssm":
        target = ref.target
    elif ref.scheme == "secretsmanager":
        target = ref.target.partition("#")[0]  # after "#" is a JSON key, never an ARN
    else:
        return False
    return "*" in target or "?" in target


@dataclass(frozen=True)
class SecretSettings:
    """The ``[secrets]`` section: where AWS lives and the KMS encryption context.

    A context value ``$NAME`` is read from the environment at resolution time, so the Lambda
    console's convention ``{LambdaFunctionName = "$AWS_LAMBDA_FUNCTION_NAME"}`` works as is.
    ``config_dir`` is the config file's directory, against which a relative ``file:`` path is
    read (None: the working directory, for a configuration that is not a file).
    """

    region: str | None = None
    kms_context: Mapping[str, str] = field(default_factory=dict)
    config_dir: Path | None = None


def _warn_if_exposed(path: Path, where: str) -> None:
    """A warning (never the value) when others may read the file or it is not the user's."""
    try:
        info = path.stat()
    except OSError:
        return
    problems = []
    if info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        problems.append(f"readable by {_readers(info.st_mode)} (mode {info.st_mode & 0o777:o})")
    owner = getattr(os, "geteuid", None)
    if owner is not None and info.st_uid != owner():
        problems.append(f"owned by another user (uid {info.st_uid})")
    if problems:
        log.warning(
            "%s: the secret file %s is %s; run `chmod 600 %s` (and chown it to this user)",
            where,
            path,
            " and ".join(problems),
            path,
        )


def _readers(mode: int) -> str:
    group, other = bool(mode & stat.S_IRGRP), bool(mode & stat.S_IROTH)
    return "its group and everyone" if group and other else "its group" if group else "everyone"


class Resolver:
    """Resolves references, each once; AWS clients are made only if an AWS reference is used."""

    def __init__(
        self,
        settings: SecretSettings | None = None,
        environ: Mapping[str, str] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.settings = settings or SecretSettings()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        self.deadline = deadline
        self._aws: AwsSecretStore | None = None
        self._cache: dict[tuple[str, str], str] = {}

    def kms_context(self) -> dict[str, str]:
        """The encryption context with ``$NAME`` values read from the environment."""
        context = {}
        for key, value in self.settings.kms_context.items():
            if value.startswith("$"):
                name = value[1:].strip("{}")
                if name not in self.environ:
                    raise SecretError(
                        f"secrets.kms.context.{key}: ${name} is not set in the environment "
                        "(on Lambda, AWS_LAMBDA_FUNCTION_NAME is set by the runtime)"
                    )
                value = self.environ[name]
            context[key] = value
        return context

    def resolve(self, ref: SecretRef) -> Secret:
        """The value of one reference, or SecretError naming its key path and the cause."""
        key = (ref.scheme, ref.target)
        if key not in self._cache:
            try:
                value = self._fetch(ref)
            except SecretError as exc:
                raise SecretError(f"{ref.where}: {ref}: {exc}") from None
            # Stripped here, for every scheme: "https://hooks…/T0/B0/x\n" logged by a library
            # without its newline must still be the value the scrubber knows.
            value = value.strip()
            if not value:
                raise SecretError(f"{ref.where}: {ref}: the secret is empty")
            self._cache[key] = value
        return Secret(self._cache[key], label=ref.where)

    def resolve_all(self, refs: Iterable[SecretRef]) -> dict[SecretRef, Secret]:
        """Every reference resolved, or one SecretError listing each that failed."""
        resolved: dict[SecretRef, Secret] = {}
        problems: list[str] = []
        for ref in refs:
            try:
                resolved[ref] = self.resolve(ref)
            except SecretError as exc:
                problems.append(str(exc))
        if problems:
            noun = "reference" if len(problems) == 1 else "references"
            raise SecretError(
                f"{len(problems)} secret {noun} could not be resolved:\n  " + "\n  ".join(problems),
                tuple(problems),
            )
        return resolved

    def _fetch(self, ref: SecretRef) -> str:
        if ref.scheme == INLINE:
            return ref.target
        if ref.scheme == "env":
            value = self.environ.get(ref.target)
            if value is None:
                raise SecretError(
                    f"environment variable {ref.target} is not set; export it or point the "
                    "reference elsewhere"
                )
            return value
        if ref.scheme == "file":
            path = self.secret_file(ref.target)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise SecretError(f"cannot read the file ({reason}): {path}") from None
            _warn_if_exposed(path, ref.where)
            return text
        return self._aws_store().fetch(ref.scheme, ref.target)

    def secret_file(self, target: str) -> Path:
        """The file a ``file:`` reference names: ``~`` expanded, a relative path taken from the
        config file's directory (not the working directory, which cron or Lambda choose)."""
        path = Path(target).expanduser()
        if not path.is_absolute() and self.settings.config_dir is not None:
            path = self.settings.config_dir / path
        return path

    def _aws_store(self) -> AwsSecretStore:
        if self._aws is None:
            # Imported here: boto3 costs a cold start that env:/file: users need not pay.
            from offhours.aws_secrets import AwsSecretStore

            self._aws = AwsSecretStore(
                region=self.settings.region or None,
                kms_context=self.kms_context(),
                environ=self.environ,
                deadline=self.deadline,
            )
        return self._aws
