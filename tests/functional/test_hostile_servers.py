"""Ravello and Slack clients against hostile loopback servers: hung, trickling, gzip bombs,
deep or huge JSON, redirects to another host, 5xx then OK — every read ends, every refusal is
clear, no secret is echoed."""

from __future__ import annotations

import json
import logging
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3

from offhours.config import Config, parse_config
from offhours.errors import ConfigError, NotifierError, SourceError, SourceResponseError
from offhours.model import Decision, Resource
from offhours.notifiers.slack import SlackNotifier
from offhours.report import Report, build_report
from offhours.secrets import Secret
from offhours.sources.ravello import (
    MAX_APPLICATION_BYTES,
    MAX_APPLICATIONS,
    MAX_JSON_ITEMS,
    MAX_VMS,
    RavelloSource,
)
from offhours.testing._http import LoopbackHandler, LoopbackServer, read_body
from offhours.testing.ravello import REDIRECT_TO, RavelloSimulator, make_app
from offhours.testing.slack import SlackSink
from offhours.transport import BoundedRetry, Deadline, HttpClient, proxy_for

PASSWORD = "pw-SENTINEL-hostile-5c1e9a"
NOW = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)
APPS = [make_app(7, "lab-7", "Ada", publish_start=NOW - timedelta(hours=3))]


@pytest.fixture
def sim() -> Iterator[RavelloSimulator]:
    with RavelloSimulator(APPS, password=PASSWORD) as server:
        yield server


def source(sim: RavelloSimulator, **settings: Any) -> RavelloSource:
    defaults: dict[str, Any] = {
        "base_url": sim.base_url,
        "username": Secret("sim-user"),
        "password": Secret(PASSWORD),
        "retries": 0,
        "backoff_factor": 0,
    }
    return RavelloSource("lab", **(defaults | settings))


def ravello_config(**settings: Any) -> Config:
    """A configuration with one Ravello source: its settings validated as every run's are."""
    table = {"type": "ravello", "name": "lab", "username": "env:U", "password": "env:P"}
    return parse_config({"sources": [table | settings]})


def collect(src: RavelloSource, deadline: Deadline | None = None) -> list[Resource]:
    if deadline is not None:
        src.deadline = deadline
    with src:
        return src.collect()


# ---------------------------------------------------------------- Ravello: time


def test_a_hung_ravello_ends_at_the_runs_deadline(sim: RavelloSimulator) -> None:
    sim.inject("hang", count=None)
    # Before: each attempt waited read_timeout (30 s) and four attempts were made.
    with pytest.raises(SourceError, match="timed out: the run's deadline came") as info:
        collect(source(sim, read_timeout=30, request_timeout=60, retries=3), Deadline.after(1))
    assert "/api/v1/applications" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_a_hung_ravello_ends_at_request_timeout(sim: RavelloSimulator) -> None:
    sim.inject("hang", count=None)
    with pytest.raises(SourceError, match=r"within request_timeout = 0.5 s"):
        collect(source(sim, read_timeout=30, request_timeout=0.5))


def test_a_trickled_body_ends_at_request_timeout(sim: RavelloSimulator) -> None:
    # One byte every 0.2 s: well inside read_timeout for every read, never done in total.
    sim.inject("trickle", delay=0.2)
    with pytest.raises(SourceError) as info:
        collect(source(sim, read_timeout=5, request_timeout=1))
    assert "request_timeout = 1 s (reading the body" in str(info.value)
    assert "→ 200" in str(info.value)


def test_trickled_headers_end_at_request_timeout(sim: RavelloSimulator) -> None:
    # Each header byte arrives well inside read_timeout; the headers never end.
    sim.inject("trickle_headers", delay=0.2)
    with pytest.raises(SourceError, match=r"request_timeout = 1 s"):
        collect(source(sim, read_timeout=5, request_timeout=1))


def test_trickled_headers_end_at_the_runs_deadline(sim: RavelloSimulator) -> None:
    sim.inject("trickle_headers", delay=0.2, count=None)
    with pytest.raises(SourceError, match="timed out: the run's deadline came"):
        collect(source(sim, read_timeout=5, request_timeout=60, retries=2), Deadline.after(1))


