"""Secret references, their resolvers, and a value type that never prints itself.

    env:NAME                         an environment variable
    file:PATH                        a file's content; a relative PATH is read from the config
                                     file's directory, ``~`` expands
    kms:BASE64                       KMS ciphertext, decrypted with the configured context
    ssm:/path/name                   an SSM parameter (SecureString, decrypted)
    secretsmanager:NAME-OR-ARN[#KEY] a Secrets Manager secret, or one key of its JSON

Every reference is resolved once per run, all before any source is read, and all failures are
reported together. Every value is stripped of surrounding whitespace (a trailing newline in a
webhook URL would otherwise be a different string, missed by the log scrubber). Resolution
fails closed: nothing ever falls back to using a reference (or a
ciphertext) as the value. The resolved :class:`Secret` lives in memory only and shows at most
its last four characters (or, for a URL, :func:`redact_url`'s host form).

The package: :mod:`.secret` (the value type and its derived forms), :mod:`.references` (what
the config holds), :mod:`.resolver` (each reference resolved once) and :mod:`.aws` (the
``kms:``/``ssm:``/``secretsmanager:`` stores; boto3 is imported only when one is used).
"""

from offhours.secrets.references import (
    AWS_SCHEMES,
    INLINE,
    SCHEMES,
    SecretRef,
    secret_looking,
    wildcard_in,
)
from offhours.secrets.resolver import Resolver, SecretSettings
from offhours.secrets.secret import (
    MIN_FORM_LENGTH,
    Secret,
    derived_forms,
    known_forms,
    known_values,
    redact_url,
    tail,
    url_path,
)

__all__ = [
    "AWS_SCHEMES",
    "INLINE",
    "MIN_FORM_LENGTH",
    "SCHEMES",
    "Resolver",
    "Secret",
    "SecretRef",
    "SecretSettings",
    "derived_forms",
    "known_forms",
    "known_values",
    "redact_url",
    "secret_looking",
    "tail",
    "url_path",
    "wildcard_in",
]
