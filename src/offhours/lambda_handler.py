"""The AWS Lambda door into :func:`offhours.audit.run_audit`.

    offhours.lambda_handler.handler(event, context)

Configuration, first found:
  OFFHOURS_CONFIG_SSM   name of an SSM parameter holding the configuration (JSON or TOML);
                        ``offhours deploy`` sets ``name:version``, so each published version
                        of the function reads exactly the configuration it was deployed with
  OFFHOURS_CONFIG       path of a TOML file
  offhours.toml         beside the package (``$LAMBDA_TASK_ROOT/offhours.toml``)

The scheduled time comes from the event (``time`` of an EventBridge event, or the
``<aws.scheduler.scheduled-time>`` that ``offhours deploy`` puts in a Scheduler's input), so a
retried invocation evaluates the same instant. Logs are JSON lines. A run in which a source or
a notifier failed raises, so Lambda records an error; ``offhours deploy`` turns Lambda's
asynchronous retries off, so that error never posts the same message again.

Incident memory is the deployed DynamoDB table (``OFFHOURS_STATE_TABLE``, set by
``offhours deploy``; ``[memory] store = "off"`` turns it off). The run's identity is the
function's name and the scheduled time, so a retried or duplicated event posts nothing more.
A run whose store failed still delivers every finding, marked as not deduplicated, then raises.

This module imports nothing of the CLI stack (typer, rich): cold starts stay short.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offhours import logs
from offhours.audit import AuditResult, Memory, run_audit, run_id
from offhours.budget import RUN_MARGIN
from offhours.config import Config, load_config, parse_config
from offhours.deploy.fingerprint import DEPLOY_STATE_KEY
from offhours.errors import ConfigError, OffhoursError
from offhours.transport import Deadline

# What the imports made lives as long as the process: out of the collector's sight, so the
# full collections a large payload triggers do not walk the modules again and again.
gc.freeze()

__all__ = ["AuditFailed", "handler", "load_lambda_config", "run_deadline", "scheduled_time"]

log = logging.getLogger("offhours.lambda")

# Kept across warm invocations, keyed by where it came from: `offhours deploy` pins the SSM
# parameter's version (name:version) in each published version, so a key names one exact config.
_CONFIG: tuple[str, Config] | None = None


class AuditFailed(OffhoursError):
    """Raised after a run in which a source or notifier failed (the rest was delivered)."""


def scheduled_time(event: Any) -> datetime:
    """The instant the run evaluates: the event's ``time``, else now (a manual invocation)."""
    text = event.get("time") if isinstance(event, dict) else None
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise ConfigError(f"event time {text!r} is not an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _parse_text(text: str, where: str) -> Config:
    is_json = text.lstrip().startswith("{")
    try:
        data = json.loads(text) if is_json else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: neither JSON nor valid TOML: {exc}") from None
    if isinstance(data, dict):
        # What `offhours deploy` keeps for itself (secrets' fingerprints), not configuration.
        data.pop(DEPLOY_STATE_KEY, None)
    # TOML's text gives each problem its line; JSON's lines are not the keys' lines
    return parse_config(data, Path(where), text=None if is_json else text)


def load_lambda_config(
    environ: dict[str, str] | None = None, deadline: Deadline | None = None
) -> Config:
    env = dict(os.environ) if environ is None else environ
    name = env.get("OFFHOURS_CONFIG_SSM")
    if name:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        from offhours.aws_region import aws_region
        from offhours.secrets.aws import boto_config, explain

        try:
            # A session of its own, as the secret stores use: boto3's default session would
            # keep the credentials it first found for the life of a warm container.
            session = boto3.session.Session(region_name=aws_region(None, env))
            ssm = session.client("ssm", config=boto_config(deadline))
            answer = ssm.get_parameter(Name=name, WithDecryption=True)
        except (ClientError, BotoCoreError) as exc:
            reason = explain(exc, "ssm:GetParameter", {})
            if deadline is not None and deadline.passed:
                reason = f"the invocation's deadline passed while reading it ({reason})"
            raise ConfigError(f"ssm:{name}: cannot read the configuration: {reason}") from None
        return _parse_text(answer["Parameter"]["Value"], f"ssm:{name}")
    path = env.get("OFFHOURS_CONFIG")
    if path:
        return load_config(Path(path))
    root = Path(env.get("LAMBDA_TASK_ROOT", Path(__file__).resolve().parents[1]))
    return load_config(root / "offhours.toml")


def _config_key(env: Mapping[str, str]) -> str:
    """Where the configuration comes from (the pinned ``name:version`` when deployed)."""
    return env.get("OFFHOURS_CONFIG_SSM") or env.get("OFFHOURS_CONFIG") or ""


def _summary(result: AuditResult) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "status": result.status,
        "flagged": len(result.report.flagged),
        "told": len(result.report.findings),
        "running_vms": result.report.running_vms,
        "checked": len(result.report.decisions),
        "notified": {r.notifier: r.sent for r in result.receipts},
        "failures": result.failures,
    }
    memory = result.report.memory
    if memory is not None:
        summary["run_id"] = memory.run_id
        summary["deduplicated"] = result.memory_problem is None
        if result.skipped is not None:
            summary["skipped"] = result.skipped
        if result.memory_problem is not None:
            summary["memory_problem"] = result.memory_problem
    return summary


