"""``state check``, ``state migrate``, ``state export``: the incident memory's store itself.

``check`` exits 1 when the store cannot be used (corrupt, locked, a newer schema: the error
says the fix), 0 otherwise, with any lesser problem listed. ``export`` writes everything as one
JSON document, to stdout or to a file only its owner may read (it names owners and resources).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offhours.cli import EXIT_OK
from offhours.cli.deployment import DeploymentOpt, RegionOpt, memory_store
from offhours.cli.exits import guarded
from offhours.cli.help import Typer
from offhours.cli.options import ConfigOpt, VerboseOpt, load_config, setup_logging
from offhours.cli.output import err, out
from offhours.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["app", "check", "export", "migrate"]

app = Typer(
    help="The incident memory's store: check it, migrate its schema, export it as JSON.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def check(
    config: ConfigOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Say whether the store is usable: its schema, what it holds, and any problem."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.untrusted import one_line

        cfg = load_config(config)
        with memory_store(cfg, deployment=deployment, region=region) as store:
            out.print(f"store:     {store.name}", markup=False)
            problems = store.check()
            document = store.export()
            for line in _summary(document):
                out.print(line, markup=False)
            for problem in problems:
                out.print(f"⚠ {one_line(problem)}", markup=False)
            if not problems:
                out.print("OK", markup=False)
        return EXIT_OK

    guarded(body)


def _summary(document: Mapping[str, Any]) -> list[str]:
    incidents = list(document.get("incidents") or ())
    opened = sum(1 for i in incidents if i.get("state") == "open")
    runs = Counter(str(r.get("state")) for r in document.get("runs") or ())
    by_state = ", ".join(f"{n} {state}" for state, n in sorted(runs.items()))
    return [
        f"schema:    {document.get('schema', '?')}",
        f"incidents: {len(incidents)} ({opened} open, {len(incidents) - opened} resolved)",
        f"snoozes:   {len(document.get('snoozes') or ())}",
        f"runs:      {sum(runs.values())}" + (f" ({by_state})" if by_state else ""),
    ]


@app.command()
def migrate(
    config: ConfigOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Bring the store's schema up to this offhours' version (never down)."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        with memory_store(cfg, deployment=deployment, region=region) as store:
            before, after = store.migrate()
            if before == after:
                out.print(f"{store.name}: schema {after}, nothing to migrate", markup=False)
            else:
                out.print(f"{store.name}: schema {before} → {after}", markup=False)
        return EXIT_OK

    guarded(body)


@app.command()
def export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to FILE (created readable by its owner only) [default: stdout]",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    deployment: DeploymentOpt = None,
    region: RegionOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Everything the store holds (incidents, snoozes, runs) as one JSON document."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        with memory_store(cfg, deployment=deployment, region=region) as store:
            document = store.export()
            name = store.name
        # ensure_ascii: every control, bidi or zero-width character is \u-escaped.
        text = json.dumps(document, indent=2, default=_jsonable) + "\n"
        if output is None:
            sys.stdout.write(text)
            return EXIT_OK
        _write_private(output, text)
        counts = ", ".join(
            f"{len(document.get(part) or ())} {part}" for part in ("incidents", "snoozes", "runs")
        )
        err.print(f"exported {counts} from {name} to {output}", markup=False)
        return EXIT_OK

    guarded(body)


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write_private(path: Path, text: str) -> None:
    """``text`` into ``path``, readable and writable by its owner only (also when it was
    there before); a symlink at ``path`` is refused rather than followed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
    except OSError as exc:
        raise ConfigError(f"cannot write --output {path}: {exc.strerror or exc}") from None