def test_a_trickled_body_ends_at_the_runs_deadline(sim: RavelloSimulator) -> None:
    sim.inject("trickle", delay=0.2)
    with pytest.raises(SourceError, match="run's deadline came while reading the body"):
        collect(source(sim, read_timeout=5, request_timeout=60), Deadline.after(1))


def test_a_long_retry_after_is_not_waited_past_the_deadline(sim: RavelloSimulator) -> None:
    sim.inject("429", count=None, retry_after=3)
    with pytest.raises(SourceError) as info:
        collect(source(sim, retries=5, max_retry_after=4), Deadline.after(1))
    message = str(info.value)
    assert "the next wait would pass the run's deadline" in message
    assert "gave up after 1 attempt" in message
    assert len(sim.requests) == 1


def test_a_deadline_already_passed_sends_nothing(sim: RavelloSimulator) -> None:
    with pytest.raises(SourceError, match="timed out"):
        collect(source(sim), Deadline.after(0))
    assert sim.requests == []


# ---------------------------------------------------------------- Ravello: size and shape


def test_a_gzip_bomb_stops_at_the_cap(sim: RavelloSimulator) -> None:
    sim.inject("gzip_bomb")
    with pytest.raises(SourceResponseError) as info:
        collect(source(sim, max_response_bytes=1_000_000))
    message = str(info.value)
    assert "larger than max_response_bytes = 1,000,000 bytes (decoded)" in message
    assert f"{sim.base_url}/applications" in message


def test_the_default_cap_stops_a_gzip_bomb_too(sim: RavelloSimulator) -> None:
    # 64 MiB of whitespace and "[]" is valid JSON: before the cap it inflated in memory.
    sim.inject("gzip_bomb")
    with pytest.raises(SourceResponseError, match="max_response_bytes = 8,388,608 bytes"):
        collect(source(sim))


def test_a_body_under_the_cap_is_read(sim: RavelloSimulator) -> None:
    assert [r.name for r in collect(source(sim, max_response_bytes=100_000))] == ["lab-7"]


def test_deeply_nested_json_is_a_clear_error(sim: RavelloSimulator) -> None:
    sim.inject("deep_json")
    with pytest.raises(SourceResponseError, match="nested too deeply"):
        collect(source(sim))


@pytest.mark.parametrize("count", [10**400, MAX_VMS + 1, -1])
def test_an_absurd_count_is_a_clear_error(sim: RavelloSimulator, count: int) -> None:
    app = make_app(9, "huge", "Eve")
    app["deployment"]["totalActiveVms"] = count
    sim.set_apps([app])
    with pytest.raises(SourceResponseError) as info:
        collect(source(sim))
    message = str(info.value)
    assert f"expected a count from 0 to {MAX_VMS:,}" in message
    assert len(message) < 400  # a 401-digit number is not printed


def test_a_count_at_the_bound_is_accepted(sim: RavelloSimulator) -> None:
    app = make_app(9, "big", "Eve")
    app["deployment"]["totalActiveVms"] = MAX_VMS
    sim.set_apps([app])
    assert collect(source(sim))[0].running == MAX_VMS


# ---------------------------------------------------------------- Ravello: where it goes


def test_a_redirect_to_another_host_is_not_followed(sim: RavelloSimulator) -> None:
    sim.inject("redirect")
    with pytest.raises(SourceError) as info:
        collect(source(sim))
    message = str(info.value)
    assert f"redirected to {REDIRECT_TO}" in message
    assert "never followed" in message
    assert len(sim.requests) == 1


@pytest.mark.parametrize(
    "url",
    ["http://ravello.example.com/api/v1", "http://10.1.2.3/api/v1", "HTTP://cloud.example/api"],
)
def test_plain_http_to_another_host_is_refused(url: str) -> None:
    # Refused where the settings are validated, once: the source's config model.
    with pytest.raises(ConfigError, match="plain http") as info:
        ravello_config(base_url=url)
    assert "allow_insecure_http" in str(info.value)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/v1", "http://localhost/api/v1"])
