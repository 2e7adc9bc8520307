"""An offhours source in one module: machines listed in offhours.toml itself.

Installed beside offhours, it is used as::

    [[sources]]
    type = "example"
    name = "workshop"
    cost_per_hour = 0.12
    machines = [
      { id = "m-1", name = "build-box", owner = "Ada", running_since = 2026-11-30T08:00:00Z },
      { id = "m-2", name = "spare", running = false },
    ]

A real source reads its API in ``collect()``; the rest keeps this shape: a config model (the only
validation the settings get, with the same precise error paths as offhours' own tables), a class
carrying it, and the entry point in pyproject.toml.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from offhours.model import Kind, Resource, hourly_cost
from offhours.plugin import SourceConfig
from offhours.sources.base import Source

__all__ = ["ExampleSource", "ExampleSourceConfig", "Machine"]

#: what the report calls one of these resources
MACHINE = Kind("example.machine", noun="machine", unit="machine")


class Machine(BaseModel):
    """One machine of the inventory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    owner: str | None = None
    running: bool = True
    running_since: AwareDatetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class ExampleSourceConfig(SourceConfig):
    """Machines listed in the configuration itself."""

    type: Literal["example"]
    machines: list[Machine] = Field(min_length=1)
    cost_per_hour: float | None = Field(None, ge=0, allow_inf_nan=False)


class ExampleSource(Source):
    """Reports the configured machines; its constructor takes the model's fields, trusted."""

    type = "example"
    config_model = ExampleSourceConfig

    def __init__(
        self, name: str, *, machines: list[Machine], cost_per_hour: float | None = None
    ) -> None:
        super().__init__(name)
        self.machines = machines
        self.cost_per_hour = cost_per_hour

    def collect(self) -> list[Resource]:
        return [self._resource(machine) for machine in self.machines]

    def _resource(self, machine: Machine) -> Resource:
        running = int(machine.running)
        cost = None
        if self.cost_per_hour is not None:
            # Priced here, inside the source's failure boundary.
            cost = hourly_cost(machine.name, running, self.cost_per_hour)
        return Resource(
            provider="example",
            source=self.name,
            id=machine.id,
            name=machine.name,
            running=running,
            owner=machine.owner,
            running_since=machine.running_since,
            tags=machine.tags,
            hourly_cost=cost,
            kind=MACHINE,
            account=self.name,
        )
