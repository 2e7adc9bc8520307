"""What every source implements: ``collect()`` → resources, or a :class:`SourceError`."""

from __future__ import annotations

from abc import abstractmethod

from offhours.model import Resource
from offhours.plugin import Plugin
from offhours.transport import Deadline

__all__ = ["Source"]


class Source(Plugin):
    """A system offhours reads resources from. Subclasses implement :meth:`collect`."""

    #: when :meth:`collect` must be over; the run sets it before calling collect(). A source
    #: that waits on the network caps its waits with it (a source that ignores it is still
    #: abandoned at the deadline, and reported as timed out).
    deadline: Deadline = Deadline.never()

    @abstractmethod
    def collect(self) -> list[Resource]:
        """Every resource of this source, running or not. Raises ``SourceError``.

        Each resource says what it is (``kind``, whose words the report uses), where
        (``account``, ``region``: with ``id``, its stable ``key``) and what it is grouped
        under. A cost estimate is computed here too, inside the source's failure boundary
        (:func:`offhours.model.hourly_cost`), from a price in the source's own config model
        (Ravello's ``cost_per_vm_hour``)."""

    def close(self) -> None:  # an optional hook: most sources hold nothing open
        """Release sessions and connections; called once after :meth:`collect`. Never raises."""
