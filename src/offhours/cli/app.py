"""The typer app: every command and group registered, in the order ``--help`` lists them.

Each command module imports only typer and offhours' light modules at import time; the
config models, boto3 and the deploy tooling are imported inside the commands that use them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from offhours.cli import (
    audit,
    demo,
    deploy,
    digest,
    incidents,
    init,
    restore,
    schedule,
    secrets,
    state,
)
from offhours.cli.help import Typer

__all__ = ["app"]

app = Typer(
    name="offhours",
    help="Find VMs left running outside business hours and tell the team, once, clearly.",
    no_args_is_help=True,
    # --install-completion / --show-completion [SHELL]
    add_completion=True,
    # Pretty tracebacks show local variables, which may hold secrets.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version("offhours")  # what is installed, as pip and pipx see it
        except PackageNotFoundError:  # run from a source tree
            from offhours import __version__ as shown
        typer.echo(f"offhours {shown}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit",
        ),
    ] = False,
) -> None:
    """Find VMs left running outside business hours and tell the team, once, clearly."""


app.command()(init.init)
app.command()(audit.audit)
app.command()(audit.explain)
app.command()(audit.check)
app.command()(restore.restore)
app.command()(incidents.incidents)
app.command()(incidents.snooze)
app.command()(incidents.resolve)
app.add_typer(state.app, name="state")
app.add_typer(secrets.app, name="secrets")
app.add_typer(deploy.app, name="deploy")
app.command()(schedule.schedule)
app.command()(digest.digest)
app.command()(audit.schema)
app.command()(demo.demo)
