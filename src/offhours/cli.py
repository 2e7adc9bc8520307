"""The ``offhours`` command: the one place that prints and maps errors to exit codes.

Exit codes: 0 ran fine (whether or not anything was flagged); 1 a source or notifier failed
(after delivering what it could); 2 bad configuration or usage; 3 findings, with
``--fail-on-findings``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from offhours.errors import ConfigError, OffhoursError

__all__ = ["EXIT_FAILED", "EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3

log = logging.getLogger("offhours.cli")

app = typer.Typer(
    name="offhours",
    help="Find VMs left running outside business hours and tell the team, once, clearly.",
    no_args_is_help=True,
    add_completion=False,
    # Pretty tracebacks show local variables, which may hold secrets.
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# No highlighting and no :emoji: codes: printed text is shown as it is, never reinterpreted.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class Format(StrEnum):
    text = "text"
    json = "json"


ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file [default: $OFFHOURS_CONFIG or ./offhours.toml]",
        show_default=False,
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option(help="Evaluate at this instant (ISO-8601 with offset, e.g. 2026-11-26T22:00Z)"),
]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=0.1,
        max=86_400,
        metavar="SECONDS",
        help="Finish within SECONDS: a source still reading is reported as timed out while "
        "there is time left to deliver",
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv debug)")
]

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: OffhoursError) -> NoReturn:
    from offhours.untrusted import lines

    # Errors may quote a server's message or a resource's name: no escape sequence gets through.
    err.print(f"offhours: error: {lines(str(exc))}", markup=False)
    raise typer.Exit(exc.exit_code)


def _now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not an ISO-8601 time; write e.g. 2026-11-26T22:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ConfigError(f"--now {text!r} has no time zone; add Z or an offset such as -05:00")
    return value


def _setup(verbose: int) -> None:
    from offhours import logs

    logs.configure(verbose)


def _load(path: Path | None) -> Any:
    from offhours.config import config_path, load_config

    return load_config(config_path(path))


def _guarded(fn: Callable[[], int]) -> None:
    """Run a command body: OffhoursError → its exit code, anything else → 1 without a traceback."""
    try:
        code = fn()
    except OffhoursError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        err.print("offhours: interrupted")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
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


def _print_result(result: Any, fmt: Format) -> None:
    from offhours.untrusted import escape_json, lines

    for name, preview in result.previews:
        target = err if fmt is Format.json else out
        target.print(f"\n--- dry run: would send to notifier {name!r} ---", markup=False)
        # Previews are mostly JSON payloads: escaping keeps them exact and safe to print.
        target.print(escape_json(preview), markup=False)
    from offhours.logs import scrub

    for line in result.failures:
        err.print(f"offhours: {lines(scrub(line))}", markup=False)


def _exit_code(result: Any, fail_on_findings: bool) -> int:
    if result.failures:
        return EXIT_FAILED
    if fail_on_findings and result.report.findings:
        return EXIT_FINDINGS
    return EXIT_OK


@app.command()
def audit(
    config: ConfigOpt = None,
    now: NowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send nothing")
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format", help="Report on stdout [default: the console notifier's, or text]"
        ),
    ] = None,
    fail_on_findings: Annotated[
        bool, typer.Option("--fail-on-findings", help="Exit 3 when anything is flagged")
    ] = False,
    deadline: DeadlineOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Read the sources, apply business hours, and notify."""
    _setup(verbose)
    from offhours.transport import Deadline

    # Counted from the start, before the config is read and the secrets resolved.
    run_deadline = Deadline.after(deadline)

    def body() -> int:
        from offhours.audit import run_audit
        from offhours.report import render_json, render_text

        cfg = _load(config)
        at = _now(now)
        configured = [n for n in cfg.notifiers if n.type == "console"]
        chosen: Literal["text", "json"] = "text"
        if fmt is not None:
            chosen = "json" if fmt is Format.json else "text"
        elif configured:
            chosen = configured[0].format
        # The terminal is this door's console: the report goes to stdout once, in the chosen
        # format, so configured console notifiers (for doors without one) are not run as well.
        result = run_audit(
            cfg, now=at, dry_run=dry_run, skip_notifier_types={"console"}, deadline=run_deadline
        )
        render = render_json if chosen == "json" else render_text
        sys.stdout.write(render(result.report))
        sys.stdout.flush()
        _print_result(result, Format(chosen))
        return _exit_code(result, fail_on_findings)

    _guarded(body)


