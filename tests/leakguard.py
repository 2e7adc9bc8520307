"""A leak guard over the whole suite.

Secrets in tests are unique sentinel strings (``sentinel-…``) or values that offhours resolved
into a ``Secret`` during the run (webhook URLs and their tokens included). A test fails if one
of them shows up in its captured stdout, stderr or log records, or in the text of an exception
it raised — whether the test failed with it or caught it with ``pytest.raises``. Derived forms
count as the value: stripped, base64 (standard or URL-safe, at any of the three byte
alignments), JSON-escaped and URL-encoded. For sentinels that offhours never resolved (what
``deploy`` encrypts, another key of a Secrets Manager JSON), the base64 of ``sentinel-`` itself
is searched for, so a sentinel is caught in base64 whatever surrounds it.
Only the guard's own self-test, marked ``shows_leaks``, may show them.
"""

from __future__ import annotations

import functools
import re
import traceback
from collections.abc import Generator, Iterable, Iterator
from types import TracebackType
from typing import Any

import pytest

from offhours.secrets import derived_forms, known_values, url_path

SENTINEL = re.compile(r"sentinel-[A-Za-z0-9-]{4,}")
# "sentinel-" in base64 at each alignment: "c2VudGluZWwt", "ZW50aW5l", "bnRpbmVs".
SENTINEL_BASE64 = derived_forms("sentinel-")
MIN_LENGTH = 12  # shorter resolved values ("u", "pw") would match ordinary text


@functools.cache
def _guarded_forms(value: str) -> frozenset[str]:
    guarded = {value, *derived_forms(value)}
    if "://" in value or value.startswith("hooks."):
        # url_path never raises: a secret of any shape ("https://[xoxb-…]/…") is guarded too.
        token = url_path(value).rsplit("/", 1)
        if len(token[-1]) >= MIN_LENGTH:
            guarded |= {token[-1], *derived_forms(token[-1])}
    return frozenset(guarded)


def secrets_to_guard() -> set[str]:
    guarded: set[str] = set()
    for value in known_values():
        if len(value) >= MIN_LENGTH:
            guarded |= _guarded_forms(value)
    return guarded


def leaks(text: str, values: Iterable[str] = ()) -> list[str]:
    """What of the guarded secrets (and of ``values``, in any derived form) ``text`` shows.

    ``values`` are secrets this process never resolved, such as those a subprocess did."""
    extra = {form for value in values for form in _guarded_forms(value)}
    found = [m.group(0) for m in SENTINEL.finditer(text)]
    found += [s for s in SENTINEL_BASE64 | secrets_to_guard() | extra if s in text]
    # Show only enough to find the test's secret again, never the whole value.
    return sorted({f"…{s[-4:]}" for s in found})


def exception_text(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        current = current.__cause__ or current.__context__
    yield "".join(traceback.format_exception(exc))


class _GuardedRaises:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __enter__(self) -> Any:
        return self.inner.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        handled = self.inner.__exit__(exc_type, exc, tb)
        if exc is not None:
            found = leaks("\n".join(exception_text(exc)))
            if found:
                raise AssertionError(f"secret leak in an exception's text: {found}")
        return handled


@pytest.fixture(autouse=True)
def _guard_raised_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    original = pytest.raises

    def raises(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        return _GuardedRaises(result) if hasattr(result, "__exit__") else result

    monkeypatch.setattr(pytest, "raises", raises)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    # Later phases repeat earlier phases' sections: look only at this phase's own.
    captured = "\n".join(content for title, content in report.sections if report.when in title)
    if call.excinfo is not None:
        captured += "\n" + "\n".join(exception_text(call.excinfo.value))
    found = leaks(captured)
    expected = item.get_closest_marker("shows_leaks") is not None
    if found and report.outcome != "skipped" and not expected:
        report.outcome = "failed"
        report.longrepr = f"secret leak in captured output, logs or exception text: {found}"
    return report
