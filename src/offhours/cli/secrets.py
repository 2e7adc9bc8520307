"""``secrets encrypt`` and ``secrets check``: kms: references made, and every reference tried."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from offhours.cli import EXIT_OK, EXIT_USAGE
from offhours.cli.exits import guarded
from offhours.cli.help import Typer
from offhours.cli.options import ConfigOpt, VerboseOpt, load_config, setup_logging
from offhours.cli.output import err, out
from offhours.errors import ConfigError
from offhours.untrusted import lines

__all__ = ["app"]

app = Typer(
    help="Encrypt secrets for offhours.toml and check that every reference resolves.",
    no_args_is_help=True,
)


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


@app.command("encrypt")
def encrypt(
    key: Annotated[str, typer.Option(metavar="KEY", help="KMS key: alias/NAME, key id or ARN")],
    context: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Encryption context KEY=VALUE (repeatable); must match [secrets.kms]",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="AWS region [default: AWS_REGION]")
    ] = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Encrypt a secret read from stdin (or a hidden prompt) and print a kms: reference."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.secrets.aws import encrypt

        pairs = _context_pairs(context or [])
        reference = encrypt(_read_plaintext(), key=key, context=pairs, region=region)
        out.print(reference, markup=False, soft_wrap=True)
        if pairs:
            shown = ", ".join(f'{k} = "{v}"' for k, v in pairs.items())
            err.print(f"Decrypts only with [secrets.kms] context = {{ {shown} }}", markup=False)
        return EXIT_OK

    guarded(body)


@app.command("check")
def check(config: ConfigOpt = None, verbose: VerboseOpt = 0) -> None:
    """Resolve every secret reference in the config; show which resolve, never their values."""
    setup_logging(verbose)

    def body() -> int:
        from offhours.errors import SecretError
        from offhours.secrets import Resolver

        cfg = load_config(config)
        resolver = Resolver(cfg.secret_settings())
        failed = 0
        refs = cfg.secret_refs()
        for _, _, ref in refs:
            try:
                secret = resolver.resolve(ref)
            except SecretError as exc:
                failed += 1
                out.print(f"✗ {lines(str(exc))}", markup=False)
            else:
                out.print(f"✓ {ref.where}: {ref} → {secret.redacted()}", markup=False)
        for where in cfg.plaintext_secrets():
            err.print(f"warning: {where} holds a plaintext secret", markup=False)
        out.print(f"{len(refs) - failed} of {len(refs)} references resolve.", markup=False)
        return EXIT_USAGE if failed else EXIT_OK

    guarded(body)
