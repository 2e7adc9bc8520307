"""The Ravello simulator over real loopback HTTP: the contract the source and the demo rely on."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from offhours.testing.ravello import (
    BOMB_BYTES,
    DEEP_JSON,
    FAULT_KINDS,
    REDIRECT_TO,
    RavelloSimulator,
    make_app,
    make_labs,
)

PASSWORD = "sim-test-pw-4d1c"
NOW = datetime(2026, 3, 4, 21, 0, tzinfo=UTC)


def _basic(user: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Reply:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    sim: RavelloSimulator, method: str, path: str, headers: dict[str, str] | None = None
) -> Reply:
    parts = urlsplit(sim.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(
            method, parts.path + path, body=b"" if method == "POST" else None, headers=headers or {}
        )
        return Reply(conn.getresponse())
    finally:
        conn.close()


@pytest.fixture
def sim() -> Iterator[RavelloSimulator]:
    apps = [
        make_app(
            101,
            "lab-a",
            "Ada Lovelace",
            running=2,
            stopped=1,
            errored=1,
            publish_start=NOW - timedelta(hours=3),
            expires=NOW + timedelta(hours=1),
        ),
        make_app(102, "draft-b", "Grace Hopper", published=False),
        make_app(103, "stopped-c", "Alan Turing", running=0, stopped=3, owner_details=False),
    ]
    with RavelloSimulator(apps, password=PASSWORD) as server:
        yield server


AUTH = {"Authorization": _basic("sim-user")}


def test_lists_applications_as_a_bare_array(sim: RavelloSimulator) -> None:
    reply = request(sim, "GET", "/applications", AUTH)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json"
    apps = reply.json()
    assert [a["id"] for a in apps] == [101, 102, 103]
    assert "deployment" not in apps[1]
    assert "ownerDetails" not in apps[2] and apps[2]["owner"] == "Alan Turing"
    deployment = apps[0]["deployment"]
    assert (
        deployment["totalActiveVms"],
        deployment["totalStoppedVms"],
        deployment["totalErrorVms"],
    ) == (2, 1, 1)
    assert deployment["publishStartTime"] == int((NOW - timedelta(hours=3)).timestamp() * 1000)
    assert deployment["expirationTime"] == int((NOW + timedelta(hours=1)).timestamp() * 1000)
    assert deployment["cloudRegion"]["displayName"] == "US East 5"


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({}, "/applications"),
        ({"Authorization": _basic("sim-user", "wrong")}, "/applications"),
        ({"Authorization": "Basic !!!not-base64"}, "/applications/101"),
        ({"Cookie": "JSESSIONID=made-up"}, "/applications"),
    ],
)
def test_refuses_requests_without_valid_auth(
    sim: RavelloSimulator, headers: dict[str, str], path: str
) -> None:
    reply = request(sim, "GET", path, headers)
    assert reply.status == 401
    assert reply.headers["ERROR-CODE"] == "AUTHENTICATION_FAILED"
    assert reply.headers["ERROR-MESSAGE"]


def test_login_cookie_logout(sim: RavelloSimulator) -> None:
    refused = request(sim, "POST", "/login", {"Authorization": _basic("sim-user", "bad")})
    assert refused.status == 401
    login = request(sim, "POST", "/login", AUTH)
    assert login.status == 200
    assert {"id", "email", "name", "surname", "organization", "roles"} <= set(login.json())
    cookie = login.headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("JSESSIONID=")
    assert sim.active_sessions == 1

    assert request(sim, "GET", "/applications", {"Cookie": cookie}).status == 200
    assert request(sim, "POST", "/logout", {"Cookie": cookie}).status == 204
    assert request(sim, "GET", "/applications", {"Cookie": cookie}).status == 401
    assert sim.active_sessions == 0


def test_expire_session_ends_cookies(sim: RavelloSimulator) -> None:
    cookie = request(sim, "POST", "/login", AUTH).headers["Set-Cookie"].split(";")[0]
    assert sim.expire_session() == 1
    assert request(sim, "GET", "/applications", {"Cookie": cookie}).status == 401


def test_identity_domain_users_log_in_as_domain_slash_user() -> None:
    with RavelloSimulator([], password=PASSWORD, identity_domain="acme") as sim:
        assert request(sim, "GET", "/applications", AUTH).status == 401
        ok = request(sim, "GET", "/applications", {"Authorization": _basic("acme/sim-user")})
        assert ok.status == 200
        assert ok.json() == []


def test_application_aspects_and_unknown_ids(sim: RavelloSimulator) -> None:
    assert request(sim, "GET", "/applications/101", AUTH).json()["name"] == "lab-a"
    deployment = request(sim, "GET", "/applications/101;deployment", AUTH).json()
    assert deployment["totalActiveVms"] == 2
    vms = request(sim, "GET", "/applications/101;deployment/vms", AUTH).json()
    assert [vm["state"] for vm in vms] == ["STARTED", "STARTED", "STOPPED", "ERROR"]
    assert all({"id", "name", "state"} <= set(vm) for vm in vms)
    for path in ("/applications/999", "/applications/102;deployment/vms", "/nothing"):
        reply = request(sim, "GET", path, AUTH)
        assert reply.status == 404, path
        assert reply.headers["ERROR-CODE"]


def test_long_to_string_sends_ids_as_strings(sim: RavelloSimulator) -> None:
    apps = request(sim, "GET", "/applications", {**AUTH, "X-LongToString": "true"}).json()
    assert [a["id"] for a in apps] == ["101", "102", "103"]
    assert isinstance(apps[0]["ownerDetails"]["userId"], str)
    assert all(isinstance(vm["id"], str) for vm in apps[0]["deployment"]["vms"])
    assert apps[0]["deployment"]["totalActiveVms"] == 2  # counts are not ids


@pytest.mark.parametrize(
    ("kind", "status", "header"),
    [
        ("401", 401, "ERROR-CODE"),
        ("403", 403, "ERROR-CODE"),
        ("429", 429, "Retry-After"),
        ("500", 500, "ERROR-MESSAGE"),
        ("503", 503, "Retry-After"),
    ],
)
def test_injected_errors_are_used_up_in_order(
    sim: RavelloSimulator, kind: str, status: int, header: str
) -> None:
    sim.inject(kind, count=2, path_prefix="/applications", retry_after=7)
    assert request(sim, "GET", "/applications/101", AUTH).status == status
    first = request(sim, "GET", "/applications", AUTH)
    assert first.status == status
    assert first.headers[header]
    if header == "Retry-After":
        assert first.headers["Retry-After"] == "7"
    assert request(sim, "GET", "/applications", AUTH).status == 200


def test_fault_path_prefix_leaves_other_paths_alone(sim: RavelloSimulator) -> None:
    sim.inject("500", count=None, path_prefix="/applications/101;deployment/vms")
    assert request(sim, "GET", "/applications", AUTH).status == 200
    assert request(sim, "GET", "/applications/101;deployment/vms", AUTH).status == 500
    assert request(sim, "GET", "/applications/101;deployment/vms", AUTH).status == 500
    sim.clear_faults()
    assert request(sim, "GET", "/applications/101;deployment/vms", AUTH).status == 200


def test_body_faults(sim: RavelloSimulator) -> None:
    sim.inject("non_json")
    html = request(sim, "GET", "/applications", AUTH)
    assert (html.status, html.headers["Content-Type"].split(";")[0]) == (200, "text/html")
    sim.inject("wrong_shape")
    assert isinstance(request(sim, "GET", "/applications", AUTH).json(), dict)
    sim.inject("missing_fields")
    apps = request(sim, "GET", "/applications", AUTH).json()
    assert "id" in apps[0] and "id" not in apps[-1]


def test_hostile_body_faults(sim: RavelloSimulator) -> None:
    sim.inject("gzip_bomb")
    bomb = request(sim, "GET", "/applications", AUTH)
    assert bomb.headers["Content-Encoding"] == "gzip"
    assert len(bomb.body) < BOMB_BYTES // 100  # small on the wire …
    assert len(gzip.decompress(bomb.body)) == BOMB_BYTES  # … huge once inflated
    sim.inject("deep_json")
    deep = request(sim, "GET", "/applications", AUTH).body
    assert deep == b"[" * DEEP_JSON + b"]" * DEEP_JSON
    sim.inject("redirect")
    moved = request(sim, "GET", "/applications", AUTH)
    assert (moved.status, moved.headers["Location"]) == (302, REDIRECT_TO)
    assert urlsplit(REDIRECT_TO).hostname != urlsplit(sim.base_url).hostname


def test_trickle_sends_the_body_a_byte_at_a_time(sim: RavelloSimulator) -> None:
    sim.inject("trickle", delay=0.001)
    reply = request(sim, "GET", "/applications", AUTH)
    assert reply.status == 200
    assert len(reply.json()) == 3  # slowly, but whole


def test_trickle_headers_never_finish_before_stop() -> None:
    with RavelloSimulator([], password=PASSWORD) as server:
        server.inject("trickle_headers", delay=0.01)
        parts = urlsplit(server.base_url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(
                f"GET {parts.path}/applications HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {AUTH['Authorization']}\r\n\r\n".encode()
            )
            first = sock.recv(100)
            assert first.startswith(b"HTTP/1.1 200")
            assert b"\r\n\r\n" not in first  # the headers have not ended


def test_truncated_sends_fewer_bytes_than_announced(sim: RavelloSimulator) -> None:
    sim.inject("truncated")
    parts = urlsplit(sim.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"GET {parts.path}/applications HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {AUTH['Authorization']}\r\n\r\n".encode()
        )
        raw = b""
        while chunk := sock.recv(65536):  # the server hangs up: the loop ends
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    assert 0 < len(body) < length


def test_slow_answers_after_the_delay(sim: RavelloSimulator) -> None:
    sim.inject("slow", delay=0.05)
    assert request(sim, "GET", "/applications", AUTH).status == 200


def test_stop_ends_a_slow_answer() -> None:
    # A client that times out leaves the handler waiting; stopping must not hang on it.
    sim = RavelloSimulator([], password=PASSWORD).start()
    sim.inject("slow", delay=600)
    parts = urlsplit(sim.base_url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=0.2)
    conn.request("GET", parts.path + "/applications", headers=AUTH)
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    sim.stop()
    with pytest.raises(ConnectionRefusedError):  # nothing listens any more
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()


def test_requests_are_recorded_without_credentials(sim: RavelloSimulator) -> None:
    cookie = request(sim, "POST", "/login", AUTH).headers["Set-Cookie"].split(";")[0]
    request(sim, "GET", "/applications", {"Cookie": cookie})
    request(sim, "GET", "/applications")
    recorded = sim.requests
    assert [(r.method, r.path, r.has_auth, r.used_cookie, r.status) for r in recorded] == [
        ("POST", "/login", True, False, 200),
        ("GET", "/applications", False, True, 200),
        ("GET", "/applications", False, False, 401),
    ]
    assert PASSWORD not in repr(recorded)
    assert cookie.split("=")[1] not in repr(recorded)


def test_inject_rejects_unknown_kinds(sim: RavelloSimulator) -> None:
    with pytest.raises(ValueError, match="unknown fault 'teapot'"):
        sim.inject("teapot")
    with pytest.raises(ValueError, match="count"):
        sim.inject("500", count=0)
    assert "wrong_shape" in FAULT_KINDS


# ---- the record builders -------------------------------------------------------------------


def test_make_app_counts_totals_from_given_vms() -> None:
    vms = [
        {"id": 1, "name": "a", "state": "STARTED"},
        {"id": 2, "name": "b", "state": "STARTING"},
        {"id": 3, "name": "c", "state": "STOPPED"},
        {"id": 4, "name": "d", "state": "ERROR_STARTING"},
    ]
    deployment = make_app(7, "x", "o", running=9, vms=vms)["deployment"]
    assert (
        deployment["totalActiveVms"],
        deployment["totalStoppedVms"],
        deployment["totalErrorVms"],
    ) == (2, 1, 1)
    with pytest.raises(ValueError, match="draft"):
        make_app(8, "y", "o", published=False, vms=vms)


@pytest.mark.parametrize("seed", range(6))
def test_make_labs_is_consistent(seed: int) -> None:
    labs = make_labs(12, running=5, seed=seed, now=NOW)
    assert labs == make_labs(12, running=5, seed=seed, now=NOW)
    assert len({app["id"] for app in labs}) == 12
    running = [a for a in labs if a.get("deployment", {}).get("totalActiveVms", 0) > 0]
    assert len(running) == 5
    for app in labs:
        deployment = app.get("deployment")
        if deployment is None:
            continue
        states = [vm["state"] for vm in deployment["vms"]]
        assert deployment["totalStoppedVms"] == states.count("STOPPED")
        assert deployment["totalErrorVms"] == sum(s.startswith("ERROR") for s in states)
        assert deployment["totalActiveVms"] == len(states) - states.count("STOPPED") - sum(
            s.startswith("ERROR") for s in states
        )
        assert deployment["publishStartTime"] <= NOW.timestamp() * 1000


def test_make_labs_has_drafts_and_old_records() -> None:
    labs = make_labs(40, seed=3, now=NOW)
    assert any("deployment" not in a for a in labs)
    assert any("ownerDetails" not in a for a in labs)
    assert any("offhours" in a["description"] for a in labs)


@pytest.mark.parametrize(("n", "running"), [(3, 4), (2, -1), (-1, 0)])
def test_make_labs_rejects_impossible_counts(n: int, running: int) -> None:
    with pytest.raises(ValueError, match=r"running|negative"):
        make_labs(n, running=running)
