"""Plugins by the word users write: built-ins are a lazy name → "module:Class" map; third-party
ones come from the entry-point groups ``offhours.sources`` / ``offhours.notifiers``, read only
when a name is not built in (scanning entry points costs every start, a Lambda cold start too).

A third-party plugin class exposes ``config_model`` (a pydantic model with ``type`` and
``name`` fields) and takes ``name`` plus that model's other fields as keyword arguments.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from offhours.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["BUILTIN", "load_plugin", "plugin_config_model"]

BUILTIN: dict[str, dict[str, str]] = {
    "sources": {"ravello": "offhours.sources.ravello:RavelloSource"},
    "notifiers": {
        "slack": "offhours.notifiers.slack.webhook:SlackNotifier",
        "console": "offhours.notifiers.console:ConsoleNotifier",
    },
}


def _entry_point(section: str, kind: str) -> Any:
    group = f"offhours.{section}"
    for ep in entry_points(group=group):
        if ep.name == kind:
            try:
                return ep.load()
            except Exception as exc:
                raise ConfigError(
                    f"plugin {kind!r} (entry point {ep.value} in group {group}) failed to "
                    f"load: {type(exc).__name__}: {exc}"
                ) from exc
    return None


def _unknown(section: str, kind: str, builtin: Mapping[str, object]) -> ConfigError:
    known = ", ".join(sorted(builtin))
    return ConfigError(
        f"is not a known {section[:-1]} type; built in: {known} "
        f"(third-party ones register under the entry-point group offhours.{section})"
    )


def plugin_config_model(
    section: str, kind: str, builtin: Mapping[str, type[BaseModel]]
) -> type[Any]:
    """The pydantic model that validates a ``[[section]]`` table of ``type = kind``."""
    if kind in builtin:
        return builtin[kind]
    cls = _entry_point(section, kind)
    model = getattr(cls, "config_model", None)
    if model is None:
        raise _unknown(section, kind, builtin)
    return model  # type: ignore[no-any-return]


def load_plugin(section: str, kind: str) -> Any:
    """The class implementing ``type = kind`` in ``section`` ("sources" or "notifiers")."""
    target = BUILTIN[section].get(kind)
    if target is None:
        cls = _entry_point(section, kind)
        if cls is None:
            raise _unknown(section, kind, BUILTIN[section])
        return cls
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
