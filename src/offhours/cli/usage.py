"""Running the command tree as ``offhours``: usage errors in the one error style.

Click's style (``Usage: … Try 'offhours -h' for help.`` then ``Error: Invalid value for
'--count': Input should be a valid integer…``) becomes::

    offhours: error: --count 'abc' is not a whole number
    Run 'offhours schedule -h' for help.

Exit codes stay as they were: 2 for usage, the command's own code otherwise, 130 when a
prompt is cancelled with Ctrl-C or Ctrl-D.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer

# typer ≥ 0.26 vendors click: its exceptions are typer's, not the click package's.
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    ClickException,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)
from typer.core import TyperArgument, TyperOption

from offhours.cli import EXIT_USAGE
from offhours.cli.exits import EXIT_CANCELLED
from offhours.cli.output import err

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["describe", "run"]

_NO_COMMAND = re.compile(r"No such command '(?P<name>.*)'\.(?: Did you mean (?P<close>.*)\?)?")


def run(app: typer.Typer, args: Sequence[str]) -> int:
    """Run ``offhours ARGS``; return the exit code, having said what went wrong if anything."""
    command = typer.main.get_command(app)
    try:
        code = command.main(list(args), prog_name="offhours", standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `offhours` or `offhours deploy` alone: the help
        exc.show()
        return exc.exit_code
    except UsageError as exc:
        _print(describe(exc))
        where = exc.ctx.command_path if exc.ctx is not None else _path(command, args)
        err.print(f"Run '{where} -h' for help.", markup=False)
        return EXIT_USAGE
    except ClickException as exc:
        _print(_sentence(exc.format_message()))
        return exc.exit_code
    except typer.Abort as exc:
        # A prompt answered no, or left with Ctrl-C / Ctrl-D (click raises Abort for both).
        err.print("offhours: cancelled", markup=False)
        interrupted = isinstance(exc.__context__, KeyboardInterrupt | EOFError)
        return EXIT_CANCELLED if interrupted else 1
    return code if isinstance(code, int) else 0


def describe(exc: UsageError) -> str:
    """A usage error in plain words, without click's or pydantic's phrasing."""
    if isinstance(exc, NoSuchOption):
        close = " or ".join(sorted(exc.possibilities or ()))
        return f"no such option {exc.option_name}" + (f" (did you mean {close}?)" if close else "")
    if isinstance(exc, MissingParameter) and exc.param is not None:
        param = exc.param
        what = "argument" if isinstance(param, TyperArgument) else "option"
        about = _sentence(getattr(param, "help", None) or "") or _choice_words(param)
        return f"missing {what} {_name(param)}" + (f" ({about})" if about else "")
    if isinstance(exc, BadParameter) and exc.param is not None:
        return _bad_value(exc, _name(exc.param))
    if isinstance(exc, BadOptionUsage) and "requires" in exc.message:
        return f"{exc.option_name} needs a value"
    found = _NO_COMMAND.fullmatch(exc.message)
    if found:
        close = found["close"]
        hint = f" (did you mean {close.replace(chr(39), '')}?)" if close else ""
        return f"no such command '{found['name']}'{hint}"
    return _sentence(exc.message)


def _path(command: Any, args: Sequence[str]) -> str:
    """``offhours deploy plan`` from the arguments, for errors that come without a context."""
    path = ["offhours"]
    for token in args:
        commands = getattr(command, "commands", None)
        if not commands or token not in commands:
            if not token.startswith("-"):
                break
            continue
        command = commands[token]
        path.append(token)
    return " ".join(path)


def _name(param: Any) -> str:
    """``--count`` for an option (its longest name), ``KEY`` for an argument."""
    if isinstance(param, TyperOption) and param.opts:
        return max(param.opts, key=len)
    if isinstance(param, TyperArgument):
        return param.metavar or (param.name or "").upper()
    return str(param.name or "value")


def _choice_words(param: Any) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    choices = descriptor.choices if descriptor is not None else None
    return ", ".join(str(getattr(c, "value", c)) for c in choices) if choices else ""


def _bad_value(exc: BadParameter, name: str) -> str:
    """What is wrong with the value, from the validation error typer raised it from."""
    param = exc.param
    # typer validates values with pydantic: its error says which check failed, on what input.
    errors: list[Any] = getattr(exc.__cause__, "errors", list)()
    if not errors:
        return f"{name}: " + _sentence(exc.message).removeprefix("value error, ")
    first = errors[0]
    given = str(first.get("input"))
    shown = given if given.isprintable() and given and " " not in given else repr(given)
    kind = str(first.get("type", ""))
    choices = _choice_words(param)
    if choices:
        return f"{name} {shown} is not one of: {choices}"
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return f"{name} {shown} is not a whole number"
    if kind in {"float_parsing", "float_type", "finite_number"}:
        return f"{name} {shown} is not a number"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return f"{name} must be {_limits(param)}, not {shown}"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{name} {shown} is not true or false"
    return f"{name} {shown} is not a valid value"


def _limits(param: Any) -> str:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"from {low} to {high}"
    return f"{low} or more" if low is not None else f"at most {high}"


def _sentence(message: str) -> str:
    """click's ``Capitalised message.`` as a clause after ``offhours: error:`` (``KMS`` kept)."""
    text = message.strip().rstrip(".")
    word = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if word[1:] == word[1:].lower() else text


def _print(message: str) -> None:
    from offhours.untrusted import lines

    # Option names and values come from the command line: no escape sequence gets through.
    err.print(f"offhours: error: {lines(message)}", markup=False)