def test_plain_http_to_loopback_is_accepted(url: str) -> None:
    ravello_config(base_url=url)
    RavelloSource("lab", base_url=url, username=Secret("u"), password=Secret(PASSWORD))


def test_allow_insecure_http_warns_on_every_run(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        RavelloSource(
            "lab",
            base_url="http://ravello.internal/api/v1",
            username=Secret("u"),
            password=Secret(PASSWORD),
            allow_insecure_http=True,
        )
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 2
    assert "in clear" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "url",
    [
        "https://admin:hunter2-SENTINEL@ravello.example/api/v1",
        "https://hunter2-SENTINEL@ravello.example/api/v1",
        "http://admin:hunter2-SENTINEL@127.0.0.1:9/api/v1",
    ],
)
def test_credentials_in_base_url_are_refused_without_echo(url: str) -> None:
    with pytest.raises(ConfigError, match="credentials written into it") as info:
        ravello_config(base_url=url)
    assert "hunter2-SENTINEL" not in str(info.value)
    assert "admin" not in str(info.value)


def test_a_username_from_a_secret_is_not_echoed_when_refused(sim: RavelloSimulator) -> None:
    user = "ravello-user-SENTINEL-4b2d"
    with pytest.raises(SourceError, match="refused the credentials") as info:
        collect(source(sim, username=Secret(user), identity_domain="acme"))
    message = str(info.value)
    assert user not in message
    assert "user acme/••••4b2d" in message
    assert user not in repr(source(sim, username=Secret(user)))


# ---------------------------------------------------------------- Slack


def lab_report() -> Report:
    resource = Resource(provider="ravello", source="lab", id="1", name="lab-1", running=2)
    return build_report([Decision(resource, True, "outside business hours", "Mon-Fri")], now=NOW)


@pytest.fixture
def sink() -> Iterator[SlackSink]:
    with SlackSink() as s:
        yield s


def slack(sink: SlackSink, **settings: Any) -> SlackNotifier:
    return SlackNotifier("team", webhook_url=Secret(sink.url), **settings)


def test_a_redirect_from_the_webhook_is_not_followed(sink: SlackSink) -> None:
    with SlackSink() as elsewhere:
        # Before: urllib followed it, to any host, with the message.
        sink.inject_redirect(elsewhere.url.replace("127.0.0.1", "localhost"))
        with pytest.raises(NotifierError) as info:
            slack(sink).send(lab_report())
        assert elsewhere.attempts == 0
    message = str(info.value)
    assert "redirect (HTTP 302 to host 'localhost')" in message
    assert "never followed" in message
    assert sink.token not in message
    assert elsewhere.token not in message


def test_a_5xx_is_retried_then_delivered(sink: SlackSink) -> None:
    # Before: one 503 failed the run.
    sink.inject(body="", status=503)
    sink.inject(body="<html>bad gateway</html>", status=502)
    waits: list[float] = []
    assert slack(sink, sleep=waits.append).send(lab_report()).sent == 1
    assert [status for status, _ in sink.answers] == [503, 502, 200]
    assert sum(waits) <= 8  # within the default max_wait


def test_5xx_retries_end_and_say_how_many(sink: SlackSink) -> None:
    sink.inject(body="", status=503, count=10)
    with pytest.raises(NotifierError, match=r"HTTP 503, 3 attempts\): empty answer"):
        slack(sink, sleep=lambda _: None).send(lab_report())
    assert sink.attempts == 3


def test_a_retry_after_past_the_runs_deadline_is_not_waited(sink: SlackSink) -> None:
    sink.inject_429(retry_after="5")
    notifier = slack(sink, max_wait=30)
    notifier.deadline = Deadline.after(1)
    with pytest.raises(NotifierError, match=r"next wait \(5 s\) would pass the run's deadline"):
        notifier.send(lab_report())
    assert sink.attempts == 1


def test_a_hung_webhook_ends_at_the_runs_deadline(sink: SlackSink) -> None:
    sink.inject_slow(30)
    notifier = slack(sink, timeout=30)
    notifier.deadline = Deadline.after(0.5)
    with pytest.raises(NotifierError, match=r"timed out: the run's deadline came before 127\."):
        notifier.send(lab_report())


TOKEN = "xoxb-00000000-SENTINEL-00000000-XXXX"  # obviously fake: the shape of a bot token


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TOKEN, "is not a webhook URL"),  # a bot token pasted instead of the URL
        (f"https://{TOKEN}", "is not a webhook URL"),
        (f"https://hooks.slack.com:{TOKEN}/services/T0/B0/x", "port cannot be read"),
        (f"https://hooks.slack.com:99999/services/T0/B0/{TOKEN}", "port cannot be read"),
    ],
)
def test_a_refused_webhook_value_is_never_echoed(value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        SlackNotifier("team", webhook_url=Secret(value))
    message = str(info.value)
    assert "SENTINEL" not in message
    assert f"••••{value[-4:]}" in message  # the last four characters, at most


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "https://hooks.slack.com/x", "proxy.corp"),
        ({"https_proxy": "http://proxy.corp:3128"}, "https://hooks.slack.com/x", "proxy.corp"),
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://127.0.0.1:9/x", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "slack.com"}, "https://hooks.slack.com/x", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://hooks.slack.com/x", None),
        ({"HTTP_PROXY": "http://p:1"}, "https://hooks.slack.com/x", None),
        ({}, "https://hooks.slack.com/x", None),
    ],
)
def test_proxy_settings_are_honoured(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, expected: str | None
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    proxy = proxy_for(url)
    assert (proxy is None) if expected is None else (expected in (proxy or ""))


def test_the_webhook_goes_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    notifier = SlackNotifier(
        "team",
        webhook_url=Secret("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXX"),
    )
    assert isinstance(notifier._http._pool, urllib3.ProxyManager)


@pytest.mark.parametrize(
    "proxy",
    [
        "http://proxyuser:Pr0xy/sentinel-proxy-pw-9a1b@127.0.0.1:3128",  # "/" in the password
        "socks5://127.0.0.1:1080",
        "http://127.0.0.1:abc",
    ],
)
def test_a_proxy_that_cannot_be_used_is_a_config_error_without_its_password(
    monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    """Before: an internal ValueError (a traceback, with part of the password) ended the run."""
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hook = Secret("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXX")
    with pytest.raises(ConfigError) as info:
        SlackNotifier("team", webhook_url=hook)
    message = str(info.value)
    assert "HTTPS_PROXY/HTTP_PROXY is not one offhours can use" in message
    assert "Pr0xy" not in message and "sentinel" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def _answering(body: bytes, vms: bytes | None = None) -> type[LoopbackHandler]:
    """A Ravello stand-in whose every GET answers 200 with ``body`` as JSON, or ``vms`` for a
    VM list when given (bodies no simulator can produce: it serialises with Python's json)."""

    class Handler(LoopbackHandler):
        def do_GET(self) -> None:
            read_body(self)
            answer = vms if vms is not None and self.path.endswith("/vms") else body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    return Handler


@contextmanager
def _source_answering(body: bytes, vms: bytes | None = None) -> Iterator[RavelloSource]:
    with LoopbackServer(_answering(body, vms)) as server:
        yield RavelloSource(
            "lab",
            base_url=f"http://127.0.0.1:{server.port}/api/v1",
            username=Secret("sim-user"),
            password=Secret(PASSWORD),
            retries=0,
            list_vms=vms is not None,
        )


def test_a_number_thousands_of_digits_long_is_named_as_such() -> None:
    """Valid JSON that Python refuses to read as an int used to be called "not JSON"."""
    count = b"1" + b"0" * 5000
    body = b'[{"id": 1, "name": "huge", "deployment": {"totalActiveVms": ' + count + b"}}]"
    with (
        _source_answering(body) as lab,
        pytest.raises(SourceResponseError, match="a number thousands of digits long"),
    ):
        collect(lab)


def test_an_answer_of_too_many_values_is_refused_before_it_is_read() -> None:
    """Valid JSON under the size cap that would cost hundreds of MB once read: [[],[],…], as a
    VM list (read whole). The application list is read one application at a time: below."""
    flood = b"[" + b",".join([b"[]"] * (MAX_JSON_ITEMS // 2 + 10)) + b"]"
    with (
        _source_answering(json.dumps(APPS).encode(), vms=flood) as lab,
        pytest.raises(
            SourceResponseError, match=f"more than the {MAX_JSON_ITEMS:,} offhours reads"
        ),
    ):
        collect(lab)


def _peak_of_collect(lab: RavelloSource) -> tuple[int, BaseException | None]:
    """Peak bytes Python allocated while collecting (the server's body was built before)."""
    error: BaseException | None = None
    tracemalloc.start()
    try:
        collect(lab)
    except SourceResponseError as exc:
        error = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, error


def test_a_flood_as_the_application_list_is_refused_at_its_first_item() -> None:
    """[[],[],…] as the list: ~20 MB once read whole; refused at item 0, never read whole."""
    body = b"[" + b",".join([b"[]"] * (MAX_JSON_ITEMS // 2 + 10)) + b"]"
    with _source_answering(body) as lab:
        peak, error = _peak_of_collect(lab)
    assert "application item 0 is an array, expected an application object" in str(error)
    assert peak < 3 * len(body)  # the body, and the window an item is parsed from


def test_a_flood_inside_one_application_is_refused_before_it_is_read() -> None:
    """8 MB of [] in a field offhours never reads: ~200 MB once read whole, as json.loads did."""
    flood = b"[" + b",".join([b"[]"] * (8_000_000 // 3)) + b"]"
    body = b'[{"id": 1, "name": "lab-1", "design": ' + flood + b"}]"
    with _source_answering(body) as lab:
        peak, error = _peak_of_collect(lab)
    assert (
        f"application item 0 takes {MAX_APPLICATION_BYTES:,} bytes of JSON or more "
        "(reading stopped there)"
    ) in str(error)
    assert peak < 3 * len(body)


def test_an_application_with_large_fields_it_does_not_need_is_read() -> None:
    app = make_app(7, "lab-7", "Ada", publish_start=NOW - timedelta(hours=3))
    app["design"] = {"vms": [{"id": n, "name": f"vm-{n}", "disks": [{}] * 20} for n in range(1500)]}
    body = json.dumps([app, *APPS]).encode()
    assert MAX_APPLICATION_BYTES // 4 < len(body) < MAX_APPLICATION_BYTES
    with _source_answering(body) as lab:
        assert [r.name for r in collect(lab)] == ["lab-7", "lab-7"]


def test_more_applications_than_the_bound_are_refused() -> None:
    """A flood of tiny applications: each kept as a Resource, so the count is what is bounded."""
    tiny = b'{"id": 1, "name": "a"}'
    body = b"[" + b",".join([tiny] * (MAX_APPLICATIONS + 1)) + b"]"
    with (
        _source_answering(body) as lab,
        pytest.raises(
            SourceResponseError,
            match=f"holds more than the {MAX_APPLICATIONS:,} applications offhours reads",
        ),
    ):
        collect(lab)


def test_the_bound_itself_is_read() -> None:
    tiny = b'{"id": 1, "name": "a"}'
    body = b"[" + b",".join([tiny] * MAX_APPLICATIONS) + b"]"
    with _source_answering(body) as lab:
        assert len(collect(lab)) == MAX_APPLICATIONS


def test_a_large_answer_is_held_once_while_it_is_read() -> None:
    """Chunks joined at the end held the body twice at once; one growing buffer holds it once
    (and a little room to grow)."""
    body = b"[" + b" " * 16_000_000 + b"]"
    with LoopbackServer(_answering(body)) as server:
        client = HttpClient(
            server.origin,
            retry=BoundedRetry(total=0, redirect=False, raise_on_status=False),
            connect_timeout=10,
            read_timeout=10,
            request_timeout=30,
            max_bytes=2 * len(body),
        )
        tracemalloc.start()
        try:
            answer = client.request("GET", f"{server.origin}/big")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answer.body == body
    assert peak < 1.5 * len(body)
