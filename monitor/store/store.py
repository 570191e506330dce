"""The database, the single source of truth: feeds' polling state, items and their progress,
stories, and the alert outbox. `Store` opens it (SQLite or PostgreSQL), brings its schema up to
date (`schema.py`), and composes the role objects that hold every query: `feeds`, `items`,
`stories`, `outbox`, `leases` and `console`, each typed in `roles.py` for the code that uses it.

Each pipeline step commits in one transaction with the state that proves it happened, so a crash
at any instant leaves either the step done or not done, never half: an item is `new` until its
article, story and alerts are written together; an alert is `pending` until delivered.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from monitor.config.config import is_postgres
from monitor.store.console import ConsoleQueries
from monitor.store.database import Database, Sqlite, default_instance, new_owner
from monitor.store.feeds import Feeds
from monitor.store.items import Items
from monitor.store.leases import Leases
from monitor.store.outbox import Outbox
from monitor.store.postgres import DB_THREADS, Postgres
from monitor.store.schema import SCHEMA, SCHEMA_VERSION, UPGRADES
from monitor.store.stories import StoredStories

DAY = 86400.0  # feed_days are kept 8 days past the retention

T = TypeVar("T")


def open_database(target: str | Path, lease: float = 120.0) -> Database:
    if is_postgres(target):
        return Postgres(str(target), lease)
    return Sqlite(Path(target))


class Store:
    """One `Database` (SQLite: a path; PostgreSQL: a URL) and the roles over it."""

    def __init__(self, target: str | Path, instance: str | None = None,
                 lease: float = 120.0) -> None:
        self.target = target
        self.instance = instance or default_instance()
        self.owner = new_owner(self.instance)  # who this process's leases name
        self._db: Database = open_database(target, lease)  # (its timeouts are the lease's)
        try:
            self._db.migrate(SCHEMA_VERSION, SCHEMA, UPGRADES)
        except BaseException:
            self._db.close()
            raise
        self.leases = Leases(self._db, self.instance, self.owner, target)
        self.feeds = Feeds(self._db, self.leases)
        self.items = Items(self._db, self.leases)
        self.stories = StoredStories(self._db)
        self.outbox = Outbox(self._db, self.leases)
        self.console = ConsoleQueries(self._db)
        self._threads = ThreadPoolExecutor(DB_THREADS if self.engine == "postgres" else 1,
                                           thread_name_prefix="database")

    @property
    def path(self) -> Path:
        return Path(self.target)

    @staticmethod
    def verify(target: str | Path) -> None:
        """Read-only: a database (a file, if there is one yet) this monitor can use, whole.
        Raises UnusableDatabase. (A PostgreSQL server: it answers, and its schema is known.)"""
        if is_postgres(target):
            Postgres.verify(str(target), SCHEMA_VERSION)
        else:
            Sqlite.verify(Path(target), SCHEMA_VERSION)

    @property
    def engine(self) -> str:
        return self._db.engine

    def close(self) -> None:
        self._threads.shutdown()
        self._db.close()

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Database]:
        """One transaction (nested ones join it); `lock` is held to its end, cluster-wide."""
        return self._db.transaction(lock)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the database's threads, not the event loop's: a query that
        waits (a lock, a slow server, a full disk) holds up neither the console nor the
        polling. One thread on SQLite (its file takes one writer), a pool's worth on
        PostgreSQL, whose round trips then overlap."""
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(function, *args))

    def prune(self, before: float) -> tuple[int, int]:
        """Keep the database from growing with history: articles completed before `before` lose
        their text and fingerprint (their identity keys stay, so an old item still in a feed is
        never taken for new), and delivered or dead alerts created before then are deleted.
        Returns (articles slimmed, alerts deleted). One instance at a time: another pruning
        already leaves nothing to do."""
        with self.transaction() as db:
            if not db.try_lock("prune"):
                return 0, 0
            old = [row[0] for row in db.execute(  # reads the kept articles only, not all history
                "SELECT item_id FROM articles JOIN items ON items.id = articles.item_id "
                "WHERE items.processed_at < ?", (before,))]
            for start in range(0, len(old), 500):
                chunk = old[start:start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM articles WHERE item_id IN ({marks})", chunk)
                db.execute(f"UPDATE items SET summary = '' WHERE id IN ({marks})", chunk)
            slimmed = len(old)
            deleted = db.execute("DELETE FROM alerts WHERE created_at < ? AND status != 'pending'",
                                 (before,)).rowcount
            db.execute("DELETE FROM instances WHERE beat_at < ?", (before,))
            db.execute("DELETE FROM feed_days WHERE day < ?", (int(before // DAY) - 8,))
        return slimmed, deleted

    def beat(self, now: float, wait: float = 2.0) -> str | None:
        """This process's heartbeat, written within `wait` seconds: None when written, else
        why the database takes no writes. A real write, not a transaction begun and rolled
        back: that one succeeds on a full disk."""
        return self._db.write_within(
            "INSERT INTO instances (owner, instance, started_at, beat_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (owner) DO UPDATE SET beat_at = excluded.beat_at",
            (self.owner, self.instance, now, now), wait)
