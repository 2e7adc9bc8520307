"""The consoles every command prints on (and nothing outside the CLI does)."""

from __future__ import annotations

from rich.console import Console

__all__ = ["err", "out"]


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich exits 1 here ("a source or a notifier failed"): the reader of a pipe that went
        # away (`| head`) is handled once, by exits.guarded, like any other write to stdout.
        self.quiet = True
        raise BrokenPipeError


# No highlighting and no :emoji: codes: printed text is shown as it is, never reinterpreted.
out = _Console(highlight=False, soft_wrap=True, emoji=False)
err = _Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
