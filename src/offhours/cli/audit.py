"""``audit``, ``explain``, ``check`` and ``schema``: the commands that read the config file
and its sources (or describe it).

The terminal is a channel like any other: ``audit`` prints the report on stdout through the
configured console notifiers when there are any, and through a console channel of its own only
when none delivers there (``run_audit``'s ``fallback``); ``--format`` is given to every
notifier that has a ``format`` setting (``run_audit``'s ``settings``). No notifier is singled
out by its type.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from offhours.cli import EXIT_FAILED, EXIT_FINDINGS, EXIT_NOT_DEDUPLICATED, EXIT_OK
from offhours.cli.budget import warn_budget
from offhours.cli.exits import guarded
from offhours.cli.options import (
    FORMAT_HELP,
    ConfigOpt,
    DeadlineOpt,
    Format,
    FormatOpt,
    NowOpt,
    VerboseOpt,
    load_config,
    parse_now,
    setup_logging,
    start_run,
)
from offhours.cli.output import err, out
from offhours.cli.schedule import review, warn_config

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from offhours.audit import AuditResult, Memory
    from offhours.config import Config
    from offhours.model import Decision, Receipt, SourceFailure
    from offhours.policy import Policy

__all__ = ["audit", "check", "explain", "schema"]


def audit(
    config: ConfigOpt = None,
    now: NowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send nothing")
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            metavar="text|json",
            help=f"{FORMAT_HELP} [default: the console notifier's format, or text]",
            show_default=False,
        ),
    ] = None,
    fail_on_findings: Annotated[
        bool, typer.Option("--fail-on-findings", help="Exit 3 when anything is flagged")
    ] = False,
    deadline: DeadlineOpt = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            metavar="ID",
            help="This run's identity: a run with an identity already delivered sends nothing "
            "[default: the [deploy] schedule's slot when --now is at most 15 min after it, "
            "else --now's minute]",
        ),
    ] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Read the sources, apply business hours, and notify what is new, due a reminder or
    resolved (incident memory: [memory] in the config)."""
    run_deadline = start_run(verbose, deadline)

    def body() -> int:
        from offhours.audit import run_audit
        from offhours.notifiers.console import ConsoleNotifier

        cfg = load_config(config)
        warn_config(cfg)
        at = parse_now(now, cfg.hours.timezone)
        memory = _memory(cfg, at, run_id)
        # The report goes to stdout once: through the configured console notifiers, else
        # through this door's own terminal channel; --format overrides the configured format.
        terminal = ConsoleNotifier("console", format=fmt.value if fmt else "text")
        settings = {"format": fmt.value} if fmt else {}
        json_on_stdout = _json_on_stdout(cfg, fmt)
        try:
            with _held_stdout(json_on_stdout) as held:
                result = run_audit(
                    cfg,
                    now=at,
                    dry_run=dry_run,
                    deadline=run_deadline,
                    settings=settings,
                    fallback=[terminal],
                    memory=memory,
                )
        finally:
            if memory is not None:
                memory.store.close()
        _print_result(result, json_on_stdout=json_on_stdout, held=held.getvalue())
        return _exit_code(result, fail_on_findings)

    guarded(body)


def _memory(cfg: Config, at: datetime, given: str | None) -> Memory | None:
    """The run's memory: the configured store and this run's identity (``--run-id``, else
    the function name and the ``[deploy] schedule`` slot before ``at`` when ``at`` is within
    ``SLOT_TOLERANCE`` of it: a run fired late, or retried, stands for the same slot; any other
    run stands for its own minute)."""
    from offhours.audit import Memory, run_id, run_time
    from offhours.deploy.schedule import last_fire_time, parse_schedule_expression
    from offhours.errors import ConfigError
    from offhours.hours import parse_zone
    from offhours.state import open_store

    store = open_store(cfg)
    if store is None:
        return None
    if given is not None:
        if not given.strip() or len(given) > 200:
            raise ConfigError("--run-id must be 1 to 200 characters")
        identity = given
    else:
        d = cfg.deploy
        zone = parse_zone("UTC" if d.scheduler == "rule" else d.timezone or cfg.hours.timezone)
        slot = last_fire_time(parse_schedule_expression(d.schedule), at, zone)
        identity = run_id(d.function_name, run_time(at, slot))
    return Memory(store, identity, cfg.memory.settings())


