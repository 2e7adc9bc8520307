"""Ravello applications as offhours resources.

One ``GET /applications`` lists every application of the organization (a bare JSON array, no
paging). Each becomes one :class:`~offhours.model.Resource`:

=================  ==========================================================================
Resource field     Ravello application field
=================  ==========================================================================
``id``, ``name``   ``id`` (as a string), ``name``
``running``        ``deployment.totalActiveVms`` (0 for a draft, which has no deployment)
``stopped``        ``deployment.totalStoppedVms``
``errored``        ``deployment.totalErrorVms``
``owner``          ``ownerDetails.name``, else ``owner`` (old records lack ``ownerDetails``)
``region``         ``deployment.cloudRegion.displayName``, else ``deployment.regionName``
``running_since``  ``deployment.publishStartTime`` (epoch milliseconds → aware UTC)
``expires_at``     ``deployment.expirationTime``
``tags``           parsed from ``description`` (below)
``vms``            ``GET /applications/{id};deployment/vms``, with ``list_vms = true`` only
``kind``           :data:`APPLICATION` (``ravello.application``: a "lab" of "VMs")
``account``        the configured source name: the application list names no organization
``group``          ``name`` (the lab is the group)
``hourly_cost``    ``running × cost_per_vm_hour``, when that is configured
=================  ==========================================================================

**Tags.** Ravello applications have no tags, so offhours reads them from the application's
description: every line of the form ``key: value`` or ``key=value`` is a tag (the key is one
word of letters, digits and ``_ . - /``; the first ``:`` or ``=`` separates; a later line with
the same key wins; other lines are ignored). For example::

    Partner workshop, EMEA.
    offhours: Mon-Fri 07:30-19:00 Europe/London
    offhours-exempt: until 2026-12-24 demo

**Authentication.** ``auth = "basic"`` sends HTTP Basic on every request; ``auth = "session"``
logs in once (``POST /login``), sends the session cookie, and on a 401 logs in again once and
repeats that request. The session outlives ``collect()`` (a warm Lambda reuses it); ``close()``
logs out. With an ``identity_domain`` the user name is ``identity_domain/username``.

**Resilience.** urllib3's ``Retry`` repeats connection failures, timeouts, 429 and 5xx answers
with exponential backoff and honours ``Retry-After`` up to ``max_retry_after`` seconds. One
attempt takes at most ``request_timeout`` seconds however slowly the body arrives, a body is
read up to ``max_response_bytes`` (decoded), redirects are never followed, and everything
stops at the run's deadline (see :mod:`offhours.transport`). A body cut short is reported, not
retried. Every failure ends as a :class:`~offhours.errors.SourceError` naming the URL and the
status; a body that is not the expected JSON is a :class:`~offhours.errors.SourceResponseError`,
never an empty result. The list is read one application at a time, each kept as its Resource
before the next is read (see :mod:`offhours.sources.json_array`): an application of
:data:`MAX_APPLICATION_BYTES` or more, or more than :data:`MAX_APPLICATIONS` of them, is refused
before it costs memory. Neither the password nor the user name appears in a message or a log
record (the user name shows at most its last four characters).

**Plain http** sends the Basic credentials in clear, so ``base_url`` may use ``http://`` only to
a loopback address, unless ``allow_insecure_http = true`` (a warning on every run).
"""

from __future__ import annotations

import base64
import http.client
import inspect
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from http.cookies import CookieError, SimpleCookie
from threading import Lock
from types import MappingProxyType, TracebackType
from typing import Any, Literal, Self, TypeAlias
from urllib.parse import quote, urlsplit

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util.retry import Retry

