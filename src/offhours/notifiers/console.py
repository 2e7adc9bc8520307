"""The report on a text stream (standard output by default), as text or JSON."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Literal, TextIO

from offhours.model import MessageReceipt, Receipt
from offhours.notifiers.base import Notifier
from offhours.plugin import PluginConfig
from offhours.report import render_json, render_text

if TYPE_CHECKING:
    from offhours.digest import Digest
    from offhours.report import Report

__all__ = ["ConsoleNotifier", "ConsoleNotifierConfig"]

Format = Literal["text", "json"]


class ConsoleNotifierConfig(PluginConfig):
    """The report on standard output, as text or JSON."""

    type: Literal["console"]
    format: Format = "text"


_NO_ID = "a text stream has no message ids"


class ConsoleNotifier(Notifier):
    """Writes :func:`render_text` or :func:`render_json` to ``stream`` (stdout at send time).

    Printing harms nothing, so a dry run prints as usual."""

    type = "console"
    config_model = ConsoleNotifierConfig

    def __init__(self, name: str, *, format: Format = "text", stream: TextIO | None = None) -> None:
        super().__init__(name)
        self.format: Format = format
        self.stream = stream
        self.destination = "stdout" if stream is None else "a stream"

    def preview(self, report: Report) -> str:
        return render_json(report) if self.format == "json" else render_text(report)

    def send(self, report: Report) -> Receipt:
        # sys.stdout is read now, not at construction, so redirection (and pytest's capsys) work.
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(self.preview(report))
        stream.flush()
        return self.receipt((MessageReceipt(1, no_id=_NO_ID),), planned=1)

    def rehearse(self, report: Report) -> Receipt:
        return replace(self.send(report), dry_run=True)

    def digest(self, digest: Digest, *, dry_run: bool = False, png: bytes | None = None) -> Receipt:
        """The digest as text or JSON on the stream (the chart is not printed)."""
        from offhours.digest import render_digest_json, render_digest_text

        stream = self.stream if self.stream is not None else sys.stdout
        render = render_digest_json if self.format == "json" else render_digest_text
        stream.write(render(digest))
        stream.flush()
        return self.receipt((MessageReceipt(1, no_id=_NO_ID),), planned=1, dry_run=dry_run)
