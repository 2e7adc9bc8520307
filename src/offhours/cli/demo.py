"""``demo``: the simulators and a real audit, with what Slack received shown as text."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from offhours.cli import EXIT_FAILED, EXIT_OK
from offhours.cli.exits import guarded
from offhours.cli.options import DeadlineOpt, NowOpt, VerboseOpt, parse_now, start_run
from offhours.cli.output import err, out

__all__ = ["DemoSource", "demo", "render_payload"]


class DemoSource(StrEnum):
    ravello = "ravello"
    aws = "aws"


def demo(
    now: NowOpt = None,
    labs: Annotated[
        int,
        typer.Option(
            min=1, max=2000, metavar="N", help="How many running labs to simulate (Ravello)"
        ),
    ] = 8,
    source: Annotated[
        DemoSource,
        typer.Option(
            metavar="ravello|aws",
            help="ravello: the built-in Ravello simulator; aws: moto's AWS emulator (dev extras)",
        ),
    ] = DemoSource.ravello,
    deadline: DeadlineOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Start a local simulator (Ravello, or AWS through moto) and a Slack sink, run a real audit
    against them, show both."""
    run_deadline = start_run(verbose, deadline)

    def body() -> int:
        from offhours.demo import run_aws_demo, run_demo
        from offhours.report import render_text

        at = parse_now(now, _zone(source)) if now else None
        if source is DemoSource.aws:
            result, messages, note = run_aws_demo(at, deadline=run_deadline)
        else:
            result, messages, note = run_demo(at, running_labs=labs, deadline=run_deadline)
        out.rule("Slack — as received by the local webhook sink")
        for i, payload in enumerate(messages, 1):
            out.print(f"[bold]message {i} of {len(messages)}[/]")
            out.print(render_payload(payload), markup=False)
        if not messages:
            out.print("(no message: nothing was flagged)", markup=False)
        out.rule("Console report")
        out.print(render_text(result.report), markup=False)
        out.print(note, markup=False, style="dim")
        for line in result.failures:
            err.print(f"offhours: {line}", markup=False)
        return EXIT_FAILED if result.failures else EXIT_OK

    guarded(body)


def _zone(source: DemoSource) -> str:
    """The demo config's [hours] zone: a --now without one is read in it."""
    import tomllib
    from importlib.resources import files

    name = "demo-aws.toml" if source is DemoSource.aws else "demo.toml"
    zone: str = tomllib.loads(files("offhours").joinpath(name).read_text("utf-8"))["hours"][
        "timezone"
    ]
    return zone


def render_payload(payload: dict[str, Any]) -> str:
    """A Slack Block Kit payload as the plain text a reader would see."""
    lines: list[str] = []
    for block in payload.get("blocks") or []:
        kind = block.get("type")
        if kind in ("header", "section") and block.get("text"):
            lines.append(block["text"].get("text", ""))
        if kind == "section":
            lines.extend(f.get("text", "") for f in block.get("fields") or [])
        elif kind == "context":
            lines.extend(e.get("text", "") for e in block.get("elements") or [])
        elif kind == "rich_text":
            lines.append(
                "".join(
                    e.get("text", "")
                    for part in block.get("elements") or []
                    for e in part.get("elements") or []
                )
            )
        elif kind == "divider":
            lines.append("─" * 40)
    from offhours.untrusted import lines as safe_lines

    return safe_lines("\n".join(lines) if lines else str(payload.get("text", "")))
