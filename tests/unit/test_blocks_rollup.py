"""A report too long to list: the Slack message rolled up per owner or group (pure), and the
VM names a source listed, in every channel's line."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhours.model import VM, Decision
from offhours.notifiers.slack import render_slack
from offhours.report import Cost, Report, render_text, rollup_by, rollups, vm_names
from tests.unit.reports import (
    all_text,
    block_texts,
    check_limits,
    decision,
    mrkdwn_texts,
    report,
)
from tests.unit.test_report_memory import incident, remembered


def fleet(n: int, owners: int = 9, *, groups: int = 0) -> list[Decision]:
    """``n`` labs of ``owners`` owners; every third one unpriced; running 5 to 11 hours; in
    ``groups`` project groups when given."""
    made = []
    for i in range(n):
        d = decision(
            f"lab-{i}",
            owner=f"user{i % owners}@example.com",
            cost=None if i % 3 == 0 else 0.25 * (1 + i % 4),
            since=timedelta(hours=5 + i % 7),
        )
        if groups:
            d = replace(d, resource=replace(d.resource, group=f"project-{i % groups}"))
        made.append(d)
    return made


def _total_line(messages: list[dict[str, object]]) -> str:
    [line] = [t for m in messages for t in block_texts(m) if t.startswith("*Total:*")]  # type: ignore[arg-type]
    return line


# ---------------------------------------------------------------- the sections (pure)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 120),
    owners=st.integers(1, 30),
    groups=st.integers(0, 5),
    top=st.integers(0, 5),
)
def test_every_finding_is_in_exactly_one_section_and_the_sums_are_the_reports(
    n: int, owners: int, groups: int, top: int
) -> None:
    r = report(fleet(n, owners, groups=groups))
    sections = rollups(r, top)
    keys = [f.resource.key for s in sections for f in s.findings]
    assert sorted(keys) == sorted(f.resource.key for f in r.findings)
    assert len(keys) == len(set(keys))
    assert sum(s.cost.priced for s in sections) == r.cost.priced
    assert sum(s.cost.hourly or 0 for s in sections) == pytest.approx(r.hourly_cost or 0)
    assert sum(s.cost.so_far or 0 for s in sections) == pytest.approx(r.cost.so_far or 0)
    assert rollup_by(r) == ("group" if groups else "owner")
    # Costliest first; each section's top lines are its costliest so far, then longest running.
    hourly = [s.cost.hourly or 0 for s in sections]
    assert hourly == sorted(hourly, reverse=True)
    for s in sections:
        assert len(s.top) == min(top, len(s.findings))
        assert {f.resource.key for f in s.top} <= {f.resource.key for f in s.findings}


def test_a_sections_top_lines_are_its_costliest_then_its_longest_running() -> None:
    r = report(
        [
            decision("cheap", cost=0.1),
            decision("unpriced-old", since=timedelta(days=3)),
            decision("dear", cost=5.0),
            decision("unpriced-young", since=timedelta(hours=1)),
        ]
    )
    [section] = rollups(r, top=3)
    assert [f.resource.name for f in section.top] == ["dear", "cheap", "unpriced-old"]


# ---------------------------------------------------------------- Slack


def test_2000_findings_are_one_message_with_the_reports_totals() -> None:
    r = report(fleet(2000))
    messages = render_slack(r)
    assert len(messages) == 1  # 19 messages before
    check_limits(messages, 50, 3000, 12_000)
    text = all_text(messages)
    assert messages[0]["blocks"][0]["text"]["text"] == (
        "2000 labs running outside business hours — 4000 VMs"
    )
    # The totals are the report's, not the lines shown.
    assert _total_line(messages) == (f"*Total:* 2000 labs · 4000 running VMs · {_cost_of(r.cost)}")
    # One section per owner, its count and cost; none shows $0 for what is unpriced.
    for section in rollups(r):
        assert f"{section.label} — {len(section.findings)} labs — " in text
    assert "$0.00" not in text
    assert "(1333 of 2000 priced)" in text
    assert "Rolled up by owner: 2000 labs is more than the notifier's rollup_above (1,000)" in text
    # Each section shows its three top lines and how many more it has (blocks and fallback).
    assert text.count("• ") == 9 * 3 * 2
    assert len(re.findall(r"\+\d+ more", text)) == 9 * 2
    # No "By owner" line: the sections are the owners.
    assert "By owner" not in text


def _cost_of(cost: Cost) -> str:
    from offhours.report import cost_phrase

    return cost_phrase(cost) or ""


@pytest.mark.parametrize("n", [1, 40, 600, 1000])
def test_at_or_below_the_threshold_every_finding_has_its_line_as_before(n: int) -> None:
    r = report(fleet(n))
    unchanged = render_slack(r, rollup_above=0)  # 0: never rolled up
    assert render_slack(r) == unchanged
    assert render_slack(r, rollup_above=n) == unchanged
    assert "Rolled up" not in all_text(unchanged)


def test_grouped_findings_roll_up_per_group_with_the_owners_line_kept() -> None:
    r = report(fleet(300, owners=4, groups=6))
    messages = render_slack(r, rollup_above=100)
    text = all_text(messages)
    assert len(messages) == 1
    check_limits(messages, 50, 3000, 12_000)
    for i in range(6):
        assert f"project-{i} — 50 labs — " in text
    assert "Rolled up by group" in text
    assert "By owner: " in text


def test_past_fifteen_owners_the_rest_are_summed_in_one_line() -> None:
    r = report(fleet(2000, owners=400))
    messages = render_slack(r)
    check_limits(messages, 50, 3000, 12_000)
    assert len(messages) <= 2
    text = all_text(messages)
    rest = rollups(r)[15:]
    n = sum(len(s.findings) for s in rest)
    assert f"+385 more owners: {n} labs — " in text
    assert _total_line(messages).startswith("*Total:* 2000 labs · 4000 running VMs")


def test_memory_counts_new_and_still_running_per_section() -> None:
    decisions = fleet(30, owners=3)
    names = [d.resource.name for d in decisions]
    r = remembered(decisions, new=tuple(names[:10]), reminders=tuple(names[10:]))
    messages = render_slack(r, rollup_above=20)
    text = "\n".join(t for m in messages for t in block_texts(m))
    assert messages[0]["blocks"][0]["text"]["text"].startswith(
        "10 new · 20 still running — 30 labs"
    )
    found = re.findall(r"— 10 labs \((\d+) new · (\d+) still running\)", text)
    assert len(found) == 3
    assert sum(int(a) for a, _ in found) == 10
    assert sum(int(b) for _, b in found) == 20
    # The top lines keep their marks.
    assert "NEW: " in text or "STILL RUNNING: " in text


def test_a_long_resolved_list_shows_its_first_lines_and_how_many_more() -> None:
    gone = tuple(incident(f"gone-{i}", resolution="gone") for i in range(40))
    r: Report = remembered([], resolved=gone)
    text = all_text(render_slack(r, rollup_above=20))
    assert "Resolved (40)" in text
    assert text.count("no longer running or listed") == 10 * 2  # blocks and fallback
    assert "+30 more" in text
    assert all_text(render_slack(r)).count("no longer running or listed") == 40 * 2


def test_names_in_the_rollup_stay_data() -> None:
    hostile = "<!channel> *boss* `x` <https://evil.example|click>"
    r = report([decision(f"lab-{i}", owner=hostile) for i in range(30)])
    messages = render_slack(r, rollup_above=10)
    assert f"{hostile} — 30 labs" in all_text(messages)
    for message in messages:
        assert not any("evil" in t or "channel" in t for t in mrkdwn_texts(message))
        assert "<!channel>" not in message["text"]


# ---------------------------------------------------------------- VM names


def _with_vms(d: Decision, *vms: VM) -> Decision:
    return replace(d, resource=replace(d.resource, vms=vms))


@pytest.mark.parametrize(
    ("vms", "limit", "shown"),
    [
        ((), 5, None),
        ((VM("1", "web", "STARTED"),), 5, "web"),
        ((VM("1", "web", "STARTED"), VM("2", "db", "STOPPED")), 5, "web, db (stopped)"),
        (
            tuple(VM(str(i), f"vm{i}", "STARTED") for i in range(8)),
            5,
            "vm0, vm1, vm2, vm3, vm4, +3 more",
        ),
        ((VM("1", "a\x1b[31m\u202eb\n c", "STARTED"),), 5, "a[31mb c"),
        ((VM("1", "x" * 100, "STARTED"),), 5, "x" * 59 + "…"),
    ],
)
def test_vm_names(vms: tuple[VM, ...], limit: int, shown: str | None) -> None:
    assert vm_names(_with_vms(decision(), *vms).resource, limit) == shown


def test_vm_names_show_in_text_and_slack_lines() -> None:
    vms = tuple(VM(str(i), f"node-{i}", "STARTED") for i in range(12))
    r = report([_with_vms(decision("big-lab"), *vms)])
    text = render_text(r)
    assert "big-lab — alice@example.com — 2 VMs: node-0, node-1," in text
    assert "node-9, +2 more" in text
    slack = all_text(render_slack(r))
    assert "2 VMs: node-0, node-1, node-2, node-3, node-4, +7 more" in slack
    check_limits(render_slack(r), 50, 3000, 12_000)


def test_a_hostile_vm_name_is_plain_text_in_slack() -> None:
    r = report(
        [_with_vms(decision("lab"), VM("1", "<!here> *vm* <https://x.example|y>", "STARTED"))]
    )
    [message] = render_slack(r)
    assert "<!here> *vm* <https://x.example|y>" in all_text([message])
    assert not any("x.example" in t for t in mrkdwn_texts(message))
    assert "<!here>" not in message["text"]
