"""Every command's help, rendered as `offhours … -h` prints it: words, never Python types."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer

from offhours.cli.app import app
from offhours.cli.help import in_words
from tests.conftest import Run

pytestmark = pytest.mark.cli_in_process

CliRun = Callable[..., Run]

# What typer ≥ 0.26 shows for an option or argument without a metavar, and Python's types.
FORBIDDEN = ("<list[", "<str>", "<int", "<float", "<path>", "<bool", "list[", "Path]", "<uuid")
# A metavar in braces ({key}, {expression}): the usage line or the left column of a row.
BRACED = re.compile(r"\{[a-zA-Z_]+\}")
NO_INFORMATION = ("[default: 0]", "[default: False]", "[default: None]")


def commands(
    command: Any = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the tree, with the words that reach it."""
    command = command or typer.main.get_command(app)
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


ALL = list(commands())
LEAVES = [(path, c) for path, c in ALL if not hasattr(c, "commands")]


def ids(path: tuple[str, ...]) -> str:
    return " ".join(path) or "offhours"


def test_the_tree_is_walked_whole() -> None:
    names = {ids(p) for p, _ in ALL}
    assert {"audit", "state export", "deploy plan", "secrets encrypt", "schedule"} <= names


@pytest.mark.parametrize(("path", "command"), ALL, ids=[ids(p) for p, _ in ALL])
def test_help_has_no_python_types_in_it(cli: CliRun, path: tuple[str, ...], command: Any) -> None:
    run = cli(*path, "-h")
    assert run.code == 0, run.stderr
    text = run.stdout
    assert text.startswith(f"Usage: offhours {' '.join(path)}".rstrip())
    for bad in FORBIDDEN:
        assert bad not in text, f"{bad!r} in the help of {ids(path)}:\n{text}"
    assert not BRACED.search(text), text
    for noise in NO_INFORMATION:
        assert noise not in text, text
    assert "<=x" not in text and "x>=" not in text, "ranges read in words"


@pytest.mark.parametrize(("path", "command"), ALL, ids=[ids(p) for p, _ in ALL])
def test_every_option_and_argument_is_described(path: tuple[str, ...], command: Any) -> None:
    for param in command.params:
        assert (param.help or "").strip(), f"{ids(path)}: {param.name} has no help text"
        if param.param_type_name == "option" and not (param.is_flag or param.count):
            metavar = param.metavar or ""
            assert metavar and not metavar.startswith("<"), f"{ids(path)} {param.opts}"


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[ids(p) for p, _ in LEAVES])
def test_every_command_takes_verbose(path: tuple[str, ...], command: Any) -> None:
    opts = {o for param in command.params for o in getattr(param, "opts", ())}
    assert {"-v", "--verbose"} <= opts, ids(path)


# What the README says: every command that reads the config takes -c/--config; these don't.
WITHOUT_CONFIG = {"schedule", "schema", "demo", "secrets encrypt"}


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[ids(p) for p, _ in LEAVES])
def test_commands_reading_the_config_take_config(path: tuple[str, ...], command: Any) -> None:
    opts = {o for param in command.params for o in getattr(param, "opts", ())}
    assert ({"-c", "--config"} <= opts) is (ids(path) not in WITHOUT_CONFIG), ids(path)


def test_format_is_one_vocabulary() -> None:
    """--format: the same choices (text|json, and slack where Block Kit is an output), the
    same wording, wherever it appears (deploy export's templates are another thing)."""
    seen = {}
    for path, command in LEAVES:
        for param in command.params:
            if "--format" in getattr(param, "opts", ()) and path[:1] != ("deploy",):
                seen[ids(path)] = (param.metavar, param.help.split(" [")[0])
    assert set(seen) >= {"audit", "explain", "restore", "incidents", "digest"}
    for name, (metavar, text) in seen.items():
        assert metavar in {"text|json", "text|json|slack"}, name
        assert text.startswith("Print as text (for people) or json (for scripts)"), name


@pytest.mark.parametrize(
    ("typer_says", "words"),
    [
        ("[default: 5; 1<=x<=100]", "[default: 5; 1 to 100]"),
        ("[x>=1]", "[1 or more]"),
        ("[0.1<=x<=86400]", "[0.1 to 86400]"),
        ("[x<=7]", "[at most 7]"),
        ("[-1<=x<=1]", "[-1 to 1]"),
        ("box<=x", "box<=x"),
    ],
)
def test_ranges_in_words(typer_says: str, words: str) -> None:
    assert in_words(typer_says) == words


def test_arguments_read_as_click_showed_them(cli: CliRun) -> None:
    required = cli("resolve", "-h").stdout
    assert "Usage: offhours resolve [OPTIONS] KEY\n" in required
    assert re.search(r"^  KEY +A resource or incident key", required, re.MULTILINE)
    optional = cli("restore", "-h").stdout
    assert "Usage: offhours restore [OPTIONS] [KEY]\n" in optional


def test_the_readme_names_the_commands_without_config() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    found = re.search(r"config \(all but ([^)]*)\) takes `-c`/`--config FILE`", readme)
    assert found, "the README says which commands take --config"
    assert set(re.findall(r"`([a-z ]+)`", found.group(1))) == WITHOUT_CONFIG
