"""The records that flow through one run: Resource → Decision → Finding → Report → Receipt.

A resource's :attr:`Resource.key` names it the same way from run to run (provider, account,
region, kind, id), so a state store can keep it as-is; its :class:`Kind` carries the words the
report uses for it ("lab"/"VM" for a Ravello application), so no renderer hard-wires them.

The records made once per resource (VM, Resource, Decision, Finding) use slots: a large run
holds tens of thousands of each, and a slotted instance has no per-instance dict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal
from urllib.parse import quote

from offhours.errors import OffhoursError

__all__ = [
    "GENERIC",
    "KEY_SEPARATOR",
    "NO_ID_WEBHOOK",
    "VM",
    "Action",
    "ActionOutcome",
    "Decision",
    "ExemptBy",
    "Finding",
    "Kind",
    "MessageReceipt",
    "Receipt",
    "Resource",
    "SourceFailure",
    "hourly_cost",
    "resource_key",
]

#: What keeps a running resource out of the findings: an exemption tag, an ``always`` (or
#: near-always) schedule, or a tag schedule open while the default hours are closed.
ExemptBy = Literal["exemption", "always", "schedule"]

_EMPTY: Mapping[str, str] = MappingProxyType({})

#: joins the parts of a key; a part holding it (or ``%``) is percent-encoded first
KEY_SEPARATOR = "/"


@dataclass(frozen=True)
class Kind:
    """What sort of thing a resource is, and the words the report uses for it.

    ``name`` is dotted, provider first (``ravello.application``, ``aws.ec2.instance``); a
    resource is one ``noun`` ("lab") made of ``unit``s that bill ("VM"). Plurals default to
    an added "s".
    """

    name: str
    noun: str = "resource"
    unit: str = "machine"
    nouns: str = ""
    units: str = ""

    def count(self, n: int) -> str:
        """``1 lab`` / ``3 labs``."""
        return f"{n} {self.noun if n == 1 else self.nouns or self.noun + 's'}"

    def count_units(self, n: int, adjective: str = "") -> str:
        """``1 VM`` / ``7 running VMs``."""
        word = self.unit if n == 1 else self.units or self.unit + "s"
        return f"{n} {adjective + ' ' if adjective else ''}{word}"


#: the kind of a resource whose source says nothing more precise
GENERIC = Kind("resource")


def resource_key(provider: str, account: str, region: str | None, kind: str, id: str) -> str:
    """``provider/account/region/kind/id``, each part percent-encoded (RFC 3986, nothing kept
    but unreserved characters): a part holding ``/`` or ``%`` cannot be read as two parts, so
    distinct resources never share a key. No region and an empty region are the same place."""
    parts = (provider, account, region or "", kind, id)
    # surrogatepass: a lone surrogate (hostile data) still encodes, to bytes of its own.
    return KEY_SEPARATOR.join(quote(p, safe="", errors="surrogatepass") for p in parts)


def hourly_cost(resource_name: str, units: int, per_unit_hour: float) -> float:
    """``units × per_unit_hour``; raises ``OffhoursError`` when a hostile count makes it
    overflow: called inside a source's ``collect()``, that fails the source, not the run."""
    value = units * per_unit_hour
    if not math.isfinite(value):
        raise OffhoursError(
            f"the cost of {resource_name!r} ({units} × {per_unit_hour:g} per hour) overflows"
        )
    return value


@dataclass(frozen=True, slots=True)
class VM:
    """One machine inside a resource (a Ravello application's VM)."""

    id: str
    name: str
    state: str


