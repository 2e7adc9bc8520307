"""One run, as reusable steps. Orchestration only.

    collect    sources read concurrently; each failure recorded, never hides the others
    evaluate   pure policy: resources → decisions and findings, as one Report
    act        sources that are configured to act on their findings (stop them) do so
    reconcile  incident memory: what is new, due a reminder or resolved (see :class:`Memory`)
    deliver    every notifier, each returning a receipt (a dry run returns previews)

With memory, a run first claims its identity (a run identity delivered already, or being
delivered by another attempt, reads nothing and posts nothing), and records what it told and
the receipts around the post: the protocol and its crash behaviour are in
:mod:`offhours.state.base`. A store that fails never loses the run's findings: they are all
told, marked as not deduplicated (``AuditResult.memory_problem``).

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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from offhours.budget import Budget, delivery_reserve, run_budget
from offhours.config import Config, PluginConfig
from offhours.digest import Digest
from offhours.errors import ConfigError, OffhoursError, SecretError
from offhours.incidents import Incident, MemorySettings, Plan, Recall, incident_key, untell
from offhours.incidents import plan as plan_incidents
from offhours.logs import scrub
from offhours.model import Action, Receipt, Resource, SourceFailure
from offhours.notifiers.base import Notifier
from offhours.policy import Policy
from offhours.policy import evaluate as decide_all
from offhours.registry import load_plugin
from offhours.report import Report, action_text, build_report
from offhours.secrets import Resolver, Secret
from offhours.sources.base import RestoreSelection, Source
from offhours.state.base import Claim, StateError, Store
from offhours.transport import Deadline

__all__ = [
    "AuditResult",
    "Memory",
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
    "run_id",
    "run_time",
    "send_digest",
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
    #: the store failed after delivery (the receipts were not recorded)
    record_problem: str | None = None

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
    def memory_problem(self) -> str | None:
        """Why this run's findings were told without deduplication (the store failed)."""
        memory = self.report.memory
        return memory.problem if memory is not None and memory.problem else self.record_problem

    @property
    def skipped(self) -> str | None:
        """Why nothing was read or sent: this run's identity was delivered, or is being."""
        memory = self.report.memory
        return memory.skipped if memory is not None else None

    @property
    def status(self) -> Literal["success", "partial", "error"]:
        """``success``: everything read and delivered; ``error``: no source could be read
        (whatever was delivered says only that); ``partial``: the rest."""
        if not self.failures:
            return "success"
        return "error" if self.report.status == "error" else "partial"


#: how long a claim holds when the run has no deadline (the CLI without --deadline): a run
#: that dies is taken over by a retry after this long
DEFAULT_LEASE = timedelta(minutes=15)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Memory:
    """Incident memory for one run: the ``store``, the run's identity (:func:`run_id`), when to
    speak again (``settings``), and ``wall``, the real clock: leases are real time, whereas the
    run's ``now`` is the instant evaluated (a retry evaluates the same scheduled instant)."""

    store: Store
    run_id: str
    settings: MemorySettings = field(default_factory=MemorySettings)
    wall: Callable[[], datetime] = _utcnow


def run_id(deployment: str, scheduled: datetime) -> str:
    """``<deployment>@<scheduled time, UTC, to the second>``: one identity per scheduled run."""
    at = scheduled.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return f"{deployment}@{at}"


#: how long after a schedule slot a command-line run still stands for that slot (a late or
#: retried firing of it): cron fires within seconds, systemd timers with a randomized delay and
#: CI schedulers within minutes, while a run 20 minutes on is a person re-running (after fixing
#: a password, say) or another job, and must not be skipped as "delivered already". Shorter
#: than any hourly spacing, so the next slot is always another run. (Lambda's retries carry
#: the scheduler's own time: this does not apply to them.)
SLOT_TOLERANCE = timedelta(minutes=15)


def run_time(
    at: datetime, slot: datetime | None, tolerance: timedelta = SLOT_TOLERANCE
) -> datetime:
    """The scheduled time a command-line run at ``at`` stands for: the schedule's last ``slot``
    at or before ``at`` when ``at`` is at most ``tolerance`` after it, else ``at``'s own minute
    (a manual run, a schedule that did not fire lately)."""
    if slot is not None and timedelta(0) <= at - slot <= tolerance:
        return slot
    return at.replace(second=0, microsecond=0)


