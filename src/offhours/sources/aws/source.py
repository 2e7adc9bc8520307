"""The ``aws`` source: the configured kinds, in every configured account and region.

Acting on findings (stop) and undoing it (restore) are in :mod:`.stopping`; the permissions
the configured kinds and actions need are composed in :mod:`.permissions`.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from offhours.errors import SourceError
from offhours.model import Action, Finding, Resource, SourceFailure
from offhours.sources.aws import permissions, prices, stopping
from offhours.sources.aws.fleet import LATE, Outcome, describe, run_bounded
from offhours.sources.aws.kinds import KINDS
from offhours.sources.aws.places import Account, Places
from offhours.sources.aws.reading import Pricer, Where, read_kind
from offhours.sources.aws.settings import AwsSourceConfig
from offhours.sources.base import RestoreSelection, Source

__all__ = ["AwsSource"]

#: accounts named one by one in a note; more are counted
_NAMED_ACCOUNTS = 3


@dataclass(frozen=True, order=True)
class _Task:
    """One piece of the fan-out: one kind in one region of one account."""

    account: Account
    region: str
    word: str


class AwsSource(Source):
    """Reads the configured AWS kinds (see :mod:`.kinds`) where the config says."""

    type = "aws"
    config_model = AwsSourceConfig

    def __init__(
        self,
        name: str,
        *,
        session: boto3.session.Session | None = None,
        clock: Callable[[], datetime] | None = None,
        **settings: Any,
    ) -> None:
        super().__init__(name)
        # Validated by the config model already: trusted here.
        self.settings = AwsSourceConfig.model_construct(type="aws", name=name, **settings)
        self.places = Places(self.settings, session=session, clock=clock)

    @classmethod
    def iam_statements(
        cls, options: Mapping[str, Any], region: str, account: str
    ) -> list[dict[str, Any]]:
        settings = AwsSourceConfig.model_construct(type="aws", **options)
        return permissions.statements(settings, region, account)

    def client_for(self, account: str, region: str, service: str) -> Any:
        """A client of ``service`` in ``account`` (as collect reached it) and ``region``."""
        return self.places.client(self.places.account(account), region, service)

    def pricer(self) -> Pricer | None:
        """Prices resources as they are read: the bundled table under the config's overrides."""
        table = prices.bundled_table()
        if (note := table.note(len(self.settings.prices))) not in self.notes:
            self.notes.append(note)
        return table.pricer(self.settings.prices)

    def collect(self) -> list[Resource]:
        s = self.settings
        if s.regions is None and self.places.home_region is None:
            raise SourceError(
                self.name,
                "no region: set regions = [...] in this source, or AWS_REGION (or a profile "
                "with a region)",
            )
        self.failures, self.notes = [], []
        try:
            accounts, unlisted = self.places.accounts()
        except Exception as exc:  # noqa: BLE001 - the caller's own credentials: all of it fails
            raise SourceError(self.name, describe(exc)) from None
        for part, problem in unlisted:
            self.failures.append(SourceFailure(f"{self.name} {part}", describe(problem)))
        # Each account first (its role assumed, its regions listed), then every kind in every
        # region of the accounts reached, on the same bound.
        reached = run_bounded(
            sorted(accounts),
            self.places.regions,
            max_workers=s.max_workers,
            deadline=self.deadline,
        )
        self._note_skipped(reached)
        tasks = [
            _Task(account, region, word)
            for account, (regions, _) in sorted(reached.done.items())
            for region in regions
            for word in s.kinds
            if word in KINDS
        ]
        # Asked once, here: a pricer may add the report's note on its table (not thread-safe).
        pricer = self.pricer()
        read = run_bounded(
            tasks,
            functools.partial(self._read, pricer=pricer),
            max_workers=s.max_workers,
            deadline=self.deadline,
        )
        self.failures.extend(self._account_failures(reached))
        self.failures.extend(self._task_failures(read))
        if self.failures and not read.done:
            raise SourceError(
                self.name, "; ".join(f"{f.source}: {f.message}" for f in self.failures)
            )
        found = [r for resources in read.done.values() for r in resources]
        return sorted(found, key=lambda r: r.key)

    def _read(self, task: _Task, *, pricer: Pricer | None) -> list[Resource]:
        s = self.settings
        spec = KINDS[task.word]
        where = Where(self.name, task.account.id, task.region, task.account.name)
        client = self.places.fresh_client(task.account, task.region, spec.service)
        return [
            r
            for r, _ in read_kind(
                spec,
                client,
                where,
                owner_tags=s.owner_tags,
                group_tag=s.group_tag,
                pricer=pricer,
                kinds=s.kinds,
                clients=functools.partial(self.client_for, task.account.id, task.region),
                note=self.notes.append,  # list.append is atomic: safe from the pool's threads
            )
        ]

    def _note_skipped(self, reached: Outcome[Account, tuple[list[str], list[str]]]) -> None:
        # One note per set of skipped regions, however many accounts share it.
        by_regions: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for account, (_, skipped) in sorted(reached.done.items()):
            if skipped:
                by_regions[tuple(skipped)].append(account.id)
        for regions, ids in by_regions.items():
            where = ", ".join(ids) if len(ids) <= _NAMED_ACCOUNTS else f"{len(ids)} accounts"
            noun = "region" if len(regions) == 1 else "regions"
            self.notes.append(
                f"{self.name}: {len(regions)} opt-in {noun} not enabled in {where}, "
                f"skipped: {', '.join(regions)}"
            )

    def _account_failures(
        self, reached: Outcome[Account, tuple[list[str], list[str]]]
    ) -> list[SourceFailure]:
        # A refused AssumeRole (or listing regions) is one failure for the whole account.
        failed = {**reached.failed, **dict.fromkeys(reached.late, LATE)}
        return [
            SourceFailure(
                f"{self.name} {a}",
                f"through {a.role_arn}: {failed[a]}" if a.role_arn else failed[a],
            )
            for a in sorted(failed)
        ]

    def _task_failures(self, read: Outcome[_Task, list[Resource]]) -> list[SourceFailure]:
        # Collapsed: one line per account and region, the kinds that failed alike together;
        # an account whose every task failed alike (its credentials expired) is one line.
        failed = {**read.failed, **dict.fromkeys(read.late, LATE)}
        by_account: dict[Account, dict[tuple[str, str], list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for task in sorted(failed):
            by_account[task.account][(task.region, failed[task])].append(task.word)
        out: list[SourceFailure] = []
        for account, places in by_account.items():
            messages = {message for _, message in places}
            all_failed = not any(t.account == account for t in read.done)
            if all_failed and len(messages) == 1 and len(places) > 1:
                out.append(SourceFailure(f"{self.name} {account}", messages.pop()))
                continue
            for (region, message), words in places.items():
                out.append(
                    SourceFailure(
                        f"{self.name} {account}/{region}", f"{message} [{', '.join(words)}]"
                    )
                )
        return out

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
