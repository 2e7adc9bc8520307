"""moto in server mode: a real AWS-compatible HTTP endpoint on loopback, for the tests."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from offhours.testing.moto_process import NO_IMAGE_CATALOGUE, free_port, moto_process

__all__ = [
    "NO_IMAGE_CATALOGUE",
    "REGION",
    "TEST_KEYS",
    "Aws",
    "LambdaContext",
    "enforce_iam",
    "env_for",
    "free_port",
    "moto_subprocess",
]

REGION = "us-east-1"
# moto loads its catalogue of images into every region after each reset (seconds each time):
# NO_IMAGE_CATALOGUE; the tests launch one image id it accepts without a catalogue
# (offhours.testing.aws_fleet)
TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass
class Aws:
    """One moto endpoint and the environment that points boto3 (and subprocesses) at it."""

    endpoint: str
    env: dict[str, str] = field(default_factory=dict)

    def client(self, service: str, **kwargs: Any) -> Any:
        creds = {
            "aws_access_key_id": kwargs.pop("key", TEST_KEYS["AWS_ACCESS_KEY_ID"]),
            "aws_secret_access_key": kwargs.pop("secret", TEST_KEYS["AWS_SECRET_ACCESS_KEY"]),
        }
        return boto3.client(
            service, region_name=REGION, endpoint_url=self.endpoint, **creds, **kwargs
        )

    def reset(self) -> None:
        url = f"{self.endpoint}/moto-api/reset"
        req = urllib.request.Request(url, method="POST")  # noqa: S310 - loopback moto
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback moto
            resp.read()


def env_for(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **TEST_KEYS,
    }


def enforce_iam(endpoint: str) -> None:
    """Make the moto server at ``endpoint`` check IAM permissions from its next call on.

    Set-up runs unchecked first, however many calls (and retries) it takes: a call count given
    up front as INITIAL_NO_AUTH_ACTION_COUNT shifts when a loaded machine causes a retry.
    """
    request = urllib.request.Request(  # noqa: S310 - the loopback moto server
        f"{endpoint}/moto-api/reset-auth",
        b"0",
        headers={"Content-Type": "text/plain"},  # a form body would be parsed away
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        if answer.status != 200:
            raise RuntimeError(f"moto refused reset-auth: HTTP {answer.status}")


@contextmanager
def moto_subprocess(
    *, launch: tuple[str, ...] = ("-m", "moto.server"), **environ: str
) -> Iterator[str]:
    """A moto server in its own process (``enforce_iam`` changes a process-wide setting);
    ``launch``: another way to start it (``-c`` code ending in moto.server's ``main``)."""
    with moto_process(launch=launch, startup=30, **environ) as (endpoint, _pid):
        yield endpoint


class LambdaContext:
    """What Lambda passes the handler: the time the invocation has left."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis
