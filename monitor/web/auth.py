"""The console's login: a password checked against its argon2 or bcrypt hash, or a token, both
compared in constant time; sessions live in memory (a restart logs everyone out)."""

from __future__ import annotations

import hmac
import secrets

import argon2
import bcrypt

from monitor.config.config import HttpAuthConfig

_HASHER = argon2.PasswordHasher()


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_ok(hashed: str, password: str) -> bool:
    if hashed.startswith("$argon2"):
        try:
            return _HASHER.verify(hashed, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash after all
        return False


def token_ok(expected: str | None, given: str) -> bool:
    return expected is not None and hmac.compare_digest(expected.encode(), given.encode())


def secret_ok(auth: HttpAuthConfig, given: str) -> bool:
    """What the login page accepts: the password, or the token."""
    if not given:
        return False
    return token_ok(auth.token, given) or (
        auth.password_hash is not None and password_ok(auth.password_hash, given))


class Sessions:
    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._expiry: dict[str, float] = {}

    def open(self, now: float) -> str:
        self._expiry = {sid: end for sid, end in self._expiry.items() if end > now}
        sid = secrets.token_urlsafe(32)
        self._expiry[sid] = now + self.lifetime
        return sid

    def valid(self, sid: str | None, now: float) -> bool:
        return sid is not None and self._expiry.get(sid, 0.0) > now

    def close(self, sid: str | None) -> None:
        if sid is not None:
            self._expiry.pop(sid, None)