from offhours.budget import attempts_worst_case
from offhours.errors import SourceAuthError, SourceError, SourceResponseError
from offhours.logs import scrub
from offhours.model import VM, Kind, Resource, hourly_cost
from offhours.plugin import SecretReference, SourceConfig
from offhours.report import plural
from offhours.secrets import Secret
from offhours.sources.base import Source
from offhours.sources.json_array import (
    ItemTooLarge,
    NotAnArray,
    array_items,
    collector_paused,
)
from offhours.transport import (
    BodyTooLarge,
    BoundedRetry,
    DeadlinePassed,
    HttpAnswer,
    HttpClient,
    RequestFailed,
    TransportFault,
    is_loopback,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_APPLICATIONS",
    "MAX_APPLICATION_BYTES",
    "MAX_JSON_ITEMS",
    "MAX_VMS",
    "RETRY_STATUSES",
    "RavelloSource",
    "RavelloSourceConfig",
    "base_url_problem",
    "parse_description_tags",
    "read_description_tags",
]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://cloud.ravellosystems.com/api/v1"
#: a Ravello application, as the report words it
APPLICATION = Kind("ravello.application", noun="lab", unit="VM")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_MAX = 10.0
# Spelled here because the class attribute ``type`` shadows the builtin inside the class body.
_ExcType: TypeAlias = type[BaseException] | None
_MAX_VM_WORKERS = 8
#: more VMs than this in one application is not a count, it is a broken or hostile answer
MAX_VMS = 100_000
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: arrays, objects and values an answer read whole (a VM list) may hold: read into Python, each
#: costs ~50-100 bytes, so 8 MiB of "[[],[],…]" alone would need ~500 MB (a 128 MB Lambda would
#: be killed, nothing posted). The application list is not read whole: see the next two.
MAX_JSON_ITEMS = 500_000
#: bytes of JSON one application may take: the list is read one application at a time, each
#: from at most this much of the answer (see offhours.sources.json_array), so a flood hidden
#: in one application costs at most ~10 MB to refuse; a real one takes about 1,000
MAX_APPLICATION_BYTES = 256 * 1024
#: applications one answer may hold: what the list keeps of each (a Resource, ~1 KB) is what
#: the answer costs once read, and a run needs ~4-5 KB per application at its peak (~255 MB
#: for 50,000: docs/benchmarks.md); a flood of tiny applications stops here
MAX_APPLICATIONS = 60_000

# ---------------------------------------------------------------------------------------------
# Tags from the description

_TAG_LINE = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9_.\-/]*)\s*[:=]\s*(.*?)\s*$")


def parse_description_tags(description: str | None) -> dict[str, str]:
    """``key: value`` / ``key=value`` lines of an application description, as tags (a key
    written on several lines with different values is left out: see
    :func:`read_description_tags`)."""
    return read_description_tags(description)[0]


