"""What every source implements: ``collect()`` → resources, or a :class:`SourceError`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from offhours.model import Resource

__all__ = ["Source"]


class Source(ABC):
    """A system offhours reads resources from. Subclasses implement :meth:`collect`."""

    #: the word users write as ``type = "…"`` in ``[[sources]]``
    type: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        """IAM policy statements this source needs on AWS (for the Lambda role): none by default.

        ``options`` are the table's settings from offhours.toml (secrets still as references).
        """
        return []

    @abstractmethod
    def collect(self) -> list[Resource]:
        """Every resource of this source, running or not. Raises ``SourceError``."""

    def close(self) -> None:  # noqa: B027 - optional hook: most sources hold nothing open
        """Release sessions and connections; called once after :meth:`collect`. Never raises."""
