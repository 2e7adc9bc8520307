"""RavelloSource against the Ravello simulator over real loopback HTTP."""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from offhours.audit import resolve_secrets
from offhours.config import parse_config
from offhours.errors import (
    ConfigError,
    OffhoursError,
    SecretError,
    SourceAuthError,
    SourceError,
    SourceResponseError,
)
from offhours.model import VM
from offhours.secrets import Secret
from offhours.sources.ravello import APPLICATION, RavelloSource, parse_description_tags
from offhours.testing.ravello import RavelloSimulator, make_app, make_labs
from offhours.transport import BoundedRetry

# A sentinel no message, log record or repr may ever contain.
PASSWORD = "pw-SENTINEL-93f1c2e7"
NOW = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)
STARTED = NOW - timedelta(hours=5, minutes=30)
EXPIRES = NOW + timedelta(hours=2)

APPS = [
    make_app(
        360452,
        "ocp-workshop",
        "Ada Lovelace",
        running=3,
        stopped=1,
        errored=1,
        region="eu-west-1",
        publish_start=STARTED,
        expires=EXPIRES,
        description="Partner lab.\noffhours: Mon-Fri 07:30-19:00 Europe/London\nteam=emea",
    ),
    make_app(360451, "draft-lab", "Grace Hopper", published=False),
    make_app(
        360453, "old-record", "Alan Turing", running=1, owner_details=False, publish_start=STARTED
    ),
    make_app(360454, "stopped-lab", "Radia Perlman", running=0, stopped=2, publish_start=STARTED),
]


@pytest.fixture
def sim() -> Iterator[RavelloSimulator]:
    with RavelloSimulator(APPS, password=PASSWORD) as server:
        yield server


def source(sim: RavelloSimulator, **settings: Any) -> RavelloSource:
    """Fast settings for tests: no backoff, short caps; anything can be overridden."""
    defaults: dict[str, Any] = {
        "base_url": sim.base_url,
        "username": Secret("sim-user"),
        "password": Secret(PASSWORD),
        "retries": 2,
        "backoff_factor": 0,
        "max_retry_after": 0.05,
        "read_timeout": 5,
    }
    return RavelloSource("lab", **(defaults | settings))


def calls(sim: RavelloSimulator) -> Counter[tuple[str, str]]:
    return Counter((r.method, r.path) for r in sim.requests)


def assert_no_secret(*texts: str) -> None:
    token = base64.b64encode(f"sim-user:{PASSWORD}".encode()).decode()
    for text in texts:
        assert PASSWORD not in text
        assert token not in text


# ---- happy paths ---------------------------------------------------------------------------


def test_maps_applications_to_resources(sim: RavelloSimulator) -> None:
    resources = {r.name: r for r in source(sim).collect()}
    assert list(resources) == ["ocp-workshop", "draft-lab", "old-record", "stopped-lab"]

    lab = resources["ocp-workshop"]
    assert (lab.provider, lab.source, lab.id) == ("ravello", "lab", "360452")
    assert (lab.running, lab.stopped, lab.errored) == (3, 1, 1)
    assert lab.owner == "Ada Lovelace"
    assert lab.region == "EU West 1"
    assert lab.running_since == STARTED
    assert lab.running_since is not None and lab.running_since.tzinfo is not None
    assert lab.expires_at == EXPIRES
    assert dict(lab.tags) == {"offhours": "Mon-Fri 07:30-19:00 Europe/London", "team": "emea"}
    assert lab.vms == ()  # list_vms is off
    assert sim.requests[0].has_auth and not sim.requests[0].used_cookie
    assert calls(sim) == Counter({("GET", "/applications"): 1})
    # What a state store keys it by, and what the report calls it.
    assert (lab.kind, lab.account, lab.group) == (APPLICATION, "lab", "ocp-workshop")
    assert lab.key == "ravello/lab/EU%20West%201/ravello.application/360452"
    assert lab.hourly_cost is None  # no cost_per_vm_hour


def test_the_source_prices_its_running_vms(sim: RavelloSimulator) -> None:
    resources = {r.name: r for r in source(sim, cost_per_vm_hour=0.25).collect()}
    assert resources["ocp-workshop"].hourly_cost == 0.75  # 3 running VMs
    assert resources["stopped-lab"].hourly_cost == 0.0
    assert resources["draft-lab"].hourly_cost == 0.0  # never published


