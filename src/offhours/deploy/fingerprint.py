"""Salted, slow fingerprints of deployed secrets: how `deploy apply` knows a secret is unchanged
without decrypting it (the deployment key's policy lets only the function's role decrypt).

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>

The hash covers the key path, the key ARN, the ciphertext beside it and the plaintext, so a
ciphertext edited or moved by hand, a changed key or a changed secret all fail to match (and
are re-encrypted). A fingerprint is stored in the deployed configuration under
:data:`DEPLOY_STATE_KEY`, which the Lambda handler drops before validation. Whoever can read
the parameter can try guesses against it at scrypt's cost (n=2**14, r=8, p=1: about 16 MiB and
tens of milliseconds a guess): it is treated like ciphertext, never printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os

__all__ = ["DEPLOY_STATE_KEY", "fingerprint", "matches"]

#: the reserved top-level key of the deployed configuration: {"fingerprints": {path: {...}}}
DEPLOY_STATE_KEY = "_offhours_deploy"

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
# A hostile or corrupt document must not make `apply` allocate without bound: parameters past
# these count as "no match" (the secret is re-encrypted with the current ones).
_MAX_N, _MAX_R, _MAX_P = 2**16, 16, 4


def _material(where: str, key_arn: str, ciphertext: str, plaintext: str) -> bytes:
    # JSON keeps the parts apart: no concatenation of two of them equals another's.
    return json.dumps([where, key_arn, ciphertext, plaintext]).encode()


def _scrypt(material: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        material, salt=salt, n=n, r=r, p=p, maxmem=129 * r * n * p + 2**20, dklen=HASH_BYTES
    )


def fingerprint(
    where: str, key_arn: str, ciphertext: str, plaintext: str, *, salt: bytes | None = None
) -> str:
    """A new fingerprint (a fresh 16-byte salt unless one is given)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = _scrypt(_material(where, key_arn, ciphertext, plaintext), salt, N, R, P)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def matches(stored: object, where: str, key_arn: str, ciphertext: str, plaintext: str) -> bool:
    """True when ``stored`` is a well-formed fingerprint of exactly these; anything else
    (missing, malformed, parameters out of bounds) is False."""
    if not isinstance(stored, str):
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return False
    if not (
        2 <= n <= _MAX_N
        and n & (n - 1) == 0
        and 1 <= r <= _MAX_R
        and 1 <= p <= _MAX_P
        and len(salt) >= SALT_BYTES
        and len(expected) == HASH_BYTES
    ):
        return False
    actual = _scrypt(_material(where, key_arn, ciphertext, plaintext), salt, n, r, p)
    return hmac.compare_digest(actual, expected)
