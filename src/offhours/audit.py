"""One run, as reusable steps. Orchestration only.

    collect    sources read concurrently; each failure recorded, never hides the others
    evaluate   pure policy: resources → decisions and findings, as one Report
    act        sources that are configured to act on their findings (stop them) do so
    reconcile  a pass-through for now: incident memory plugs in here
    deliver    every notifier, each returning a receipt (a dry run returns previews)

:func:`assess` is collect + evaluate (what ``offhours explain`` shows); :func:`run_audit` is
all five. The CLI, the Lambda handler and ``explain`` are doors into them; ``now`` is always
given by the caller.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

from offhours.budget import Budget, delivery_reserve, run_budget
from offhours.config import Config, PluginConfig
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.logs import scrub
from offhours.model import Action, Receipt, Resource, SourceFailure
from offhours.notifiers.base import Notifier
from offhours.policy import Policy
from offhours.policy import evaluate as decide_all
from offhours.registry import load_plugin
from offhours.report import Report, build_report
from offhours.secrets import Resolver, Secret
from offhours.sources.base import RestoreSelection, Source
from offhours.transport import Deadline

__all__ = [
    "AuditResult",
    "SecretKey",
    "Secrets",
    "act",
    "assess",
    "budget_of",
    "build_notifiers",
    "build_sources",
    "collect",
    "deliver",
    "evaluate",
    "reconcile",
    "resolve_secrets",
    "restore",
    "run_audit",
    "with_fallback",
]

log = logging.getLogger(__name__)

#: how many sources are read at once
MAX_SOURCE_THREADS = 8
#: how long past the collect deadline a source may take to report its own timeout (its words
#: are more precise) before it is abandoned and reported as timed out
_ABANDON_GRACE = 0.25

#: a resolved secret's place: the plugin's section ("sources"/"notifiers"), its name, the field
SecretKey = tuple[str, str, str]
Secrets = dict[SecretKey, Secret]
_NO_SETTINGS: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class AuditResult:
    """The report and what each notifier did with it (in a dry run: its preview)."""

    report: Report
    receipts: tuple[Receipt, ...]

    @property
    def previews(self) -> tuple[tuple[str, str], ...]:
        """``(notifier, what it would send)`` of a dry run, for notifiers that sent nothing."""
        return tuple((r.notifier, r.preview) for r in self.receipts if r.preview is not None)

    @property
    def failures(self) -> list[str]:
        """Every source or notifier that failed, as one line each."""
        lines = [f"source {f.source!r}: {f.message}" for f in self.report.failures]
        lines += [f"notifier {r.notifier!r}: {r.error}" for r in self.receipts if r.error]
        return lines

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        if not self.failures:
            return "success"
        delivered = any(r.sent for r in self.receipts)
        read = self.report.sources_read
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
    return {_secret_key(config, plugin, field): values[ref] for plugin, field, ref in refs}


def _section(config: Config, plugin: PluginConfig) -> str:
    return "sources" if any(plugin is s for s in config.sources) else "notifiers"


def _secret_key(config: Config, plugin: PluginConfig, field: str) -> SecretKey:
    # Plugin names are unique within a section (config validation): section, name and field
    # name one secret, whatever object holds the settings.
    return (_section(config, plugin), plugin.display_name(), field)


def _kwargs(
    section: str, plugin: PluginConfig, secrets: Secrets, settings: Mapping[str, object]
) -> dict[str, Any]:
    kwargs = plugin.plugin_kwargs()
    for field in list(kwargs):
        secret = secrets.get((section, plugin.display_name(), field))
        if secret is not None:
            kwargs[field] = secret
        elif field in settings:
            kwargs[field] = settings[field]
    return kwargs


def _build(
    section: str,
    plugins: Iterable[PluginConfig],
    secrets: Secrets,
    settings: Mapping[str, object] = _NO_SETTINGS,
) -> list[Any]:
    built = []
    problems = []
    for i, plugin in enumerate(plugins):
        cls = load_plugin(section, plugin.type)
        try:
            built.append(cls(plugin.display_name(), **_kwargs(section, plugin, secrets, settings)))
        except ConfigError as exc:
            problems.append(f"{section}[{i}] ({plugin.display_name()}): {exc}")
    if problems:
        raise ConfigError("\n".join(problems), tuple(problems))
    return built


def build_sources(config: Config, secrets: Secrets) -> list[Source]:
    return _build("sources", config.sources, secrets)


def build_notifiers(
    config: Config, secrets: Secrets, settings: Mapping[str, object] = _NO_SETTINGS
) -> list[Notifier]:
    """The configured notifiers; ``settings`` (a door's, such as the CLI's ``--format``)
    replace the configured value of each notifier setting of the same name."""
    return _build("notifiers", config.notifiers, secrets, settings)


def with_fallback(notifiers: Sequence[Notifier], fallback: Sequence[Notifier]) -> list[Notifier]:
    """``notifiers`` and each ``fallback`` channel whose destination none of them delivers to
    (a door's own terminal is used only when no configured notifier already prints there)."""
    taken = {n.destination for n in notifiers}
    return [*notifiers, *(n for n in fallback if n.destination not in taken)]


def _read(source: Source) -> list[Resource]:
    """One source's read, inside its failure boundary (its cost estimates too: a hostile count
    fails this source, not the run)."""
    log.info("reading source %r", source.name)
    try:
        resources = source.collect()
    finally:
        source.close()
    log.info("source %r: %d resources", source.name, len(resources))
    return resources


def collect(
    sources: Sequence[Source], deadline: Deadline | None = None
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
            futures.append((s, pool.submit(_read, s)))
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
            # Parts of a source that failed while the rest was read (an account, a region).
            failures.extend(getattr(source, "failures", ()))
    finally:
        # Never wait for an abandoned source: its thread ends at its own timeouts.
        pool.shutdown(wait=False, cancel_futures=True)
    return resources, failures


def evaluate(
    resources: Iterable[Resource],
    failures: Iterable[SourceFailure],
    policy: Policy,
    now: datetime,
    sources: Sequence[str] = (),
) -> Report:
    """Pure policy: every resource decided at ``now``, the flagged ones as findings, in one
    report whose times read in the schedule's zone (whatever offset ``now`` came with)."""
    decisions = decide_all(resources, policy, now)
    return build_report(
        decisions, failures, now=now.astimezone(policy.hours.zone), sources=tuple(sources)
    )


def act(
    sources: Sequence[Source],
    report: Report,
    *,
    dry_run: bool,
    now: datetime,
    hours_open: bool = False,
) -> Report:
    """Each source acts on its own findings (flagged only: nothing exempt is ever touched);
    the report gains what was done, refused or would be done (``dry_run``). A source whose
    action crashes is recorded as a failure, never hides the others' actions."""

    def acting(source: Source) -> list[Action]:
        mine = [f for f in report.findings if f.resource.source == source.name]
        return source.act(mine, dry_run=dry_run, now=now, hours_open=hours_open)

    actions, failures = _each_source(sources, acting, "acting", "acting on findings: ", "acting: ")
    if not actions and not failures:
        return report
    return replace(
        report,
        actions=(*report.actions, *actions),
        failures=(*report.failures, *failures),
    )


def restore(
    sources: Sequence[Source], selection: RestoreSelection, *, dry_run: bool, now: datetime
) -> tuple[list[Action], list[SourceFailure]]:
    """Each source puts back what it stopped, as ``selection`` says (``offhours restore``);
    a source that fails is recorded, never hides the others' actions. A ``ConfigError`` (a
    key no source could hold) is the caller's to report."""
    return _each_source(
        sources,
        lambda s: s.restore(selection, dry_run=dry_run, now=now),
        "restoring",
        raising=(ConfigError,),
    )


def _each_source(
    sources: Sequence[Source],
    call: Callable[[Source], list[Action]],
    doing: str,
    failed: str = "",
    crashed: str = "",
    raising: tuple[type[Exception], ...] = (),
) -> tuple[list[Action], list[SourceFailure]]:
    """``call`` on every source inside its failure boundary (its words scrubbed), closing it
    after; ``failed``/``crashed`` lead the failure recorded."""
    actions: list[Action] = []
    failures: list[SourceFailure] = []
    for source in sources:
        try:
            actions.extend(call(source))
        except raising:
            raise
        except OffhoursError as exc:
            detail = scrub(getattr(exc, "detail", str(exc)))
            failures.append(SourceFailure(source.name, f"{failed}{detail}"))
        except Exception as exc:
            log.error("source %r crashed while %s", source.name, doing, exc_info=True)
            failures.append(SourceFailure(source.name, f"{crashed}unexpected {type(exc).__name__}"))
        finally:
            source.close()
    return actions, failures


def reconcile(report: Report, now: datetime) -> Report:
    """What is worth saying at ``now``, given what earlier runs said: a pass-through for now.

    Incident memory plugs in here (findings × prior state × now → new / reminder / resolved /
    snoozed), between evaluate and deliver; ``now`` is the run's instant, as evaluate's."""
    return report


def deliver(
    notifiers: Sequence[Notifier],
    report: Report,
    *,
    dry_run: bool = False,
    deadline: Deadline | None = None,
) -> tuple[Receipt, ...]:
    """The report to every notifier, one after another; a receipt each, never an exception
    for a failed delivery. In a dry run each notifier returns its preview receipt instead."""
    receipts = []
    for notifier in notifiers:
        notifier.deadline = deadline or Deadline.never()
        receipts.append(notifier.deliver(report, dry_run=dry_run))
    return tuple(receipts)


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ConfigError(f"now={now.isoformat()} has no time zone; give an offset, e.g. Z")
    return now


def _collect_and_evaluate(
    sources: Sequence[Source], policy: Policy, now: datetime, deadline: Deadline
) -> Report:
    resources, failures = collect(sources, deadline)
    report = evaluate(resources, failures, policy, now, tuple(s.name for s in sources))
    notes = tuple(n for s in sources for n in getattr(s, "notes", ()))
    return replace(report, notes=notes) if notes else report


def assess(
    config: Config,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> Report:
    """collect + evaluate: the report of ``config``'s sources at ``now``, delivered nowhere
    (``offhours explain``). Raises ConfigError/SecretError before any source is read."""
    _aware(now)
    policy = config.policy()
    secrets = resolve_secrets(config, environ, deadline)
    sources = build_sources(config, secrets)
    return _collect_and_evaluate(sources, policy, now, deadline or Deadline.never())


def run_audit(
    config: Config,
    *,
    now: datetime,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
    settings: Mapping[str, object] = _NO_SETTINGS,
    fallback: Sequence[Notifier] = (),
) -> AuditResult:
    """Run one audit at ``now``: collect → evaluate → act → reconcile → deliver. Raises
    ConfigError/SecretError before any source is read; source and notifier failures are
    recorded on the result instead. ``dry_run`` sends nothing: every notifier previews.

    A door may bring its own channels and settings, with no notifier singled out by type:
    ``fallback`` channels are delivered to where no configured notifier delivers already
    (:func:`with_fallback`), and ``settings`` replace the notifiers' configured settings of
    the same name (:func:`build_notifiers`).

    With a ``deadline``, the sources get what is left of it less a reserve for delivery (what
    the notifiers need at worst, at most half), so a hung source still ends in a delivered
    report that names it; the notifiers then get the rest."""
    _aware(now)
    policy = config.policy()
    secrets = resolve_secrets(config, environ, deadline)
    sources = build_sources(config, secrets)
    notifiers = with_fallback(build_notifiers(config, secrets, settings), fallback)
    deadline = deadline or Deadline.never()
    reserve = delivery_reserve(deadline.remaining(), _worst_cases("notifiers", config.notifiers))
    report = _collect_and_evaluate(sources, policy, now, deadline.earlier(reserve))
    report = act(sources, report, dry_run=dry_run, now=now, hours_open=policy.hours.is_open(now))
    report = reconcile(report, now)
    return AuditResult(report, deliver(notifiers, report, dry_run=dry_run, deadline=deadline))


def _worst_cases(section: str, plugins: Sequence[PluginConfig]) -> list[float]:
    """Each configured plugin's worst-case seconds, from its class and its settings."""
    seconds = []
    for plugin in plugins:
        estimate = load_plugin(section, plugin.type).worst_case_seconds
        seconds.append(float(estimate(plugin.plugin_kwargs())))
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