def resolve_secrets(
    config: Config,
    environ: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
    section: Literal["sources", "notifiers"] | None = None,
) -> Secrets:
    """Resolve every secret reference (of one ``section`` only, when given: the digest needs
    no source's); all failures are reported together (SecretError)."""
    for where in config.plaintext_secrets():
        log.warning(
            "%s: %s holds a plaintext secret (allowed by allow_plaintext_secrets); "
            "use a kms:, ssm:, secretsmanager:, env: or file: reference outside experiments",
            config.label,
            where,
        )
    refs = config.secret_refs()
    if section is not None:
        refs = [r for r in refs if _section(config, r[0]) == section]
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
    for name in list(kwargs):
        secret = secrets.get((section, plugin.display_name(), name))
        if secret is not None:
            kwargs[name] = secret
        elif name in settings:
            kwargs[name] = settings[name]
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


@dataclass
class _Told:
    """What reconcile did in the store for this run, for the steps after delivery."""

    claim: Claim | None = None
    #: the store failed at the claim: the run goes on without memory, and says so
    failed: Recall | None = None
    done: Plan | None = None
    prior: Mapping[str, Incident] = field(default_factory=dict)


def reconcile(
    report: Report,
    now: datetime,
    memory: Memory | None = None,
    *,
    dry_run: bool = False,
    claim: Claim | None = None,
    posting: Sequence[str] = (),
    told: _Told | None = None,
) -> Report:
    """What is worth saying at ``now``, given what earlier runs said (incident memory): the
    report gains a :class:`~offhours.incidents.Recall` and tells only what is new, due a
    reminder, or resolved. Without ``memory`` the report is told whole.

    With a ``claim`` (this run's, from :meth:`Store.claim`), the incidents are written before
    delivery, each only if no other run changed it since it was read, and the run becomes
    ``posting`` to the notifiers named (``posting``). A dry run reads the store and writes
    nothing. A store that fails gives a report that tells every finding, marked as not
    deduplicated (``Recall.problem``)."""
    if memory is None:
        return report
    store = memory.store
    try:
        keys = [incident_key(f.resource.key, f.decision.off_hours_since) for f in report.flagged]
        loaded = store.load(keys, now=now)
        texts = {
            k: action_text(a, report)
            for k, a in report.actions_by_key.items()
            if a.outcome == "done"
        }
        planned = plan_incidents(
            report.flagged,
            report.decisions,
            loaded.incidents,
            loaded.snoozes,
            now=now,
            run_id=memory.run_id,
            settings=memory.settings,
            failed_sources=_failed_sources(report),
            # a report built without its sources' names (a test's) judges every incident
            sources=report.sources or None,
            actions=report.actions_by_key,
            action_text=texts,
        )
        gaps = tuple(loaded.gaps)
        if not dry_run:
            accepted = store.apply(
                planned.changes,
                now=now,
                claim=claim,
                posting=posting,
                gaps_reported=[g.run_id for g in gaps],
            )
            planned = planned.keeping(accepted)
            if told is not None:
                told.done = planned
                told.prior = {k: loaded.incidents[k] for k in accepted if k in loaded.incidents}
    except StateError as exc:
        log.error("%s", exc)
        return replace(report, memory=Recall(store.name, memory.run_id, problem=str(exc)))
    status: dict[str, Literal["new", "reminder"]] = {i.resource_key: "new" for i in planned.new}
    status.update({i.resource_key: "reminder" for i in planned.reminders})
    recall = Recall(
        store.name,
        memory.run_id,
        status=status,
        told={i.resource_key: i for i in (*planned.new, *planned.reminders)},
        resolved=planned.resolved,
        quiet=planned.quiet,
        snoozed=planned.snoozed,
        gaps=tuple(_gap_line(g.run_id, g.posting_at) for g in gaps),
    )
    return replace(report, memory=recall)


def _failed_sources(report: Report) -> set[str]:
    """The sources with any failure this run, whole or in part ("aws 1111/eu-west-1" is a part
    of source "aws"): their incidents are left open, as not seeing is not knowing it stopped."""
    failed = set()
    for failure in report.failures:
        failed.add(failure.source)
        failed.update(s for s in report.sources if failure.source.startswith(s + " "))
    return failed


