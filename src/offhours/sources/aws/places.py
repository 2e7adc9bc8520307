"""Where the aws source reads: its accounts and their regions, as boto3 clients.

Accounts are the caller's own (``current_account``), the ``accounts`` list (an accounts file is
already inline there, see :mod:`.settings`), and every ACTIVE account of the Organization
(``organization``), each through ``arn:aws:iam::<id>:role/<role_name>``. A member is reached
with STS AssumeRole when it is first used; its credentials refresh themselves before they
expire (botocore's refreshable credentials), so a long run never signs with expired keys.

boto3 sessions are not thread-safe, their clients are: sessions and clients are made under
one lock, one client per (account, region, service), and shared by the pool's threads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials
from botocore.exceptions import NoCredentialsError

from offhours.aws_region import aws_region
from offhours.sources.aws.settings import AwsSourceConfig

__all__ = ["SESSION_NAME", "Account", "Places"]

#: the RoleSessionName of every AssumeRole: what CloudTrail shows in the member accounts
SESSION_NAME = "offhours"
#: where account-wide calls (STS, Organizations, DescribeRegions) go without a home region
_FALLBACK_REGION = "us-east-1"


@dataclass(frozen=True, order=True)
class Account:
    """An account the source reads: with ``role_arn``, through AssumeRole; without, with the
    caller's own credentials."""

    id: str
    name: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    def __str__(self) -> str:
        return self.id


class _Assumed(CredentialProvider):  # type: ignore[misc]  # botocore is untyped
    """Hands a botocore session the one account's refreshable assumed-role credentials."""

    METHOD = CANONICAL_NAME = "offhours-assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials


class Places:
    """The accounts and regions of one ``aws`` source, and a client for each place."""

    def __init__(
        self,
        settings: AwsSourceConfig,
        *,
        session: boto3.session.Session | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._base = session or boto3.session.Session(region_name=aws_region())
        #: the credentials' own region (AWS_REGION, the profile); None when there is none
        self.home_region: str | None = self._base.region_name
        self.config = BotoConfig(
            retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # one connection per worker, or urllib3 discards the surplus and reconnects
            max_pool_connections=max(10, settings.max_workers),
        )
        self._clock = clock  # what credential refresh reads as now (tests inject one)
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.session.Session] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._accounts: dict[str, Account] | None = None

    # ------------------------------------------------------------------ accounts

    def accounts(self) -> tuple[list[Account], list[tuple[str, Exception]]]:
        """Every account to read (deduplicated, the explicit list first), and what could not
        be listed (the Organization) with its error. Raises the caller's own failure."""
        s = self.settings
        found: dict[str, Account] = {}
        problems: list[tuple[str, Exception]] = []
        me: str | None = None
        if s.current_account or s.organization is not None:
            me = self._client_of(self._base, self._region(), "sts").get_caller_identity()["Account"]
        if s.current_account and me is not None:
            found[me] = Account(me)
        for entry in s.accounts:
            found.setdefault(
                entry.id, Account(entry.id, entry.name, entry.role_arn, entry.external_id)
            )
        if s.organization is not None:
            try:
                members = self._organization_members()
            except Exception as exc:  # noqa: BLE001 - reported as this part's failure
                problems.append(("organization", exc))
                members = []
            org = s.organization
            for ident, name in members:
                # The management account is read with its own credentials (current_account),
                # never by assuming a role into itself.
                if ident == me or ident in org.exclude:
                    continue
                arn = f"arn:{self._partition() or 'aws'}:iam::{ident}:role/{org.role_name}"
                found.setdefault(ident, Account(ident, name, arn, org.external_id))
        with self._lock:
            self._accounts = found
        return list(found.values()), problems

    def account(self, ident: str) -> Account:
        """The account ``ident`` as the configuration reaches it (listing them if needed)."""
        if self._accounts is None:
            self.accounts()
        assert self._accounts is not None  # set by accounts()
        # An id collect never listed is read with the caller's credentials.
        return self._accounts.get(ident) or Account(ident)

    def _organization_members(self) -> list[tuple[str, str | None]]:
        client = self._client_of(self._base, self._region(), "organizations")
        out = []
        for page in client.get_paginator("list_accounts").paginate():
            for item in page.get("Accounts", ()):
                if item.get("Status") == "ACTIVE":
                    out.append((str(item["Id"]), item.get("Name")))
        return out

    def _partition(self, region: str | None = None) -> str | None:
        """The partition of ``region`` (default: the home region's); None if botocore does
        not know it (a region newer than botocore)."""
        try:
            return str(self._base.get_partition_for_region(region or self._region()))
        except Exception:  # noqa: BLE001 - botocore's UnknownRegionError and the like
            return None

    # ------------------------------------------------------------------ regions

    def _region(self) -> str:
        return self.home_region or _FALLBACK_REGION

    def regions(self, account: Account) -> tuple[list[str], list[str]]:
        """The regions to read in ``account``, and the opt-in regions it has not enabled
        (skipped). Reaching the account here first is what tells an AssumeRole refusal."""
        s = self.settings
        # Fetch the credentials now: a refused AssumeRole is one failure for the account. The
        # caller's own session is shared by every thread: it resolves them under the lock.
        session = self.session(account)
        with self._lock if account.role_arn is None else contextlib.nullcontext():
            credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentialsError
        credentials.get_frozen_credentials()
        if isinstance(s.regions, list):
            return list(s.regions), []
        if s.regions is None:
            return [self._region()], []
        ec2 = self.client(account, self._region(), "ec2")
        partition = self._partition()
        read: list[str] = []
        skipped: list[str] = []
        for item in ec2.describe_regions(AllRegions=True)["Regions"]:
            name = str(item["RegionName"])
            if self._partition(name) not in (partition, None):
                continue  # an emulator may list GovCloud and China too: another partition
            status = item.get("OptInStatus", "opt-in-not-required")
            (skipped if status == "not-opted-in" else read).append(name)
        return sorted(read), sorted(skipped)

    # ------------------------------------------------------------------ sessions and clients

    def session(self, account: Account) -> boto3.session.Session:
        """The session of ``account``: the caller's own, or one that assumes its role."""
        if account.role_arn is None:
            return self._base
        with self._lock:
            session = self._sessions.get(account.id)
            if session is None:
                session = self._sessions[account.id] = self._assumed(account)
            return session

    def client(self, account: Account, region: str, service: str) -> Any:
        """The one client of ``service`` in ``account`` and ``region`` (thread-safe)."""
        session = self.session(account)
        return self._client_of(session, region, service, account.id)

    def fresh_client(self, account: Account, region: str, service: str) -> Any:
        """A client of its own, for one task: dropped with it, so a run over hundreds of
        accounts holds about as many clients as calls in flight (each holds a megabyte or
        more), not one per account, region and service."""
        session = self.session(account)
        with self._lock:  # boto3 sessions are not thread-safe; the clients they make are
            return session.client(service, region_name=region, config=self.config)

    def _client_of(
        self, session: boto3.session.Session, region: str, service: str, owner: str = ""
    ) -> Any:
        key = (owner, region, service)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = session.client(
                    service, region_name=region, config=self.config
                )
            return client

    def _assumed(self, account: Account) -> boto3.session.Session:
        # Called under the lock: the STS client is made directly, not through _client_of.
        key = ("", self._region(), "sts")
        sts = self._clients.get(key)
        if sts is None:
            sts = self._clients[key] = self._base.client(
                "sts", region_name=self._region(), config=self.config
            )
        request: dict[str, str] = {
            "RoleArn": str(account.role_arn),
            "RoleSessionName": SESSION_NAME,
        }
        if account.external_id:
            request["ExternalId"] = account.external_id

        def fetch() -> dict[str, str]:
            answer = sts.assume_role(**request)["Credentials"]
            return {
                "access_key": answer["AccessKeyId"],
                "secret_key": answer["SecretAccessKey"],
                "token": answer["SessionToken"],
                "expiry_time": answer["Expiration"].isoformat(),
            }

        extra = {"time_fetcher": self._clock} if self._clock is not None else {}
        credentials = DeferredRefreshableCredentials(
            refresh_using=fetch, method=_Assumed.METHOD, **extra
        )
        core = botocore.session.Session()
        # The service models, read once for every account: a session of its own would load
        # (and keep) its own copy of each, tens of MB per account of an Organization.
        core.register_component("data_loader", self._base._session.get_component("data_loader"))
        core.get_component("credential_provider").insert_before("env", _Assumed(credentials))
        return boto3.session.Session(botocore_session=core)