@contextlib.contextmanager
def _held_stdout(hold: bool) -> Iterator[io.StringIO]:
    """With ``hold``, what is printed on stdout kept until delivery is over (JSON: the report
    then carries the receipts, in one document); printed as it was if the run fails."""
    held = io.StringIO()
    if not hold:
        yield held
        return
    try:
        with contextlib.redirect_stdout(held):
            yield held
    except BaseException:
        sys.stdout.write(held.getvalue())
        raise


def _json_on_stdout(cfg: Config, fmt: Format | None) -> bool:
    """Whether the report on stdout is JSON (then nothing else may be printed there)."""
    if fmt is not None:
        return fmt is Format.json
    return any(n.plugin_kwargs().get("format") == "json" for n in cfg.notifiers)


def _print_result(result: AuditResult, *, json_on_stdout: bool, held: str = "") -> None:
    """After delivery: the held JSON with its receipts (stdout), then on stderr the previews
    of a dry run (stdout in text), each failure, and what went where."""
    from dataclasses import replace

    from offhours.logs import scrub
    from offhours.untrusted import escape_json, lines

    # The terminal's own delivery is the report just printed: no receipt for it.
    receipts = [
        replace(r, error=scrub(r.error) if r.error else None)
        for r in result.receipts
        if r.destination != "stdout"
    ]
    if held:
        sys.stdout.write(_with_receipts(held, receipts))
        sys.stdout.flush()
    target = err if json_on_stdout else out
    for name, preview in result.previews:
        target.print(f"\n--- dry run: would send to notifier {name!r} ---", markup=False)
        # Previews are mostly JSON payloads: escaping keeps them exact and safe to print.
        target.print(escape_json(preview), markup=False)
    for line in result.failures:
        err.print(f"offhours: error: {lines(scrub(line))}", markup=False)
    for said in filter(None, map(_delivered, receipts if result.skipped is None else ())):
        err.print(f"offhours: {lines(said)}", markup=False)
    if result.skipped is not None:
        err.print(
            f"offhours: nothing sent: {lines(result.skipped)}; to run again now, pass "
            "--run-id NAME (any name not used before)",
            markup=False,
        )
    if result.memory_problem is not None:
        err.print(
            "offhours: every finding was told, not deduplicated: "
            f"{lines(scrub(result.memory_problem))}",
            markup=False,
        )


def _delivered(receipt: Receipt) -> str | None:
    """``report sent to notifier 'team' (slack, 2 messages)``, as ``digest --send`` says it;
    ``None`` where another line says it already (a dry run's preview, a failure)."""
    from offhours.report import plural

    if receipt.dry_run or receipt.error is not None:
        return None
    name = repr(receipt.notifier)
    if not receipt.sent:
        return f"nothing sent to notifier {name}: nothing new to tell"
    return f"report sent to notifier {name} ({receipt.channel}, {plural(receipt.sent, 'message')})"


