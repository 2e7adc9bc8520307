"""Resolving references, each once per run, all failures together; AWS schemes through
:mod:`offhours.secrets.aws`, imported only when one is used."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from offhours.errors import SecretError
from offhours.secrets.references import INLINE, SecretRef
from offhours.secrets.secret import Secret

if TYPE_CHECKING:
    from offhours.secrets.aws import AwsSecretStore
    from offhours.transport import Deadline

__all__ = ["Resolver", "SecretSettings"]

log = logging.getLogger(__name__)


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
            from offhours.secrets.aws import AwsSecretStore

            self._aws = AwsSecretStore(
                region=self.settings.region or None,
                kms_context=self.kms_context(),
                environ=self.environ,
                deadline=self.deadline,
            )
        return self._aws
