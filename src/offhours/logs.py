"""Logging set-up shared by the CLI and the Lambda handler, with a filter that scrubs secrets.

Third-party libraries log request URLs at DEBUG (a Slack webhook URL *is* a secret), so every
record is scrubbed of known secret values before any handler formats it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TextIO
from urllib.parse import urlsplit

from offhours.secrets import Secret, known_values

__all__ = ["JsonFormatter", "RedactingFilter", "configure", "scrub"]

_NOISY = ("urllib3", "slack_sdk", "botocore", "boto3")


_USERINFO = re.compile(r"://[^/@\s]+@")


def scrub(text: str) -> str:
    """``text`` without any resolved secret: whole values, the path of a secret URL (libraries
    log "POST /services/…" on its own), and credentials written into any URL."""
    for value in sorted(known_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, Secret(value).redacted())
        if "://" in value:
            path = urlsplit(value).path
            if len(path) > 1 and path in text:
                text = text.replace(path, "/…")
    return _USERINFO.sub("://••••@", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for CloudWatch and other log collectors."""

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
    """0: warnings; 1 (-v): info; 2 (-vv): debug for offhours; 3 (-vvv): debug for libraries too."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbosity, 2)]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries speak only from -v on (urllib3 warns on every retry it is about to make).
    lib_level = (logging.ERROR, logging.WARNING, logging.WARNING, logging.DEBUG)[min(verbosity, 3)]
    for name in _NOISY:
        logging.getLogger(name).setLevel(lib_level)
