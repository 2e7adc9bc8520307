"""The IAM permissions an ``aws`` source needs, composed from its configured kinds: each
kind's read actions (:mod:`.kinds`), and its stop and restore actions only when enabled."""

from __future__ import annotations

from typing import Any

from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.settings import AwsSourceConfig

__all__ = ["statements"]


def statements(settings: AwsSourceConfig, region: str, account: str) -> list[dict[str, Any]]:
    """The role's statements for ``settings`` (deployed in ``region`` of ``account``)."""
    actions = sorted({a for w in settings.kinds if w in KINDS for a in KINDS[w].read_actions})
    return [{"Effect": "Allow", "Action": actions, "Resource": "*"}] if actions else []
