"""The typer app: every command and group registered, in the order ``--help`` lists them.

Each command module imports only typer and offhours' light modules at import time; the
config models, boto3 and the deploy tooling are imported inside the commands that use them.
"""

from __future__ import annotations

import typer

from offhours.cli import (
    audit,
    demo,
    deploy,
    digest,
    incidents,
    restore,
    schedule,
    secrets,
    state,
)

__all__ = ["app"]

app = typer.Typer(
    name="offhours",
    help="Find VMs left running outside business hours and tell the team, once, clearly.",
    no_args_is_help=True,
    add_completion=False,
    # Pretty tracebacks show local variables, which may hold secrets.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

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
