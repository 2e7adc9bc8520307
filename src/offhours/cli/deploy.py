"""``deploy package/plan/apply/destroy/export/import-lambda-json``: the function from the same
offhours.toml. The deploy tooling (boto3, pip) is imported inside each command, never for
``--help``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offhours.cli import EXIT_OK
from offhours.cli.budget import warn_budget
from offhours.cli.exits import guarded
from offhours.cli.help import Typer
from offhours.cli.options import ConfigOpt, VerboseOpt, load_config, parse_now, setup_logging
from offhours.cli.output import err, out
from offhours.cli.schedule import review
from offhours.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

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
    from offhours.deploy.package import build_package

    countries = holiday_countries(cfg)
    err.print(
        f"building the Lambda package for {cfg.deploy.runtime}/{cfg.deploy.architecture} "
        f"(holiday names: {', '.join(countries) or 'none'}) …",
        markup=False,
    )
    return build_package(
        dest,
        runtime=cfg.deploy.runtime,
        architecture=cfg.deploy.architecture,
        find_links=find_links or (),
        no_index=no_index,
        holiday_countries=countries,
    )


def _code(
    cfg: Config, package: Path | None, find_links: Sequence[Path] | None, no_index: bool
) -> bytes:
    if package is not None:
        try:
            return package.read_bytes()
        except OSError as exc:
            raise ConfigError(f"--package {package}: cannot read ({exc.strerror})") from None
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


def _print_changes(changes: Sequence[Change], *, dry: bool) -> None:
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
            f"{result.files} files, sha256 {result.sha256}",
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


def _plan_or_apply(*, dry: bool, doc: str) -> Callable[..., None]:
    """The ``plan`` (``dry``) or ``apply`` command: the same options, the same steps."""

    def command(
        config: ConfigOpt = None,
        package: PackageOpt = None,
        find_links: FindLinksOpt = None,
        no_index: NoIndexOpt = False,
        secret_stdin: SecretStdinOpt = None,
        verbose: VerboseOpt = 0,
    ) -> None:
        setup_logging(verbose)

        def body() -> int:
            deployment = _deployment(config, package, find_links, no_index, secret_stdin)
            if dry:
                warn_budget(deployment.config, show_fit=False)
            _print_changes(deployment.plan() if dry else deployment.apply(), dry=dry)
            return EXIT_OK

        guarded(body)

    command.__doc__ = doc
    return command


plan = app.command("plan")(
    _plan_or_apply(
        dry=True, doc="Show exactly what `deploy apply` would create, change or leave alone."
    )
)
apply = app.command("apply")(
    _plan_or_apply(
        dry=False,
        doc="Create or update the role, key, encrypted config, function, alias and schedule.",
    )
)


@app.command("destroy")
def destroy(
    config: ConfigOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
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
    the state table is kept unless --delete-state."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.deploy.aws import Deployment

        cfg = load_config(config)
        if not yes and not dry_run:
            if not sys.stdin.isatty():
                raise ConfigError("destroy needs --yes when there is no terminal to confirm on")
            typer.confirm(f"Remove the deployment of {cfg.deploy.function_name!r}?", abort=True)
        changes = Deployment(cfg).destroy(dry=dry_run, delete_state=delete_state)
        _print_changes(changes, dry=dry_run)
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

        result = import_lambda_json(path)
        err.print(render_notes(result.notes), markup=False, end="")
        if write:
            target = config_path(config)
            write_deploy_section(target, result.toml, force=force)
            err.print(f"wrote [deploy] to {target}", markup=False)
        else:
            sys.stdout.write(result.toml)
        return EXIT_OK

    guarded(body)