def _with_receipts(held: str, receipts: Sequence[Receipt]) -> str:
    """The report's JSON document with ``receipts`` added (anything else as it was)."""
    from offhours.report import receipt_json
    from offhours.untrusted import escape_json

    try:
        document = json.loads(held)
    except ValueError:  # not one document (several console notifiers): left as printed
        return held
    if not isinstance(document, dict):
        return held
    document["receipts"] = [receipt_json(r) for r in receipts]
    return escape_json(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"


def _exit_code(result: AuditResult, fail_on_findings: bool) -> int:
    if result.failures:
        return EXIT_FAILED
    if result.memory_problem is not None:
        return EXIT_NOT_DEDUPLICATED
    if fail_on_findings and result.report.flagged:
        return EXIT_FINDINGS
    return EXIT_OK


def explain(
    config: ConfigOpt = None,
    now: NowOpt = None,
    fmt: FormatOpt = Format.text,
    deadline: DeadlineOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Say why each resource is or isn't flagged at --now (reads the sources, sends nothing)."""
    run_deadline = start_run(verbose, deadline)

    def body() -> int:
        from offhours.audit import assess
        from offhours.logs import scrub
        from offhours.untrusted import one_line

        cfg = load_config(config)
        at = parse_now(now, cfg.hours.timezone)
        policy = cfg.policy()
        report = assess(cfg, now=at, deadline=run_deadline)
        decisions, failures = report.decisions, report.failures
        if fmt is Format.json:
            # ensure_ascii: every control, bidi or zero-width character is \u-escaped.
            out.print(json.dumps(_explain_json(decisions, failures, at), indent=2), markup=False)
        else:
            _explain_table(decisions, at, policy)
        for f in failures:
            # Scrubbed like the audit's failures: a message may quote a resolved secret.
            err.print(
                f"offhours: error: source {f.source!r}: {one_line(scrub(f.message))}",
                markup=False,
            )
        return EXIT_FAILED if failures else EXIT_OK

    guarded(body)


def _explain_json(
    decisions: Sequence[Decision], failures: Sequence[SourceFailure], at: datetime
) -> dict[str, Any]:
    from offhours.amounts import money  # no float noise (1.0499999999999998)

    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "now": at.isoformat(),
        "resources": [
            {
                "source": d.resource.source,
                "id": d.resource.id,
                "name": d.resource.name,
                "owner": d.resource.owner,
                "running": d.resource.running,
                "hourly_cost": money(d.resource.hourly_cost),
                "flagged": d.flagged,
                "reason": d.reason,
                "schedule": d.schedule,
                "exempt_until": iso(d.exempt_until),
                "exempt_by": d.exempt_by,
                "off_hours_since": iso(d.off_hours_since),
                "problems": list(d.problems),
            }
            for d in decisions
        ],
        "failures": [{"source": f.source, "message": f.message} for f in failures],
    }


#: the verdict column of explain's list: "FLAGGED " and the indent of what follows
_VERDICT_WIDTH = 8


def _explain_table(decisions: Sequence[Decision], at: datetime, policy: Policy) -> None:
    """One entry per resource, wrapped to the terminal (80 columns in a pipe): the verdict and
    who, then why; the default hours said once above, a schedule only where it differs."""
    import textwrap

    from rich.text import Text

    from offhours.untrusted import one_line

    width = max(40, out.width)
    indent = " " * _VERDICT_WIDTH

    def wrapped(text: str, first: str = indent) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=indent) or [
            first.rstrip()
        ]

    default = policy.hours.describe()
    local = at.astimezone(policy.hours.zone)  # where business hours are kept, as reports show
    out.print(f"At {local:%Y-%m-%d %H:%M %Z} ({at.astimezone(UTC):%H:%M} UTC)", markup=False)
    for line in wrapped(
        f"Default hours: {default} (a resource's own schedule is on its entry)", ""
    ):
        out.print(line, markup=False)
    for d in decisions:
        r = d.resource
        if d.flagged:
            verdict, style = "FLAGGED", "bold red"
        elif d.exempt_by and r.is_running:
            verdict, style = "exempt", "yellow"
        else:
            verdict, style = "ok", "green"
        # External text is cleaned, and printed as Text: never parsed as markup.
        who = [f"{one_line(r.source)}/{one_line(r.name)}", one_line(r.owner or "no owner")]
        who.append(f"{r.running} running")
        if r.hourly_cost is not None:
            who.append(f"${r.hourly_cost:,.2f}/h")
        head = wrapped(" — ".join(who), verdict.ljust(_VERDICT_WIDTH))
        out.print(Text.assemble((verdict, style), head[0][len(verdict) :]))
        rest = head[1:] + wrapped(one_line(d.reason))
        if d.schedule != default:
            rest += wrapped(f"schedule: {one_line(d.schedule)}")
        for line in rest:
            out.print(Text(line))
    for d in decisions:
        for problem in d.problems:
            for line in wrapped(f"⚠ {one_line(d.resource.name)}: {one_line(problem)}", ""):
                out.print(Text(line))
    if not decisions:
        out.print("The sources returned no resources.", markup=False)


