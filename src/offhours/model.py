"""The records that flow through one run: Resource → Decision/Finding → Report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

__all__ = ["VM", "Decision", "ExemptBy", "Resource", "SourceFailure"]

#: What keeps a running resource out of the findings: an exemption tag, an ``always`` (or
#: near-always) schedule, or a tag schedule open while the default hours are closed.
ExemptBy = Literal["exemption", "always", "schedule"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class VM:
    """One machine inside a resource (a Ravello application's VM)."""

    id: str
    name: str
    state: str


@dataclass(frozen=True)
class Resource:
    """A billable thing a source found, in provider-neutral terms.

    ``running`` counts the machines that bill now; a resource is *running* when it is > 0.
    Times are timezone-aware (UTC from sources). ``tag_problems`` are what the source found
    wrong while reading the tags (e.g. one tag written twice); they become the decision's problems.
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

    @property
    def is_running(self) -> bool:
        return self.running > 0


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SourceFailure:
    """A source that could not be read in this run; reported alongside the findings."""

    source: str
    message: str
