"""What incident memory says in every channel: text, JSON and Slack blocks (pure, no network).

Each memory state is built once and checked in all three channels, so they agree."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.incidents import Incident, Recall, Resolution, incident_key
from offhours.model import Decision
from offhours.notifiers.slack import SlackNotifier, render_slack
from offhours.report import Report, headline, render_json, render_text
from offhours.secrets import Secret
from tests.unit.reports import (
    NOW,
    all_text,
    block_texts,
    check_limits,
    decision,
    mrkdwn_texts,
    report,
)

STORE = "sqlite:state.db"
RUN = "offhours-audit@2026-11-26T22:00:00Z"
KEY_A = decision("a").resource.key
KEY_B = decision("b").resource.key
NEW = {"status": "new", "opened_at": NOW.isoformat()}
# A store's problem is our text, but may quote a path: cleaned like external text.
LOCKED = "database is locked: /home/u/.local/state/offhours/\x1b[31mstate.db\u202e"


def incident(
    name: str = "lab",
    *,
    owner: str | None = "alice@example.com",
    hours: float = 4,
    resolution: Resolution | None = None,
    still_running: bool = False,
    action: str | None = None,
    note: str | None = None,
    hourly: float | None = None,
    cost: float | None = None,
    at_least: bool = False,
    reminders: int = 0,
) -> Incident:
    """The incident of ``decision(name)``'s resource, opened ``hours`` ago, seen now."""
    key = decision(name).resource.key
    opened = NOW - timedelta(hours=hours)
    return Incident(
        key=incident_key(key, opened),
        resource_key=key,
        period_start=opened,
        source="ravello",
        name=name,
        owner=owner,
        group=name,
        kind="ravello.application",
        noun="lab",
        opened_at=opened,
        last_seen_at=NOW,
        hourly_cost=hourly,
        cost_so_far=cost,
        cost_at_least=at_least,
        last_told_at=NOW,
        reminders=reminders,
        action=action,
        state="resolved" if resolution else "open",
        resolved_at=NOW if resolution else None,
        resolution=resolution,
        still_running=still_running,
        note=note,
    )


def remembered(
    decisions: list[Decision],
    *,
    new: tuple[str, ...] = (),
    reminders: tuple[str, ...] = (),
    **recall: Any,
) -> Report:
    """A report whose memory tells ``new`` and ``reminders`` (lab names) and says ``recall``."""
    status: dict[str, Literal["new", "reminder"]] = {}
    told = {}
    for names, kind in ((new, "new"), (reminders, "reminder")):
        for name in names:
            key = decision(name).resource.key
            status[key] = kind  # type: ignore[assignment]
            told[key] = incident(name, hours=4 if kind == "reminder" else 0)
    memory = Recall(STORE, RUN, status=status, told=told, **recall)
    return replace(report(decisions), memory=memory)


@dataclass(frozen=True)
class Case:
    report: Report
    headline: str
    #: lines (or parts of lines) every channel shows
    says: tuple[str, ...] = ()
    #: what no channel shows
    never: tuple[str, ...] = ()
    #: the JSON "memory" object's fields (None: "memory" is null)
    memory: dict[str, Any] | None = None
    #: each finding's "incident" by name
    incidents: dict[str, Any] | None = None


