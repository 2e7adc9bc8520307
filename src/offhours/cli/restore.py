"""``restore``: put back what offhours stopped — one resource by its key, one group, or all.

Every configured source is asked (most never act, and answer nothing); each resource put back,
refused or failed is one line (or one JSON object). Exit 0 when everything selected was put
back (or would be, with ``--dry-run``), 1 when anything was refused or failed, 2 for a bad
selection or configuration.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.cli import EXIT_FAILED, EXIT_OK
from offhours.cli.exits import guarded
from offhours.cli.options import (
    ConfigOpt,
    Format,
    FormatOpt,
    VerboseOpt,
    load_config,
    setup_logging,
)
from offhours.cli.output import err, out
from offhours.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from offhours.model import Action, SourceFailure
    from offhours.sources.base import RestoreSelection

__all__ = ["restore"]

#: a key reads provider/account/region/kind/id (offhours.model.resource_key)
_KEY_PARTS = 5


def restore(
    key: Annotated[
        str | None,
        typer.Argument(
            metavar="KEY", help="One resource's key, as the report shows it", show_default=False
        ),
    ] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group", metavar="GROUP", help="Every resource of this group (its group tag)"
        ),
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Everything offhours stopped")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be put back; change nothing")
    ] = False,
    config: ConfigOpt = None,
    fmt: FormatOpt = Format.text,
    verbose: VerboseOpt = 0,
) -> None:
    """Put back what offhours stopped or scaled to 0: KEY, --group G or --all."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.audit import build_sources, resolve_secrets
        from offhours.audit import restore as restore_all

        selection = _selection(key, group, everything)
        cfg = load_config(config)
        sources = build_sources(cfg, resolve_secrets(cfg))
        now = datetime.now(UTC)
        actions, failures = restore_all(sources, selection, dry_run=dry_run, now=now)
        _print(actions, failures, fmt)
        if not actions and not failures:
            err.print(_nothing(selection), markup=False)
            return EXIT_FAILED if key is not None else EXIT_OK
        undone = any(a.outcome in ("refused", "failed") for a in actions)
        return EXIT_FAILED if failures or undone else EXIT_OK

    guarded(body)


def _selection(key: str | None, group: str | None, everything: bool) -> RestoreSelection:
    from offhours.sources.base import RestoreSelection

    if sum((key is not None, group is not None, everything)) != 1:
        raise UsageError("say what to restore: one KEY, --group GROUP or --all (exactly one)")
    if key is not None and len(key.split("/")) != _KEY_PARTS:
        raise ConfigError(
            f"{key!r} is not a resource key: keys read provider/account/region/kind/id "
            "(e.g. aws/123456789012/eu-west-1/aws.ec2.instance/i-0abc…), as the report shows them"
        )
    if group is not None and not group.strip():
        raise ConfigError("--group needs a group name (the value of the source's group tag)")
    return RestoreSelection(key=key, group=group, everything=everything)


def _print(actions: Sequence[Action], failures: Sequence[SourceFailure], fmt: Format) -> None:
    from offhours.report import action_json
    from offhours.untrusted import one_line

    if fmt is Format.json:
        document = {
            "actions": [action_json(a) for a in actions],
            "failures": [{"source": f.source, "message": f.message} for f in failures],
        }
        # ensure_ascii: every control, bidi or zero-width character is \u-escaped.
        out.print(json.dumps(document, indent=2), markup=False)
    else:
        for a in actions:
            said = "; ".join(p for p in (a.detail, a.call) if p)
            line = f"{a.verb} {a.name} ({a.key})" + (f": {said}" if said else "")
            out.print(f"{a.outcome:<8} {one_line(line)}", markup=False, soft_wrap=True)
    for f in failures:
        err.print(f"offhours: error: source {f.source!r}: {one_line(f.message)}", markup=False)


def _nothing(selection: RestoreSelection) -> str:
    if selection.key is not None:
        return f"offhours: no configured source has {selection.key!r}"
    what = f"in group {selection.group!r}" if selection.group is not None else "at all"
    return f"offhours: nothing to restore {what}: offhours stopped nothing that is still stopped"
