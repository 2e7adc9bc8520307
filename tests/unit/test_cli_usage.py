"""``offhours.cli.usage.run``: how a command's way out becomes an exit code and one line."""

from __future__ import annotations

import pytest
import typer

from offhours.cli.exits import guarded
from offhours.cli.help import Typer
from offhours.cli.usage import run


def app_that(raises: BaseException | None, code: int = 0) -> Typer:
    app = Typer()

    @app.command()
    def go() -> None:
        def body() -> int:
            if raises is not None:
                raise raises
            return code

        guarded(body)

    @app.command()
    def other() -> None:  # two commands: `go` is a subcommand, as in offhours
        """Nothing."""

    return app


def _confirm_then(error: type[BaseException]) -> BaseException:
    try:
        try:
            raise error
        except (EOFError, KeyboardInterrupt):
            raise typer.Abort() from None  # as click's prompts do
    except typer.Abort as abort:
        return abort


@pytest.mark.parametrize(
    ("raises", "code", "said"),
    [
        (None, 0, ""),
        (EOFError(), 130, "offhours: cancelled\n"),  # Ctrl-D at getpass, inside a command
        (KeyboardInterrupt(), 130, "offhours: interrupted\n"),
        (_confirm_then(EOFError), 130, "offhours: cancelled\n"),  # Ctrl-D at typer.confirm
        (_confirm_then(KeyboardInterrupt), 130, "offhours: cancelled\n"),
        (typer.Abort(), 1, "offhours: cancelled\n"),  # confirm(abort=True) answered no
        (typer.Exit(4), 4, ""),
    ],
)
def test_ways_out(
    capsys: pytest.CaptureFixture[str], raises: BaseException | None, code: int, said: str
) -> None:
    assert run(app_that(raises), ["go"]) == code
    captured = capsys.readouterr()
    assert captured.err == said
    assert "Traceback" not in captured.out + captured.err


def test_a_command_code_is_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(app_that(None, code=3), ["go"]) == 3
    assert run(app_that(None), ["go", "--help"]) == 0
    assert "Usage: offhours go" in capsys.readouterr().out
