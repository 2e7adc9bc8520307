"""Stopping findings, and putting back what was stopped: one entry per kind.

(Filled in per kind: what stop means, what is refused and why, what is saved to undo it.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from offhours.model import Action, Finding
from offhours.sources.base import RestoreSelection

if TYPE_CHECKING:
    from offhours.sources.aws.source import AwsSource

__all__ = ["act", "restore"]


def act(
    source: AwsSource,
    findings: Sequence[Finding],
    *,
    dry_run: bool,
    now: datetime,
    hours_open: bool,
) -> list[Action]:
    """Stop the findings whose kind's action is "stop"; one Action each."""
    return []


def restore(
    source: AwsSource, selection: RestoreSelection, *, dry_run: bool, now: datetime
) -> list[Action]:
    """Put back what offhours stopped, as ``selection`` says; one Action each."""
    return []
