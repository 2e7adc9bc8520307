"""Help in one style: metavars in words, arguments without type names, ranges in English.

typer ≥ 0.26 (which vendors click) shows an option without a metavar as ``<str>``,
``<list[Path]>`` or ``<int range>``, a required argument as ``{key}`` and an argument's type
beside its name; no setting turns that off. :class:`Typer` makes every command a
:class:`Command`, which fills the missing metavars with words and renders arguments as
``KEY`` / ``[KEY]`` the way click did. Options should still name their metavar (``FILE``,
``TIME``, ``N``); the words here are the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption
from typer.models import CommandFunctionType

if TYPE_CHECKING:
    # typer's vendored click: its types, for the overrides' signatures only.
    from typer._click import Context, HelpFormatter

__all__ = ["Command", "Typer", "in_words"]

_RANGES = (
    (re.compile(r"(?<![\w.])(-?[\d.]+)<=x<=(-?[\d.]+)"), r"\1 to \2"),
    (re.compile(r"(?<![\w.])x>=(-?[\d.]+)"), r"\1 or more"),
    (re.compile(r"(?<![\w.])x<=(-?[\d.]+)"), r"at most \1"),
)


def in_words(text: str) -> str:
    """typer's ``1<=x<=100`` / ``x>=1`` as ``1 to 100`` / ``1 or more``."""
    for pattern, words in _RANGES:
        text = pattern.sub(words, text)
    return text


def _metavar(param: TyperOption | TyperArgument) -> str:
    choices = param.type_descriptor.choices
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    return (param.name or "value").upper()


class Command(TyperCommand):
    """A typer command whose help has no Python type names in it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if not isinstance(param, TyperOption | TyperArgument):
                continue
            flag = isinstance(param, TyperOption) and (param.is_flag or param.count)
            if param.metavar is None and not flag:
                param.metavar = _metavar(param)
            if flag:
                # `[default: 0]` on -v, `[default: False]` on a flag: nothing a reader needs.
                param.show_default = False

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or (param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
        return pieces

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            name, text = record
            if isinstance(param, TyperArgument):
                # typer adds the type after the name (`KEY <str>`): the name says enough.
                arguments.append((param.metavar or name.split(" ")[0], in_words(text)))
            else:
                options.append((name, in_words(text)))
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class Typer(typer.Typer):
    """``typer.Typer`` whose commands are :class:`Command` unless told otherwise."""

    def command(
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=cls or Command, **kwargs)