def _memory(config: Config, now: datetime, deadline: Deadline) -> Memory | None:
    """The deployed table, and this run's identity: the function and the scheduled time."""
    from offhours.state import open_store

    store = open_store(config, on_lambda=True, deadline=deadline)
    if store is None:
        return None
    return Memory(store, run_id(config.deploy.function_name, now), config.memory.settings())


def run_deadline(context: Any) -> Deadline:
    """What the invocation has left (``context.get_remaining_time_in_millis()``) less a margin
    for the summary and the logs; no deadline without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return Deadline.never()
    return Deadline.after(max(0.0, remaining() / 1000 - RUN_MARGIN))


def handler(event: Any, context: Any) -> dict[str, Any]:
    global _CONFIG
    deadline = run_deadline(context)  # first: the clock runs from the start of the invocation
    level, bad = _verbosity(os.environ.get("OFFHOURS_VERBOSITY", ""))
    logs.configure(level, json_lines=True)
    if bad:
        log.warning("OFFHOURS_VERBOSITY=%r is not 0, 1, 2 or 3; using %d", bad[:20], level)
    try:
        key = _config_key(os.environ)
        if _CONFIG is None or _CONFIG[0] != key:
            _CONFIG = (key, load_lambda_config(deadline=deadline))
        config = _CONFIG[1]
        now = scheduled_time(event)
        if isinstance(event, dict) and event.get("offhours") == "digest":
            return _digest(config, now, deadline)
        log.info("audit at %s (event id %s)", now.isoformat(), _event_id(event))
        memory = _memory(config, now, deadline)
        try:
            result = run_audit(config, now=now, deadline=deadline, memory=memory)
        finally:
            if memory is not None:
                memory.store.close()
    except OffhoursError as exc:
        log.error("offhours: %s", exc)
        raise
    # The CLI prints these itself; here they would be an INFO line among many.
    for failure in result.report.failures:
        log.warning("source %r failed: %s", failure.source, logs.scrub(failure.message))
    summary = _summary(result)
    # A run that failed in part is a warning in the logs; one that could read nothing, an error.
    levels = {"success": logging.INFO, "partial": logging.WARNING}
    log.log(levels.get(summary["status"], logging.ERROR), "audit done: %s", json.dumps(summary))
    problems = list(result.failures)
    if result.memory_problem is not None:
        problems.append(f"not deduplicated: {result.memory_problem}")
    if problems:
        raise AuditFailed("; ".join(problems))
    return summary


def _digest(config: Config, now: datetime, deadline: Deadline) -> dict[str, Any]:
    """The weekly digest (the second schedule's event: ``"offhours": "digest"``) from the
    deployed table, to every notifier; raises when it could not be read or delivered."""
    from offhours.audit import send_digest
    from offhours.digest import collect_digest
    from offhours.hours import parse_zone
    from offhours.state import open_store

    log.info("digest at %s", now.isoformat())
    store = open_store(config, on_lambda=True, deadline=deadline)
    if store is None:
        raise ConfigError("the digest needs incident memory, and memory is off ([memory] store)")
    try:
        found = collect_digest(store, now=now, zone=parse_zone(config.hours.timezone))
    finally:
        store.close()
    receipts = send_digest(config, found, deadline=deadline)
    summary = {
        "status": "error" if any(r.error for r in receipts) else "success",
        "digest": f"{found.week.start.isoformat()}/{found.week.end.isoformat()}",
        "notified": {r.notifier: r.sent for r in receipts},
        "failures": [f"notifier {r.notifier!r}: {r.error}" for r in receipts if r.error],
    }
    log.info("digest done: %s", json.dumps(summary))
    if summary["failures"]:
        raise AuditFailed("; ".join(summary["failures"]))
    return summary


def _verbosity(text: str) -> tuple[int, str]:
    """OFFHOURS_VERBOSITY clamped to 0…3 (default 1), and the text if it was not a number."""
    try:
        value = int(text) if text.strip() else 1
    except ValueError:
        return 1, text
    return min(max(value, 0), logs.MAX_VERBOSITY), ""


def _event_id(event: Any) -> str:
    return str(event.get("id", "-")) if isinstance(event, dict) else "-"
