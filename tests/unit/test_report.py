"""The report and its channel-neutral renderers, text and JSON; the Slack rendering where it
meets them (external text, exempt lines). Pure, no network."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.hours import HolidayCalendar, parse_schedule
from offhours.model import Decision, Resource, SourceFailure
from offhours.notifiers.console import ConsoleNotifier
from offhours.notifiers.slack import render_slack
from offhours.policy import Policy, decide
from offhours.report import (
    JSON_VERSION,
    render_json,
    render_text,
)
from offhours.sources.ravello import APPLICATION
from tests.unit.reports import (
    NOW,
    block_texts,
    check_limits,
    decision,
    labs,
    mrkdwn_texts,
    report,
)

# ---------------------------------------------------------------- the Report


def test_findings_are_flagged_decisions_sorted_by_source_owner_name() -> None:
    r = report(
        [
            decision("b", owner="zoe"),
            decision("a", owner="zoe"),
            decision("quiet", flagged=False),
            decision("c", owner="adam"),
            decision("a", owner="adam", source="aws"),
        ]
    )
    names = [(d.resource.source, d.resource.owner, d.resource.name) for d in r.findings]
    assert names == [
        ("aws", "adam", "a"),
        ("ravello", "adam", "c"),
        ("ravello", "zoe", "a"),
        ("ravello", "zoe", "b"),
    ]
    assert r.running_vms == 8


def test_problems_come_from_every_decision_and_failures_make_it_not_ok() -> None:
    r = report(
        [
            decision("on", problems=("bad tag",)),
            decision("off", flagged=False, problems=("worse tag",)),
        ],
        (SourceFailure("aws", "timeout"),),
    )
    assert [(p.name, p.message) for p in r.problems] == [("off", "worse tag"), ("on", "bad tag")]
    assert not r.ok
    assert report([decision()]).ok


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("decisions", "headline"),
    [
        (
            [decision("a", running=3)],
            "1 lab running outside business hours — 3 VMs — 2026-11-26 22:00 UTC",
        ),
        (
            [decision("a", running=3), decision("b", running=1), decision("c", running=3)],
            "3 labs running outside business hours — 7 VMs — 2026-11-26 22:00 UTC",
        ),
        (
            [decision("a", running=1)],
            "1 lab running outside business hours — 1 VM — 2026-11-26 22:00 UTC",
        ),
    ],
)
def test_text_headline_counts(decisions: list[Decision], headline: str) -> None:
    assert render_text(report(decisions)).splitlines()[0] == headline


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"since": timedelta(hours=5, minutes=12)}, "running 5h12m, since 16:48"),
        ({"since": timedelta(minutes=42)}, "running 42m, since 21:18"),
        ({"since": timedelta(days=2, hours=3)}, "running 2d3h, since 2026-11-24 19:00"),
        ({"since": None}, "off hours for 4h00m, since 18:00"),
        ({"expires_in": timedelta(hours=1)}, "auto-stops 23:00"),
        # Passed and still running: said, not shown as if still to come.
        (
            {"expires_in": -timedelta(hours=1)},
            "auto-stop was due at 21:00, 1h00m ago — it did not stop",
        ),
        ({"expires_in": timedelta(0)}, "auto-stop was due at 22:00, just now — it did not stop"),
        (
            {"expires_in": -timedelta(days=1, hours=2)},
            "auto-stop was due at 2026-11-25 20:00, 1d2h ago — it did not stop",
        ),
        ({"cost": 1.2}, "~$1.20/h"),
        ({"owner": None}, "no owner"),
        ({"region": "eu-west-3"}, "eu-west-3"),
    ],
)
def test_text_line_details(kwargs: dict[str, Any], expected: str) -> None:
    line = render_text(report([decision("web-lab", **kwargs)])).splitlines()[1]
    assert "web-lab" in line
    assert expected in line


def test_text_empty_report_says_so_explicitly() -> None:
    decisions = [decision(f"l{i}", flagged=False) for i in range(12)]
    assert render_text(report(decisions)) == (
        "No resources running outside business hours (12 checked in 1 source).\n"
    )


def test_text_shows_cost_total_problems_and_failed_sources() -> None:
    r = report(
        [decision("a", cost=1.5), decision("b", problems=("tag 'offhours': bad day 'Funday'",))],
        (SourceFailure("ravello", "HTTP 503 from https://cloud.example/api"),),
    )
    text = render_text(r)
    assert "Estimated cost: ~$1.50/h, ~$6.00 so far (1 of 2 priced)" in text
    assert "b (ravello): tag 'offhours': bad day 'Funday'" in text
    assert "⚠ source 'ravello' failed: HTTP 503 from https://cloud.example/api" in text


def test_text_with_only_a_failure_does_not_claim_all_is_well_silently() -> None:
    text = render_text(report([], (SourceFailure("ravello", "login refused"),)))
    assert "1 source failed" in text
    assert "⚠ source 'ravello' failed: login refused" in text


# ---------------------------------------------------------------- JSON


def test_json_schema() -> None:
    r = report(
        [
            decision("a", cost=2.0, expires_in=timedelta(hours=1), problems=("p",)),
            decision("q", flagged=False),
        ],
        (SourceFailure("aws", "down"),),
        sources=("ravello", "aws"),
    )
    doc = json.loads(render_json(r))
    assert doc["version"] == JSON_VERSION == 1
    assert doc["generated_at"] == "2026-11-26T22:00:00+00:00"
    assert doc["sources"] == ["ravello", "aws"]
    assert doc["totals"] == {
        "checked": 2,
        "findings": 1,
        "running_vms": 2,
        "hourly_cost": 2.0,
        # 2.00/h from 18:00 (the hours closed after its 16:48 start) to 22:00
        "cost_so_far": 8.0,
        "cost_so_far_at_least": False,
        "failures": 1,
        "problems": 1,
        "exempt": 0,
    }
    (finding,) = doc["findings"]
    assert finding["name"] == "a"
    assert (finding["kind"], finding["account"], finding["group"]) == (
        "ravello.application",
        "ravello",
        "a",
    )
    assert finding["key"] == "ravello/ravello/us-east-1/ravello.application/id-a"
    assert finding["running_since"] == "2026-11-26T16:48:00+00:00"
    assert finding["expires_at"] == "2026-11-26T23:00:00+00:00"
    assert finding["off_hours_since"] == "2026-11-26T18:00:00+00:00"
    assert finding["reason"] == "outside business hours"
    assert finding["schedule"] == "Mon-Fri 08:00-18:00 UTC"
    assert finding["problems"] == ["p"]
    assert finding["vms"] == [{"id": "vm-1", "name": "web", "state": "STARTED"}]
    assert (finding["cost_so_far"], finding["price_note"], finding["action"]) == (8.0, None, None)
    assert doc["cost_by_group"]["a"]["cost_so_far"] == 8.0
    assert (doc["actions"], doc["notes"]) == ([], [])
    assert doc["problems"] == [{"source": "ravello", "id": "id-a", "name": "a", "problem": "p"}]
    assert doc["failures"] == [{"source": "aws", "message": "down"}]


@pytest.mark.parametrize(
    ("decisions", "failures", "sources", "status"),
    [
        ([decision("a")], (), ("ravello",), "success"),
        ([], (), ("ravello",), "success"),
        # One source of two lost, or one region of a source: the rest was read.
        ([decision("a")], (SourceFailure("aws", "down"),), ("ravello", "aws"), "partial"),
        ([decision("a")], (SourceFailure("aws eu-west-3", "denied"),), ("aws",), "partial"),
        # Nothing could be read: not "partial" with nothing checked.
        ([], (SourceFailure("ravello", "login refused"),), ("ravello",), "error"),
        ([], (SourceFailure("a", "x"), SourceFailure("b", "y")), ("a", "b"), "error"),
    ],
)
def test_status_is_error_when_no_source_could_be_read(
    decisions: list[Decision],
    failures: tuple[SourceFailure, ...],
    sources: tuple[str, ...],
    status: str,
) -> None:
    r = report(decisions, failures, sources)
    assert r.status == status
    assert json.loads(render_json(r))["status"] == status


def test_json_of_an_empty_report() -> None:
    doc = json.loads(render_json(report([])))
    assert doc["findings"] == []
    assert doc["totals"]["hourly_cost"] is None


# ---------------------------------------------------------------- console notifier


@pytest.mark.parametrize(("fmt", "render"), [("text", render_text), ("json", render_json)])
def test_console_notifier_writes_the_rendered_report(fmt: Any, render: Any) -> None:
    stream = io.StringIO()
    r = report([decision("a")])
    notifier = ConsoleNotifier("out", format=fmt, stream=stream)
    assert notifier.type == "console"
    assert notifier.send(r).sent == 1
    assert stream.getvalue() == render(r) == notifier.preview(r)


def test_console_notifier_defaults_to_stdout_at_send_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = report([])
    ConsoleNotifier("out").send(r)
    assert capsys.readouterr().out == render_text(r)


# ---------------------------------------------------------------- external text stays data

ESC = "\x1b"

# Each would change what a reader sees or clicks if it were interpreted.
SLACK_HOSTILE = [
    pytest.param("*FREE* credits", id="bold"),
    pytest.param("_urgent_ lab", id="italic"),
    pytest.param("~old~ lab", id="strike"),
    pytest.param("`rm -rf` lab", id="code"),
    pytest.param("```block```", id="code-block"),
    pytest.param("> quoted", id="quote"),
    pytest.param("reset at https://evil.example/login", id="bare-url"),
    pytest.param("<https://evil.example/login|Reset your password>", id="url-label"),
    pytest.param("<!channel> all hands", id="channel-mention"),
    pytest.param("<!here|here> now", id="here-mention"),
    pytest.param("@here look", id="bare-here"),
    pytest.param("<@U0123ABCD> owns this", id="user-mention"),
    pytest.param("<!subteam^S123|admins>", id="group-mention"),
    pytest.param("#general :rotating_light:", id="channel-emoji"),
    pytest.param("a&amp;b &lt;x&gt;", id="entities"),
]


@pytest.mark.parametrize("hostile", SLACK_HOSTILE)
@pytest.mark.parametrize("where", ["name", "owner", "region", "problem", "failure", "exempt"])
def test_slack_never_interprets_external_text(hostile: str, where: str) -> None:
    exempt = replace_decision(decision(hostile, flagged=False), exempt_by="always")
    build = {
        "name": lambda: report([decision(hostile)]),
        "owner": lambda: report([decision(owner=hostile)]),
        "region": lambda: report([decision(region=hostile)]),
        "problem": lambda: report([decision(problems=(hostile,))]),
        "failure": lambda: report([], (SourceFailure("ravello", hostile),)),
        "exempt": lambda: report([exempt]),
    }[where]
    (message,) = render_slack(build())
    # Blocks: the text is in a rich_text text element, exactly as typed...
    elements = [
        e
        for block in message["blocks"]
        if block["type"] == "rich_text"
        for section in block["elements"]
        for e in section["elements"]
    ]
    assert all(e["type"] == "text" for e in elements)
    assert any(hostile in e["text"] for e in elements)
    # ...and in nothing Slack parses: mrkdwn objects carry only our own words.
    assert not any(hostile in t for t in mrkdwn_texts(message))
    for block in message["blocks"]:
        assert block["type"] in ("header", "context", "rich_text")
        if block["type"] == "header":
            assert hostile not in block["text"]["text"]
    # The fallback is escaped: no <...> form survives.
    assert "<" not in message["text"] and ">" not in message["text"]


def replace_decision(d: Decision, **changes: Any) -> Decision:
    from dataclasses import replace

    return replace(d, **changes)


TERMINAL_HOSTILE = [
    f"{ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\",
    f"{ESC}[31mred{ESC}[0m",
    f"x{ESC}[2K{ESC}[1G",
    f"{ESC}]0;title\x07",
    "\x9b31m",
    "txt.\u202eexe",
    "zero\u200bwidth",
    "line\nbreak\r\n  • fake finding",
    "lone\ud800surrogate",
]


def _unsafe(text: str) -> list[str]:
    import unicodedata

    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]


@pytest.mark.parametrize("hostile", TERMINAL_HOSTILE)
def test_text_report_strips_control_bidi_and_zero_width_characters(hostile: str) -> None:
    exempt = replace_decision(decision(hostile + "-x", flagged=False), exempt_by="always")
    r = report(
        [decision(hostile, owner=hostile, region=hostile, problems=(hostile,)), exempt],
        (SourceFailure(hostile, hostile),),
    )
    text = render_text(r)
    assert _unsafe(text) == []
    # One line per finding, problem and failure: a newline in a name starts no fake line.
    assert len(text.splitlines()) == 6


@pytest.mark.parametrize("hostile", TERMINAL_HOSTILE)
def test_json_keeps_external_text_exact_but_escaped(hostile: str) -> None:
    r = report([decision(hostile, owner=hostile)], (SourceFailure("ravello", hostile),))
    document = render_json(r)
    assert _unsafe(document) == []
    doc = json.loads(document)
    assert doc["findings"][0]["name"] == hostile
    assert doc["findings"][0]["owner"] == hostile
    assert doc["failures"][0]["message"] == hostile


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_no_renderer_lets_a_control_character_through(name: str, message: str) -> None:
    r = report([decision(name, owner=name, problems=(message,))], (SourceFailure(name, message),))
    assert _unsafe(render_text(r)) == []
    assert _unsafe(render_json(r)) == []
    for m in render_slack(r):
        assert _unsafe(m["text"]) == []
        assert all(_unsafe(t) == [] for t in block_texts(m))


# ---------------------------------------------------------------- running but exempt


def _exempt(name: str, by: str, owner: str | None = "bob", running: int = 1) -> Decision:
    d = decision(name, owner=owner, flagged=False, running=running)
    until = NOW + timedelta(days=3) if by == "exemption" else None
    return replace_decision(d, exempt_by=by, exempt_until=until, reason="exempt")


def test_exempt_lists_running_resources_kept_out_sorted() -> None:
    r = report(
        [
            _exempt("zeta", "always"),
            _exempt("alpha", "exemption"),
            _exempt("stopped", "exemption", running=0),
            decision("flagged"),
            decision("quiet", flagged=False),
        ]
    )
    assert [d.resource.name for d in r.exempt] == ["alpha", "zeta"]


def test_text_has_a_compact_running_but_exempt_line() -> None:
    r = report([decision("a"), _exempt("keep", "exemption"), _exempt("ever", "always", None)])
    lines = render_text(r).splitlines()
    assert (
        "Running but exempt (2): ever (no owner, 1 VM, always) · "
        "keep (bob, 1 VM, until 2026-11-29 22:00)"
    ) in lines
    # even when nothing is flagged, they do not vanish
    quiet = render_text(report([_exempt("keep", "exemption")]))
    assert "Running but exempt (1): keep (bob, 1 VM, until 2026-11-29 22:00)" in quiet


def test_slack_has_a_running_but_exempt_line() -> None:
    r = report([decision("a"), _exempt("keep", "exemption"), _exempt("ever", "always")])
    (message,) = render_slack(r)
    texts = block_texts(message)
    assert (
        "Running but exempt (2): ever (bob, 1 VM, always) · "
        "keep (bob, 1 VM, until 2026-11-29 22:00)"
    ) in texts
    assert "Running but exempt (2)" in message["text"]


def test_slack_packs_a_long_exempt_list_within_the_limits() -> None:
    r = report([_exempt(f"lab-{i:04d}", "always") for i in range(400)])
    messages = render_slack(r, max_section_chars=500, max_message_chars=2000)
    check_limits(messages, 50, 500, 2000)
    shown = re.findall(r"lab-\d{4}", " ".join(t for m in messages for t in block_texts(m)))
    assert shown == [f"lab-{i:04d}" for i in range(400)]


def test_json_lists_exempt_resources() -> None:
    doc = json.loads(render_json(report([_exempt("keep", "exemption"), _exempt("a", "always")])))
    assert doc["totals"]["exempt"] == 2
    assert [(e["name"], e["by"], e["exempt_until"]) for e in doc["exempt"]] == [
        ("a", "always", None),
        ("keep", "exemption", "2026-11-29T22:00:00+00:00"),
    ]
    assert set(doc["exempt"][0]) == {
        "source",
        "provider",
        "kind",
        "account",
        "key",
        "id",
        "name",
        "owner",
        "region",
        "running",
        "by",
        "exempt_until",
        "reason",
    }


def _own_hours(name: str, tag: str, owner: str = "Grace Hopper") -> Decision:
    """A running resource judged by the real policy on a Wednesday at 21:00, default 08-18."""
    london = ZoneInfo("Europe/London")
    cal = HolidayCalendar("GB")
    policy = Policy(parse_schedule("Mon-Fri 08:00-18:00", london, cal))
    resource = Resource(
        provider="ravello",
        kind=APPLICATION,
        source="ravello",
        id=f"id-{name}",
        name=name,
        running=3,
        owner=owner,
        tags={"offhours": tag},
    )
    return decide(resource, policy, datetime(2026, 6, 3, 21, 0, tzinfo=london))


def test_own_hours_open_while_the_default_is_closed_are_on_the_exempt_line() -> None:
    kept = _own_hours("gh-lab", "Mon-Sun 00:00-23:59")
    assert (kept.flagged, kept.exempt_by) == (False, "schedule")
    r = report([decision("a"), kept, _exempt("keep", "exemption")])
    expected = (
        "Running but exempt (2): keep (bob, 1 VM, until 2026-11-29 22:00) · "
        "gh-lab (Grace Hopper, 3 VMs, own hours daily 00:00-23:59 Europe/London)"
    )
    assert expected in render_text(r).splitlines()
    (message,) = render_slack(r)
    assert expected in block_texts(message)
    assert "Running but exempt (2)" in message["text"]
    doc = json.loads(render_json(r))
    assert doc["totals"]["exempt"] == 2
    (_, entry) = doc["exempt"]
    assert (entry["name"], entry["by"], entry["exempt_until"], entry["running"]) == (
        "gh-lab",
        "schedule",
        None,
        3,
    )
    assert entry["reason"] == "inside business hours (daily 00:00-23:59 Europe/London)"


def test_a_long_own_schedule_is_clipped_in_slack_and_whole_in_text() -> None:
    tag = "; ".join(f"{day} 00:00-01:00,02:00-23:00" for day in ("Mon", "Tue", "Wed", "Thu"))
    kept = _own_hours("many", tag)
    assert kept.exempt_by == "schedule"
    r = report([kept])
    (message,) = render_slack(r)
    (line,) = [t for t in block_texts(message) if t.startswith("Running but exempt")]
    assert line.endswith("…)") and len(line) < 150
    assert "Thu 00:00-01:00,02:00-23:00 Europe/London)" in render_text(r)


def test_slack_messages_do_not_format_the_fallback_or_unfurl_links() -> None:
    messages = render_slack(report(labs(300)))
    assert len(messages) > 1
    for message in messages:
        assert (message["mrkdwn"], message["unfurl_links"], message["unfurl_media"]) == (
            False,
            False,
            False,
        )
        assert "*" not in message["text"]
    assert "Total: 300 labs · 300 running VMs" in messages[-1]["text"]


def test_findings_are_in_natural_order() -> None:
    """lab-2 before lab-10, whatever the case: as people number their labs."""
    from offhours.report import natural

    names = ["lab-10", "Lab-2", "lab-1", "lab-2b", "lab-100"]
    assert sorted(names, key=natural) == ["lab-1", "Lab-2", "lab-2b", "lab-10", "lab-100"]
    r = report([decision(n) for n in names])
    assert [f.resource.name for f in r.findings] == [
        "lab-1",
        "Lab-2",
        "lab-2b",
        "lab-10",
        "lab-100",
    ]
    text = render_text(r)
    assert text.index("lab-2b") < text.index("lab-10") < text.index("lab-100")