def check(config: ConfigOpt = None, verbose: VerboseOpt = 0) -> None:
    """Validate the config file and summarise it (exit 2 with every problem listed)."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        # a schedule that fires no more: exit 2; warnings: stderr
        review(cfg, parse_now(None, cfg.hours.timezone))
        policy = cfg.policy()
        out.print(f"{cfg.label}: OK", markup=False)
        out.print(f"  hours:     {policy.hours.describe()}", markup=False)
        if policy.grace:
            out.print(f"  grace:     {int(policy.grace.total_seconds() // 60)} min", markup=False)
        out.print(f"  tags:      {policy.schedule_tag}, {policy.exempt_tag}", markup=False)
        for s in cfg.sources:
            out.print(f"  source:    {s.display_name()} ({s.type})", markup=False)
        for n in cfg.notifiers:
            out.print(f"  notifier:  {n.display_name()} ({n.type})", markup=False)
        if not cfg.notifiers:
            out.print("  notifier:  (none: the report goes to stdout only)", markup=False)
        out.print(f"  memory:    {_memory_summary(cfg)}", markup=False)
        for line in _deploy_summary(cfg):
            out.print(line, markup=False)
        warn_budget(cfg)
        _warn_plaintext(cfg)
        _warn_unset(cfg, os.environ)
        return EXIT_OK

    guarded(body)


def _warn_unset(cfg: Config, environ: Mapping[str, str]) -> None:
    """check reads no secret, but an env: reference naming a variable not set here fails the
    first audit: say so (the name only; a deployed function gets its own environment)."""
    for slot in cfg.secret_slots():
        ref = slot.ref
        if ref.scheme == "env" and not environ.get(ref.target):
            err.print(
                f"warning: {cfg.label}: {ref.where}: {ref.target} is not set in this "
                f"environment; export {ref.target}=… before offhours audit",
                markup=False,
            )


def _memory_summary(cfg: Config) -> str:
    """``sqlite ~/.local/state/offhours/offhours-audit.db (Lambda: DynamoDB …); remind …``."""
    from offhours.state import default_table, sqlite_path, store_kind

    m = cfg.memory
    if m.store == "off":
        return "off (every run tells everything)"
    here = store_kind(cfg, on_lambda=False)
    place = f"sqlite {sqlite_path(cfg)}" if here == "sqlite" else f"dynamodb {default_table(cfg)}"
    if m.store == "auto":
        place += f"; on Lambda: dynamodb {default_table(cfg)}"
    every = f"every {m.remind_every_hours:g} h" if m.remind_every_hours else "never"
    tail = ", at opening" if m.remind_at_open else ""
    resolved = "resolved told" if m.report_resolved else "resolved not told"
    return f"{place}; reminders {every}{tail}; {resolved}"


def _deploy_summary(cfg: Config) -> list[str]:
    """What ``offhours deploy`` would make of ``[deploy]``: the function and where, its size,
    the schedule and its zone, and whose role and key it runs with."""
    from offhours.aws_region import aws_region

    d = cfg.deploy
    region = aws_region(d.region)
    if region is None:
        where = "the AWS profile's region (no [deploy] region or AWS_REGION)"
    else:
        where = f"{region}{'' if d.region else ' (from the environment)'}"
    if d.scheduler == "rule":
        zone = "UTC (a classic EventBridge rule)"
    else:
        zone = f"{d.timezone or cfg.hours.timezone} (EventBridge Scheduler)"
    role = f"brought in: {d.role_arn}" if d.role_arn else "created by deploy"
    key = f"brought in: {d.key_arn}" if d.key_arn else f"created by deploy ({d.kms_alias()})"
    return [
        f"  deploy:    {d.function_name} in {where}; {d.memory} MB, timeout {d.timeout} s",
        f"  schedule:  {d.schedule} in {zone}",
        *([f"  digest:    {d.digest_schedule} in {zone}"] if d.digest_schedule else []),
        f"  role:      {role}",
        f"  key:       {key}",
    ]


def _warn_plaintext(cfg: Config) -> None:
    """``allow_plaintext_secrets = true`` is for experiments: say which keys rely on it."""
    if not cfg.allow_plaintext_secrets:
        return
    keys = cfg.plaintext_secrets()
    if not keys:
        err.print(
            f"warning: {cfg.label}: allow_plaintext_secrets = true, but no key holds a "
            "plaintext secret; remove the line",
            markup=False,
        )
        return
    holds = "holds a plaintext secret" if len(keys) == 1 else "hold plaintext secrets"
    err.print(
        f"warning: {cfg.label}: allow_plaintext_secrets = true, and {', '.join(keys)} {holds}; "
        "outside experiments, write an env:, file:, kms:, ssm: or secretsmanager: reference "
        "instead (offhours secrets encrypt makes a kms: one)",
        markup=False,
    )


def schema(verbose: VerboseOpt = 0) -> None:
    """Print the JSON Schema of offhours.toml (for editors)."""
    setup_logging(verbose)
    from offhours.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
