"""Cost so far, totals per group, owner and overall, "price unknown", notes and actions in
the report and each renderer (text, JSON, Slack). Pure: resources built by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.model import Action, Decision, Finding, Kind, Resource
from offhours.notifiers.slack import render_slack
from offhours.report import Cost, build_report, render_json, render_text, so_far
from tests.unit.reports import block_texts, mrkdwn_texts

NOW = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
CLOSED = NOW - timedelta(hours=4)  # the hours closed at 18:00
EC2 = Kind("aws.ec2.instance", noun="instance", unit="instance")


def finding_decision(
    name: str,
    *,
    owner: str | None = "ann",
    group: str | None = "atlas",
    cost: float | None = 0.5,
    since: datetime | None = NOW - timedelta(hours=2),
    at_least: bool = False,
    price_note: str | None = None,
    size: str | None = "m5.large",
) -> Decision:
    resource = Resource(
        provider="aws",
        source="aws",
        id=f"i-{name}",
        name=name,
        running=1,
        owner=owner,
        region="us-east-1",
        running_since=since,
        since_at_least=at_least,
        hourly_cost=cost,
        price_note=price_note,
        size=size,
        kind=EC2,
        account="123456789012",
        group=group,
    )
    return Decision(
        resource, True, "outside business hours", "Mon-Fri 08:00-18:00 UTC", off_hours_since=CLOSED
    )


def report_of(*decisions: Decision, actions: tuple[Action, ...] = (), notes: tuple[str, ...] = ()):
    r = build_report(decisions, now=NOW, sources=("aws",), notes=notes)
    if actions:
        from dataclasses import replace

        r = replace(r, actions=actions)
    return r


@pytest.mark.parametrize(
    ("since", "at_least", "cost", "expected"),
    [
        (NOW - timedelta(hours=2), False, 0.5, (1.0, False)),  # started after closing: 2 h
        (NOW - timedelta(hours=9), False, 0.5, (2.0, False)),  # before closing: from 18:00
        (NOW - timedelta(hours=1), True, 0.5, (0.5, True)),  # a lower bound: "at least"
        (None, False, 0.5, (None, False)),  # no start: unknown, never a guess
        (NOW - timedelta(hours=2), False, None, (None, False)),  # no price
        (NOW + timedelta(hours=1), False, 0.5, (0.0, False)),  # a future start: nothing yet
    ],
)
def test_cost_so_far(
    since: datetime | None, at_least: bool, cost: float | None, expected: tuple
) -> None:
    d = finding_decision("a", since=since, at_least=at_least, cost=cost)
    assert so_far(Finding.of(d, NOW)) == expected


def test_text_groups_by_project_with_totals_per_group_owner_and_overall() -> None:
    r = report_of(
        finding_decision("web-1", owner="ann"),
        finding_decision("web-2", owner="bob", since=NOW - timedelta(hours=9)),
        finding_decision("db", owner="ann", group="zeus", cost=1.0),
        finding_decision("lost", owner=None, group=None, cost=None, price_note="no price"),
    )
    lines = render_text(r).splitlines()
    assert lines[0].startswith("4 instances running outside business hours — 4 instances")
    assert lines[1] == "  atlas — 2 instances — ~$1.00/h, ~$3.00 so far"
    assert lines[2].startswith(
        "    • web-1 — ann — 1 instance — us-east-1 — m5.large — running 2h00m"
    )
    assert "~$0.50/h — ~$1.00 so far" in lines[2]
    assert lines[4] == "  zeus — 1 instance — ~$1.00/h, ~$2.00 so far"
    # Ungrouped findings come last, under their own heading; an unknown price is never $0.
    assert lines[6] == "  (no group) — 1 instance — price unknown"
    assert lines[7].endswith("price unknown")
    assert "$0.00" not in lines[7]
    assert "Estimated cost: ~$2.00/h, ~$5.00 so far (3 of 4 priced)" in lines
    owners = next(line for line in lines if line.startswith("By owner: "))
    assert owners.startswith("By owner: ann ~$1.50/h, ~$3.00 so far · bob ~$0.50/h")


def test_start_unknown_says_running_since_at_least_first_seen() -> None:
    r = report_of(finding_decision("nb", since=None))
    line = render_text(r).splitlines()[2]
    assert "running since at least 22:00 (first seen)" in line
    assert "off hours for 4h00m, since 18:00" in line
    assert "so far" not in line  # no start: no cost so far is invented


def test_a_lower_bound_start_reads_at_least() -> None:
    r = report_of(finding_decision("svc", since=NOW - timedelta(hours=3), at_least=True))
    line = render_text(r).splitlines()[2]
    assert "running at least 3h00m, since 19:00 or earlier" in line
    assert "at least ~$1.50 so far" in line


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (Action("aws", "", "web-1", "stop", "done", at=NOW), "stopped by offhours at 22:00"),
        (
            Action("aws", "", "web-1", "stop", "would", "stop_instances"),
            "would stop (dry run: stop_instances)",
        ),
        (
            Action("aws", "", "web-1", "stop", "refused", "instance-store root"),
            "stop refused: instance-store root",
        ),
        (
            Action("aws", "", "web-1", "stop", "failed", "UnauthorizedOperation: denied\x1b[31m"),
            "stop failed: UnauthorizedOperation: denied[31m",  # the escape character is gone
        ),
    ],
)
def test_actions_show_on_their_line(action: Action, expected: str) -> None:
    d = finding_decision("web-1")
    action = Action(
        action.source,
        d.resource.key,
        action.name,
        action.verb,
        action.outcome,
        action.detail,
        action.at,
    )
    r = report_of(d, actions=(action,))
    line = render_text(r).splitlines()[2]
    assert line.endswith(expected)
    assert "\x1b" not in render_text(r)
    (message,) = render_slack(r)
    assert any(expected in t for t in block_texts(message))
    assert json.loads(render_json(r))["findings"][0]["action"]["outcome"] == action.outcome


def test_actions_on_resources_not_found_and_notes_are_listed() -> None:
    restored = Action("aws", "aws/x", "old-box", "restore", "done", at=NOW)
    r = report_of(
        finding_decision("web-1"),
        actions=(restored,),
        notes=("Prices: AWS on-demand list prices of 2026-11-01",),
    )
    text = render_text(r)
    assert "Actions:\n  • old-box: restored by offhours at 22:00" in text
    assert text.rstrip().endswith("Note: Prices: AWS on-demand list prices of 2026-11-01")
    doc = json.loads(render_json(r))
    assert doc["notes"] == ["Prices: AWS on-demand list prices of 2026-11-01"]
    assert doc["actions"][0]["verb"] == "restore"
    (message,) = render_slack(r)
    texts = block_texts(message)
    assert any("Prices: AWS on-demand list prices of 2026-11-01" in t for t in texts)
    assert any("old-box: restored by offhours" in t for t in texts)


def test_slack_group_titles_and_owner_names_stay_out_of_mrkdwn() -> None:
    r = report_of(
        finding_decision("web-1", owner="<!channel>", group="*bold* <http://x|y>"),
        finding_decision("web-2", owner="<!channel>", group="*bold* <http://x|y>"),
        finding_decision("db", owner="bob", group="zeus"),
    )
    (message,) = render_slack(r)
    assert any(t.startswith("*bold* <http://x|y> — 2 instances") for t in block_texts(message))
    assert not any("<!channel>" in t or "*bold*" in t for t in mrkdwn_texts(message))


def test_json_totals_per_group_and_owner() -> None:
    r = report_of(
        finding_decision("web-1", owner="ann"),
        finding_decision("lost", owner=None, cost=None, price_note="no price for x9.huge"),
    )
    doc = json.loads(render_json(r))
    assert doc["cost_by_group"]["atlas"] == {
        "count": 2,
        "priced": 1,
        "hourly_cost": 0.5,
        "cost_so_far": 1.0,
        "cost_so_far_at_least": False,
    }
    assert set(doc["cost_by_owner"]) == {"ann", ""}
    lost = next(f for f in doc["findings"] if f["name"] == "lost")
    assert (lost["hourly_cost"], lost["price_note"]) == (None, "no price for x9.huge")


prices = st.one_of(st.none(), st.floats(0, 100, allow_nan=False))
starts = st.one_of(st.none(), st.integers(-48 * 60, 60).map(lambda m: NOW + timedelta(minutes=m)))


@given(st.lists(st.tuples(prices, starts, st.booleans(), st.sampled_from("abc")), max_size=12))
def test_totals_are_the_sums_of_the_known_figures(rows: list[tuple]) -> None:
    ds = [
        finding_decision(f"r{i}", cost=c, since=s, at_least=lb, group=g)
        for i, (c, s, lb, g) in enumerate(rows)
    ]
    r = report_of(*ds)
    known = [so_far(f) for f in r.findings]
    spent = [v for v, _ in known if v is not None]
    assert r.cost.count == len(rows)
    assert r.cost.priced == sum(1 for c, *_ in rows if c is not None)
    assert (r.cost.so_far is None) == (not spent)
    if spent:
        assert r.cost.so_far == pytest.approx(sum(spent))
        assert all(v >= 0 for v in spent)
    by_group = sum(c.count for c in r.cost_by_group.values())
    assert by_group == sum(c.count for c in r.cost_by_owner.values()) == len(rows)
    assert Cost.of(()) == Cost()


def test_a_region_that_failed_is_a_part_not_a_source() -> None:
    from offhours.audit import AuditResult
    from offhours.model import SourceFailure

    part = SourceFailure("aws 111111111111/eu-west-1", "UnauthorizedOperation: denied [ec2]")
    r = build_report([], [part], now=NOW, sources=("aws",))
    assert r.sources_read and r.failed_sources == set()
    text = render_text(r)
    assert text.startswith(
        "No resources running outside business hours in the sources that answered "
        "(0 checked in 1 source; 1 part could not be read)."
    )
    assert "aws 111111111111/eu-west-1" in text
    # Read in part: the run is partial (exit 1), not an outright error.
    assert AuditResult(r, ()).status == "partial"
    whole = build_report([], [SourceFailure("aws", "no credentials")], now=NOW, sources=("aws",))
    assert not whole.sources_read
    assert AuditResult(whole, ()).status == "error"
    assert "every source failed" in render_text(whole)


def test_the_ungrouped_section_counts_and_prices_all_of_its_findings() -> None:
    r = report_of(
        finding_decision("a", group=None),
        finding_decision("b", group=None),
        finding_decision("web", group="atlas", owner="bob"),
    )
    lines = render_text(r).splitlines()
    assert "  (no group) — 2 instances — ~$1.00/h, ~$2.00 so far" in lines
    (message,) = render_slack(r)
    assert any(t.startswith("(no group) — 2 instances") for t in block_texts(message))
