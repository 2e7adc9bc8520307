"""What every notifier implements: ``send(report)`` and ``preview(report)`` for dry runs."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from offhours.plugin import Plugin

if TYPE_CHECKING:
    from offhours.report import Report

__all__ = ["Notifier"]


class Notifier(Plugin):
    """A channel the report goes to. Subclasses implement :meth:`send` and :meth:`preview`."""

    @abstractmethod
    def send(self, report: Report) -> int:
        """Deliver the report; return how many messages went out. Raises ``NotifierError``."""

    @abstractmethod
    def preview(self, report: Report) -> str:
        """What :meth:`send` would deliver, as text, without sending (no secrets in it)."""