@dataclass(frozen=True, slots=True)
class Resource:
    """A billable thing a source found, in provider-neutral terms.

    ``running`` counts the machines that bill now; a resource is *running* when it is > 0.
    Times are timezone-aware (UTC from sources). ``tag_problems`` are what the source found
    wrong while reading the tags (e.g. one tag written twice); they become the decision's problems.
    ``account`` is the provider's tenant (an AWS account id; what a source uses when its API
    names none is said in its docstring). ``group`` is what the report groups findings by (a
    lab, a project tag); ``None`` groups the resource on its own name. ``hourly_cost`` is the
    source's estimate, computed inside its own failure boundary.
    """

    provider: str
    source: str
    id: str
    name: str
    running: int
    stopped: int = 0
    errored: int = 0
    owner: str | None = None
    region: str | None = None
    running_since: datetime | None = None
    expires_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    vms: tuple[VM, ...] = ()
    hourly_cost: float | None = None
    tag_problems: tuple[str, ...] = ()
    kind: Kind = GENERIC
    account: str = ""
    group: str | None = None
    size: str | None = None
    price_note: str | None = None
    since_at_least: bool = False

    @property
    def is_running(self) -> bool:
        return self.running > 0

    @property
    def key(self) -> str:
        """Unique and the same from run to run: see :func:`resource_key`."""
        return resource_key(self.provider, self.account, self.region, self.kind.name, self.id)


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a resource is or is not flagged at one instant (the unit of ``offhours explain``).

    ``problems`` carries malformed tags and the like: reported on the finding, never dropped.
    ``exempt_by`` says what kept a *running* resource out of the findings (an exemption, an
    ``always`` schedule, or the resource's own hours open while the default's are closed), so
    the report can still list it.
    """

    resource: Resource
    flagged: bool
    reason: str
    schedule: str
    exempt_until: datetime | None = None
    off_hours_since: datetime | None = None
    problems: tuple[str, ...] = ()
    exempt_by: ExemptBy | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A resource flagged at one instant, with the decision that flagged it.

    ``group`` is what the report groups it under: the resource's own group, or its name.
    """

    decision: Decision
    at: datetime
    group: str
    #: when the resource was first seen running in this off-hours period, where something
    #: remembers it (incident memory); ``None``: first seen now (``at``)
    first_seen: datetime | None = None

    @classmethod
    def of(cls, decision: Decision, at: datetime) -> Finding:
        r = decision.resource
        return cls(decision, at, r.group if r.group is not None else r.name)

    @property
    def resource(self) -> Resource:
        return self.decision.resource


#: what became of an action on one resource: done; would be done (a dry run); refused before
#: any call, with the reason; failed, with the provider's own message
ActionOutcome = Literal["done", "would", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a source did (or would do, or would not do) to one resource.

    ``verb`` is what, in the report's words ("stop", "hibernate", "scale to 0", "pause",
    "restore"); ``detail`` what a reader needs: the reason of a refusal, the provider's message
    of a failure, a caveat ("AWS starts a stopped database again after 7 days"); ``call`` the
    exact call made, or that a dry run would make, and what was saved to undo it (all of it
    data, rendered inert)."""

    source: str
    key: str
    name: str
    verb: str
    outcome: ActionOutcome
    detail: str = ""
    at: datetime | None = None
    call: str = ""


@dataclass(frozen=True)
class SourceFailure:
    """A source that could not be read in this run; reported alongside the findings."""

    source: str
    message: str


#: why a Slack incoming webhook's receipt has no message id: it answers ``ok`` and nothing else
NO_ID_WEBHOOK = "incoming webhooks answer 'ok' only: no message id or timestamp to keep"


@dataclass(frozen=True)
class MessageReceipt:
    """One message a notifier delivered: its place in the run (1-based ``index``) and, where the
    channel's API gives them, its ``id`` and ``timestamp`` (what a later update or thread reply
    needs). When the API gives none, ``id`` is ``None`` and ``no_id`` says why."""

    index: int
    id: str | None = None
    timestamp: str | None = None
    no_id: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What one notifier did with one report: which messages went where, or why not.

    ``channel`` is the notifier's type (``slack``), ``notifier`` its configured name and
    ``destination`` where it delivers, as safe to show (a redacted URL, ``stdout``). A failed
    delivery keeps the messages that did go out and a scrubbed ``error``. In a dry run nothing
    is sent (``dry_run``), and ``preview`` holds what would have been, unless the notifier's
    delivery is harmless and happened as usual (the console). ``planned`` counts the messages
    the report needed, once a delivery completes (0: nothing worth sending, e.g. an all-clear
    nobody asked for; a failed delivery counts what went out in ``messages``).
    """

    notifier: str
    channel: str
    destination: str
    messages: tuple[MessageReceipt, ...] = ()
    planned: int = 0
    error: str | None = None
    dry_run: bool = False
    preview: str | None = None

    @property
    def sent(self) -> int:
        """How many messages went out."""
        return len(self.messages)

    @property
    def ok(self) -> bool:
        return self.error is None
