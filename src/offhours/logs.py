"""Logging set-up shared by the CLI and the Lambda handler, with a filter that scrubs secrets.

Third-party libraries log request URLs at DEBUG (a Slack webhook URL *is* a secret), so every
record is scrubbed of known secret values, and of the forms they take on the way (base64,
JSON-escaped, URL-encoded), before any handler formats it.

Scrubbing cannot catch what it was never told about: botocore's debug loggers print whole
request and response bodies (an SSM value, every key of a Secrets Manager JSON, KMS plaintext
as base64, what ``deploy`` encrypts). Those loggers never speak below INFO, at any verbosity:
their level is held at INFO and the handler drops their DEBUG records whatever their level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TextIO

from offhours.secrets import Secret, known_forms, known_values, url_path
from offhours.untrusted import lines

__all__ = [
    "BODY_LOGGERS",
    "MAX_VERBOSITY",
    "JsonFormatter",
    "RedactingFilter",
    "TerminalFormatter",
    "configure",
    "scrub",
]

_NOISY = ("urllib3", "slack_sdk", "botocore", "boto3")
MAX_VERBOSITY = 3

#: loggers whose DEBUG records carry request or response bodies, signed headers (a session
#: token) or handler arguments; kept: credentials' source, regions, retries, urllib3's
#: one-line request log (method, URL, status), which scrub() handles.
BODY_LOGGERS = (
    "botocore.endpoint",  # "Making request … with params: {… 'body': …}", the prepared request
    "botocore.parsers",  # "Response body: …"
    "botocore.auth",  # the canonical request: signed header values, x-amz-security-token
    "botocore.hooks",  # event handlers with their bound arguments
    "botocore.awsrequest",
    "boto3.resources",  # "Calling … with {params}"
)

# user:password@ in an authority: after a scheme ("http://u:p@proxy"), or without one
# ("u:p@proxy:3128", as HTTPS_PROXY may be written), where the user part must stand alone.
_USERINFO = re.compile(r"://[^/@\s]+@")
_BARE_USERINFO = re.compile(
    r"(?<![\w.:/@%+~!$*-])[\w.~%!$*+-]+:[^\s/@'\"]*@(?=[A-Za-z0-9.\[\]:-]+(?::\d+)?(?![\w.@-]))"
)

_forms_for: tuple[int, tuple[str, ...]] = (0, ())


def _forms() -> tuple[str, ...]:
    """Every derived form, longest first; sorted again only when a secret was added."""
    global _forms_for
    forms = known_forms()
    if _forms_for[0] != len(forms):
        _forms_for = (len(forms), tuple(sorted(forms, key=len, reverse=True)))
    return _forms_for[1]


def scrub(text: str) -> str:
    """``text`` without any resolved secret: whole values and their derived forms (stripped,
    base64 at any alignment, JSON-escaped, URL-encoded), the path of a secret URL (libraries
    log "POST /services/…" on its own), and credentials written into any URL or proxy
    address."""
    for value in sorted(known_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, Secret(value).redacted())
        if "://" in value:
            path = url_path(value)  # never raises, whatever the value's shape
            if len(path) > 1 and path in text:
                text = text.replace(path, "/…")
    # A substring test per form: C-speed, and faster than one alternation of them all.
    for form in _forms():
        if form in text:
            text = text.replace(form, "••••")
    text = _USERINFO.sub("://••••@", text)
    return _BARE_USERINFO.sub("••••@", text)


def _carries_bodies(name: str) -> bool:
    return any(name == quiet or name.startswith(quiet + ".") for quiet in BODY_LOGGERS)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and _carries_bodies(record.name):
            return False  # even if someone lowered the logger's level again
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class TerminalFormatter(logging.Formatter):
    """``LEVEL logger: message`` for a terminal: what the message quotes (a server's error
    text, a name) loses its control, bidi and zero-width characters, line breaks kept.

    ``brief`` (the CLI without ``-v``): warnings read ``warning: message`` and errors
    ``offhours: error: message``, as the commands' own lines do; with ``-v`` every record
    keeps its level and logger, to tell where it came from."""

    def __init__(self, *, brief: bool = False) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.brief = brief

    def formatMessage(self, record: logging.LogRecord) -> str:
        if self.brief and record.levelno >= logging.ERROR:
            return f"offhours: error: {record.message}"
        if self.brief and record.levelno >= logging.WARNING:
            return f"warning: {record.message}"
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return lines(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for CloudWatch and other log collectors. ``json.dumps`` escapes
    every non-ASCII character (``ensure_ascii``), so C0, C1, bidi and zero-width characters in a
    message arrive as ``\\uXXXX`` text, never raw."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def configure(
    verbosity: int = 0, *, json_lines: bool = False, stream: TextIO | None = None
) -> None:
    """0: warnings (in the commands' words: ``warning: …``, ``offhours: error: …``); 1 (-v):
    info; 2 (-vv): debug for offhours; 3 (-vvv): debug for libraries too, less the bodies
    (see :data:`BODY_LOGGERS`). Values outside 0…3 are clamped."""
    verbosity = min(max(verbosity, 0), MAX_VERBOSITY)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    brief = verbosity == 0
    handler.setFormatter(JsonFormatter() if json_lines else TerminalFormatter(brief=brief))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries speak only from -v on (urllib3 warns on every retry it is about to make).
    lib_level = (logging.ERROR, logging.WARNING, logging.WARNING, logging.DEBUG)[min(verbosity, 3)]
    for name in _NOISY:
        logging.getLogger(name).setLevel(lib_level)
    for name in BODY_LOGGERS:
        logging.getLogger(name).setLevel(max(lib_level, logging.INFO))