def test_a_cost_that_overflows_fails_the_source_naming_the_lab(sim: RavelloSimulator) -> None:
    # Before: the orchestrator multiplied outside the source's failure boundary.
    with pytest.raises(OffhoursError, match=r"the cost of 'ocp-workshop' .* overflows"):
        source(sim, cost_per_vm_hour=1e308).collect()


def test_keys_are_the_same_from_run_to_run(sim: RavelloSimulator) -> None:
    assert [r.key for r in source(sim).collect()] == [r.key for r in source(sim).collect()]


def test_draft_has_no_deployment_and_runs_nothing(sim: RavelloSimulator) -> None:
    draft = next(r for r in source(sim).collect() if r.name == "draft-lab")
    assert (draft.running, draft.stopped, draft.errored) == (0, 0, 0)
    assert not draft.is_running
    assert (draft.region, draft.running_since, draft.expires_at) == (None, None, None)
    assert draft.owner == "Grace Hopper"


def test_owner_falls_back_to_the_display_name(sim: RavelloSimulator) -> None:
    old = next(r for r in source(sim).collect() if r.name == "old-record")
    assert old.owner == "Alan Turing"
    assert old.is_running


def test_region_falls_back_to_region_name(sim: RavelloSimulator) -> None:
    app = make_app(1, "a", "o", region="us-central-1", publish_start=STARTED)
    del app["deployment"]["cloudRegion"]
    sim.set_apps([app])
    assert source(sim).collect()[0].region == "us-central-1"


def test_session_auth_logs_in_once_and_uses_the_cookie(sim: RavelloSimulator) -> None:
    src = source(sim, auth="session")
    assert len(src.collect()) == 4
    assert len(src.collect()) == 4
    assert calls(sim) == Counter({("POST", "/login"): 1, ("GET", "/applications"): 2})
    gets = [r for r in sim.requests if r.method == "GET"]
    assert all(r.used_cookie and not r.has_auth for r in gets)


def test_close_logs_out(sim: RavelloSimulator) -> None:
    with source(sim, auth="session") as src:
        src.collect()
        assert sim.active_sessions == 1
    assert sim.active_sessions == 0
    assert calls(sim)[("POST", "/logout")] == 1


@pytest.mark.parametrize("auth", ["basic", "session"])
def test_identity_domain(auth: str) -> None:
    with RavelloSimulator(APPS, password=PASSWORD, identity_domain="acme") as sim:
        assert len(source(sim, auth=auth, identity_domain="acme").collect()) == 4
        with pytest.raises(SourceAuthError, match="identity_domain") as info:
            source(sim, auth=auth).collect()
        # The user name came from a secret reference: never echoed, not even when refused.
        assert "sim-user" not in str(info.value)
        assert "user ••••" in str(info.value)


def test_long_ids_arrive_as_strings_and_stay_exact(sim: RavelloSimulator) -> None:
    big = 9_007_199_254_740_993  # 2**53 + 1: not representable as a JSON double
    sim.set_apps([make_app(big, "big", "o", publish_start=STARTED)])
    assert source(sim).collect()[0].id == str(big)


def test_list_vms_fetches_running_apps_only(sim: RavelloSimulator) -> None:
    resources = {r.name: r for r in source(sim, list_vms=True).collect()}
    assert [vm.state for vm in resources["ocp-workshop"].vms] == [
        "STARTED",
        "STARTED",
        "STARTED",
        "STOPPED",
        "ERROR",
    ]
    assert resources["ocp-workshop"].vms[0] == VM(id="36045201", name="vm-1", state="STARTED")
    assert len(resources["old-record"].vms) == 1
    assert resources["draft-lab"].vms == resources["stopped-lab"].vms == ()
    vm_paths = {r.path for r in sim.requests if r.path.endswith("/vms")}
    assert vm_paths == {
        "/applications/360452;deployment/vms",
        "/applications/360453;deployment/vms",
    }


def test_list_vms_for_many_apps(sim: RavelloSimulator) -> None:
    sim.set_apps(make_labs(30, running=20, seed=7, now=NOW))
    resources = source(sim, list_vms=True).collect()
    running = [r for r in resources if r.is_running]
    assert len(running) == 20
    for r in running:
        assert sum(vm.state == "STARTED" for vm in r.vms) == r.running
    assert sum(r.path.endswith("/vms") for r in sim.requests) == 20


