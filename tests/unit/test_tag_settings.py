"""The [tags] settings that keep exemptions honest: max_exemption_days and allow_always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offhours.config import load_config
from offhours.errors import ConfigError
from offhours.model import Resource
from offhours.policy import decide

MINIMAL = """
[[sources]]
type = "ravello"
username = "env:RU"
password = "env:RP"
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "offhours.toml"
    path.write_text(text + MINIMAL, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(
    ("toml", "max_days", "allow"),
    [
        ("", 30, True),
        ("[tags]\nmax_exemption_days = 7\n", 7, True),
        ("[tags]\nallow_always = false\n", 30, False),
        ("[tags]\nmax_exemption_days = 3650\nallow_always = true\n", 3650, True),
    ],
)
def test_the_settings_reach_the_policy(
    tmp_path: Path, toml: str, max_days: int, allow: bool
) -> None:
    policy = _load(tmp_path, toml).policy()  # type: ignore[attr-defined]
    assert policy.max_exemption == timedelta(days=max_days)
    assert policy.allow_always is allow


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[tags]\nmax_exemption_days = 0\n", "tags.max_exemption_days: 0"),
        ("[tags]\nmax_exemption_days = 100000\n", "tags.max_exemption_days: 100000"),
        ('[tags]\nmax_exemption_days = "30"\n', "tags.max_exemption_days"),
        ('[tags]\nallow_always = "no"\n', "tags.allow_always"),
        ("[tags]\nmax_exemptions_days = 3\n", "tags.max_exemptions_days: unknown key"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, toml)
    assert any(expected in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    ("tag", "refused"),
    [
        ("always", True),
        ("Mon-Sun 00:00-23:59", True),
        ("Mon-Sun 00:01-24:00", True),
        ("Mon-Sun 01:01-24:00", False),
    ],
)
def test_allow_always_false_refuses_near_always_schedules(
    tmp_path: Path, tag: str, refused: bool
) -> None:
    policy = _load(tmp_path, "[tags]\nallow_always = false\n").policy()  # type: ignore[attr-defined]
    resource = Resource(
        provider="ravello", source="lab", id="a", name="a", running=1, tags={"offhours": tag}
    )
    d = decide(resource, policy, datetime(2026, 6, 3, 21, 0, tzinfo=UTC))
    assert (d.flagged, any("allow_always = false" in p for p in d.problems)) == (refused, refused)
