"""The one registry: a type word → a plugin class, which carries the model of its table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from offhours.config import parse_config
from offhours.errors import ConfigError
from offhours.notifiers.console import ConsoleNotifier, ConsoleNotifierConfig
from offhours.notifiers.slack.webhook import SlackNotifier, SlackNotifierConfig
from offhours.plugin import PluginConfig, SourceConfig
from offhours.registry import BUILTIN, builtin_names, config_model, load_plugin
from offhours.sources.ravello import RavelloSource, RavelloSourceConfig

RAVELLO = {"type": "ravello", "username": "env:U", "password": "env:P"}


@pytest.mark.parametrize(
    ("section", "kind", "cls", "model"),
    [
        ("sources", "ravello", RavelloSource, RavelloSourceConfig),
        ("notifiers", "slack", SlackNotifier, SlackNotifierConfig),
        ("notifiers", "console", ConsoleNotifier, ConsoleNotifierConfig),
    ],
)
def test_each_builtin_class_carries_its_config_model(
    section: str, kind: str, cls: type, model: type[PluginConfig]
) -> None:
    assert load_plugin(section, kind) is cls
    assert config_model(section, kind) is model
    assert cls.type == kind  # type: ignore[attr-defined]
    assert model.model_fields["type"].annotation.__args__ == (kind,)  # type: ignore[union-attr]


def test_every_builtin_is_listed_once() -> None:
    assert builtin_names("sources") == ["aws", "ravello"]
    assert builtin_names("notifiers") == ["console", "slack"]
    builtins = {k for names in BUILTIN.values() for k in names}
    assert builtins == {"aws", "ravello", "slack", "console"}


def test_cost_per_vm_hour_belongs_to_the_ravello_model() -> None:
    [source] = parse_config({"sources": [RAVELLO | {"cost_per_vm_hour": 0.5}]}).sources
    assert isinstance(source, RavelloSourceConfig)
    assert source.plugin_kwargs()["cost_per_vm_hour"] == 0.5
    # Another source prices its resources its own way, in its own model.
    assert "cost_per_vm_hour" not in SourceConfig.model_fields


def test_validating_a_config_imports_only_the_plugins_it_names() -> None:
    """The Lambda path loads what its configuration uses: no Slack code for a console run."""
    code = textwrap.dedent(
        f"""
        import sys
        from offhours.config import parse_config
        parse_config({{"sources": [{RAVELLO!r}], "notifiers": [{{"type": "console"}}]}})
        print(sorted(m for m in sys.modules if m.startswith("offhours.notifiers")))
        """
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['offhours.notifiers', 'offhours.notifiers.base', " + (
        "'offhours.notifiers.console']"
    )


NOT_A_SOURCE = """
from typing import Literal

from offhours.plugin import SourceConfig


class LooseConfig(SourceConfig):
    type: Literal["loose"]


class Loose:
    type = "loose"
    config_model = LooseConfig


class NoModel:
    pass
"""


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: str) -> None:
    """A third-party distribution as pip leaves it: a module and its entry points."""
    (tmp_path / "loose_plugin.py").write_text(NOT_A_SOURCE)
    info = tmp_path / "loose_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: loose-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize(
    ("entry_point", "expected"),
    [
        (
            "loose = loose_plugin:Loose",
            "sources[0].type: \"loose\" names loose_plugin:Loose (entry point 'loose' in group "
            "offhours.sources), which is not a class deriving from "
            "offhours.sources.base:Source; derive the plugin class from it",
        ),
        ("loose = loose_plugin:Missing", "which failed to load: AttributeError"),
        ("loose = loose_plugin:NoModel", "which is not a class deriving from"),
    ],
)
def test_a_third_party_class_that_is_not_a_plugin_is_refused_by_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_point: str, expected: str
) -> None:
    install(tmp_path, monkeypatch, f"[offhours.sources]\n{entry_point}\n")
    with pytest.raises(ConfigError) as info:
        parse_config({"sources": [{"type": "loose"}]})
    [problem] = info.value.problems
    assert expected in problem


def test_a_plugin_without_a_config_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(
        tmp_path, monkeypatch, "[offhours.notifiers]\nbare = offhours.notifiers.base:Notifier\n"
    )
    with pytest.raises(ConfigError, match="whose config_model is not a model deriving from"):
        parse_config({"sources": [RAVELLO], "notifiers": [{"type": "bare"}]})


def test_a_builtin_word_is_never_taken_by_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, "[offhours.sources]\nravello = loose_plugin:Loose\n")
    assert load_plugin("sources", "ravello") is RavelloSource
