"""What every notifier implements: ``send(report)`` and ``preview(report)`` for dry runs."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from offhours.plugin import Plugin
from offhours.transport import Deadline

if TYPE_CHECKING:
    from offhours.report import Report

__all__ = ["Notifier"]


class Notifier(Plugin):
    """A channel the report goes to. Subclasses implement :meth:`send` and :meth:`preview`."""

    #: when :meth:`send` must be over; the run sets it before delivering
    deadline: Deadline = Deadline.never()

    @abstractmethod
    def send(self, report: Report) -> int:
        """Deliver the report; return how many messages went out. Raises ``NotifierError``."""

    @abstractmethod
    def preview(self, report: Report) -> str:
        """What :meth:`send` would deliver, as text, without sending (no secrets in it)."""

    @classmethod
    def worst_case_seconds(cls, options: Mapping[str, Any]) -> float:
        """The longest :meth:`send` of one message can take with these settings; 0 if unknown
        (the time it is given at the end of a run is reserved from the sources' share)."""
        return 0.0
