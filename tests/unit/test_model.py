"""The records of a run: resource keys, kinds and their words, findings, receipts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offhours.errors import OffhoursError
from offhours.model import (
    GENERIC,
    KEY_SEPARATOR,
    Decision,
    Finding,
    Kind,
    MessageReceipt,
    Receipt,
    Resource,
    hourly_cost,
    resource_key,
)
from offhours.report import build_report, render_text
from offhours.sources.ravello import APPLICATION

NOW = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)

# Parts as hostile as names get: the separator, "%", escapes that look encoded, lone surrogates.
_pieces = st.sampled_from(["a", "/", "%", "2F", "%2F", "\ud800", "é", " "])
_part = st.lists(_pieces, max_size=4).map("".join)
_parts = st.tuples(_part, _part, st.one_of(st.none(), _part), _part, _part)
Parts = tuple[str, str, str | None, str, str]


@given(_parts, _parts)
def test_keys_differ_exactly_when_the_parts_do(a: Parts, b: Parts) -> None:
    def same_place(x: Parts) -> Parts:
        provider, account, region, kind, id_ = x
        return (provider, account, region or "", kind, id_)

    assert (resource_key(*a) == resource_key(*b)) == (same_place(a) == same_place(b))


@given(_parts)
def test_a_key_has_five_parts_and_is_the_same_every_time(parts: Parts) -> None:
    key = resource_key(*parts)
    assert key == resource_key(*parts)
    assert len(key.split(KEY_SEPARATOR)) == 5


def test_resource_key_is_built_from_its_provider_account_region_kind_and_id() -> None:
    r = Resource(
        provider="ravello",
        source="lab",
        id="42",
        name="x",
        running=1,
        kind=APPLICATION,
        account="acme/eu",
        region="us-east-1",
    )
    assert r.key == "ravello/acme%2Feu/us-east-1/ravello.application/42"


@pytest.mark.parametrize(
    ("kind", "n", "things", "units", "running"),
    [
        (APPLICATION, 1, "1 lab", "1 VM", "1 running VM"),
        (APPLICATION, 3, "3 labs", "3 VMs", "3 running VMs"),
        (GENERIC, 2, "2 resources", "2 machines", "2 running machines"),
        (Kind("aws.eks.nodegroup", "node group", "node"), 2, "2 node groups", "2 nodes", None),
        (Kind("x.db", "DB", "instance", nouns="DBs"), 0, "0 DBs", "0 instances", None),
    ],
)
def test_a_kind_words_its_counts(
    kind: Kind, n: int, things: str, units: str, running: str | None
) -> None:
    assert kind.count(n) == things
    assert kind.count_units(n) == units
    if running is not None:
        assert kind.count_units(n, "running") == running


def _decision(name: str, kind: Kind = APPLICATION, group: str | None = None) -> Decision:
    r = Resource(provider="p", source="s", id=name, name=name, running=2, kind=kind, group=group)
    return Decision(r, flagged=True, reason="outside business hours", schedule="Mon-Fri")


def test_the_report_words_come_from_the_kind() -> None:
    instance = Kind("aws.ec2.instance", noun="instance", unit="vCPU")
    text = render_text(build_report([_decision("a", instance)], now=NOW))
    assert text.startswith("1 instance running outside business hours — 2 vCPUs")
    assert "lab" not in text and "VM" not in text


def test_mixed_kinds_are_worded_generically() -> None:
    kinds = [_decision("a"), _decision("b", Kind("aws.rds.db", "DB", "instance"))]
    text = render_text(build_report(kinds, now=NOW))
    assert text.startswith("2 resources running outside business hours — 4 machines")


def test_findings_carry_their_instant_and_group_and_groups_stay_together() -> None:
    decisions = [_decision("z", group="g"), _decision("m"), _decision("a", group="g")]
    report = build_report(decisions, now=NOW)
    assert [(f.resource.name, f.group, f.at) for f in report.findings] == [
        ("a", "g", NOW),
        ("z", "g", NOW),
        ("m", "m", NOW),  # no group: the resource is its own
    ]
    assert {g: [f.resource.name for f in fs] for g, fs in report.groups.items()} == {
        "g": ["a", "z"],
        "m": ["m"],
    }
    assert Finding.of(_decision("c"), NOW).decision.resource.name == "c"


def test_derived_report_fields_are_computed_once() -> None:
    report = build_report([_decision("a")], now=NOW)
    assert report.problems is report.problems
    assert report.findings is report.findings


def test_a_cost_that_overflows_is_an_error_naming_the_resource() -> None:
    assert hourly_cost("lab", 3, 0.5) == 1.5
    with pytest.raises(OffhoursError, match=r"the cost of 'lab' .* overflows"):
        hourly_cost("lab", 10**6, 1e308)


def test_a_receipt_counts_what_went_out() -> None:
    ok = Receipt("team", "slack", "https://hooks.slack.com/…", (MessageReceipt(1),), planned=1)
    failed = Receipt("team", "slack", "x", planned=2, error="HTTP 500")
    assert (ok.sent, ok.ok) == (1, True)
    assert (failed.sent, failed.ok) == (0, False)
