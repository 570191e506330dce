"""Leases: how instances sharing a database claim work (a due feed, a new item, a due alert)
without doing it twice, and take over the work of one that died or froze. The other roles claim
through it.

A claim names its owner (`instance:pid:random`), an expiry and a token: the row's claim count,
one more at each claim. This process remembers the token of what it is working on (`_holding`);
the write that finishes a piece of work is conditional on the row still carrying that token
(`FENCE`), so a process frozen past its lease, whose work another instance claimed again,
finds its write refused and discards its result (`LeaseLost`) instead of doing the work twice.
Only the work in progress here is renewed, every `lease`/3: once a piece is settled (finished,
failed or lost), its lease is left to end, so a failed write never keeps work leased forever.
One live process per instance name (a session lock on PostgreSQL, the file's lock on SQLite),
so a process restarted under its name takes back at once what its dead predecessor held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.core.errors import Busy, LeaseLost
from monitor.core.secrets import redact
from monitor.store.database import Database

KEYS = {"feeds": "url", "items": "id", "alerts": "id"}  # the leased tables and their keys
CHUNK = 500  # keys per statement
# ending the WHERE of a write that finishes a piece of work: one parameter, the claim's token
FENCE = " AND lease_token = coalesce(?, lease_token)"


class Leases:
    """This process's claims on the database's work, as `owner` of instance `instance`."""

    def __init__(self, db: Database, instance: str, owner: str, target: str | Path) -> None:
        self._db = db
        self.instance = instance
        self.owner = owner
        self._target = target
        self._holding: dict[str, dict[Any, int]] = {table: {} for table in KEYS}  # key → token
        self._holding_lock = threading.Lock()  # the registry is read and written from threads

    def claim(self, table: str, where: str, params: Sequence[Any], order: str,
              limit: int, now: float, lease: float | None, rows: bool = False) -> list[Any]:
        """The keys (or with `rows`, the rows, as they were before the claim) of up to `limit`
        rows of `table` matching `where`, in `order`, that no one holds a lease on; with
        `lease`, this process holds them from now on for that long. Rows another instance is
        claiming at this very moment are passed over, not waited for."""
        key = KEYS[table]
        free = f"SELECT {'*' if rows else key} FROM {table} WHERE {where} " \
               f"AND coalesce(lease_until, 0) <= ? ORDER BY {order} LIMIT ?"
        if lease is None:
            found = self._db.execute(free, (*params, now, limit)).fetchall()
            return found if rows else [row[0] for row in found]
        tokens: dict[Any, int] = {}
        with self._db.transaction() as db:
            found = db.execute(free + db.skip_locked, (*params, now, limit)).fetchall()
            keys = [row[key] for row in found]
            for chunk in _chunks(keys):
                tokens.update((row[0], row[1]) for row in db.execute(
                    f"UPDATE {table} SET lease_owner = ?, lease_until = ?, "
                    f"lease_token = lease_token + 1 WHERE {key} IN ({_marks(chunk)}) "
                    f"RETURNING {key}, lease_token", (self.owner, now + lease, *chunk)))
        with self._holding_lock:
            self._holding[table].update(tokens)
        return found if rows else keys

    def token(self, table: str, key: Any) -> int | None:
        """The token of this process's claim on row `key`, for a write that finishes the work
        to check (`... AND lease_token = coalesce(?, lease_token)`); None when it was taken
        without a lease (one process alone: nothing to fence)."""
        with self._holding_lock:
            return self._holding[table].get(key)

    def settle(self, table: str, keys: Sequence[Any]) -> None:
        """The work on these rows is over here (done, failed or lost): no more renewals. A
        lease a failed write left set ends on its own, and the work is taken up again then."""
        with self._holding_lock:
            held = self._holding[table]
            for key in keys:
                held.pop(key, None)

    def hold_on(self, table: str, keys: Sequence[Any], now: float, lease: float) -> bool:
        """Whether this process still holds every one of `keys` (no other claimed them since),
        their leases then running `lease` from now: asked just before what cannot be undone (a
        message sent), so that the lease outlasts it."""
        with self._holding_lock:
            held = self._holding[table]
            fenced = [(now + lease, key, held[key]) for key in keys if key in held]
        with self._db.transaction() as db:
            kept = sum(db.execute(
                f"UPDATE {table} SET lease_until = greatest(lease_until, ?) WHERE "
                f"{KEYS[table]} = ? AND "
                "lease_token = ? AND lease_until IS NOT NULL", row).rowcount for row in fenced)
        return kept == len(fenced)

    def start_instance(self, wait: float = 60.0, poll: float = 1.0) -> None:
        """This process is the instance `self.instance` from now on: what an earlier process of
        that name held (it died: the name's lock was free) is released at once, not when its
        leases end. On SQLite, the file's one process: every lease is released. Raises Busy
        when a live process of that name still holds it after `wait` seconds."""
        if self._db.engine == "sqlite":
            self.release(everyone=True)
            return
        deadline = time.monotonic() + wait
        while not self._db.hold(f"instance:{self.instance}"):
            if time.monotonic() > deadline:
                raise Busy(f"{redact(str(self._target))}: another monitor named "
                           f"{self.instance!r} is running on this database; give this one "
                           "another `instance:` name")
            time.sleep(poll)
        prefix = f"{self.instance}:"
        self._release("substr(lease_owner, 1, ?) = ?", (len(prefix), prefix))

    def keep_name(self) -> None:
        """Raise Busy when this process no longer holds its instance's name and cannot take it
        back: the server restarted (or killed its connection), and another process of that
        name started meanwhile. Two live processes under one name must never both work."""
        if not self._db.hold(f"instance:{self.instance}"):
            raise Busy(f"{redact(str(self._target))}: this process lost the instance name "
                       f"{self.instance!r} to another process (after a database restart?); "
                       "it stops, leaving the work to that one")

    def renew(self, now: float, lease: float) -> int:
        """The work in progress here stays this process's for `lease` more seconds: work that
        takes long (a slow page, a channel with a long queue) is not taken over while this
        process lives and works on it (a lease `hold_on` made longer stays so). Returns the
        rows renewed."""
        renewed = 0
        with self._holding_lock:
            in_progress = {table: list(held) for table, held in self._holding.items()}
        with self._db.transaction() as db:
            for table, keys in in_progress.items():
                for chunk in _chunks(keys):
                    renewed += db.execute(
                        f"UPDATE {table} SET lease_until = greatest(lease_until, ?) WHERE "
                        f"{KEYS[table]} IN ({_marks(chunk)}) AND lease_owner = ? "
                        "AND lease_until IS NOT NULL",
                        (now + lease, *chunk, self.owner)).rowcount
        return renewed

    def release(self, everyone: bool = False) -> None:
        """Give back what this process claimed and did not finish (it is stopping), or every
        lease (the one process on a SQLite file, starting: whoever held them is gone)."""
        if everyone:
            self._release("1 = 1", ())
        else:
            self._release("lease_owner = ?", (self.owner,))

    def _release(self, who: str, args: Sequence[Any]) -> None:
        with self._holding_lock:
            for held in self._holding.values():
                held.clear()
        with self._db.transaction() as db:
            for table in KEYS:
                db.execute(f"UPDATE {table} SET lease_until = NULL, lease_owner = NULL "
                           f"WHERE lease_until IS NOT NULL AND {who}", args)


def _chunks(keys: list[Any]) -> list[list[Any]]:
    return [keys[start:start + CHUNK] for start in range(0, len(keys), CHUNK)]


def _marks(chunk: Sequence[Any]) -> str:
    return ",".join("?" * len(chunk))


def fenced(rowcount: int, token: int | None, what: str) -> None:
    """Raise LeaseLost when a fenced write (`FENCE`) found its claim taken by another."""
    if token is not None and rowcount == 0:
        raise LeaseLost(f"{what}: claimed again by another instance")
