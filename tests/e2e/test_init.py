"""`offhours init`: the file it writes from flags or answers (commented, loading, never a
secret), what it refuses, cancelling at a prompt; its pure checks; the shipped examples."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.cli.init import (
    EXAMPLES,
    Answers,
    check_country,
    check_reference,
    check_regions,
    check_url,
    check_zone,
    render,
    system_zone,
)
from offhours.config import load_config, parse_config
from tests.conftest import Run
from tests.terminal import on_a_terminal

pytestmark = pytest.mark.cli_in_process

ROOT = Path(__file__).resolve().parents[2]
CliRun = Callable[..., Run]

RAVELLO_FLAGS = (
    *("--source", "ravello", "--user", "env:RAVELLO_USER"),
    *("--password", "file:~/.config/offhours/ravello-password"),
    *("--slack-webhook", "env:SLACK_WEBHOOK_URL"),
    *("--timezone", "europe/london", "--country", "gb"),
)


# ---------------------------------------------------------------- with flags


def test_init_with_flags_writes_a_commented_file_that_loads_as_answered(
    cli: CliRun, tmp_path: Path
) -> None:
    run = cli("init", *RAVELLO_FLAGS)
    assert run.code == 0, run.stderr
    path = tmp_path / "offhours.toml"
    text = path.read_text()
    cfg = load_config(path)
    assert cfg.hours.timezone == "Europe/London"  # the canonical spelling
    assert cfg.hours.holidays.country == "GB"
    (source,) = cfg.sources
    assert source.type == "ravello"
    assert [str(r) for _, _, r in cfg.secret_refs()] == [
        "env:RAVELLO_USER",
        "file:~/.config/offhours/ravello-password",
        "env:SLACK_WEBHOOK_URL",
    ]
    # Comments survive, and say how secrets are given.
    assert "# Secrets are references, never values:" in text
    assert "IANA zone; DST is handled" in text
    assert "offhours init --example full" in text
    # The next steps: the variables to export, the file to fill, check and a dry run.
    assert "export RAVELLO_USER=… SLACK_WEBHOOK_URL=…" in run.stdout
    assert "chmod 600 ~/.config/offhours/ravello-password" in run.stdout
    assert "  offhours check\n" in run.stdout
    assert "  offhours audit --dry-run\n" in run.stdout
    assert cli("check").code == 0


def test_init_for_aws_and_the_console_names_regions_and_needs_no_secret(
    cli: CliRun, tmp_path: Path
) -> None:
    run = cli(
        "init",
        *("--source", "aws", "--regions", "eu-west-1, us-east-1,eu-west-1"),
        *("--channel", "console", "--timezone", "UTC", "-o", "aws.toml"),
    )
    assert run.code == 0, run.stderr
    cfg = load_config(tmp_path / "aws.toml")
    assert cfg.sources[0].type == "aws"
    assert cfg.sources[0].regions == ["eu-west-1", "us-east-1"]  # type: ignore[attr-defined]
    assert [n.type for n in cfg.notifiers] == ["console"]
    assert cfg.secret_refs() == []
    assert "export" not in run.stdout
    # Written elsewhere than the default: the next steps name the file.
    assert "offhours check --config aws.toml" in run.stdout


def test_init_defaults_the_zone_to_the_systems(cli: CliRun, tmp_path: Path) -> None:
    run = cli("init", "--source", "aws", "--channel", "console", env={"TZ": ":Asia/Tokyo"})
    assert run.code == 0, run.stderr
    assert load_config(tmp_path / "offhours.toml").hours.timezone == "Asia/Tokyo"


def test_init_refuses_to_overwrite_without_force(cli: CliRun, tmp_path: Path) -> None:
    path = tmp_path / "offhours.toml"
    path.write_text("# mine\n")
    run = cli("init", *RAVELLO_FLAGS)
    assert run.code == 2
    assert "offhours: error: offhours.toml already exists; keep it, or pass --force" in run.stderr
    assert path.read_text() == "# mine\n"
    forced = cli("init", *RAVELLO_FLAGS, "--force")
    assert forced.code == 0, forced.stderr
    assert load_config(path).sources


def test_init_takes_config_as_every_command_reads_it(cli: CliRun, tmp_path: Path) -> None:
    assert cli("init", *RAVELLO_FLAGS, "-c", "team.toml").code == 0
    assert cli("check", "-c", "team.toml").code == 0


def test_init_writes_where_offhours_config_points(cli: CliRun, tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    env = {"OFFHOURS_CONFIG": str(tmp_path / "conf" / "o.toml")}
    assert cli("init", *RAVELLO_FLAGS, env=env).code == 0
    assert (tmp_path / "conf" / "o.toml").is_file()
    assert cli("check", env=env).code == 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_init_example_writes_the_shipped_file_as_it_is(
    cli: CliRun, tmp_path: Path, name: str
) -> None:
    run = cli("init", "--example", name, "-o", "ex.toml")
    assert run.code == 0, run.stderr
    shipped = files("offhours").joinpath("examples", EXAMPLES[name]).read_text("utf-8")
    assert (tmp_path / "ex.toml").read_text() == shipped
    assert load_config(tmp_path / "ex.toml").sources
    assert "then: offhours check --config ex.toml" in run.stdout


def test_init_yes_takes_the_defaults_a_question_would(cli: CliRun, tmp_path: Path) -> None:
    run = cli("init", "--yes", "--timezone", "Europe/Paris")
    assert run.code == 0, run.stderr
    cfg = load_config(tmp_path / "offhours.toml")
    (source,) = cfg.sources
    assert source.type == "ravello"
    text = (tmp_path / "offhours.toml").read_text()
    for ref in ("env:RAVELLO_USER", "env:RAVELLO_PASSWORD", "env:SLACK_WEBHOOK_URL"):
        assert f'"{ref}"' in text
    assert "export RAVELLO_USER=… RAVELLO_PASSWORD=… SLACK_WEBHOOK_URL=…" in run.stdout


def test_init_warns_of_a_fixed_offset_zone_it_writes(cli: CliRun, tmp_path: Path) -> None:
    run = cli("init", *RAVELLO_FLAGS, "--timezone", "EST")
    assert run.code == 0, run.stderr
    assert "warning: offhours.toml: hours.timezone" in run.stderr
    assert "America/New_York" in run.stderr
    quiet = cli("init", *RAVELLO_FLAGS, "--timezone", "America/New_York", "--force")
    assert "warning" not in quiet.stderr


def test_the_full_examples_commented_deploy_section_loads_when_uncommented() -> None:
    text = files("offhours").joinpath("examples", EXAMPLES["full"]).read_text("utf-8")
    # What a user would enable: the section and its keys, not the brought-in ARNs (examples).
    start = text.index("# [deploy]\n")
    block = text[start:].split("\n\n", 1)[0].splitlines()
    kept = [line[2:] for line in block if not re.search(r"_arn|_topic", line)]
    cfg = parse_config(tomllib.loads(text[:start] + "\n".join(kept) + "\n"))
    assert cfg.deploy.digest_schedule == "cron(0 9 ? * MON *)"
    assert cfg.deploy.region == "us-east-1" and cfg.deploy.tags == {"team": "platform"}
    rollup = re.search(r"^# rollup_above = (\d+)", text, re.MULTILINE)
    assert rollup is not None
    assert cfg.notifiers[0].rollup_above == int(rollup.group(1))  # the default, as documented


def test_the_repository_examples_are_the_packaged_ones() -> None:
    """One copy of the truth: examples/*.toml are links to the files the package ships."""
    packaged = ROOT / "src" / "offhours" / "examples"
    for name in EXAMPLES.values():
        assert (ROOT / "examples" / name).resolve() == (packaged / name).resolve()
    assert sorted(p.name for p in packaged.glob("*.toml")) == sorted(EXAMPLES.values())


def test_the_full_example_and_the_readme_give_secrets_the_same_way() -> None:
    """README "Using it" exports what the full example reads: env: references."""
    example = tomllib.loads((ROOT / "examples" / "offhours.toml").read_text())
    readme = (ROOT / "README.md").read_text()
    for table in (*example["sources"], *example["notifiers"]):
        for key in ("username", "password", "webhook_url"):
            if key in table:
                scheme, _, name = table[key].partition(":")
                assert scheme == "env", (key, table[key])
                assert name in readme


# ---------------------------------------------------------------- asked


def test_init_asks_and_asks_again_until_each_answer_is_good(cli: CliRun, tmp_path: Path) -> None:
    answers = [
        "ravello",
        "",  # the default URL
        "env:RAVELLO_USER",
        "sentinel-password-pasted-1234",  # a value, not a reference: refused, never echoed
        "",  # the offered env:RAVELLO_PASSWORD
        "slack",
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "env:SLACK_WEBHOOK_URL",
        "Mars/Base",
        "america/new_york",
        "ZZ",
        "us",
    ]
    run = cli("init", "--interactive", stdin="\n".join(answers) + "\n")
    assert run.code == 0, run.stderr
    said = run.stdout + run.stderr
    assert "sentinel-password" not in said and "XXXXXXXXXXXX" not in said
    assert said.count("takes a reference to the secret, not the secret itself") == 2
    assert "'Mars/Base' is not a known time zone" in said
    assert "unknown country 'ZZ'" in said
    cfg = load_config(tmp_path / "offhours.toml")
    assert cfg.hours.timezone == "America/New_York"
    assert cfg.hours.holidays.country == "US"
    assert [str(r) for _, _, r in cfg.secret_refs()] == [
        "env:RAVELLO_USER",
        "env:RAVELLO_PASSWORD",
        "env:SLACK_WEBHOOK_URL",
    ]


def test_init_asks_only_what_the_flags_left_out(cli: CliRun, tmp_path: Path) -> None:
    run = cli(
        "init",
        *("--interactive", "--source", "aws", "--channel", "console", "--country", "none"),
        stdin="eu-central-1\nUTC\n",
    )
    assert run.code == 0, run.stderr
    assert "Source:" not in run.stderr and "Channel:" not in run.stderr
    cfg = load_config(tmp_path / "offhours.toml")
    assert cfg.sources[0].regions == ["eu-central-1"]  # type: ignore[attr-defined]
    assert cfg.hours.holidays.country is None


@pytest.mark.parametrize("answered", [0, 1, 4])
def test_end_of_input_at_a_prompt_cancels_and_writes_nothing(
    cli: CliRun, tmp_path: Path, answered: int
) -> None:
    stdin = "".join(f"{a}\n" for a in ["ravello", "", "env:U", "env:P"][:answered])
    run = cli("init", "--interactive", stdin=stdin)
    assert run.code == 130
    assert run.stderr.rstrip().endswith("offhours: cancelled; nothing was written")
    assert "Traceback" not in run.stderr and "Aborted" not in run.stderr
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the pure parts


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("env:RAVELLO_USER", True),
        ("file:~/.config/offhours/pw", True),
        ("ssm:/offhours/ravello/user", True),
        ("secretsmanager:offhours/slack#webhook_url", True),
        ("kms:AQICAHhEXAMPLE==", True),
        ("hunter2", False),
        ("https://hooks.slack.com/services/T00000000/B00000000/XXXX", False),
        ("env:https://hooks.slack.com/services/T00000000/B00000000/XXXX", False),
        ("env:", False),
        ("", False),
    ],
)
def test_check_reference(text: str, ok: bool) -> None:
    if ok:
        assert check_reference(f" {text} ", "the password") == text
    else:
        with pytest.raises(ValueError, match=r"^the password") as caught:
            check_reference(text, "the password")
        assert len(text) < 5 or text not in str(caught.value)  # never echoed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("us-east-1", ["us-east-1"]),
        (" eu-west-1 ,us-east-1  eu-west-1", ["eu-west-1", "us-east-1"]),
        ("ALL", "all"),
        ("us-gov-west-1", ["us-gov-west-1"]),
        ("moon-1", ValueError),
        (" , ", ValueError),
    ],
)
def test_check_regions(text: str, expected: object) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError, match="region"):
            check_regions(text)
    else:
        assert check_regions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("gb", "GB"), (" US ", "US"), ("none", None), ("", None), ("XX", ValueError)],
)
def test_check_country(text: str, expected: object) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError, match="unknown country 'XX'"):
            check_country(text)
    else:
        assert check_country(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https://ravello.example.com/api/v1", None),
        ("http://127.0.0.1:8080/api/v1", None),
        ("http://ravello.example.com/api/v1", "plain http"),
        ("ftp://ravello.example.com", "is not an http(s) URL"),
        ("https://user:pw@ravello.example.com", "the URL has credentials"),
        ("https://a b", "space"),
    ],
)
def test_check_url(text: str, fragment: str | None) -> None:
    if fragment is None:
        assert check_url(text) == text
    else:
        with pytest.raises(ValueError, match=re.escape(fragment)) as caught:
            check_url(text)
        assert "pw@" not in str(caught.value)


def test_check_zone_spells_the_zone_as_iana_does_and_suggests() -> None:
    assert check_zone("europe.london") == "Europe/London"
    with pytest.raises(ValueError, match="did you mean Europe/London"):
        check_zone("Europe/Londn")


@pytest.mark.parametrize(
    ("tz", "link", "file", "expected"),
    [
        ("Europe/Paris", None, None, "Europe/Paris"),
        (":America/New_York", None, None, "America/New_York"),
        ("/usr/share/zoneinfo/Asia/Tokyo", None, None, "Asia/Tokyo"),
        ("EST5EDT,M3.2.0,M11.1.0", "zoneinfo/Europe/Berlin", None, "Europe/Berlin"),
        ("", "zoneinfo/Etc/UTC", None, "UTC"),
        ("", "var/db/timezone/zoneinfo/Australia/Sydney", None, "Australia/Sydney"),
        ("", None, "Europe/Madrid\n", "Europe/Madrid"),
        ("", "zoneinfo/Not/AZone", "garbage", None),
        ("", None, None, None),
    ],
)
def test_system_zone(
    tmp_path: Path, tz: str, link: str | None, file: str | None, expected: str | None
) -> None:
    localtime = tmp_path / "localtime"
    if link is not None:
        target = tmp_path / link
        target.parent.mkdir(parents=True)
        target.write_bytes(b"TZif")
        localtime.symlink_to(target)
    timezone_file = tmp_path / "timezone"
    if file is not None:
        timezone_file.write_text(file)
    assert system_zone({"TZ": tz}, localtime, timezone_file) == expected


def test_a_copied_localtime_is_not_read_as_a_name(tmp_path: Path) -> None:
    (tmp_path / "localtime").write_bytes(b"TZif")  # a copy (containers), not a link
    assert system_zone({}, tmp_path / "localtime", tmp_path / "none") is None


_REFS = st.sampled_from(
    ["env:RAVELLO_USER", "file:pw.txt", "ssm:/o/u", "secretsmanager:o/s#k", "kms:AQIC=="]
)


@given(
    source=st.sampled_from(["ravello", "aws"]),
    user=_REFS,
    password=_REFS,
    webhook=_REFS,
    channel=st.sampled_from(["slack", "console"]),
    zone=st.sampled_from(["UTC", "Europe/London", "America/Argentina/Buenos_Aires"]),
    country=st.sampled_from([None, "US", "DE", "JP"]),
    regions=st.one_of(
        st.none(),
        st.just("all"),
        st.lists(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-2"]), min_size=1),
    ),
    url=st.sampled_from(["https://cloud.ravellosystems.com/api/v1", 'https://r.example/"q\\']),
)
def test_every_rendering_loads_and_says_what_was_answered(
    source: str,
    user: str,
    password: str,
    webhook: str,
    channel: str,
    zone: str,
    country: str | None,
    regions: list[str] | str | None,
    url: str,
) -> None:
    answers = Answers(
        source=source,
        ravello_url=url,
        user=user,
        password=password,
        regions=regions,
        channel=channel,
        webhook=webhook,
        timezone=zone,
        country=country,
    )
    text = render(answers)
    data = tomllib.loads(text)
    cfg = parse_config(data)
    assert cfg.hours.timezone == zone
    assert cfg.hours.holidays.country == country
    table = data["sources"][0]
    if source == "ravello":
        assert (table["base_url"], table["username"], table["password"]) == (url, user, password)
    else:
        assert table.get("regions") == regions
    assert data["notifiers"][0]["type"] == channel
    assert data["notifiers"][0].get("webhook_url") == (webhook if channel == "slack" else None)
    assert "# Secrets are references, never values:" in text


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_at_a_terminal_init_asks_without_being_told(tmp_path: Path) -> None:
    """stdin a terminal and no answer given: the questions, as a newcomer sees them."""
    run = on_a_terminal(tmp_path, "aws\nus-west-2\nconsole\nAsia/Tokyo\nJP\n", "init")
    assert run.code == 0, run.stderr
    assert "Source: ravello or aws [ravello]" in run.stderr
    cfg = load_config(tmp_path / "offhours.toml")
    assert cfg.sources[0].regions == ["us-west-2"]  # type: ignore[attr-defined]
    assert (cfg.hours.timezone, cfg.hours.holidays.country) == ("Asia/Tokyo", "JP")
