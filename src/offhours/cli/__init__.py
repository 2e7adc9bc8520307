"""The ``offhours`` command: the one place that prints and maps errors to exit codes.

Exit codes: 0 ran fine (whether or not anything was flagged); 1 a source or notifier failed
(after delivering what it could); 2 bad configuration or usage (an install without the
``cli`` extra included); 3 findings, with ``--fail-on-findings``; 4 delivered, but the state
store failed: the findings were told without deduplication; 130 interrupted; 141 stdout's
reader went away (``| head``), quietly.

    app        the typer app: every command and group registered
    exits      the exit codes' one mapping from errors (``guarded``)
    usage      the tree run as ``offhours``: usage errors in the same ``offhours: error:`` style
    help       help in one style: metavars in words, never a Python type
    output     the consoles everything is printed on
    options    the options the commands share, and reading the config file
    audit      audit, explain, check, schema      budget   the budget warning
    secrets    secrets encrypt, secrets check     deploy   deploy package/plan/apply/…
    schedule   schedule                           demo     demo (Ravello, or AWS on moto)
    restore    restore: put back what an AWS source's stop scaled down or stopped
    incidents  incidents, snooze, resolve         state    state check/migrate/export
    deployment --deployment NAME: the deployed function's state table

Nothing imported here needs the ``cli`` extra (typer, rich, tomlkit): without it,
:func:`main` says how to install it in one line instead of a traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = [
    "EXIT_FAILED",
    "EXIT_FINDINGS",
    "EXIT_NOT_DEDUPLICATED",
    "EXIT_OK",
    "EXIT_USAGE",
    "app",
    "main",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FINDINGS, EXIT_NOT_DEDUPLICATED = 0, 1, 2, 3, 4

#: what an install without the ``cli`` extra is told (exit 2)
NEEDS_CLI_EXTRA = (
    "offhours: error: the command line needs the cli extra: pip install 'offhours[cli]'"
)
# The distributions of the extra, and click (typer's core): a missing one means the extra is.
_CLI_EXTRA = frozenset({"typer", "click", "rich", "tomlkit"})


def missing_extra(exc: ModuleNotFoundError) -> bool:
    """Whether a failed import is of the ``cli`` extra's stack, not of offhours itself."""
    return (exc.name or "").partition(".")[0] in _CLI_EXTRA


def main() -> None:
    try:
        from offhours.cli.app import app
    except ModuleNotFoundError as exc:
        if not missing_extra(exc):
            raise
        sys.stderr.write(NEEDS_CLI_EXTRA + "\n")
        raise SystemExit(EXIT_USAGE) from None
    from offhours.cli.usage import run

    # The same name (and completion) under python -m; usage errors in offhours' style.
    raise SystemExit(run(app, sys.argv[1:]))


def __getattr__(name: str) -> typer.Typer:
    # `offhours.cli:app` (typer's own tooling, docs generators) without importing typer here.
    if name == "app":
        from offhours.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
