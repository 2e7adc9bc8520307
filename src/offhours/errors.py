"""The one error tree of offhours.

    OffhoursError                 anything offhours reports to a user (exit code on ``exit_code``)
    ├── ConfigError               bad configuration or usage                         → exit 2
    │   ├── SecretError           a secret reference that cannot be resolved         → exit 2
    │   └── UsageError            a bad value or a missing choice on the command line → exit 2
    ├── SourceError               a source (e.g. Ravello) could not be read           → exit 1
    │   ├── SourceAuthError       401/403: credentials refused or not allowed
    │   └── SourceResponseError   a body that is not JSON or not the expected shape
    └── NotifierError             a notifier (e.g. Slack) could not deliver           → exit 1

Third-party exceptions are translated at the boundary (``raise … from exc``). Messages never
carry a secret: a URL is shown only through :func:`offhours.secrets.redact_url`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offhours.model import MessageReceipt

__all__ = [
    "ConfigError",
    "NotifierError",
    "OffhoursError",
    "SecretError",
    "SourceAuthError",
    "SourceError",
    "SourceResponseError",
    "UsageError",
]


class OffhoursError(Exception):
    """Base of every error offhours reports to a user."""

    exit_code = 1


class ConfigError(OffhoursError):
    """The configuration or the command line is wrong; ``problems`` lists every one found."""

    exit_code = 2

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems or (message,)


class SecretError(ConfigError):
    """A secret reference could not be resolved (the value never appears in the message)."""


class UsageError(ConfigError):
    """The command line is wrong in a way its parser cannot see (a time that does not parse,
    no target given): the CLI adds where the command's help is, as for any usage error."""


class SourceError(OffhoursError):
    """A source could not be read."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"source {source!r}: {message}")
        self.source = source
        self.detail = message


class SourceAuthError(SourceError):
    """The source refused the credentials (401) or the action (403)."""


class SourceResponseError(SourceError):
    """The source answered with a body offhours cannot use."""


class NotifierError(OffhoursError):
    """A notifier could not deliver its message; ``delivered`` holds the receipts of the
    messages that did go out before it failed."""

    def __init__(
        self, notifier: str, message: str, delivered: tuple[MessageReceipt, ...] = ()
    ) -> None:
        super().__init__(f"notifier {notifier!r}: {message}")
        self.notifier = notifier
        self.detail = message
        self.delivered = delivered
