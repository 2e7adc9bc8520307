"""What every notifier implements: ``send(report)`` and ``preview(report)`` for dry runs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offhours.report import Report

__all__ = ["Notifier"]


class Notifier(ABC):
    """A channel the report goes to. Subclasses implement :meth:`send` and :meth:`preview`."""

    type: str = ""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        """IAM policy statements this notifier needs on AWS (for the Lambda role): none by default.

        ``options`` are the table's settings from offhours.toml (secrets still as references).
        """
        return []

    @abstractmethod
    def send(self, report: Report) -> int:
        """Deliver the report; return how many messages went out. Raises ``NotifierError``."""

    @abstractmethod
    def preview(self, report: Report) -> str:
        """What :meth:`send` would deliver, as text, without sending (no secrets in it)."""
