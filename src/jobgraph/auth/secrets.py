"""Password hashes (Argon2id) and random secrets (API tokens, sessions) kept only as hashes.

Passwords use Argon2id (argon2-cffi): memory-hard, salted, with its parameters stored in the
hash so they can be raised later (:func:`needs_rehash`). Tokens and session ids are 256-bit
random secrets, so a fast SHA-256 is enough to store them: there is nothing to brute-force.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jobgraph.errors import UserError

MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "jg_"

_default_hasher = PasswordHasher()


class Passwords:
    """Hashes and checks passwords; tests pass a cheaper ``PasswordHasher``."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or _default_hasher

    @functools.cached_property
    def _dummy(self) -> str:
        """Checked when the user does not exist, so a wrong name costs as much as a wrong
        password and does not reveal which names exist."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        check_password_strength(password)
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters; a few words make a "
            "long one that is easy to remember"
        )
    if len(password) > 1024:
        raise UserError("a password is at most 1024 characters")


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
