"""The one small interface every state store implements (SQLite, DynamoDB).

A run uses it in this order (``audit.reconcile`` and ``audit.run_audit``)::

    claim(run_id)        this run's identity, once: a conditional write. Another attempt with
                         the same identity that is done, posting, or still live → skip, post nothing
    load(keys)           the incidents of the findings' periods, every open one, active snoozes,
                         and earlier runs that died between posting and recording (gaps)
    apply(changes, claim=…, posting=…)
                         each incident change only if its version is unchanged (another run
                         got there first otherwise: that run tells it); the run becomes
                         ``posting``, with the notifiers it is about to deliver to — the
                         receipt stored before the post
    … the notifiers post …
    complete(claim, receipts)
                         the receipts (message ids and timestamps where the channel gives them)
                         and the run ``done``

Crash behaviour — at most once per run identity, the gap reported by the next run: an attempt
that dies before ``apply`` posted nothing, and its retry takes the claim over once the lease
has passed; one that dies between ``apply`` and ``complete`` may or may not have posted, so
its retry posts nothing, and the next run (another identity) reports the gap in its message.

Every method raises :class:`StateError` (naming the store and the fix) when the store cannot be
used; the run then still delivers its findings, marked as not deduplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from offhours.errors import OffhoursError
from offhours.incidents import Change, Incident, Snooze
from offhours.model import Receipt
from offhours.transport import Deadline

__all__ = [
    "SCHEMA_VERSION",
    "Claim",
    "ClaimOutcome",
    "Loaded",
    "Run",
    "RunState",
    "StateError",
    "Store",
    "receipt_record",
]

#: the schema this offhours writes; a store holding a newer one is refused (never downgraded)
SCHEMA_VERSION = 1

RunState = Literal["claimed", "posting", "done", "released", "gap-reported"]
ClaimOutcome = Literal["claimed", "done", "posting", "busy"]


class StateError(OffhoursError):
    """The state store cannot be used: ``store`` names it (safe to show), ``fix`` says what to
    do. The run's findings are still delivered, marked as not deduplicated."""

    def __init__(self, store: str, problem: str, fix: str) -> None:
        super().__init__(f"state store {store}: {problem}; {fix}")
        self.store = store
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Run:
    """One run identity as the store keeps it.

    ``token`` tells this attempt from another with the same identity; ``lease_until`` is when a
    claimed attempt is presumed dead (its deadline). ``pending`` are the notifiers a posting run
    was about to deliver to; ``receipts`` what they did (:func:`receipt_record` each);
    ``told`` how many incidents it told (``new``, ``reminders``, ``resolved``)."""

    run_id: str
    state: RunState
    token: str
    started_at: datetime
    lease_until: datetime
    posting_at: datetime | None = None
    done_at: datetime | None = None
    pending: tuple[str, ...] = ()
    receipts: tuple[Mapping[str, Any], ...] = ()
    told: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """What ``claim`` found: ``claimed`` (this attempt holds the run: ``run.token`` is ours;
    ``taken_over`` when an earlier attempt's expired claim was taken over), ``done`` or
    ``posting`` (an earlier attempt delivered, or may have: post nothing), ``busy`` (another
    attempt holds a live claim: post nothing)."""

    outcome: ClaimOutcome
    run: Run
    taken_over: bool = False

    @property
    def ours(self) -> bool:
        return self.outcome == "claimed"


@dataclass(frozen=True)
class Loaded:
    """What a run needs from the store: incidents by incident key (every open one, and those of
    the keys asked for whatever their state), the snoozes active now, and the runs that died
    between posting and recording whose gap no run has reported yet."""

    incidents: Mapping[str, Incident]
    snoozes: tuple[Snooze, ...] = ()
    gaps: tuple[Run, ...] = ()


class Store(Protocol):
    """A state store. ``name`` is what messages call it (a path, a table and region: no
    secret). Times are aware; stores keep them in UTC."""

    name: str
    #: when its calls must be over (a network store cuts its timeouts to it); the run sets
    #: it, so that a hung store still leaves the delivery its time
    deadline: Deadline | None

    # -- a run
    def claim(self, run_id: str, *, now: datetime, lease_until: datetime) -> Claim: ...

    def release(self, claim: Claim, *, now: datetime) -> None:
        """Nothing was posted (the run failed before delivery): a retry may claim it again."""
        ...

    def load(self, keys: Iterable[str], *, now: datetime) -> Loaded: ...

    def apply(
        self,
        changes: Sequence[Change],
        *,
        now: datetime,
        claim: Claim | None = None,
        posting: Sequence[str] = (),
        gaps_reported: Sequence[str] = (),
    ) -> set[str]:
        """Write each change whose expected version still holds; the incident keys written.
        With a ``claim`` (ours), the run becomes ``posting`` to the notifiers named, and the
        runs in ``gaps_reported`` become ``gap-reported``."""
        ...

    def complete(
        self,
        claim: Claim,
        receipts: Sequence[Receipt],
        *,
        now: datetime,
        told: Mapping[str, int],
    ) -> None: ...

    # -- inspection and administration (offhours incidents, snooze, resolve, state, digest)
    def incidents(
        self, *, open_only: bool = False, since: datetime | None = None, limit: int | None = None
    ) -> list[Incident]:
        """Newest first: every open incident, and (unless ``open_only``) those resolved since
        ``since``."""
        ...

    def find(self, key: str) -> list[Incident]:
        """The incidents of an incident key, or of a resource key (newest first)."""
        ...

    def history(self, start: datetime, end: datetime) -> list[Incident]:
        """Incidents whose off-hours running overlaps ``[start, end)`` (the digest)."""
        ...

    def add_snooze(self, snooze: Snooze) -> None: ...

    def snoozes(self, *, now: datetime) -> list[Snooze]: ...

    def runs(self, *, since: datetime | None = None, limit: int | None = None) -> list[Run]: ...

    def check(self) -> list[str]:
        """What is wrong but usable (``[]``: nothing); raises StateError when unusable."""
        ...

    def migrate(self) -> tuple[int, int]:
        """Bring the schema up to :data:`SCHEMA_VERSION`: ``(from, to)``."""
        ...

    def export(self) -> dict[str, Any]:
        """Everything, as one JSON-able document (schema version, incidents, snoozes, runs)."""
        ...

    def close(self) -> None: ...


def receipt_record(receipt: Receipt) -> dict[str, Any]:
    """A receipt as a store keeps it: notifier, channel, safe destination, each message's
    index, id and timestamp (what a later update or thread reply needs), the scrubbed error."""
    return {
        "notifier": receipt.notifier,
        "channel": receipt.channel,
        "destination": receipt.destination,
        "messages": [
            {"index": m.index, "id": m.id, "timestamp": m.timestamp, "no_id": m.no_id}
            for m in receipt.messages
        ],
        "planned": receipt.planned,
        "error": receipt.error,
    }
