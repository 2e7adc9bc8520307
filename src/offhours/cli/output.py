"""The consoles every command prints on (and nothing outside the CLI does)."""

from __future__ import annotations

from rich.console import Console

__all__ = ["err", "out"]

# No highlighting and no :emoji: codes: printed text is shown as it is, never reinterpreted.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