def test_list_vms_failure_names_the_application(sim: RavelloSimulator) -> None:
    sim.inject("500", count=None, path_prefix="/applications/360453;deployment/vms")
    with pytest.raises(SourceError, match=r"VMs of application 'old-record' \(id 360453\)") as info:
        source(sim, list_vms=True).collect()
    assert "→ 500" in str(info.value) and "3 attempts" in str(info.value)


def test_list_vms_wrong_shape_is_a_response_error(sim: RavelloSimulator) -> None:
    sim.inject("wrong_shape", path_prefix="/applications/360452;deployment/vms")
    with pytest.raises(SourceResponseError, match=r"'ocp-workshop'.*JSON array of VMs"):
        source(sim, list_vms=True).collect()


# ---- sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("list_vms", [False, True])
def test_session_relogs_in_once_after_expiry(sim: RavelloSimulator, list_vms: bool) -> None:
    src = source(sim, auth="session", list_vms=list_vms)
    first = src.collect()
    sim.expire_session()
    sim.clear_requests()
    assert src.collect() == first
    assert calls(sim)[("POST", "/login")] == 1
    assert [(r.method, r.path, r.status) for r in sim.requests[:3]] == [
        ("GET", "/applications", 401),
        ("POST", "/login", 200),
        ("GET", "/applications", 200),
    ]


def test_session_relogin_happens_only_once_per_request(sim: RavelloSimulator) -> None:
    sim.inject("401", count=2, path_prefix="/applications")
    with pytest.raises(SourceAuthError, match="AUTHENTICATION_FAILED"):
        source(sim, auth="session").collect()
    assert calls(sim) == Counter({("POST", "/login"): 2, ("GET", "/applications"): 2})


def test_session_login_refused(sim: RavelloSimulator) -> None:
    with pytest.raises(SourceAuthError, match=r"POST http://127\.0\.0\.1:\d+/api/v1/login → 401"):
        source(sim, auth="session", password=Secret("wrong")).collect()


# ---- retries -------------------------------------------------------------------------------


def test_429_with_retry_after_then_success(sim: RavelloSimulator) -> None:
    sim.inject("429", count=2, path_prefix="/applications", retry_after=1)
    assert len(source(sim).collect()) == 4
    assert [r.status for r in sim.requests] == [429, 429, 200]


@pytest.mark.parametrize("kind", ["500", "503"])
def test_5xx_then_success(sim: RavelloSimulator, kind: str) -> None:
    sim.inject(kind, path_prefix="/applications")
    assert len(source(sim).collect()) == 4
    assert [r.status for r in sim.requests] == [int(kind), 200]


def test_login_is_retried_after_a_5xx(sim: RavelloSimulator) -> None:
    sim.inject("503", path_prefix="/login")
    assert len(source(sim, auth="session").collect()) == 4
    assert [(r.path, r.status) for r in sim.requests] == [
        ("/login", 503),
        ("/login", 200),
        ("/applications", 200),
    ]


def test_500_forever_gives_up_with_the_attempt_count(sim: RavelloSimulator) -> None:
    sim.inject("500", count=None)
    with pytest.raises(SourceError) as info:
        source(sim, retries=3).collect()
    message = str(info.value)
    assert type(info.value) is SourceError
    assert "/api/v1/applications → 500" in message
    assert "after 4 attempts" in message
    assert "INTERNAL_ERROR" in message
    assert len(sim.requests) == 4


def test_429_forever_reports_the_rate_limit(sim: RavelloSimulator) -> None:
    sim.inject("429", count=None, retry_after=3600)  # capped by max_retry_after=0.05
    outcome: list[BaseException] = []

    def collect() -> None:
        try:
            source(sim, retries=1).collect()
        except SourceError as exc:
            outcome.append(exc)

    # If the cap were ignored, collect() would sleep for an hour: a daemon thread turns that
    # into a failed test instead of a stuck run.
    worker = threading.Thread(target=collect, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "Retry-After 3600 was not capped by max_retry_after"
    assert len(outcome) == 1
    assert re.search(r"rate-limiting.*after 2 attempts.*Retry-After 3600", str(outcome[0]))


def test_retry_after_is_capped() -> None:
    retry = BoundedRetry(total=3, retry_after_cap=2.5).new()  # the cap survives new()
    for header, expected in [("3600", 2.5), ("1", 1.0), ("soon", None)]:
        response = urllib3.HTTPResponse(status=429, headers={"Retry-After": header})
        assert retry.get_retry_after(response) == expected


# ---- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("401", r"refused the credentials for user •••• .*→ 401.*AUTHENTICATION_FAILED"),
        ("403", r"→ 403 \(ERROR-CODE: QUOTA_EXCEEDED; ERROR-MESSAGE: .*quota"),
    ],
)
def test_auth_errors(sim: RavelloSimulator, kind: str, expected: str) -> None:
    sim.inject(kind)
    with pytest.raises(SourceAuthError, match=expected):
        source(sim).collect()
    assert len(sim.requests) == 1  # never retried


