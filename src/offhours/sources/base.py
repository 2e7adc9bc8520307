"""What every source implements: ``collect()`` → resources, or a :class:`SourceError`.

A source may also report what it could not read while still returning the rest (one account
or region of many), add notes to the report (the date of its price table), and act on its
findings (stop them) and undo that (restore): optional hooks with do-nothing defaults.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import datetime

from offhours.model import Action, Finding, Resource, SourceFailure
from offhours.plugin import Plugin
from offhours.transport import Deadline

__all__ = ["RestoreSelection", "Source"]


class RestoreSelection:
    """Which resources ``offhours restore`` puts back: one by key, one group, or all that
    offhours scaled down or stopped (``everything``)."""

    def __init__(
        self, *, key: str | None = None, group: str | None = None, everything: bool = False
    ) -> None:
        if sum((key is not None, group is not None, everything)) != 1:
            raise ValueError("choose exactly one of a key, a group or everything")
        self.key = key
        self.group = group
        self.everything = everything

    def __repr__(self) -> str:
        what = (
            f"key={self.key!r}"
            if self.key is not None
            else f"group={self.group!r}"
            if self.group is not None
            else "everything"
        )
        return f"RestoreSelection({what})"


class Source(Plugin):
    """A system offhours reads resources from. Subclasses implement :meth:`collect`."""

    #: when :meth:`collect` must be over; the run sets it before calling collect(). A source
    #: that waits on the network caps its waits with it (a source that ignores it is still
    #: abandoned at the deadline, and reported as timed out).
    deadline: Deadline = Deadline.never()

    def __init__(self, name: str) -> None:
        super().__init__(name)
        #: parts that could not be read while the rest was (one account or region of many):
        #: each is reported, and fails the run's exit code, like a failed source
        self.failures: list[SourceFailure] = []
        #: lines the report states once (the price table's date, regions skipped and why)
        self.notes: list[str] = []

    @abstractmethod
    def collect(self) -> list[Resource]:
        """Every resource of this source, running or not. Raises ``SourceError``.

        Each resource says what it is (``kind``, whose words the report uses), where
        (``account``, ``region``: with ``id``, its stable ``key``) and what it is grouped
        under. A cost estimate is computed here too, inside the source's failure boundary
        (:func:`offhours.model.hourly_cost`), from a price in the source's own config model
        (Ravello's ``cost_per_vm_hour``). A part that fails while others are read goes to
        :attr:`failures` instead of raising."""

    def act(
        self,
        findings: Sequence[Finding],
        *,
        dry_run: bool,
        now: datetime,
        hours_open: bool = False,
    ) -> list[Action]:
        """Act on this source's findings (flagged, so never exempt), if configured to: one
        :class:`Action` per resource touched, refused or failed. ``hours_open`` says the
        default business hours are open at ``now`` (when a source may put back what it
        stopped, if configured to). Most sources only report."""
        return []

    def restore(self, selection: RestoreSelection, *, dry_run: bool, now: datetime) -> list[Action]:
        """Undo what :meth:`act` did to the selected resources. Most sources never act."""
        return []

    def close(self) -> None:  # an optional hook: most sources hold nothing open
        """Release sessions and connections; called once after :meth:`collect`. Never raises."""
