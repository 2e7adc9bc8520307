"""The ``aws`` source: the configured kinds, in every configured account and region."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from offhours.model import Resource
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.reading import Where, read_kind
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.sources.base import Source

__all__ = ["AwsSource"]


class AwsSource(Source):
    """Reads the configured AWS kinds (see :mod:`.kinds`) where the config says."""

    type = "aws"
    config_model = AwsSourceConfig

    def __init__(self, name: str, **settings: Any) -> None:
        super().__init__(name)
        self.settings = AwsSourceConfig.model_construct(type="aws", name=name, **settings)

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        settings = AwsSourceConfig.model_construct(type="aws", **options)
        actions = sorted({a for w in settings.kinds if w in KINDS for a in KINDS[w].read_actions})
        return [{"Effect": "Allow", "Action": actions, "Resource": "*"}] if actions else []

    def collect(self) -> list[Resource]:
        s = self.settings
        boto = BotoConfig(
            retries={"mode": "adaptive", "max_attempts": s.max_attempts},
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
        )
        session = boto3.session.Session()
        regions = s.regions if isinstance(s.regions, list) else [session.region_name]
        account = session.client("sts", config=boto).get_caller_identity()["Account"]
        found: list[Resource] = []
        for region in regions:
            where = Where(self.name, account, region)
            for word in s.kinds:
                spec = KINDS.get(word)
                if spec is None:
                    continue
                client = session.client(spec.service, region_name=region, config=boto)
                found.extend(
                    r
                    for r, _ in read_kind(
                        spec, client, where, owner_tags=s.owner_tags, group_tag=s.group_tag
                    )
                )
        return found
