"""Errors become exit codes here, once: every command body runs inside :func:`guarded`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

import typer

from offhours.cli import EXIT_FAILED, EXIT_USAGE, NEEDS_CLI_EXTRA, missing_extra
from offhours.cli.output import err
from offhours.errors import OffhoursError, UsageError

__all__ = ["EXIT_CANCELLED", "EXIT_PIPE", "fail", "guarded"]

#: Ctrl-C, or Ctrl-D at a prompt: 128 + SIGINT, as shells report an interrupted command
EXIT_CANCELLED = 130
#: stdout's reader went away (`offhours audit | head -1`): 128 + SIGPIPE, as `cat` or `gh`
EXIT_PIPE = 141

log = logging.getLogger("offhours.cli")


def fail(exc: OffhoursError) -> NoReturn:
    """Print the error on one line per line of its message and exit with its code."""
    from offhours.untrusted import lines

    # Errors may quote a server's message or a resource's name: no escape sequence gets through.
    err.print(f"offhours: error: {lines(str(exc))}", markup=False)
    if isinstance(exc, UsageError):
        # as usage.run says it for the errors the parser finds
        from typer._click.globals import get_current_context

        ctx = get_current_context(silent=True)
        err.print(f"Run '{ctx.command_path if ctx else 'offhours'} -h' for help.", markup=False)
    raise typer.Exit(exc.exit_code)


def guarded(fn: Callable[[], int]) -> NoReturn:
    """Run a command body: OffhoursError → its exit code, anything else → 1 without a traceback."""
    try:
        code = fn()
    except OffhoursError as exc:
        fail(exc)
    except KeyboardInterrupt:
        err.print("offhours: interrupted")
        raise typer.Exit(EXIT_CANCELLED) from None
    except EOFError:
        # Ctrl-D at a prompt (a hidden secret prompt included): the user's way out, not a bug.
        if err.is_terminal:
            err.line()  # the prompt left the cursor on its line
        err.print("offhours: cancelled", markup=False)
        raise typer.Exit(EXIT_CANCELLED) from None
    except BrokenPipeError:
        _stdout_closed()
        raise typer.Exit(EXIT_PIPE) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if isinstance(exc, ModuleNotFoundError) and missing_extra(exc):
            # A command whose tooling is in the extra (tomlkit), on an install without it.
            err.print(NEEDS_CLI_EXTRA, markup=False)
            raise typer.Exit(EXIT_USAGE) from None
        log.debug("internal error", exc_info=True)
        from offhours.logs import scrub
        from offhours.untrusted import lines

        err.print(
            f"offhours: internal error: {type(exc).__name__}: {lines(scrub(str(exc)))} "
            "(run with -vv for details)",
            markup=False,
        )
        raise typer.Exit(EXIT_FAILED) from None
    raise typer.Exit(code)


def _stdout_closed() -> None:
    """Quietly: nothing more is written to the closed pipe, not even Python's flush at exit
    (its "Exception ignored … BrokenPipeError"); see the note on SIGPIPE in Python's signal
    module."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's captured stdout)
        pass