def _gap_line(run: str, posting_at: datetime | None) -> str:
    when = f" (posting began {posting_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC)" if posting_at else ""
    return f"{run}{when}"


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
    memory: Memory | None = None,
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
    report that names it; the notifiers then get the rest.

    With ``memory``, the run claims its identity first (nothing is read or sent when it was
    delivered already or is being), tells only what memory says is worth telling, and records
    the receipts (see :mod:`offhours.state.base` for the crash behaviour)."""
    _aware(now)
    policy = config.policy()
    secrets = resolve_secrets(config, environ, deadline)
    sources = build_sources(config, secrets)
    notifiers = with_fallback(build_notifiers(config, secrets, settings), fallback)
    deadline = deadline or Deadline.never()
    reserve = delivery_reserve(deadline.remaining(), _worst_cases("notifiers", config.notifiers))
    told = _Told()
    if memory is not None:
        # Whatever the store does before delivery ends in time for the delivery.
        memory.store.deadline = deadline.earlier(reserve)
    if memory is not None and not dry_run:
        skipped = _claim(memory, deadline, told)
        if skipped is not None:
            return AuditResult(skipped, ())
        if told.failed is not None:
            memory = None
    try:
        report = _collect_and_evaluate(sources, policy, now, deadline.earlier(reserve))
        report = act(
            sources, report, dry_run=dry_run, now=now, hours_open=policy.hours.is_open(now)
        )
        report = reconcile(
            report,
            now,
            memory,
            dry_run=dry_run,
            claim=told.claim,
            posting=[n.name for n in notifiers],
            told=told,
        )
        if told.failed is not None:
            report = replace(report, memory=told.failed)
    except BaseException:
        # Nothing was posted: a retry may run this identity again.
        _release(memory, told)
        raise
    receipts = deliver(notifiers, report, dry_run=dry_run, deadline=deadline)
    if memory is not None:
        memory.store.deadline = deadline
    return AuditResult(report, receipts, _record(memory, told, receipts, now))


def _claim(memory: Memory, deadline: Deadline, told: _Told) -> Report | None:
    """Claim this run's identity: ``None`` when this attempt holds it (``told.claim``), else
    the empty report saying why nothing is read or sent. A store that fails leaves the run to
    go on without deduplication (reconcile reports it)."""
    wall = memory.wall()
    left = deadline.remaining()
    lease = DEFAULT_LEASE if math.isinf(left) else timedelta(seconds=left)
    try:
        claim = memory.store.claim(memory.run_id, now=wall, lease_until=wall + lease)
    except StateError as exc:
        log.error("%s", exc)
        told.failed = Recall(memory.store.name, memory.run_id, problem=str(exc))
        return None
    if claim.ours:
        told.claim = claim
        if claim.taken_over:
            log.warning("run %s: an earlier attempt died before posting; taken over", memory.run_id)
        return None
    run = claim.run
    if claim.outcome == "done":
        when = run.done_at or run.posting_at
        why = f"this run ({memory.run_id}) was delivered already" + (
            f" at {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if when else ""
        )
    elif claim.outcome == "posting":
        why = (
            f"run {memory.run_id} began posting in an earlier attempt that did not finish: "
            "posting again could repeat its message (the next run reports the gap)"
        )
    else:
        why = (
            f"run {memory.run_id} is being delivered by another attempt (started "
            f"{run.started_at.astimezone(UTC):%H:%M:%S} UTC)"
        )
    log.info("nothing to do: %s", why)
    recall = Recall(memory.store.name, memory.run_id, skipped=why)
    return Report(generated_at=wall, decisions=(), memory=recall)


def _release(memory: Memory | None, told: _Told) -> None:
    if memory is None or told.claim is None or told.done is not None:
        return
    try:
        memory.store.release(told.claim, now=memory.wall())
    except StateError as exc:
        log.error("%s", exc)


def _record(
    memory: Memory | None, told: _Told, receipts: tuple[Receipt, ...], now: datetime
) -> str | None:
    """After delivery: the receipts stored and the run done; when no message at all went out
    although there was something to tell, the telling undone so that the next run tells it.
    The store's error, if it fails here."""
    if memory is None or told.claim is None or told.done is None:
        return None
    done = told.done
    store = memory.store
    try:
        if done.told and any(r.error for r in receipts) and not any(r.sent for r in receipts):
            store.apply(untell(done, told.prior), now=now)
        counts = {
            "new": len(done.new),
            "reminders": len(done.reminders),
            "resolved": len(done.resolved),
        }
        store.complete(told.claim, receipts, now=memory.wall(), told=counts)
    except StateError as exc:
        # Delivered, but not recorded: the next run will report this run as a gap.
        log.error("%s", exc)
        return str(exc)
    return None


def send_digest(
    config: Config,
    digest: Digest,
    *,
    dry_run: bool = False,
    png: bytes | None = None,
    environ: Mapping[str, str] | None = None,
    deadline: Deadline | None = None,
) -> tuple[Receipt, ...]:
    """The weekly digest to every configured notifier (only their secrets are resolved); a
    receipt each, a failure recorded on its receipt, never raised."""
    notifiers = build_notifiers(config, resolve_secrets(config, environ, deadline, "notifiers"))
    receipts = []
    for notifier in notifiers:
        notifier.deadline = deadline or Deadline.never()
        try:
            receipts.append(notifier.digest(digest, dry_run=dry_run, png=png))
        except OffhoursError as exc:  # a third party's digest may raise
            receipts.append(notifier.receipt(error=scrub(str(exc)), dry_run=dry_run))
    return tuple(receipts)


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
