"""A Ravello REST API simulator on 127.0.0.1, for the tests and the demo.

It speaks the subset of ``/api/v1`` that offhours uses, as described by the public Ravello
documentation and SDKs:

* ``POST /login`` (HTTP Basic) → 200, the user as JSON and a ``JSESSIONID`` cookie; 401 on bad
  credentials. ``POST /logout`` → 204. Organizations with an identity domain log in as
  ``domain/user``.
* ``GET /applications`` (a bare JSON array), ``GET /applications/{id}``,
  ``GET /applications/{id};deployment`` and ``GET /applications/{id};deployment/vms``.
  Every call but ``/login`` needs valid Basic credentials or a live session cookie.
* Errors carry ``ERROR-CODE`` and ``ERROR-MESSAGE`` headers; an unknown id is a 404.
* ``X-LongToString: true`` turns 64-bit ids into strings, as the real service does.

Faults are injected with :meth:`RavelloSimulator.inject` — the service's own (401, 403, 429,
5xx, slow, truncated, not JSON, wrong shape) and a hostile server's (``hang``: never answers;
``trickle``: the body one byte every ``delay`` seconds; ``trickle_headers``: the same
for a header line; ``gzip_bomb``: a small gzip body that
inflates to 64 MiB; ``deep_json``: arrays nested 100,000 deep; ``redirect``: a 302 to another
host) — and :attr:`RavelloSimulator.requests`
records each request without its credentials::

    with RavelloSimulator(make_labs(5, running=2, seed=1)) as sim:
        sim.inject("429", count=2, retry_after=1)
        source = RavelloSource("lab", base_url=sim.base_url, username=Secret("sim-user"),
                               password=Secret("sim-password"))
        source.collect()                      # two 429s, then the applications
        [r.status for r in sim.requests]      # [429, 429, 200]
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import gzip
import hmac
import json
import random
import re
import secrets
import socketserver
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from offhours.testing._http import BackgroundServer, LoopbackHandler, http_server, read_body

__all__ = [
    "API_ROOT",
    "FAULT_KINDS",
    "RavelloSimulator",
    "RecordedRequest",
    "make_app",
    "make_labs",
]

API_ROOT = "/api/v1"

#: ``missing_fields`` is the second half of "wrong shape": a JSON array whose last item has
#: no ``id``.
FAULT_KINDS = frozenset(
    {
        "401",
        "403",
        "429",
        "500",
        "503",
        "slow",
        "truncated",
        "non_json",
        "wrong_shape",
        "missing_fields",
        "hang",
        "trickle",
        "trickle_headers",
        "gzip_bomb",
        "deep_json",
        "redirect",
    }
)

#: decoded size of the ``gzip_bomb`` body (its gzip form is about 64 KiB)
BOMB_BYTES = 64 * 1024 * 1024
#: how deep ``deep_json`` nests its arrays
DEEP_JSON = 100_000
#: where ``redirect`` sends the client: another host (and a port nothing listens on)
REDIRECT_TO = "http://127.0.0.2:9/api/v1/applications"
_HANG = 3600.0

_ID_KEY = re.compile(r"^(id|.*Id)$")
_APP_PATH = re.compile(r"^/applications/([^/;]+)(;deployment(/vms)?)?$")


# ---------------------------------------------------------------------------------------------
# Realistic application records


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _region_display(region: str) -> str:
    # "us-east-5" → "US East 5", the shape of cloudRegion.displayName in the API.
    words = region.split("-")
    return " ".join(w.upper() if len(w) <= 2 else w.capitalize() for w in words)


def _vm(app_id: int, index: int, state: str) -> dict[str, Any]:
    return {
        "id": app_id * 100 + index,
        "name": f"vm-{index}",
        "state": state,
        "numCpus": 2,
        "memorySize": {"unit": "GB", "value": 4},
        "hostnames": [f"vm-{index}.lab.local"],
    }


def _totals(vms: list[dict[str, Any]]) -> tuple[int, int, int]:
    # Everything not stopped or in error bills (STARTING, STOPPING and PUBLISHING included).
    errored = sum(1 for vm in vms if str(vm.get("state", "")).startswith("ERROR"))
    stopped = sum(1 for vm in vms if vm.get("state") == "STOPPED")
    return len(vms) - stopped - errored, stopped, errored


def make_app(
    id: int,
    name: str,
    owner: str,
    running: int = 2,
    stopped: int = 0,
    errored: int = 0,
    region: str = "us-east-5",
    published: bool = True,
    publish_start: datetime | None = None,
    expires: datetime | None = None,
    description: str = "",
    vms: list[dict[str, Any]] | None = None,
    *,
    owner_details: bool = True,
    cloud: str = "GOOGLE",
) -> dict[str, Any]:
    """One application record as ``GET /applications`` returns it.

    A draft (``published=False``) has no ``deployment`` key. When ``vms`` is given, the
    deployment totals are counted from the VM states and ``running/stopped/errored`` are
    ignored, so totals and VMs always agree. ``publish_start`` defaults to two hours ago.
    ``owner_details=False`` gives an old record that has only the ``owner`` display name.
    """
    if not published and vms:
        raise ValueError("a draft (published=False) has no deployment, so it cannot have vms")
    if min(running, stopped, errored) < 0:
        raise ValueError("VM counts cannot be negative")
    start = publish_start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    app: dict[str, Any] = {
        "id": id,
        "name": name,
        "description": description,
        "owner": owner,
        "creationTime": _ms(start - timedelta(days=1)),
        "published": published,
        "version": 3 if published else 1,
        "costBucket": "Default",
        "blueprintName": f"{name}-bp",
        "usingNewNetwork": True,
        "design": {},
        "designDiffersFromDeployment": False,
    }
    if owner_details:
        user_id = 1000 + sum(map(ord, owner)) % 9000
        app["ownerDetails"] = {"userId": user_id, "name": owner, "deleted": False}
    if not published:
        return app
    if vms is None:
        states = ["STARTED"] * running + ["STOPPED"] * stopped + ["ERROR"] * errored
        vms = [_vm(id, i + 1, state) for i, state in enumerate(states)]
    active, stopped_n, errored_n = _totals(vms)
    deployment: dict[str, Any] = {
        "totalActiveVms": active,
        "totalStoppedVms": stopped_n,
        "totalErrorVms": errored_n,
        "publishStartTime": _ms(start),
        "publishOptimization": "COST_OPTIMIZED",
        "cloud": cloud,
        "regionName": region,
        "cloudRegion": {
            "name": region,
            "displayName": _region_display(region),
            "deprecated": False,
        },
        "expirationType": "NEVER" if expires is None else "AUTO",
        "vms": copy.deepcopy(vms),
    }
    if expires is not None:
        deployment["expirationTime"] = _ms(expires)
        app["nextStopTask"] = {"time": _ms(expires), "id": id % 997, "timezone": "UTC"}
    app["deployment"] = deployment
    return app


_OWNERS = (
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Margaret Hamilton",
    "Dennis Ritchie",
    "Radia Perlman",
    "Barbara Liskov",
)
_TOPICS = (
    "ocp-install",
    "ansible-101",
    "rhel-security",
    "sap-hana",
    "k8s-networking",
    "db-migration",
    "sso-workshop",
    "edge-demo",
    "satellite",
    "ceph-storage",
)
_REGIONS = ("us-east-5", "us-central-1", "eu-west-1", "ap-southeast-2")
_DESCRIPTIONS = (
    "",
    "Customer workshop lab.",
    "Partner enablement.\noffhours: Mon-Fri 08:00-18:00 Europe/London",
    "offhours-exempt: until 2026-12-24 demo for a customer",
    "Training lab\nteam=emea-sa",
)


def make_labs(
    n: int,
    *,
    running: int | None = None,
    seed: int = 0,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``n`` varied applications, ``running`` of them (default: half, rounded up) with VMs up.

    The rest are stopped deployments and drafts; about one in five is an old record without
    ``ownerDetails``; some descriptions carry ``offhours`` tags. Deterministic for a ``seed``
    and a ``now``.
    """
    if n < 0:
        raise ValueError("n cannot be negative")
    running = (n + 1) // 2 if running is None else running
    if not 0 <= running <= n:
        raise ValueError(f"running must be between 0 and n={n}, got {running}")
    rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not security
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    up = set(rng.sample(range(n), running))
    apps: list[dict[str, Any]] = []
    for i in range(n):
        owner = _OWNERS[rng.randrange(len(_OWNERS))]
        topic = _TOPICS[i % len(_TOPICS)]
        app_id = 3_604_510_000 + i * 1000 + rng.randrange(1000)
        name = f"lab-{topic}-{owner.split()[-1].lower()}-{i + 1:02d}"
        start = now - timedelta(minutes=rng.randrange(30, 72 * 60))
        expires = now + timedelta(hours=rng.randrange(1, 9)) if rng.random() < 0.4 else None
        common: dict[str, Any] = {
            "region": _REGIONS[rng.randrange(len(_REGIONS))],
            "publish_start": start,
            "description": _DESCRIPTIONS[rng.randrange(len(_DESCRIPTIONS))],
            "owner_details": rng.random() >= 0.2,
        }
        if i in up:
            app = make_app(
                app_id,
                name,
                owner,
                running=rng.randrange(1, 7),
                stopped=rng.randrange(0, 2),
                errored=1 if rng.random() < 0.15 else 0,
                expires=expires,
                **common,
            )
        elif rng.random() < 0.5:
            app = make_app(app_id, name, owner, running=0, stopped=rng.randrange(1, 5), **common)
        else:
            app = make_app(app_id, name, owner, published=False, **common)
        apps.append(app)
    return apps


