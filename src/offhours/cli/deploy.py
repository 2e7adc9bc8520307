"""``deploy package/plan/apply/destroy/export/import-lambda-json``: the function from the same
offhours.toml. The deploy tooling (boto3, pip) is imported inside each command, never for
``--help``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from offhours.cli import EXIT_FAILED, EXIT_OK
from offhours.cli.budget import warn_budget
from offhours.cli.exits import guarded
from offhours.cli.help import Typer
from offhours.cli.options import ConfigOpt, VerboseOpt, load_config, parse_now, setup_logging
from offhours.cli.output import err, out
from offhours.cli.schedule import review
from offhours.errors import ConfigError, OffhoursError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from offhours.budget import Budget
    from offhours.config import Config
    from offhours.deploy.aws import Change, Deployment
    from offhours.deploy.export import Format as ExportFormat
    from offhours.deploy.member_role import MemberFormat
    from offhours.deploy.package import PackageResult

__all__ = ["app"]

app = Typer(
    help="Deploy offhours as a scheduled AWS Lambda function, from the same offhours.toml.",
    no_args_is_help=True,
)

FindLinksOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--find-links",
        metavar="DIR",
        help="Also look for wheels in DIR, an offline wheelhouse (repeatable)",
    ),
]
NoIndexOpt = Annotated[
    bool, typer.Option("--no-index", help="Use only --find-links, never the package index")
]
PackageOpt = Annotated[
    Path | None,
    typer.Option("--package", metavar="FILE", help="Deploy this zip instead of building one"),
]
SecretStdinOpt = Annotated[
    str | None,
    typer.Option(
        "--secret-stdin",
        help="Read this secret's value from stdin, e.g. sources[0].password",
        metavar="KEY",
    ),
]

_EXPORT_FORMATS: dict[str, ExportFormat] = {"sam": "sam", "terraform": "terraform"}
_MEMBER_FORMATS: dict[str, MemberFormat] = {
    "cloudformation": "cloudformation",
    "terraform": "terraform",
}


def holiday_countries(cfg: Config) -> list[str]:
    """The countries whose holiday names the configured calendar reads: only their
    translations ship in the zip (none without a country)."""
    country = cfg.hours.holidays.country
    return [country] if country else []


def _build(
    cfg: Config, dest: Path, find_links: Sequence[Path] | None, no_index: bool
) -> PackageResult:
    from offhours.deploy.package_cache import cached_package

    countries = holiday_countries(cfg)
    target = (
        f"{cfg.deploy.runtime}/{cfg.deploy.architecture} "
        f"(holiday names: {', '.join(countries) or 'none'})"
    )
    result, reused = cached_package(
        dest,
        runtime=cfg.deploy.runtime,
        architecture=cfg.deploy.architecture,
        find_links=find_links or (),
        no_index=no_index,
        holiday_countries=countries,
        building=lambda: err.print(f"building the Lambda package for {target} …", markup=False),
    )
    if reused:
        err.print(f"reusing the Lambda package built before for {target}", markup=False)
    return result


def _code(
    cfg: Config, package: Path | None, find_links: Sequence[Path] | None, no_index: bool
) -> bytes:
    if package is not None:
        from offhours.deploy.package import check_package

        try:
            code = package.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--package {package}: cannot read ({exc.strerror})") from None
        check_package(code, f"--package {package}")
        return code
    import tempfile

    with tempfile.TemporaryDirectory(prefix="offhours-package-") as tmp:
        result = _build(cfg, Path(tmp) / "offhours-lambda.zip", find_links, no_index)
        return result.path.read_bytes()


def _secret_prompt(what: str) -> str:
    import getpass

    value = getpass.getpass(f"Secret for {what} (input hidden): ")
    if not value:
        raise ConfigError(f"{what}: nothing entered")
    return value


def _print_changes(
    changes: Sequence[Change], mode: Literal["plan", "apply", "preview", "destroy"]
) -> None:
    from offhours.deploy.changes import summary

    unchanged = "keep" if mode in ("preview", "destroy") else "unchanged"
    for change in changes:
        out.print(change.shown(unchanged), markup=False)
    out.print(f"\n{summary(changes, mode)}", markup=False)


@app.command("package")
def package(
    config: ConfigOpt = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Write the zip to FILE")
    ] = Path("offhours-lambda.zip"),
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Build the function's zip (reproducible) for [deploy] runtime and architecture."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        result = _build(cfg, output, find_links, no_index)
        out.print(
            f"{result.path}: {result.size:,} bytes ({result.size / 1_048_576:.1f} MiB), "
            f"{result.files} files\n"
            f"  sha256 (as sha256sum prints it):   {result.sha256_hex}\n"
            f"  CodeSha256 (base64, as Lambda shows it): {result.sha256}",
            markup=False,
        )
        return EXIT_OK

    guarded(body)


def _deployment(
    config: Path | None,
    package: Path | None,
    find_links: Sequence[Path] | None,
    no_index: bool,
    secret_stdin: str | None = None,
) -> Deployment:
    from offhours.deploy.aws import Deployment

    cfg = load_config(config)
    # before the secrets and the build: a past at() is refused
    review(cfg, parse_now(None, cfg.hours.timezone))
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


#: plan's --detailed-exitcode, as terraform's: 0 no changes, 2 changes present, 1 an error
EXIT_CHANGES = 2


def _plan_or_apply(
    *,
    dry: bool,
    config: Path | None,
    package: Path | None,
    find_links: Sequence[Path] | None,
    no_index: bool,
    secret_stdin: str | None,
    detailed: bool = False,
) -> None:
    """The ``plan`` (``dry``) or ``apply`` command: the same options, the same steps."""

    def body() -> int:
        deployment = _deployment(config, package, find_links, no_index, secret_stdin)
        if dry:
            warn_budget(deployment.config, show_fit=False)
        changes = deployment.plan() if dry else deployment.apply()
        _print_changes(changes, "plan" if dry else "apply")
        changed = any(c.action != "unchanged" for c in changes)
        return EXIT_CHANGES if detailed and changed else EXIT_OK

    guarded(_every_error_exits_1(body) if detailed else body)


def _every_error_exits_1(body: Callable[[], int]) -> Callable[[], int]:
    """With --detailed-exitcode, 2 means "changes present": every error (a configuration
    error too, otherwise 2) exits 1, as terraform's do."""

    def wrapped() -> int:
        try:
            return body()
        except OffhoursError as exc:
            exc.exit_code = 1
            raise

    return wrapped


