"""Which AWS region a call goes to: one rule for deploy, secrets and the Lambda handler.

    1. the configuration's own setting ([deploy] region, [secrets] region, --region)
    2. AWS_REGION           (what messages and the Lambda runtime name)
    3. AWS_DEFAULT_REGION   (what botocore reads by itself)
    4. the profile's region (AWS_PROFILE / ~/.aws/config), left to botocore

botocore reads only AWS_DEFAULT_REGION and the profile, so AWS_REGION is read here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["aws_region"]


def aws_region(given: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The region to give boto3, or None to let botocore fall back to the profile's."""
    env = os.environ if environ is None else environ
    for value in (given, env.get("AWS_REGION"), env.get("AWS_DEFAULT_REGION")):
        if value and value.strip():
            return value.strip()
    return None
