"""Tags written in a Ravello description: one line per tag; a tag written twice is a problem."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.sources.ravello import parse_description_tags, read_description_tags


@pytest.mark.parametrize(
    ("description", "tags", "problems"),
    [
        ("offhours: always", {"offhours": "always"}, ()),
        ("offhours: always\nteam=emea", {"offhours": "always", "team": "emea"}, ()),
        # two lines that disagree: neither wins
        (
            "offhours: Mon-Fri 08:00-18:00\nnotes\noffhours: always",
            {},
            (
                "tag offhours is written on 2 lines of the description with different values "
                '("Mon-Fri 08:00-18:00", "always"); neither is used: keep one line',
            ),
        ),
        (
            "offhours-exempt: until 2026-12-01\nteam: a\noffhours-exempt=until 9999-12-30",
            {"team": "a"},
            (
                "tag offhours-exempt is written on 2 lines of the description with different "
                'values ("until 2026-12-01", "until 9999-12-30"); neither is used: keep one line',
            ),
        ),
        # three lines, two values: each value named once
        (
            "k=a\nk=b\nk=a",
            {},
            (
                "tag k is written on 3 lines of the description with different values "
                '("a", "b"); neither is used: keep one line',
            ),
        ),
        # the same value twice: used, still reported
        (
            "offhours: never\noffhours:never",
            {"offhours": "never"},
            ("tag offhours is written on 2 lines of the description; keep one",),
        ),
        # case variants are different keys here; the policy judges them (neither wins there)
        ("Offhours: always\noffhours: never", {"Offhours": "always", "offhours": "never"}, ()),
        # a long value is clipped in the problem, not in the tag
        (
            f"k={'x' * 60}\nk=y",
            {},
            (
                "tag k is written on 2 lines of the description with different values "
                f'("{"x" * 39}…", "y"); neither is used: keep one line',
            ),
        ),
        (None, {}, ()),
    ],
)
def test_read_description_tags(
    description: str | None, tags: dict[str, str], problems: tuple[str, ...]
) -> None:
    assert read_description_tags(description) == (tags, problems)
    assert parse_description_tags(description) == tags


_KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_VALUES = st.from_regex(r"[A-Za-z0-9 :-]{1,20}", fullmatch=True).map(str.strip).filter(bool)


@given(_KEYS, st.lists(_VALUES, min_size=2, max_size=5), st.lists(_VALUES, max_size=3))
def test_a_tag_written_twice_never_lets_one_line_win(
    key: str, values: list[str], other: list[str]
) -> None:
    description = "\n".join(
        [f"{key}: {v}" for v in values] + [f"other-{i}: {v}" for i, v in enumerate(other)]
    )
    tags, problems = read_description_tags(description)
    assert len(problems) == 1
    assert problems[0].startswith(f"tag {key} is written on {len(values)} lines")
    if len(set(values)) > 1:
        assert key not in tags
    else:
        assert tags[key] == values[0]
    assert {k: v for k, v in tags.items() if k != key} == {
        f"other-{i}": v for i, v in enumerate(other)
    }
