"""An AWS error in deploy, told as AWS told it: the operation, what it was working on, AWS's
code and AWS's own message, then (only added, never instead) a hint at the fix.

    CreateFunction on lambda function offhours: AccessDeniedException: Cross-account pass
    role is not allowed. — [deploy] role_arn is a role of account 999999999999, …

AWS's message is external text: cleaned of control and bidi characters, cut to a length a
terminal holds, and scrubbed of every secret this process resolved (a message may echo a
request parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["Where", "explain_aws_error"]

_MESSAGE_LIMIT = 500
_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
_CREDENTIALS = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}
)
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})


@dataclass(frozen=True)
class Where:
    """What deploy was working on, and what a hint may name."""

    #: "lambda function offhours" (the resource's noun and name), or "" before any resource
    resource: str
    #: the deploying account
    account: str = ""
    #: [deploy] role_arn, when the function's role is given rather than created
    role_arn: str | None = None


def _role_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _hint(code: str, message: str, where: Where) -> str:
    if code in _DENIED or "not authorized" in message:
        if "pass role" in message.lower() or "iam:PassRole" in message:
            role = where.role_arn
            if role and where.account and _role_account(role) not in ("", where.account):
                return (
                    f"[deploy] role_arn is a role of account {_role_account(role)}, but the "
                    f"function is deployed in account {where.account}: Lambda takes only a "
                    "role of its own account. Leave role_arn out (offhours then creates a "
                    "least-privilege role in this account), or name a role of this account"
                )
            return (
                "the identity that deploys needs iam:PassRole on the function's role; grant "
                "it, or leave [deploy] role_arn out so offhours creates the role itself"
            )
        return (
            "the identity that deploys is not allowed this call: grant it the action AWS "
            "names, or deploy as an identity that has it"
        )
    if code in _CREDENTIALS:
        return "the AWS credentials are expired or not valid in this account; refresh them"
    if code in _THROTTLED:
        return "AWS throttled the calls; wait a minute and run the command again"
    return ""


def explain_aws_error(exc: ClientError | BotoCoreError, where: Where) -> str:
    """``<Operation> on <resource>: <code>: <AWS's message> — <hint>`` for a ClientError; for
    other botocore errors (no credentials, no endpoint) what is wrong and how to fix it."""
    from offhours.logs import scrub
    from offhours.untrusted import one_line

    on = f" on {where.resource}" if where.resource else ""
    if not isinstance(exc, ClientError):
        from offhours.secrets.aws import explain

        # botocore's words may quote a parameter's value or an endpoint: cleaned and scrubbed
        said = one_line(scrub(explain(exc, "the call", {})))
        return f"{where.resource}: {said}" if where.resource else said
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code") or ("AccessDenied" if status == 403 else "Unknown"))
    message = one_line(scrub(str(error.get("Message") or "")))
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    text = f"{exc.operation_name}{on}: {code}" + (f": {message}" if message else "")
    hint = _hint(code, message, where)
    return f"{text} — {hint}" if hint else text
