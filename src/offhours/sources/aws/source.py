"""The ``aws`` source: the configured kinds, in every configured account and region.

Acting on findings (stop) and undoing it (restore) are in :mod:`.stopping`; the permissions
the configured kinds and actions need are composed in :mod:`.permissions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from offhours.model import Action, Finding, Resource
from offhours.sources.aws import permissions, prices, stopping
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.reading import Pricer, Where, read_kind
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.sources.base import RestoreSelection, Source

__all__ = ["AwsSource"]


class AwsSource(Source):
    """Reads the configured AWS kinds (see :mod:`.kinds`) where the config says."""

    type = "aws"
    config_model = AwsSourceConfig

    def __init__(self, name: str, **settings: Any) -> None:
        super().__init__(name)
        # Validated by the config model already: trusted here.
        self.settings = AwsSourceConfig.model_construct(type="aws", name=name, **settings)
        self._session = boto3.session.Session()
        self._boto = BotoConfig(
            retries={"mode": "adaptive", "max_attempts": self.settings.max_attempts},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
        )

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        settings = AwsSourceConfig.model_construct(type="aws", **options)
        return permissions.statements(settings, region, account)

    def client_for(self, account: str, region: str, service: str) -> Any:
        """A client of ``service`` in ``account`` (as collect reached it) and ``region``."""
        return self._session.client(service, region_name=region, config=self._boto)

    def pricer(self) -> Pricer | None:
        """Prices resources as they are read: the bundled table under the config's overrides."""
        table = prices.bundled_table()
        if (note := table.note(len(self.settings.prices))) not in self.notes:
            self.notes.append(note)
        return table.pricer(self.settings.prices)

    def collect(self) -> list[Resource]:
        s = self.settings
        regions = s.regions if isinstance(s.regions, list) else [self._session.region_name]
        sts = self._session.client("sts", config=self._boto)
        account = sts.get_caller_identity()["Account"]
        found: list[Resource] = []
        for region in regions:
            where = Where(self.name, account, region)
            for word in s.kinds:
                spec = KINDS.get(word)
                if spec is None:
                    continue
                client = self.client_for(account, region, spec.service)
                found.extend(
                    r
                    for r, _ in read_kind(
                        spec,
                        client,
                        where,
                        owner_tags=s.owner_tags,
                        group_tag=s.group_tag,
                        pricer=self.pricer(),
                        kinds=s.kinds,
                        clients=partial(self.client_for, account, region),
                        note=self.notes.append,
                    )
                )
        return found

    def act(
        self,
        findings: Sequence[Finding],
        *,
        dry_run: bool,
        now: datetime,
        hours_open: bool = False,
    ) -> list[Action]:
        return stopping.act(self, findings, dry_run=dry_run, now=now, hours_open=hours_open)

    def restore(self, selection: RestoreSelection, *, dry_run: bool, now: datetime) -> list[Action]:
        return stopping.restore(self, selection, dry_run=dry_run, now=now)
