"""The report on a text stream (standard output by default), as text or JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal, TextIO

from offhours.errors import ConfigError
from offhours.notifiers.base import Notifier
from offhours.report import render_json, render_text

if TYPE_CHECKING:
    from offhours.report import Report

__all__ = ["ConsoleNotifier"]

Format = Literal["text", "json"]


class ConsoleNotifier(Notifier):
    """Writes :func:`render_text` or :func:`render_json` to ``stream`` (stdout at send time)."""

    type = "console"

    def __init__(self, name: str, *, format: Format = "text", stream: TextIO | None = None) -> None:
        super().__init__(name)
        if format not in ("text", "json"):
            raise ConfigError(f'format = {format!r} is not supported; use "text" or "json"')
        self.format: Format = format
        self.stream = stream

    def preview(self, report: Report) -> str:
        return render_json(report) if self.format == "json" else render_text(report)

    def send(self, report: Report) -> int:
        # sys.stdout is read now, not at construction, so redirection (and pytest's capsys) work.
        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(self.preview(report))
        stream.flush()
        return 1
