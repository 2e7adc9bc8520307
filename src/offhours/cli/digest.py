"""``digest``: the weekly digest of incident memory, printed, saved as a chart, or sent.

The week is the last complete one (Monday to Monday in ``[hours] timezone``) before ``--now``,
or ``--weeks-ago N`` before that. The history comes from the state store ``[memory]`` names,
or with ``--deployment NAME`` from the table of that deployed function (its
``OFFHOURS_STATE_TABLE``, read from Lambda in ``[deploy] region``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.cli import EXIT_FAILED, EXIT_OK
from offhours.cli.deployment import DeploymentOpt, RegionOpt, memory_store
from offhours.cli.exits import guarded
from offhours.cli.options import (
    FORMAT_HELP,
    SLACK_HELP,
    ConfigOpt,
    NowOpt,
    SlackFormat,
    VerboseOpt,
    load_config,
    parse_now,
    setup_logging,
)
from offhours.cli.output import err, out
from offhours.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from offhours.config import Config
    from offhours.digest import Digest
    from offhours.model import Receipt

__all__ = ["collect", "digest", "emit"]


def digest(
    week: Annotated[
        bool,
        typer.Option(
            "--week",
            help="The weekly digest (the default: the only period so far)",
            show_default=False,
        ),
    ] = False,
    weeks_ago: Annotated[
        int,
        typer.Option("--weeks-ago", min=0, max=520, metavar="N", help="Go N weeks further back"),
    ] = 0,
    fmt: Annotated[
        SlackFormat,
        typer.Option("--format", metavar="text|json|slack", help=f"{FORMAT_HELP}{SLACK_HELP}"),
    ] = SlackFormat.text,
    output: Annotated[
        Path | None,
        typer.Option("--output", metavar="FILE.png", help="Save the bar chart as a PNG"),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Deliver the digest to the configured notifiers")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="With --send: show what would be sent (stdout); send nothing"
        ),
    ] = False,
    config: ConfigOpt = None,
    now: NowOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Off-hours running hours and cost of last week, per owner and group, against the week
    before; with the top offenders."""
    setup_logging(verbose)
    del week  # the only period: accepted so that scripts can say which they mean

    def body() -> int:
        if dry_run and not send:
            raise UsageError(
                "--dry-run needs --send: without it nothing is sent anyway "
                "(digest --send --dry-run shows what would be sent)"
            )
        cfg = load_config(config)
        found = collect(
            cfg,
            now=parse_now(now, cfg.hours.timezone),
            weeks_ago=weeks_ago,
            deployment=deployment,
            region=region,
        )
        return emit(cfg, found, fmt=fmt.value, output=output, send=send, dry_run=dry_run)

    guarded(body)


def collect(
    config: Config,
    *,
    now: datetime,
    weeks_ago: int,
    deployment: str | None,
    region: str | None = None,
) -> Digest:
    """The digest from the store (closed again whatever happens)."""
    from offhours.digest import collect_digest
    from offhours.hours import parse_zone

    with memory_store(config, deployment=deployment, region=region) as store:
        return collect_digest(
            store, now=now, zone=parse_zone(config.hours.timezone), weeks_ago=weeks_ago
        )


def emit(
    config: Config,
    found: Digest,
    *,
    fmt: str,
    output: Path | None,
    send: bool,
    dry_run: bool,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Print the digest in ``fmt``, save its chart to ``output``, and with ``send`` deliver it
    to the configured notifiers; the exit code."""
    from offhours.charts import render_png
    from offhours.digest import render_digest_json, render_digest_text
    from offhours.notifiers.slack.digest_blocks import digest_message
    from offhours.untrusted import escape_json

    png = None
    if output is not None:
        png = render_png(found)
        try:
            output.write_bytes(png)
        except OSError as exc:
            raise ConfigError(
                f"--output {output}: cannot write the chart ({exc.strerror or exc}); "
                "choose a writable path"
            ) from None
        err.print(f"chart saved to {output}", markup=False)
    if send:
        return _send(config, found, png=png, dry_run=dry_run, environ=environ)
    if fmt == "json":
        text = render_digest_json(found)
    elif fmt == "slack":
        text = escape_json(json.dumps(digest_message(found), indent=2, ensure_ascii=False)) + "\n"
    else:
        text = render_digest_text(found)
    out.print(text, end="", markup=False)
    return EXIT_OK


def _send(
    config: Config,
    found: Digest,
    *,
    png: bytes | None,
    dry_run: bool,
    environ: Mapping[str, str] | None,
) -> int:
    from offhours.audit import send_digest

    if not config.notifiers:
        raise ConfigError(f"{config.label}: no [[notifiers]] to send the digest to; add one")
    receipts = send_digest(config, found, dry_run=dry_run, png=png, environ=environ)
    failed = [_report(r) for r in receipts]
    return EXIT_FAILED if any(failed) else EXIT_OK


def _report(receipt: Receipt) -> bool:
    """What a notifier did, on stderr (a dry run's preview: on stdout); whether it failed."""
    from offhours.logs import scrub
    from offhours.untrusted import escape_json, lines

    name = receipt.notifier
    if receipt.error is not None:
        err.print(
            f"offhours: error: notifier {name!r}: {lines(scrub(receipt.error))}", markup=False
        )
        return True
    if receipt.dry_run and receipt.preview:
        # on stdout, as audit --dry-run shows its previews
        out.print(f"--- dry run: would send to notifier {name!r} ---", markup=False)
        out.print(escape_json(receipt.preview), markup=False)
    elif not receipt.planned and receipt.preview:
        err.print(f"offhours: {lines(receipt.preview)}: nothing sent", markup=False)
    elif receipt.sent:
        err.print(
            f"offhours: digest sent to notifier {name!r} ({receipt.destination})", markup=False
        )
    return False