def test_wrong_password(sim: RavelloSimulator) -> None:
    with pytest.raises(SourceAuthError, match="check username/password"):
        source(sim, password=Secret("not-it")).collect()


def test_slow_answer_times_out(sim: RavelloSimulator) -> None:
    sim.inject("slow", count=None, delay=30)
    with pytest.raises(SourceError) as info:
        source(sim, read_timeout=0.2, retries=1).collect()
    port = sim.base_url.split(":")[2].split("/")[0]
    assert f"127.0.0.1:{port} sent no answer within the read timeout of 0.2 s" in str(info.value)
    assert "2 attempts" in str(info.value)


def test_one_slow_answer_is_retried(sim: RavelloSimulator) -> None:
    sim.inject("slow", delay=30)
    assert len(source(sim, read_timeout=0.2).collect()) == 4
    assert len(sim.requests) == 2


def test_connection_refused_names_host_and_port() -> None:
    with RavelloSimulator([]) as sim:
        url = sim.base_url
    src = RavelloSource(
        "lab", base_url=url, username=Secret("u"), password=Secret(PASSWORD), retries=0
    )
    port = url.split(":")[2].split("/")[0]
    with pytest.raises(SourceError, match=rf"cannot connect to 127\.0\.0\.1:{port} .*refused"):
        src.collect()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("truncated", r"→ 200 but the body was cut short \(\d+ bytes received"),
        ("non_json", r"→ 200 but the body is not JSON \(text/html, \d+ bytes\)"),
        ("wrong_shape", r"→ 200 but expected a JSON array of applications, got an object"),
        ("missing_fields", r"→ 200 but application item 3 has no usable 'id'"),
    ],
)
def test_unusable_bodies(sim: RavelloSimulator, kind: str, expected: str) -> None:
    sim.inject(kind, count=None)
    with pytest.raises(SourceResponseError, match=expected) as info:
        source(sim).collect()
    assert f"GET {sim.base_url}/applications → 200" in str(info.value)


def _set(path: str, value: Any) -> dict[str, Any]:
    app = make_app(5, "lab-x", "o", publish_start=STARTED)
    *parents, last = path.split(".")
    node = app
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return app


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("not an object", "item 1 is a string, expected an application object"),
        (_set("id", None), "item 1 has no usable 'id'"),
        (_set("id", True), "item 1 has no usable 'id'"),
        (_set("name", KeyError), "item 1 (id 5) has no 'name'"),
        (_set("deployment", [1]), "'lab-x', id 5) has a 'deployment' that is an array"),
        (_set("deployment.totalActiveVms", KeyError), "deployment.totalActiveVms = None"),
        (_set("deployment.totalActiveVms", "3"), "deployment.totalActiveVms = '3'"),
        (_set("deployment.totalStoppedVms", -1), "deployment.totalStoppedVms = -1"),
        (_set("deployment.publishStartTime", "yesterday"), "publishStartTime = 'yesterday'"),
        (_set("deployment.expirationTime", 10**30), "expirationTime = 1000000000000000"),
    ],
)
def test_malformed_items_are_named_by_index(
    sim: RavelloSimulator, item: Any, expected: str
) -> None:
    sim.set_apps([make_app(4, "fine", "o", publish_start=STARTED), item])
    with pytest.raises(SourceResponseError) as info:
        source(sim).collect()
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"base_url": "cloud.ravellosystems.com/api/v1"},
            'sources[0].base_url: "cloud.ravellosystems.com/api/v1" is not an http(s) URL such as '
            '"https://cloud.ravellosystems.com/api/v1"',
        ),
        (
            {"base_url": "https:///api/v1"},
            "sources[0]: base_url 'https:///api/v1' is not an http(s) URL",
        ),
        ({"retries": -1}, "sources[0].retries: -1 must be between 0 and 10"),
        ({"read_timeout": 0}, "sources[0].read_timeout: 0 must be more than 0 and at most 600"),
        ({"auth": "token"}, 'sources[0].auth: "token" must be one of: basic, session'),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, Any], problem: str) -> None:
    # Validated once, by the source's config model (check, deploy and every run do it before
    # the source is built): the constructor trusts what it is given.
    table = {"type": "ravello", "name": "lab", "username": "env:U", "password": "env:P"}
    with pytest.raises(ConfigError) as info:
        parse_config({"sources": [table | settings]})
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_an_empty_username_is_refused_before_the_source_is_built() -> None:
    table = {"type": "ravello", "name": "lab", "username": "env:U", "password": "env:P"}
    config = parse_config({"sources": [table]})
    with pytest.raises(SecretError, match=r"sources\[0\]\.username: env:U: the secret is empty"):
        resolve_secrets(config, {"U": " \n", "P": PASSWORD})