CASES = {
    "none": Case(
        report([decision("a"), decision("b")]),
        "2 labs running outside business hours — 4 VMs",
        never=("NEW", "STILL RUNNING", "Resolved", "reported earlier"),
        incidents={"a": None, "b": None},
    ),
    "new only": Case(
        remembered([decision("a"), decision("b")], new=("a", "b")),
        "2 new — 2 labs running outside business hours — 4 VMs",
        says=("NEW: a — alice@example.com", "NEW: b — alice@example.com"),
        never=("STILL RUNNING", "Resolved", "reported earlier"),
        memory={"new": [KEY_A, KEY_B], "reminders": [], "quiet": 0, "snoozed": 0},
        incidents={"a": NEW, "b": NEW},
    ),
    "reminders": Case(
        remembered([decision("a"), decision("b")], new=("a",), reminders=("b",)),
        "1 new · 1 still running — 2 labs running outside business hours — 4 VMs",
        says=("NEW: a", "STILL RUNNING: b", "first reported 18:00"),
        memory={"new": [KEY_A], "reminders": [KEY_B], "deduplicated": True},
        incidents={
            "a": NEW,
            "b": {"status": "reminder", "opened_at": (NOW - timedelta(hours=4)).isoformat()},
        },
    ),
    "quiet and snoozed": Case(
        remembered(
            [decision("a", cost=1.0), decision("b", cost=0.5), decision("c", cost=0.25)],
            new=("a",),
            quiet=(incident("b"),),
            snoozed=(incident("c"),),
        ),
        "1 new — 1 lab running outside business hours — 2 VMs",
        says=(
            "1 more still running, reported earlier · 1 snoozed (~$0.75/h, ~$3.00 so far)",
            "offhours incidents",
            "~$1.00/h, ~$4.00 so far",  # the totals: the told finding only
        ),
        memory={
            "quiet": 1,
            "snoozed": 1,
            "new": [KEY_A],
            "quiet_cost": {
                "count": 2,
                "priced": 2,
                "hourly_cost": 0.75,
                "cost_so_far": 3.0,
                "cost_so_far_at_least": False,
            },
        },
        incidents={"a": NEW},
    ),
    "nothing new": Case(
        remembered([decision("a")], quiet=(incident("a"),)),
        "Nothing new running outside business hours",
        says=("1 still running, reported earlier — ",),
        never=("1 more", "NEW"),
        memory={"quiet": 1, "new": [], "reminders": []},
        incidents={},
    ),
    "problem": Case(
        remembered(
            [decision("a"), decision("b")],
            problem=LOCKED,
        ),
        "2 labs running outside business hours — 4 VMs",
        says=(
            "Memory unavailable — every finding is told, not deduplicated: database is locked: "
            "/home/u/.local/state/offhours/[31mstate.db",
        ),
        never=("\x1b", "\u202e", "NEW"),
        memory={"deduplicated": False, "problem": LOCKED, "new": []},
        incidents={"a": None, "b": None},
    ),
    "skipped": Case(
        remembered(
            [decision("a")], quiet=(incident("a"),), skipped=f"run {RUN} was delivered already"
        ),
        "Nothing new running outside business hours",
        says=(f"Nothing sent: run {RUN} was delivered already",),
        never=("⚠ Nothing sent",),
        memory={"skipped": f"run {RUN} was delivered already", "deduplicated": True},
    ),
    "gaps": Case(
        remembered(
            [decision("a")],
            new=("a",),
            gaps=(
                "offhours-audit@2026-11-26T21:00:00Z",
                "offhours-audit@2026-11-26T20:00:00Z (posting began 2026-11-26 20:00 UTC)",
                "<!channel>",
            ),
        ),
        "1 new — 1 lab running outside business hours — 2 VMs",
        says=(
            "The run at 21:00 stopped between posting and recording: its message may not have "
            "arrived",
            "The run at 20:00 (posting began 2026-11-26 20:00 UTC) stopped between posting",
            "The run <!channel> stopped between posting",
        ),
        memory={
            "gaps": [
                "offhours-audit@2026-11-26T21:00:00Z",
                "offhours-audit@2026-11-26T20:00:00Z (posting began 2026-11-26 20:00 UTC)",
                "<!channel>",
            ]
        },
    ),
}


def _resolved(**kwargs: Any) -> Report:
    return remembered([], resolved=(incident("gone-lab", **kwargs),))


RESOLVED = {
    "stopped": (
        dict(resolution="stopped", hourly=0.5, cost=2.0),
        "stopped — ran 4h00m off hours, ~$2.00 so far",
    ),
    "stopped by offhours": (
        dict(resolution="stopped", action="stopped by offhours at 02:00", cost=2.0, at_least=True),
        "stopped by offhours at 02:00 — ran 4h00m off hours, at least ~$2.00 so far",
    ),
    "exempt": (dict(resolution="exempt", hourly=0.5), "exempted — ran 4h00m off hours, ~$0.50/h"),
    "gone": (
        dict(resolution="gone"),
        "no longer running or listed — ran 4h00m off hours, price unknown",
    ),
    "hours, still running": (
        dict(resolution="hours", still_running=True, hours=14, cost=23.0),
        "still running at 22:00 after 14h00m, ~$23.00 so far",
    ),
    "hours": (dict(resolution="hours", cost=1.0), "business hours began — ran 4h00m off hours"),
    "by hand": (
        dict(resolution="by hand", note="known *demo*"),
        "resolved by hand (known *demo*) — ran 4h00m off hours, price unknown",
    ),
}
for _name, (_kwargs, _says) in RESOLVED.items():
    CASES[f"resolved: {_name}"] = Case(
        _resolved(**_kwargs),
        "1 resolved — no resources running outside business hours",
        says=("Resolved (1)", "gone-lab — alice@example.com — " + _says),
        memory={"new": [], "reminders": []},
    )