def read_description_tags(description: str | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """The tags of a description and the problems found reading them.

    A key written on several lines is a problem. When the lines disagree, neither value is
    used (the last line must not silently win: whoever can append to the description could
    otherwise override the owner's schedule or exemption); when they agree, the value is used.
    """
    seen: dict[str, list[str]] = {}
    for line in (description or "").splitlines():
        match = _TAG_LINE.match(line)
        # "https://…" on its own line is a link, not a tag called "https".
        if match is None or match[2].startswith("//"):
            continue
        seen.setdefault(match[1], []).append(match[2])
    tags: dict[str, str] = {}
    problems: list[str] = []
    for key, values in seen.items():
        if len(values) == 1:
            tags[key] = values[0]
            continue
        if len(set(values)) == 1:
            tags[key] = values[0]
            problems.append(
                f"tag {key} is written on {len(values)} lines of the description; keep one"
            )
            continue
        shown = ", ".join(f'"{_clip(v)}"' for v in dict.fromkeys(values))
        problems.append(
            f"tag {key} is written on {len(values)} lines of the description with different "
            f"values ({shown}); neither is used: keep one line"
        )
    return tags, tuple(problems)


def _clip(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Mapping JSON → Resource


class _Shape(ValueError):
    """An item that is not the shape the API documents; the caller adds where it was."""


def _kind(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    if value is None:
        return "null"
    return {list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"a number ({_short(value)})" if isinstance(value, int | float) else "a value"
    )


def _short(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        # repr() of a huge int is long, and past 4,300 digits it raises.
        return f"a {int(value.bit_length() * 0.30103) + 1}-digit number"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _id(item: Mapping[str, Any], what: str) -> str:
    value = item.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise _Shape(f"has no usable 'id' (got {_short(value)}); every {what} needs one")
    return str(value)


def _text(item: Mapping[str, Any], key: str, label: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise _Shape(f"{label} has no '{key}' text (got {_short(value)})")
    return value


def _count(deployment: Mapping[str, Any], key: str, label: str, *, required: bool) -> int:
    value = deployment.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VMS:
        raise _Shape(
            f"{label} has deployment.{key} = {_short(value)}; "
            f"expected a count from 0 to {MAX_VMS:,}"
        )
    return value


def _epoch_ms(deployment: Mapping[str, Any], key: str, label: str) -> datetime | None:
    value = deployment.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError
        return datetime.fromtimestamp(value / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise _Shape(
            f"{label} has deployment.{key} = {_short(value)}; expected epoch milliseconds"
        ) from None


def _owner(item: Mapping[str, Any]) -> str | None:
    details = item.get("ownerDetails")
    if isinstance(details, dict) and isinstance(details.get("name"), str) and details["name"]:
        return str(details["name"])
    owner = item.get("owner")
    return owner if isinstance(owner, str) and owner else None


def _region(deployment: Mapping[str, Any]) -> str | None:
    cloud_region = deployment.get("cloudRegion")
    if isinstance(cloud_region, dict):
        display = cloud_region.get("displayName")
        if isinstance(display, str) and display:
            return display
    name = deployment.get("regionName")
    return name if isinstance(name, str) and name else None


def _to_resource(source: str, item: object, cost_per_vm_hour: float | None = None) -> Resource:
    if not isinstance(item, dict):
        raise _Shape(f"is {_kind(item)}, expected an application object")
    app_id = _id(item, "application")
    name = _text(item, "name", f"(id {app_id})")
    label = f"({name!r}, id {app_id})"
    description = item.get("description")
    tags, tag_problems = read_description_tags(
        description if isinstance(description, str) else None
    )
    common: dict[str, Any] = {
        "provider": "ravello",
        "kind": APPLICATION,
        "account": source,
        "group": name,
        "source": source,
        "id": app_id,
        "name": name,
        "owner": _owner(item),
        "tags": MappingProxyType(tags),
        "tag_problems": tag_problems,
    }
    deployment = item.get("deployment")
    if deployment is None:  # a draft: designed, never published, costs nothing
        return Resource(running=0, hourly_cost=None if cost_per_vm_hour is None else 0.0, **common)
    if not isinstance(deployment, dict):
        raise _Shape(f"{label} has a 'deployment' that is {_kind(deployment)}, not an object")
    running = _count(deployment, "totalActiveVms", label, required=True)
    cost = None if cost_per_vm_hour is None else hourly_cost(name, running, cost_per_vm_hour)
    return Resource(
        running=running,
        hourly_cost=cost,
        stopped=_count(deployment, "totalStoppedVms", label, required=False),
        errored=_count(deployment, "totalErrorVms", label, required=False),
        region=_region(deployment),
        running_since=_epoch_ms(deployment, "publishStartTime", label),
        expires_at=_epoch_ms(deployment, "expirationTime", label),
        **common,
    )


def _to_vm(item: object) -> VM:
    if not isinstance(item, dict):
        raise _Shape(f"is {_kind(item)}, expected a VM object")
    vm_id = _id(item, "VM")
    return VM(
        id=vm_id,
        name=_text(item, "name", f"(id {vm_id})"),
        state=_text(item, "state", f"(id {vm_id})"),
    )


# ---------------------------------------------------------------------------------------------
# HTTP


def _where(answer: HttpAnswer) -> str:
    return f"{answer.method} {answer.url} → {answer.status}"


def _error_details(answer: HttpAnswer) -> str:
    parts = [
        f"{key}: {answer.headers[key][:200]}"
        for key in ("ERROR-CODE", "ERROR-MESSAGE")
        if answer.headers.get(key)
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return seen
        found = next((a for a in seen.args if isinstance(a, kind)), None)
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    return None


def _os_reason(exc: BaseException) -> str:
    err = _cause(exc, OSError)
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(exc).rpartition(": ")[2] or type(exc).__name__


class RavelloSourceConfig(SourceConfig):
    """Ravello (Oracle Ravello Cloud Service) applications, as in the Ravello REST API."""

    type: Literal["ravello"]
    # Schemes are case-insensitive (RFC 3986): HTTP:// is plain http, refused as such below.
    base_url: str = Field(DEFAULT_BASE_URL, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$")
    username: SecretReference
    password: SecretReference
    identity_domain: str | None = Field(None, description="Logs in as identity_domain/username")
    auth: Literal["basic", "session"] = "basic"
    list_vms: bool = Field(False, description="Also list each running application's VMs")
    connect_timeout: float = Field(5.0, gt=0, le=120)
    read_timeout: float = Field(8.0, gt=0, le=600, description="Seconds per socket read")
    request_timeout: float = Field(
        9.0, gt=0, le=900, description="Total seconds for one attempt, however the body trickles"
    )
    retries: int = Field(2, ge=0, le=10)
    max_retry_after: float = Field(
        4.0, ge=0, le=900, description="Longest wait between attempts (caps Retry-After)"
    )
    max_response_bytes: int = Field(
        DEFAULT_MAX_RESPONSE_BYTES, gt=0, description="Largest decoded body read (bytes)"
    )
    allow_insecure_http: bool = Field(
        False, description="Accept a plain http:// base_url to a non-loopback host (warns)"
    )
    cost_per_vm_hour: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="Estimated cost of one running VM for one hour (for the report)",
    )

    @model_validator(mode="after")
    def _safe_base_url(self) -> RavelloSourceConfig:
        # Here, when the configuration is validated: `check` and `deploy` refuse what a run
        # would (deploy would otherwise store credentials written into the URL).
        problem = base_url_problem(self.base_url, allow_insecure_http=self.allow_insecure_http)
        if problem is not None:
            raise PydanticCustomError("base_url", problem)
        return self


class RavelloSource(Source):
    """Reads Ravello applications (see the module docstring for the mapping and the tags).

    Its settings are those of :class:`RavelloSourceConfig`, validated there and trusted here."""

    type = "ravello"
    config_model = RavelloSourceConfig

    def __init__(
        self,
        name: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        username: Secret,
        password: Secret,
        identity_domain: str | None = None,
        auth: Literal["basic", "session"] = "basic",
        list_vms: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 8.0,
        request_timeout: float = 9.0,
        retries: int = 2,
        backoff_factor: float = 0.5,
        max_retry_after: float = 4.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        cost_per_vm_hour: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(name)
        self.cost_per_vm_hour = cost_per_vm_hour
        self.base_url = base_url.rstrip("/")
        base = urlsplit(self.base_url)
        if base.scheme == "http" and not is_loopback(base.hostname or ""):
            log.warning(
                "source %r: base_url %s is plain http: the Ravello credentials cross the network "
                "in clear (allowed by allow_insecure_http); use https://",
                name,
                self.base_url,
            )
        self.identity_domain = identity_domain or None
        self.auth = auth
        self.list_vms = list_vms
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self.max_response_bytes = max_response_bytes
        self.retries = retries
        user = username.reveal()
        self.user = f"{self.identity_domain}/{user}" if self.identity_domain else user
        # Shown instead of the user name: it came from a secret reference.
        shown = username.redacted()
        self.shown_user = f"{self.identity_domain}/{shown}" if self.identity_domain else shown
        token = base64.b64encode(f"{self.user}:{password.reveal()}".encode()).decode()
        self._authorization = Secret(f"Basic {token}", label="ravello basic auth")
        self._cookie: Secret | None = None
        self._session_lock = Lock()
        retry = BoundedRetry(
            total=retries,
            status_forcelist=RETRY_STATUSES,
            # The only POSTs sent are /login and /logout: they open or close a session and
            # change nothing in the organization, so repeating one after a 5xx is safe.
            allowed_methods=Retry.DEFAULT_ALLOWED_METHODS | {"POST"},
            backoff_factor=backoff_factor,
            backoff_max=min(_BACKOFF_MAX, max_retry_after),
            respect_retry_after_header=True,
            retry_after_cap=max_retry_after,
            raise_on_status=False,  # hand back the last answer: its status and ERROR-* headers
            redirect=False,  # never follow a redirect with the credentials attached
        )
        self._http = HttpClient(
            self.base_url,
            retry=retry,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            request_timeout=request_timeout,
            max_bytes=max_response_bytes,
            maxsize=_MAX_VM_WORKERS,
            headers={
                "Accept": "application/json",
                "X-LongToString": "true",  # 64-bit ids as strings: exact in any JSON reader
                "User-Agent": "offhours",
            },
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"RavelloSource({self.name!r}, base_url={self.base_url!r}, user={self.shown_user!r})"

    @classmethod
    def worst_case_seconds(cls, options: Mapping[str, Any]) -> float:
        """Calls made one after another (a login, the list, the VMs), each retried in full."""
        defaults = inspect.signature(cls.__init__).parameters

        def get(key: str) -> Any:
            value = options.get(key)
            return defaults[key].default if value is None else value

        calls = 1 + (get("auth") == "session") + bool(get("list_vms"))
        return float(calls) * attempts_worst_case(
            float(get("request_timeout")), int(get("retries")), float(get("max_retry_after"))
        )

    # -- public ----------------------------------------------------------------------------

    def collect(self) -> list[Resource]:
        answer = self._call("GET", "/applications")
        resources = self._applications(answer)
        if self.list_vms:
            resources = self._with_vms(resources)
        log.debug(
            "source %r: %d applications, %d running",
            self.name,
            len(resources),
            sum(r.is_running for r in resources),
        )
        return resources

    def close(self) -> None:
        """Log out of the session, if any, and drop the connections. Never raises."""
        with self._session_lock:
            cookie, self._cookie = self._cookie, None
        if cookie is not None:
            try:
                answer = self._send("POST", "/logout", {"Cookie": cookie.reveal()}, body=b"")
                if not 200 <= answer.status < 300:
                    raise self._status_error(answer)
            except SourceError as exc:
                log.debug("source %r: logout failed: %s", self.name, exc.detail)
        self._http.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: _ExcType,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading the list -------------------------------------------------------------------

    def _applications(self, answer: HttpAnswer) -> list[Resource]:
        """The answer's applications, read one at a time: each becomes a Resource before the
        next is read, so only the fields a resource keeps outlive their application's JSON."""
        resources: list[Resource] = []
        items = enumerate(array_items(answer.body, MAX_APPLICATION_BYTES))
        try:
            with collector_paused():
                for index, item in items:
                    if index == MAX_APPLICATIONS:
                        raise SourceResponseError(
                            self.name,
                            f"{_where(answer)} but the list holds more than the "
                            f"{MAX_APPLICATIONS:,} applications offhours reads from one answer "
                            f"({len(answer.body):,} bytes; each is kept in memory)",
                        )
                    try:
                        resources.append(_to_resource(self.name, item, self.cost_per_vm_hour))
                    except _Shape as exc:
                        raise SourceResponseError(
                            self.name, f"{_where(answer)} but application item {index} {exc}"
                        ) from None
        except NotAnArray:
            payload = self._json(answer)  # read whole only to say what it is instead
            raise SourceResponseError(
                self.name,
                f"{_where(answer)} but expected a JSON array of applications, "
                f"got {_kind(payload)}; is base_url the API root (…/api/v1)?",
            ) from None
        except ItemTooLarge as exc:
            raise SourceResponseError(
                self.name,
                f"{_where(answer)} but application item {exc.index} takes {exc.limit:,} "
                "bytes of JSON or more (reading stopped there); this is not a Ravello "
                "application",
            ) from None
        except (RecursionError, ValueError) as exc:
            raise self._unreadable(answer, exc) from None
        return resources

    # -- VMs --------------------------------------------------------------------------------

    def _with_vms(self, resources: list[Resource]) -> list[Resource]:
        running = [i for i, r in enumerate(resources) if r.is_running]
        if not running:
            return resources
        workers = min(_MAX_VM_WORKERS, len(running))
        with ThreadPoolExecutor(workers, thread_name_prefix="ravello-vms") as pool:
            listed = pool.map(self._vms_of, [resources[i] for i in running])
            updated = dict(zip(running, listed, strict=True))
        return [replace(r, vms=updated[i]) if i in updated else r for i, r in enumerate(resources)]

    def _vms_of(self, resource: Resource) -> tuple[VM, ...]:
        try:
            path = f"/applications/{quote(resource.id, safe='')};deployment/vms"
            answer = self._call("GET", path)
            payload = self._json(answer)
            if not isinstance(payload, list):
                raise SourceResponseError(
                    self.name,
                    f"{_where(answer)} but expected a JSON array of VMs, got {_kind(payload)}",
                )
            vms: list[VM] = []
            for index, item in enumerate(payload):
                try:
                    vms.append(_to_vm(item))
                except _Shape as exc:
                    raise SourceResponseError(
                        self.name, f"{_where(answer)} but VM item {index} {exc}"
                    ) from None
            return tuple(vms)
        except SourceError as exc:
            # The same class (auth, response, …) with the application named in front.
            raise exc.__class__(
                self.name,
                f"listing the VMs of application {resource.name!r} (id {resource.id}): "
                f"{exc.detail}",
            ) from exc

    # -- authentication ---------------------------------------------------------------------

    def _call(self, method: str, path: str) -> HttpAnswer:
        """One API call with authentication; any non-2xx answer becomes a SourceError."""
        if self.auth == "basic":
            answer = self._send(method, path, {"Authorization": self._authorization.reveal()})
        else:
            session = self._session()
            answer = self._send(method, path, {"Cookie": session.reveal()})
            if answer.status == 401:
                log.info("source %r: Ravello session expired; logging in again", self.name)
                answer = self._send(method, path, {"Cookie": self._session(stale=session).reveal()})
        if not 200 <= answer.status < 300:
            raise self._status_error(answer)
        return answer

    def _session(self, stale: Secret | None = None) -> Secret:
        # One login at a time; a thread that finds a newer cookie than the one that failed
        # uses it instead of logging in again.
        with self._session_lock:
            if self._cookie is None or self._cookie is stale:
                self._cookie = self._login()
            return self._cookie

    def _login(self) -> Secret:
        answer = self._send(
            "POST",
            "/login",
            {"Authorization": self._authorization.reveal(), "Content-Type": "application/json"},
            body=b"",
        )
        if answer.status != 200:
            raise self._status_error(answer)
        jar: SimpleCookie = SimpleCookie()
        for header in answer.headers.getlist("Set-Cookie"):
            try:
                jar.load(header)
            except CookieError:
                continue
        if not jar:
            raise SourceResponseError(
                self.name,
                f'{_where(answer)} but the answer sets no session cookie; try auth = "basic"',
            )
        return Secret("; ".join(f"{k}={m.value}" for k, m in jar.items()), "ravello session")

    # -- transport --------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> HttpAnswer:
        url = self.base_url + path
        try:
            answer = self._http.request(
                method, url, headers=headers, body=body, deadline=self.deadline
            )
        except TransportFault as exc:
            raise self._fault_error(method, url, exc) from exc
        log.debug(
            "source %r: %s %s → %d (%s)",
            self.name,
            method,
            url,
            answer.status,
            plural(answer.attempts, "attempt"),
        )
        return answer

    def _host(self, url: str) -> str:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"

    def _fault_error(self, method: str, url: str, fault: TransportFault) -> SourceError:
        if isinstance(fault, DeadlinePassed):
            where = f"{method} {url}" + (f" → {fault.status}" if fault.status else "")
            if fault.limit == "run":
                text = (
                    f"timed out: the run's deadline came while {fault.during} "
                    f"({plural(fault.attempts, 'attempt')}); Ravello is too slow or not answering"
                )
            else:
                text = (
                    f"timed out: no complete answer within request_timeout = "
                    f"{self.request_timeout:g} s "
                    f"({fault.during}; {plural(fault.attempts, 'attempt')}); "
                    "raise request_timeout or check the service"
                )
            return SourceError(self.name, f"{where}: {text}")
        if isinstance(fault, BodyTooLarge):
            return SourceResponseError(
                self.name,
                f"{method} {url} → {fault.status} but the body is larger than "
                f"max_response_bytes = {fault.cap:,} bytes (decoded); reading stopped there. "
                "Raise max_response_bytes if the organization is that large",
            )
        assert isinstance(fault, RequestFailed)
        if fault.status is not None and isinstance(fault.reason, HTTPError):
            return self._body_error(method, url, fault.status, fault.reason)
        return self._transport_error(method, url, fault.reason, fault.attempts)

    def _transport_error(
        self, method: str, url: str, reason: BaseException, attempts: int
    ) -> SourceError:
        host, tries = self._host(url), plural(attempts, "attempt")
        if isinstance(reason, ReadTimeoutError):
            text = (
                f"{host} sent no answer within the read timeout of {self.read_timeout:g} s "
                f"({tries}); raise read_timeout or check the service"
            )
        elif isinstance(reason, NewConnectionError):
            text = (
                f"cannot connect to {host} ({_os_reason(reason)}; {tries}); "
                "check base_url and that the service is reachable"
            )
        elif isinstance(reason, ConnectTimeoutError):
            text = (
                f"could not connect to {host} within the connect timeout of "
                f"{self.connect_timeout:g} s ({tries}); check base_url and the network"
            )
        elif isinstance(reason, SSLError):
            text = f"the TLS handshake with {host} failed ({reason}; {tries})"
        elif isinstance(reason, ProtocolError):
            text = f"the connection to {host} broke ({_os_reason(reason)}; {tries})"
        else:
            text = f"the request to {host} failed ({type(reason).__name__}: {reason}; {tries})"
        return SourceError(self.name, f"{method} {url}: {text}")

    def _body_error(self, method: str, url: str, status: int, exc: HTTPError) -> SourceError:
        where = f"{method} {url} → {status}"
        if isinstance(exc, ReadTimeoutError):
            return SourceError(
                self.name,
                f"{where} but the body stalled beyond the read timeout of "
                f"{self.read_timeout:g} s; raise read_timeout or try again",
            )
        # urllib3 wraps either its own IncompleteRead (partial: int) or http.client's (bytes).
        short = _cause(exc, http.client.IncompleteRead)
        if isinstance(short, http.client.IncompleteRead):
            partial: object = short.partial
            got = len(partial) if isinstance(partial, bytes) else partial
            detail = f"{got} bytes received, {short.expected} more expected"
        else:
            detail = _os_reason(exc)
        return SourceResponseError(
            self.name, f"{where} but the body was cut short ({detail}); try again"
        )

    def _json(self, answer: HttpAnswer) -> Any:
        body = answer.body
        # Counted on the bytes, before anything is built: commas separate values, brackets
        # open arrays and objects (in strings too, so this only ever overestimates).
        items = body.count(b",") + body.count(b"[") + body.count(b"{")
        if items > MAX_JSON_ITEMS:
            raise SourceResponseError(
                self.name,
                f"{_where(answer)} but the body holds about {items:,} JSON values, more than "
                f"the {MAX_JSON_ITEMS:,} offhours reads from one answer ({len(body):,} bytes); "
                "this is not a Ravello list of applications",
            )
        try:
            return json.loads(body)
        except (RecursionError, ValueError) as exc:
            raise self._unreadable(answer, exc) from None

    def _unreadable(self, answer: HttpAnswer, exc: RecursionError | ValueError) -> SourceError:
        """Why the body could not be read as JSON, in the user's terms."""
        if isinstance(exc, RecursionError):
            return SourceResponseError(
                self.name,
                f"{_where(answer)} but the JSON body is nested too deeply to read "
                f"({len(answer.body)} bytes); this is not a Ravello list of applications",
            )
        if isinstance(exc, json.JSONDecodeError) is False and "digits" in str(exc):
            # Python refuses to read an integer of thousands of digits: valid JSON, but no
            # count or time Ravello sends looks like that.
            return SourceResponseError(
                self.name,
                f"{_where(answer)} but the body holds a number thousands of digits long; "
                "this is not a Ravello list of applications",
            )
        content_type = (answer.headers.get("Content-Type") or "no Content-Type").split(";")[0]
        return SourceResponseError(
            self.name,
            f"{_where(answer)} but the body is not JSON ({content_type}, "
            f"{len(answer.body)} bytes); is base_url the API root (…/api/v1)?",
        )

    def _status_error(self, answer: HttpAnswer) -> SourceError:
        where, details = _where(answer), _error_details(answer)
        if answer.status == 401:
            domain = (
                f" and identity_domain {self.identity_domain!r}"
                if self.identity_domain
                else " (and identity_domain, if the organization has one)"
            )
            return SourceAuthError(
                self.name,
                f"Ravello refused the credentials for user {self.shown_user} "
                f"({where}{details}); check username/password{domain}",
            )
        if answer.status == 403:
            return SourceAuthError(
                self.name,
                f"{where}{details}: user {self.shown_user} is not allowed to do this, or the "
                "organization reached a quota; ask a Ravello admin for read access",
            )
        if answer.status in RETRY_STATUSES:
            what = "is rate-limiting requests" if answer.status == 429 else "keeps failing"
            wait = answer.headers.get("Retry-After")
            hint = f", last Retry-After {wait[:20]} s" if wait else ""
            if answer.stopped_early == "deadline":
                advice = (
                    "timed out: the next wait would pass the run's deadline; "
                    "try again later or give the run more time"
                )
            else:
                advice = "try again later or raise retries"
            return SourceError(
                self.name,
                f"{where}{details}: Ravello {what}; gave up after "
                f"{plural(answer.attempts, 'attempt')} "
                f"(last status {answer.status}{hint}); {advice}",
            )
        if 300 <= answer.status < 400:
            location = scrub(answer.headers.get("Location") or "?")[:200]
            return SourceError(
                self.name,
                f"{where}: redirected to {location} (redirects are never followed, the "
                "credentials would go along); set base_url to the final address",
            )
        if answer.status == 404:
            return SourceError(
                self.name,
                f"{where}{details}: not found; check that base_url is the API root (…/api/v1)"
                " or whether the application was deleted meanwhile",
            )
        return SourceError(self.name, f"{where}{details}: unexpected answer from Ravello")


def base_url_problem(base_url: str, *, allow_insecure_http: bool = False) -> str | None:
    """What is wrong with ``base_url`` (never quoting credentials written into it), or None.

    Checked when the configuration is validated (:class:`RavelloSourceConfig`): by ``offhours
    check``, ``deploy`` and every run, before the source is built.
    """
    try:
        parts = urlsplit(base_url)
        host, _ = parts.hostname, parts.port
    except ValueError:
        parts, host = None, None
    if parts is not None and (parts.username is not None or parts.password is not None):
        # Not echoed: what sits before the @ is a user name and password.
        return (
            "base_url has credentials written into it (user:password@host); remove them and "
            "give username and password as secret references"
        )
    if parts is None or parts.scheme not in ("http", "https") or not host:
        return f"base_url {scrub(base_url)!r} is not an http(s) URL; use e.g. {DEFAULT_BASE_URL!r}"
    if parts.scheme == "http" and not is_loopback(host) and not allow_insecure_http:
        return (
            f"base_url {base_url!r} is plain http: the credentials would cross the network in "
            "clear; use https:// (http is accepted for loopback addresses, or with "
            "allow_insecure_http = true)"
        )
    return None