# ---------------------------------------------------------------------------------------------
# The server


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the simulator saw it; credentials are never kept."""

    method: str
    path: str  # relative to /api/v1, e.g. "/applications/12;deployment/vms"
    has_auth: bool  # an Authorization header was sent
    used_cookie: bool  # a session cookie was sent
    status: int  # what the simulator answered (before any truncation)


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: until clear_faults()
    path_prefix: str | None
    retry_after: int
    delay: float


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: bool = False
    trickle: float = 0.0  # seconds between the body's bytes
    trickle_headers: float = 0.0  # seconds between the bytes of a long header line


@functools.cache
def _bomb() -> bytes:
    # Whitespace then "[]": valid JSON once inflated, so only a size cap stops it.
    return gzip.compress(b" " * (BOMB_BYTES - 2) + b"[]", compresslevel=9)


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode("utf-8"), headers=headers or {})


def _error(status: int, code: str, message: str, **headers: str) -> _Reply:
    return _Reply(status, headers={"ERROR-CODE": code, "ERROR-MESSAGE": message, **headers})


_FAULT_ERRORS: dict[str, tuple[int, str, str]] = {
    "401": (401, "AUTHENTICATION_FAILED", "Invalid or expired credentials"),
    "403": (403, "QUOTA_EXCEEDED", "The organization exceeded its running-VM quota"),
    "429": (429, "TOO_MANY_REQUESTS", "Rate limit exceeded; retry after the next minute"),
    "500": (500, "INTERNAL_ERROR", "Unexpected server error"),
    "503": (503, "SERVICE_UNAVAILABLE", "The service is under maintenance"),
}

_HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>Bad Gateway</h1><p>The Ravello front end could not reach the API.</p>"
    "</body></html>"
)


def _stringify_ids(value: Any) -> Any:
    """What ``X-LongToString: true`` does: 64-bit ids become JSON strings."""
    if isinstance(value, list):
        return [_stringify_ids(v) for v in value]
    if isinstance(value, dict):
        return {
            k: str(v)
            if _ID_KEY.match(k) and isinstance(v, int) and not isinstance(v, bool)
            else _stringify_ids(v)
            for k, v in value.items()
        }
    return value


class RavelloSimulator(BackgroundServer):
    """A Ravello API on ``127.0.0.1``; ``apps=None`` serves ``make_labs(8, seed=0)``."""

    def __init__(
        self,
        apps: list[dict[str, Any]] | None = None,
        *,
        username: str = "sim-user",
        password: str = "sim-password",  # noqa: S107 - the simulator's own test login
        identity_domain: str | None = None,
    ) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._apps: list[dict[str, Any]] = copy.deepcopy(
            make_labs(8, seed=0) if apps is None else apps
        )
        self._login = f"{identity_domain}/{username}" if identity_domain else username
        self._password = password
        self._sessions: set[str] = set()
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []

    # -- lifecycle (start, stop and `with` come from BackgroundServer) ---------------------

    def _bind(self) -> socketserver.TCPServer:
        return http_server(_Handler, self, self.stopping)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``."""
        return self.origin + API_ROOT

    # -- state the tests steer --------------------------------------------------------------

    @property
    def apps(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._apps)

    def set_apps(self, apps: list[dict[str, Any]]) -> None:
        with self._lock:
            self._apps = copy.deepcopy(apps)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def active_sessions(self) -> int:
        with self._lock:
            return len(self._sessions)

    def expire_session(self, session_id: str | None = None) -> int:
        """End one session (by its cookie value) or, by default, all; returns how many ended."""
        with self._lock:
            if session_id is None:
                ended = len(self._sessions)
                self._sessions.clear()
                return ended
            if session_id in self._sessions:
                self._sessions.discard(session_id)
                return 1
            return 0

    def inject(
        self,
        kind: str,
        *,
        count: int | None = 1,
        path_prefix: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the next ``count`` matching requests fail as ``kind`` (``None``: all of them).

        ``path_prefix`` is relative to ``/api/v1`` (``"/applications"``, ``"/login"``);
        ``retry_after`` (seconds, default 1) goes into 429/503 ``Retry-After``; ``delay``
        (default 5 s) is how long ``slow`` waits before answering normally, and the pause
        between two bytes of a ``trickle`` body. ``hang`` answers only when the simulator
        stops. Faults queue up
        and are used in the order they were injected.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; choose from {sorted(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1 (or None for every request)")
        fault = _Fault(
            kind,
            count,
            path_prefix,
            1 if retry_after is None else retry_after,
            5.0 if delay is None else delay,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- request handling (called from server threads) ------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path_prefix is None or path.startswith(fault.path_prefix):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _credentials_ok(self, authorization: str | None) -> bool:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return bool(sep) and (
            hmac.compare_digest(user.encode(), self._login.encode())
            & hmac.compare_digest(password.encode(), self._password.encode())
        )

    def _handle(
        self,
        method: str,
        path: str,
        authorization: str | None,
        session: str | None,
        long_to_string: bool,
    ) -> _Reply:
        with self._lock:
            fault = self._take_fault(path)
            if fault is not None and fault.kind in _FAULT_ERRORS:
                status, code, message = _FAULT_ERRORS[fault.kind]
                extra = {"Retry-After": str(fault.retry_after)} if status in (429, 503) else {}
                reply = _error(status, code, message, **extra)
            elif fault is not None and fault.kind == "non_json":
                reply = _Reply(200, _HTML_ERROR.encode(), content_type="text/html; charset=utf-8")
            elif fault is not None and fault.kind == "gzip_bomb":
                reply = _Reply(200, _bomb(), headers={"Content-Encoding": "gzip"})
            elif fault is not None and fault.kind == "deep_json":
                reply = _Reply(200, b"[" * DEEP_JSON + b"]" * DEEP_JSON)
            elif fault is not None and fault.kind == "redirect":
                reply = _Reply(302, headers={"Location": REDIRECT_TO})
            else:
                reply = self._route(method, path, authorization, session, long_to_string, fault)
                if fault is not None and fault.kind == "slow":
                    reply.delay = fault.delay
                if fault is not None and fault.kind == "hang":
                    reply.delay = _HANG
                if fault is not None and fault.kind == "trickle":
                    reply.trickle = fault.delay
                if fault is not None and fault.kind == "trickle_headers":
                    reply.trickle_headers = fault.delay
                if fault is not None and fault.kind == "truncated":
                    reply.truncate = True
            self._requests.append(
                RecordedRequest(
                    method, path, authorization is not None, session is not None, reply.status
                )
            )
            return reply

    def _route(
        self,
        method: str,
        path: str,
        authorization: str | None,
        session: str | None,
        long_to_string: bool,
        fault: _Fault | None,
    ) -> _Reply:
        if path == "/login":
            if method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", "Use POST /login")
            if not self._credentials_ok(authorization):
                return _error(401, "AUTHENTICATION_FAILED", "Invalid username or password")
            token = secrets.token_hex(16)
            self._sessions.add(token)
            user = {
                "id": 57,
                "email": f"{self._login.rpartition('/')[2]}@example.com",
                "name": "Simulated",
                "surname": "User",
                "organization": 42,
                "roles": ["ADMIN", "USER"],
                "enabled": True,
            }
            return _json_reply(200, user, {"Set-Cookie": f"JSESSIONID={token}; Path=/; HttpOnly"})

        if not (self._credentials_ok(authorization) or session in self._sessions):
            return _error(401, "AUTHENTICATION_FAILED", "Authentication is required")

        if path == "/logout":
            if method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", "Use POST /logout")
            self._sessions.discard(session or "")
            return _Reply(204)

        payload: Any
        if path == "/applications":
            payload = self._apps
        elif match := _APP_PATH.match(path):
            app = next((a for a in self._apps if str(a.get("id")) == unquote(match[1])), None)
            if app is None:
                return _error(404, "ENTITY_NOT_FOUND", f"Application {match[1]} does not exist")
            if match[2] and "deployment" not in app:
                return _error(404, "ENTITY_NOT_FOUND", f"Application {match[1]} is not published")
            payload = app
            if match[2]:
                payload = app["deployment"]
            if match[3]:
                payload = app["deployment"].get("vms", [])
        else:
            return _error(404, "NOT_FOUND", f"No such resource: {path}")
        if method != "GET":
            return _error(405, "METHOD_NOT_ALLOWED", f"{method} is not supported on {path}")

        payload = copy.deepcopy(payload)
        if fault is not None and fault.kind == "wrong_shape":
            payload = {"applications": payload} if isinstance(payload, list) else [payload]
        missing = fault is not None and fault.kind == "missing_fields"
        if missing and isinstance(payload, list) and payload and isinstance(payload[-1], dict):
            payload[-1].pop("id", None)
        if long_to_string:
            payload = _stringify_ids(payload)
        return _json_reply(200, payload)


class _Handler(LoopbackHandler):
    def _serve(self) -> None:
        sim: RavelloSimulator = self.context
        read_body(self)  # keep-alive needs the body consumed; the simulator ignores it
        raw = urlsplit(self.path).path
        if not raw.startswith(API_ROOT + "/"):
            self._send(_error(404, "NOT_FOUND", f"The API lives under {API_ROOT}"))
            return
        cookie = self.headers.get("Cookie") or ""
        session = next(
            (
                part.split("=", 1)[1]
                for part in (p.strip() for p in cookie.split(";"))
                if part.startswith("JSESSIONID=")
            ),
            None,
        )
        reply = sim._handle(
            self.command,
            raw[len(API_ROOT) :],
            self.headers.get("Authorization"),
            session,
            (self.headers.get("X-LongToString") or "").lower() == "true",
        )
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        # Wait on the stop event, not sleep(): stopping the simulator ends a "slow" answer.
        if reply.delay and self.stopping.wait(reply.delay):
            self.close_connection = True
            return
        self.send_response(reply.status)
        if reply.trickle_headers:
            # The status line at once, then a header a byte at a time: each read is quick.
            self.flush_headers()
            for byte in b"X-Padding: " + b"a" * 4000:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.stopping.wait(reply.trickle_headers):
                    break
            self.close_connection = True
            return
        for key, value in reply.headers.items():
            self.send_header(key, value)
        body = b"" if reply.status == 204 else reply.body
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            extra = 1000 if reply.truncate else 0
            self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        if reply.truncate:
            # Half the body, then hang up: a response cut short in transit.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if reply.trickle:
            # Every byte in time for any per-read timeout, the whole never in time.
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if self.stopping.wait(reply.trickle):
                    break
            self.close_connection = True
            return
        self.wfile.write(body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
