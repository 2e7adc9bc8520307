"""Bounded HTTP for sources and notifiers: one client shape, every limit enforced.

Every request made through :class:`HttpClient`

* ends by the run's :class:`Deadline` (the Lambda's remaining time, or ``--deadline``);
* spends at most ``request_timeout`` seconds on one attempt — connecting, waiting for the
  headers and reading the body — however slowly the server trickles bytes (``read_timeout``
  alone applies to each socket read, so a byte every few seconds would never trip it);
* reads at most ``max_bytes`` of *decoded* body, in chunks, so a gzip bomb is cut off at the
  cap instead of inflating in memory;
* never follows a redirect (a 3xx is handed back to the caller, who reports it);
* is retried by urllib3's own :class:`~urllib3.util.retry.Retry`, whose waits honour
  ``Retry-After`` up to a cap, are charged to an optional :class:`WaitBudget`, and stop when
  the next wait would outlast the deadline (the last answer is then reported, not waited on);
* goes through ``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY`` or a loopback host says not.

Failures are raised as :class:`TransportFault` subclasses; each caller turns them into its own
:class:`~offhours.errors.SourceError` or :class:`~offhours.errors.NotifierError` wording.
The clock and the sleep are injected so deadline logic is testable without real waits.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import math
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, Self
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from offhours.errors import ConfigError
from offhours.logs import RedactingFilter

__all__ = [
    "BodyTooLarge",
    "BoundedRetry",
    "Deadline",
    "DeadlinePassed",
    "Exchange",
    "HttpAnswer",
    "HttpClient",
    "RequestFailed",
    "TransportFault",
    "WaitBudget",
    "is_loopback",
    "proxy_for",
]

Clock = Callable[[], float]
Sleep = Callable[[float], None]

#: bytes asked of the socket (and of the decoder) per read
_CHUNK = 64 * 1024
# urllib3 logs request lines (method and path) at DEBUG, and a webhook's path is its secret:
# these records are scrubbed at the source, whatever handler (tests, embedding) receives them.
for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(RedactingFilter())

#: the wait after a 429 that gives no usable Retry-After
_RATE_LIMIT_WAIT = 1.0
#: the smallest socket timeout set when a deadline is nearly spent (0 would mean non-blocking)
_MIN_TIMEOUT = 0.05


# ---------------------------------------------------------------------------------------------
# The run's deadline


class Deadline:
    """An instant on a monotonic clock by which something must be over (or none: ``never``)."""

    __slots__ = ("_clock", "end")

    def __init__(self, end: float | None, clock: Clock = time.monotonic) -> None:
        self.end = end
        self._clock = clock

    @classmethod
    def after(cls, seconds: float | None, clock: Clock = time.monotonic) -> Deadline:
        """``seconds`` from now on ``clock``; ``None`` is no deadline."""
        return cls(None if seconds is None else clock() + seconds, clock)

    @classmethod
    def never(cls) -> Deadline:
        return cls(None)

    @property
    def bounded(self) -> bool:
        return self.end is not None

    def remaining(self) -> float:
        """Seconds left (never negative); ``inf`` without a deadline."""
        if self.end is None:
            return math.inf
        return max(0.0, self.end - self._clock())

    @property
    def passed(self) -> bool:
        return self.end is not None and self._clock() >= self.end

    def earlier(self, seconds: float) -> Deadline:
        """This deadline moved ``seconds`` earlier (kept for what must happen afterwards)."""
        return self if self.end is None else Deadline(self.end - seconds, self._clock)

    def within(self, seconds: float) -> Deadline:
        """Whichever comes first: this deadline, or ``seconds`` from now."""
        end = self._clock() + seconds
        return Deadline(end if self.end is None else min(self.end, end), self._clock)

    def __repr__(self) -> str:
        left = self.remaining()
        return "Deadline(never)" if math.isinf(left) else f"Deadline({left:.1f} s left)"


# ---------------------------------------------------------------------------------------------
# Faults


class TransportFault(Exception):
    """A request that did not produce a usable answer. ``attempts`` were made."""

    def __init__(self, message: str, *, attempts: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status


class RequestFailed(TransportFault):
    """No answer: ``reason`` is urllib3's error (connect, TLS, read timeout, broken connection)
    or, for a body, the error that cut it short."""

    def __init__(
        self,
        reason: BaseException,
        *,
        attempts: int = 1,
        status: int | None = None,
        stopped_early: str | None = None,
    ) -> None:
        super().__init__(str(reason), attempts=attempts, status=status)
        self.reason = reason
        #: "deadline" or "budget" when retrying stopped before ``retries`` ran out
        self.stopped_early = stopped_early


class DeadlinePassed(TransportFault):
    """The run's deadline or the attempt's ``request_timeout`` ran out first.

    ``limit`` is ``"run"`` or ``"request"``; ``during`` says what was under way."""

    def __init__(
        self, limit: str, during: str, *, attempts: int = 1, status: int | None = None
    ) -> None:
        message = f"{limit} deadline passed while {during}"
        super().__init__(message, attempts=attempts, status=status)
        self.limit = limit
        self.during = during


class BodyTooLarge(TransportFault):
    """The decoded body went past ``cap`` bytes (reading stopped there)."""

    def __init__(self, cap: int, *, attempts: int = 1, status: int | None = None) -> None:
        super().__init__(f"body larger than {cap} bytes", attempts=attempts, status=status)
        self.cap = cap


# ---------------------------------------------------------------------------------------------
# Retry, bounded by a deadline and a wait budget


class WaitBudget:
    """Seconds a caller agrees to spend waiting between retries, over several requests."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.waited = 0.0
        self.spent = False  # a wait was refused because it did not fit

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.waited)