DetailedExitcodeOpt = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when nothing would change, 2 when something would, 1 on any error (for CI)",
    ),
]


@app.command("plan")
def plan(
    config: ConfigOpt = None,
    package: PackageOpt = None,
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    secret_stdin: SecretStdinOpt = None,
    detailed_exitcode: DetailedExitcodeOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Show exactly what `deploy apply` would create, change or leave alone."""
    setup_logging(verbose)
    _plan_or_apply(
        dry=True,
        config=config,
        package=package,
        find_links=find_links,
        no_index=no_index,
        secret_stdin=secret_stdin,
        detailed=detailed_exitcode,
    )


@app.command("apply")
def apply(
    config: ConfigOpt = None,
    package: PackageOpt = None,
    find_links: FindLinksOpt = None,
    no_index: NoIndexOpt = False,
    secret_stdin: SecretStdinOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Create or update the role, key, encrypted config, function, alias and schedule."""
    setup_logging(verbose)
    _plan_or_apply(
        dry=False,
        config=config,
        package=package,
        find_links=find_links,
        no_index=no_index,
        secret_stdin=secret_stdin,
    )


@app.command("destroy")
def destroy(
    config: ConfigOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Destroy without asking (needed without a terminal)")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing")
    ] = False,
    delete_state: Annotated[
        bool,
        typer.Option(
            "--delete-state",
            help="Also delete the state table and the incident history it holds (kept otherwise)",
        ),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Remove what offhours created for this function (identified by its tags), nothing else;
    the state table is kept unless --delete-state. Lists what will go and asks first."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.deploy.aws import Deployment

        cfg = load_config(config)
        ask = not yes and not dry_run
        if ask and not sys.stdin.isatty():
            raise ConfigError(
                "destroy needs --yes when there is no terminal to confirm on: pass --yes (-y) "
                "to destroy without asking, or --dry-run to list what would go"
            )
        deployment = Deployment(cfg)
        if ask or dry_run:
            preview = deployment.destroy(dry=True, delete_state=delete_state)
            _print_changes(preview, "preview")
            going = sum(1 for c in preview if c.action == "delete")
            if dry_run or not going:
                return EXIT_OK
            noun = "resource" if going == 1 else "resources"
            if not typer.confirm(f"\nDestroy these {going} {noun}?", default=False):
                err.print("destroy cancelled: nothing was deleted", markup=False)
                return EXIT_FAILED
        changes = deployment.destroy(dry=False, delete_state=delete_state)
        _print_changes(changes, "destroy")
        return EXIT_OK

    guarded(body)


@app.command("export")
def export(
    config: ConfigOpt = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="sam|terraform",
            help="Print as sam (the default) or terraform; with --member-role, as "
            "cloudformation (the default) or terraform",
        ),
    ] = None,
    code_path: Annotated[
        str,
        typer.Option("--code", metavar="FILE", help="Path of the zip the template points at"),
    ] = "offhours-lambda.zip",
    member_role: Annotated[
        bool,
        typer.Option(
            "--member-role",
            help="The role each member account needs instead (aws sources reaching accounts)",
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write to FILE [default: stdout]"),
    ] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Print an AWS SAM template or Terraform (JSON syntax) equivalent to `deploy apply`, or
    with --member-role the role offhours assumes in member accounts (CloudFormation StackSet
    template or Terraform module)."""
    setup_logging(verbose)

    def body() -> int:
        cfg = load_config(config)
        if member_role:
            from offhours.deploy.member_role import export_member_role

            chosen_member = _MEMBER_FORMATS.get(fmt or "cloudformation")
            if chosen_member is None:
                raise ConfigError(f"--format {fmt!r}: choose cloudformation or terraform")
            text = export_member_role(cfg, format=chosen_member)
        else:
            from offhours.deploy.export import export

            chosen = _EXPORT_FORMATS.get(fmt or "sam")
            if chosen is None:
                raise ConfigError(f"--format {fmt!r}: choose sam or terraform")
            text = export(cfg, format=chosen, code_path=code_path)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            try:
                output.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"--output {output}: cannot write ({exc.strerror})") from None
            err.print(f"wrote {output}", markup=False)
        return EXIT_OK

    guarded(body)


@app.command("import-lambda-json")
def import_lambda_json(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A lambda-uploader lambda.json")],
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
    setup_logging(verbose)

    def body() -> int:
        from offhours.config import config_path
        from offhours.deploy.lambda_json import (
            import_lambda_json,
            render_notes,
            write_deploy_section,
        )

        target = config_path(config)
        result = import_lambda_json(path, budget=_budget_of(target))
        err.print(render_notes(result.notes), markup=False, end="")
        for warning in result.warnings:
            err.print(f"warning: {warning}", markup=False)
        if write:
            write_deploy_section(target, result.toml, force=force)
            err.print(f"wrote [deploy] to {target}", markup=False)
        else:
            sys.stdout.write(result.toml.rstrip("\n") + "\n")
        return EXIT_OK

    guarded(body)


def _budget_of(path: Path) -> Callable[[int], Budget] | None:
    """The worst case of a run of the configuration at ``path`` against a timeout, to check
    an imported timeout with; None without a configuration there (a new one)."""
    if not path.is_file():
        err.print(
            f"note: no configuration at {path} yet, so an imported timeout is not checked "
            "against a run's worst case; `offhours deploy plan` warns when it is too short",
            markup=False,
        )
        return None
    from offhours.audit import budget_of

    try:
        cfg = load_config(path)
    except ConfigError:
        err.print(
            f"note: {path} does not load (`offhours check` says why), so an imported "
            "timeout is not checked against a run's worst case",
            markup=False,
        )
        return None
    return lambda timeout: budget_of(cfg, timeout)