def channels(case: Case) -> dict[str, str]:
    return {"text": render_text(case.report), "slack": all_text(render_slack(case.report))}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_channel_says_what_memory_says(case: Case) -> None:
    assert headline(case.report) == case.headline
    skipped = case.report.memory is not None and case.report.memory.skipped is not None
    for channel, text in channels(case).items():
        # A delivered run's retry prints only why it sent nothing (its Slack is never posted).
        assert (case.headline in text) is not (skipped and channel == "text"), channel
        for said in case.says:
            assert said in text, (channel, said)
        for unsaid in case.never:
            assert unsaid not in text, (channel, unsaid)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_slack_messages_are_valid_and_keep_memory_words_out_of_mrkdwn(case: Case) -> None:
    messages = render_slack(case.report)
    check_limits(messages, 50, 3000, 12000)
    for message in messages:
        mrkdwn = " ".join(mrkdwn_texts(message))
        assert "gone-lab" not in mrkdwn and "channel" not in mrkdwn and "state.db" not in mrkdwn


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_json_memory_and_each_findings_incident(case: Case) -> None:
    document = json.loads(render_json(case.report))
    assert document["version"] == 1
    memory = document["memory"]
    if case.report.memory is None:
        assert memory is None
    else:
        assert memory["store"] == STORE and memory["run_id"] == RUN
        for field, value in (case.memory or {}).items():
            assert memory[field] == value, field
    if case.incidents is not None:
        assert {f["name"]: f["incident"] for f in document["findings"]} == case.incidents


def test_a_delivered_runs_retry_says_only_that_nothing_was_sent() -> None:
    text = render_text(CASES["skipped"].report)
    assert text == f"Nothing sent: run {RUN} was delivered already\n"


def test_json_resolved_entries_have_every_field() -> None:
    gone = incident(
        "gone-lab",
        resolution="stopped",
        action="stopped by offhours at 02:00",
        hourly=0.5,
        cost=2.0,
        at_least=True,
        reminders=1,
    )
    document = json.loads(render_json(remembered([], resolved=(gone,))))
    (entry,) = document["memory"]["resolved"]
    assert entry == {
        "key": gone.key,
        "resource_key": gone.resource_key,
        "name": "gone-lab",
        "owner": "alice@example.com",
        "group": "gone-lab",
        "source": "ravello",
        "kind": "ravello.application",
        "opened_at": (NOW - timedelta(hours=4)).isoformat(),
        "resolved_at": NOW.isoformat(),
        "resolution": "stopped",
        "still_running": False,
        "running_hours": 4.0,
        "hourly_cost": 0.5,
        "cost_so_far": 2.0,
        "cost_so_far_at_least": True,
        "action": "stopped by offhours at 02:00",
        "reminders": 1,
        "note": None,
    }


HOSTILE = "<!channel> *bold* _it_ `code` <https://evil|x> \x1b[2J\u202egnp.exe\u200b"


@pytest.mark.parametrize("where", ["name", "owner", "action", "note"])
def test_hostile_text_in_resolved_lines_stays_inert(where: str) -> None:
    kwargs: dict[str, Any] = {"resolution": "by hand" if where == "note" else "stopped"}
    if where in ("owner", "action", "note"):
        kwargs[where] = HOSTILE
    gone = incident(HOSTILE if where == "name" else "gone-lab", **kwargs)
    r = remembered([], resolved=(gone,))
    text = render_text(r)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200b]", text)
    assert "<!channel> *bold* _it_ `code` <https://evil|x> [2Jgnp.exe" in text
    for message in render_slack(r):
        assert "<" not in message["text"] and "evil" in message["text"]
        assert not any("evil" in t for t in mrkdwn_texts(message))
        shown = " ".join(block_texts(message))
        assert "<!channel> *bold* _it_ `code` <https://evil|x> [2Jgnp.exe" in shown
        assert "\u202e" not in shown and "\x1b" not in shown
    # JSON keeps the data exactly, with the unsafe characters escaped.
    document = render_json(r)
    assert "\x1b" not in document and "\u202e" not in document
    (entry,) = json.loads(document)["memory"]["resolved"]
    assert HOSTILE in entry.values()