@dataclass
class Exchange:
    """What the Retry copies of one request share: its deadlines and why retrying stopped."""

    run: Deadline
    request_timeout: float
    sleep: Sleep = time.sleep
    budget: WaitBudget | None = None
    attempt: Deadline = field(init=False)
    stopped_early: str | None = None
    last_wait: float | None = None
    #: attempts that failed (each one passes through Retry.increment)
    failed: int = 0

    def __post_init__(self) -> None:
        self.next_attempt()

    def next_attempt(self) -> None:
        self.attempt = self.run.within(self.request_timeout)

    def limit(self) -> str:
        """Which deadline bounds the attempt now: "run" or "request"."""
        run_end, attempt_end = self.run.end, self.attempt.end
        return "run" if run_end is not None and attempt_end == run_end else "request"


class BoundedRetry(Retry):
    """urllib3's ``Retry`` with ``Retry-After`` capped at ``retry_after_cap`` seconds, its waits
    charged to the exchange's budget and stopped when they would outlast the run's deadline.

    A 429 asking for an hour would otherwise hold a scheduled run (a Lambda with a time limit)
    for that hour; capped, the request is retried sooner and, if the server still refuses, the
    run reports the last answer instead of timing out silently. An unreadable ``Retry-After``
    falls back to the exponential backoff instead of failing the request.
    """

    def __init__(
        self,
        *args: Any,
        retry_after_cap: float = 60.0,
        exchange: Exchange | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_cap = retry_after_cap
        self.exchange = exchange

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.retry_after_cap = self.retry_after_cap
        retry.exchange = self.exchange
        return retry

    def bound_to(self, exchange: Exchange) -> Self:
        """A copy for one request."""
        retry = self.new()
        retry.exchange = exchange
        return retry

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        return None if seconds is None else min(max(seconds, 0.0), self.retry_after_cap)

    def next_wait(self, response: urllib3.BaseHTTPResponse | None) -> float:
        """How long :meth:`sleep` would wait before the next attempt."""
        backoff = self.get_backoff_time()
        if self.respect_retry_after_header and response is not None:
            asked = self.get_retry_after(response)
            if asked is not None:
                return asked
            if response.status == 429:
                # Rate-limited without a usable Retry-After (absent, a date, nonsense): an
                # immediate retry would only be refused again, so wait a second at least.
                return min(max(backoff, _RATE_LIMIT_WAIT), self.retry_after_cap)
        return backoff

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: urllib3.BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Self:
        exchange = self.exchange
        if exchange is not None:
            exchange.failed += 1
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if exchange is None:
            return retry
        wait = retry.next_wait(response)
        exchange.last_wait = wait
        reason = error or ResponseError(f"too many {response.status if response else ''} answers")
        if exchange.budget is not None and wait > exchange.budget.remaining:
            exchange.budget.spent = True
            exchange.stopped_early = "budget"
            raise MaxRetryError(_pool, url or "", reason)
        # A wait that leaves no time for the next attempt is not worth making.
        if wait + _MIN_TIMEOUT >= exchange.run.remaining():
            exchange.stopped_early = "deadline"
            raise MaxRetryError(_pool, url or "", reason)
        return retry

    def sleep(self, response: urllib3.BaseHTTPResponse | None = None) -> None:
        exchange = self.exchange
        if exchange is None:
            super().sleep(response)
            return
        wait = min(self.next_wait(response), exchange.run.remaining())
        if exchange.budget is not None:
            exchange.budget.waited += wait
        if wait > 0:
            exchange.sleep(wait)
        exchange.next_attempt()


class _AttemptTimeout(urllib3.Timeout):
    """Connect and read timeouts never longer than what is left of the attempt's deadline."""

    def __init__(self, connect: float, read: float, exchange: Exchange) -> None:
        super().__init__(connect=connect, read=read)
        self.exchange = exchange

    def clone(self) -> _AttemptTimeout:
        return _AttemptTimeout(self._connect, self._read, self.exchange)  # type: ignore[arg-type]

    def _clip(self, value: Any) -> float:
        return max(_MIN_TIMEOUT, min(float(value), self.exchange.attempt.remaining()))

    @property
    def connect_timeout(self) -> float:
        return self._clip(self._connect)

    @property
    def read_timeout(self) -> float:
        return self._clip(self._read)


# ---------------------------------------------------------------------------------------------
# Headers trickled slowly
#
# A socket timeout bounds each read, not the headers as a whole: a server sending a header byte
# every second would hold the attempt for ever. While the headers are awaited, a timer shuts the
# socket down when the attempt's deadline comes; the read then ends and the deadline is checked.

_current = threading.local()


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to cut
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        exchange: Exchange | None = getattr(_current, "exchange", None)
        timer = None
        if exchange is not None and exchange.attempt.bounded and self.sock is not None:
            timer = threading.Timer(exchange.attempt.remaining(), _cut, (self.sock,))
            timer.daemon = True
            timer.start()
        try:
            return super().getresponse(*args, **kwargs)  # type: ignore[misc]
        finally:
            if timer is not None:
                timer.cancel()


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


# ---------------------------------------------------------------------------------------------
# Where a request goes


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address: traffic that never leaves the machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str) -> str | None:
    """The proxy ``HTTPS_PROXY``/``HTTP_PROXY`` name for ``url``, unless ``NO_PROXY`` or a
    loopback host exempts it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or is_loopback(host):
        return None
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass(host):  # NO_PROXY, read from the environment too
        return None
    return proxies.get(parts.scheme)


def _pool_manager(url: str, **kwargs: Any) -> urllib3.PoolManager:
    manager = _unwatched_pool_manager(url, **kwargs)
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


def _unwatched_pool_manager(url: str, **kwargs: Any) -> urllib3.PoolManager:
    proxy = proxy_for(url)
    if proxy is None:
        return urllib3.PoolManager(**kwargs)
    try:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(parts.scheme)
        headers = None
        if parts.username is not None:
            auth = f"{parts.username}:{parts.password or ''}"
            headers = urllib3.make_headers(proxy_basic_auth=unquote(auth))
        bare = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urllib3.ProxyManager(bare, proxy_headers=headers, **kwargs)
    except (ValueError, HTTPError):
        # Never quoted: a proxy address may carry a password (one with a "/" in it is where
        # urlsplit gives up).
        raise ConfigError(
            "the proxy in HTTPS_PROXY/HTTP_PROXY is not one offhours can use; write it as "
            "http://[user:password@]host:port (percent-encode '/', '@' or ':' in the password), "
            "or set NO_PROXY for this host"
        ) from None


# ---------------------------------------------------------------------------------------------
# The client


@dataclass(frozen=True)
class HttpAnswer:
    """A complete response: status, headers and the whole (decoded) body, connection released."""

    method: str
    url: str
    status: int
    headers: urllib3.HTTPHeaderDict
    body: bytes
    attempts: int
    #: "deadline" or "budget" when an answer that would have been retried was kept instead
    stopped_early: str | None = None
    last_wait: float | None = None


class HttpClient:
    """A pool of connections to one service with every bound of the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        retry: BoundedRetry,
        connect_timeout: float,
        read_timeout: float,
        request_timeout: float,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        maxsize: int = 1,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.retry = retry
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.request_timeout = request_timeout
        self.max_bytes = max_bytes
        self.headers = dict(headers or {})
        self._sleep = sleep
        self._pool = _pool_manager(base_url, num_pools=2, maxsize=maxsize, headers=self.headers)

    def clear(self) -> None:
        """Close idle connections."""
        self._pool.clear()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: Deadline | None = None,
        budget: WaitBudget | None = None,
    ) -> HttpAnswer:
        """One request, retried as ``retry`` says; raises a :class:`TransportFault`."""
        run = deadline or Deadline.never()
        exchange = Exchange(run, self.request_timeout, self._sleep, budget)
        if run.passed:
            raise DeadlinePassed("run", "waiting to send the request", attempts=0)
        timeout = _AttemptTimeout(self.connect_timeout, self.read_timeout, exchange)
        _current.exchange = exchange
        try:
            response = self._pool.request(
                method,
                url,
                body=body,
                headers={**self.headers, **(headers or {})},
                retries=self.retry.bound_to(exchange),
                timeout=timeout,
                redirect=False,
                preload_content=False,
            )
        except MaxRetryError as exc:
            self._raise_for(exc.reason or exc, exchange, max(exchange.failed, 1))
        except HTTPError as exc:
            self._raise_for(exc, exchange, exchange.failed + 1)
        finally:
            _current.exchange = None
        # Each failed attempt went through Retry.increment; when the last one raised (retries
        # spent, or the deadline near), the answer kept is that attempt's, not a new one.
        kept = len(response.retries.history) if response.retries else 0
        attempts = exchange.failed if exchange.failed > kept else exchange.failed + 1
        try:
            data = self._read(response, exchange, attempts)
        finally:
            response.release_conn()
        return HttpAnswer(
            method,
            url,
            response.status,
            response.headers,
            data,
            attempts,
            exchange.stopped_early,
            exchange.last_wait,
        )

    def _raise_for(self, reason: BaseException, exchange: Exchange, attempts: int) -> NoReturn:
        # A timeout when the deadline is (nearly) spent is the deadline's doing: say so.
        if exchange.attempt.remaining() <= _MIN_TIMEOUT and isinstance(reason, HTTPError):
            raise DeadlinePassed(
                exchange.limit(), "waiting for an answer", attempts=attempts
            ) from reason
        raise RequestFailed(
            reason, attempts=attempts, stopped_early=exchange.stopped_early
        ) from reason

    def _read(self, response: urllib3.BaseHTTPResponse, exchange: Exchange, attempts: int) -> bytes:
        """The decoded body, chunk by chunk, within the attempt's deadline and the size cap."""
        # Written into one growing buffer, not joined from a list: a join holds the body twice
        # at its end (a large Ravello list is tens of MB); getvalue() hands the buffer over.
        body = io.BytesIO()
        size = 0
        sock = getattr(response.connection, "sock", None)
        status = response.status
        while True:
            left = exchange.attempt.remaining()
            if left <= 0:
                raise DeadlinePassed(
                    exchange.limit(), "reading the body", attempts=attempts, status=status
                )
            if sock is not None:
                sock.settimeout(max(_MIN_TIMEOUT, min(self.read_timeout, left)))
            try:
                # read1: one socket read at most, so the deadline is checked between bytes
                # trickled slowly; decoding stops at the amount asked (no gzip bomb).
                chunk = response.read1(min(_CHUNK, self.max_bytes + 1 - size))
            except HTTPError as exc:
                if exchange.attempt.remaining() <= _MIN_TIMEOUT:
                    raise DeadlinePassed(
                        exchange.limit(), "reading the body", attempts=attempts, status=status
                    ) from exc
                raise RequestFailed(exc, attempts=attempts, status=status) from exc
            if not chunk:
                return body.getvalue()
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge(self.max_bytes, attempts=attempts, status=status)
            body.write(chunk)
