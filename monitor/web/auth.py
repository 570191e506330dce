"""The console's login: a password checked against its argon2 or bcrypt hash, or a token, both
compared in constant time; sessions live in memory (a restart logs everyone out).

A password check costs about 180 ms of CPU: `Logins` runs them off the event loop, two at a
time, one at a time per client, and makes a client that failed wait before it is heard again,
longer after each failure. A flood of wrong passwords then costs the daemon next to nothing,
and the right password from another client still gets in."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass

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


def feed_token(auth: HttpAuthConfig, rule: str) -> str:
    """The token in a rule's feed address (`?jeton=…`), for feed readers that cannot log in:
    derived from the console's secret and the rule's name, so it opens that feed only, and a
    new token or password changes every feed's."""
    secret = auth.token or auth.password_hash or ""
    return hmac.new(secret.encode(), f"rule-feed\0{rule}".encode(), "sha256").hexdigest()[:32]


FIRST_WAIT, MAX_WAIT = 1.0, 300.0  # after a client's failures: 1 s, doubling, up to 5 min
MAX_CLIENTS = 10_000  # failing clients remembered (the oldest forgotten first)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    wait: float = 0.0  # refused unheard: this client must wait so long first
    busy: bool = False  # refused unheard: too many checks waiting already


class Logins:
    def __init__(self, concurrency: int = 2, queue: int = 16) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._waiting = 0
        self._checking: set[str] = set()
        self._failures: dict[str, tuple[int, float]] = {}  # client → (failures, heard again at)

    async def check(self, config: HttpAuthConfig, client: str, given: str, now: float) -> Verdict:
        failures, until = self._failures.get(client, (0, 0.0))
        if until > now:
            return Verdict(False, wait=until - now)
        if client in self._checking:  # one of its guesses is being checked: none in parallel
            return Verdict(False, wait=FIRST_WAIT)
        if self._waiting >= self._queue:
            return Verdict(False, busy=True)
        self._checking.add(client)
        self._waiting += 1
        try:
            async with self._slots:
                ok = await asyncio.to_thread(secret_ok, config, given)
        finally:
            self._waiting -= 1
            self._checking.discard(client)
        if ok:
            self._failures.pop(client, None)
        else:
            self._failures.pop(client, None)  # re-inserted last: the dict is oldest first
            self._failures[client] = (failures + 1,
                                      now + min(FIRST_WAIT * 2 ** min(failures, 20), MAX_WAIT))
            while len(self._failures) > MAX_CLIENTS:
                del self._failures[next(iter(self._failures))]
        return Verdict(ok)


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
