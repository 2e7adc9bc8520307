"""What every notifier implements: ``send(report)`` → a receipt, and ``preview(report)``.

The run calls :meth:`Notifier.deliver`, which never raises for a failed delivery: the failure
becomes the receipt's (scrubbed) ``error``, beside the messages that did go out. A dry run is a
property of delivery: each notifier returns a preview receipt instead of sending
(:meth:`Notifier.rehearse`); one whose delivery is harmless (the console) delivers as usual.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from offhours.errors import NotifierError, OffhoursError
from offhours.logs import scrub
from offhours.model import MessageReceipt, Receipt
from offhours.plugin import Plugin
from offhours.transport import Deadline

if TYPE_CHECKING:
    from offhours.digest import Digest
    from offhours.report import Report

__all__ = ["Notifier"]

log = logging.getLogger(__name__)


class Notifier(Plugin):
    """A channel the report goes to. Subclasses implement :meth:`send` and :meth:`preview`."""

    #: when :meth:`send` must be over; the run sets it before delivering
    deadline: Deadline = Deadline.never()
    #: where it delivers, as safe to show (never a secret): set by subclasses
    destination: str = ""

    @abstractmethod
    def send(self, report: Report) -> Receipt:
        """Deliver the report; return its receipt. Raises ``NotifierError`` (carrying the
        receipts of the messages already delivered) when a message cannot be."""

    @abstractmethod
    def preview(self, report: Report) -> str:
        """What :meth:`send` would deliver, as text, without sending (no secrets in it)."""

    def receipt(self, messages: tuple[MessageReceipt, ...] = (), **fields: Any) -> Receipt:
        """A receipt of this notifier (its name, type and destination filled in)."""
        return Receipt(self.name, self.type, self.destination, messages, **fields)

    def rehearse(self, report: Report) -> Receipt:
        """The dry run: what would be sent, nothing sent."""
        return self.receipt(dry_run=True, preview=self.preview(report))

    def deliver(self, report: Report, *, dry_run: bool = False) -> Receipt:
        """:meth:`send` (or :meth:`rehearse`), with any failure recorded on the receipt."""
        try:
            return self.rehearse(report) if dry_run else self.send(report)
        except OffhoursError as exc:
            # A server's words may echo a credential: the receipt's error is scrubbed here.
            detail = scrub(getattr(exc, "detail", str(exc)))
            log.info("notifier %r failed: %s", self.name, detail)
            delivered = exc.delivered if isinstance(exc, NotifierError) else ()
            return self.receipt(delivered, error=detail, dry_run=dry_run)

    def digest(self, digest: Digest, *, dry_run: bool = False, png: bytes | None = None) -> Receipt:
        """Deliver the weekly digest (``png``: its chart, for a channel that takes files).
        A channel that has no digest delivers nothing: its receipt (no message planned)
        says so in ``preview``. Failures are recorded on the receipt, as :meth:`deliver`."""
        return self.receipt(
            dry_run=dry_run, preview=f"{self.type} notifier {self.name!r} takes no digest"
        )
