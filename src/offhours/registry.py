"""Plugins by the word users write: the one place where ``type = "…"`` becomes a class.

Built-ins are a name → ``"module:Class"`` map, imported only when a configuration names them
(the Lambda path loads the plugins its configuration uses, no others). Third-party plugins
register under the entry-point groups ``offhours.sources`` / ``offhours.notifiers``, read only
when a name is not built in (scanning entry points costs every start, a Lambda cold start too)::

    [project.entry-points."offhours.sources"]
    example = "offhours_example_source:ExampleSource"

A plugin class derives from :class:`~offhours.sources.base.Source` or
:class:`~offhours.notifiers.base.Notifier` and carries its ``config_model`` (see
:mod:`offhours.plugin`): config validation asks :func:`config_model`, a run :func:`load_plugin`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import EntryPoint, entry_points

from offhours.errors import ConfigError
from offhours.plugin import Plugin, PluginConfig

__all__ = ["BUILTIN", "builtin_models", "builtin_names", "config_model", "load_plugin"]

#: section → type word → "module:Class"
BUILTIN: dict[str, dict[str, str]] = {
    "sources": {
        "ravello": "offhours.sources.ravello:RavelloSource",
        "aws": "offhours.sources.aws:AwsSource",
    },
    "notifiers": {
        "slack": "offhours.notifiers.slack.webhook:SlackNotifier",
        "console": "offhours.notifiers.console:ConsoleNotifier",
    },
}

#: the class every plugin of a section derives from, as "module:Class"
_BASES = {
    "sources": "offhours.sources.base:Source",
    "notifiers": "offhours.notifiers.base:Notifier",
}


def _import(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _group(section: str) -> str:
    return f"offhours.{section}"


def _entry_point(section: str, kind: str) -> EntryPoint | None:
    return next((ep for ep in entry_points(group=_group(section)) if ep.name == kind), None)


def _unknown(section: str, kind: str) -> ConfigError:
    from offhours.config_problems import close_match

    # Only on this error path are the installed third-party words read (each costs a scan).
    words = [*BUILTIN[section], *(ep.name for ep in entry_points(group=_group(section)))]
    close = close_match(kind.lower(), words)
    builtin = f"built in: {', '.join(builtin_names(section))}"
    third = f"third-party ones register under the entry-point group {_group(section)}"
    if close:
        return ConfigError(
            f"is not a known {section[:-1]} type; did you mean {close}? ({builtin}; {third})"
        )
    return ConfigError(f"is not a known {section[:-1]} type; {builtin} ({third})")


def _checked(section: str, found: object, where: str) -> type[Plugin]:
    """``found`` if it is a plugin class of ``section`` with a config model, else why not."""
    base = _import(_BASES[section])
    assert isinstance(base, type)
    if not (isinstance(found, type) and issubclass(found, base) and issubclass(found, Plugin)):
        raise ConfigError(
            f"names {where}, which is not a class deriving from {_BASES[section]}; "
            "derive the plugin class from it"
        )
    model = getattr(found, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, PluginConfig)):
        raise ConfigError(
            f"names {where}, whose config_model is not a model deriving from "
            "offhours.plugin.PluginConfig; give the class one (config_model = …)"
        )
    return found


def builtin_names(section: str) -> list[str]:
    """The type words of ``section``'s built-in plugins, sorted."""
    return sorted(BUILTIN[section])


def load_plugin(section: str, kind: str) -> type[Plugin]:
    """The class implementing ``type = kind`` in ``section`` ("sources" or "notifiers").

    Raises ConfigError, worded to follow the type word, when there is none or it is not a
    plugin class."""
    target = BUILTIN[section].get(kind)
    if target is not None:
        return _checked(section, _import(target), target)
    ep = _entry_point(section, kind)
    if ep is None:
        raise _unknown(section, kind)
    where = f"{ep.value} (entry point {kind!r} in group {ep.group})"
    try:
        found = ep.load()
    except Exception as exc:  # third-party code: any failure is its own
        raise ConfigError(
            f"names {where}, which failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return _checked(section, found, where)


def config_model(section: str, kind: str) -> type[PluginConfig]:
    """The model that validates a ``[[section]]`` table of ``type = kind``."""
    return load_plugin(section, kind).config_model


def builtin_models(section: str) -> list[type[PluginConfig]]:
    """The config models of ``section``'s built-in plugins (for the JSON Schema)."""
    return [config_model(section, kind) for kind in BUILTIN[section]]
