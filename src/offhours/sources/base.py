"""What every source implements: ``collect()`` → resources, or a :class:`SourceError`."""

from __future__ import annotations

from abc import abstractmethod

from offhours.model import Resource
from offhours.plugin import Plugin

__all__ = ["Source"]


class Source(Plugin):
    """A system offhours reads resources from. Subclasses implement :meth:`collect`."""

    @abstractmethod
    def collect(self) -> list[Resource]:
        """Every resource of this source, running or not. Raises ``SourceError``."""

    def close(self) -> None:  # an optional hook: most sources hold nothing open
        """Release sessions and connections; called once after :meth:`collect`. Never raises."""
