"""offhours: find VMs and other billable resources left running outside business hours."""

from offhours.errors import (
    ConfigError,
    NotifierError,
    OffhoursError,
    SecretError,
    SourceAuthError,
    SourceError,
    SourceResponseError,
)
from offhours.model import VM, Decision, Resource, SourceFailure

__all__ = [
    "VM",
    "ConfigError",
    "Decision",
    "NotifierError",
    "OffhoursError",
    "Resource",
    "SecretError",
    "SourceAuthError",
    "SourceError",
    "SourceFailure",
    "SourceResponseError",
    "__version__",
]

__version__ = "0.1.0"