@app.command()
def explain(
    config: ConfigOpt = None,
    now: NowOpt = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.text,
    deadline: DeadlineOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Say why each resource is or isn't flagged at --now (reads the sources, sends nothing)."""
    _setup(verbose)
    from offhours.transport import Deadline

    # Counted from the start, as audit's: the config and the secrets are read within it.
    run_deadline = Deadline.after(deadline)

    def body() -> int:
        from offhours.audit import assess
        from offhours.logs import scrub
        from offhours.untrusted import one_line

        cfg = _load(config)
        at = _now(now)
        policy = cfg.policy()
        report = assess(cfg, now=at, deadline=run_deadline)
        decisions, failures = list(report.decisions), report.failures
        if fmt is Format.json:
            # ensure_ascii: every control, bidi or zero-width character is \u-escaped.
            out.print(json.dumps(_explain_json(decisions, failures, at), indent=2), markup=False)
        else:
            _explain_table(decisions, at, policy)
        for f in failures:
            # Scrubbed like the audit's failures: a message may quote a resolved secret.
            err.print(f"offhours: source {f.source!r}: {one_line(scrub(f.message))}", markup=False)
        return EXIT_FAILED if failures else EXIT_OK

    _guarded(body)


def _explain_json(decisions: list[Any], failures: Any, at: datetime) -> dict[str, Any]:
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
                "hourly_cost": d.resource.hourly_cost,
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


def _explain_table(decisions: list[Any], at: datetime, policy: Any) -> None:
    from rich.text import Text

    from offhours.untrusted import one_line

    def cell(value: str) -> Text:
        # A Text is never parsed as markup: "[link=…]" or "bad [/] markup" in a name is data.
        return Text(one_line(value))

    out.print(f"At {at.isoformat()} — default hours: {policy.hours.describe()}", markup=False)
    table = Table(show_lines=False)
    for col in ("resource", "owner", "running", "cost/h", "verdict", "why", "schedule"):
        table.add_column(col, overflow="fold")
    for d in decisions:
        if d.flagged:
            verdict = Text("FLAGGED", style="bold red")
        elif d.exempt_by and d.resource.is_running:
            verdict = Text("exempt", style="yellow")
        else:
            verdict = Text("ok", style="green")
        table.add_row(
            cell(f"{d.resource.source}/{d.resource.name}"),
            cell(d.resource.owner or "—"),
            str(d.resource.running),
            "—" if d.resource.hourly_cost is None else f"${d.resource.hourly_cost:,.2f}",
            verdict,
            cell(d.reason),
            cell(d.schedule),
        )
    out.print(table)
    for d in decisions:
        for problem in d.problems:
            out.print(f"⚠ {one_line(d.resource.name)}: {one_line(problem)}", markup=False)
    if not decisions:
        out.print("The sources returned no resources.", markup=False)


@app.command()
def check(config: ConfigOpt = None, verbose: VerboseOpt = 0) -> None:
    """Validate the config file and summarise it (exit 2 with every problem listed)."""
    _setup(verbose)

    def body() -> int:
        cfg = _load(config)
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
        _warn_budget(cfg)
        return EXIT_OK

    _guarded(body)


def _warn_budget(cfg: Any, *, show_fit: bool = True) -> None:
    """Warn when the configured waits could outlast the Lambda function's timeout."""
    from offhours.audit import budget_of

    budget = budget_of(cfg)
    if not budget.fits:
        err.print(
            f"warning: {budget.describe()} ([deploy] timeout); a run that slow is cut at the "
            "deadline and its sources reported as timed out. Lower the sources' timeouts, "
            "retries or max_retry_after, the notifiers' timeout or max_wait, or raise "
            "[deploy] timeout",
            markup=False,
        )
    elif show_fit:
        out.print(f"  budget:    {budget.describe()}", markup=False)


secrets_app = typer.Typer(
    help="Encrypt secrets for offhours.toml and check that every reference resolves.",
    no_args_is_help=True,
)
app.add_typer(secrets_app, name="secrets")


def _read_plaintext() -> str:
    """The secret from stdin when piped, else from a hidden prompt: never from argv."""
    if not sys.stdin.isatty():
        return sys.stdin.read().rstrip("\r\n")
    import getpass

    first = getpass.getpass("Secret to encrypt (input hidden): ")
    if getpass.getpass("Again, to confirm: ") != first:
        raise ConfigError("the two entries differ; nothing was encrypted")
    return first


def _context_pairs(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--context {pair!r} is not KEY=VALUE")
        context[key] = value
    return context


@secrets_app.command("encrypt")
def secrets_encrypt(
    key: Annotated[str, typer.Option(help="KMS key: alias/NAME, key id or ARN")],
    context: Annotated[
        list[str] | None,
        typer.Option(help="Encryption context KEY=VALUE (repeatable); must match [secrets.kms]"),
    ] = None,
    region: Annotated[str | None, typer.Option(help="AWS region [default: AWS_REGION]")] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Encrypt a secret read from stdin (or a hidden prompt) and print a kms: reference."""
    _setup(verbose)

    def body() -> int:
        from offhours.secrets.aws import encrypt

        pairs = _context_pairs(context or [])
        reference = encrypt(_read_plaintext(), key=key, context=pairs, region=region)
        out.print(reference, markup=False, soft_wrap=True)
        if pairs:
            shown = ", ".join(f'{k} = "{v}"' for k, v in pairs.items())
            err.print(f"Decrypts only with [secrets.kms] context = {{ {shown} }}", markup=False)
        return EXIT_OK

    _guarded(body)


@secrets_app.command("check")
def secrets_check(config: ConfigOpt = None, verbose: VerboseOpt = 0) -> None:
    """Resolve every secret reference in the config; show which resolve, never their values."""
    _setup(verbose)

    def body() -> int:
        from offhours.errors import SecretError
        from offhours.secrets import Resolver

        cfg = _load(config)
        resolver = Resolver(cfg.secret_settings())
        failed = 0
        refs = cfg.secret_refs()
        for _, _, ref in refs:
            try:
                secret = resolver.resolve(ref)
            except SecretError as exc:
                failed += 1
                out.print(f"✗ {exc}", markup=False)
            else:
                out.print(f"✓ {ref.where}: {ref} → {secret.redacted()}", markup=False)
        for where in cfg.plaintext_secrets():
            err.print(f"warning: {where} holds a plaintext secret", markup=False)
        out.print(f"{len(refs) - failed} of {len(refs)} references resolve.", markup=False)
        return EXIT_USAGE if failed else EXIT_OK

    _guarded(body)


deploy_app = typer.Typer(
    help="Deploy offhours as a scheduled AWS Lambda function, from the same offhours.toml.",
    no_args_is_help=True,
)
app.add_typer(deploy_app, name="deploy")

FindLinksOpt = Annotated[
    list[Path] | None,
    typer.Option("--find-links", help="Also look for wheels here (an offline wheelhouse)"),
]
NoIndexOpt = Annotated[
    bool, typer.Option("--no-index", help="Use only --find-links, never the package index")
]
PackageOpt = Annotated[
    Path | None,
    typer.Option("--package", help="Deploy this zip instead of building one"),
]
SecretStdinOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-stdin",
        help="Read this secret's value from stdin, e.g. sources[0].password",
        metavar="KEY",
    ),
]


def _build(cfg: Any, out: Path, find_links: list[Path] | None, no_index: bool) -> Any:
    from offhours.deploy.package import build_package

    err.print(
        f"building the Lambda package for {cfg.deploy.runtime}/{cfg.deploy.architecture} …",
        markup=False,
    )
    return build_package(
        out,
        runtime=cfg.deploy.runtime,
        architecture=cfg.deploy.architecture,
        find_links=find_links or (),
        no_index=no_index,
    )


def _code(cfg: Any, package: Path | None, find_links: list[Path] | None, no_index: bool) -> bytes:
    if package is not None:
        try:
            return package.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--package {package}: cannot read ({exc.strerror})") from None
    import tempfile

    with tempfile.TemporaryDirectory(prefix="offhours-package-") as tmp:
        result = _build(cfg, Path(tmp) / "offhours-lambda.zip", find_links, no_index)
        return bytes(result.path.read_bytes())


def _secret_prompt(what: str) -> str:
    import getpass

    value = getpass.getpass(f"Secret for {what} (input hidden): ")
    if not value:
        raise ConfigError(f"{what}: nothing entered")
    return value


def _print_changes(changes: list[Any], *, dry: bool) -> None:
    for change in changes:
        out.print(str(change), markup=False)
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    verb = "would " if dry else ""
    summary = ", ".join(
        f"{counts[a]} {verb}{'stay' if a == 'unchanged' and dry else a}"
        for a in ("create", "update", "delete", "unchanged")
        if counts.get(a)
    )
    if not any(c.action != "unchanged" for c in changes):
        summary = "no changes"
    out.print(f"\n{summary}.", markup=False)


@deploy_app.command("package")
def deploy_package(
    config: ConfigOpt = None,
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("offhours-lambda.zip"),
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Build the function's zip (reproducible) for [deploy] runtime and architecture."""
    _setup(verbose)

    def body() -> int:
        cfg = _load(config)
        result = _build(cfg, output, find_links, no_index)
        out.print(
            f"{result.path}: {result.size:,} bytes ({result.size / 1_048_576:.1f} MiB), "
            f"{result.files} files, sha256 {result.sha256}",
            markup=False,
        )
        return EXIT_OK

    _guarded(body)


def _deployment(
    config: Path | None,
    package: Path | None,
    find_links: Any,
    no_index: bool,
    secret_stdin: str | None = None,
) -> Any:
    from offhours.deploy.aws import Deployment

    cfg = _load(config)
    given = {}
    if secret_stdin:
        value = sys.stdin.read().rstrip("\r\n")
        if not value:
            raise ConfigError(f"--secret-stdin {secret_stdin}: stdin was empty")
        given[secret_stdin] = value
    # Secrets are read before the (slow) build. Without a terminal, every secret that cannot
    # be read is listed instead of asked for.
    interactive = sys.stdin.isatty() and not secret_stdin
    deployment = Deployment(cfg, prompt=_secret_prompt if interactive else None, given=given)
    deployment.read_secrets()
    deployment.code = _code(cfg, package, find_links, no_index)
    return deployment


def _plan_or_apply(
    config: Path | None,
    package: Path | None,
    find_links: Any,
    no_index: bool,
    secret_stdin: str | None,
    *,
    dry: bool,
) -> None:
    def body() -> int:
        deployment = _deployment(config, package, find_links, no_index, secret_stdin)
        if dry:
            _warn_budget(deployment.config, show_fit=False)
        _print_changes(deployment.plan() if dry else deployment.apply(), dry=dry)
        return EXIT_OK

    _guarded(body)


@deploy_app.command("plan")
def deploy_plan(
    config: ConfigOpt = None,
    package: PackageOpt = None,
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    secret_stdin: SecretStdinOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Show exactly what `deploy apply` would create, change or leave alone."""
    _setup(verbose)
    _plan_or_apply(config, package, find_links, no_index, secret_stdin, dry=True)


@deploy_app.command("apply")
def deploy_apply(
    config: ConfigOpt = None,
    package: PackageOpt = None,
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    secret_stdin: SecretStdinOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Create or update the role, key, encrypted config, function, alias and schedule."""
    _setup(verbose)
    _plan_or_apply(config, package, find_links, no_index, secret_stdin, dry=False)


@deploy_app.command("destroy")
def deploy_destroy(
    config: ConfigOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing")
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Remove what offhours created for this function (identified by its tags), nothing else."""
    _setup(verbose)

    def body() -> int:
        from offhours.deploy.aws import Deployment

        cfg = _load(config)
        if not yes and not dry_run:
            if not sys.stdin.isatty():
                raise ConfigError("destroy needs --yes when there is no terminal to confirm on")
            typer.confirm(f"Remove the deployment of {cfg.deploy.function_name!r}?", abort=True)
        _print_changes(Deployment(cfg).destroy(dry=dry_run), dry=dry_run)
        return EXIT_OK

    _guarded(body)


@deploy_app.command("export")
def deploy_export(
    config: ConfigOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="sam or terraform")] = "sam",
    code_path: Annotated[
        str, typer.Option("--code", help="Path of the zip the template points at")
    ] = "offhours-lambda.zip",
    verbose: VerboseOpt = 0,
) -> None:
    """Print an AWS SAM template or Terraform (JSON syntax) equivalent to `deploy apply`."""
    _setup(verbose)

    def body() -> int:
        from offhours.deploy.export import export

        if fmt not in ("sam", "terraform"):
            raise ConfigError(f"--format {fmt!r}: choose sam or terraform")
        cfg = _load(config)
        sys.stdout.write(export(cfg, format=fmt, code_path=code_path))  # type: ignore[arg-type]
        sys.stdout.write("\n")
        return EXIT_OK

    _guarded(body)


@deploy_app.command("import-lambda-json")
def deploy_import_lambda_json(
    path: Annotated[Path, typer.Argument(help="A lambda-uploader lambda.json")],
    config: ConfigOpt = None,
    write: Annotated[
        bool, typer.Option("--write", help="Add the [deploy] section to the config file")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --write: replace an existing [deploy]")
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Turn a lambda-uploader lambda.json into a [deploy] section, saying what changed."""
    _setup(verbose)

    def body() -> int:
        from offhours.config import config_path
        from offhours.deploy.lambda_json import (
            import_lambda_json,
            render_notes,
            write_deploy_section,
        )

        result = import_lambda_json(path)
        err.print(render_notes(result.notes), markup=False, end="")
        if write:
            target = config_path(config)
            write_deploy_section(target, result.toml, force=force)
            err.print(f"wrote [deploy] to {target}", markup=False)
        else:
            sys.stdout.write(result.toml)
        return EXIT_OK

    _guarded(body)


@app.command()
def schedule(
    expression: Annotated[str, typer.Argument(help='e.g. "cron(0 17 ? * MON-FRI *)"')],
    tz: Annotated[
        str,
        typer.Option(
            "--tz", help="IANA time zone the schedule runs in (or, with --rule, is read in)"
        ),
    ] = "UTC",
    count: Annotated[int, typer.Option(min=1, max=100, help="How many fire times")] = 5,
    rule: Annotated[
        bool, typer.Option("--rule", help="As a classic EventBridge rule (always UTC)")
    ] = False,
    now: NowOpt = None,
) -> None:
    """Validate an EventBridge schedule; print its next fire times (local and UTC)."""

    def body() -> int:
        from offhours.deploy.schedule import format_fire_times, parse_schedule_expression
        from offhours.hours import parse_zone

        try:
            parsed = parse_schedule_expression(expression)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            # With --rule the schedule runs in UTC; the zone still shows local times and drift.
            zone = parse_zone(tz)
        except ValueError as exc:
            raise ConfigError(f"--tz {tz!r} {exc}") from None
        text = format_fire_times(
            parsed, zone, _now(now), count, scheduler="rule" if rule else "scheduler"
        )
        out.print(text, markup=False)
        return EXIT_OK

    _guarded(body)


@app.command()
def schema() -> None:
    """Print the JSON Schema of offhours.toml (for editors)."""
    from offhours.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def demo(
    now: NowOpt = None,
    labs: Annotated[
        int, typer.Option(min=1, max=2000, help="How many running labs to simulate")
    ] = 8,
    deadline: DeadlineOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Start a local Ravello simulator and Slack sink, run a real audit against them, show both."""
    _setup(verbose)
    from offhours.transport import Deadline

    run_deadline = Deadline.after(deadline)

    def body() -> int:
        from offhours.demo import run_demo

        result, messages, note = run_demo(
            _now(now) if now else None, running_labs=labs, deadline=run_deadline
        )
        out.rule("Slack — as received by the local webhook sink")
        for i, payload in enumerate(messages, 1):
            out.print(f"[bold]message {i} of {len(messages)}[/]")
            out.print(render_payload(payload), markup=False)
        if not messages:
            out.print("(no message: nothing was flagged)", markup=False)
        out.rule("Console report")
        from offhours.report import render_text

        out.print(render_text(result.report), markup=False)
        out.print(note, markup=False, style="dim")
        for line in result.failures:
            err.print(f"offhours: {line}", markup=False)
        return EXIT_FAILED if result.failures else EXIT_OK

    _guarded(body)


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


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        # click maps usage errors to 2 already; keep our documented codes as they are.
        raise SystemExit(exc.code) from None


if __name__ == "__main__":  # pragma: no cover
    main()
