"""One run: secrets → sources (concurrently) → policy → report → notifiers. Orchestration only.

The CLI and the Lambda handler are two thin doors into :func:`run_audit`; ``now`` is always
given by the caller.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from offhours.budget import Budget, delivery_reserve, run_budget
from offhours.config import Config, PluginConfig, SourceConfig
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.logs import scrub
from offhours.model import Resource, SourceFailure
from offhours.notifiers.base import Notifier
from offhours.policy import evaluate
from offhours.registry import load_plugin
from offhours.report import Report, build_report
from offhours.secrets import Resolver, Secret
from offhours.sources.base import Source
from offhours.transport import Deadline

__all__ = [
    "AuditResult",
    "NotifierOutcome",
    "budget_of",
    "build_notifiers",
    "build_sources",
    "collect",
    "resolve_secrets",
    "run_audit",
]

log = logging.getLogger(__name__)

#: how many sources are read at once
MAX_SOURCE_THREADS = 8
#: how long past the collect deadline a source may take to report its own timeout (its words
#: are more precise) before it is abandoned and reported as timed out
_ABANDON_GRACE = 0.25

Secrets = dict[tuple[int, str], Secret]


@dataclass(frozen=True)
class NotifierOutcome:
    name: str
    sent: int
    error: str | None = None


@dataclass(frozen=True)
class AuditResult:
    report: Report
    notifiers: tuple[NotifierOutcome, ...]
    previews: tuple[tuple[str, str], ...] = ()

    @property
    def failures(self) -> list[str]:
        """Every source or notifier that failed, as one line each."""
        lines = [f"source {f.source!r}: {f.message}" for f in self.report.failures]
        lines += [f"notifier {n.name!r}: {n.error}" for n in self.notifiers if n.error]
        return lines

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        if not self.failures:
            return "success"
        delivered = any(n.sent for n in self.notifiers)
        read = len(self.report.failures) < len(self.report.sources)
        return "partial" if delivered or read else "error"


def resolve_secrets(
    config: Config, environ: Mapping[str, str] | None = None, deadline: Deadline | None = None
) -> Secrets:
    """Resolve every secret reference; all failures are reported together (SecretError)."""
    for where in config.plaintext_secrets():
        log.warning(
            "%s: %s holds a plaintext secret (allowed by allow_plaintext_secrets); "
            "use a kms:, ssm:, secretsmanager:, env: or file: reference outside experiments",
            config.label,
            where,
        )
    refs = config.secret_refs()
    resolver = Resolver(config.secret_settings(), environ, deadline)
    try:
        values = resolver.resolve_all(ref for _, _, ref in refs)
    except SecretError as exc:
        problems = tuple(f"{config.label}: {p}" for p in exc.problems)
        noun = "reference" if len(problems) == 1 else "references"
        raise SecretError(
            f"{len(problems)} secret {noun} could not be resolved:\n  " + "\n  ".join(problems),
            problems,
        ) from None
    return {(id(plugin), field): values[ref] for plugin, field, ref in refs}


def _kwargs(plugin: PluginConfig, secrets: Secrets) -> dict[str, Any]:
    kwargs = plugin.plugin_kwargs()
    for field in list(kwargs):
        secret = secrets.get((id(plugin), field))
        if secret is not None:
            kwargs[field] = secret
    return kwargs


def _build(section: str, plugins: Iterable[PluginConfig], secrets: Secrets) -> list[Any]:
    built = []
    problems = []
    for i, plugin in enumerate(plugins):
        cls = load_plugin(section, plugin.type)
        try:
            built.append(cls(plugin.display_name(), **_kwargs(plugin, secrets)))
        except ConfigError as exc:
            problems.append(f"{section}[{i}] ({plugin.display_name()}): {exc}")
    if problems:
        raise ConfigError("\n".join(problems), tuple(problems))
    return built


def build_sources(config: Config, secrets: Secrets) -> list[Source]:
    return _build("sources", config.sources, secrets)


def build_notifiers(
    config: Config, secrets: Secrets, skip_types: Iterable[str] = ()
) -> list[Notifier]:
    skip = set(skip_types)
    return _build("notifiers", (n for n in config.notifiers if n.type not in skip), secrets)


def _read(source: Source, cost: float | None) -> list[Resource]:
    """One source's read, inside its failure boundary: the cost estimate too (a hostile count
    must fail this source, not the run)."""
    log.info("reading source %r", source.name)
    try:
        resources = source.collect()
    finally:
        source.close()
    if cost is not None:
        resources = [
            r if r.hourly_cost is not None else replace(r, hourly_cost=_cost(r, cost))
            for r in resources
        ]
    log.info("source %r: %d resources", source.name, len(resources))
    return resources


def _cost(resource: Resource, per_vm_hour: float) -> float:
    value = resource.running * per_vm_hour
    if not math.isfinite(value):
        raise OffhoursError(f"the cost of {resource.name!r} ({resource.running} VMs) overflows")
    return value


def collect(
    sources: Sequence[Source],
    costs: Mapping[str, float | None] | None = None,
    deadline: Deadline | None = None,
) -> tuple[list[Resource], list[SourceFailure]]:
    """Read every source at once; a failing source is recorded, never hides the others.

    With a ``deadline``, a source still reading when it passes is abandoned and recorded as
    timed out, so what follows (the report, its delivery) still happens in time.
    """
    resources: list[Resource] = []
    failures: list[SourceFailure] = []
    if not sources:
        return resources, failures
    deadline = deadline or Deadline.never()
    pool = ThreadPoolExecutor(min(MAX_SOURCE_THREADS, len(sources)), "offhours-source")
    try:
        futures = []
        for s in sources:
            s.deadline = deadline
            futures.append((s, pool.submit(_read, s, (costs or {}).get(s.name))))
        for source, future in futures:
            left = deadline.remaining()
            try:
                found = future.result(None if math.isinf(left) else left + _ABANDON_GRACE)
            except FutureTimeout:
                log.warning("source %r: still reading at the deadline; abandoned", source.name)
                failures.append(
                    SourceFailure(
                        source.name,
                        "timed out: still reading when the run's deadline came; abandoned so "
                        "the report could still be delivered",
                    )
                )
                continue
            except OffhoursError as exc:
                # A server's words (an ERROR-MESSAGE header) may echo the credentials sent:
                # what goes into the report, Slack and the Lambda error is scrubbed here.
                detail = scrub(getattr(exc, "detail", str(exc)))
                log.info("source %r failed: %s", source.name, detail)
                failures.append(SourceFailure(source.name, detail))
                continue
            except Exception as exc:
                log.error("source %r crashed", source.name, exc_info=True)
                failures.append(SourceFailure(source.name, f"unexpected {type(exc).__name__}"))
                continue
            resources.extend(found)
    finally:
        # Never wait for an abandoned source: its thread ends at its own timeouts.
        pool.shutdown(wait=False, cancel_futures=True)
    return resources, failures


def _deliver(
    notifiers: Sequence[Notifier], report: Report, deadline: Deadline | None = None
) -> list[NotifierOutcome]:
    outcomes = []
    for notifier in notifiers:
        notifier.deadline = deadline or Deadline.never()
        try:
            sent = notifier.send(report)
        except OffhoursError as exc:
            detail = scrub(getattr(exc, "detail", str(exc)))
            log.info("notifier %r failed: %s", notifier.name, detail)
            outcomes.append(NotifierOutcome(notifier.name, 0, detail))
        else:
            outcomes.append(NotifierOutcome(notifier.name, sent))
    return outcomes


def run_audit(
    config: Config,
    *,
    now: datetime,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    extra_notifiers: Sequence[Notifier] = (),
    skip_notifier_types: Iterable[str] = (),
    deadline: Deadline | None = None,
) -> AuditResult:
    """Run one audit at ``now``. Raises ConfigError/SecretError before any source is read;
    source and notifier failures are recorded on the result instead.

    With a ``deadline``, the sources get what is left of it less a reserve for delivery (what
    the notifiers need at worst, at most half), so a hung source still ends in a delivered
    report that names it; the notifiers then get the rest."""
    if now.tzinfo is None:
        raise ConfigError(f"now={now.isoformat()} has no time zone; give an offset, e.g. Z")
    policy = config.policy()
    secrets = resolve_secrets(config, environ, deadline)
    sources = build_sources(config, secrets)
    notifiers = [*build_notifiers(config, secrets, skip_notifier_types), *extra_notifiers]
    costs = {
        s.display_name(): s.cost_per_vm_hour for s in config.sources if isinstance(s, SourceConfig)
    }
    deadline = deadline or Deadline.never()
    # The configured notifiers' worst case (an added console notifier costs nothing).
    reserve = delivery_reserve(deadline.remaining(), _worst_cases("notifiers", config.notifiers))
    resources, failures = collect(sources, costs, deadline.earlier(reserve))
    decisions = evaluate(resources, policy, now)
    # Times in the report read in the schedule's zone, whatever offset `now` came with.
    local_now = now.astimezone(policy.hours.zone)
    report = build_report(
        decisions, failures, now=local_now, sources=tuple(s.name for s in sources)
    )
    if dry_run:
        printing = [n for n in notifiers if n.type == "console"]
        others = [n for n in notifiers if n.type != "console"]
        previews = tuple((n.name, n.preview(report)) for n in others)
        return AuditResult(report, tuple(_deliver(printing, report, deadline)), previews)
    return AuditResult(report, tuple(_deliver(notifiers, report, deadline)))


def _worst_cases(section: str, plugins: Sequence[PluginConfig]) -> list[float]:
    """Each configured plugin's worst-case seconds, from its class and its settings."""
    seconds = []
    for plugin in plugins:
        # A third-party class that does not derive from Source/Notifier may lack it.
        estimate = getattr(load_plugin(section, plugin.type), "worst_case_seconds", None)
        seconds.append(float(estimate(plugin.plugin_kwargs())) if estimate else 0.0)
    return seconds


def budget_of(config: Config, timeout: float | None = None) -> Budget:
    """The worst case of a run with this configuration against ``timeout`` (default: the
    ``[deploy] timeout`` of the Lambda function)."""
    return run_budget(
        _worst_cases("sources", config.sources),
        _worst_cases("notifiers", config.notifiers),
        timeout=config.deploy.timeout if timeout is None else timeout,
        concurrency=MAX_SOURCE_THREADS,
    )
