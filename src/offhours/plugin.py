"""What sources and notifiers have in common: a name, and the AWS permissions they need."""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping
from typing import Any

__all__ = ["Plugin"]


class Plugin(ABC):  # noqa: B024 - a base without abstract methods; subclasses add theirs
    """A source or notifier, chosen by the word users write as ``type = "…"``."""

    type: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        """IAM policy statements this plugin needs on AWS (for the Lambda role): none by
        default. ``options`` are its table's settings (secrets still as references)."""
        return []