# ---- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["basic", "session"])
@pytest.mark.parametrize(
    "kind", ["401", "403", "429", "500", "slow", "truncated", "non_json", "wrong_shape"]
)
def test_password_never_in_messages_or_logs(
    sim: RavelloSimulator, caplog: pytest.LogCaptureFixture, auth: str, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.inject(kind, count=None, delay=30)
    src = source(sim, auth=auth, read_timeout=0.2, retries=1)
    with pytest.raises(SourceError) as info:
        src.collect()
    src.close()
    assert caplog.records  # the logs were captured, so the check below means something
    assert_no_secret(str(info.value), repr(info.value), caplog.text, repr(src))
    cause: BaseException | None = info.value
    while cause is not None:  # chained third-party errors too
        assert_no_secret(str(cause), repr(cause))
        cause = cause.__cause__


def test_close_survives_a_failed_logout(
    sim: RavelloSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = source(sim, auth="session")
    src.collect()
    sim.inject("500", count=None)
    src.close()  # does not raise
    assert "logout failed" in caplog.text
    assert_no_secret(caplog.text)


# ---- tags from the description -------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "tags"),
    [
        (None, {}),
        ("", {}),
        ("Customer workshop lab.", {}),
        (
            "offhours: Mon-Fri 07:30-19:00 Europe/London",
            {"offhours": "Mon-Fri 07:30-19:00 Europe/London"},
        ),
        ("offhours-exempt: until 2026-12-24 demo", {"offhours-exempt": "until 2026-12-24 demo"}),
        ("team=emea\n  owner.email = a@b.c  ", {"team": "emea", "owner.email": "a@b.c"}),
        ("a=1\na: 2", {}),  # the later line must not win: neither does (a reported problem)
        ("k=v: w", {"k": "v: w"}),  # the first separator splits
        ("empty:", {"empty": ""}),
        ("see https://wiki.example.com/lab", {}),
        ("https://wiki.example.com/lab", {}),  # a link, not a tag called https
        ("two words: no", {}),
        (
            "offhours: Mon-Fri 08:00-18:00\r\nteam: x",
            {"offhours": "Mon-Fri 08:00-18:00", "team": "x"},
        ),
    ],
)
def test_description_tags(description: str | None, tags: dict[str, str]) -> None:
    assert parse_description_tags(description) == tags


_KEYS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,20}", fullmatch=True)
_VALUES = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
        max_size=40,
    )
    .map(str.strip)
    .filter(lambda v: not v.startswith("//"))
)
_PROSE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters=":=\x85"),
    max_size=40,
)


@given(
    tags=st.dictionaries(_KEYS, _VALUES, max_size=6),
    prose=st.lists(_PROSE, max_size=4),
    separators=st.lists(st.sampled_from([": ", "=", " = ", ":"]), min_size=6, max_size=6),
)
def test_description_tags_round_trip(
    tags: dict[str, str], prose: list[str], separators: list[str]
) -> None:
    lines = [f"{k}{sep}{v}" for (k, v), sep in zip(tags.items(), separators, strict=False)]
    description = "\n".join(prose + lines)
    assert parse_description_tags(description) == tags
