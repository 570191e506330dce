"""Leases: how instances sharing a database claim work (a due feed, a new item, a due alert)
without doing it twice, and take over the work of one that died. The other roles claim
through it.

A claim names its owner (`instance:pid:random`) and an expiry; the write that finishes the work
clears the expiry; a live process renews what it holds every `lease`/3. One live process per
instance name (a session lock on PostgreSQL, the file's lock on SQLite), so a process restarted
under its name takes back at once what its dead predecessor held.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.core.errors import Busy
from monitor.core.secrets import redact
from monitor.store.database import Database

LEASED = ("feeds", "items", "alerts")


class Leases:
    """This process's claims on the database's work, as `owner` of instance `instance`."""

    def __init__(self, db: Database, instance: str, owner: str, target: str | Path) -> None:
        self._db = db
        self.instance = instance
        self.owner = owner
        self._target = target

    def claim(self, table: str, key: str, where: str, params: Sequence[Any], order: str,
               limit: int, now: float, lease: float | None) -> list[Any]:
        """The keys of up to `limit` rows of `table` matching `where`, in `order`, that no one
        holds a lease on; with `lease`, this instance holds them from now on for that long.
        Rows another instance is claiming at this very moment are passed over, not waited for."""
        free = f"SELECT {key} FROM {table} WHERE {where} AND coalesce(lease_until, 0) <= ? " \
               f"ORDER BY {order} LIMIT ?"
        if lease is None:
            return [row[0] for row in self._db.execute(free, (*params, now, limit))]
        with self._db.transaction() as db:
            keys = [row[0] for row in db.execute(free + db.skip_locked, (*params, now, limit))]
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                db.execute(f"UPDATE {table} SET lease_owner = ?, lease_until = ? WHERE {key} IN "
                           f"({','.join('?' * len(chunk))})", (self.owner, now + lease, *chunk))
        return keys

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

    def renew(self, now: float, lease: float) -> int:
        """Everything this process holds stays its own for `lease` more seconds: work that
        takes long (a slow page, a channel with a long queue) is not taken over while this
        process lives. Returns the rows renewed."""
        with self._db.transaction() as db:
            return sum(db.execute(f"UPDATE {table} SET lease_until = ? "
                                  "WHERE lease_until IS NOT NULL AND lease_owner = ?",
                                  (now + lease, self.owner)).rowcount for table in LEASED)

    def release(self, everyone: bool = False) -> None:
        """Give back what this process claimed and did not finish (it is stopping), or every
        lease (the one process on a SQLite file, starting: whoever held them is gone)."""
        if everyone:
            self._release("1 = 1", ())
        else:
            self._release("lease_owner = ?", (self.owner,))

    def _release(self, who: str, args: Sequence[Any]) -> None:
        with self._db.transaction() as db:
            for table in LEASED:
                db.execute(f"UPDATE {table} SET lease_until = NULL, lease_owner = NULL "
                           f"WHERE lease_until IS NOT NULL AND {who}", args)