@pytest.mark.parametrize(
    "limits",
    [{}, {"max_blocks": 5, "max_section_chars": 500, "max_message_chars": 2000}],
)
def test_a_large_resolved_list_splits_within_limits_in_order(limits: dict[str, int]) -> None:
    gone = tuple(
        incident(f"lab-{i:04d}", resolution="stopped", action="stopped by offhours at 02:00")
        for i in range(400)
    )
    messages = render_slack(remembered([], resolved=gone), **limits)
    assert len(messages) > 1
    check_limits(
        messages,
        limits.get("max_blocks", 50),
        limits.get("max_section_chars", 3000),
        limits.get("max_message_chars", 12000),
    )
    shown = [
        m
        for message in messages
        for t in block_texts(message)
        for m in re.findall(r"^• (lab-\d+) — ", t, re.MULTILINE)
    ]
    assert shown == [f"lab-{i:04d}" for i in range(400)]


# ---------------------------------------------------------------- when Slack posts

TOLD = {
    "no memory, findings": (report([decision("a")]), True),
    "no memory, tag problems only": (
        report([decision("a", flagged=False, problems=("bad tag",))]),
        True,
    ),
    "no memory, nothing": (report([decision("a", flagged=False)]), False),
    "new": (remembered([decision("a")], new=("a",)), True),
    "quiet only": (remembered([decision("a")], quiet=(incident("a"),)), False),
    "tag problems only": (
        remembered([decision("a", flagged=False, problems=("bad tag",))]),
        False,
    ),
    "resolved": (_resolved(resolution="gone"), True),
    "gap": (remembered([], gaps=(RUN,)), True),
    "store problem": (remembered([], problem="database is locked"), True),
    "skipped, with findings": (
        remembered([decision("a")], new=("a",), skipped="delivered already"),
        False,
    ),
}


def _webhook(**kwargs: Any) -> SlackNotifier:
    # Only the preview is asked for: nothing is sent, so the address is never reached.
    return SlackNotifier("team", webhook_url=Secret("http://127.0.0.1:9/hook"), **kwargs)


@pytest.mark.parametrize(("r", "posts"), TOLD.values(), ids=TOLD.keys())
def test_slack_posts_only_when_there_is_something_to_tell(r: Report, posts: bool) -> None:
    assert ("nothing to send" not in _webhook().preview(r)) is posts
    # notify_when_empty posts anyway, except for a run that already delivered.
    skipped = r.memory is not None and r.memory.skipped is not None
    assert ("nothing to send" in _webhook(notify_when_empty=True).preview(r)) is skipped


RESOLUTIONS: tuple[Resolution, ...] = ("stopped", "gone", "exempt", "hours", "by hand")


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=12, unique=True),
    told=st.lists(st.sampled_from(["new", "reminder", "quiet", "snoozed"]), min_size=12),
    ended=st.lists(st.sampled_from(RESOLUTIONS), min_size=12),
    problem=st.none() | st.text(max_size=60),
)
def test_any_memory_state_renders_valid_messages_that_agree(
    names: list[str], told: list[str], ended: list[Resolution], problem: str | None
) -> None:
    found = [decision(n) for n in names[::2]]
    pick = dict(zip(names[::2], told, strict=False))
    r = remembered(
        found,
        new=tuple(n for n, t in pick.items() if t == "new"),
        reminders=tuple(n for n, t in pick.items() if t == "reminder"),
        quiet=tuple(incident(n) for n, t in pick.items() if t == "quiet"),
        snoozed=tuple(incident(n) for n, t in pick.items() if t == "snoozed"),
        resolved=tuple(
            incident(n, resolution=e, still_running=e == "hours", note=n)
            for n, e in zip(names[1::2], ended, strict=False)
        ),
        problem=problem,
    )
    messages = render_slack(r)
    check_limits(messages, 50, 3000, 12000)
    assert messages[0]["blocks"][0]["text"]["text"].startswith(headline(r))
    assert render_text(r).splitlines()[1 if problem is not None else 0].startswith(headline(r))
    document = json.loads(render_json(r))
    assert len(document["memory"]["resolved"]) == len(names[1::2])


def test_a_finding_without_a_start_time_is_running_since_memory_first_saw_it() -> None:
    """A source that gives no start time (a database: only its creation) can say no more than
    "running since at least" when memory first saw it: the reminder says that time, not now."""
    r = remembered([decision("a", since=None)], reminders=("a",))
    first = (NOW - timedelta(hours=4)).strftime("%H:%M")
    assert f"running since at least {first} (first seen)" in render_text(r)
    alone = report([decision("a", since=None)])  # without memory: first seen now
    assert f"running since at least {NOW:%H:%M} (first seen)" in render_text(alone)
