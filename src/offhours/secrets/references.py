"""Secret references as written in the config (``scheme:target``), and the checks made on
plain settings that look like secrets."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AWS_SCHEMES",
    "INLINE",
    "SCHEMES",
    "SecretRef",
    "secret_looking",
    "wildcard_in",
]

AWS_SCHEMES = ("kms", "ssm", "secretsmanager")
SCHEMES = ("env", "file", *AWS_SCHEMES)
#: the scheme of a literal value let through by ``allow_plaintext_secrets = true``
INLINE = "inline"


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
            if scheme == "env" and not _ENV_NAME.fullmatch(target):
                raise ValueError(_env_problem(target))
            return cls(scheme, target, where)
        if sep and scheme.lower() in SCHEMES and target:
            raise ValueError(f"write the scheme in lower case: {scheme.lower()}:…")
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


# What a shell can export: an environment variable's name.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_problem(target: str) -> str:
    # The target is a name, but it may be a pasted value: never quoted.
    bare = target.strip().removeprefix("$").removeprefix("{").removesuffix("}")
    if bare != target and _ENV_NAME.fullmatch(bare):
        return f"env: takes the variable's name without $ or braces: env:{bare}"
    return "env: takes an environment variable's name (letters, digits and _), e.g. env:NAME"


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
