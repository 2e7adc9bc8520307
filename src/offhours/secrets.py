"""Secret references, their resolvers, and a value type that never prints itself.

    env:NAME                         an environment variable
    file:PATH                        a file's content (stripped)
    kms:BASE64                       KMS ciphertext, decrypted with the configured context
    ssm:/path/name                   an SSM parameter (SecureString, decrypted)
    secretsmanager:NAME-OR-ARN[#KEY] a Secrets Manager secret, or one key of its JSON

Every reference is resolved once per run, all before any source is read, and all failures are
reported together. Resolution fails closed: nothing ever falls back to using a reference (or a
ciphertext) as the value. The resolved :class:`Secret` lives in memory only and shows at most
its last four characters (or, for a URL, :func:`redact_url`'s host form).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from offhours.errors import SecretError

if TYPE_CHECKING:
    from offhours.aws_secrets import AwsSecretStore

__all__ = [
    "AWS_SCHEMES",
    "SCHEMES",
    "Resolver",
    "Secret",
    "SecretRef",
    "SecretSettings",
    "known_values",
    "redact_url",
]

AWS_SCHEMES = ("kms", "ssm", "secretsmanager")
SCHEMES = ("env", "file", *AWS_SCHEMES)
#: the scheme of a literal value let through by ``allow_plaintext_secrets = true``
INLINE = "inline"
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


@dataclass(frozen=True)
class SecretSettings:
    """The ``[secrets]`` section: where AWS lives and the KMS encryption context.

    A context value ``$NAME`` is read from the environment at resolution time, so the Lambda
    console's convention ``{LambdaFunctionName = "$AWS_LAMBDA_FUNCTION_NAME"}`` works as is.
    """

    region: str | None = None
    kms_context: Mapping[str, str] = field(default_factory=dict)


class Resolver:
    """Resolves references, each once; AWS clients are made only if an AWS reference is used."""

    def __init__(
        self, settings: SecretSettings | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings or SecretSettings()
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
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
            try:
                return Path(ref.target).expanduser().read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise SecretError(f"cannot read the file ({reason})") from None
        return self._aws_store().fetch(ref.scheme, ref.target)

    def _aws_store(self) -> AwsSecretStore:
        if self._aws is None:
            # Imported here: boto3 costs a cold start that env:/file: users need not pay.
            from offhours.aws_secrets import AwsSecretStore

            self._aws = AwsSecretStore(
                region=self.settings.region or None,
                kms_context=self.kms_context(),
                environ=self.environ,
            )
        return self._aws
